#include "model/audio_encoder.h"

#include "model/blocks.h"

namespace stf {

AudioEncoderImpl::AudioEncoderImpl(int64_t a, int64_t feature, int r) {
  torch::nn::Sequential s;
  add_down_stage(s, 1, a, 3, 1, 1, r);                        // (B, a, 80, 16)
  add_down_stage(s, a, 2 * a, 3, {3, 1}, 1, r);               // (B, 2a, 27, 16)
  add_down_stage(s, 2 * a, 4 * a, 3, 3, 1, r);                // (B, 4a, 9, 6)
  add_down_stage(s, 4 * a, 8 * a, 3, {3, 2}, 1, r);           // (B, 8a, 3, 3)
  s->push_back(ConvBlock(8 * a, feature, 3, 1, 0));                  // (B, F, 1, 1)
  s->push_back(ConvBlock(feature, feature, 1, 1, 0));                // (B, F, 1, 1)
  body_ = register_module("body", s);
}

torch::Tensor AudioEncoderImpl::forward(torch::Tensor mel) {
  mel = mel.to(parameters().front().scalar_type());  // float input to a bfloat16 model (prepare_inference)
  return body_->forward(mel).flatten(1);  // (B, F)
}

}  // namespace stf
