// Quality discriminator (PAPER.md "Critics"): real vs generated lower half
// of the face, one logit per image (Wav2Lip's, without normalisation).
#pragma once
#include <torch/torch.h>

namespace stf {

class DiscriminatorImpl : public torch::nn::Module {
 public:
  explicit DiscriminatorImpl(int64_t width);
  // face: (B, 3, S, S) -> logit (B); only the lower half is looked at
  torch::Tensor forward(torch::Tensor face);

 private:
  torch::nn::Sequential body_{nullptr};
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(Discriminator);

}  // namespace stf
