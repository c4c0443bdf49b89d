#include "eval/lse.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <opencv2/imgproc.hpp>

#include "stf/audio.h"
#include "stf/error.h"

namespace stf {

SyncScore sync_score(SyncNet& net, int64_t S, const std::vector<cv::Mat>& crops, const torch::Tensor& mel,
                     double fps, int max_offset) {
  torch::NoGradGuard ng;
  net->eval();
  const int64_t n = static_cast<int64_t>(crops.size());
  // Frames as (3, S, S) floats in [0, 1], BGR like the training crops.
  std::vector<torch::Tensor> frames(n);
  for (int64_t i = 0; i < n; ++i) {
    if (crops[i].empty()) continue;
    cv::Mat c = crops[i];
    if (c.rows != S) cv::resize(crops[i], c, cv::Size(int(S), int(S)), 0, 0, cv::INTER_AREA);
    frames[i] = torch::from_blob(c.data, {S, S, 3}, torch::kUInt8).permute({2, 0, 1}).to(torch::kFloat32).div(255.0);
  }
  // Video embeddings of every complete window; audio embeddings of every frame.
  std::vector<int64_t> starts;
  std::vector<torch::Tensor> windows;
  for (int64_t t = 0; t + 5 <= n; ++t) {
    bool complete = true;
    for (int64_t k = t; k < t + 5; ++k) complete = complete && frames[k].defined();
    if (!complete) continue;
    starts.push_back(t);
    windows.push_back(stack_lower_halves(torch::stack({frames[t], frames[t + 1], frames[t + 2], frames[t + 3],
                                                       frames[t + 4]}).unsqueeze(0)).squeeze(0));  // (15, S/2, S)
  }
  if (starts.empty()) throw Error("no five consecutive frames with a face: cannot measure lip sync");
  std::vector<torch::Tensor> video_parts, audio_parts;
  for (size_t i = 0; i < windows.size(); i += 64)
    video_parts.push_back(net->embed_face(torch::stack(std::vector<torch::Tensor>(
        windows.begin() + i, windows.begin() + std::min(windows.size(), i + 64)))));
  auto video = torch::cat(video_parts);                                        // (W, F)
  std::vector<torch::Tensor> mels;
  for (int64_t t = 0; t < n; ++t) mels.push_back(mel_window(mel, t, fps).unsqueeze(0));  // (1, 80, 16)
  for (size_t i = 0; i < mels.size(); i += 64)
    audio_parts.push_back(net->embed_audio(torch::stack(std::vector<torch::Tensor>(
        mels.begin() + i, mels.begin() + std::min(mels.size(), i + 64)))));
  auto audio = torch::cat(audio_parts);                                        // (n, F)

  SyncScore s;
  double best = std::numeric_limits<double>::infinity();
  for (int o = -max_offset; o <= max_offset; ++o) {
    double sum = 0;
    int64_t count = 0;
    for (size_t w = 0; w < starts.size(); ++w) {
      const int64_t a = starts[w] + o;
      // Only audio windows that lie inside the audio (mel_window clamps the rest).
      if (a < 0 || a >= n || std::floor(kMelFps * a / fps) + kMelWindow > mel.size(1)) continue;
      sum += (video[w] - audio[a]).norm().item<double>();
      ++count;
    }
    const double mean = count ? sum / count : std::numeric_limits<double>::infinity();
    s.mean_distance.push_back(mean);
    if (mean < best) best = mean, s.offset = o;
  }
  std::vector<double> sorted = s.mean_distance;
  std::sort(sorted.begin(), sorted.end());
  s.lse_d = best;
  s.lse_c = sorted[sorted.size() / 2] - best;
  return s;
}

}  // namespace stf
