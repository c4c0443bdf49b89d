// The audio-visual sync expert (PAPER.md "Critics"): the lower half of 5
// frames and the mel of the same 0.2 s -> two embeddings; their cosine
// similarity is the sync probability. Trained first, then frozen.
#pragma once
#include <torch/torch.h>

#include "model/audio_encoder.h"

namespace stf {

class SyncNetImpl : public torch::nn::Module {
 public:
  SyncNetImpl(int64_t image_size, int64_t width, int64_t feature, int residuals);
  // lower: (B, 15, S/2, S) = lower halves of 5 frames stacked on channels -> (B, F), unit length
  torch::Tensor embed_face(torch::Tensor lower);
  // mel: (B, 1, 80, 16) -> (B, F), unit length
  torch::Tensor embed_audio(torch::Tensor mel);
  // cosine of the two embeddings, in [0, 1] (embeddings are non-negative): (B)
  torch::Tensor forward(torch::Tensor lower, torch::Tensor mel);

 private:
  torch::nn::Sequential face_{nullptr};
  AudioEncoder audio_{nullptr};
};
TORCH_MODULE(SyncNet);

// Lower halves of a window of frames stacked on channels:
// (B, 5, 3, S, S) -> (B, 15, S/2, S)
torch::Tensor stack_lower_halves(const torch::Tensor& window);

}  // namespace stf
