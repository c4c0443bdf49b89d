#include <algorithm>
#include <limits>
#include <optional>
#include <opencv2/imgproc.hpp>
#include <opencv2/photo.hpp>
#include <opencv2/video/tracking.hpp>

#include "stf/face.h"

namespace stf {

namespace {

// The part of `poly` where (p - origin) . axis <= limit (Sutherland-Hodgman
// against one line).
std::vector<cv::Point2f> clip_half_plane(const std::vector<cv::Point2f>& poly, cv::Point2f origin, cv::Point2f axis,
                                         float limit) {
  std::vector<cv::Point2f> out;
  for (size_t i = 0; i < poly.size(); ++i) {
    const cv::Point2f& a = poly[i];
    const cv::Point2f& b = poly[(i + 1) % poly.size()];
    const float da = (a - origin).dot(axis) - limit, db = (b - origin).dot(axis) - limit;
    if (da <= 0) out.push_back(a);
    if ((da < 0) != (db < 0)) out.push_back(a + (b - a) * (da / (da - db)));  // the edge crosses the line
  }
  return out;
}

// Landmarks first .. end - 1 as a polygon's pixel points (48-60 the outer
// lip contour, 60-68 the inner one, 36-42 and 42-48 the eyes).
std::vector<cv::Point> outline(const Landmarks& lm, int first, int end) {
  return std::vector<cv::Point>(lm.begin() + first, lm.begin() + end);
}

// Jaw line 2..14 pushed 12% away from the nose tip (an opening jaw moves the
// chin down, and the feather must not stop short of the chin), then back
// across just under the nose (31, 33, 35 moved a little toward the upper lip);
// cut at kMouthMargin mouth widths beyond each mouth corner, along the line
// through the corners: speech moves the mouth and the chin, not the cheeks,
// and on a face turned aside the model draws its mouth where a frontal
// face's would be, leaving lip and teeth smears on the near cheek.
constexpr float kMouthMargin = 0.3f;
std::vector<cv::Point> mask_polygon(const Landmarks& lm, cv::Point2f shift) {
  std::vector<cv::Point2f> poly;
  const cv::Point2f nose = lm[30];
  for (int i = 2; i <= 14; ++i) poly.push_back(nose + (lm[i] - nose) * 1.12f);
  const float gap = 0.25f * (lm[51].y - lm[33].y);
  for (int i : {35, 33, 31}) poly.push_back(lm[i] + cv::Point2f(0, gap));
  const float width = static_cast<float>(cv::norm(lm[54] - lm[48]));
  if (width > 0) {
    const cv::Point2f axis = (lm[54] - lm[48]) / width;  // left corner -> right corner
    std::vector<cv::Point2f> cut = clip_half_plane(poly, lm[54], axis, kMouthMargin * width);
    cut = clip_half_plane(cut, lm[48], -axis, kMouthMargin * width);
    if (cut.size() >= 3) poly = cut;  // else landmarks with the mouth outside the jaw line: left uncut
  }
  std::vector<cv::Point> out;
  for (const cv::Point2f& p : poly) out.emplace_back(p - shift);
  return out;
}

float feather_radius(const Landmarks& lm) {
  return std::max(1.0f, 0.06f * static_cast<float>(cv::norm(lm[14] - lm[2])));
}

// exp(-(d / tolerance)^2), d the channel mean of |a - b| (CV_32FC3): 1 where
// they agree, 0 past about 1.7 tolerances apart.
cv::Mat agreement(const cv::Mat& a, const cv::Mat& b, float tolerance) {
  cv::Mat d;
  cv::transform(cv::abs(a - b), d, cv::Matx13f(1 / 3.f, 1 / 3.f, 1 / 3.f));
  cv::Mat agree;
  cv::exp(-d.mul(d) / (tolerance * tolerance), agree);
  return agree;
}

cv::Mat blurred(const cv::Mat& m, double sigma) {
  cv::Mat out;
  cv::GaussianBlur(m, out, cv::Size(), sigma);
  return out;
}

// BGR weights of luminance (Y), for cv::transform.
const cv::Matx13f kLuma(0.114f, 0.587f, 0.299f);

float luma(const cv::Scalar& bgr) {
  return kLuma(0) * float(bgr[0]) + kLuma(1) * float(bgr[1]) + kLuma(2) * float(bgr[2]);
}

// A one-channel weight as three channels.
cv::Mat three(const cv::Mat& w) {
  cv::Mat w3;
  cv::merge(std::vector<cv::Mat>{w, w, w}, w3);
  return w3;
}

// A Gaussian blur by a large sigma, computed at a scale where sigma is 2
// pixels (area-downscaled, blurred, upscaled linearly): for smooth fields,
// at a fraction of the cost.
cv::Mat smooth_field(const cv::Mat& m, double sigma) {
  const double k = std::max(1.0, std::min({sigma / 2, double(m.cols), double(m.rows)}));  // at least 1 x 1
  cv::Mat small, out;
  cv::resize(m, small, cv::Size(), 1 / k, 1 / k, cv::INTER_AREA);
  cv::GaussianBlur(small, small, cv::Size(), sigma / k);
  cv::resize(small, out, m.size(), 0, 0, cv::INTER_LINEAR);
  return out;
}

// 255 inside the outer lip polygon (points 48-59), 0 elsewhere.
cv::Mat lip_mask(cv::Size size, const Landmarks& lm) {
  cv::Mat mask = cv::Mat::zeros(size, CV_8U);
  cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{outline(lm, 48, 60)}, cv::Scalar(255));
  return mask;
}

// The skin between the nose and the mouth (31, 35 down to 51), within img.
cv::Rect skin_rect(const cv::Mat& img, const Landmarks& lm) {
  return cv::Rect(cv::Point(lm[31]), cv::Point(lm[35].x, lm[51].y)) & cv::Rect(0, 0, img.cols, img.rows);
}

// The redrawn lips' colour. The model draws a person's lips paler than they
// are, and the frame's chroma smoothed over the mouth mixes its lips with
// skin and teeth: red lips came out mauve (lips' Cr above the skin's below
// them, real / redrawn: retalking/face5 21.0 / 13.5, face3 10.2 / 6.7, face4
// 8.7 / 3.8; models/README.md, session 45). Where the generated chroma lies
// towards its lips' from its skin's (along the frame's direction from skin
// to lips), the redrawn colour is the frame's lips': lip_share, 0..1. The
// lips' chroma less the skin's must be at least kLipContrast grey levels in
// the frame and 1 in the generated crop; a generated contrast under
// kLipFloor of the frame's counts as that much (the model's colour noise is
// not amplified without end); only within kLipsNear of the mouth's width
// around the frame's lips (the new lips lie near the old).
constexpr float kLipContrast = 3.f;
constexpr float kLipFloor = 0.3f;
constexpr float kLipsNear = 0.2f;
// The generated crop's lip share and the frame's lips' (Cr, Cb); an empty
// share where the lips are not told apart from the skin. gc: the generated
// crop's Y, Cr, Cb (float), f the frame's YCrCb (float), blur the chroma's
// blur (pixels); landmarks in their coordinates.
cv::Mat lip_share(const std::vector<cv::Mat>& gc, const cv::Mat& f, const Landmarks& lm, double blur,
                  cv::Vec2f& frame_lips) {
  const cv::Mat outer = lip_mask(f.size(), lm);
  cv::Mat ring = outer.clone();  // the lips: the outer polygon less the inner one (60-67)
  cv::fillPoly(ring, std::vector<std::vector<cv::Point>>{outline(lm, 60, 68)}, cv::Scalar(0));
  const cv::Rect skin = skin_rect(f, lm);
  if (cv::countNonZero(ring) < 20 || skin.area() < 20) return {};
  const cv::Scalar lips = cv::mean(f, ring), frame_skin = cv::mean(f(skin));
  cv::Vec2f towards(float(lips[1] - frame_skin[1]), float(lips[2] - frame_skin[2]));
  const float contrast = static_cast<float>(cv::norm(towards));
  if (contrast < kLipContrast) return {};
  towards /= contrast;
  const float skin_cr = static_cast<float>(cv::mean(gc[1](skin))[0]), skin_cb = static_cast<float>(cv::mean(gc[2](skin))[0]);
  const cv::Mat along = blurred((gc[1] - skin_cr) * towards[0] + (gc[2] - skin_cb) * towards[1], blur);
  const float generated = static_cast<float>(cv::mean(along, ring)[0]);
  if (generated < 1) return {};
  // Near the lips: 1 up to half of kLipsNear from them, falling to 0 at kLipsNear.
  const float reach = std::max(1.f, kLipsNear * static_cast<float>(cv::norm(lm[54] - lm[48])));
  cv::Mat near;
  cv::distanceTransform(255 - outer, near, cv::DIST_L2, cv::DIST_MASK_PRECISE);
  near = cv::min(cv::max((reach - near) / (0.5f * reach), 0.0), 1.0);
  frame_lips = cv::Vec2f(float(lips[1]), float(lips[2]));
  const cv::Mat share = cv::min(cv::max(along / std::max(generated, kLipFloor * contrast), 0.0), 1.0);
  return share.mul(near);
}

// The model's own colour at scales finer than match_chroma's sigma: a share
// of it, blurred by a fraction of sigma (about 1.5 crop pixels). At the
// default guidance scale it paints thin red and green streaks along the
// lips (retalking/face2 dubbed with speech1.wav, frames 37-39) and purple
// spots on the demo photo's lips; the blur and the share mute those and
// keep the lips' red where the model drew the lips.
constexpr float kFineColour = 0.6f;
constexpr float kFineBlur = 0.4f;
// Luminance difference (grey levels) between generated and frame at which
// the frame's colour still weighs exp(-1), about a third.
constexpr float kSameLuma = 4.f;
// A frame without colour (black-and-white footage, or a tinted one) gets none
// of the model's, which tinted its lips green: its fine colour is taken in
// proportion to how far the frame's own chroma varies over the region (the
// larger standard deviation of Cr and Cb, grey levels), none below
// kGreyFrame, all from kColourFrame. The real clips here: 3.6-21.
constexpr double kGreyFrame = 0.5, kColourFrame = 2.0;

// generated with its chroma (Cr, Cb) taken from the frame where the two
// show the same thing (their luminance, blurred by sigma / 4, agrees: skin
// the model redrew as it was, a photo's kept pixels, which get the frame's
// colour exactly); where the model redrew the mouth, the frame's chroma at
// coarse scales (smoothed by sigma) plus kFineColour of the generated
// chroma's finer structure, blurred: the colour of the new mouth follows
// the new mouth, and the old mouth's finer colour is not left on skin drawn
// over it (retalking/face3 dubbed with speech2.wav, frame 20: a pink patch
// on the chin; retalking/face5: a lipstick ring), and, with redrawn_lips,
// where it drew lips the frame's lips' colour (lip_share). The luminance,
// which draws the mouth, is the generated one. 8-bit BGR in and out,
// landmarks in their coordinates.
cv::Mat match_chroma(const cv::Mat& generated, const cv::Mat& frame, double sigma, const Landmarks& lm,
                     bool redrawn_lips) {
  cv::Mat g, f;
  cv::cvtColor(generated, g, cv::COLOR_BGR2YCrCb);
  cv::cvtColor(frame, f, cv::COLOR_BGR2YCrCb);
  g.convertTo(g, CV_32FC3);
  f.convertTo(f, CV_32FC3);
  std::vector<cv::Mat> gc, fc;
  cv::split(g, gc);
  cv::split(f, fc);
  const cv::Mat d = blurred(cv::abs(gc[0] - fc[0]), sigma / 4);
  cv::Mat same;  // 1 where generated and frame agree in luminance, towards 0 where they differ
  cv::exp(-d.mul(d) / (kSameLuma * kSameLuma), same);
  cv::Scalar mean, spread;
  cv::meanStdDev(f, mean, spread);
  const double colour = std::clamp((std::max(spread[1], spread[2]) - kGreyFrame) / (kColourFrame - kGreyFrame), 0.0, 1.0);
  cv::Vec2f lips;
  const cv::Mat lip = redrawn_lips ? lip_share(gc, f, lm, kFineBlur * sigma, lips) : cv::Mat();
  for (int c = 1; c < 3; ++c) {  // Cr, Cb
    const cv::Mat fine = blurred(gc[c] - smooth_field(gc[c], sigma), kFineBlur * sigma);
    cv::Mat redrawn = smooth_field(fc[c], sigma) + colour * kFineColour * fine;
    if (!lip.empty()) redrawn += lip.mul(lips[c - 1] - redrawn);
    gc[c] = same.mul(fc[c]) + (1 - same).mul(redrawn);
  }
  cv::Mat out;
  cv::merge(gc, out);
  out.convertTo(out, CV_8UC3);
  cv::cvtColor(out, out, cv::COLOR_YCrCb2BGR);
  return out;
}

// paste_back's `silent` path: the frame plus the speech's change
// (generated - silent), its darkening times `gain`, where the silent
// rendering matches the frame at a coarse scale (where the model's softness
// does not count); the generated pixels (plus the gain's part) where it does
// not (a mouth in the frame that the model would render otherwise in
// silence: an open one is far more than 25 grey levels from a closed one).
// A brightening is left as rendered: the model pales the lips it presses
// together (a "p", an "m"), and amplified they turned white (session 39).
// All three images 8-bit BGR of the same size.
cv::Mat keep_frame(const cv::Mat& target, const cv::Mat& warped, const cv::Mat& warped_silent, double scale,
                   float gain) {
  cv::Mat frame, gen, silent;
  target.convertTo(frame, CV_32FC3);
  warped.convertTo(gen, CV_32FC3);
  warped_silent.convertTo(silent, CV_32FC3);
  const double sigma = 2.5 * std::max(1.0, scale);  // a few of the crop's pixels seen in the frame
  const cv::Mat w = smooth_field(agreement(smooth_field(frame, sigma), smooth_field(silent, sigma), 25.f), sigma / 2);
  cv::Mat luma;  // the speech's darkening (negative), 0 where it brightens
  cv::transform(gen - silent, luma, kLuma);
  luma = cv::min(luma, 0.0);
  cv::Mat out = gen + (gain - 1) * three(luma) + three(w).mul(frame - silent);
  out.convertTo(out, CV_8UC3);
  return out;
}

// ---- a photo's mouth opened -------------------------------------------------------
// On a still face the model draws an opening mostly as a darkening between
// the lips, a third of a speaker's opening at most (models/README.md,
// sessions 13-15). keep_frame's path reads that darkening as an opening and
// opens the photo's mouth by it: the upper lip goes up by kUpperLipShare of
// the opening, the lower lip and the skin below it down by the rest, the
// jaw's share fading out towards the chin, and between the lips the
// mouth's inside is painted (models/README.md, sessions 35, 37 and 48):
// dark, the upper teeth under the upper lip once the gap is over 5% of the
// mouth's width, the tongue at the bottom once it is over 15%, the lower
// teeth's tips above the lower lip once it is over 12%.
constexpr float kUpperLipShare = 0.2f;
// darkening_shift: the darkening counted (grey levels); how far off its
// centre may be and still count as on the lips (share of the mouth's width:
// on 16 stills of GRID speakers, faces the model draws well, it lay
// -0.08..+0.15 from the lips' centre, the median distance 0.057), and the
// most the change is moved beyond that.
constexpr float kDarkSeen = 4.f;
constexpr float kDarkScatter = 0.05f;
constexpr float kDarkShift = 0.2f;
// photo_change: a mouth whose half on either side of the lips' middle is
// narrower than this share of its width (a face turned far) is not mirrored.
constexpr float kLeastHalf = 0.25f;
constexpr float kWidestOpening = 0.6f;  // as a share of the mouth's width (a wide "ah" is about 0.5)
constexpr float kGainFade = 0.1f;       // the opening (share of the width) from which motion_gain is 1
                                        // (and at twice which the model's change is gone: blend)
constexpr float kCavity = 0.3f;   // the inside's colour as a share of the lips'
constexpr float kTongue = 0.8f;   // the tongue's, likewise
// The teeth's grey: 1.1 times the skin's luminance, or nine tenths of the eyes'
// whites where they are brighter (dark skin: teeth are white whatever the
// skin). In real open mouths (gap over 15% of the width; five presenters)
// the inside's brightest tenth is 0.9-1.2 times the skin's luminance.
constexpr float kTeeth = 1.1f;
constexpr float kSclera = 0.9f;
constexpr float kTeethHeight = 0.13f;  // the upper teeth's visible height as a share of the mouth's width
// The lower teeth: their tips show above the lower lip in wide openings
// (retalking/face3 and face5 at a gap of 20-27% of the mouth's width show
// about half the upper teeth's height of them, a little darker, across a
// narrower arch): kLowerTeethHeight of the width high at most, kLowerTeeth of
// the upper teeth's brightness, shown from a gap of kLowerTeethFrom of the
// width, in full 10% later; their teeth kLowerArch as wide (the seams).
constexpr float kLowerTeethHeight = 0.08f;
constexpr float kLowerArch = 0.75f;
constexpr float kLowerTeeth = 0.85f;
constexpr float kLowerTeethFrom = 0.12f;
// Where the teeth meet (from the middle, shares of the mouth's width:
// the incisors, then the canines); each line kSeam darker, a hundredth of
// the width wide.
constexpr float kSeams[] = {0.f, 0.16f, 0.28f, 0.38f};
constexpr float kSeam = 0.15f;
// Lips in the photo parted by less than this share of the mouth's width (a
// dark line) get the inside painted over them; from twice that (an open
// mouth, teeth showing) the photo's own inside is kept instead.
constexpr float kOpenInPhoto = 0.06f;
// The jaw drops under the whole mouth: below the lower lip the opening's
// full share moves the skin between the inner corners, and beyond them
// less, down to nothing at kJawReach half-widths from the mouth's middle
// (the lips' gap itself closes at the corners; a jaw that followed it made a
// visible shear in the skin below them on large faces). A raised cosine.
constexpr float kJawReach = 1.45f;
// 1 for a <= 0 down to 0 for a >= 1, a raised cosine between.
float fade(float a) {
  if (a <= 0) return 1;
  if (a >= 1) return 0;
  const float c = std::cos(0.5f * float(CV_PI) * a);
  return c * c;
}
float jaw_share(float q) { return fade((std::abs(q) - 1) / (kJawReach - 1)); }
// Lips rounded (an "oo", a "w": the corners come together) or spread (an
// "ee"): the picture between the corners is squeezed or stretched along the
// mouth, and the pull fades out over kLipReach of the mouth's width beyond
// each corner (inside the blend's mask, which reaches 0.3 beyond them).
constexpr float kLipReach = 0.2f;
// Pixels: an opening or a pull of the lips smaller than this moves nothing.
constexpr float kLeastMove = 0.3f;

// Mean luminance (grey levels) the speech takes off the lips: silent -
// generated over the outer lip polygon. 8-bit BGR images, landmarks in
// their coordinates.
float mouth_darkening(const cv::Mat& generated, const cv::Mat& silent, const Landmarks& lm) {
  const cv::Mat lips = lip_mask(generated.size(), lm);
  return luma(cv::mean(silent, lips) - cv::mean(generated, lips));
}

// The mean colour of the brightest 1/`part` of the pixels of `img` (8-bit
// BGR) inside the polygons (pooled); none where they cover under `least`
// pixels.
std::optional<cv::Scalar> brightest_colour(const cv::Mat& img, const std::vector<std::vector<cv::Point>>& polygons,
                                           size_t part, size_t least) {
  std::vector<std::pair<uchar, cv::Vec3b>> pixels;  // luminance, colour
  for (std::vector<cv::Point> poly : polygons) {
    const cv::Rect r = cv::boundingRect(poly) & cv::Rect(0, 0, img.cols, img.rows);
    if (r.empty()) continue;
    for (cv::Point& p : poly) p -= r.tl();
    cv::Mat inside = cv::Mat::zeros(r.size(), CV_8U), grey;
    cv::fillPoly(inside, std::vector<std::vector<cv::Point>>{poly}, cv::Scalar(255));
    cv::cvtColor(img(r), grey, cv::COLOR_BGR2GRAY);
    for (int y = 0; y < r.height; ++y)
      for (int x = 0; x < r.width; ++x)
        if (inside.at<uchar>(y, x)) pixels.emplace_back(grey.at<uchar>(y, x), img(r).at<cv::Vec3b>(y, x));
  }
  if (pixels.size() < least) return std::nullopt;
  const size_t n = pixels.size() / part;
  std::nth_element(pixels.begin(), pixels.begin() + n, pixels.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  cv::Scalar sum = cv::Scalar::all(0);
  for (size_t i = 0; i < n; ++i) sum += cv::Scalar(pixels[i].second[0], pixels[i].second[1], pixels[i].second[2]);
  return sum / double(n);
}

// The colour of the eyes' whites: the mean of the brightest fifth of the
// pixels inside both eyes' outlines (points 36-41, 42-47; the white is
// about half of the eye seen); 0 where they cover under 12 pixels (a small
// face, closed eyes).
cv::Scalar eye_white(const cv::Mat& frame, const Landmarks& lm) {
  const std::vector<std::vector<cv::Point>> eyes{outline(lm, 36, 42), outline(lm, 42, 48)};
  return brightest_colour(frame, eyes, 5, 12).value_or(cv::Scalar::all(0));
}

// t(s) along a polyline given as (s, t) points sorted by s; constant beyond its ends.
float polyline_at(const std::vector<cv::Point2f>& st, float s) {
  if (s <= st.front().x) return st.front().y;
  for (size_t i = 1; i < st.size(); ++i)
    if (s <= st[i].x) {
      const float f = (s - st[i - 1].x) / std::max(1e-6f, st[i].x - st[i - 1].x);
      return st[i - 1].y + f * (st[i].y - st[i - 1].y);
    }
  return st.back().y;
}

// The mouth's own coordinates: s along the line through the corners (48,
// 54), t across it towards the chin, from the corners' midpoint.
struct MouthAxes {
  cv::Point2f c, u, v;
  float width;
  explicit MouthAxes(const Landmarks& lm) : width(static_cast<float>(cv::norm(lm[54] - lm[48]))) {
    u = (lm[54] - lm[48]) / std::max(1e-3f, width);
    c = (lm[48] + lm[54]) * 0.5f;
    v = cv::Point2f(-u.y, u.x);
    if (v.dot(lm[8] - lm[51]) < 0) v = -v;
  }
  cv::Point2f st(const cv::Point2f& p) const { return cv::Point2f((p - c).dot(u), (p - c).dot(v)); }
  cv::Point2f at(float s, float t) const { return c + s * u + t * v; }
};

// The inner lip contours (60-64 above, 64-67-60 below) as (s, t) points sorted by s.
void inner_lips(const Landmarks& lm, const MouthAxes& m, std::vector<cv::Point2f>& upper, std::vector<cv::Point2f>& lower) {
  upper.clear();
  lower.clear();
  for (int i : {60, 61, 62, 63, 64}) upper.push_back(m.st(lm[i]));
  for (int i : {60, 67, 66, 65, 64}) lower.push_back(m.st(lm[i]));
  auto by_s = [](const cv::Point2f& a, const cv::Point2f& b) { return a.x < b.x; };
  std::sort(upper.begin(), upper.end(), by_s);
  std::sort(lower.begin(), lower.end(), by_s);
}

// How far the photo's own open mouth takes over (0..1): by how far its
// inner lips are apart in the middle (62, 66) across its width. One share
// for the whole mouth: taken per column, the corners (always nearly closed)
// got painted teeth beside a dark open middle, like fangs.
float open_in_photo(const Landmarks& lm, const MouthAxes& m) {
  return std::clamp((m.st(lm[66]).y - m.st(lm[62]).y) / (kOpenInPhoto * std::max(1.f, m.width)) - 1, 0.f, 1.f);
}

// Where a photo's own inside parts as its mouth opens: the share of the gap
// between its lips (0 at the upper lip, 1 at the lower) whose row, over the
// middle half of the inner lips' width, is darkest, and darker than the
// rows' mean by kDarkerRow (between upper and lower teeth, or above lower
// teeth alone); 1 (the inside moves with the upper lip: upper teeth, the
// usual ones to show) where no row is. The lip edges (the outer kEdgeRows)
// are left out: shadowed lines on either, which of them is darker changes
// from frame to frame.
constexpr float kEdgeRows = 0.15f, kDarkerRow = 0.2f;
float parting_row(const cv::Mat& img, const MouthAxes& m, const std::vector<cv::Point2f>& upper,
                  const std::vector<cv::Point2f>& lower) {
  const float s_mid = (upper.front().x + upper.back().x) / 2, half = (upper.back().x - upper.front().x) / 2;
  constexpr int kRows = 16, kColumns = 9;
  float best = 1, least = std::numeric_limits<float>::max(), sum = 0;
  int rows = 0;
  for (int i = 0; i <= kRows; ++i) {
    const float r = float(i) / kRows;
    if (r < kEdgeRows || r > 1 - kEdgeRows) continue;
    float row = 0;
    for (int j = 0; j < kColumns; ++j) {
      const float s = s_mid + half * (float(j) / (kColumns - 1) - 0.5f);
      const float t_up = polyline_at(upper, s), t_lo = std::max(t_up, polyline_at(lower, s));
      cv::Mat pixel;
      cv::getRectSubPix(img, cv::Size(1, 1), m.at(s, t_up + r * (t_lo - t_up)), pixel);
      row += luma(cv::mean(pixel)) / kColumns;
    }
    sum += row;
    ++rows;
    if (row < least) least = row, best = r;
  }
  return rows > 0 && least < (1 - kDarkerRow) * sum / rows ? best : 1.f;
}

// The mean colour of skin_rect.
cv::Scalar skin_colour(const cv::Mat& img, const Landmarks& lm) {
  const cv::Rect above = skin_rect(img, lm);
  return above.empty() ? cv::mean(img) : cv::mean(img(above));
}

// The fine grain of `img` (8-bit BGR) on the skin between nose and mouth:
// the robust spread (median absolute deviation, scaled to a standard
// deviation) of its grey levels less their blur by one pixel. A scanned or
// high-ISO photo has several grey levels of it (the demo photo 3.3), a
// video's face about 1; a painted inside without it looks pasted on.
float skin_grain(const cv::Mat& img, const Landmarks& lm) {
  const cv::Rect above = skin_rect(img, lm);
  if (above.area() < 16) return 0;
  cv::Mat grey, soft;
  cv::cvtColor(img(above), grey, cv::COLOR_BGR2GRAY);
  grey.convertTo(grey, CV_32F);
  cv::GaussianBlur(grey, soft, cv::Size(), 1.0);
  std::vector<float> d;
  for (int y = 0; y < grey.rows; ++y)
    for (int x = 0; x < grey.cols; ++x) d.push_back(std::abs(grey.at<float>(y, x) - soft.at<float>(y, x)));
  std::nth_element(d.begin(), d.begin() + long(d.size() / 2), d.end());
  return 1.4826f * d[d.size() / 2];
}

// A fixed pseudo-random value per pixel position, mean 0 and standard
// deviation 1, correlated over about two pixels as a photo's grain is (the
// sum of four neighbours' uniform values): grain that stays in place from
// frame to frame.
float grain_at(int x, int y) {
  auto uniform = [](int i, int j) {  // mean 0, standard deviation 1
    uint32_t h = uint32_t(i) * 73856093u ^ uint32_t(j) * 19349663u;
    h ^= h >> 13;
    h *= 0x5bd1e995u;
    h ^= h >> 15;
    return (float(h & 0xffffu) / 65535.f - 0.5f) * 3.4641f;
  };
  return 0.5f * (uniform(x, y) + uniform(x + 1, y) + uniform(x, y + 1) + uniform(x + 1, y + 1));
}

// A painted colour with the grain of a face whose skin has `grain` and
// luminance `skin`, at pixel (x, y): the grain in proportion to the colour's
// luminance up to the skin's (it hardly shows in the photos' shadows).
cv::Vec3f grainy(const cv::Vec3f& colour, float grain, float skin, int x, int y) {
  const float lum = kLuma(0) * colour[0] + kLuma(1) * colour[1] + kLuma(2) * colour[2];
  return colour + cv::Vec3f::all(grain * std::min(1.f, lum / std::max(1.f, skin)) * grain_at(x, y));
}

// A painting laid on `target` (8-bit BGR, in place): `colour` (CV_32FC3,
// blurred here by half a pixel: no sharper than the picture) with the
// picture's grain (grainy; the target's pixel (0, 0) lies at `origin` in
// the picture), covering each pixel by `cover` (CV_32F, 0..1). All three
// the same size.
void lay_paint(cv::Mat& target, cv::Mat colour, const cv::Mat& cover, float grain, float skin, cv::Point origin) {
  cv::GaussianBlur(colour, colour, cv::Size(), 0.5);
  for (int y = 0; y < target.rows; ++y)
    for (int x = 0; x < target.cols; ++x) {
      const float g = cover.at<float>(y, x);
      if (g <= 0) continue;
      cv::Vec3b& o = target.at<cv::Vec3b>(y, x);
      const cv::Vec3f c = grainy(colour.at<cv::Vec3f>(y, x), grain, skin, origin.x + x, origin.y + y);
      for (int k = 0; k < 3; ++k) o[k] = cv::saturate_cast<uchar>(o[k] + g * (c[k] - o[k]));
    }
}

// The painted upper teeth's look on a face: their luminance (grey levels)
// and their colour per unit of it: white, in part the light's colour (the
// eyes' whites', else the skin's), a little of the lips' hue, and a little
// warmer than all that (teeth are yellower than eyes' whites), as far as
// the skin has any colour (none in a black-and-white picture, where its
// channels lie within a grey level or two of each other).
constexpr float kColourSkin = 6.f;  // the skin's largest channel difference (grey levels) from which teeth are warmer
struct TeethLook {
  float luminance;
  cv::Vec3f tint;
};
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

// The upper teeth at a point of the mouth's inside, d pixels below the
// upper lip, in a band `band` pixels high, `side` from 1 in the middle to 0
// at the inner corners, `off` pixels from the middle along the mouth of
// width `width`: how much of the point they cover (0..1), and their
// brightness there as a share of TeethLook::luminance (in the upper lip's
// shadow at the top, receding at the sides, the lines where they meet).
float tooth_cover(float d, float band, float side) {
  return std::min(1.f, 1.5f * side) * std::clamp(band - d + 0.5f, 0.f, 1.f);
}
// The lower teeth likewise, d pixels above the lower lip: a narrower arch,
// gone well before the inner corners (the middle six teeth or so).
float lower_tooth_cover(float d, float band, float side) {
  return std::clamp((side - 0.5f) / 0.3f, 0.f, 1.f) * std::clamp(band - d + 0.5f, 0.f, 1.f);
}
float tooth_light(float d, float band, float side, float off, float width) {
  float seam = 1;
  for (float at : kSeams) seam -= kSeam * std::max(0.f, 1 - std::abs(std::abs(off) - at * width) / (0.01f * width));
  return std::clamp(d / (0.3f * band), 0.7f, 1.f) * (0.55f + 0.45f * side) * seam;
}

// The pixels of `img` (8-bit BGR, landmarks in its coordinates) in `box`,
// set to the region that moves (empty, and no pixels, when none does), with
// the mouth opened by h pixels at its middle, less towards the corners (an
// ellipse between the inner corners 60 and 64). Coordinates: s along the
// line through the mouth corners, t across it towards the chin, from the
// corners' midpoint. Each
// column s is moved along t: above the lips' line (the inner lip
// contours 60-64, 64-60) down to the nose base by up to kUpperLipShare h,
// below it by the rest (the gap's ellipse at the lower lip's top edge, the
// jaw's wider profile from its bottom edge, jaw_share) and fading to nothing
// at the chin (landmark 8). A photo's mouth that is already open keeps its
// inside, stretched; a closed one gets the inside painted (kOpenInPhoto).
// The lips are drawn `wider` (a share of the mouth's width, negative:
// narrower) by moving each column's source along s (kLipReach).
cv::Mat open_mouth(const cv::Mat& img, const Landmarks& lm, float h, float wider, const cv::Scalar& white,
                   cv::Rect& box) {
  box = cv::Rect();
  const MouthAxes m(lm);
  const float width = m.width;
  const bool lips_pulled = std::abs(wider) * width >= kLeastMove;
  if ((h < kLeastMove && !lips_pulled) || width < 4) return {};
  const cv::Point2f u = m.u, c = m.c, v = m.v;
  auto st = [&](int i) { return m.st(lm[i]); };
  std::vector<cv::Point2f> upper, lower;  // the inner lip contours as (s, t)
  inner_lips(lm, m, upper, lower);
  const float s_mid = (upper.front().x + upper.back().x) / 2;
  const float half = std::max(1.f, (upper.back().x - upper.front().x) / 2);
  const float t_nose = st(33).y, t_chin = st(8).y;
  const float lip = std::max(1.f, st(57).y - st(66).y);  // the lower lip's height

  const cv::Scalar lip_colour = cv::mean(img, lip_mask(img.size(), lm));
  const cv::Vec3f lips{float(lip_colour[0]), float(lip_colour[1]), float(lip_colour[2])};
  const cv::Scalar skin = skin_colour(img, lm);
  const float skin_luma = luma(skin);
  const TeethLook teeth = teeth_look(skin, lip_colour, white);
  const float teeth_shown = std::clamp((h / width - 0.05f) / 0.1f, 0.f, 1.f);  // in full from 15% of the width
  const float tongue_shown = std::clamp((h / width - 0.15f) / 0.15f, 0.f, 1.f);  // from 15%, in full from 30%
  const float lower_shown = std::clamp((h / width - kLowerTeethFrom) / 0.1f, 0.f, 1.f);
  // The photo's own inside, where its lips are apart, parts at that row: above
  // it moves with the upper lip, below it with the lower lip, and the space
  // between is painted dark (teeth keep their height; stretched, they grew
  // into long bars).
  const float split = parting_row(img, m, upper, lower);
  const float own = open_in_photo(lm, m);
  // The lips' pull (wider): full over the lips, fading out towards the nose
  // and half way down to the chin (below the opened lower lip).
  const float a = width / 2;  // the corners' distance from c
  const float t_top = st(51).y, t_bottom = st(57).y + (1 - kUpperLipShare) * h;
  auto source_s = [&](float s, float t) {
    if (!lips_pulled) return s;
    const float along = std::abs(s) <= a ? s : std::copysign(a, s) * fade((std::abs(s) - a) / (kLipReach * width));
    const float across = t < t_top      ? fade((t_top - t) / std::max(1.f, t_top - t_nose))
                         : t > t_bottom ? fade((t - t_bottom) / std::max(1.f, 0.5f * (t_chin - t_bottom)))
                                        : 1.f;
    return s - wider * along * across;
  };
  // Only pixels within the jaw's (and the pull's) reach and from the nose to
  // the chin move: the rest of the image is left as it is.
  std::vector<cv::Point2f> corners;
  const float reach = lips_pulled ? a + kLipReach * width : 0.f;
  for (float s : {std::min(s_mid - kJawReach * half, -reach), std::max(s_mid + kJawReach * half, reach)})
    for (float t : {t_nose, t_chin}) corners.push_back(c + s * u + t * v);
  box = (cv::boundingRect(corners) + cv::Size(2, 2)) & cv::Rect(0, 0, img.cols, img.rows);
  if (box.empty()) return {};
  cv::Mat map_x(box.size(), CV_32F), map_y(box.size(), CV_32F);  // each box pixel's source in img
  cv::Mat inside(box.size(), CV_32FC3, cv::Scalar::all(0));      // the painted inside's colour
  cv::Mat cover(box.size(), CV_32F, cv::Scalar(0));                // and how much of each pixel it covers
  for (int y = box.y; y < box.br().y; ++y)
    for (int x = box.x; x < box.br().x; ++x) {
      const cv::Point2f p = cv::Point2f(float(x), float(y)) - c;
      const float t = p.dot(v), s = source_s(p.dot(u), t);  // s: where the lips' pull takes the column from
      const float q = (s - s_mid) / half;  // -1 .. 1 between the inner corners
      const float open = std::abs(q) < 1 ? h * std::sqrt(1 - q * q) : 0.f;
      const float t_up = polyline_at(upper, s), t_lo = std::max(t_up, polyline_at(lower, s));
      const float top = t_up - kUpperLipShare * open, bottom = t_lo + (1 - kUpperLipShare) * open;
      float from = t;  // the source pixel's t
      if (t <= top) {
        // moved up by H (1 - (t_up - from) / L) for from in [t_up - L, t_up]: solved for from
        const float H = kUpperLipShare * open, L = std::max(1.f, t_up - t_nose);
        if (H > 0) from = std::clamp((t + H - H * t_up / L) / (1 - H / L), t, t_up);
      } else if (t >= bottom) {
        // moved down: the lower lip's top edge (t_lo) by the gap's share He,
        // its bottom edge (t1) and the skin below by the jaw's Hj, fading to 0
        // at the chin; the source `from` of t solved on each linear piece
        const float He = (1 - kUpperLipShare) * open, Hj = (1 - kUpperLipShare) * h * jaw_share(q);
        const float t1 = t_lo + lip, L = std::max(1.f, t_chin - t1);
        const float k = (Hj - He) / lip;  // over the lip: D(from) = He + k (from - t_lo)
        from = t <= t1 + Hj ? (t - He + k * t_lo) / (1 + k) : std::clamp((t - Hj * t_chin / L) / (1 - Hj / L), t1, t);
      } else {
        // the gap: the photo's own gap opened at its parting row, or the inside painted
        const float r = (t - top) / std::max(1e-3f, bottom - top);  // 0 at the upper lip, 1 at the lower
        const float above = split * (t_lo - t_up), below = (1 - split) * (t_lo - t_up);
        from = t - top < above ? t_up + (t - top) : bottom - t < below ? t_lo - (bottom - t) : t_up + above;
        const float edge = std::min({1.f, t - top + 0.5f, bottom - t + 0.5f});  // anti-aliased lip edges
        // (fading in over the first kLeastMove of the opening: the lips' pull alone paints nothing)
        const float painted = edge * (1 - own) * std::min(1.f, h / kLeastMove);
        // the space opened within the photo's own inside: dark, no teeth
        const float opened = own * std::clamp(std::min(t - top - above, bottom - below - t) + 0.5f, 0.f, 1.f);
        cover.at<float>(y - box.y, x - box.x) = painted + opened;
        const float side = std::sqrt(std::max(0.f, 1 - q * q));  // darker towards the corners
        const float d = t - top;  // from the upper lip
        cv::Vec3f colour = kCavity * lips;
        colour += tongue_shown * std::clamp((r - 0.55f) / 0.3f, 0.f, 1.f) * side * (kTongue * lips - colour);
        // the upper teeth: a band under the upper lip
        const float band = std::min(0.5f * (bottom - top), kTeethHeight * width);
        const float lit = tooth_light(d, band, side, s - s_mid, width) * teeth.luminance;
        const float teeth_here = painted / std::max(1e-6f, painted + opened);
        colour += teeth_here * teeth_shown * tooth_cover(d, band, side) * (lit * teeth.tint - colour);
        // the lower teeth: a lower band above the lower lip, in front of the tongue
        const float d_lo = bottom - t, band_lo = std::min(0.3f * (bottom - top), kLowerTeethHeight * width);
        // (lit from above: none of the upper teeth's shadow under the lip, d = band)
        const float lit_lo =
            kLowerTeeth * tooth_light(band_lo, band_lo, side, (s - s_mid) / kLowerArch, width) * teeth.luminance;
        colour += teeth_here * lower_shown * lower_tooth_cover(d_lo, band_lo, side) * (lit_lo * teeth.tint - colour);
        inside.at<cv::Vec3f>(y - box.y, x - box.x) = colour;
      }
      const cv::Point2f src = c + s * u + from * v;
      map_x.at<float>(y - box.y, x - box.x) = src.x;
      map_y.at<float>(y - box.y, x - box.x) = src.y;
    }
  cv::Mat moved;
  cv::remap(img, moved, map_x, map_y, cv::INTER_CUBIC, cv::BORDER_REPLICATE);
  lay_paint(moved, inside, cover, skin_grain(img, lm), skin_luma, box.tl());
  return moved;
}

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
// Half-widths of the smoothing along the mouth, shares of its width.
constexpr float kSmoothTop = 0.05f, kSmoothRun = 0.1f;

// The teeth's look is open_mouth's until the video has shown its own
// (SeenTeeth), then theirs, as if the first guess were kSeenPrior frames.
constexpr int kSeenPrior = 3;

// paint_teeth's reading of the redrawn mouth in img (8-bit BGR, the
// blended roi, landmarks in its coordinates): column by column (one pixel
// apart along the mouth from s0), the dark inside's top and height,
// smoothed; its extent lo..hi; and how far it shows teeth (0..1).
struct TeethPlan {
  TeethPlan(const Landmarks& lm, const cv::Scalar& skin) : m(lm), skin(skin) {}
  MouthAxes m;
  cv::Scalar skin;
  float s0 = 0;
  std::vector<float> top, run;
  int lo = 0, hi = -1;
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
  auto sample = [&](float s, float t) {  // bilinear, -1 outside the image
    const cv::Point2f p = m.at(s, t);
    const int x = int(std::floor(p.x)), y = int(std::floor(p.y));
    if (x < 0 || y < 0 || x + 1 >= grey.cols || y + 1 >= grey.rows) return -1.f;
    const float fx = p.x - x, fy = p.y - y;
    return (1 - fy) * ((1 - fx) * grey.at<float>(y, x) + fx * grey.at<float>(y, x + 1)) +
           fy * ((1 - fx) * grey.at<float>(y + 1, x) + fx * grey.at<float>(y + 1, x + 1));
  };
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
  // Smoothed along the mouth: the teeth's top edge over kSmoothTop of the
  // mouth's width, their height (half the run) over kSmoothRun, so that
  // their lower edge is one smooth curve, tapering where the inside ends.
  std::vector<float> top_s(n), run_s(n);
  const int rt = std::max(1, int(std::lround(kSmoothTop * m.width))), rr = std::max(1, int(std::lround(kSmoothRun * m.width)));
  for (int i = 0; i < n; ++i) {
    float w = 0, tw = 0, rs = 0;
    for (int j = std::max(0, i - rr); j <= std::min(n - 1, i + rr); ++j) {
      const float near = std::abs(j - i) <= rt ? 1.f : 1e-3f;  // the wider window only where no run is near
      w += near * found[j];
      tw += near * found[j] * top[j];
      rs += run[j];
    }
    top_s[i] = w > 0 ? tw / w : 0;  // w > 0 wherever run_s[i] > 0
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
      const float d = st.y - top_s[i], band = std::min(0.5f * run_s[i], kTeethHeight * m.width);
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

cv::Mat lower_face_mask(const Landmarks& lm, const cv::Rect& roi) {
  // Erode by r, then blur with a kernel of radius r: the feathered edge lies
  // inside the polygon and the mask is exactly 0 outside it. For large faces
  // (r >= 16 px) both run on k x k blocks (k = r / 8), as the erosion's cost
  // grows with r^3 (3 ms at r = 17, 50 ms at 35 here; a 4000 px photo took
  // minutes a frame); the smooth result is scaled back up and cut at the
  // polygon. The blocks are anchored at the frame's origin, so a pixel's
  // value does not depend on the roi, given one that holds the polygon.
  const float r_full = feather_radius(lm);
  const int k = std::max(1, static_cast<int>(r_full / 8));
  auto floor_to = [k](int v) { return (v >= 0 ? v / k : -((-v + k - 1) / k)) * k; };
  const cv::Rect grid(cv::Point(floor_to(roi.x), floor_to(roi.y)),
                      cv::Point(floor_to(roi.br().x + k - 1), floor_to(roi.br().y + k - 1)));
  const std::vector<cv::Point> poly = mask_polygon(lm, cv::Point2f(grid.tl()));
  // The polygon on the blocks' grid, in 1/16 pixels (fillPoly's shift = 4),
  // placed as resize maps pixel centres.
  std::vector<std::vector<cv::Point>> polys{poly};
  const int shift = k > 1 ? 4 : 0;
  if (k > 1)
    for (cv::Point& p : polys[0])
      p = cv::Point(int(std::lround(((p.x + 0.5) / k - 0.5) * 16)), int(std::lround(((p.y + 0.5) / k - 0.5) * 16)));
  cv::Mat mask = cv::Mat::zeros(grid.height / k, grid.width / k, CV_32F);
  cv::fillPoly(mask, polys, cv::Scalar(1.0), cv::LINE_AA, shift);
  const int r = static_cast<int>(std::lround(r_full / k));
  cv::erode(mask, mask, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * r + 1, 2 * r + 1)));
  cv::GaussianBlur(mask, mask, cv::Size(2 * r + 1, 2 * r + 1), r / 2.0, r / 2.0, cv::BORDER_CONSTANT);
  if (k == 1) return mask;
  cv::Mat full, inside = cv::Mat::zeros(grid.size(), CV_8U);
  cv::resize(mask, full, grid.size(), 0, 0, cv::INTER_LINEAR);
  cv::fillPoly(inside, std::vector<std::vector<cv::Point>>{poly}, cv::Scalar(255));
  full.setTo(0, inside == 0);
  return full(roi - grid.tl()).clone();
}

namespace {

// `reference` (a crop at k times the generated crop's resolution) seen in
// the roi (`back`: crop -> roi pixels), moved so that its shapes lie where
// the generated crop draws them: optical flow from the generated crop to the
// reference shrunk to the crop's size, applied to the reference at its own
// resolution (one resampling). The model draws the reference's lips again
// but opened or closed as the speech asks; moved by the flow, the
// reference's lines follow the drawn lips instead of showing them where the
// reference had them. 8-bit BGR.
cv::Mat reference_in_roi(const cv::Mat& generated, const cv::Mat& reference, const cv::Matx23f& back, cv::Size roi) {
  const float k = float(reference.cols) / float(generated.cols);
  cv::Mat g, r;
  cv::cvtColor(generated, g, cv::COLOR_BGR2GRAY);
  cv::resize(reference, r, generated.size(), 0, 0, cv::INTER_AREA);
  cv::cvtColor(r, r, cv::COLOR_BGR2GRAY);
  cv::Mat flow;  // (crop pixels) what the generated crop shows at c, the shrunk reference shows at c + flow(c)
  cv::calcOpticalFlowFarneback(g, r, flow, 0.5, 3, 9, 3, 5, 1.1, 0);
  cv::Matx23f to_crop;
  cv::invertAffineTransform(back, to_crop);
  cv::Mat at(roi, CV_32FC2);  // each roi pixel's crop coordinates, then its reference pixel
  for (int y = 0; y < roi.height; ++y) {
    cv::Vec2f* a = at.ptr<cv::Vec2f>(y);
    for (int x = 0; x < roi.width; ++x)
      a[x] = cv::Vec2f(to_crop(0, 0) * x + to_crop(0, 1) * y + to_crop(0, 2), to_crop(1, 0) * x + to_crop(1, 1) * y + to_crop(1, 2));
  }
  cv::Mat moved;
  cv::remap(flow, moved, at, cv::noArray(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  // Crop coordinate c lies at reference pixel k c; the shrunk reference's
  // pixel i at k i + (k - 1) / 2 (resize's pixel centres).
  const float offset = (k - 1) / 2;
  for (int y = 0; y < roi.height; ++y) {
    cv::Vec2f* a = at.ptr<cv::Vec2f>(y);
    const cv::Vec2f* f = moved.ptr<cv::Vec2f>(y);
    for (int x = 0; x < roi.width; ++x) a[x] = k * (a[x] + f[x]) + cv::Vec2f(offset, offset);
  }
  cv::Mat out;
  cv::remap(reference, out, at, cv::noArray(), cv::INTER_CUBIC, cv::BORDER_REPLICATE);
  return out;
}

// paste_back's reference detail: the scale below which it is taken (in
// crop pixels), and the luminance difference (grey levels, at that scale)
// between the generated face and the reference at which it weighs exp(-1). On
// retalking/face2 and face4 dubbed with speech1.wav, 1 crop pixel and 12
// levels gave faint lip lines; 2.5 and 20 give lip outlines and, where the
// model opened the mouth as the reference had, teeth (models/README.md,
// session 34).
constexpr double kReferenceScale = 2.5;
constexpr float kReferenceTolerance = 20.f;
// Frame pixels per crop pixel under which a video's face is blended on its
// region enlarged to this scale (blend_resized): the model blurs the mouth it
// redraws (lip outlines gone; on a face with bright lipstick a dark blob),
// and blend's detail steps, which bring the outlines back from the frame and
// the reference, work at scales finer than the crop's pixel, which a face
// smaller in the frame than in the crop does not have (models/README.md,
// session 43).
constexpr double kLeastDetailScale = 1.5;

// target (8-bit BGR, in place) moved towards src by the mask (CV_32F, 0..1,
// all three the same size); pixels where it is 0 stay untouched.
void mix_in(cv::Mat& target, const cv::Mat& src, const cv::Mat& mask) {
  for (int y = 0; y < target.rows; ++y) {
    const float* m = mask.ptr<float>(y);
    const cv::Vec3b* g = src.ptr<cv::Vec3b>(y);
    cv::Vec3b* t = target.ptr<cv::Vec3b>(y);
    for (int x = 0; x < target.cols; ++x) {
      if (m[x] <= 0) continue;  // outside the mask: untouched
      for (int c = 0; c < 3; ++c)
        t[x][c] = cv::saturate_cast<uchar>(t[x][c] + m[x] * (float(g[x][c]) - float(t[x][c])));
    }
  }
}

// The landmarks in the coordinates of `roi`, a rectangle of their picture.
Landmarks in_rect(const Landmarks& lm, const cv::Rect& roi) {
  return to_crop_space(lm, cv::Matx23f(1, 0, -float(roi.x), 0, 1, -float(roi.y)));
}

// The mask's bounding box in the frame, 2 pixels wider on each side.
cv::Rect mask_roi(const Landmarks& lm, cv::Size frame) {
  const cv::Rect r = cv::boundingRect(mask_polygon(lm, {0, 0}));
  return cv::Rect(r.x - 2, r.y - 2, r.width + 4, r.height + 4) & cv::Rect(cv::Point(0, 0), frame);
}

// A mouth open in the photo (lips over 2 kOpenInPhoto of its width apart
// in the middle, fading in from kOpenInPhoto) keeps its own inside, teeth
// and all, within the inner lip contour (60-67): the model's darkening
// there smudged the teeth (faces/utk smiles), and the speech's opening
// stretches that inside (open_mouth). 8-bit BGR images, landmarks in their
// coordinates.
void keep_open_inside(cv::Mat& blended, const cv::Mat& photo, const Landmarks& lm) {
  const MouthAxes m(lm);
  const float own = open_in_photo(lm, m);
  if (own <= 0) return;
  cv::Mat cover = cv::Mat::zeros(blended.size(), CV_32F);
  cv::fillPoly(cover, std::vector<std::vector<cv::Point>>{outline(lm, 60, 68)}, cv::Scalar(own));
  cv::GaussianBlur(cover, cover, cv::Size(), std::max(0.5, 0.02 * m.width));
  mix_in(blended, photo, cover);
}

// Whether paste_back takes the keep_frame path: a photo (generate passes its
// silent rendering) with opt.keep_frame; else a video's face, redrawn.
bool keep_frame_path(const BlendOptions& opt, const cv::Mat& silent) { return opt.keep_frame && !silent.empty(); }

// Whether blend runs its detail steps (the frame's texture, the reference's
// lines, sharpening): a video's face (not the keep_frame path) with detail or
// sharpening on. paste_back hands such a face to blend at kLeastDetailScale
// frame pixels per crop pixel or more, the scales those steps work at.
bool detail_steps(const BlendOptions& opt, const cv::Mat& silent) {
  return (opt.detail || opt.sharpen > 0) && !keep_frame_path(opt, silent);
}

// paste_back at the frame's own scale, all but the opening: returns how
// far the keep_frame path reads that the mouth opens, as a share of its
// width (0 off that path), and sets `mask` to the mask over mask_roi.
float blend(cv::Mat& frame, const cv::Mat& generated, const cv::Matx23f& to_crop, const Landmarks& lm,
            const BlendOptions& opt, const cv::Mat& silent, const cv::Mat& reference, cv::Mat& mask) {
  const cv::Rect roi = mask_roi(lm, frame.size());
  if (roi.empty()) return 0;
  // Generated crop -> frame pixels of the roi.
  cv::Matx23f back;
  cv::invertAffineTransform(to_crop, back);
  back(0, 2) -= roi.x;
  back(1, 2) -= roi.y;
  const double scale = std::sqrt(std::abs(back(0, 0) * back(1, 1) - back(0, 1) * back(1, 0)));
  // Bicubic: the crop is upscaled (about 3x for a 720p face), and bilinear
  // interpolation blurs it further.
  cv::Mat warped;
  cv::warpAffine(generated, warped, back, roi.size(), cv::INTER_CUBIC, cv::BORDER_REPLICATE);
  mask = lower_face_mask(lm, roi);
  cv::Mat target = frame(roi);

  const Landmarks in_roi = in_rect(lm, roi);
  float share = 0;  // on the keep_frame path: how far the mouth opens
  if (keep_frame_path(opt, silent)) {
    cv::Mat warped_silent;
    cv::warpAffine(silent, warped_silent, back, roi.size(), cv::INTER_CUBIC, cv::BORDER_REPLICATE);
    const float darkening = mouth_darkening(warped, warped_silent, in_roi);
    if (darkening > 0) share = std::min(kWidestOpening, opt.mouth_open / 100 * darkening);
    // The speech (a text's phonemes, recorded speech's loudness): the mouth opened at least as far as it
    // asks, unless the opening is off.
    if (opt.mouth_open > 0) share = std::max(share, std::min(kWidestOpening, opt.speech_shape.least_open));
    // Where the mouth opens little, the darkening is what shows the speech,
    // amplified by motion_gain; as the opening takes over, the gain falls to
    // 1, and then the model's change itself fades out (from kGainFade to
    // twice that): under a wide opening it only blotched the lips, which the
    // opening moves (the lower lip down onto where the model darkened the gap).
    const float gain = 1 + (opt.motion_gain - 1) * std::clamp(1 - share / kGainFade, 0.f, 1.f);
    const float kept = std::clamp(2 - share / kGainFade, 0.f, 1.f);
    if (kept < 1) cv::addWeighted(warped, kept, warped_silent, 1 - kept, 0, warped);
    warped = keep_frame(target, warped, warped_silent, scale, gain);
    keep_open_inside(warped, target, in_roi);
  } else if (opt.color_match) {
    // Skin just inside the mask edge should match: shift the generated
    // colours by the mean difference over the feather band.
    cv::Mat band = (mask > 0.05f) & (mask < 0.7f);
    if (cv::countNonZero(band) > 20) {
      cv::Scalar diff = cv::mean(target, band) - cv::mean(warped, band);
      cv::Mat shifted;
      warped.convertTo(shifted, CV_32FC3);
      shifted += diff;
      shifted.convertTo(warped, CV_8UC3);
    }
  }
  if (opt.color_match) {
    // The model's colour errors are also local (a green upper lip, blue
    // lips): the chroma moves to the frame's at the scale of about half the
    // mouth's height, while the luminance, which draws the mouth, stays.
    // On the keep_frame path the lips are the photo's own pixels wherever the speech leaves them.
    warped = match_chroma(warped, target, 0.06 * cv::norm(lm[14] - lm[2]), in_roi, !keep_frame_path(opt, silent));
  }

  if (detail_steps(opt, silent)) {
    // The generated crop is upscaled from the model's resolution (96 or 128
    // px) and has lost the skin's fine texture. Where it agrees with the
    // frame at coarse scale (skin, chin, cheeks), add back the frame's own
    // detail (weight w); where it differs (the re-rendered mouth), sharpen
    // it instead: its own detail at the crop's pixel scale, times
    // 1 + opt.sharpen (an unsharp mask).
    const double sigma = 0.6 * scale;  // the crop's pixel seen in the frame
    cv::Mat gen;
    warped.convertTo(gen, CV_32FC3);
    const cv::Mat gen_low = blurred(gen, sigma);
    const cv::Mat own = gen - gen_low;  // the crop's detail at its pixel scale
    cv::Mat w;                          // where the frame's detail is used; none without opt.detail
    if (opt.detail) {
      cv::Mat orig;
      target.convertTo(orig, CV_32FC3);
      const cv::Mat orig_low = blurred(orig, sigma);
      w = three(blurred(agreement(gen_low, orig_low, 12.f), sigma));
      gen += w.mul(orig - orig_low);
      if (opt.reference_detail && !reference.empty()) {
        // The redrawn mouth's detail from the reference crop, at its own
        // (the frame's) resolution: the model draws the reference's lips
        // again, soft and opened or closed as the speech asks, and the lines
        // it blurs away (lip outline, teeth) are the reference's, moved onto
        // the drawn shapes. Where the two still disagree at a few crop
        // pixels' scale (the model drew another shape), none of it is taken.
        const double rs = kReferenceScale * scale;
        cv::Mat ref = reference_in_roi(generated, reference, back, roi.size());
        ref.convertTo(ref, CV_32FC3);
        const cv::Mat ref_coarse = smooth_field(ref, rs), gen_coarse = smooth_field(gen, rs);
        cv::Mat d;  // their luminance difference at that scale (colour matching has moved the generated colours)
        cv::transform(gen_coarse - ref_coarse, d, kLuma);
        cv::exp(-d.mul(d) / (kReferenceTolerance * kReferenceTolerance), d);
        const cv::Mat wr = three(smooth_field(d, rs)).mul(cv::Scalar::all(1) - w);
        gen = gen_coarse + wr.mul(ref - ref_coarse) + (cv::Scalar::all(1) - wr).mul(gen - gen_coarse);
        w += wr;
      }
    }
    if (opt.sharpen > 0) {
      // Luminance only: the crop's colour detail is mostly the model's
      // colour noise (blue and purple specks on lips and teeth).
      cv::Mat luma;
      cv::transform(own, luma, kLuma);
      const cv::Mat own_luma = three(luma);
      gen += opt.sharpen * (w.empty() ? own_luma : cv::Mat((cv::Scalar::all(1) - w).mul(own_luma)));
    }
    gen.convertTo(warped, CV_8UC3);
  }

  if (opt.seamless) {
    cv::Mat hard = mask > 0.5f;
    if (cv::countNonZero(hard) > 0) {
      cv::Mat out;
      cv::Mat region = target.clone();
      cv::seamlessClone(warped, region, hard, cv::Point(roi.width / 2, roi.height / 2), out, cv::NORMAL_CLONE);
      out.copyTo(target, mask > 0);
    }
    return share;
  }
  mix_in(target, warped, mask);
  return share;
}

// blend on the face's region resized by 1 / f, and only the change it makes,
// resized back, added to the frame (which keeps its own pixels elsewhere).
// f > 1, a face seen larger than opt.max_scale frame pixels per crop pixel:
// the frame keeps its own fine detail; the redrawn mouth has none finer than
// the crop's pixel anyway (at full size a 4000 px photo's face made ~65 MB
// float images per step). f < 1, a video's face seen smaller than
// kLeastDetailScale: the region enlarged so that the detail steps have frame
// pixels finer than the crop's to work on.
float blend_resized(cv::Mat& frame, const cv::Mat& generated, const cv::Matx23f& to_crop, const Landmarks& lm,
                    const BlendOptions& opt, const cv::Mat& silent, const cv::Mat& reference, const cv::Rect& roi,
                    double f, cv::Mat& mask) {
  const int margin = static_cast<int>(std::ceil(2 * f));
  const cv::Rect outer = cv::Rect(roi.x - margin, roi.y - margin, roi.width + 2 * margin, roi.height + 2 * margin) &
                         cv::Rect(0, 0, frame.cols, frame.rows);
  const cv::Size small(std::max(1, int(std::lround(outer.width / f))), std::max(1, int(std::lround(outer.height / f))));
  const float fx = float(outer.width) / small.width, fy = float(outer.height) / small.height;
  // The small image's pixel centre i lies at frame coordinate c + f i (as resize maps it).
  const float cx = outer.x + 0.5f * (fx - 1), cy = outer.y + 0.5f * (fy - 1);
  Landmarks small_lm;
  for (int i = 0; i < 68; ++i) small_lm[i] = cv::Point2f((lm[i].x - cx) / fx, (lm[i].y - cy) / fy);
  const cv::Matx23f& m = to_crop;
  const cv::Matx23f small_to_crop(m(0, 0) * fx, m(0, 1) * fy, m(0, 0) * cx + m(0, 1) * cy + m(0, 2),
                                  m(1, 0) * fx, m(1, 1) * fy, m(1, 0) * cx + m(1, 1) * cy + m(1, 2));
  cv::Mat before, after, change;
  cv::resize(frame(outer), before, small, 0, 0, f > 1 ? cv::INTER_AREA : cv::INTER_CUBIC);
  after = before.clone();
  cv::Mat small_mask;
  const float share = blend(after, generated, small_to_crop, small_lm, opt, silent, reference, small_mask);
  cv::subtract(after, before, change, cv::noArray(), CV_16SC3);
  cv::resize(change, change, outer.size(), 0, 0, f > 1 ? cv::INTER_LINEAR : cv::INTER_AREA);
  const cv::Mat outer_mask = lower_face_mask(lm, outer);
  mask = outer_mask(roi - outer.tl());
  cv::Mat target = frame(outer);
  for (int y = 0; y < outer.height; ++y) {
    const float* w = outer_mask.ptr<float>(y);
    const cv::Vec3s* d = change.ptr<cv::Vec3s>(y);
    cv::Vec3b* t = target.ptr<cv::Vec3b>(y);
    for (int x = 0; x < outer.width; ++x) {
      if (w[x] <= 0) continue;  // outside the mask: untouched
      for (int c = 0; c < 3; ++c) t[x][c] = cv::saturate_cast<uchar>(t[x][c] + d[x][c]);
    }
  }
  return share;
}

}  // namespace

float paste_back(cv::Mat& frame, const cv::Mat& generated, const cv::Matx23f& to_crop, const Landmarks& lm,
                 const BlendOptions& opt, const cv::Mat& silent, const cv::Mat& reference, const SeenTeeth& teeth) {
  const cv::Rect roi = mask_roi(lm, frame.size());
  if (roi.empty()) return 0;
  const double scale = 1 / std::sqrt(std::abs(to_crop(0, 0) * to_crop(1, 1) - to_crop(0, 1) * to_crop(1, 0)));
  cv::Mat mask;  // over the roi
  const double f = scale > opt.max_scale                                      ? scale / opt.max_scale
                   : detail_steps(opt, silent) && scale < kLeastDetailScale ? scale / kLeastDetailScale
                                                                              : 1;
  const float share = f != 1 ? blend_resized(frame, generated, to_crop, lm, opt, silent, reference, roi, f, mask)
                             : blend(frame, generated, to_crop, lm, opt, silent, reference, mask);
  // A video: teeth in the redrawn mouth's dark opening, at the frame's resolution.
  const float measured = opt.teeth && !keep_frame_path(opt, silent) ? paint_teeth(frame, lm, teeth) : 0.f;
  const float wider = keep_frame_path(opt, silent) ? opt.speech_shape.wider : 0.f;  // the photo path's
  if (share <= 0 && wider == 0) return measured;
  // The mouth opened last, on the blended frame at its full resolution
  // (after the colour matching, which would give the painted inside the
  // photo's lip colour), under the same mask.
  const Landmarks in_roi = in_rect(lm, roi);
  cv::Rect box;  // what moves, in the roi
  const cv::Mat opened =
      open_mouth(frame(roi), in_roi, share * static_cast<float>(cv::norm(lm[54] - lm[48])), wider,
                 eye_white(frame, lm), box);
  if (opened.empty()) return measured;
  cv::Mat target = frame(box + roi.tl());
  mix_in(target, opened, mask(box));  // the blend's mask (near its edges one made for the box would differ)
  return measured;
}

cv::Point2f darkening_shift(const std::vector<cv::Mat>& spoken, const cv::Mat& silent, const Landmarks& lm) {
  const MouthAxes m(lm);
  const float t_top = m.st(lm[33]).y, t_bottom = m.st(lm[8]).y, half = 0.6f * m.width;
  const std::vector<cv::Point2f> corners = {m.at(-half, t_top), m.at(half, t_top), m.at(-half, t_bottom),
                                            m.at(half, t_bottom)};
  const cv::Rect r = cv::boundingRect(corners) & cv::Rect(0, 0, silent.cols, silent.rows);
  const cv::Moments lips = cv::moments(std::vector<cv::Point2f>(lm.begin() + 48, lm.begin() + 60));
  if (r.empty() || lips.m00 < 1e-3) return {0, 0};
  double sum = 0, sum_t = 0;  // the darkening, and its moment along t
  for (const cv::Mat& img : spoken)
    for (int y = r.y; y < r.y + r.height; ++y)
      for (int x = r.x; x < r.x + r.width; ++x) {
        const cv::Point2f st = m.st(cv::Point2f(float(x), float(y)));
        if (std::abs(st.x) > half || st.y < t_top || st.y > t_bottom) continue;
        const cv::Vec3b g = img.at<cv::Vec3b>(y, x), q = silent.at<cv::Vec3b>(y, x);
        const float d = kLuma(0) * float(q[0] - g[0]) + kLuma(1) * float(q[1] - g[1]) + kLuma(2) * float(q[2] - g[2]);
        if (d <= kDarkSeen) continue;
        sum += d;
        sum_t += d * st.y;
      }
  // Less than a line of it across the mouth: too little to tell.
  if (spoken.empty() || sum < kDarkSeen * m.width * double(spoken.size())) return {0, 0};
  const float centre = m.st(cv::Point2f(float(lips.m10 / lips.m00), float(lips.m01 / lips.m00))).y;
  const float off = float(sum_t / sum) - centre, scatter = kDarkScatter * m.width;
  const float beyond =
      std::clamp(off - std::clamp(off, -scatter, scatter), -kDarkShift * m.width, kDarkShift * m.width);
  return -beyond * m.v;
}

cv::Mat photo_change(const cv::Mat& generated, const cv::Mat& silent, cv::Point2f by, const Landmarks& lm) {
  cv::Mat change, base, out;
  cv::subtract(generated, silent, change, cv::noArray(), CV_32FC3);
  if (by != cv::Point2f(0, 0))  // most photos: the darkening lies on the lips already
    cv::warpAffine(change, change, cv::Matx23f(1, 0, by.x, 0, 1, by.y), change.size(), cv::INTER_LINEAR,
                   cv::BORDER_CONSTANT);
  // The mirror: across the line through the lips' middle, each side's
  // distance from it scaled to the other side's half-width (a face turned a
  // little shows its far half narrower).
  const MouthAxes m(lm);
  const float mid = 0.25f * (m.st(lm[51]).x + m.st(lm[57]).x + m.st(lm[62]).x + m.st(lm[66]).x);
  const float left = mid - m.st(lm[48]).x, right = m.st(lm[54]).x - mid;
  if (std::min(left, right) > kLeastHalf * m.width) {
    cv::Mat map_x(change.size(), CV_32F), map_y(change.size(), CV_32F);
    for (int y = 0; y < change.rows; ++y)
      for (int x = 0; x < change.cols; ++x) {
        const cv::Point2f st = m.st(cv::Point2f(float(x), float(y)));
        const float d = st.x - mid;
        const cv::Point2f from = m.at(mid - d * (d >= 0 ? left / right : right / left), st.y);
        map_x.at<float>(y, x) = from.x;
        map_y.at<float>(y, x) = from.y;
      }
    cv::Mat mirrored;
    cv::remap(change, mirrored, map_x, map_y, cv::INTER_LINEAR, cv::BORDER_CONSTANT);
    change = 0.5 * (change + mirrored);
  }
  silent.convertTo(base, CV_32FC3);
  cv::Mat(base + change).convertTo(out, CV_8UC3);
  return out;
}

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
