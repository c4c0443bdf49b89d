#include "synth/render.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace stf {

namespace {

// Lower lip: outer 55-59, inner 65-67.
bool is_lower(int i) { return (i >= 55 && i <= 59) || (i >= 65 && i <= 67); }

}  // namespace

Landmarks mouth_landmarks(const Landmarks& face, const MouthShape& s) {
  Landmarks lm = face;
  const float iod = inter_ocular_distance(face);
  const cv::Point2f left = face[48], right = face[54];
  const cv::Point2f centre = (left + right) * 0.5f;
  cv::Point2f ax = right - left;
  const float half_w = std::max(1.0f, float(cv::norm(ax)) / 2);
  ax /= float(cv::norm(ax) + 1e-6);
  const cv::Point2f ay(-ax.y, ax.x);  // "down" in the image for an upright face
  auto local = [&](cv::Point2f p) { return cv::Point2f((p - centre).dot(ax), (p - centre).dot(ay)); };
  auto global = [&](cv::Point2f q) { return centre + ax * q.x + ay * q.y; };

  // 1. Close the mouth: inner upper (61-63) and lower (65-67) lips meet
  //    half way; the lower lip's outer line moves up with them.
  const std::pair<int, int> inner[3] = {{61, 67}, {62, 66}, {63, 65}};
  for (auto [u, d] : inner) {
    cv::Point2f mid = (lm[u] + lm[d]) * 0.5f;
    cv::Point2f lift = mid - lm[d];
    lm[u] = mid;
    lm[d] = mid;
    const int outer = d == 66 ? 57 : (d == 67 ? 58 : 56);
    lm[outer] += lift;
  }
  // 2. Open: the lower lip and jaw drop, most at the centre.
  const float drop = s.open * 0.55f * iod;
  const float raise = s.raise * 0.06f * iod;
  const float width = 1 + 0.22f * s.width - 0.12f * s.round;
  for (int i = 48; i < 68; ++i) {
    cv::Point2f q = local(lm[i]);
    const float centre_weight = 1 - 0.6f * std::min(1.0f, (q.x * q.x) / (half_w * half_w));
    q.x *= (i >= 60 ? width * (1 - 0.35f * s.round) : width);
    if (i == 48 || i == 54 || i == 60 || i == 64) q.y += drop * 0.25f;  // corners follow a little
    else if (is_lower(i)) q.y += drop * centre_weight;
    else q.y -= raise * centre_weight;
    lm[i] = global(q);
  }
  // 3. Jaw and chin (points 3-13) follow the opening, the chin most.
  for (int i = 3; i <= 13; ++i) {
    const float w = 1 - std::abs(i - 8) / 6.0f;
    lm[i] += ay * (drop * 0.75f * w);
  }
  return lm;
}

