// generate's source stage: decodes the face video, tracks the face, and
// hands each output frame on with its crop, looping the video as long as the
// audio asks (generate.cpp joins the stages).
#pragma once
#include <cstdint>
#include <opencv2/core.hpp>
#include <utility>
#include <vector>

#include "pipeline/bounded_queue.h"
#include "pipeline/generate.h"
#include "stf/face.h"
#include "stf/media.h"

namespace stf {

// A frame's size after --resize-factor: each side divided by it, rounded
// down; the source stage shrinks every frame to exactly this size.
cv::Size shrunk_size(int width, int height, double resize_factor);

// One output frame on its way through the stages.
struct Item {
  int64_t index = 0;   // output frame
  cv::Mat frame;       // may be shared (a photo, a looped frame): never changed in place
  FaceObservation face;
  int64_t segment = 0; // the tracker's shot number
  float fade = 1;      // share of the re-rendered face shown (TrackedFrame::fade)
  cv::Matx23f to_crop;
  cv::Mat generated;   // S x S BGR when the face was found
  cv::Mat silent;      // a photo's crop rendered with silent audio (BlendOptions::keep_frame), else empty
  cv::Mat reference;   // a video frame's reference crop at up to the frame's resolution (sharp_crop), or empty
};

// Source stage: decodes (and tracks) the frames that the output shows, in
// order, each with its crop: placed for the speech's opening at that output
// frame where `speaking` has one (crop_transform). A looped video's frames
// are kept while they fit in --loop-memory; beyond, only their faces are
// kept and the pictures read again (FrameRereader).
class Source {
 public:
  Source(const GenerateOptions& opt, VideoReader& reader, int64_t outputs, bool loop,
         std::vector<float> speaking)
      : opt_(opt), reader_(reader), outputs_(outputs), loop_(loop), speaking_(std::move(speaking)), tracker_(opt.tracker) {}

  void run(BoundedQueue<Item>& out);  // closes `out` when done

  const TrackStats& stats() const { return tracker_.stats(); }
  int64_t held() const { return held_; }  // output frames that repeat a video's last frame

 private:
  Item item(int64_t i, const TrackedFrame& tf) const;

  const GenerateOptions& opt_;
  VideoReader& reader_;
  int64_t outputs_;
  bool loop_;
  std::vector<float> speaking_;
  FaceTracker tracker_;
  std::vector<TrackedFrame> cache_;
  double cached_bytes_ = 0;  // of all frames read, had they been kept
  int64_t held_ = 0;
};

}  // namespace stf
