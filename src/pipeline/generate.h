// The streaming generate pipeline: decode -> track -> model -> blend ->
// encode, three threads joined by bounded queues, so memory does not grow
// with the length of the video.
#pragma once
#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <string>
#include <torch/torch.h>
#include <vector>

#include "stf/face.h"

namespace stf {

struct GenerateOptions {
  std::string face;        // video or still image
  std::string audio;       // audio or video file with sound; or:
  std::string text;        // text spoken by espeak-ng; or:
  std::vector<float> samples;  // 16 kHz mono samples (library callers, e.g. eval)
  std::string voice = "en";
  std::string outfile;
  std::string model;       // empty = the bundled default model
  int batch = 16;          // face crops per model call
  int model_threads = 0;   // torch threads for the model; 0 = automatic (see generate.cpp)
  std::string precision = "auto";  // model number format: auto | fp32 | bf16 (model/precision.h)
  double fps = 25;         // output rate for a still image
  double ref_lag = 1.0;    // seconds: a video frame's reference is its face from this long before (0 = itself)
  std::string loop = "pingpong";  // audio longer than the video: pingpong | repeat | none
  double resize_factor = 1;       // shrink the input (and output) by this factor first
  TrackerOptions tracker;
  CropOptions crop;        // size is taken from the model
  BlendOptions blend;
  bool strict = false;     // a frame without a face is an error
  bool quiet = false;      // no progress bar
};

struct GenerateSummary {
  std::string outfile, model, precision;
  int64_t frames = 0, frames_with_face = 0;
  double fps = 0;              // output frame rate
  double audio_seconds = 0;    // length of the driving audio that was used
  double wall_seconds = 0;
  double frames_per_second = 0;  // processing speed
  nlohmann::json to_json() const;
};

// Which source frame output frame `i` shows when the video has `frames`
// frames: forward then backward (pingpong) or from the start again (repeat).
int64_t looped_frame(int64_t i, int64_t frames, const std::string& loop);

// The reference image of each video frame: its own face crop from `lag`
// frames before, in the same shot; the first frames of a shot take the
// oldest crop the shot has so far (the very first, itself). The model was
// trained with references from other moments of the clip: the frame itself
// would hand it the original mouth to copy.
class ReferenceHistory {
 public:
  explicit ReferenceHistory(size_t lag) : lag_(lag) {}
  torch::Tensor next(int64_t segment, const torch::Tensor& crop);  // crop (3, S, S) -> reference (3, S, S)
  void reset() { recent_.clear(); }                                // the face was lost

 private:
  size_t lag_;
  int64_t segment_ = -1;
  std::deque<torch::Tensor> recent_;  // the last lag + 1 crops of the shot
};

GenerateSummary generate(const GenerateOptions& opt);

}  // namespace stf
