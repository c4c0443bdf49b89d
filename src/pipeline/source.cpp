#include "pipeline/source.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <opencv2/imgproc.hpp>
#include <string>
#include <utility>

#include "stf/cancel.h"
#include "stf/error.h"

namespace stf {

cv::Size shrunk_size(int width, int height, double resize_factor) {
  return {static_cast<int>(width / resize_factor), static_cast<int>(height / resize_factor)};
}

namespace {

struct StopReading {};  // enough frames were read

// A decoded frame shrunk by --resize-factor, as every pass reads it.
void shrink(cv::Mat& frame, double resize_factor) {
  if (resize_factor != 1) cv::resize(frame, frame, shrunk_size(frame.cols, frame.rows, resize_factor), 0, 0, cv::INTER_AREA);
}

// A video's frames read again for a loop, as the first pass gave them
// (resized): forward from an open reader; a frame behind the kept window
// reopens the file and reads up to it, keeping the `keep` frames that end
// there (at least 16), so a backward pass decodes the video about frames /
// keep times.
class FrameRereader {
 public:
  FrameRereader(std::string path, double resize_factor, size_t keep)
      : path_(std::move(path)), resize_factor_(resize_factor), keep_(std::max<size_t>(keep, 16)) {}

  const cv::Mat& frame(int64_t j) {
    if (j < first_) reader_.reset();
    if (!reader_) {
      reader_ = std::make_unique<VideoReader>(path_);
      window_.clear();
      first_ = next_ = 0;
    }
    for (cv::Mat f; next_ <= j; ++next_) {
      if (!reader_->read(f)) throw Error(path_ + ": frame " + std::to_string(j) + " did not come back when read again");
      shrink(f, resize_factor_);
      window_.push_back(f);
      if (window_.size() > keep_) window_.pop_front(), ++first_;
    }
    return window_[static_cast<size_t>(j - first_)];
  }

 private:
  std::string path_;
  double resize_factor_;
  size_t keep_;
  std::unique_ptr<VideoReader> reader_;
  std::deque<cv::Mat> window_;  // frames first_ .. next_ - 1
  int64_t first_ = 0, next_ = 0;
};

}  // namespace

void Source::run(BoundedQueue<Item>& out) {
  int64_t i = 0;
  TrackedFrame last;
  auto emit = [&](const TrackedFrame& tf) {
    if (!tf.face.found && opt_.strict)
      throw Error(opt_.face + ": no face in frame " + std::to_string(tf.index) + " (--strict)");
    if (loop_) {
      cache_.push_back(tf);
      cached_bytes_ += double(tf.frame.total() * tf.frame.elemSize());
      if (cached_bytes_ > opt_.loop_memory_mb * (1 << 20))  // over the budget: the pictures are read again
        for (auto c = cache_.rbegin(); c != cache_.rend() && !c->frame.empty(); ++c) c->frame = cv::Mat();
    }
    last = tf;
    if (i >= outputs_) throw StopReading{};
    if (!out.push(item(i++, tf))) throw StopReading{};
  };
  try {
    TrackedFrame tf;
    for (cv::Mat frame; reader_.read(frame);) {
      check_cancelled();
      shrink(frame, opt_.resize_factor);
      tracker_.push(frame);
      while (tracker_.pop(tf)) emit(tf);
    }
    tracker_.finish();
    while (tracker_.pop(tf)) emit(tf);
  } catch (const StopReading&) {
  }
  std::unique_ptr<FrameRereader> again;
  for (; i < outputs_ && !cache_.empty(); ++i) {
    check_cancelled();
    const int64_t n = static_cast<int64_t>(cache_.size());
    TrackedFrame tf = cache_[looped_frame(i, n, opt_.loop)];
    if (tf.frame.empty()) {
      const double bytes = std::max(1.0, cached_bytes_ / double(n));
      if (!again) again = std::make_unique<FrameRereader>(opt_.face, opt_.resize_factor,
                                                          size_t(opt_.loop_memory_mb * (1 << 20) / bytes));
      tf.frame = again->frame(tf.index);
    }
    if (!out.push(item(i, tf))) break;
  }
  // A video that ends before the length its header states (a truncated
  // file): its last frame stays to the end of the audio.
  for (; i < outputs_ && !last.frame.empty(); ++i, ++held_) {
    check_cancelled();
    if (!out.push(item(i, last))) break;
  }
  out.close();
}

Item Source::item(int64_t i, const TrackedFrame& tf) const {
  Item it;
  it.index = i;
  it.frame = tf.frame;
  it.face = tf.face;
  it.segment = tf.segment;
  it.fade = tf.fade;
  if (tf.face.found)
    it.to_crop = opt_.tracker.fixed_box ? crop_transform(*opt_.tracker.fixed_box, opt_.crop)
                                        : crop_transform(tf.face.landmarks, opt_.crop,
                                                         i < int64_t(speaking_.size()) ? speaking_[size_t(i)] : -1.f);
  return it;
}

}  // namespace stf
