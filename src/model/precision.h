// Number formats. Inference: fp32 by default; on CPUs with bfloat16 units,
// Intel's AMX tiles (Sapphire Rapids and later) or the AVX512_BF16 dot
// products (AMD Zen 4 and later, Intel Cooper Lake), oneDNN runs bfloat16
// convolutions faster than float32 (several times with AMX, 1.6-1.9x on a
// Zen 5; docs/performance.md), so `auto` picks bf16 there. Training:
// float32 weights and optimiser always; `train --precision bf16` runs the
// forward passes under LibTorch's CPU autocast to bfloat16 (BfloatAutocast).
#pragma once
#include <string>
#include <torch/torch.h>

namespace stf {

enum class Precision { fp32, bf16 };

// "fp32" | "bf16" | "auto" (bf16 where cpu_has_fast_bf16(), else fp32);
// anything else is an Error naming the choices.
Precision parse_precision(const std::string& name);
const char* precision_name(Precision p);
bool cpu_has_fast_bf16();  // AMX or AVX512_BF16 units
bool cpu_has_avx512();

// Readies a generator for inference: eval mode, BatchNorm and the residual
// additions folded into the convolutions (fold_for_inference), for bf16
// every parameter and buffer converted to bfloat16, and 4-D weights in
// channels-last layout (oneDNN then keeps the activations channels-last and
// skips a layout change around every convolution), except for float32
// models with layers of 512 channels or more on CPUs without AVX-512, where
// oneDNN's channels-last kernels are the slower ones (docs/performance.md). The
// encoders convert their float inputs to the model's type and the decoder
// returns float32, so callers pass and get float tensors either way.
void prepare_inference(torch::nn::Module& model, Precision p);
// The layout rule prepare_inference applies: whether a model in `p`, on the
// CPU or not, whose widest 4-D weight has `widest_channels` outputs, gets
// channels-last weights.
bool channels_last_inference(Precision p, bool on_cpu, int64_t widest_channels);

// While alive (and constructed with on = true): CPU autocast to bfloat16, so
// convolutions and matrix products run in bfloat16 on float32 weights (the
// gradients reach them in float32). Backward may run after the scope ends.
class BfloatAutocast {
 public:
  explicit BfloatAutocast(bool on);
  ~BfloatAutocast();
  BfloatAutocast(const BfloatAutocast&) = delete;
  BfloatAutocast& operator=(const BfloatAutocast&) = delete;
  // Whether the current thread computes under it (UpBlock then avoids the
  // transposed convolution that LibTorch 1.13 lacks in bfloat16).
  static bool active();

 private:
  bool on_;
};

}  // namespace stf
