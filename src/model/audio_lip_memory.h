// Audio-Lip Memory (PAPER.md): an audio-key memory M_aud and a lip-value
// memory M_lip, S slots of C channels, addressed by kappa-scaled cosine
// similarity; the lip feature is recalled from audio alone at inference.
#pragma once
#include <torch/torch.h>

namespace stf {

struct MemoryOutput {
  torch::Tensor key_address;     // A_aud (B, S)
  torch::Tensor recalled;        // f_lip_key = A_aud . M_lip (B, C)
  // Training only (defined when a lip feature is given):
  torch::Tensor value_address;   // A_lip (B, S)
  torch::Tensor stored;          // f_lip_val = A_lip . M_lip (B, C)
  torch::Tensor store_loss;      // L_store = mean (sg(f_lip) - f_lip_val)^2 over channels and batch
  torch::Tensor align_loss;      // L_align = KL(sg(A_lip) || A_aud), mean over the batch
};

class AudioLipMemoryImpl : public torch::nn::Module {
 public:
  AudioLipMemoryImpl(int64_t slots, int64_t channels, double kappa, double init_std);
  // f_aud: (B, C); f_lip: (B, C) or undefined at inference.
  MemoryOutput forward(torch::Tensor f_aud, torch::Tensor f_lip = {});
  // softmax_i(kappa * cos(memory[i], query)): (B, C), (S, C) -> (B, S)
  torch::Tensor address(const torch::Tensor& query, const torch::Tensor& memory) const;
  // Reads the value memory with a given address (e.g. one-hot): (B, S) -> (B, C)
  torch::Tensor read_value(const torch::Tensor& address) const;

  torch::Tensor key_memory;    // M_aud (S, C)
  torch::Tensor value_memory;  // M_lip (S, C)

 private:
  double kappa_;
  torch::nn::Linear key_query_{nullptr};    // projects f_aud before key addressing
  torch::nn::Linear value_query_{nullptr};  // projects f_lip before value addressing
};
TORCH_MODULE(AudioLipMemory);

}  // namespace stf
