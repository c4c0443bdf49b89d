// Building blocks shared by the networks (Wav2Lip style): conv + BatchNorm +
// ReLU, optionally residual; transposed conv + BatchNorm + ReLU.
#pragma once
#include <torch/torch.h>

namespace stf {

// Counts the floating-point operations (2 x multiply-adds) of the
// convolution, linear and matmul layers run on this thread while an
// instance is alive. For the parameter/GFLOP figures in docs/ and benchmarks.
class FlopCounter {
 public:
  FlopCounter();
  ~FlopCounter();
  int64_t flops() const { return flops_; }
  // Called by the layers: no-op when no counter is alive.
  static void add(int64_t flops);
  // Conv2d/Conv3d: every output element costs in_channels x kernel volume MACs.
  static void add_conv(const torch::Tensor& output, const torch::Tensor& weight);
  // ConvTranspose2d: every input element spreads to out_channels x kernel area.
  static void add_conv_transpose(const torch::Tensor& input, const torch::Tensor& weight);

 private:
  int64_t flops_ = 0;
  FlopCounter* previous_;
};

// (B, in, H, W) -> (B, out, H', W'); residual blocks need in == out and
// stride 1 and add their input before the activation.
class ConvBlockImpl : public torch::nn::Module {
 public:
  ConvBlockImpl(int64_t in, int64_t out, torch::ExpandingArray<2> kernel, torch::ExpandingArray<2> stride,
                torch::ExpandingArray<2> padding, bool residual = false, bool leaky = false);
  torch::Tensor forward(torch::Tensor x);
  void fold_for_inference();  // see fold_for_inference() below

 private:
  torch::Tensor convolve(const torch::Tensor& x);

  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
  bool residual_, leaky_;
  bool unpadded_;
  bool folded_ = false;
};
TORCH_MODULE(ConvBlock);

// (B, in, H, W) -> (B, out, H', W') by a transposed convolution.
class UpBlockImpl : public torch::nn::Module {
 public:
  UpBlockImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding, int64_t output_padding);
  torch::Tensor forward(torch::Tensor x);
  void fold_for_inference();

 private:
  torch::Tensor convolve(const torch::Tensor& x);

  torch::nn::ConvTranspose2d conv_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
  bool unpadded_;
  bool by_phases_;  // the shape conv_by_phases computes (blocks.cpp; inference and bfloat16)
  std::vector<torch::Tensor> phases_;  // its kernels, built once after fold_for_inference (the weights no longer change)
  bool folded_ = false;
};
TORCH_MODULE(UpBlock);

// For inference: moves every block's BatchNorm (running statistics and
// affine) into its convolution's weights and bias, leaving the BatchNorm an
// identity, and a residual block's "+ x" into its kernel (an identity tap),
// so the blocks run one convolution and one activation and the output is
// unchanged. The module must be in eval mode and must not be trained or
// saved afterwards (its convolution weights now hold the residual).
void fold_for_inference(torch::nn::Module& module);

// Inference runs the levels at high resolution (output side >= S/4) of the
// identity encoder and the decoder a few frames at a time: their activations
// then stay in cache between layers, and LibTorch's convolutions of few
// channels on large images run faster on small batches (paper model, float32,
// batch 16: 81-85% of the reference convolution's GFLOP/s against 69-70%;
// docs/performance.md). The decoder sizes each level's chunks by that
// level's output, as oneDNN reorders a layer's weights at every call.
// Returns the frames per chunk for a batch of `batch` whose largest
// activation takes `frame_bytes` per frame: about 10 MB a chunk, the chunks
// of equal size, the whole batch when it fits.
int64_t inference_chunk(int64_t batch, int64_t frame_bytes);

// Appends a downsampling conv followed by `residuals` residual 3x3 blocks.
void add_down_stage(torch::nn::Sequential& s, int64_t in, int64_t out, torch::ExpandingArray<2> kernel,
                    torch::ExpandingArray<2> stride, torch::ExpandingArray<2> padding, int residuals);

}  // namespace stf
