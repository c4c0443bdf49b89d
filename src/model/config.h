// Model and training configuration. Saved as JSON inside every checkpoint,
// so a checkpoint alone rebuilds its model.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "stf/crop_placement.h"

namespace stf {

// PAPER.md: L = l1 L_recon + l2 L_av + l3 L_vv + l4 L_gan + l5 L_store + l6 L_align
struct LossWeights {
  double recon = 10, av = 0.2, vv = 0.2, gan = 0.2, store = 0.2, align = 0.2;
  double mouth = 0;  // not in the paper: an extra L1 on the crop's mouth region (train --mouth-weight)
};

struct ModelConfig {
  std::string name = "paper";
  int image_size = 128;                                          // face crop side, divisible by 32
  std::vector<int> identity_widths{16, 32, 64, 128, 256, 512, 512};  // at S, S/2, ..., S/32, 1
  std::vector<int> decoder_widths{512, 512, 512, 384, 256, 128, 64}; // at 1, S/32, ..., S
  int residual_blocks = 2;   // residual 3x3 blocks after each downsampling/upsampling conv
  int audio_width = 32;      // audio encoder: widths a, 2a, 4a, 8a, then feature
  int lip_width = 32;        // lip encoder: widths l, 2l, 4l, 8l, 16l, then feature
  int feature = 512;         // C: f_aud, f_lip, memory slot width, decoder bottleneck
  bool memory = true;        // false: the decoder gets f_aud alone (Wav2Lip-style baseline)
  bool hide_ref_mouth = false;  // not in the paper: the reference's mouth is hidden (hide_mouth) in
                                // every input, as in training with --hide-ref-mouth 1
  CropPlacement crop = CropPlacement::bounds;  // where its face crops sit (the training data's;
                                              // generate places crops the same way)
  int slots = 96;            // S_mem
  double kappa = 16;         // addressing scale
  double slot_init_std = 0.5;
  double dropout = 0.5;      // fusion dropout
  int sync_width = 32;       // SyncNet expert: widths s..16s
  int sync_feature = 512;
  int disc_width = 32;       // quality discriminator
  bool disc_patches = false; // not in the paper: it judges 23 x 35 px patches, not the whole lower half
  LossWeights loss;
  double lr_generator = 1e-4, lr_discriminator = 5e-4, lr_sync = 1e-4;
  double adam_beta1 = 0.5, adam_beta2 = 0.999;
  int batch = 40;
  int vv_refresh = 1000;     // steps between copies of the lip encoder into the frozen L_vv critic

  // Built-in configurations: "paper" (PAPER.md) and "lite" (2-core CPU).
  static ModelConfig preset(const std::string& name);
  // A preset name or a JSON file path. Throws stf::Error with the reason.
  static ModelConfig load(const std::string& name_or_path);
  nlohmann::json to_json() const;
  static ModelConfig from_json(const nlohmann::json& j);
  void validate() const;  // throws stf::Error on an inconsistent config
};

}  // namespace stf
