// Image and landmark metrics of the evaluation (definitions: docs/metrics.md).
#pragma once
#include <functional>
#include <opencv2/core.hpp>
#include <utility>
#include <vector>

#include "stf/face.h"

namespace stf {

// PSNR in dB between two 8-bit images of the same size and type, over all
// channels: 10 log10(255^2 / MSE). +infinity for identical images.
double psnr(const cv::Mat& a, const cv::Mat& b);

// SSIM (Wang et al. 2004): Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03,
// L 255, population (not sample) covariances; the SSIM map's mean per
// channel, then the mean over channels.
double ssim(const cv::Mat& a, const cv::Mat& b);

// Mean Euclidean distance between the 20 mouth points (48-67) of two
// landmark sets, in their pixel units.
double mouth_distance(const Landmarks& a, const Landmarks& b);

// The region around the mouth: the bounding box of points 48-67 grown by a
// quarter of its width and of its height on each side, clipped to an image
// of `size` (empty when nothing is left).
cv::Rect mouth_box(const Landmarks& lm, const cv::Size& size);

// Fine detail in region r of a BGR image: the variance of the Laplacian
// (kernel 0 1 0 / 1 -4 1 / 0 1 0) of its grey values 0.299 R + 0.587 G +
// 0.114 B (in floating point), over the pixels of r whose 3x3 neighbourhood
// lies inside r. 0 for a region under 3x3 pixels.
double laplacian_variance(const cv::Mat& bgr, const cv::Rect& r);

// Mean absolute difference of the grey values (0.299 R + 0.587 G + 0.114 B)
// of two BGR images of one size inside `r`: how much a region changed
// between two frames (0 for an empty region).
double mean_grey_change(const cv::Mat& a, const cv::Mat& b, const cv::Rect& r);
// Mean absolute difference inside `r` between the grey values of `now` and
// the mean of those of the frames `before` and `after` it (BGR images of one
// size): how far a region jumps away from the path its neighbours set, so
// that a steady change (an opening mouth) scores less than flicker, a change
// that comes back (0 for an empty region).
double mean_grey_flicker(const cv::Mat& before, const cv::Mat& now, const cv::Mat& after, const cv::Rect& r);

// Pearson correlation of two series of the same length; 0 when there are
// fewer than 3 points or either series is constant.
double pearson(const std::vector<double>& a, const std::vector<double>& b);

// How widely a series spreads against another: the ratio of their standard
// deviations (over n, not n - 1); 0 when either is empty or b is constant.
double spread_ratio(const std::vector<double>& a, const std::vector<double>& b);

// How much lower paired per-clip scores a are than b, as one figure:
// 1 - mean(a) / mean(b) (e.g. the mouth landmark distance with each clip's
// own audio against the same with it delayed: 0.1 = own 10% lower).
double lower_by(const std::vector<double>& a, const std::vector<double>& b);

// A 95% interval for a figure computed over clips: its 2.5th and 97.5th
// percentiles over `resamples` draws of as many clips with replacement (the
// percentile bootstrap). `figure` gets the drawn clips' indices (0..n-1,
// repeats allowed). A fixed seed: a run repeats its interval. With few
// clips it is wide: that is what they tell.
std::pair<double, double> bootstrap_interval(size_t n, const std::function<double(const std::vector<size_t>&)>& figure,
                                             int resamples = 20000);

}  // namespace stf
