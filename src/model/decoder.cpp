#include "model/decoder.h"

#include "model/blocks.h"

namespace stf {

DecoderImpl::DecoderImpl(int64_t S, int64_t feature, const std::vector<int>& e, const std::vector<int>& d,
                         int r)
    : widths_(d) {
  std::vector<torch::nn::Sequential> levels;
  torch::nn::Sequential first;
  first->push_back(ConvBlock(feature, d[0], 1, 1, 0));       // (B, d0, 1, 1), then cat e6
  levels.push_back(first);
  torch::nn::Sequential grow;
  grow->push_back(UpBlock(d[0] + e[6], d[1], S / 32, 1, 0, 0));  // (B, d1, S/32, S/32), then cat e5
  for (int k = 0; k < r; ++k) grow->push_back(ConvBlock(d[1], d[1], 3, 1, 1, true));
  levels.push_back(grow);
  for (int i = 2; i <= 6; ++i) {
    // (B, d_{i-1} + e_{7-i}, s, s) -> (B, d_i, 2s, 2s), then cat e_{6-i}
    torch::nn::Sequential up;
    up->push_back(UpBlock(d[i - 1] + e[7 - i], d[i], 3, 2, 1, 1));
    for (int k = 0; k < r; ++k) up->push_back(ConvBlock(d[i], d[i], 3, 1, 1, true));
    levels.push_back(up);
  }
  for (size_t i = 0; i < levels.size(); ++i)
    levels_.push_back(register_module("level" + std::to_string(i), levels[i]));
  const int64_t o = std::max(8, d[6] / 2);  // Wav2Lip: 32 after a 64-wide last level
  output_ = register_module("output", ConvBlock(d[6] + e[0], o, 3, 1, 1));         // (B, o, S, S)
  to_rgb_ = register_module("to_rgb", torch::nn::Conv2d(torch::nn::Conv2dOptions(o, 3, 1)));  // (B, 3, S, S)
}

torch::Tensor DecoderImpl::forward(torch::Tensor bottleneck, const std::vector<torch::Tensor>& skips) {
  auto x = bottleneck.unsqueeze(-1).unsqueeze(-1);  // (B, F, 1, 1)
  for (size_t i = 0; i < 4; ++i) {                   // levels 0-3 (1 .. S/8) on the whole batch
    x = levels_[i]->forward(x);                      // (B, d_i, s_i, s_i)
    x = torch::cat({x, skips[6 - i]}, 1);            // (B, d_i + e_{6-i}, s_i, s_i)
  }
  return torch::sigmoid(upsample(x, skips, 4, 0)).to(torch::kFloat32);  // float32 also from a bfloat16 model
}

// Levels j.. (S/4, S/2, S) and the output for the frames first .. first + m
// of the batch: x (m, d_{j-1} + e_{7-j}, s, s) -> (m, 3, S, S) before the
// sigmoid. In inference each level runs a chunk of frames at a time, sized by
// its own output (inference_chunk): the paper model in float32 at batch 16
// runs level 4 on 6 + 6 + 4 frames and the full-size level on 1-2, so the
// larger levels' weights, which oneDNN reorders at every call, are not
// reordered for every 2 frames.
torch::Tensor DecoderImpl::upsample(const torch::Tensor& x, const std::vector<torch::Tensor>& skips, size_t j,
                                    int64_t first) {
  if (j == levels_.size()) {
    auto rgb = to_rgb_->forward(output_->forward(x));  // (m, 3, S, S)
    FlopCounter::add_conv(rgb, to_rgb_->weight);
    return rgb;
  }
  const torch::Tensor& skip = skips[6 - j];          // (B, e_{6-j}, 2s, 2s)
  const int64_t m = x.size(0);
  const int64_t frame_bytes = (widths_[j] + skip.size(1)) * skip.size(2) * skip.size(3) * skip.element_size();
  const int64_t n = is_training() ? m : inference_chunk(m, frame_bytes);
  std::vector<torch::Tensor> parts;
  for (int64_t b = 0; b < m; b += n) {
    const int64_t k = std::min(n, m - b);
    auto y = levels_[j]->forward(x.narrow(0, b, k));                // (k, d_j, 2s, 2s)
    y = torch::cat({y, skip.narrow(0, first + b, k)}, 1);          // (k, d_j + e_{6-j}, 2s, 2s)
    parts.push_back(upsample(y, skips, j + 1, first + b));
  }
  return parts.size() == 1 ? parts[0] : torch::cat(parts, 0);
}

}  // namespace stf
