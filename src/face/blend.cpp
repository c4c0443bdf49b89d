#include <opencv2/imgproc.hpp>
#include <opencv2/photo.hpp>

#include "stf/face.h"

namespace stf {

namespace {

// Jaw line 2..14 pushed 12% away from the nose tip (an opening jaw moves the
// chin down, and the feather must not stop short of the chin), then back
// across just under the nose (31, 33, 35 moved a little toward the upper lip).
std::vector<cv::Point> mask_polygon(const Landmarks& lm, cv::Point2f shift) {
  std::vector<cv::Point> poly;
  const cv::Point2f nose = lm[30];
  for (int i = 2; i <= 14; ++i) poly.emplace_back(nose + (lm[i] - nose) * 1.12f - shift);
  const float gap = 0.25f * (lm[51].y - lm[33].y);
  for (int i : {35, 33, 31}) poly.emplace_back(lm[i] + cv::Point2f(0, gap) - shift);
  return poly;
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

// generated with its chroma (Cr, Cb) moved by the frame's minus its own,
// smoothed by sigma: the generated luminance and fine colour, the frame's
// colour at coarser scales. 8-bit BGR in and out.
cv::Mat match_chroma(const cv::Mat& generated, const cv::Mat& frame, double sigma) {
  cv::Mat g, f;
  cv::cvtColor(generated, g, cv::COLOR_BGR2YCrCb);
  cv::cvtColor(frame, f, cv::COLOR_BGR2YCrCb);
  g.convertTo(g, CV_32FC3);
  f.convertTo(f, CV_32FC3);
  cv::Mat shift = smooth_field(f - g, sigma);
  shift.forEach<cv::Vec3f>([](cv::Vec3f& v, const int*) { v[0] = 0; });  // luminance unchanged
  cv::Mat out;
  cv::Mat(g + shift).convertTo(out, CV_8UC3);
  cv::cvtColor(out, out, cv::COLOR_YCrCb2BGR);
  return out;
}

// paste_back's `silent` path: the frame plus the speech's change
// (generated - silent), its luminance times `gain`, where the silent
// rendering matches the frame at a coarse scale (where the model's softness
// does not count); the generated pixels (plus the gain's part) where it does
// not (a mouth in the frame that the model would render otherwise in
// silence: an open one is far more than 25 grey levels from a closed one).
// All three images 8-bit BGR of the same size.
cv::Mat keep_frame(const cv::Mat& target, const cv::Mat& warped, const cv::Mat& warped_silent, double scale,
                   float gain) {
  cv::Mat frame, gen, silent;
  target.convertTo(frame, CV_32FC3);
  warped.convertTo(gen, CV_32FC3);
  warped_silent.convertTo(silent, CV_32FC3);
  const double sigma = 2.5 * std::max(1.0, scale);  // a few of the crop's pixels seen in the frame
  const cv::Mat w = smooth_field(agreement(smooth_field(frame, sigma), smooth_field(silent, sigma), 25.f), sigma / 2);
  cv::Mat luma;  // of the speech's change, BGR weights of Y
  cv::transform(gen - silent, luma, cv::Matx13f(0.114f, 0.587f, 0.299f));
  cv::Mat out = gen + (gain - 1) * three(luma) + three(w).mul(frame - silent);
  out.convertTo(out, CV_8UC3);
  return out;
}

}  // namespace

cv::Mat lower_face_mask(const Landmarks& lm, const cv::Rect& roi) {
  cv::Mat mask = cv::Mat::zeros(roi.size(), CV_32F);
  std::vector<std::vector<cv::Point>> polys{mask_polygon(lm, cv::Point2f(roi.tl()))};
  cv::fillPoly(mask, polys, cv::Scalar(1.0), cv::LINE_AA);
  // Erode by r, then blur with a kernel of radius r: the feathered edge lies
  // inside the polygon and the mask is exactly 0 outside it.
  int r = static_cast<int>(std::lround(feather_radius(lm)));
  cv::erode(mask, mask, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * r + 1, 2 * r + 1)));
  cv::GaussianBlur(mask, mask, cv::Size(2 * r + 1, 2 * r + 1), r / 2.0, r / 2.0, cv::BORDER_CONSTANT);
  return mask;
}

void paste_back(cv::Mat& frame, const cv::Mat& generated, const cv::Matx23f& to_crop,
                const Landmarks& lm, const BlendOptions& opt, const cv::Mat& silent) {
  cv::Rect roi = cv::boundingRect(mask_polygon(lm, {0, 0}));
  roi = cv::Rect(roi.x - 2, roi.y - 2, roi.width + 4, roi.height + 4) & cv::Rect(0, 0, frame.cols, frame.rows);
  if (roi.empty()) return;
  // Generated crop -> frame pixels of the roi.
  cv::Matx23f back;
  cv::invertAffineTransform(to_crop, back);
  back(0, 2) -= roi.x;
  back(1, 2) -= roi.y;
  // Bicubic: the crop is upscaled (about 3x for a 720p face), and bilinear
  // interpolation blurs it further.
  cv::Mat warped;
  cv::warpAffine(generated, warped, back, roi.size(), cv::INTER_CUBIC, cv::BORDER_REPLICATE);
  cv::Mat mask = lower_face_mask(lm, roi);
  cv::Mat target = frame(roi);
  const double scale = std::sqrt(std::abs(back(0, 0) * back(1, 1) - back(0, 1) * back(1, 0)));

  if (opt.keep_frame && !silent.empty()) {
    cv::Mat warped_silent;
    cv::warpAffine(silent, warped_silent, back, roi.size(), cv::INTER_CUBIC, cv::BORDER_REPLICATE);
    warped = keep_frame(target, warped, warped_silent, scale, opt.motion_gain);
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
    warped = match_chroma(warped, target, 0.06 * cv::norm(lm[14] - lm[2]));
  }

  if ((opt.detail || opt.sharpen > 0) && (silent.empty() || !opt.keep_frame) && scale > 1.2) {
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
    }
    if (opt.sharpen > 0) gen += opt.sharpen * (w.empty() ? own : cv::Mat((cv::Scalar::all(1) - w).mul(own)));
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
    return;
  }
  for (int y = 0; y < roi.height; ++y) {
    const float* m = mask.ptr<float>(y);
    const cv::Vec3b* g = warped.ptr<cv::Vec3b>(y);
    cv::Vec3b* t = target.ptr<cv::Vec3b>(y);
    for (int x = 0; x < roi.width; ++x) {
      if (m[x] <= 0) continue;  // outside the mask: untouched
      for (int c = 0; c < 3; ++c)
        t[x][c] = cv::saturate_cast<uchar>(t[x][c] + m[x] * (float(g[x][c]) - float(t[x][c])));
    }
  }
}

}  // namespace stf
