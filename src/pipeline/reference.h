// The reference image that generate hands the model with each video frame:
// a crop of the same face from the shot's past, posed as the frame is and
// chosen by the speech.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <opencv2/core.hpp>
#include <torch/torch.h>
#include <vector>

#include "stf/face.h"

namespace stf {

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

// The head's pose in its crop: the landmarks that do not move with speech
// (jaw above the chin, nose, eyes), in crop coordinates over the crop's side.
std::vector<cv::Point2f> pose_points(const Landmarks& lm, const cv::Matx23f& to_crop, int S);

}  // namespace stf
