#include "pipeline/reference.h"

#include <algorithm>
#include <cmath>

namespace stf {

namespace {

// Mean distance between corresponding points; 0 when either pose is unknown.
double pose_distance(const std::vector<cv::Point2f>& a, const std::vector<cv::Point2f>& b) {
  if (a.empty() || a.size() != b.size()) return 0;
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += cv::norm(a[i] - b[i]);
  return sum / double(a.size());
}

}  // namespace

std::vector<cv::Point2f> pose_points(const Landmarks& lm, const cv::Matx23f& to_crop, int S) {
  std::vector<cv::Point2f> out;
  for (int i = 0; i < 48; ++i) {
    if ((i >= 5 && i <= 11) || (i >= 17 && i <= 26)) continue;  // the chin drops as the mouth opens; brows move
    const cv::Point2f& p = lm[i];
    out.emplace_back((to_crop(0, 0) * p.x + to_crop(0, 1) * p.y + to_crop(0, 2)) / S,
                     (to_crop(1, 0) * p.x + to_crop(1, 1) * p.y + to_crop(1, 2)) / S);
  }
  return out;
}

torch::Tensor ReferenceHistory::take(size_t i) {
  sharp_ = recent_[i].sharp;
  return recent_[i].crop;
}

torch::Tensor ReferenceHistory::next(int64_t segment, const torch::Tensor& crop, double opening,
                                     double loudness_rank, const std::vector<cv::Point2f>& pose, const cv::Mat& sharp) {
  if (segment != segment_) recent_.clear(), segment_ = segment;
  recent_.push_back({crop, opening, pose, ++count_, sharp});
  if (recent_.size() > lag_ + choice_ + 1) recent_.pop_front();
  // The shot's first lag frames have no crop lag frames back: they take the
  // shot's oldest crop posed like the frame among those from near_lag frames
  // back (the shot's first crop until there is one), and the frame's own
  // where none is (as a quick turn does below).
  const bool starting = recent_.size() <= lag_;
  if (starting && (near_lag_ == 0 || recent_.size() <= near_lag_)) return take(0);
  size_t n = recent_.size() - (starting ? near_lag_ : lag_);  // candidates: recent_[0, n)
  // A head turned quickly is posed unlike every crop lag frames back: then the
  // crops from near_lag frames back take part too (recent_[0, wide)), and if
  // none of those is posed alike either, the frame's own crop is taken.
  const size_t wide = near_lag_ > 0 && near_lag_ < lag_ ? recent_.size() - near_lag_ : n;
  std::vector<double> dist(wide);
  for (size_t i = 0; i < wide; ++i) dist[i] = pose_distance(recent_[i].pose, pose);
  double nearest = *std::min_element(dist.begin(), dist.begin() + n);
  const double nearest_wide = *std::min_element(dist.begin(), dist.end());
  if (nearest > kFarPose && nearest_wide < nearest) n = wide, nearest = nearest_wide;
  if (near_lag_ > 0 && nearest > kFarPose) return take(recent_.size() - 1);
  // Only the candidates posed nearly as this frame is (within kPoseTolerance
  // of the nearest) take part; among them, the mouth is matched to the speech.
  std::vector<bool> posed(n);
  size_t m = 0;
  for (size_t i = 0; i < n; ++i) m += (posed[i] = dist[i] <= nearest + kPoseTolerance);
  if (starting) return take(static_cast<size_t>(std::find(posed.begin(), posed.end(), true) - posed.begin()));
  std::vector<double> gap(n);
  size_t best = n, held = n;
  for (size_t i = n; i-- > 0;) {  // the most recent first: ties keep the nearest in time
    if (!posed[i]) continue;
    double below = 0;  // the candidates whose mouth is less open
    for (size_t j = 0; j < n; ++j)
      if (posed[j])
        below += recent_[j].opening < recent_[i].opening ? 1 : recent_[j].opening == recent_[i].opening && j != i ? 0.5 : 0;
    gap[i] = std::abs(below / double(std::max<size_t>(1, m - 1)) - loudness_rank);
    if (best == n || gap[i] < gap[best]) best = i;
    if (recent_[i].number == chosen_) held = i;
  }
  // Keep the last frame's choice while it is nearly as good: fewer jumps between references.
  if (held < n && gap[held] <= gap[best] + kHold) best = held;
  chosen_ = recent_[best].number;
  return take(best);
}

}  // namespace stf
