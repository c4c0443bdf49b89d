// Painted teeth: their look on a face (a photo's opened mouth, mouth_open.cpp),
// and a video's: upper teeth over the top of the model's dark opening.
#include <algorithm>
#include <optional>
#include <opencv2/imgproc.hpp>

#include "face/mouth.h"
#include "stf/face.h"

namespace stf {

namespace {

// The teeth's grey: 1.1 times the skin's luminance, or nine tenths of the eyes'
// whites where they are brighter (dark skin: teeth are white whatever the
// skin). In real open mouths (gap over 15% of the width; five presenters)
// the inside's brightest tenth is 0.9-1.2 times the skin's luminance.
constexpr float kTeeth = 1.1f;
constexpr float kSclera = 0.9f;
// Where the teeth meet (from the middle, shares of the mouth's width:
// the incisors, then the canines); each line kSeam darker, a hundredth of
// the width wide.
constexpr float kSeams[] = {0.f, 0.16f, 0.28f, 0.38f};
constexpr float kSeam = 0.15f;
constexpr float kColourSkin = 6.f;  // the skin's largest channel difference (grey levels) from which teeth are warmer

}  // namespace

TeethLook teeth_look(const cv::Scalar& skin, const cv::Scalar& lips, const cv::Scalar& white) {
  const cv::Scalar light = luma(white) > 0 ? white : skin;
  auto vec = [](const cv::Scalar& c) { return cv::Vec3f(float(c[0]), float(c[1]), float(c[2])); };
  const double skin_colour = std::max({skin[0], skin[1], skin[2]}) - std::min({skin[0], skin[1], skin[2]});
  const float warm = static_cast<float>(std::min(1.0, skin_colour / kColourSkin));
  return {std::min(235.f, std::max(kTeeth * luma(skin), kSclera * luma(white))),
          (0.35f * cv::Vec3f(1, 1, 1) + 0.55f / std::max(1.f, luma(light)) * vec(light) +
           0.1f / std::max(1.f, luma(lips)) * vec(lips))
              .mul(cv::Vec3f(1, 1, 1) + warm * cv::Vec3f(-0.08f, 0.0f, 0.04f))};
}

float tooth_cover(float d, float band, float side) {
  return std::min(1.f, 1.5f * side) * std::clamp(band - d + 0.5f, 0.f, 1.f);
}
float tooth_light(float d, float band, float side, float off, float width) {
  float seam = 1;
  for (float at : kSeams) seam -= kSeam * std::max(0.f, 1 - std::abs(std::abs(off) - at * width) / (0.01f * width));
  return std::clamp(d / (0.3f * band), 0.7f, 1.f) * (0.55f + 0.45f * side) * seam;
}
float lower_tooth_cover(float d, float band, float side) {
  return std::clamp((side - 0.5f) / 0.3f, 0.f, 1.f) * std::clamp(band - d + 0.5f, 0.f, 1.f);
}

namespace {

// ---- teeth in a video's redrawn mouth ---------------------------------------------
// In a video the model draws an opening the reference frame does not have
// as a dark hole without teeth (retalking/face2 dubbed with speech1.wav: the
// inside's top third at 0.50 of the skin's luminance, the real clip's 0.73;
// models/README.md, session 38). Where the drawn mouth turns dark just under
// the upper lip, the upper teeth are painted over the top of that dark as on
// a photo (open_mouth): a dark run starting lower (under teeth the reference
// detail brought) gets none. Luminance as shares of the skin's:
constexpr float kDarkInside = 0.45f;  // a column's inside: the run below this
// Teeth are at least this bright (real open mouths' brightest tenth between
// the lips: 0.90-1.23; a tongue or lips, darker). TeethObserver takes a
// frame's teeth from its mouth opened by over kOpenToSee of its width.
constexpr float kTeethSeen = 0.8f;
constexpr float kOpenToSee = 0.15f;
// The inside's top must lie within this share of the mouth's width of the
// frame's inner upper lip (the model redraws the upper lip near where it was).
constexpr float kTopAbove = 0.12f, kTopBelow = 0.08f;
// The dark inside must span this share of the frame's inner lips' width;
// its height is read over kMiddle of the mouth's width either side of the middle.
constexpr float kInsideAtLeast = 0.3f;
constexpr float kMiddle = 0.15f;
constexpr float kTeethFrom = 0.07f;  // teeth show from that height (measure_teeth)
// Half-width of the run's smoothing along the mouth, a share of its width;
// the top's arc is fitted to columns whose run is at least kArcRun of it.
constexpr float kSmoothRun = 0.1f, kArcRun = 0.03f;

// The teeth's look is open_mouth's until the video has shown its own
// (SeenTeeth), then theirs, as if the first guess were kSeenPrior frames.
constexpr int kSeenPrior = 3;

// Least squares y = a + b x + c x^2 through the points, then again without
// those further than twice the residuals' RMS (plus half a pixel) from it;
// none from under 5 points.
std::optional<cv::Vec3d> fit_arc(const std::vector<float>& x, const std::vector<float>& y) {
  std::vector<size_t> use(x.size());
  for (size_t k = 0; k < use.size(); ++k) use[k] = k;
  cv::Vec3d c;
  for (int pass = 0; pass < 2; ++pass) {
    if (use.size() < 5) return std::nullopt;
    cv::Mat A(int(use.size()), 3, CV_64F), b(int(use.size()), 1, CV_64F), sol;
    for (size_t r = 0; r < use.size(); ++r) {
      const double xr = x[use[r]];
      A.at<double>(int(r), 0) = 1;
      A.at<double>(int(r), 1) = xr;
      A.at<double>(int(r), 2) = xr * xr;
      b.at<double>(int(r)) = y[use[r]];
    }
    cv::solve(A, b, sol, cv::DECOMP_SVD);
    c = cv::Vec3d(sol.at<double>(0), sol.at<double>(1), sol.at<double>(2));
    if (pass == 1) break;
    auto off = [&](size_t k) { return std::abs(y[k] - (c[0] + c[1] * x[k] + c[2] * x[k] * x[k])); };
    double ss = 0;
    for (size_t k : use) ss += off(k) * off(k);
    const double keep_within = 2 * std::sqrt(ss / double(use.size())) + 0.5;
    std::vector<size_t> kept;
    for (size_t k : use)
      if (off(k) <= keep_within) kept.push_back(k);
    use = std::move(kept);
  }
  return c;
}

// paint_teeth's reading of the redrawn mouth in img (8-bit BGR, the
// blended roi, landmarks in its coordinates): column by column (one pixel
// apart along the mouth from s0), the dark inside's top (one arc) and
// height (smoothed); its extent lo..hi; and how far it shows teeth (0..1).
struct TeethPlan {
  TeethPlan(const Landmarks& lm, const cv::Scalar& skin) : m(lm), skin(skin) {}
  MouthAxes m;
  cv::Scalar skin;
  float s0 = 0;
  std::vector<float> top, run;
  int lo = 0, hi = -1;
  float open = 0;   // the run over the mouth's middle (measure_teeth)
  float shows = 0;
};

TeethPlan measure_teeth(const cv::Mat& img, const Landmarks& lm) {
  TeethPlan plan(lm, skin_colour(img, lm));
  const MouthAxes& m = plan.m;
  if (m.width < 8) return plan;
  std::vector<cv::Point2f> upper, lower;
  inner_lips(lm, m, upper, lower);
  const float s_mid = (upper.front().x + upper.back().x) / 2;
  const float half = std::max(1.f, (upper.back().x - upper.front().x) / 2);
  const float dark = kDarkInside * luma(plan.skin);
  cv::Mat grey;
  cv::cvtColor(img, grey, cv::COLOR_BGR2GRAY);
  grey.convertTo(grey, CV_32F);
  auto sample = [&](float s, float t) { return bilinear(grey, m.at(s, t), -1.f); };
  // Each column (one pixel apart in s, over the mouth and a little beyond
  // its inner corners): where the dark inside starts (t) and how far it runs.
  const float s0 = s_mid - 1.3f * half;
  const int n = int(std::ceil(2.6f * half)) + 1;
  std::vector<float> top(n, 0.f), run(n, 0.f), found(n, 0.f);
  for (int i = 0; i < n; ++i) {
    const float s = s0 + float(i), t_up = polyline_at(upper, s);
    const float first = t_up - kTopAbove * m.width, last = t_up + kTopBelow * m.width;
    if (sample(s, first) <= dark) continue;  // dark already above the lip (a moustache, a shadow)
    for (float t = first; t <= last; t += 0.5f) {
      const float g = sample(s, t);
      if (g < 0) break;
      if (g >= dark) continue;
      float end = t;
      while (end < t + 0.6f * m.width && sample(s, end) >= 0 && sample(s, end) < dark) end += 0.5f;
      top[i] = t;
      run[i] = end - t;
      found[i] = 1;
      break;
    }
  }
  // The teeth's top edge: one arc through the inside's tops, as a row of
  // teeth is (fit_arc; a drawn inside's top can be ragged, and teeth that
  // followed it were jagged). Their height's limit, the run, is smoothed
  // over kSmoothRun of the mouth's width, tapering where the inside ends.
  std::vector<float> xs, tops;
  for (int i = 0; i < n; ++i)
    if (found[i] > 0 && run[i] > kArcRun * m.width) xs.push_back((s0 + float(i) - s_mid) / half), tops.push_back(top[i]);
  const std::optional<cv::Vec3d> arc = fit_arc(xs, tops);
  if (!arc) return plan;
  std::vector<float> top_s(n), run_s(n);
  const int rr = std::max(1, int(std::lround(kSmoothRun * m.width)));
  for (int i = 0; i < n; ++i) {
    const double x = (s0 + float(i) - s_mid) / half;
    top_s[i] = float((*arc)[0] + (*arc)[1] * x + (*arc)[2] * x * x);
    float rs = 0;
    for (int j = std::max(0, i - rr); j <= std::min(n - 1, i + rr); ++j) rs += run[j];
    run_s[i] = rs / float(std::min(n - 1, i + rr) - std::max(0, i - rr) + 1);
  }
  int lo = n, hi = -1;  // the drawn inside's extent along the mouth
  for (int i = 0; i < n; ++i)
    if (run_s[i] > 0.05f * m.width) lo = std::min(lo, i), hi = std::max(hi, i);
  // How far the mouth is open: the mean run over its middle (kMiddle of its
  // width either side). Where that is small, the dark elsewhere is a
  // corner's shadow or a smear the model drew, not an opening with teeth.
  float open = 0;
  int counted = 0;
  for (int i = 0; i < n; ++i)
    if (std::abs(s0 + float(i) - s_mid) <= kMiddle * m.width) open += run[i], ++counted;
  open /= float(std::max(1, counted));
  plan.open = open;
  // Shown from kTeethFrom, in full 10% of the width later (as open_mouth's
  // teeth_shown, from a gap of 5%: the dark run reads a soft drawn gap about
  // 2% of the width wider than it is).
  if (hi - lo >= kInsideAtLeast * 2 * half) plan.shows = std::clamp((open / m.width - kTeethFrom) / 0.1f, 0.f, 1.f);
  plan.s0 = s0;
  plan.top = std::move(top_s);
  plan.run = std::move(run_s);
  plan.lo = lo;
  plan.hi = hi;
  return plan;
}

// The teeth of `plan` painted into img `shown` far (0..1; at most
// plan.shows); `mask` (CV_32F, the blend's) in img's coordinates: only
// pixels under it change.
void draw_teeth(cv::Mat& img, const Landmarks& lm, const TeethPlan& plan, float shown, const cv::Mat& mask,
                const cv::Scalar& white, const SeenTeeth& seen) {
  const MouthAxes& m = plan.m;
  const cv::Scalar& skin = plan.skin;
  const std::vector<float>&top_s = plan.top, &run_s = plan.run;
  const float s0 = plan.s0;
  const int lo = plan.lo, hi = plan.hi;
  const float mid = 0.5f * float(lo + hi), reach = std::max(1.f, 0.5f * float(hi - lo));

  TeethLook teeth = teeth_look(skin, cv::mean(img, lip_mask(img.size(), lm)), white);
  if (seen.frames > 0) {  // the video's own teeth, taken over as they are seen
    const float w = float(seen.frames) / float(seen.frames + kSeenPrior);
    teeth.luminance = (1 - w) * teeth.luminance + w * std::min(235.f, seen.share * luma(skin));
    teeth.tint = (1 - w) * teeth.tint + w * seen.tint;
  }
  std::vector<cv::Point2f> corners;  // of the teeth's band, column by column
  for (int i = lo; i <= hi; ++i)
    for (float t : {top_s[i] - 2, top_s[i] + kTeethHeight * m.width + 2}) corners.push_back(m.at(s0 + float(i), t));
  const cv::Rect box = (cv::boundingRect(corners) + cv::Size(2, 2)) & cv::Rect(0, 0, img.cols, img.rows);
  if (box.empty()) return;
  cv::Mat colour(box.size(), CV_32FC3, cv::Scalar::all(0)), cover(box.size(), CV_32F, cv::Scalar(0));
  for (int y = box.y; y < box.br().y; ++y)
    for (int x = box.x; x < box.br().x; ++x) {
      const cv::Point2f st = m.st(cv::Point2f(float(x), float(y)));
      const int i = std::clamp(int(std::lround(st.x - s0)), lo, hi);
      const float q = (float(i) - mid) / reach, side = std::sqrt(std::max(0.f, 1 - q * q));
      // the band: half the middle's run high (kTeethHeight of the width at
      // most), less toward the ends, never past the run
      const float band = std::min(side * std::min(0.5f * plan.open, kTeethHeight * m.width), run_s[i]);
      const float d = st.y - top_s[i];
      colour.at<cv::Vec3f>(y - box.y, x - box.x) =
          tooth_light(d, band, side, st.x - (s0 + mid), m.width) * teeth.luminance * teeth.tint;
      if (std::abs(st.x - s0 - float(i)) > 0.5f) continue;  // beyond the inside's ends
      cover.at<float>(y - box.y, x - box.x) =
          shown * tooth_cover(d, band, side) * std::clamp(d + 0.5f, 0.f, 1.f) * mask.at<float>(y, x);
    }
  cv::Mat target = img(box);
  lay_paint(target, colour, cover, skin_grain(img, lm), luma(skin), box.tl());
}

}  // namespace

float paint_teeth(cv::Mat& frame, const Landmarks& lm, const SeenTeeth& teeth) {
  const cv::Rect roi = mask_roi(lm, frame.size());  // the blend's mask, made again where teeth are painted
  if (roi.empty()) return 0;
  const Landmarks in_roi = in_rect(lm, roi);
  cv::Mat target = frame(roi);
  const TeethPlan plan = measure_teeth(target, in_roi);
  const float shown = std::min(plan.shows, teeth.limit);
  if (shown > 0) draw_teeth(target, in_roi, plan, shown, lower_face_mask(lm, roi), eye_white(frame, lm), teeth);
  return plan.shows;
}

void TeethObserver::observe(const cv::Mat& frame, const Landmarks& lm) {
  const float width = static_cast<float>(cv::norm(lm[54] - lm[48]));
  const float gap = static_cast<float>(cv::norm(lm[61] - lm[67]) + cv::norm(lm[62] - lm[66]) + cv::norm(lm[63] - lm[65])) / 3;
  if (width < 8 || gap < kOpenToSee * width) return;
  const std::optional<cv::Scalar> teeth = brightest_colour(frame, {outline(lm, 60, 68)}, 10, 20);
  if (!teeth) return;
  const float skin = luma(skin_colour(frame, lm)), lum = luma(*teeth);
  if (skin < 1 || lum < kTeethSeen * skin) return;
  share_sum_ += lum / skin;
  for (int k = 0; k < 3; ++k) tint_sum_[k] += (*teeth)[k] / lum;
  ++frames_;
}

SeenTeeth TeethObserver::seen() const {
  SeenTeeth s;
  s.frames = frames_;
  if (frames_ == 0) return s;
  s.share = float(share_sum_ / frames_);
  for (int k = 0; k < 3; ++k) s.tint[k] = float(tint_sum_[k] / frames_);
  return s;
}

}  // namespace stf
