#include "model/identity_encoder.h"

#include "model/blocks.h"

namespace stf {

IdentityEncoderImpl::IdentityEncoderImpl(int64_t S, const std::vector<int>& w, int r) : width0_(w[0]) {
  std::vector<torch::nn::Sequential> levels;
  for (int i = 0; i <= 5; ++i) {
    torch::nn::Sequential level;
    if (i == 0) add_down_stage(level, 6, w[0], 7, 1, 3, 0);              // (B, w0, S, S)
    else add_down_stage(level, w[i - 1], w[i], 3, 2, 1, r);              // (B, wi, S/2^i, S/2^i)
    levels.push_back(level);
  }
  torch::nn::Sequential last;
  last->push_back(ConvBlock(w[5], w[6], S / 32, 1, 0));               // (B, w6, 1, 1)
  last->push_back(ConvBlock(w[6], w[6], 1, 1, 0));
  levels.push_back(last);
  for (size_t i = 0; i < levels.size(); ++i)
    levels_.push_back(register_module("level" + std::to_string(i), levels[i]));
}

std::vector<torch::Tensor> IdentityEncoderImpl::forward(torch::Tensor x) {
  x = x.to(parameters().front().scalar_type());  // float input to a bfloat16 model (prepare_inference)
  // Levels 0-2 (S, S/2, S/4) run a chunk of frames at a time in inference (inference_chunk).
  const size_t chunked = 3;
  const int64_t B = x.size(0), S = x.size(2);
  const int64_t n = is_training() ? B : inference_chunk(B, width0_ * S * S * x.element_size());
  std::vector<std::vector<torch::Tensor>> parts(chunked);
  for (int64_t b = 0; b < B; b += n) {
    auto y = x.narrow(0, b, std::min(n, B - b));
    for (size_t i = 0; i < chunked; ++i) {
      y = levels_[i]->forward(y);                 // (n, w_i, S / 2^i, S / 2^i)
      parts[i].push_back(y);
    }
  }
  std::vector<torch::Tensor> skips;
  for (auto& p : parts) skips.push_back(p.size() == 1 ? p[0] : torch::cat(p, 0));
  x = skips.back();
  for (size_t i = chunked; i < levels_.size(); ++i) {
    x = levels_[i]->forward(x);
    skips.push_back(x);
  }
  return skips;
}

}  // namespace stf
