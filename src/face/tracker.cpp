#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <future>
#include <opencv2/imgproc.hpp>

#include "stf/cancel.h"
#include "stf/error.h"
#include "stf/face.h"
#include "stf/media.h"

namespace stf {

namespace {

float iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  float inter = (a & b).area();
  float uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0;
}

// Grey-level histogram of a thumbnail, L1-normalised: two frames of one shot
// differ little, a cut (or a splice to black) a lot.
cv::Mat thumb_histogram(const cv::Mat& bgr) {
  cv::Mat small, gray, hist;
  cv::resize(bgr, small, cv::Size(64, 36), 0, 0, cv::INTER_AREA);
  cv::cvtColor(small, gray, cv::COLOR_BGR2GRAY);
  const int bins = 32;
  const float range[] = {0, 256};
  const float* ranges[] = {range};
  cv::calcHist(&gray, 1, nullptr, cv::Mat(), hist, 1, &bins, ranges);
  return hist / (64.0 * 36.0);
}

// Picks the face to follow among detections (first detection, or after the
// track was lost).
int select_face(const std::vector<cv::Rect2f>& boxes, const std::string& how, cv::Size frame) {
  if (boxes.empty()) return -1;
  auto centre = [](const cv::Rect2f& r) { return cv::Point2f(r.x + r.width / 2, r.y + r.height / 2); };
  auto nearest_to = [&](cv::Point2f p) {
    int best = 0;
    for (int i = 1; i < int(boxes.size()); ++i)
      if (cv::norm(centre(boxes[i]) - p) < cv::norm(centre(boxes[best]) - p)) best = i;
    return best;
  };
  if (how == "largest") {
    int best = 0;
    for (int i = 1; i < int(boxes.size()); ++i)
      if (boxes[i].area() > boxes[best].area()) best = i;
    return best;
  }
  if (how == "center") return nearest_to(cv::Point2f(frame.width / 2.0f, frame.height / 2.0f));
  if (how.rfind("index:", 0) == 0) {
    // N-th face from the left.
    std::vector<int> order(boxes.size());
    for (int i = 0; i < int(order.size()); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](int a, int b) { return boxes[a].x < boxes[b].x; });
    const char* digits = how.c_str() + 6;
    char* end = nullptr;
    const long n = std::strtol(digits, &end, 10);
    if (end == digits || *end != '\0' || n < 0)
      throw Error("--face-select index:N needs a whole number N from 0 (the leftmost face), not '" + how.substr(6) + "'");
    return n < long(order.size()) ? order[size_t(n)] : -1;
  }
  if (how.rfind("point:", 0) == 0) {
    float x = 0, y = 0;
    if (std::sscanf(how.c_str() + 6, "%f,%f", &x, &y) != 2) throw Error("--face-select point:X,Y needs two numbers");
    for (int i = 0; i < int(boxes.size()); ++i)
      if (boxes[i].contains(cv::Point2f(x, y))) return i;
    return nearest_to(cv::Point2f(x, y));
  }
  throw Error("unknown --face-select '" + how + "'; use largest, center, index:N or point:X,Y");
}

struct RawFrame {
  TrackedFrame tf;      // face.landmarks become the smoothed ones on output
  Landmarks raw{};      // as fitted
  bool raw_found = false;
  bool cut = false;     // a scene cut just before this frame
};

}  // namespace

struct FaceTracker::Impl {
  TrackerOptions opt;
  std::unique_ptr<FaceDetector> detector;
  std::shared_ptr<const LandmarkModel> landmarks;
  std::unique_ptr<FitCheck> fit_check;
  TrackStats stats;
  std::deque<RawFrame> window;  // frames waiting for their future neighbours
  size_t next_out = 0;          // index into window of the next frame to emit
  bool finished = false;

  // Tracking state.
  bool tracking = false;
  Landmarks last{};
  cv::Vec4f box_offset{};  // detector box relative to landmark bounds, from the last detection
  int since_detect = 0;
  cv::Mat last_hist;
  int64_t segment = 0;
  bool cut_seen = false;  // whether the last observe() saw a scene cut
  std::optional<FaceObservation> static_face;

  Impl(const TrackerOptions& o, std::shared_ptr<const LandmarkModel> lm) : opt(o), landmarks(std::move(lm)) {
    if (!opt.fixed_box) detector = make_face_detector(opt.detector);
    if (!opt.fixed_box && opt.check_fit) fit_check = std::make_unique<FitCheck>();
    if (opt.detect_every < 1) throw Error("--detect-every must be at least 1");
    if (opt.smooth_radius < 0) throw Error("--smooth must be 0 or more");
    select_face({cv::Rect2f(0, 0, 1, 1)}, opt.select, {1, 1});  // validates the selector early
  }

