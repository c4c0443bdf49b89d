// The SyncTalkFace generator (PAPER.md "The network"): audio encoder, lip
// encoder, identity encoder, Audio-Lip Memory, fusion and decoder.
#pragma once
#include <torch/torch.h>
#include <vector>

#include "model/audio_encoder.h"
#include "model/audio_lip_memory.h"
#include "model/config.h"
#include "model/decoder.h"
#include "model/identity_encoder.h"
#include "model/lip_encoder.h"

namespace stf {

struct GeneratorOutput {
  torch::Tensor recalled_image;  // I_g: decoded from the audio-recalled lip feature (B, 3, S, S)
  torch::Tensor stored_image;    // I_G: decoded from the value-addressed f_lip_val (B, 3, S, S); memory only
  torch::Tensor lip_feature;     // f_lip (B, C); memory only
  MemoryOutput memory;           // addresses and L_store / L_align; memory only
};

class SyncTalkFaceImpl : public torch::nn::Module {
 public:
  explicit SyncTalkFaceImpl(const ModelConfig& config);

  // Inference, audio only. mel: (B, 1, 80, 16); identity: (B, 6, S, S) -> (B, 3, S, S)
  torch::Tensor forward(torch::Tensor mel, torch::Tensor identity);
  // Training: lips (B, 3, 5, S, S) = frames t-2..t+2 with the upper half zeroed.
  GeneratorOutput forward_train(torch::Tensor mel, torch::Tensor identity, torch::Tensor lips);

  // Pieces, for reuse of identity features (a still photo) and analysis.
  std::vector<torch::Tensor> encode_identity(torch::Tensor identity);
  // The identity input at inference: identity_input(frame, reference), the
  // reference's mouth hidden when config().hide_ref_mouth (as in its training).
  // (B, 3, S, S), (B, 3, S, S) -> (B, 6, S, S)
  torch::Tensor inference_identity(const torch::Tensor& frame, const torch::Tensor& reference) const;
  // f_aud (B, C) -> bottleneck (B, C): through the memory when it is on.
  torch::Tensor bottleneck_from_audio(torch::Tensor f_aud);
  // Fusion: concat(f_aud, lip feature) -> dropout -> linear. (B, C), (B, C) -> (B, C)
  torch::Tensor fuse(torch::Tensor f_aud, torch::Tensor lip_feature);
  torch::Tensor decode(torch::Tensor bottleneck, const std::vector<torch::Tensor>& skips);

  const ModelConfig& config() const { return config_; }
  AudioEncoder audio_encoder{nullptr};
  LipEncoder lip_encoder{nullptr};  // memory only (the lip side of the memory, and L_vv's critic)
  IdentityEncoder identity_encoder{nullptr};
  AudioLipMemory memory{nullptr};   // null when config.memory is false
  Decoder decoder{nullptr};

 private:
  ModelConfig config_;
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear fusion_{nullptr};
};
TORCH_MODULE(SyncTalkFace);

// Zeroes the upper half of face images: (..., 3, S, S) -> same shape.
torch::Tensor mask_upper_half(const torch::Tensor& faces);
// Identity input: frame with its lower half zeroed + reference frame.
// (B, 3, S, S), (B, 3, S, S) -> (B, 6, S, S)
torch::Tensor identity_input(const torch::Tensor& frame, const torch::Tensor& reference);

// The part of face crops (N, 3, S, S) where the mouth lies: rows S/2 .. 4S/5,
// columns S/4 .. 3S/4 -> (N, 3, 3S/10, S/2), a view. Over the training data's
// crops (preprocess: the face box with the default pads) the 20 mouth
// landmarks fall in rows 0.54-0.74 S and columns 0.28-0.70 S (5th-95th percentiles).
torch::Tensor mouth_region(const torch::Tensor& crops);
// Not in the paper: reference crops (N, 3, S, S), float -> a copy with
// mouth_region replaced by a smooth colour field (its area average over a
// 2x2 grid, stretched back bilinearly). Skin and lip colours stay; the
// mouth's shape and opening are gone, so a generator must draw them from the
// audio (train --hide-ref-mouth; ModelConfig::hide_ref_mouth at inference).
torch::Tensor hide_mouth(const torch::Tensor& crops);

int64_t parameter_count(torch::nn::Module& module);

}  // namespace stf
