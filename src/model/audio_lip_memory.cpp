#include "model/audio_lip_memory.h"

#include "model/blocks.h"

namespace stf {

AudioLipMemoryImpl::AudioLipMemoryImpl(int64_t slots, int64_t channels, double kappa, double init_std)
    : kappa_(kappa),
      key_query_(register_module("key_query", torch::nn::Linear(channels, channels))),
      value_query_(register_module("value_query", torch::nn::Linear(channels, channels))) {
  // PAPER.md (code): slot matrices start from N(0, 0.5).
  key_memory = register_parameter("key_memory", torch::randn({slots, channels}) * init_std);
  value_memory = register_parameter("value_memory", torch::randn({slots, channels}) * init_std);
}

torch::Tensor AudioLipMemoryImpl::address(const torch::Tensor& query, const torch::Tensor& memory) const {
  auto q = torch::nn::functional::normalize(query, torch::nn::functional::NormalizeFuncOptions().dim(1));   // (B, C)
  auto m = torch::nn::functional::normalize(memory, torch::nn::functional::NormalizeFuncOptions().dim(1));  // (S, C)
  FlopCounter::add(2 * q.size(0) * m.numel());
  return torch::softmax(kappa_ * q.matmul(m.t()), 1);                                                       // (B, S)
}

torch::Tensor AudioLipMemoryImpl::read_value(const torch::Tensor& a) const {
  FlopCounter::add(2 * a.size(0) * value_memory.numel());
  return a.matmul(value_memory);  // (B, S) x (S, C) -> (B, C)
}

MemoryOutput AudioLipMemoryImpl::forward(torch::Tensor f_aud, torch::Tensor f_lip) {
  MemoryOutput out;
  FlopCounter::add(2 * f_aud.size(0) * key_query_->weight.numel());
  out.key_address = address(key_query_->forward(f_aud), key_memory);  // A_aud (B, S)
  out.recalled = read_value(out.key_address);                          // f_lip_key (B, C)
  if (!f_lip.defined()) return out;
  FlopCounter::add(2 * f_lip.size(0) * value_query_->weight.numel());
  out.value_address = address(value_query_->forward(f_lip), value_memory);  // A_lip (B, S)
  out.stored = read_value(out.value_address);                               // f_lip_val (B, C)
  // PAPER.md: L_store = ||f_lip - f_lip_val||^2 with f_lip detached; taken
  // as the mean over channels and batch (MSE) so its scale does not grow with C.
  out.store_loss = (f_lip.detach() - out.stored).pow(2).mean();
  // PAPER.md: L_align = KL(A_lip || A_aud) with A_lip detached, so only the
  // audio (key) side learns from it.
  auto a_lip = out.value_address.detach();
  auto log_ratio = a_lip.clamp_min(1e-12).log() - out.key_address.clamp_min(1e-12).log();
  out.align_loss = (a_lip * log_ratio).sum(1).mean();
  return out;
}

}  // namespace stf