  // The box the shape predictor gets when tracking: the last landmark bounds
  // transformed like the last detector box was, so its input stays the kind
  // of box it was trained on.
  cv::Rect2f tracking_box() const {
    cv::Rect2f b = landmark_bounds(last);
    return {b.x + box_offset[0] * b.width, b.y + box_offset[1] * b.height, box_offset[2] * b.width,
            box_offset[3] * b.height};
  }

  void remember_offset(const cv::Rect2f& det, const Landmarks& lm) {
    cv::Rect2f b = landmark_bounds(lm);
    if (b.width < 1 || b.height < 1) return;
    box_offset = {(det.x - b.x) / b.width, (det.y - b.y) / b.height, det.width / b.width, det.height / b.height};
  }

  // A face region with almost no contrast (black, blank) holds no face.
  static bool plausible(const cv::Mat& frame, const cv::Rect2f& box) {
    cv::Rect r = cv::Rect(box) & cv::Rect(0, 0, frame.cols, frame.rows);
    if (r.width < 8 || r.height < 8) return false;
    cv::Mat gray;
    cv::cvtColor(frame(r), gray, cv::COLOR_BGR2GRAY);
    cv::Scalar mean, sd;
    cv::meanStdDev(gray, mean, sd);
    return sd[0] > 6.0;
  }

  // The fit in `box`, or where the check does not confirm it, the first
  // confirmed fit in the box moved by kBoxShift of its width to either side:
  // on a face turned far the shape predictor's fit depends on where the box
  // sits, and the detector's box (centred on the visible head) can give a
  // frontal shape on the cheek where a box nearer the face's front gives the
  // turned one (vox/00002). False where none is confirmed.
  bool fit_in(const cv::Mat& frame, const cv::Rect2f& box, Landmarks& lm) const {
    constexpr float kBoxShift = 0.15f;
    for (float shift : {0.0f, -kBoxShift, kBoxShift}) {
      lm = landmarks->fit(frame, cv::Rect2f(box.x + shift * box.width, box.y, box.width, box.height));
      if (!fit_check || fit_check->confirms(frame, lm)) return true;
    }
    return false;
  }

  // A close-up photo whose face fills the picture: the detectors miss it or
  // box a part of it, while a square over the middle of the picture holds
  // it. Its fit is taken only when the check finds a face over it at the
  // detector's own threshold (at -1 it takes a webcam icon).
  bool fit_close_up(const cv::Mat& frame, cv::Rect2f& box, Landmarks& lm) const {
    if (!fit_check) return false;
    for (float share : {0.8f, 1.0f}) {
      const float side = share * float(std::min(frame.cols, frame.rows));
      box = cv::Rect2f((frame.cols - side) / 2, (frame.rows - side) / 2, side, side);
      lm = landmarks->fit(frame, box);
      if (fit_check->confirms(frame, lm, 0.0)) return true;
    }
    return false;
  }

