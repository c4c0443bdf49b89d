// G: bottleneck feature + identity skips -> face crop (U-Net of transposed
// convs, Wav2Lip's face decoder).
#pragma once
#include <torch/torch.h>
#include <vector>

#include "model/blocks.h"

namespace stf {

class DecoderImpl : public torch::nn::Module {
 public:
  DecoderImpl(int64_t image_size, int64_t feature, const std::vector<int>& identity_widths,
              const std::vector<int>& decoder_widths, int residuals);
  // bottleneck: (B, F); skips: IdentityEncoder output -> (B, 3, S, S) in [0, 1]
  torch::Tensor forward(torch::Tensor bottleneck, const std::vector<torch::Tensor>& skips);

 private:
  torch::Tensor upsample(const torch::Tensor& x, const std::vector<torch::Tensor>& skips, size_t j, int64_t first);

  std::vector<int> widths_;  // decoder_widths
  std::vector<torch::nn::Sequential> levels_;
  ConvBlock output_{nullptr};
  torch::nn::Conv2d to_rgb_{nullptr};
};
TORCH_MODULE(Decoder);

}  // namespace stf
