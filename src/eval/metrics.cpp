#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <opencv2/imgproc.hpp>
#include <random>

#include "stf/error.h"

namespace stf {

double psnr(const cv::Mat& a, const cv::Mat& b) {
  STF_ASSERT(a.size() == b.size() && a.type() == b.type());
  cv::Mat x, y;
  a.convertTo(x, CV_64F);
  b.convertTo(y, CV_64F);
  cv::Mat d = x - y;
  cv::Scalar s = cv::sum(d.mul(d));
  const double mse = (s[0] + s[1] + s[2] + s[3]) / (double(a.total()) * a.channels());
  if (mse == 0) return std::numeric_limits<double>::infinity();
  return 10 * std::log10(255.0 * 255.0 / mse);
}

double ssim(const cv::Mat& a, const cv::Mat& b) {
  STF_ASSERT(a.size() == b.size() && a.type() == b.type());
  const double C1 = std::pow(0.01 * 255, 2), C2 = std::pow(0.03 * 255, 2);
  std::vector<cv::Mat> ca, cb;
  cv::split(a, ca);
  cv::split(b, cb);
  double total = 0;
  for (size_t c = 0; c < ca.size(); ++c) {
    cv::Mat x, y;
    ca[c].convertTo(x, CV_64F);
    cb[c].convertTo(y, CV_64F);
    auto blur = [](const cv::Mat& m) {
      cv::Mat out;
      // Window 11, sigma 1.5; borders: only fully covered pixels count (below).
      cv::GaussianBlur(m, out, cv::Size(11, 11), 1.5, 1.5, cv::BORDER_REFLECT);
      return out;
    };
    cv::Mat mx = blur(x), my = blur(y);
    cv::Mat sxx = blur(x.mul(x)) - mx.mul(mx), syy = blur(y.mul(y)) - my.mul(my), sxy = blur(x.mul(y)) - mx.mul(my);
    cv::Mat num = (2 * mx.mul(my) + C1).mul(2 * sxy + C2);
    cv::Mat den = (mx.mul(mx) + my.mul(my) + C1).mul(sxx + syy + C2);
    cv::Mat map = num / den;
    // Valid region: the window fits entirely inside the image.
    cv::Rect valid(5, 5, a.cols - 10, a.rows - 10);
    total += cv::mean(map(valid))[0];
  }
  return total / ca.size();
}

double mouth_distance(const Landmarks& a, const Landmarks& b) {
  double sum = 0;
  for (int i = 48; i < 68; ++i) sum += cv::norm(a[i] - b[i]);
  return sum / 20;
}


cv::Rect mouth_box(const Landmarks& lm, const cv::Size& size) {
  float x0 = lm[48].x, x1 = x0, y0 = lm[48].y, y1 = y0;
  for (int i = 49; i < 68; ++i)
    x0 = std::min(x0, lm[i].x), x1 = std::max(x1, lm[i].x), y0 = std::min(y0, lm[i].y), y1 = std::max(y1, lm[i].y);
  const float gx = (x1 - x0) / 4, gy = (y1 - y0) / 4;
  cv::Rect r(cv::Point(static_cast<int>(std::floor(x0 - gx)), static_cast<int>(std::floor(y0 - gy))),
             cv::Point(static_cast<int>(std::ceil(x1 + gx)) + 1, static_cast<int>(std::ceil(y1 + gy)) + 1));
  return r & cv::Rect(cv::Point(0, 0), size);
}

// 0.299 R + 0.587 G + 0.114 B of a BGR pixel.
static double grey(const cv::Vec3b& p) { return 0.114 * p[0] + 0.587 * p[1] + 0.299 * p[2]; }

double mean_grey_change(const cv::Mat& a, const cv::Mat& b, const cv::Rect& r) {
  STF_ASSERT(a.type() == CV_8UC3 && b.type() == CV_8UC3 && a.size() == b.size());
  if (r.area() <= 0) return 0;
  double sum = 0;
  for (int y = r.y; y < r.y + r.height; ++y)
    for (int x = r.x; x < r.x + r.width; ++x)
      sum += std::abs(grey(a.at<cv::Vec3b>(y, x)) - grey(b.at<cv::Vec3b>(y, x)));
  return sum / r.area();
}

double mean_grey_flicker(const cv::Mat& before, const cv::Mat& now, const cv::Mat& after, const cv::Rect& r) {
  STF_ASSERT(before.type() == CV_8UC3 && now.type() == CV_8UC3 && after.type() == CV_8UC3);
  STF_ASSERT(before.size() == now.size() && after.size() == now.size());
  if (r.area() <= 0) return 0;
  double sum = 0;
  for (int y = r.y; y < r.y + r.height; ++y)
    for (int x = r.x; x < r.x + r.width; ++x)
      sum += std::abs(grey(now.at<cv::Vec3b>(y, x)) -
                      (grey(before.at<cv::Vec3b>(y, x)) + grey(after.at<cv::Vec3b>(y, x))) / 2);
  return sum / r.area();
}

double laplacian_variance(const cv::Mat& bgr, const cv::Rect& r) {
  STF_ASSERT(bgr.type() == CV_8UC3);
  if (r.width < 3 || r.height < 3) return 0;
  cv::Mat g(r.size(), CV_64F);  // grey values
  for (int y = 0; y < r.height; ++y)
    for (int x = 0; x < r.width; ++x) g.at<double>(y, x) = grey(bgr.at<cv::Vec3b>(r.y + y, r.x + x));
  double sum = 0, sum2 = 0;
  for (int y = 1; y + 1 < r.height; ++y)
    for (int x = 1; x + 1 < r.width; ++x) {
      const double l = g.at<double>(y - 1, x) + g.at<double>(y + 1, x) + g.at<double>(y, x - 1) +
                       g.at<double>(y, x + 1) - 4 * g.at<double>(y, x);
      sum += l, sum2 += l * l;
    }
  const double n = double(r.height - 2) * (r.width - 2);
  return sum2 / n - (sum / n) * (sum / n);
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  STF_ASSERT(a.size() == b.size());
  const size_t n = a.size();
  if (n < 3) return 0;
  double ma = 0, mb = 0;
  for (size_t i = 0; i < n; ++i) ma += a[i], mb += b[i];
  ma /= n, mb /= n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < n; ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  if (saa <= 1e-18 * n || sbb <= 1e-18 * n) return 0;
  return sab / std::sqrt(saa * sbb);
}

double spread_ratio(const std::vector<double>& a, const std::vector<double>& b) {
  auto sd = [](const std::vector<double>& v) {
    double m = 0, ss = 0;
    for (double x : v) m += x;
    m /= v.size();
    for (double x : v) ss += (x - m) * (x - m);
    return std::sqrt(ss / v.size());
  };
  if (a.empty() || b.empty()) return 0;
  const double sb = sd(b);
  return sb <= 1e-12 ? 0 : sd(a) / sb;
}

double lower_by(const std::vector<double>& a, const std::vector<double>& b) {
  STF_ASSERT(a.size() == b.size() && !a.empty());
  double sa = 0, sb = 0;
  for (size_t i = 0; i < a.size(); ++i) sa += a[i], sb += b[i];
  return 1 - sa / sb;
}

std::pair<double, double> bootstrap_interval(size_t n, const std::function<double(const std::vector<size_t>&)>& figure,
                                             int resamples) {
  STF_ASSERT(n > 0 && resamples > 0);
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<size_t> pick(0, n - 1);
  std::vector<size_t> drawn(n);
  std::vector<double> v(resamples);
  for (double& x : v) {
    for (size_t& i : drawn) i = pick(rng);
    x = figure(drawn);
  }
  std::sort(v.begin(), v.end());
  return {v[static_cast<size_t>(0.025 * resamples)], v[static_cast<size_t>(std::ceil(0.975 * resamples)) - 1]};
}

}  // namespace stf
