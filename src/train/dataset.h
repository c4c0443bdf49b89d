// Training samples drawn from a preprocessed dataset (PAPER.md): 5-frame
// windows with masked targets, a reference window of the same clip at least
// 5 frames away, per-frame mel windows, 5-frame lip windows around each
// frame, and SyncNet pairs (50% in sync, 50% shifted within the clip).
// Every batch is a pure function of its seed: thread-safe and reproducible.
#pragma once
#include <memory>
#include <string>
#include <torch/torch.h>
#include <vector>

#include "train/clip_file.h"

namespace stf {

struct GeneratorBatch {
  torch::Tensor target;    // (B*5, 3, S, S) real frames t..t+4 in [0, 1]
  torch::Tensor identity;  // (B*5, 6, S, S) target with lower half zeroed + reference frame
  torch::Tensor lips;      // (B*5, 3, 5, S, S) frames i-2..i+2 around each target, upper half zeroed
  torch::Tensor mel;       // (B*5, 1, 80, 16) the window of each target frame
  torch::Tensor sync_mel;  // (B, 1, 80, 16) the window of the 5 frames together
};

struct SyncBatch {
  torch::Tensor lower;  // (B, 15, S/2, S) lower halves of 5 frames
  torch::Tensor mel;    // (B, 1, 80, 16)
  torch::Tensor label;  // (B) 1 = in sync, 0 = audio from elsewhere in the clip
};

class Dataset {
 public:
  // split: "train" or "val". Frames are resized to image_size when stored
  // at another size. Throws stf::Error if the folder has no manifest or no
  // usable clip of that split.
  Dataset(const std::string& dir, const std::string& split, int image_size);
  size_t clips() const { return clips_.size(); }
  int64_t frames() const;
  GeneratorBatch generator_batch(int batch, uint64_t seed) const;
  SyncBatch sync_batch(int batch, uint64_t seed) const;

 private:
  torch::Tensor frame(const ClipFile& c, int64_t i) const;  // (3, S, S)
  torch::Tensor mel_window(const ClipFile& c, int64_t i) const;  // (1, 80, 16)
  std::vector<std::unique_ptr<ClipFile>> clips_;
  int size_;
};

}  // namespace stf
