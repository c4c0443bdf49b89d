#include "model/precision.h"

#include <algorithm>

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "model/blocks.h"
#include "stf/error.h"

namespace stf {

bool cpu_has_fast_bf16() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("amx-bf16") || __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

bool cpu_has_avx512() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bw");
#else
  return false;
#endif
}

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::fp32;
  if (name == "bf16") return Precision::bf16;
  if (name == "auto") return cpu_has_fast_bf16() ? Precision::bf16 : Precision::fp32;
  throw Error("unknown precision '" + name + "'; use auto, fp32 or bf16");
}

const char* precision_name(Precision p) { return p == Precision::bf16 ? "bf16" : "fp32"; }

bool channels_last_inference(Precision p, bool on_cpu, int64_t widest_channels) {
  // Measured (docs/performance.md, 2026-12-03): with AVX2 alone oneDNN's
  // float32 channels-last kernels run the paper model's wide layers (256-512
  // channels) at 60-85% of the plain layout's speed; the lite model, whose
  // widest layers are 128-256 channels on small images, is faster
  // channels-last on both kinds of CPU.
  return !(p == Precision::fp32 && on_cpu && !cpu_has_avx512() && widest_channels >= 512);
}

void prepare_inference(torch::nn::Module& model, Precision p) {
  model.eval();
  fold_for_inference(model);
  torch::NoGradGuard ng;
  if (p == Precision::bf16) model.to(torch::kBFloat16);
  int64_t widest = 0;
  bool on_cpu = true;
  for (const auto& w : model.parameters()) {
    if (w.dim() == 4) widest = std::max(widest, w.size(0));
    on_cpu = on_cpu && w.is_cpu();
  }
  if (!channels_last_inference(p, on_cpu, widest)) return;
  for (auto& w : model.parameters())
    if (w.dim() == 4) w.set_data(w.contiguous(torch::MemoryFormat::ChannelsLast));
}

// LibTorch 2.4 replaced the CPU-specific autocast calls of 1.13 by calls
// that take the device type; 2.x keeps the old ones but warns at every call.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
static void set_cpu_autocast(bool on) {
  at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCPU, on);
}
bool BfloatAutocast::active() { return at::autocast::is_autocast_enabled(at::kCPU); }
#else
static void set_cpu_autocast(bool on) {
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  at::autocast::set_cpu_enabled(on);
}
bool BfloatAutocast::active() { return at::autocast::is_cpu_enabled(); }
#endif

BfloatAutocast::BfloatAutocast(bool on) : on_(on) {
  if (on_) set_cpu_autocast(true);
}

BfloatAutocast::~BfloatAutocast() {
  if (!on_) return;
  set_cpu_autocast(false);
  at::autocast::clear_cache();
}

}  // namespace stf
