#include "train/losses.h"

namespace stf {

std::map<std::string, torch::Tensor> generator_losses(const ModelConfig& c, const GeneratorBatch& b,
                                                      const GeneratorOutput& out, SyncNet& sync, LipEncoder& critic,
                                                      Discriminator& disc) {
  const LossWeights& w = c.loss;
  const int64_t windows = b.sync_mel.size(0), S = c.image_size;
  auto zero = [&] { return torch::zeros({}, b.target.options()); };
  std::vector<torch::Tensor> images{out.recalled_image};  // I_g, and I_G with the memory
  if (out.stored_image.defined()) images.push_back(out.stored_image);
  std::map<std::string, torch::Tensor> terms;
  terms["recon"] = zero();
  if (w.mouth > 0) terms["mouth"] = zero();  // the same L1 on the mouth region alone, both paths
  for (auto& img : images) {
    auto error = (img - b.target).abs();
    terms["recon"] = terms["recon"] + error.mean();
    if (w.mouth > 0) terms["mouth"] = terms["mouth"] + mouth_region(error).mean();
  }
  if (w.av > 0) {  // L_av = -log cos(audio, generated window), both paths
    terms["av"] = zero();
    for (auto& img : images) {
      auto lower = stack_lower_halves(img.view({windows, 5, 3, S, S}));
      terms["av"] = terms["av"] - sync->forward(lower, b.sync_mel).clamp_min(1e-7).log().mean();
    }
  }
  if (w.vv > 0) {  // L1 between frozen lip-encoder embeddings of generated and real windows
    auto window = [&](const torch::Tensor& x) {
      return mask_upper_half(x.view({windows, 5, 3, S, S})).transpose(1, 2);  // (B, 3, 5, S, S)
    };
    auto real = critic->forward(window(b.target)).detach();
    terms["vv"] = zero();
    for (auto& img : images) terms["vv"] = terms["vv"] + (critic->forward(window(img)) - real).abs().mean();
  }
  if (w.gan > 0) {  // generator side of the quality discriminator
    auto logit = disc->forward(out.recalled_image);
    terms["gan"] = torch::binary_cross_entropy_with_logits(logit, torch::ones_like(logit));
  }
  if (c.memory) {
    terms["store"] = out.memory.store_loss;
    terms["align"] = out.memory.align_loss;
  }
  return terms;
}

torch::Tensor weighted_total(const LossWeights& w, const std::map<std::string, torch::Tensor>& terms) {
  const std::map<std::string, double> weight{{"recon", w.recon}, {"av", w.av},       {"vv", w.vv},
                                             {"gan", w.gan},     {"store", w.store}, {"align", w.align},
                                             {"mouth", w.mouth}};
  torch::Tensor total;
  for (auto& [k, t] : terms) total = total.defined() ? total + weight.at(k) * t : weight.at(k) * t;
  return total;
}

torch::Tensor discriminator_loss(Discriminator& disc, const torch::Tensor& real, const torch::Tensor& generated) {
  auto real_logit = disc->forward(real);
  auto fake_logit = disc->forward(generated.detach());
  return torch::binary_cross_entropy_with_logits(real_logit, torch::ones_like(real_logit)) +
         torch::binary_cross_entropy_with_logits(fake_logit, torch::zeros_like(fake_logit));
}

}  // namespace stf
