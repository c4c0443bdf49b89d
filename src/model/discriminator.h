// Quality discriminator (PAPER.md "Critics"): real vs generated lower half
// of the face, one logit per image (Wav2Lip's, without normalisation), or,
// with `patches` (not in the paper), one logit per patch of 23 x 35 pixels:
// a judge of local texture (blur) rather than of the whole mouth.
#pragma once
#include <torch/torch.h>

namespace stf {

class DiscriminatorImpl : public torch::nn::Module {
 public:
  explicit DiscriminatorImpl(int64_t width, bool patches);
  // face: (B, 3, S, S) -> logits (B), or with patches (B, S/8 x S/8), one per
  // patch; only the lower half is looked at
  torch::Tensor forward(torch::Tensor face);

 private:
  bool patches_;
  torch::nn::Sequential body_{nullptr};
  torch::nn::Linear head_{nullptr};     // whole image
  torch::nn::Conv2d patch_head_{nullptr};  // patches: a 1x1 convolution
};
TORCH_MODULE(Discriminator);

}  // namespace stf
