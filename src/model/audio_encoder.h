// E_a: one 0.2 s mel window -> audio feature (PAPER.md; Wav2Lip's audio encoder).
#pragma once
#include <torch/torch.h>

namespace stf {

class AudioEncoderImpl : public torch::nn::Module {
 public:
  // width a: stages a, 2a, 4a, 8a; output `feature` channels.
  AudioEncoderImpl(int64_t width, int64_t feature, int residuals);
  // mel: (B, 1, 80, 16) -> (B, feature)
  torch::Tensor forward(torch::Tensor mel);

 private:
  torch::nn::Sequential body_{nullptr};
};
TORCH_MODULE(AudioEncoder);

}  // namespace stf
