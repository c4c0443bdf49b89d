#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "stf/face.h"

namespace stf {

namespace {

// Square of side `side` centred at c, rotated by `angle` (radians), mapped
// onto a size x size crop.
cv::Matx23f square_transform(cv::Point2f c, float side, float angle, int size) {
  const float s = size / side;
  const float cs = std::cos(angle) * s, sn = std::sin(angle) * s;
  // crop = R(-angle) * s * (p - c) + size / 2
  return cv::Matx23f(cs, sn, -cs * c.x - sn * c.y + size / 2.0f,
                     -sn, cs, sn * c.x - cs * c.y + size / 2.0f);
}

// `box` in the frame turned by -angle (the face levelled), padded, squared,
// its centre turned back.
cv::Matx23f padded_square(cv::Rect2f box, float angle, const CropOptions& opt) {
  const auto& [top, bottom, left, right] = opt.pads;
  float x0 = box.x - left, x1 = box.x + box.width + right;
  float y0 = box.y - top, y1 = box.y + box.height + bottom;
  float side = std::max({x1 - x0, y1 - y0, 4.0f});
  const cv::Point2f c((x0 + x1) / 2, (y0 + y1) / 2);
  const float cs = std::cos(angle), sn = std::sin(angle);
  return square_transform({cs * c.x - sn * c.y, sn * c.x + cs * c.y}, side, angle, opt.size);
}

// A head tilted sideways by more than this (the eye line's roll, radians)
// is turned in its crop to this much: the model follows the speech on faces
// rolled up to about 10 degrees as on upright ones and less beyond (the
// demo photo turned so its eyes lie 13 degrees off level opens its mouth
// 82% as wide, at 18 degrees 55%; models/README.md, session 36). The turn
// grows smoothly with the roll, so a video's crops do not jump.
constexpr float kRollKept = float(10 * CV_PI / 180);

// A median face's chin (its lowest point) with the mouth at rest lies
// kRestChin times the height from the eye line to the nose base below the
// nose base (point 33): the median of (lowest point - nose base) / (nose
// base - eye line) over the 5230 frames with a face of the 54 clips in
// models/README.md, session 25. Landmarks of an upright (levelled) face.
constexpr float kRestChin = 1.461f;
float rest_chin(const Landmarks& lm, float below_rest = 0) {
  float eye_y = 0;
  for (int i = 36; i <= 47; ++i) eye_y += lm[i].y / 12.0f;
  return lm[33].y + (kRestChin + below_rest) * std::max(lm[33].y - eye_y, 1.0f);
}

// The landmark box with its bottom at rest_chin. Its left, right and top
// come from the points that do not move with the jaw.
cv::Rect2f steady_bounds(const Landmarks& lm) {
  float x0 = lm[0].x, x1 = x0, y0 = lm[0].y;
  auto take = [&](int i) {
    x0 = std::min(x0, lm[i].x);
    x1 = std::max(x1, lm[i].x);
    y0 = std::min(y0, lm[i].y);
  };
  for (int i = 0; i <= 3; ++i) take(i);     // jaw above the mouth, left
  for (int i = 13; i <= 47; ++i) take(i);  // jaw above the mouth, right; brows, nose, eyes
  return {x0, y0, x1 - x0, std::max(rest_chin(lm) - y0, 1.0f)};
}

// The speech's chin (crop_transform's `speaking`): from kChinSpread / 2
// eye-to-nose heights above rest_chin (a closed mouth: speaking 0) to as far
// below it (speaking 1, the speech's loud syllables), but at most kChinAbove
// of the box's height above the face's own lowest point: the crop reaches
// a tenth of the box's height below its bottom, and beyond the crop the
// paste-back would stretch its last row over the jaw. Chosen with
// scripts/eval_battery.sh among spreads of 0.3 to 1.0 and bounds of 0.04 and
// 0.07 (models/README.md, session 46). Centring it on the face's own usual
// chin, or a frame ahead of the sound, followed a new speaker less (session 47).
constexpr float kChinSpread = 0.5f, kChinAbove = 0.07f;
cv::Rect2f speaking_bounds(const Landmarks& lm, float speaking) {
  cv::Rect2f b = landmark_bounds(lm);
  const float chin = std::max(rest_chin(lm, kChinSpread * (speaking - 0.5f)), b.br().y - kChinAbove * b.height);
  b.height = std::max(chin - b.y, 1.0f);
  return b;
}

}  // namespace

cv::Matx23f crop_transform(const Landmarks& lm, const CropOptions& opt, float speaking) {
  cv::Point2f left(0, 0), right(0, 0);
  for (int i = 36; i <= 41; ++i) left += lm[i] / 6.0f;
  for (int i = 42; i <= 47; ++i) right += lm[i] / 6.0f;
  const float roll = std::atan2(right.y - left.y, right.x - left.x);  // the eye line's, radians
  const float excess = std::max(0.f, std::abs(roll) - kRollKept);
  const float angle = opt.align ? roll : std::copysign(excess, roll);
  Landmarks level = lm;  // turned by -angle: a rolled face's box is then an upright face's
  if (angle != 0) {
    const float cs = std::cos(angle), sn = std::sin(angle);
    for (cv::Point2f& p : level) p = cv::Point2f(cs * p.x + sn * p.y, -sn * p.x + cs * p.y);
  }
  cv::Rect2f b = opt.placement == CropPlacement::steady ? steady_bounds(level)
                 : opt.speech_jaw && speaking >= 0     ? speaking_bounds(level, speaking)
                                                       : landmark_bounds(level);
  // The 68 points stop at the brows; a detector box reaches the forehead.
  // Below, room for a chin that drops when the mouth opens.
  b.y -= 0.15f * b.height;
  b.height *= 1.25f;
  return padded_square(b, angle, opt);
}

cv::Matx23f crop_transform(const cv::Rect2f& box, const CropOptions& opt) {
  return padded_square(box, 0, opt);
}

FaceCrop crop_face(const cv::Mat& frame, const cv::Matx23f& to_crop, int size) {
  FaceCrop out;
  out.to_crop = to_crop;
  const float scale = std::hypot(to_crop(0, 0), to_crop(0, 1));
  if (scale < 0.75f) {
    // Large downscale: sample at native resolution first, then area-average,
    // so the crop does not alias.
    // resize maps native pixel x to (x + 0.5) f - 0.5, so sample native at
    // (crop + 0.5) / f - 0.5 for the two steps to compose to to_crop exactly.
    int native = static_cast<int>(std::lround(size / scale));
    float f = float(size) / native;
    cv::Matx23f up = to_crop * (1.0f / f);
    up(0, 2) += 0.5f / f - 0.5f;
    up(1, 2) += 0.5f / f - 0.5f;
    cv::Mat big;
    cv::warpAffine(frame, big, up, cv::Size(native, native), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    cv::resize(big, out.image, cv::Size(size, size), 0, 0, cv::INTER_AREA);
  } else {
    cv::warpAffine(frame, out.image, to_crop, cv::Size(size, size), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  }
  return out;
}

Landmarks to_crop_space(const Landmarks& lm, const cv::Matx23f& to_crop) {
  Landmarks out;
  for (size_t i = 0; i < lm.size(); ++i) out[i] = cv::Point2f(to_crop * cv::Vec3f(lm[i].x, lm[i].y, 1));
  return out;
}

}  // namespace stf
