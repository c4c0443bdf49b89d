// Training samples drawn from a preprocessed dataset (PAPER.md): 5-frame
// windows with masked targets, a reference window of the same clip at least
// 5 frames away, per-frame mel windows, 5-frame lip windows around each
// frame, and SyncNet pairs (50% in sync, 50% shifted within the clip).
// Training samples are numbered over a run: sample p comes from the clip at
// place p % clips() of that epoch's shuffle (epoch p / clips(), shuffled from
// the run's seed), its windows drawn from its own seed. So every epoch visits
// every clip once, a data-parallel rank takes a disjoint slice of the
// numbers, and a batch is a pure function of (seed, first number): thread-safe
// and reproducible whatever the number of ranks and workers.
#pragma once
#include <memory>
#include <random>
#include <string>
#include <torch/torch.h>
#include <vector>

#include "train/batch.h"
#include "train/clip_file.h"

namespace stf {

class Dataset {
 public:
  // split: "train" or "val". Frames are resized to image_size when stored
  // at another size. Throws stf::Error if the folder has no manifest or no
  // usable clip of that split.
  Dataset(const std::string& dir, const std::string& split, int image_size);
  size_t clips() const { return clips_.size(); }
  int64_t frames() const;
  // Samples first .. first+count-1 of a run seeded with `seed`.
  GeneratorBatch generator_batch(int64_t first, int count, uint64_t seed) const;
  // augment: each SyncNet window mirrored at random and its colours scaled
  // (the same for its 5 frames), so the expert cannot key on a face's look.
  SyncBatch sync_batch(int64_t first, int count, uint64_t seed, bool augment = false) const;
  // Fixed validation batches: clips drawn at random from `seed`.
  GeneratorBatch validation_generator_batch(int batch, uint64_t seed) const;
  SyncBatch validation_sync_batch(int batch, uint64_t seed) const;
  // The clip sample number `sample` comes from.
  size_t clip_of(int64_t sample, uint64_t seed) const;

 private:
  // The sample's tensors, in the order of the batch's fields.
  std::vector<torch::Tensor> generator_sample(const ClipFile& c, std::mt19937_64& rng) const;
  std::vector<torch::Tensor> sync_sample(const ClipFile& c, std::mt19937_64& rng, bool augment) const;
  torch::Tensor frame(const ClipFile& c, int64_t i) const;  // (3, S, S)
  torch::Tensor mel_window(const ClipFile& c, int64_t i) const;  // (1, 80, 16)
  std::vector<std::unique_ptr<ClipFile>> clips_;
  int size_;
};

}  // namespace stf
