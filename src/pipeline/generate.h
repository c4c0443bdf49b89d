// The streaming generate pipeline: decode -> track -> model -> blend ->
// encode, three threads joined by bounded queues, so memory does not grow
// with the length of the video.
#pragma once
#include <cstdint>
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
