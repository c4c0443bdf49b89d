// E_lip: 5 consecutive face frames with the upper half zeroed -> lip feature
// (PAPER.md: a 3-D conv that folds the 5 frames, then 2-D residual blocks).
#pragma once
#include <torch/torch.h>

namespace stf {

class LipEncoderImpl : public torch::nn::Module {
 public:
  LipEncoderImpl(int64_t image_size, int64_t width, int64_t feature, int residuals);
  // frames: (B, 3, 5, S, S), upper half already zeroed -> (B, feature)
  torch::Tensor forward(torch::Tensor frames);

 private:
  torch::nn::Conv3d fold_{nullptr};
  torch::nn::BatchNorm3d fold_bn_{nullptr};
  torch::nn::Sequential body_{nullptr};
};
TORCH_MODULE(LipEncoder);

}  // namespace stf
