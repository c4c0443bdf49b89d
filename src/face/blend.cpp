// paste_back: the generated crop blended back into the frame under the
// lower-face mask, its colour matched to the frame's and its detail restored;
// a photo's mouth opened (mouth_open.cpp) and a video's teeth (teeth.cpp) last.
#include <algorithm>
#include <opencv2/imgproc.hpp>
#include <opencv2/photo.hpp>
#include <opencv2/video/tracking.hpp>

#include "face/mouth.h"
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

cv::Rect mask_roi(const Landmarks& lm, cv::Size frame) {
  const cv::Rect r = cv::boundingRect(mask_polygon(lm, {0, 0}));
  return cv::Rect(r.x - 2, r.y - 2, r.width + 4, r.height + 4) & cv::Rect(cv::Point(0, 0), frame);
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

// even_halves: how much darker than its mirror image a pixel must be, beyond
// the face's light and beyond the frame's own such darkness, for the two to
// get their mean (grey levels, from half of it on; the blotches seen on
// dubbed presenters lie 60-100 below); and the blur the comparison sees (a
// share of the mouth's width).
constexpr float kLopsided = 40.f;
constexpr float kLopsidedBlur = 0.06f;

namespace {

// Luminance (CV_32F) blurred by sigma.
cv::Mat blurred_luma(const cv::Mat& bgr, double sigma) {
  cv::Mat luma;
  cv::transform(bgr, luma, kLuma);
  luma.convertTo(luma, CV_32F);
  cv::GaussianBlur(luma, luma, cv::Size(), sigma);
  return luma;
}

// `luma` (CV_32F) mirrored by `mirror`, each pixel sampled bilinearly at
// full precision (cv::remap rounds the position to 1/32 of a pixel), 0 where
// its mirror image lies beyond the last pixel.
cv::Mat mirrored_luma(const cv::Mat& luma, const LipsMirror& mirror) {
  cv::Mat out(luma.size(), CV_32F);
  for (int y = 0; y < luma.rows; ++y)
    for (int x = 0; x < luma.cols; ++x)
      out.at<float>(y, x) = bilinear(luma, {mirror.map_x.at<float>(y, x), mirror.map_y.at<float>(y, x)}, 0.f);
  return out;
}

// The region around the mouth even_halves works in: an ellipse as wide as
// the mouth (the corners' own creases and shadows left out) and from half
// its width above the corners' line to half below, its outer 30% fading out
// (CV_32F, 0..1); `near`, the skin around it (out to 1.6 times as far, a
// tenth of the width either side of the middle left out), which tells the
// face's light; `across`, each pixel's signed distance from the middle.
void mouth_region(cv::Size size, const LipsMirror& mirror, cv::Mat& region, cv::Mat& near, cv::Mat& across) {
  const MouthAxes& m = mirror.m;
  region.create(size, CV_32F);
  near.create(size, CV_8U);
  across.create(size, CV_32F);
  for (int y = 0; y < size.height; ++y)
    for (int x = 0; x < size.width; ++x) {
      const cv::Point2f st = m.st(cv::Point2f(float(x), float(y)));
      const float d = st.x - mirror.mid;
      const float ds = d / (0.5f * m.width), dt = (st.y - 0.05f * m.width) / (0.5f * m.width);
      const float r = std::sqrt(ds * ds + dt * dt);
      region.at<float>(y, x) = std::clamp((1 - r) / 0.3f, 0.f, 1.f);
      near.at<uchar>(y, x) = r > 1 && r < 1.6f && std::abs(d) > 0.1f * m.width;
      across.at<float>(y, x) = d;
    }
}

// How much darker each pixel of `luma` is than `mirrored` (its mirror
// image), beyond what the face's light from one side makes it: a gradient
// across the face makes a pixel darker than its mirror image in proportion
// to its signed distance d from the middle (`across`), with the slope the
// median of darker / d over `near`. `light`, when given, gets that part.
cv::Mat lopsided(const cv::Mat& luma, const cv::Mat& mirrored, const cv::Mat& across, const cv::Mat& near,
                 cv::Mat* light = nullptr) {
  const cv::Mat darker = mirrored - luma;
  std::vector<float> slopes;
  for (int y = 0; y < luma.rows; ++y)
    for (int x = 0; x < luma.cols; ++x)
      if (near.at<uchar>(y, x)) slopes.push_back(darker.at<float>(y, x) / across.at<float>(y, x));
  float slope = 0;
  if (!slopes.empty()) {
    std::nth_element(slopes.begin(), slopes.begin() + slopes.size() / 2, slopes.end());
    slope = slopes[slopes.size() / 2];
  }
  const cv::Mat from_light = slope * across;
  if (light) *light = from_light;
  return darker - from_light;
}

}  // namespace

cv::Mat even_halves(const cv::Mat& generated, const cv::Mat& frame, const Landmarks& lm) {
  const LipsMirror mirror(lm, generated.size());
  if (!mirror.valid) return generated;
  const double sigma = kLopsidedBlur * mirror.m.width;
  cv::Mat region, near, across, light;
  mouth_region(generated.size(), mirror, region, near, across);
  const cv::Mat luma = blurred_luma(generated, sigma), frame_luma = blurred_luma(frame, sigma);
  const cv::Mat drawn = lopsided(luma, mirrored_luma(luma, mirror), across, near, &light);
  // What the frame itself has on one half (a moustache, a turned face's
  // shading) is not a blotch.
  const cv::Mat own = cv::max(lopsided(frame_luma, mirrored_luma(frame_luma, mirror), across, near), 0);
  cv::Mat take = region.mul(cv::max(cv::min(2 * (drawn - own) / kLopsided - 1, 1), 0));
  // Both halves there get the mean of the two: the darkening, which shows
  // the speech (the model draws an opening darker), stays, at half its
  // depth on either side.
  cv::GaussianBlur(take, take, cv::Size(), 1.0);
  take = 0.5 * cv::max(take, mirror(take));
  cv::Mat out, from;
  generated.convertTo(out, CV_32FC3);
  mirror(generated).convertTo(from, CV_32FC3);
  from -= three(light);  // the mirror image's colour at this side's light
  out += three(take).mul(from - out);
  out.convertTo(out, CV_8UC3);
  return out;
}

float paste_back(cv::Mat& frame, const cv::Mat& generated, const cv::Matx23f& to_crop, const Landmarks& lm,
                 const BlendOptions& opt, const cv::Mat& silent, const cv::Mat& reference, const SeenTeeth& teeth) {
  const cv::Rect roi = mask_roi(lm, frame.size());
  if (roi.empty()) return 0;
  const double scale = 1 / std::sqrt(std::abs(to_crop(0, 0) * to_crop(1, 1) - to_crop(0, 1) * to_crop(1, 0)));
  cv::Mat mask;  // over the roi
  const double f = scale > opt.max_scale                                      ? scale / opt.max_scale
                   : detail_steps(opt, silent) && scale < kLeastDetailScale ? scale / kLeastDetailScale
                                                                              : 1;
  // A video's redrawn mouth evened out first, against the frame's own crop.
  const cv::Mat drawn =
      opt.even_halves && !keep_frame_path(opt, silent)
          ? even_halves(generated, crop_face(frame, to_crop, generated.cols).image, to_crop_space(lm, to_crop))
          : generated;
  const float share = f != 1 ? blend_resized(frame, drawn, to_crop, lm, opt, silent, reference, roi, f, mask)
                             : blend(frame, drawn, to_crop, lm, opt, silent, reference, mask);
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

}  // namespace stf
