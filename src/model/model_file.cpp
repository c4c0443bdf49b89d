#include "model/model_file.h"

#include <cstdlib>
#include <filesystem>

#include "stf/error.h"
#include "train/checkpoint.h"

namespace fs = std::filesystem;

namespace stf {

static std::string models_dir() {
  const char* env = std::getenv("STF_MODELS_DIR");
  return env ? env : STF_MODELS_DIR;
}

std::string default_model_path() { return (fs::path(models_dir()) / "synctalkface_lite.stfm").string(); }

std::string default_syncnet_path() { return (fs::path(models_dir()) / "syncnet_lite.stfm").string(); }

std::string bundled_example_face() {
  return (fs::path(models_dir()).parent_path() / "examples" / "grace_hopper_512x512.jpg").string();
}

namespace {

// The module a file holds: "generator" or "syncnet", from its meta.
std::string module_of(const nlohmann::json& meta) {
  const std::string kind = meta.value("kind", "");
  if (kind == "model") return meta.value("module", "");
  if (kind == "generator") return "generator";
  if (kind == "sync") return "syncnet";
  return "";
}

ModelConfig config_of(const std::string& path, const nlohmann::json& meta) {
  try {
    ModelConfig c = ModelConfig::from_json(meta.at("config"));
    c.validate();
    return c;
  } catch (const std::exception& e) {
    throw Error(path + ": model file has no usable configuration (" + std::string(e.what()) + ")");
  }
}

// Loads `module` from `path` into `net`; fp16 files are read into a half
// copy of the module and converted back to fp32.
void load_into(const std::string& path, const nlohmann::json& meta, const std::string& name, torch::nn::Module& net) {
  const bool half = meta.value("dtype", "float32") == "float16";
  if (half) net.to(torch::kHalf);
  load_checkpoint(path, Checkpoint{meta, {{name, &net}}, {}});
  if (half) net.to(torch::kFloat);
  net.eval();
}

nlohmann::json expect(const std::string& path, const std::string& module) {
  nlohmann::json meta = read_checkpoint_meta(path);
  const std::string found = module_of(meta);
  if (found != module)
    throw Error(path + ": holds " + (found.empty() ? std::string("no network") : "a " + found) + ", expected a " +
                module + " (train with `synctalkface " + (module == "syncnet" ? "train-sync" : "train") + "`)");
  return meta;
}

}  // namespace

std::string export_model(const std::string& checkpoint, const std::string& out, bool fp16) {
  nlohmann::json meta = read_checkpoint_meta(checkpoint);
  const std::string module = module_of(meta);
  if (module.empty()) throw Error(checkpoint + ": not a generator or SyncNet checkpoint");
  ModelConfig c = config_of(checkpoint, meta);
  std::shared_ptr<torch::nn::Module> net;
  if (module == "generator") net = load_generator(checkpoint).ptr();
  else net = load_syncnet(checkpoint).ptr();
  if (fp16) net->to(torch::kHalf);
  nlohmann::json m{{"kind", "model"},
                   {"module", module},
                   {"config", c.to_json()},
                   {"step", meta.value("step", 0)},
                   {"best_val", meta.value("best_val", 0.0)},
                   {"source", fs::path(checkpoint).filename().string()},
                   {"dtype", fp16 ? "float16" : "float32"}};
  save_checkpoint(out, Checkpoint{m, {{module, net.get()}}, {}});
  return module;
}

SyncTalkFace load_generator(const std::string& path) {
  nlohmann::json meta = expect(path, "generator");
  SyncTalkFace net(config_of(path, meta));
  load_into(path, meta, "generator", *net);
  return net;
}

SyncNet load_syncnet(const std::string& path) {
  nlohmann::json meta = expect(path, "syncnet");
  ModelConfig c = config_of(path, meta);
  SyncNet net(c.image_size, c.sync_width, c.sync_feature, c.residual_blocks);
  load_into(path, meta, "syncnet", *net);
  return net;
}

}  // namespace stf