  FaceObservation observe(const cv::Mat& frame) {
    FaceObservation obs;
    if (opt.static_image && static_face) return *static_face;
    if (opt.fixed_box) {
      const cv::Rect2f& b = *opt.fixed_box;
      if ((b & cv::Rect2f(0, 0, frame.cols, frame.rows)).area() < 0.5f * b.area())
        throw Error("--box " + std::to_string(int(b.y)) + " " + std::to_string(int(b.br().y)) + " " +
                    std::to_string(int(b.x)) + " " + std::to_string(int(b.br().x)) + " (top bottom left right) lies outside the " +
                    std::to_string(frame.cols) + "x" + std::to_string(frame.rows) + " frame");
      obs.landmarks = landmarks->fit(frame, b);
      obs.found = true;
      obs.box = landmark_bounds(obs.landmarks);
      if (opt.static_image) static_face = obs;
      return obs;
    }
    cv::Mat hist = thumb_histogram(frame);
    bool cut = !last_hist.empty() && 0.5 * cv::norm(hist, last_hist, cv::NORM_L1) > opt.cut_threshold;
    last_hist = hist;
    cut_seen = cut;
    if (cut) ++segment;
    if (!tracking || cut || since_detect >= opt.detect_every - 1) {
      std::vector<cv::Rect2f> boxes = detector->detect(frame);
      // Drop boxes mostly outside the frame: the SSD network sometimes
      // reports coordinates far beyond the image on frames it cannot read.
      const cv::Rect2f inside(0, 0, frame.cols, frame.rows);
      auto outside = [&](const cv::Rect2f& b) { return (b & inside).area() < 0.5f * b.area(); };
      boxes.erase(std::remove_if(boxes.begin(), boxes.end(), outside), boxes.end());
      ++stats.detections;
      since_detect = 0;
      // Every box gets its fit; one the check does not confirm holds no face.
      std::vector<cv::Rect2f> kept;
      std::vector<Landmarks> fits;
      for (const cv::Rect2f& b : boxes) {
        Landmarks lm;
        if (fit_in(frame, b, lm)) kept.push_back(b), fits.push_back(lm);
      }
      boxes = kept;
      cv::Rect2f middle;
      Landmarks middle_fit;
      if (boxes.empty() && opt.static_image && fit_close_up(frame, middle, middle_fit))
        boxes = {middle}, fits = {middle_fit};
      int pick = -1;
      if (tracking && !cut) {  // keep following the same person
        float best = 0.2f;
        for (int i = 0; i < int(boxes.size()); ++i)
          if (iou(boxes[i], tracking_box()) > best) best = iou(boxes[i], tracking_box()), pick = i;
      }
      if (pick < 0) {
        // The detectors frame heads differently (a beard, the hair, a turn):
        // of two faces of about one size the larger box need not hold the
        // larger face, so "largest" compares the fitted landmarks.
        std::vector<cv::Rect2f> faces = boxes;
        if (opt.select == "largest")
          for (size_t i = 0; i < faces.size(); ++i) faces[i] = landmark_bounds(fits[i]);
        pick = select_face(faces, opt.select, frame.size());
      }
      if (pick < 0) {
        if (tracking) ++segment;
        tracking = false;
        return obs;
      }
      obs.landmarks = fits[pick];
      remember_offset(boxes[pick], obs.landmarks);
    } else {
      ++since_detect;
      const cv::Rect2f box = tracking_box();
      bool face = plausible(frame, box);
      if (face) face = fit_in(frame, box, obs.landmarks);
      if (!face) {
        tracking = false;
        ++segment;
        return FaceObservation{};
      }
    }
    obs.found = true;
    obs.box = landmark_bounds(obs.landmarks);
    tracking = true;
    last = obs.landmarks;
    if (opt.static_image) static_face = obs;
    return obs;
  }

  // When frame i, without a face, lies between two with one, at most
  // smooth_radius frames each way, at about the same place and with no cut
  // between (the detector missed a face turned a little too far, or blurred
  // by motion): those two frames; else {-1, -1}. Needs the window up to
  // i + smooth_radius.
  std::pair<long, long> short_gap(size_t i) const {
    const long r = opt.smooth_radius;
    long before = -1, after = -1;
    for (long j = long(i) - 1; j >= 0 && j >= long(i) - r; --j)
      if (window[j].raw_found) { before = j; break; }
    for (long j = long(i) + 1; j < long(window.size()) && j <= long(i) + r; ++j)
      if (window[j].raw_found) { after = j; break; }
    const std::pair<long, long> none{-1, -1};
    if (before < 0 || after < 0) return none;
    for (long j = before + 1; j <= after; ++j)
      if (window[j].cut) return none;
    if (iou(landmark_bounds(window[before].raw), landmark_bounds(window[after].raw)) < 0.5f) return none;
    return {before, after};
  }

  // A short gap's landmarks are interpolated between its two ends, so the
  // mouth does not flick back to the original for a frame.
  void bridge(size_t i) {
    RawFrame& me = window[i];
    if (me.raw_found) return;
    const auto [before, after] = short_gap(i);
    if (before < 0) return;
    const float t = float(long(i) - before) / float(after - before);
    for (int k = 0; k < 68; ++k) me.tf.face.landmarks[k] = window[before].raw[k] * (1 - t) + window[after].raw[k] * t;
    me.tf.face.box = landmark_bounds(me.tf.face.landmarks);
    me.tf.face.found = true;
    ++stats.with_face;
  }

