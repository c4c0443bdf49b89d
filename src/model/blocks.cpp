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

int64_t inference_chunk(int64_t batch, int64_t frame_bytes) {
  const int64_t limit = int64_t(10) << 20;
  const int64_t chunks = std::max<int64_t>(1, (batch * frame_bytes + limit - 1) / limit);
  return (batch + chunks - 1) / chunks;
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

// Whether a weight is stored channels-last (prepare_inference) and not also
// plain contiguous (as 1x1 kernels are): then flatten_as_stored reads it
// without a copy.
static bool hwc_weight(const torch::Tensor& w) {
  return !w.is_contiguous() && w.is_contiguous(torch::MemoryFormat::ChannelsLast);
}

// t (N, C, H, W) -> (N, C*H*W), the C*H*W in the order (H, W, C) when `hwc`
// (a view of a channels-last tensor), else (C, H, W).
static torch::Tensor flatten_as_stored(const torch::Tensor& t, bool hwc) {
  return hwc ? t.permute({0, 2, 3, 1}).flatten(1) : t.flatten(1);
}

// Float32 inference of a convolution on an image of at most 4x4 pixels (the
// paper model's S/32 level): oneDNN runs these faster in plain (NCHW) layout
// than channels-last (512 -> 512, 3x3, batch 16: 3.7 against 6.0 ms), so
// such blocks take their input in plain layout and keep their weights so.
static bool plain_layout_input(const torch::Tensor& x) {
  return x.scalar_type() == torch::kFloat32 && x.size(2) * x.size(3) <= 16;
}

// A convolution whose kernel covers its whole unpadded input (the identity
// encoder's last layer: S/32 x S/32 -> 1x1) is one matrix product; LibTorch's
// CPU convolution runs that shape at ~1 GFLOP/s, the product at BLAS speed.
torch::Tensor ConvBlockImpl::convolve(const torch::Tensor& x) {
  const torch::Tensor& w = conv_->weight;  // (out, in, kh, kw)
  if (!unpadded_ || x.size(2) != w.size(2) || x.size(3) != w.size(3)) {
    if (!folded_ || !plain_layout_input(x)) return conv_->forward(x);
    if (!w.is_contiguous()) conv_->weight.set_data(w.contiguous());  // once: the weights no longer change
    return conv_->forward(x.contiguous());
  }
  const bool hwc = hwc_weight(w);  // x and w flattened in the same order: (in, kh, kw) or (kh, kw, in)
  return torch::linear(flatten_as_stored(x, hwc), flatten_as_stored(w, hwc), conv_->bias)
      .view({x.size(0), w.size(0), 1, 1});  // (B, out, 1, 1)
}

// In place on the fresh output of a folded block. threshold_ rather than
// relu_: the same values, and LibTorch 1.13's bfloat16 relu_ is 2.6x slower
// (0.68 against 0.26 ms on a 16x64x64x64 channels-last tensor).
static torch::Tensor relu_inference(torch::Tensor& y) { return torch::threshold_(y, 0, 0); }

torch::Tensor ConvBlockImpl::forward(torch::Tensor x) {
  auto y = convolve(x);
  FlopCounter::add_conv(y, conv_->weight);
  if (folded_) return leaky_ ? torch::leaky_relu_(y, 0.2) : relu_inference(y);  // BatchNorm and residual are in the weights
  y = bn_->forward(y);
  if (residual_) y = y + x;
  return leaky_ ? torch::leaky_relu(y, 0.2) : torch::relu(y);
}

namespace {

// Scales output channel c of a convolution weight (that channel's dimension
// is `dim`) and its bias by BatchNorm's per-channel factor, adds its shift,
// and turns the BatchNorm into the identity.
void fold(torch::Tensor weight, torch::Tensor bias, int64_t dim, torch::nn::BatchNorm2d& bn) {
  TORCH_CHECK(!bn->is_training(), "fold_for_inference needs eval mode");
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

// conv(x) + x is one convolution whose kernel has 1 added at the centre tap
// from channel c to channel c (stride 1, odd kernel, same padding; in == out).
void ConvBlockImpl::fold_for_inference() {
  if (folded_) return;
  fold(conv_->weight, conv_->bias, 0, bn_);  // weight (out, in, kh, kw)
  if (residual_) {
    torch::NoGradGuard ng;
    auto& w = conv_->weight;
    TORCH_CHECK(w.size(0) == w.size(1) && w.size(2) % 2 == 1 && w.size(3) % 2 == 1, "residual block shape");
    w.select(3, w.size(3) / 2).select(2, w.size(2) / 2).diagonal().add_(1);  // (out, in) centre taps
  }
  folded_ = true;
}

void UpBlockImpl::fold_for_inference() {
  if (folded_) return;
  fold(conv_->weight, conv_->bias, 1, bn_);  // transposed: weight (in, out, kh, kw)
  folded_ = true;
}

void fold_for_inference(torch::nn::Module& module) {
  for (auto& m : module.modules()) {
    if (auto* c = m->as<ConvBlockImpl>()) c->fold_for_inference();
    if (auto* u = m->as<UpBlockImpl>()) u->fold_for_inference();
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
// as four ordinary convolutions, one per output phase (even/odd row x
// even/odd column), written into the interleaved output. Output row 2i takes
// kernel row 1 at input row i; row 2i+1 takes kernel row 2 at input row i and
// kernel row 0 at input row i+1 (columns alike), hence one row and column of
// zero padding after the input. Each phase uses exactly its taps (1x1, 1x2,
// 2x1, 2x2: the 9 of the 3x3 kernel), so the arithmetic is the transposed
// convolution's. LibTorch 1.13 has no bfloat16 transposed convolution on the
// CPU (its autocast leaves it in float32) and runs the float32 one without
// oneDNN (im2col + GEMM); these run on oneDNN's kernels in both formats.
// The kernels: w (in, out, 3, 3) -> phase 2a + c: (out, in, 1 + a, 1 + c),
// in the layout `format`.
std::vector<torch::Tensor> phase_kernels(const torch::Tensor& w, torch::MemoryFormat format) {
  auto wt = w.transpose(0, 1);  // (out, in, 3, 3)
  const auto opts = torch::TensorOptions(torch::kLong).device(w.device());
  const torch::Tensor taps[2] = {torch::tensor({1}, opts), torch::tensor({2, 0}, opts)};  // kernel rows (columns) of an even, odd phase
  std::vector<torch::Tensor> k;
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t c = 0; c < 2; ++c) k.push_back(wt.index_select(2, taps[a]).index_select(3, taps[c]).contiguous(format));
  return k;
}

// x (B, in, H, W), k from phase_kernels, b (out) -> (B, out, 2H, 2W) in x's
// layout. Phase (a, c) needs row a and column c of zero padding after x: the
// convolution pads both sides (free inside oneDNN) and its first a rows and c
// columns are dropped.
torch::Tensor conv_by_phases(const torch::Tensor& x, const std::vector<torch::Tensor>& k, const torch::Tensor& b) {
  const int64_t H = x.size(2), W = x.size(3);
  torch::Tensor out;
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t c = 0; c < 2; ++c) {
      auto y = torch::conv2d(x, k[2 * a + c], b, 1, {a, c}).slice(2, a).slice(3, c);  // (B, out, H, W)
      if (!out.defined()) out = torch::empty({x.size(0), y.size(1), 2 * H, 2 * W}, y.options().memory_format(x.suggest_memory_format()));
      out.slice(2, a, 2 * H, 2).slice(3, c, 2 * W, 2).copy_(y);  // rows 2i + a, columns 2j + c
    }
  return out;
}

}  // namespace

// A transposed convolution of a 1x1 input (the decoder's first level:
// 1x1 -> S/32 x S/32) is one matrix product, as in ConvBlockImpl::convolve.
torch::Tensor UpBlockImpl::convolve(const torch::Tensor& x) {
  const torch::Tensor& w = conv_->weight;  // (in, out, kh, kw)
  if (unpadded_ && x.size(2) == 1 && x.size(3) == 1) {
    torch::Tensor y;
    if (hwc_weight(w))  // w stored as (in, kh, kw, out): the product's columns in that order, y channels-last
      y = torch::mm(x.flatten(1), flatten_as_stored(w, true)).view({x.size(0), w.size(2), w.size(3), w.size(1)}).permute({0, 3, 1, 2});
    else
      y = torch::mm(x.flatten(1), w.flatten(1)).view({x.size(0), w.size(1), w.size(2), w.size(3)});
    return y + conv_->bias.view({1, -1, 1, 1});  // (B, out, kh, kw)
  }
  const bool bf16 = x.scalar_type() == torch::kBFloat16 || BfloatAutocast::active();
  if (by_phases_ && folded_) {
    if (phases_.empty()) phases_ = phase_kernels(w, x.suggest_memory_format());  // inference: weights are fixed
    return conv_by_phases(x, phases_, conv_->bias);
  }
  if (by_phases_ && bf16) return conv_by_phases(x, phase_kernels(w, x.suggest_memory_format()), conv_->bias);  // training
  TORCH_CHECK(!bf16, "bfloat16 transposed convolutions: only kernel 3, stride 2, padding 1, output padding 1");
  return conv_->forward(x);  // float32 training
}

torch::Tensor UpBlockImpl::forward(torch::Tensor x) {
  FlopCounter::add_conv_transpose(x, conv_->weight);
  if (folded_) {
    auto y = convolve(x);
    return relu_inference(y);
  }
  return torch::relu(bn_->forward(convolve(x)));
}

void add_down_stage(torch::nn::Sequential& s, int64_t in, int64_t out, torch::ExpandingArray<2> kernel,
                    torch::ExpandingArray<2> stride, torch::ExpandingArray<2> padding, int residuals) {
  s->push_back(ConvBlock(in, out, kernel, stride, padding));
  for (int i = 0; i < residuals; ++i) s->push_back(ConvBlock(out, out, 3, 1, 1, true));
}

}  // namespace stf
