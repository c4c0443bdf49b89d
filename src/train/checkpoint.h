// Checkpoint files: magic "STFCKPT\0", uint32 version, uint32 meta length,
// meta JSON {kind, step, config, ...}, then a LibTorch archive holding the
// modules and optimiser states by name. Written atomically.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <torch/torch.h>

namespace stf {

struct Checkpoint {
  nlohmann::json meta;  // kind ("sync" | "generator"), step, config, best_val, ...
  std::map<std::string, torch::nn::Module*> modules;
  std::map<std::string, torch::optim::Optimizer*> optimizers;
};

void save_checkpoint(const std::string& path, const Checkpoint& ckpt);
// Reads only the meta (kind, step, config); throws stf::Error naming the
// file on anything that is not a complete checkpoint of ours.
nlohmann::json read_checkpoint_meta(const std::string& path);
// Loads the named modules/optimisers (which must already have the right
// shapes); their tensors land on `device` whatever device saved them.
void load_checkpoint(const std::string& path, const Checkpoint& into, const torch::Device& device = torch::kCPU);

}  // namespace stf
