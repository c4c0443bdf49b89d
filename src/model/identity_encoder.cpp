#include "model/identity_encoder.h"

#include "model/blocks.h"

namespace stf {

IdentityEncoderImpl::IdentityEncoderImpl(int64_t S, const std::vector<int>& w, int r) {
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
  std::vector<torch::Tensor> skips;
  for (auto& level : levels_) {
    x = level->forward(x);
    skips.push_back(x);
  }
  return skips;
}

}  // namespace stf
