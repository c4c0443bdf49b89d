#include "model/synctalkface.h"

#include "model/blocks.h"

namespace stf {

SyncTalkFaceImpl::SyncTalkFaceImpl(const ModelConfig& c) : config_(c) {
  c.validate();
  const int64_t S = c.image_size, F = c.feature;
  audio_encoder = register_module("audio_encoder", AudioEncoder(c.audio_width, F, c.residual_blocks));
  identity_encoder = register_module("identity_encoder", IdentityEncoder(S, c.identity_widths, c.residual_blocks));
  decoder = register_module("decoder", Decoder(S, F, c.identity_widths, c.decoder_widths, c.residual_blocks));
  if (c.memory) {
    lip_encoder = register_module("lip_encoder", LipEncoder(S, c.lip_width, F, c.residual_blocks));
    memory = register_module("memory", AudioLipMemory(c.slots, F, c.kappa, c.slot_init_std));
    dropout_ = register_module("dropout", torch::nn::Dropout(c.dropout));
    fusion_ = register_module("fusion", torch::nn::Linear(2 * F, F));  // PAPER.md: 1024 -> 512 (code)
  }
}

std::vector<torch::Tensor> SyncTalkFaceImpl::encode_identity(torch::Tensor identity) {
  return identity_encoder->forward(identity);  // 7 skips, (B, w_i, S/2^i, S/2^i) ... (B, w6, 1, 1)
}

torch::Tensor SyncTalkFaceImpl::fuse(torch::Tensor f_aud, torch::Tensor lip_feature) {
  auto x = torch::cat({f_aud, lip_feature}, 1);  // (B, 2C)
  FlopCounter::add(2 * x.size(0) * fusion_->weight.numel());
  return fusion_->forward(dropout_->forward(x));  // (B, C)
}

torch::Tensor SyncTalkFaceImpl::bottleneck_from_audio(torch::Tensor f_aud) {
  if (!memory) return f_aud;                      // Wav2Lip-style: the audio feature alone
  MemoryOutput m = memory->forward(f_aud);
  return fuse(f_aud, m.recalled);                 // (B, C)
}

torch::Tensor SyncTalkFaceImpl::decode(torch::Tensor bottleneck, const std::vector<torch::Tensor>& skips) {
  return decoder->forward(bottleneck, skips);     // (B, 3, S, S)
}

torch::Tensor SyncTalkFaceImpl::forward(torch::Tensor mel, torch::Tensor identity) {
  auto f_aud = audio_encoder->forward(mel);       // (B, C)
  return decode(bottleneck_from_audio(f_aud), encode_identity(identity));
}

GeneratorOutput SyncTalkFaceImpl::forward_train(torch::Tensor mel, torch::Tensor identity, torch::Tensor lips) {
  GeneratorOutput out;
  auto f_aud = audio_encoder->forward(mel);       // (B, C)
  auto skips = encode_identity(identity);
  if (!memory) {
    out.recalled_image = decode(f_aud, skips);
    return out;
  }
  out.lip_feature = lip_encoder->forward(lips);   // (B, C)
  out.memory = memory->forward(f_aud, out.lip_feature);
  out.recalled_image = decode(fuse(f_aud, out.memory.recalled), skips);  // I_g
  out.stored_image = decode(fuse(f_aud, out.memory.stored), skips);      // I_G
  return out;
}

torch::Tensor mask_upper_half(const torch::Tensor& faces) {
  auto out = faces.clone();
  const int64_t S = faces.size(-2);
  out.narrow(-2, 0, S / 2).zero_();
  return out;
}

torch::Tensor identity_input(const torch::Tensor& frame, const torch::Tensor& reference) {
  auto masked = frame.clone();
  const int64_t S = frame.size(-2);
  masked.narrow(-2, S / 2, S - S / 2).zero_();    // lower half zeroed
  return torch::cat({masked, reference}, 1);       // (B, 6, S, S)
}

torch::Tensor SyncTalkFaceImpl::inference_identity(const torch::Tensor& frame, const torch::Tensor& reference) const {
  return identity_input(frame, config_.hide_ref_mouth ? hide_mouth(reference) : reference);
}

torch::Tensor mouth_region(const torch::Tensor& crops) {
  const int64_t S = crops.size(-1);
  return crops.slice(2, S / 2, S * 4 / 5).slice(3, S / 4, S * 3 / 4);
}

torch::Tensor hide_mouth(const torch::Tensor& crops) {
  namespace F = torch::nn::functional;
  auto out = crops.clone();
  auto region = mouth_region(out);  // (N, 3, h, w), a view into out
  auto coarse = F::adaptive_avg_pool2d(region, F::AdaptiveAvgPool2dFuncOptions({2, 2}));  // (N, 3, 2, 2)
  region.copy_(F::interpolate(coarse, F::InterpolateFuncOptions()
                                          .size(std::vector<int64_t>{region.size(2), region.size(3)})
                                          .mode(torch::kBilinear)
                                          .align_corners(true)));
  return out;  // (N, 3, S, S)
}

int64_t parameter_count(torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

}  // namespace stf