cv::Mat render_mouth(const cv::Mat& image, const Landmarks& from, const Landmarks& to, const MouthShape& s) {
  // Triangulate the source landmarks plus a frame of fixed points around the
  // lower face, so the warp fades out to no motion.
  cv::Rect2f box = landmark_bounds(from);
  const float margin = 0.35f * box.width;
  cv::Rect2f outer(box.x - margin, box.y - margin, box.width + 2 * margin, box.height + 2 * margin);
  outer &= cv::Rect2f(0, 0, float(image.cols - 1), float(image.rows - 1));
  std::vector<cv::Point2f> src(from.begin(), from.end()), dst(to.begin(), to.end());
  for (int i = 0; i <= 4; ++i)
    for (float fy : {0.0f, 1.0f}) {
      cv::Point2f p(outer.x + outer.width * i / 4, outer.y + outer.height * fy);
      src.push_back(p), dst.push_back(p);
    }
  for (int i = 1; i <= 3; ++i)
    for (float fx : {0.0f, 1.0f}) {
      cv::Point2f p(outer.x + outer.width * fx, outer.y + outer.height * i / 4);
      src.push_back(p), dst.push_back(p);
    }
  // The moved landmarks may leave the frame (a jaw near the bottom edge):
  // the subdivision's rectangle must hold every point.
  float x0 = dst[0].x, y0 = dst[0].y, x1 = x0, y1 = y0;
  for (const auto& p : dst) x0 = std::min(x0, p.x), y0 = std::min(y0, p.y), x1 = std::max(x1, p.x), y1 = std::max(y1, p.y);
  cv::Subdiv2D subdiv(cv::Rect(int(std::floor(x0)) - 2, int(std::floor(y0)) - 2, int(x1 - x0) + 5, int(y1 - y0) + 5));
  for (const auto& p : dst) subdiv.insert(p);
  std::vector<cv::Vec6f> tris;
  subdiv.getTriangleList(tris);
  auto find = [&](cv::Point2f p) {
    for (size_t i = 0; i < dst.size(); ++i)
      if (cv::norm(dst[i] - p) < 0.5) return int(i);
    return -1;
  };
  cv::Mat out = image.clone();
  for (const cv::Vec6f& t : tris) {
    int a = find({t[0], t[1]}), b = find({t[2], t[3]}), c = find({t[4], t[5]});
    if (a < 0 || b < 0 || c < 0) continue;  // a triangle on Subdiv2D's virtual outer points
    std::vector<cv::Point2f> ts{dst[a], dst[b], dst[c]}, ss{src[a], src[b], src[c]};
    cv::Rect r = cv::boundingRect(ts) & cv::Rect(0, 0, image.cols, image.rows);
    if (r.area() <= 0) continue;
    for (auto& p : ts) p -= cv::Point2f(float(r.x), float(r.y));
    cv::Mat m = cv::getAffineTransform(ss.data(), ts.data());  // source frame -> triangle's rect
    cv::Mat patch;
    cv::warpAffine(image, patch, m, r.size(), cv::INTER_LINEAR, cv::BORDER_REFLECT);
    cv::Mat mask = cv::Mat::zeros(r.size(), CV_8U);
    std::vector<cv::Point> poly;
    for (auto& p : ts) poly.emplace_back(cvRound(p.x), cvRound(p.y));
    cv::fillConvexPoly(mask, poly, 255, cv::LINE_8);
    patch.copyTo(out(r), mask);
  }
  // Inner mouth: cavity, then teeth under the upper lip.
  std::vector<cv::Point> inner;
  for (int i = 60; i < 68; ++i) inner.emplace_back(cvRound(to[i].x * 4), cvRound(to[i].y * 4));
  const double gap = cv::norm(to[62] - to[66]);
  if (gap > 1.0) {
    cv::Mat layer = out.clone();
    cv::fillPoly(layer, std::vector<std::vector<cv::Point>>{inner}, cv::Scalar(35, 25, 60), cv::LINE_AA, 2);
    if (s.teeth > 0) {
      cv::Mat teeth_mask = cv::Mat::zeros(out.size(), CV_8U);
      cv::fillPoly(teeth_mask, std::vector<std::vector<cv::Point>>{inner}, 255, cv::LINE_AA, 2);
      const float band = float(std::min(gap * 0.45 * s.teeth, gap));
      cv::Point2f up = (to[66] - to[62]) * (1.0f / float(gap));
      std::vector<cv::Point> strip;
      for (int i : {60, 61, 62, 63, 64}) strip.emplace_back(cvRound(to[i].x * 4), cvRound(to[i].y * 4));
      for (int i : {64, 63, 62, 61, 60}) {
        cv::Point2f p = to[i] + up * band;
        strip.emplace_back(cvRound(p.x * 4), cvRound(p.y * 4));
      }
      cv::Mat band_mask = cv::Mat::zeros(out.size(), CV_8U);
      cv::fillPoly(band_mask, std::vector<std::vector<cv::Point>>{strip}, 255, cv::LINE_AA, 2);
      layer.setTo(cv::Scalar(205, 215, 222), band_mask & teeth_mask);
    }
    cv::GaussianBlur(layer, layer, cv::Size(3, 3), 0);
    cv::Mat mask = cv::Mat::zeros(out.size(), CV_8U);
    cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{inner}, 255, cv::LINE_AA, 2);
    layer.copyTo(out, mask);
  }
  return out;
}

}  // namespace stf