  // Around a longer absence in the same shot (the face turned away), the
  // re-rendered face fades out over the r frames before it and in over the r
  // after, instead of switching to the original mouth from one frame to the
  // next. Frames before i are final (emitted); a later one will have a face
  // if it has one or lies in a short gap.
  void fade(size_t i) {
    RawFrame& me = window[i];
    if (!me.tf.face.found) return;
    const long r = opt.smooth_radius;
    bool cut_before = me.cut, cut_after = false;
    for (long d = 1; d <= r; ++d) {
      const long p = long(i) - d, n = long(i) + d;
      const bool lost_before = !cut_before && p >= 0 && !window[p].tf.face.found;
      if (n < long(window.size())) cut_after = cut_after || window[n].cut;
      const bool lost_after = !cut_after && n < long(window.size()) && !window[n].raw_found &&
                              short_gap(size_t(n)).first < 0;
      if (lost_before || lost_after) {
        me.tf.fade = float(d) / float(r + 1);
        return;
      }
      if (p >= 0) cut_before = cut_before || window[p].cut;
    }
  }

  // Centred average over the frames of the same segment within the radius.
  void smooth(size_t i) {
    RawFrame& me = window[i];
    if (!me.tf.face.found || opt.smooth_radius == 0) return;
    const int r = opt.smooth_radius;
    Landmarks sum{};
    int n = 0;
    for (int d = -r; d <= r; ++d) {
      long j = long(i) + d;
      if (j < 0 || j >= long(window.size())) continue;
      const RawFrame& o = window[j];
      if (!o.raw_found || o.tf.segment != me.tf.segment) continue;
      for (int k = 0; k < 68; ++k) sum[k] += o.raw[k];
      ++n;
    }
    for (int k = 0; k < 68; ++k) me.tf.face.landmarks[k] = sum[k] / float(n);
    me.tf.face.box = landmark_bounds(me.tf.face.landmarks);
  }
};

// The landmark model loads (0.7 s here) while the detectors are made (dlib
// decompresses the HOG filters: 0.4 s), on the second core.
FaceTracker::FaceTracker(const TrackerOptions& opt) {
  auto landmarks = std::async(std::launch::async,
                              [&opt] { return std::make_shared<const LandmarkModel>(opt.landmark_model); });
  impl_ = std::make_unique<Impl>(opt, nullptr);
  impl_->landmarks = landmarks.get();
}
FaceTracker::FaceTracker(const TrackerOptions& opt, std::shared_ptr<const LandmarkModel> landmarks)
    : impl_(std::make_unique<Impl>(opt, std::move(landmarks))) {}
FaceTracker::~FaceTracker() = default;

void FaceTracker::push(const cv::Mat& frame) {
  Impl& s = *impl_;
  if (s.finished) throw std::logic_error("FaceTracker::push after finish");
  RawFrame rf;
  rf.tf.index = s.stats.frames++;
  rf.tf.frame = frame;
  rf.tf.face = s.observe(frame);
  rf.raw = rf.tf.face.landmarks;
  rf.raw_found = rf.tf.face.found;
  rf.tf.segment = s.segment;  // frames of one segment may be smoothed together
  rf.cut = s.cut_seen;
  if (rf.raw_found) ++s.stats.with_face;
  s.window.push_back(std::move(rf));
}

void FaceTracker::finish() { impl_->finished = true; }

bool FaceTracker::pop(TrackedFrame& out) {
  Impl& s = *impl_;
  const size_t r = static_cast<size_t>(s.opt.smooth_radius);
  if (s.next_out >= s.window.size()) return false;
  // fade() looks r frames ahead for a gap that short_gap() will not
  // bridge, which looks r further.
  if (!s.finished && s.window.size() <= s.next_out + 2 * r) return false;
  s.smooth(s.next_out);
  s.bridge(s.next_out);
  s.fade(s.next_out);
  out = s.window[s.next_out].tf;
  ++s.next_out;
  while (s.next_out > r) {  // keep r frames of history for the next window
    s.window.pop_front();
    --s.next_out;
  }
  return true;
}

const TrackStats& FaceTracker::stats() const { return impl_->stats; }

FaceObservation find_face(const cv::Mat& image, std::shared_ptr<const LandmarkModel> landmarks) {
  TrackerOptions t;
  t.static_image = true;
  FaceTracker tracker(t, std::move(landmarks));
  tracker.push(image);
  tracker.finish();
  TrackedFrame tf;
  return tracker.pop(tf) ? tf.face : FaceObservation{};
}

void track_video(VideoReader& reader, FaceTracker& tracker,
                 const std::function<void(const TrackedFrame&)>& on_frame) {
  TrackedFrame tf;
  for (cv::Mat frame; reader.read(frame);) {
    check_cancelled();
    tracker.push(frame);
    while (tracker.pop(tf)) on_frame(tf);
  }
  tracker.finish();
  while (tracker.pop(tf)) on_frame(tf);
}

}  // namespace stf
