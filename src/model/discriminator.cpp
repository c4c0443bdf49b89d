#include "model/discriminator.h"

namespace stf {

namespace {
void add_leaky_conv(torch::nn::Sequential& b, int64_t in, int64_t out, torch::ExpandingArray<2> k,
                    torch::ExpandingArray<2> s, torch::ExpandingArray<2> p) {
  b->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(s).padding(p)));
  b->push_back(torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.2)));
}
}  // namespace

DiscriminatorImpl::DiscriminatorImpl(int64_t d, bool patches) : patches_(patches) {
  torch::nn::Sequential b;                       // on the lower half, (B, 3, S/2, S):
  add_leaky_conv(b, 3, d, 7, 1, 3);              // (B, d, S/2, S)
  add_leaky_conv(b, d, 2 * d, 5, {1, 2}, 2);     // (B, 2d, S/2, S/2)
  add_leaky_conv(b, 2 * d, 4 * d, 5, 2, 2);      // (B, 4d, S/4, S/4)
  add_leaky_conv(b, 4 * d, 8 * d, 5, 2, 2);      // (B, 8d, S/8, S/8)
  if (patches_) {  // each output sees 23 rows x 35 columns of pixels
    body_ = register_module("body", b);
    patch_head_ = register_module("patch_head", torch::nn::Conv2d(torch::nn::Conv2dOptions(8 * d, 1, 1)));
    return;
  }
  add_leaky_conv(b, 8 * d, 16 * d, 3, 2, 1);     // (B, 16d, S/16, S/16)
  add_leaky_conv(b, 16 * d, 16 * d, 3, 2, 1);    // (B, 16d, S/32, S/32)
  body_ = register_module("body", b);
  head_ = register_module("head", torch::nn::Linear(16 * d, 1));
}

torch::Tensor DiscriminatorImpl::forward(torch::Tensor face) {
  const int64_t S = face.size(2);
  auto lower = face.narrow(2, S / 2, S - S / 2);        // (B, 3, S/2, S)
  auto x = body_->forward(lower);
  if (patches_) return patch_head_->forward(x).flatten(1);  // (B, 1, S/8, S/8) -> (B, S/8 x S/8)
  // Global average pooling as a mean (deterministic CUDA backward): (B, 16d)
  return head_->forward(x.mean({2, 3})).squeeze(1);  // (B)
}

}  // namespace stf
