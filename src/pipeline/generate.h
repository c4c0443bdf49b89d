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
#include "stf/media.h"

namespace stf {

struct GenerateOptions {
  std::string face;        // video or still image
  std::string audio;       // audio or video file with sound; or:
  std::string text;        // text spoken by espeak-ng; or:
  std::vector<float> samples;  // 16 kHz mono samples (library callers, e.g. eval)
  std::string transcript;  // with audio: the words it says (their phonemes, aligned to it, act as a text's)
  std::string voice = "en";
  std::string outfile;
  std::string model;       // empty = the bundled default model
  int batch = 16;          // face crops per model call
  int model_threads = 0;   // torch threads for the model; 0 = automatic (see generate.cpp)
  std::string precision = "auto";  // model number format: auto | fp32 | bf16 (model/precision.h)
  double fps = 25;         // output rate for a still image
  double ref_lag = 1.0;    // seconds: a video frame's reference is its face from this long before (0 = itself)
  double ref_choice = 2;   // seconds: pick the reference among this much more history by the speech (ReferenceHistory)
  // Audio guidance (not in the paper; LatentSync's guidance scale plays the
  // same part): the decoder gets the speech's bottleneck taken this many
  // times as far from the one silence gives. The lite model moves a new
  // face's mouth in time with the speech but far less than a speaker does
  // (models/README.md, session 13); 1 = as trained. Silence gives the same
  // closed mouth at any scale.
  double guidance_scale = 3;
  std::string loop = "pingpong";  // audio longer than the video: pingpong | repeat | none
  double loop_memory_mb = 512;    // a looped video's frames kept in memory up to this; beyond, read again from the file
  double resize_factor = 1;       // shrink the input (and output) by this factor first
  int crf = VideoWriterOptions{}.crf;  // x264 quality: 0 = lossless, 51 = worst
  std::string preset = VideoWriterOptions{}.preset;  // x264 speed preset: ultrafast .. veryslow
  TrackerOptions tracker;
  CropOptions crop;        // size is taken from the model
  BlendOptions blend;
  bool strict = false;     // a frame without a face is an error
  bool quiet = false;      // no progress bar
};

struct GenerateSummary {
  std::string outfile, model, precision;
  int64_t frames = 0, frames_with_face = 0;
  int64_t held_frames = 0;     // the last ones, showing a video's last frame: it ended before its header said
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
// shot's first crop (the very first, itself), and from `near_lag` frames in
// the oldest crop at least that far back posed like the frame (as below):
// the first crop's head posed otherwise drew a smear of two mouths over the
// first second (models/README.md, session 43). The model was trained with
// references from other moments of the clip: the frame itself would hand it
// the original mouth to copy.
//
// With `choice` > 0 the reference is picked among the shot's crops from
// `lag` to `lag + choice` frames before: the one whose mouth opening ranks
// among them as the speech's loudness at this frame ranks in the whole
// audio (a loud frame gets the most open mouth, silence the most closed).
// The generator partly copies its reference's mouth (models/README.md),
// so this hands it a mouth that suits the speech. Only candidates whose
// head is posed within kPoseTolerance (mean landmark distance, in crop
// sides) of the nearest one's take part: the generator also copies the
// reference's pose and what surrounds the face (a reference turned another
// way painted hair over a cheek). When even the nearest is posed more than
// kFarPose away (a head turned or nodded quickly, so no crop lag frames back
// is posed alike), the crops from `near_lag` frames back (0 = none of this) take
// part too, if one of them is posed nearer, and when none is posed within
// kFarPose either (the head still turning), the frame's own crop is the
// reference: the generator then draws one mouth (for those few frames
// partly the original one), not a smear of the reference's and the frame's
// (models/README.md, session 29).
class ReferenceHistory {
 public:
  explicit ReferenceHistory(size_t lag, size_t choice = 0, size_t near_lag = 0)
      : lag_(lag), choice_(choice), near_lag_(near_lag) {}
  // crop (3, S, S), its mouth opening, the speech's loudness rank in [0, 1],
  // its pose (the landmarks that do not move with speech, in crop sides; empty = unknown),
  // the same crop at a higher resolution (any image; may be empty) -> reference (3, S, S)
  torch::Tensor next(int64_t segment, const torch::Tensor& crop, double opening = 0, double loudness_rank = 0,
                     const std::vector<cv::Point2f>& pose = {}, const cv::Mat& sharp = {});
  // The `sharp` image given with the crop that the last next() returned.
  const cv::Mat& sharp() const { return sharp_; }
  void reset() { recent_.clear(); }  // the face was lost

 private:
  static constexpr double kHold = 0.1;  // rank gap within which the previous choice is kept
  // 1% of the crop's side: on the 9 unseen vox faces LMD/IOD -14%, PSNR +0.65 dB,
  // dubbing sync unchanged; tighter leaves too few mouths to choose from
  // (models/README.md, session 17).
  static constexpr double kPoseTolerance = 0.01;
  // 5% of the crop's side: on the 14 real clips of the data it takes 5% of
  // the frames, in runs during head movements; 3% took more and cost sync
  // (models/README.md, session 29).
  static constexpr double kFarPose = 0.05;
  struct Crop {
    torch::Tensor crop;
    double opening;
    std::vector<cv::Point2f> pose;
    int64_t number;  // counts the crops seen
    cv::Mat sharp;
  };
  torch::Tensor take(size_t i);  // recent_[i] is the reference
  size_t lag_, choice_, near_lag_;
  int64_t segment_ = -1, count_ = 0, chosen_ = -1;
  std::deque<Crop> recent_;  // the last lag + choice + 1 crops of the shot
  cv::Mat sharp_;
};

// How far recorded speech asks a mouth to open at each frame, 0..1 (a
// photo's least opening; where a video's crops put the chin, crop_transform),
// from its loudness at the frames (frame_loudness of the mel at the model's
// speech level): 0 up to the speech's 10th percentile, rising to 1 at its
// 90th (over at least 12.5 dB: a steady noise stays near 0), and 0 where the
// audio is near the mel's floor (digital silence).
std::vector<float> speech_opening(const std::vector<float>& loudness);

// Rank of each value among all of them, in [0, 1] (0 = the smallest; ties
// share their mean rank).
std::vector<double> ranks(const std::vector<float>& values);

GenerateSummary generate(const GenerateOptions& opt);

}  // namespace stf
