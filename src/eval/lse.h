// Lip-sync error as syncnet_python computes it (LSE-D, LSE-C), with the
// project's own SyncNet expert (so the figures are LSE-D* / LSE-C*).
#pragma once
#include <opencv2/core.hpp>
#include <torch/torch.h>
#include <vector>

#include "model/syncnet.h"

namespace stf {

struct SyncScore {
  double lse_d = 0;   // smallest mean embedding distance over the offsets
  double lse_c = 0;   // median of the mean distances minus the smallest
  int offset = 0;     // audio offset (frames) at the smallest; +k: the audio lags the video by k frames
  std::vector<double> mean_distance;  // one per offset, -max_offset..max_offset
};

// crops: one face crop per video frame (BGR, any square size; empty Mat =
// no face); mel: (80, T) of the audio that drives the frames at `fps`.
// Video window t (frames t..t+4, lower halves) is compared with the audio
// window of frame t + offset, for offsets -max_offset..max_offset; only
// windows with a face in all five frames count.
SyncScore sync_score(SyncNet& net, int64_t net_size, const std::vector<cv::Mat>& crops, const torch::Tensor& mel,
                     double fps, int max_offset = 15);

}  // namespace stf
