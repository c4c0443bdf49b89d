#include "model/syncnet.h"

#include "model/blocks.h"

namespace stf {

SyncNetImpl::SyncNetImpl(int64_t S, int64_t s, int64_t feature, int r) {
  (void)S;  // the face tower ends in global pooling, so any S works
  torch::nn::Sequential f;
  f->push_back(ConvBlock(15, s, 7, 1, 3));                        // (B, s, S/2, S)
  add_down_stage(f, s, 2 * s, 5, {1, 2}, 2, r);            // (B, 2s, S/2, S/2)
  add_down_stage(f, 2 * s, 4 * s, 3, 2, 1, r);             // (B, 4s, S/4, S/4)
  add_down_stage(f, 4 * s, 8 * s, 3, 2, 1, r);             // (B, 8s, S/8, S/8)
  add_down_stage(f, 8 * s, 16 * s, 3, 2, 1, r);            // (B, 16s, S/16, S/16)
  f->push_back(ConvBlock(16 * s, feature, 3, 2, 1));              // (B, F, S/32, S/32)
  face_ = register_module("face", f);
  audio_ = register_module("audio", AudioEncoder(s, feature, r));
}

torch::Tensor SyncNetImpl::embed_face(torch::Tensor lower) {
  // Global average pooling as a mean: its CUDA backward is deterministic.
  auto v = face_->forward(lower).mean({2, 3});                     // (B, F), >= 0 after ReLU
  return torch::nn::functional::normalize(v, torch::nn::functional::NormalizeFuncOptions().dim(1));
}

torch::Tensor SyncNetImpl::embed_audio(torch::Tensor mel) {
  auto a = audio_->forward(mel);                                   // (B, F), >= 0 after ReLU
  return torch::nn::functional::normalize(a, torch::nn::functional::NormalizeFuncOptions().dim(1));
}

torch::Tensor SyncNetImpl::forward(torch::Tensor lower, torch::Tensor mel) {
  return (embed_face(lower) * embed_audio(mel)).sum(1);            // (B)
}

torch::Tensor stack_lower_halves(const torch::Tensor& window) {
  const int64_t S = window.size(3);
  auto lower = window.narrow(3, S / 2, S / 2);                     // (B, 5, 3, S/2, S)
  return lower.flatten(1, 2);                                      // (B, 15, S/2, S)
}

}  // namespace stf
