#include "model/decoder.h"

#include "model/blocks.h"

namespace stf {

DecoderImpl::DecoderImpl(int64_t S, int64_t feature, const std::vector<int>& e, const std::vector<int>& d,
                         int r) {
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
  last_width_ = d[6] + e[0];
  const int64_t o = std::max(8, d[6] / 2);  // Wav2Lip: 32 after a 64-wide last level
  output_ = register_module("output", ConvBlock(last_width_, o, 3, 1, 1));         // (B, o, S, S)
  to_rgb_ = register_module("to_rgb", torch::nn::Conv2d(torch::nn::Conv2dOptions(o, 3, 1)));  // (B, 3, S, S)
}

torch::Tensor DecoderImpl::forward(torch::Tensor bottleneck, const std::vector<torch::Tensor>& skips) {
  auto x = bottleneck.unsqueeze(-1).unsqueeze(-1);  // (B, F, 1, 1)
  // Levels 4-6 (S/4, S/2, S) and the output run a chunk of frames at a time in inference (inference_chunk).
  const size_t chunked_from = 4;
  for (size_t i = 0; i < chunked_from; ++i) {
    x = levels_[i]->forward(x);                      // (B, d_i, s_i, s_i)
    x = torch::cat({x, skips[6 - i]}, 1);            // (B, d_i + e_{6-i}, s_i, s_i)
  }
  const int64_t B = x.size(0), S = skips[0].size(2);
  const int64_t n = is_training() ? B : inference_chunk(B, last_width_ * S * S * skips[0].element_size());
  std::vector<torch::Tensor> parts;
  for (int64_t b = 0; b < B; b += n) {
    const int64_t m = std::min(n, B - b);
    auto y = x.narrow(0, b, m);
    for (size_t j = chunked_from; j < levels_.size(); ++j) {
      y = levels_[j]->forward(y);                    // (m, d_j, s_j, s_j)
      y = torch::cat({y, skips[6 - j].narrow(0, b, m)}, 1);
    }
    auto rgb = to_rgb_->forward(output_->forward(y));  // (m, 3, S, S)
    FlopCounter::add_conv(rgb, to_rgb_->weight);
    parts.push_back(rgb);
  }
  auto rgb = parts.size() == 1 ? parts[0] : torch::cat(parts, 0);  // (B, 3, S, S)
  return torch::sigmoid(rgb).to(torch::kFloat32);  // float32 also from a bfloat16 model
}

}  // namespace stf
