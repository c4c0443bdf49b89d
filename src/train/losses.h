// The training objectives (PAPER.md "Losses"): the generator's six terms and
// the quality discriminator's own loss.
#pragma once
#include <map>
#include <string>
#include <torch/torch.h>

#include "model/config.h"
#include "model/discriminator.h"
#include "model/lip_encoder.h"
#include "model/syncnet.h"
#include "model/synctalkface.h"
#include "train/batch.h"

namespace stf {

// The generator's unweighted loss terms for one batch, by name: recon always;
// av, vv, gan and mouth when their weight is > 0; store and align with the memory.
// recon, av, vv and mouth sum over both decoding paths (I_g, and I_G with the memory).
// mouth (not in the paper) is the L1 over mouth_region (model/synctalkface.h) alone.
// sync: the frozen SyncNet expert; critic: the frozen lip-encoder copy (null
// without the memory); disc: the quality discriminator (its gradient reaches
// the generator only through the generated image).
std::map<std::string, torch::Tensor> generator_losses(const ModelConfig& c, const GeneratorBatch& b,
                                                      const GeneratorOutput& out, SyncNet& sync, LipEncoder& critic,
                                                      Discriminator& disc);

// L = sum of weight x term over the terms present.
torch::Tensor weighted_total(const LossWeights& w, const std::map<std::string, torch::Tensor>& terms);

// The discriminator's binary cross-entropy: real faces -> 1, generated -> 0.
// real, generated: (N, 3, S, S); generated is detached here.
torch::Tensor discriminator_loss(Discriminator& disc, const torch::Tensor& real, const torch::Tensor& generated);

}  // namespace stf
