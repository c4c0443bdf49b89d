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

#include "stf/crop_placement.h"
#include "train/augment.h"
#include "train/batch.h"
#include "train/clip_file.h"

namespace stf {

// A generator batch as the data workers build it: the stored uint8 crops,
// 14 per sample (frames t-2 .. t+6 and the 5 reference frames), instead of
// the 40 frames' worth of float32 a step consumes (the lip windows overlap):
// ~11x less to gather and to copy to a GPU. expand() makes the GeneratorBatch
// on the step's device.
struct GeneratorSamples {
  torch::Tensor frames;      // (B, 9, S0, S0, 3) uint8 BGR crops of frames t-2 .. t+6 (S0: the dataset's size)
  torch::Tensor references;  // (B, 5, S0, S0, 3) uint8 BGR crops of the reference frames r .. r+4
  torch::Tensor mel;         // (B*5, 1, 80, 16) the window of each target frame t .. t+4
  torch::Tensor sync_mel;    // (B, 1, 80, 16) the window of the 5 frames together
  int64_t size = 0;          // the model's S
  GeneratorBatch expand(const torch::Device& device) const;
};

// (N, S0, S0, 3) uint8 BGR crops -> (N, 3, S, S) float in [0, 1]: box-averaged
// down (as OpenCV's INTER_AREA) or bilinear up when S0 != S.
torch::Tensor crops_to_float(const torch::Tensor& crops, int64_t size);

// Where the dataset's crops sit on the face (its manifest's "crop"; bounds
// for datasets made before the field existed). Throws stf::Error.
CropPlacement dataset_crop(const std::string& dir);

class Dataset {
 public:
  // split: "train" or "val". Frames are resized to image_size when stored
  // at another size. Throws stf::Error if the folder has no manifest or no
  // usable clip of that split.
  Dataset(const std::string& dir, const std::string& split, int image_size);
  size_t clips() const { return clips_.size(); }
  int64_t frames() const;
  // Samples first .. first+count-1 of a run seeded with `seed`.
  // aug.speech changes the audio of both (train/augment.h); aug.look the
  // pictures of SyncNet windows, so the expert cannot key on a face's look.
  GeneratorSamples generator_batch(int64_t first, int count, uint64_t seed, const Augment& aug = {}) const;
  SyncBatch sync_batch(int64_t first, int count, uint64_t seed, const Augment& aug = {}) const;
  // Fixed validation batches: clips drawn at random from `seed`; the same
  // samples with the references' mouth hidden for a model that hides them.
  GeneratorSamples validation_generator_batch(int batch, uint64_t seed, bool hide_ref_mouth = false) const;
  SyncBatch validation_sync_batch(int batch, uint64_t seed) const;
  // The clip sample number `sample` comes from.
  size_t clip_of(int64_t sample, uint64_t seed) const;

 private:
  // The sample's tensors, in the order of the batch's fields.
  std::vector<torch::Tensor> generator_sample(const ClipFile& c, std::mt19937_64& rng, const Augment& aug) const;
  std::vector<torch::Tensor> sync_sample(const ClipFile& c, std::mt19937_64& rng, const Augment& aug) const;
  torch::Tensor crop(const ClipFile& c, int64_t i) const;  // (S0, S0, 3) uint8, a copy
  // The clip's (80, T) mel: a view of the file, or an augmented copy.
  torch::Tensor mel(const ClipFile& c, std::mt19937_64& rng, bool augment) const;
  // (1, 80, 16): frame i's window; at a pace p != 1 its 16 columns are read
  // every p columns from the same start (linear between columns).
  torch::Tensor mel_window(const ClipFile& c, const torch::Tensor& mel, int64_t i, double pace = 1) const;
  std::vector<std::unique_ptr<ClipFile>> clips_;
  int size_;
};

}  // namespace stf
