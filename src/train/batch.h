// What one training step consumes: a generator batch and a SyncNet batch.
// LibTorch only, so the model layer and its GPU check build without the
// dataset's image libraries.
#pragma once
#include <torch/torch.h>

namespace stf {

struct GeneratorBatch {
  torch::Tensor target;    // (B*5, 3, S, S) real frames t..t+4 in [0, 1]
  torch::Tensor identity;  // (B*5, 6, S, S) target with lower half zeroed + reference frame
  torch::Tensor lips;      // (B*5, 3, 5, S, S) frames i-2..i+2 around each target, upper half zeroed
  torch::Tensor mel;       // (B*5, 1, 80, 16) the window of each target frame
  torch::Tensor sync_mel;  // (B, 1, 80, 16) the window of the 5 frames together
  GeneratorBatch to(const torch::Device& d) const {
    return {target.to(d), identity.to(d), lips.to(d), mel.to(d), sync_mel.to(d)};
  }
};

struct SyncBatch {
  torch::Tensor lower;  // (B, 15, S/2, S) lower halves of 5 frames
  torch::Tensor mel;    // (B, 1, 80, 16)
  torch::Tensor label;  // (B) 1 = in sync, 0 = audio from elsewhere in the clip
  SyncBatch to(const torch::Device& d) const { return {lower.to(d), mel.to(d), label.to(d)}; }
};

}  // namespace stf
