#include "model/blocks.h"

namespace stf {

namespace {
thread_local FlopCounter* g_counter = nullptr;
}

FlopCounter::FlopCounter() : previous_(g_counter) { g_counter = this; }
FlopCounter::~FlopCounter() { g_counter = previous_; }
void FlopCounter::add(int64_t flops) {
  if (g_counter) g_counter->flops_ += flops;
}
void FlopCounter::add_conv(const torch::Tensor& output, const torch::Tensor& weight) {
  if (g_counter) add(2 * output.numel() * (weight.numel() / weight.size(0)));
}
void FlopCounter::add_conv_transpose(const torch::Tensor& input, const torch::Tensor& weight) {
  if (g_counter) add(2 * input.numel() * (weight.numel() / weight.size(0)));
}

ConvBlockImpl::ConvBlockImpl(int64_t in, int64_t out, torch::ExpandingArray<2> kernel,
                             torch::ExpandingArray<2> stride, torch::ExpandingArray<2> padding,
                             bool residual, bool leaky)
    : conv_(register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                                                          .stride(stride)
                                                          .padding(padding)))),
      bn_(register_module("bn", torch::nn::BatchNorm2d(out))),
      residual_(residual),
      leaky_(leaky) {}

torch::Tensor ConvBlockImpl::forward(torch::Tensor x) {
  auto y = conv_->forward(x);
  FlopCounter::add_conv(y, conv_->weight);
  y = bn_->forward(y);
  if (residual_) y = y + x;
  return leaky_ ? torch::leaky_relu(y, 0.2) : torch::relu(y);
}

UpBlockImpl::UpBlockImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
                         int64_t output_padding)
    : conv_(register_module("conv", torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(in, out, kernel)
                                                                   .stride(stride)
                                                                   .padding(padding)
                                                                   .output_padding(output_padding)))),
      bn_(register_module("bn", torch::nn::BatchNorm2d(out))) {}

torch::Tensor UpBlockImpl::forward(torch::Tensor x) {
  FlopCounter::add_conv_transpose(x, conv_->weight);
  return torch::relu(bn_->forward(conv_->forward(x)));
}

void add_down_stage(torch::nn::Sequential& s, int64_t in, int64_t out, torch::ExpandingArray<2> kernel,
                    torch::ExpandingArray<2> stride, torch::ExpandingArray<2> padding, int residuals) {
  s->push_back(ConvBlock(in, out, kernel, stride, padding));
  for (int i = 0; i < residuals; ++i) s->push_back(ConvBlock(out, out, 3, 1, 1, true));
}

}  // namespace stf
