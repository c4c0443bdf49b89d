#include "model/blocks.h"

#include "model/precision.h"

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
      unpadded_(padding == 0 && output_padding == 0),
      by_phases_(kernel == 3 && stride == 2 && padding == 1 && output_padding == 1) {}

namespace {

// The stride-2 transposed convolution (kernel 3, padding 1, output padding 1)
// as an ordinary 2x2 convolution that computes the four output phases
// (even/odd row x even/odd column) as channel groups, then a pixel shuffle.
// Output row 2i takes kernel row 1 at input row i; row 2i+1 takes kernel row
// 2 at input row i and kernel row 0 at input row i+1 (columns alike), hence
// one row and column of zero padding after the input. LibTorch 1.13 has no
// bfloat16 transposed convolution on the CPU (and its autocast leaves the
// transposed convolution in float32); this runs on oneDNN's bf16 kernels.
// This builds the 2x2 kernel: w (in, out, 3, 3) -> (4 out, in, 2, 2), phase p
// of output channel o at o*4 + p, in the layout `format`.
torch::Tensor phase_kernel(const torch::Tensor& w, torch::MemoryFormat format) {
  const int64_t in = w.size(0), out = w.size(1);
  const std::vector<std::vector<std::pair<int64_t, int64_t>>> taps = {{{0, 1}}, {{0, 2}, {1, 0}}};  // (offset, kernel index)
  auto k = torch::zeros({out, 4, in, 2, 2}, w.options().memory_format(torch::MemoryFormat::Contiguous));
  auto wt = w.permute({1, 0, 2, 3});  // (out, in, 3, 3)
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t c = 0; c < 2; ++c)
      for (auto [dy, ky] : taps[a])
        for (auto [dx, kx] : taps[c]) k.select(1, 2 * a + c).select(2, dy).select(2, dx).copy_(wt.select(2, ky).select(2, kx));
  return k.view({out * 4, in, 2, 2}).contiguous(format);
}

// x (B, in, H, W), k (4 out, in, 2, 2), b (out) -> (B, out, 2H, 2W)
torch::Tensor conv_by_phases(const torch::Tensor& x, const torch::Tensor& k, const torch::Tensor& b) {
  auto y = torch::conv2d(torch::constant_pad_nd(x, {0, 1, 0, 1}), k, b.repeat_interleave(4));  // (B, 4 out, H, W)
  return torch::pixel_shuffle(y, 2);                                                 // (B, out, 2H, 2W)
}

}  // namespace

// A transposed convolution of a 1x1 input (the decoder's first level:
// 1x1 -> S/32 x S/32) is one matrix product, as in ConvBlockImpl::convolve.
torch::Tensor UpBlockImpl::convolve(const torch::Tensor& x) {
  const torch::Tensor& w = conv_->weight;  // (in, out, kh, kw)
  if (unpadded_ && x.size(2) == 1 && x.size(3) == 1) {
    auto y = torch::mm(x.flatten(1), w.flatten(1)).view({x.size(0), w.size(1), w.size(2), w.size(3)});
    return y + conv_->bias.view({1, -1, 1, 1});  // (B, out, kh, kw)
  }
  if (x.scalar_type() == torch::kBFloat16 || BfloatAutocast::active()) {
    TORCH_CHECK(by_phases_, "bfloat16 transposed convolutions: only kernel 3, stride 2, padding 1, output padding 1");
    if (!folded_) return conv_by_phases(x, phase_kernel(w, x.suggest_memory_format()), conv_->bias);  // training
    if (!phases_.defined()) phases_ = phase_kernel(w, x.suggest_memory_format());  // inference: weights are fixed
    return conv_by_phases(x, phases_, conv_->bias);
  }
  return conv_->forward(x);
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
