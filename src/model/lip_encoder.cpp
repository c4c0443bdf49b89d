#include "model/lip_encoder.h"

#include "model/blocks.h"

namespace stf {

LipEncoderImpl::LipEncoderImpl(int64_t S, int64_t l, int64_t feature, int r)
    : fold_(register_module("fold", torch::nn::Conv3d(torch::nn::Conv3dOptions(3, l, {5, 7, 7})
                                                          .stride({1, 2, 2})
                                                          .padding({0, 3, 3})))),
      fold_bn_(register_module("fold_bn", torch::nn::BatchNorm3d(l))) {
  torch::nn::Sequential s;
  add_down_stage(s, l, 2 * l, 3, 2, 1, r);          // (B, 2l, S/4, S/4)
  add_down_stage(s, 2 * l, 4 * l, 3, 2, 1, r);      // (B, 4l, S/8, S/8)
  add_down_stage(s, 4 * l, 8 * l, 3, 2, 1, r);      // (B, 8l, S/16, S/16)
  add_down_stage(s, 8 * l, 16 * l, 3, 2, 1, r);     // (B, 16l, S/32, S/32)
  s->push_back(ConvBlock(16 * l, feature, S / 32, 1, 0));  // (B, F, 1, 1)
  s->push_back(ConvBlock(feature, feature, 1, 1, 0));      // (B, F, 1, 1)
  body_ = register_module("body", s);
}

torch::Tensor LipEncoderImpl::forward(torch::Tensor frames) {
  auto x = fold_->forward(frames.to(fold_->weight.scalar_type()));  // (B, l, 1, S/2, S/2)
  FlopCounter::add_conv(x, fold_->weight);
  x = torch::relu(fold_bn_->forward(x));
  x = x.squeeze(2);                                                  // (B, l, S/2, S/2)
  return body_->forward(x).flatten(1);                               // (B, F)
}

}  // namespace stf
