// `synctalkface eval`: re-generates clips from their own audio and scores
// the result against the real frames (PSNR, SSIM on the face crop; mouth
// landmark distance), next to a "reference copy" baseline and the real clip
// itself as the ceiling.
#pragma once
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "stf/face.h"

namespace stf {

struct EvalOptions {
  std::vector<std::string> clips;  // videos with their own speech
  std::string model;               // empty = the bundled model
  std::string baseline;            // optional second model, scored in the same table
  std::string sync;                // SyncNet for LSE-D*/LSE-C*; empty = the bundled one
  std::string mode = "reconstruct";  // or "dub": driven by other speech, sync metrics only; or "sync":
                                     // reconstruct with the own speech and with it shifted by audio_shift
  bool still = false;              // the generators get the clip's most closed-mouthed frame as a photo
  std::string dub_audio;           // dub: this speech for every clip (default: the next clip's audio)
  double audio_shift = 0;          // seconds the driving audio is delayed (a sync sanity check; in sync
                                   // mode only the "_shifted" systems' audio)
  double ref_lag = 1.0;            // generate's reference lag (seconds; 0 = each frame is its own reference)
  double ref_choice = 2;           // generate's reference choice (seconds)
  double guidance_scale = 3;       // generate's audio guidance
  TrackerOptions tracker;
  int score_smooth = -1;           // smoothing radius of the landmarks the scores read (real clip, outputs,
                                   // the speaker's face; the reference copy is pasted and, with `still`,
                                   // the photo chosen by the real clip's); -1 = tracker.smooth_radius.
                                   // The generators track with tracker's
  CropOptions crop;                // size is the model's
  BlendOptions blend;              // paste-back of the model's and the reference copy's faces
  int batch = 16;
  std::string precision = "fp32";  // the generators' number format (generate's --precision)
  bool quiet = false;
};

// Face crops of a few frames of one clip, a row per system (real, reference
// copy, model, baseline), for the report.
struct ClipStrip {
  std::string clip;
  cv::Mat image;  // BGR
};

// {"systems": {name: {"clips": [{clip, frames, psnr, ssim, lmd, lmd_norm, mouth_corr, lse_d, lse_c,
//                                 offset [, lmd_truth]}], "mean": {...}, "median": {...}}},
// mouth_corr: Pearson correlation over the clip between the real and the
// shown frames' mouth opening (metrics.h): does the mouth open and close
// when the real one does, whatever the amplitude.
// driver_corr (dub mode, when the driving speech is a video with a face):
// the same correlation between the shown frames and the speaker's real
// mouth at the same times: does the dubbed mouth move as the speaker's did.
//  "skipped": [{clip, reason}], ...}
// Sync mode adds the systems "model_shifted" (and "baseline_shifted"), the
// same generator driven by the speech shifted by audio_shift, and
// "sync": {"model": compare_shift(...), ...}. Dub mode with speech from a
// video adds "speaker_r": {"model": compare_chance(...), ...}.
// lmd_truth: on clips with exact ground-truth landmarks beside them
// (NAME.landmarks.json, as `synth` writes), the mean mouth-landmark distance
// of each system's frames to that truth, divided by the inter-ocular distance.
// With `strips`, also returns the frame strips of every evaluated clip.
nlohmann::json evaluate(const EvalOptions& opt, std::vector<ClipStrip>* strips = nullptr);

// Sets a system's "mean" and "median" of each metric over its "clips" that
// have it. The mean leaves out infinite values ("inf": the PSNR of identical
// frames) unless all are; the median counts them as the largest. The median
// is what one clip with a failed tracking (vox/00002 before the fit check,
// models/README.md) cannot drag.
void summarize_clips(nlohmann::json& system);

// The sync check of one generator from its systems' "clips" with the own
// and with the shifted speech, paired by clip: {"clips": [{clip, own,
// shifted, lower_by}], "own", "shifted" (mean LMD/IOD over the paired clips),
// "lower_by" (1 - own / shifted of those means), "interval95" ([lo, hi],
// bootstrap_interval of lower_by over the clips), "closer" (clips where own
// is lower)}.
nlohmann::json compare_shift(const nlohmann::json& own, const nlohmann::json& shifted);

// Dub mode, when the speech comes from a video with a face: one generator's
// SpeakerR (driver_corr) against the chance level, the "real" system's (the
// clip's own mouth, which ignores the speech), paired by clip: {"clips",
// "speaker_r" (mean), "interval95", "chance" (mean), "above_chance" (mean
// difference), "above_chance_interval95"}, intervals as bootstrap_interval.
nlohmann::json compare_chance(const nlohmann::json& shown, const nlohmann::json& real);

// Whether the tables of `results` (what evaluate() returns) show the
// medians next to the means: with 3 clips or more.
bool shows_medians(const nlohmann::json& results);

}  // namespace stf
