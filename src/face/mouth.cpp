// The mouth's coordinates, colours read off a face, and paint laid on a
// picture: shared by the blend's parts (mouth.h).
#include <algorithm>
#include <optional>
#include <opencv2/imgproc.hpp>

#include "face/mouth.h"

namespace stf {

std::vector<cv::Point> outline(const Landmarks& lm, int first, int end) {
  return std::vector<cv::Point>(lm.begin() + first, lm.begin() + end);
}

const cv::Matx13f kLuma(0.114f, 0.587f, 0.299f);

float luma(const cv::Scalar& bgr) {
  return kLuma(0) * float(bgr[0]) + kLuma(1) * float(bgr[1]) + kLuma(2) * float(bgr[2]);
}

cv::Mat lip_mask(cv::Size size, const Landmarks& lm) {
  cv::Mat mask = cv::Mat::zeros(size, CV_8U);
  cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{outline(lm, 48, 60)}, cv::Scalar(255));
  return mask;
}

cv::Rect skin_rect(const cv::Mat& img, const Landmarks& lm) {
  return cv::Rect(cv::Point(lm[31]), cv::Point(lm[35].x, lm[51].y)) & cv::Rect(0, 0, img.cols, img.rows);
}

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

cv::Scalar eye_white(const cv::Mat& frame, const Landmarks& lm) {
  const std::vector<std::vector<cv::Point>> eyes{outline(lm, 36, 42), outline(lm, 42, 48)};
  return brightest_colour(frame, eyes, 5, 12).value_or(cv::Scalar::all(0));
}

float polyline_at(const std::vector<cv::Point2f>& st, float s) {
  if (s <= st.front().x) return st.front().y;
  for (size_t i = 1; i < st.size(); ++i)
    if (s <= st[i].x) {
      const float f = (s - st[i - 1].x) / std::max(1e-6f, st[i].x - st[i - 1].x);
      return st[i - 1].y + f * (st[i].y - st[i - 1].y);
    }
  return st.back().y;
}

float bilinear(const cv::Mat& img, cv::Point2f p, float outside) {
  const int x = static_cast<int>(std::floor(p.x)), y = static_cast<int>(std::floor(p.y));
  if (x < 0 || y < 0 || x + 1 >= img.cols || y + 1 >= img.rows) return outside;
  const float fx = p.x - x, fy = p.y - y;
  const float* r0 = img.ptr<float>(y);
  const float* r1 = img.ptr<float>(y + 1);
  return (1 - fy) * ((1 - fx) * r0[x] + fx * r0[x + 1]) + fy * ((1 - fx) * r1[x] + fx * r1[x + 1]);
}

LipsMirror::LipsMirror(const Landmarks& lm, cv::Size size) : m(lm) {
  mid = 0.25f * (m.st(lm[51]).x + m.st(lm[57]).x + m.st(lm[62]).x + m.st(lm[66]).x);
  left = mid - m.st(lm[48]).x;
  right = m.st(lm[54]).x - mid;
  valid = std::min(left, right) > kLeastHalf * m.width;
  if (!valid) return;
  map_x.create(size, CV_32F);
  map_y.create(size, CV_32F);
  for (int y = 0; y < size.height; ++y)
    for (int x = 0; x < size.width; ++x) {
      const cv::Point2f st = m.st(cv::Point2f(float(x), float(y)));
      const float d = st.x - mid;
      const cv::Point2f from = m.at(mid - d * (d >= 0 ? left / right : right / left), st.y);
      map_x.at<float>(y, x) = from.x;
      map_y.at<float>(y, x) = from.y;
    }
}

cv::Mat LipsMirror::operator()(const cv::Mat& img) const {
  cv::Mat mirrored;
  cv::remap(img, mirrored, map_x, map_y, cv::INTER_LINEAR, cv::BORDER_CONSTANT);
  return mirrored;
}

void inner_lips(const Landmarks& lm, const MouthAxes& m, std::vector<cv::Point2f>& upper, std::vector<cv::Point2f>& lower) {
  upper.clear();
  lower.clear();
  for (int i : {60, 61, 62, 63, 64}) upper.push_back(m.st(lm[i]));
  for (int i : {60, 67, 66, 65, 64}) lower.push_back(m.st(lm[i]));
  auto by_s = [](const cv::Point2f& a, const cv::Point2f& b) { return a.x < b.x; };
  std::sort(upper.begin(), upper.end(), by_s);
  std::sort(lower.begin(), lower.end(), by_s);
}

cv::Scalar skin_colour(const cv::Mat& img, const Landmarks& lm) {
  const cv::Rect above = skin_rect(img, lm);
  return above.empty() ? cv::mean(img) : cv::mean(img(above));
}

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

namespace {

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

}  // namespace

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

Landmarks in_rect(const Landmarks& lm, const cv::Rect& roi) {
  return to_crop_space(lm, cv::Matx23f(1, 0, -float(roi.x), 0, 1, -float(roi.y)));
}

}  // namespace stf
