// `synctalkface preprocess`: videos -> a dataset folder of .stfclip files and
// a manifest with a train/val split by clip.
#pragma once
#include <string>
#include <vector>

#include "stf/face.h"

namespace stf {

struct PreprocessOptions {
  int size = 128;              // stored crop side (the trainer resizes to its config)
  TrackerOptions tracker;
  CropOptions crop;            // size is overridden by `size`
  double val_ratio = 0.05;     // share of clips (by a hash of the clip id) kept for validation
  std::string val_match;       // clips whose path contains this go to validation (e.g. a speaker)
  int min_frames = 25;         // shorter face runs are skipped (windows need margins)
  bool quiet = false;
};

struct PreprocessReport {
  int processed = 0, reused = 0, failed = 0, train = 0, val = 0;
};

// Inputs: video files, folders (searched recursively) and text files with
// one path per line. Finished clips are not redone; failures are reported
// and skipped. Writes OUT/clips/*.stfclip and OUT/manifest.json.
PreprocessReport preprocess(const std::vector<std::string>& inputs, const std::string& out_dir,
                            const PreprocessOptions& opt);

// Expands inputs to (clip id, path) pairs; ids are paths relative to the
// given folder with '/' replaced by '_', extension dropped.
std::vector<std::pair<std::string, std::string>> collect_clips(const std::vector<std::string>& inputs);

}  // namespace stf
