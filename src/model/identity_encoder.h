// E_I: frame t with its lower half zeroed + a reference frame (6 channels)
// -> U-Net skip features at S, S/2, ..., S/32 and 1x1 (PAPER.md widths).
#pragma once
#include <torch/torch.h>
#include <vector>

namespace stf {

class IdentityEncoderImpl : public torch::nn::Module {
 public:
  IdentityEncoderImpl(int64_t image_size, const std::vector<int>& widths, int residuals);
  // x: (B, 6, S, S) -> 7 tensors (B, w_i, S / 2^i, S / 2^i) for i < 6, then (B, w_6, 1, 1)
  std::vector<torch::Tensor> forward(torch::Tensor x);

 private:
  std::vector<torch::nn::Sequential> levels_;
  int64_t width0_;  // channels of the largest activation: w0 at S x S
};
TORCH_MODULE(IdentityEncoder);

}  // namespace stf
