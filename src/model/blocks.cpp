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
      leaky_(leaky),
      unpadded_((*padding)[0] == 0 && (*padding)[1] == 0) {}

// A convolution whose kernel covers its whole unpadded input (the identity
// encoder's last layer: S/32 x S/32 -> 1x1) is one matrix product; LibTorch's
// CPU convolution runs that shape at ~1 GFLOP/s, the product at BLAS speed.
torch::Tensor ConvBlockImpl::convolve(const torch::Tensor& x) {
  const torch::Tensor& w = conv_->weight;  // (out, in, kh, kw)
  if (!unpadded_ || x.size(2) != w.size(2) || x.size(3) != w.size(3)) return conv_->forward(x);
  return torch::linear(x.flatten(1), w.flatten(1), conv_->bias).view({x.size(0), w.size(0), 1, 1});  // (B, out, 1, 1)
}

torch::Tensor ConvBlockImpl::forward(torch::Tensor x) {
  auto y = convolve(x);
  FlopCounter::add_conv(y, conv_->weight);
  if (!folded_) y = bn_->forward(y);
  if (residual_) y = y + x;
  if (folded_) return leaky_ ? torch::leaky_relu_(y, 0.2) : torch::relu_(y);  // inference: y is ours
  return leaky_ ? torch::leaky_relu(y, 0.2) : torch::relu(y);
}

namespace {

// Scales output channel c of a convolution weight (that channel's dimension
// is `dim`) and its bias by BatchNorm's per-channel factor, adds its shift,
// and turns the BatchNorm into the identity.
void fold(torch::Tensor weight, torch::Tensor bias, int64_t dim, torch::nn::BatchNorm2d& bn) {
  TORCH_CHECK(!bn->is_training(), "fold_batchnorm needs eval mode");
  torch::NoGradGuard ng;
  const double eps = bn->options.eps();
  auto scale = bn->weight / torch::sqrt(bn->running_var + eps);  // (C)
  std::vector<int64_t> shape(weight.dim(), 1);
  shape[dim] = -1;
  weight.mul_(scale.view(shape));
  bias.sub_(bn->running_mean).mul_(scale).add_(bn->bias);
  bn->weight.fill_(1);
  bn->bias.zero_();
  bn->running_mean.zero_();
  bn->running_var.fill_(1 - eps);  // (x - 0) / sqrt(1 - eps + eps) = x
}

}  // namespace

void ConvBlockImpl::fold_batchnorm() {
  if (folded_) return;
  fold(conv_->weight, conv_->bias, 0, bn_);  // weight (out, in, kh, kw)
  folded_ = true;
}

void UpBlockImpl::fold_batchnorm() {
  if (folded_) return;
  fold(conv_->weight, conv_->bias, 1, bn_);  // transposed: weight (in, out, kh, kw)
  folded_ = true;
}

void fold_batchnorm(torch::nn::Module& module) {
  for (auto& m : module.modules()) {
    if (auto* c = m->as<ConvBlockImpl>()) c->fold_batchnorm();
    if (auto* u = m->as<UpBlockImpl>()) u->fold_batchnorm();
  }
}

UpBlockImpl::UpBlockImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
                         int64_t output_padding)
    : conv_(register_module("conv", torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(in, out, kernel)
                                                                   .stride(stride)
                                                                   .padding(padding)
                                                                   .output_padding(output_padding)))),
      bn_(register_module("bn", torch::nn::BatchNorm2d(out))),
      unpadded_(padding == 0 && output_padding == 0) {}

// A transposed convolution of a 1x1 input (the decoder's first level:
// 1x1 -> S/32 x S/32) is one matrix product, as in ConvBlockImpl::convolve.
torch::Tensor UpBlockImpl::convolve(const torch::Tensor& x) {
  const torch::Tensor& w = conv_->weight;  // (in, out, kh, kw)
  if (!unpadded_ || x.size(2) != 1 || x.size(3) != 1) return conv_->forward(x);
  auto y = torch::mm(x.flatten(1), w.flatten(1)).view({x.size(0), w.size(1), w.size(2), w.size(3)});
  return y + conv_->bias.view({1, -1, 1, 1});  // (B, out, kh, kw)
}

torch::Tensor UpBlockImpl::forward(torch::Tensor x) {
  FlopCounter::add_conv_transpose(x, conv_->weight);
  if (folded_) return convolve(x).relu_();
  return torch::relu(bn_->forward(convolve(x)));
}

void add_down_stage(torch::nn::Sequential& s, int64_t in, int64_t out, torch::ExpandingArray<2> kernel,
                    torch::ExpandingArray<2> stride, torch::ExpandingArray<2> padding, int residuals) {
  s->push_back(ConvBlock(in, out, kernel, stride, padding));
  for (int i = 0; i < residuals; ++i) s->push_back(ConvBlock(out, out, 3, 1, 1, true));
}

}  // namespace stf
