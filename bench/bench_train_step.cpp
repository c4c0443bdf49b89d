// One full training step of a configuration on a device, on random batches:
//  1. check: with the same weights and inputs, the device gives the CPU's
//     inference output, loss terms and gradients (TF32 off while checking),
//     and its bfloat16 inference (generate --precision bf16) stays close to it;
//  2. speed: mean wall time of a generator step (forward, all six losses,
//     backward, Adam, the discriminator's step) and of a SyncNet step, and
//     the inference frames/s of the generator, in the device's default
//     precision settings (as `train` runs).
// It needs the model layer alone, so it builds against any LibTorch
// (cmake -DSTF_MODEL_ONLY=ON on a machine with only a PyTorch wheel).
//
//   bench_train_step [--config lite|paper|FILE] [--device cpu|cuda|cuda:N]
//                    [--batch WINDOWS] [--steps N] [--threads N] [--precision fp32|bf16]
// (--precision bf16: the generator step as `train --precision bf16` runs it)
// Prints one JSON object per line; exits 1 when the check fails.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <torch/torch.h>

#include "model/config.h"
#include "model/discriminator.h"
#include "model/lip_encoder.h"
#include "model/precision.h"
#include "model/syncnet.h"
#include "model/synctalkface.h"
#include "stf/error.h"
#include "train/batch.h"
#include "train/losses.h"

using namespace stf;

namespace {

struct Nets {
  SyncTalkFace gen{nullptr};
  SyncNet sync{nullptr};
  LipEncoder critic{nullptr};
  Discriminator disc{nullptr};
  explicit Nets(const ModelConfig& c)
      : gen(c),
        sync(c.image_size, c.sync_width, c.sync_feature, c.residual_blocks),
        disc(c.disc_width, c.disc_patches) {
    if (c.memory) critic = LipEncoder(c.image_size, c.lip_width, c.feature, c.residual_blocks);
  }
  std::vector<torch::nn::Module*> all() {
    std::vector<torch::nn::Module*> m{gen.get(), sync.get(), disc.get()};
    if (critic) m.push_back(critic.get());
    return m;
  }
  void to(const torch::Device& d) {
    for (auto* m : all()) m->to(d);
  }
  // Drops every gradient (they stay on the device they were made on).
  void clear_grads() {
    for (auto* m : all())
      for (auto& p : m->parameters()) p.mutable_grad() = torch::Tensor();
  }
  void eval() {
    for (auto* m : all()) m->eval();
  }
};

GeneratorBatch random_generator_batch(const ModelConfig& c, int64_t windows) {
  const int64_t S = c.image_size, n = windows * 5;
  GeneratorBatch b;
  b.target = torch::rand({n, 3, S, S});
  b.identity = torch::cat({mask_upper_half(b.target), torch::rand({n, 3, S, S})}, 1);
  b.lips = mask_upper_half(torch::rand({n, 5, 3, S, S})).transpose(1, 2).contiguous();
  b.mel = torch::randn({n, 1, 80, 16});
  b.sync_mel = torch::randn({windows, 1, 80, 16});
  return b;
}

SyncBatch random_sync_batch(const ModelConfig& c, int64_t windows) {
  const int64_t S = c.image_size;
  return {torch::rand({windows, 15, S / 2, S}), torch::randn({windows, 1, 80, 16}),
          torch::randint(0, 2, {windows}).to(torch::kFloat32)};
}

void sync_device(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize();
}

double max_abs(const torch::Tensor& a) { return a.abs().max().item<double>(); }

// Losses and gradients in eval mode (no dropout, BatchNorm on running
// statistics), so the CPU and the device compute the same function.
struct Snapshot {
  torch::Tensor inference;
  std::map<std::string, double> terms;
  std::vector<torch::Tensor> grads;
};

Snapshot snapshot(const ModelConfig& c, Nets& n, const GeneratorBatch& b) {
  Snapshot s;
  n.eval();
  {
    torch::NoGradGuard ng;
    s.inference = n.gen->forward(b.mel, b.identity).to(torch::kCPU);
  }
  n.clear_grads();
  GeneratorOutput out = n.gen->forward_train(b.mel, b.identity, b.lips);
  auto terms = generator_losses(c, b, out, n.sync, n.critic, n.disc);
  weighted_total(c.loss, terms).backward();
  for (auto& [k, t] : terms) s.terms[k] = t.item<double>();
  for (auto& p : n.gen->parameters())
    s.grads.push_back(p.grad().defined() ? p.grad().to(torch::kCPU) : torch::zeros_like(p, torch::kCPU));
  return s;
}

// The device against the CPU: prints the differences, returns whether they
// are within float32 rounding for networks of this depth.
bool check(const ModelConfig& c, const torch::Device& device, int64_t windows) {
  const bool tf32_blas = at::globalContext().allowTF32CuBLAS(), tf32_dnn = at::globalContext().allowTF32CuDNN();
  at::globalContext().setAllowTF32CuBLAS(false);
  at::globalContext().setAllowTF32CuDNN(false);
  torch::manual_seed(7);
  Nets n(c);
  GeneratorBatch b = random_generator_batch(c, windows);
  Snapshot cpu = snapshot(c, n, b);
  n.clear_grads();
  n.to(device);
  GeneratorBatch on_device = b.to(device);
  Snapshot dev = snapshot(c, n, on_device);
  nlohmann::json j{{"check", c.name}, {"device", device.str()}};
  j["inference_max_abs_diff"] = max_abs(cpu.inference - dev.inference);
  double term_rel = 0;
  for (auto& [k, v] : cpu.terms) {
    double rel = std::abs(v - dev.terms.at(k)) / std::max(std::abs(v), 1e-2);  // small terms: absolute
    j["loss_" + k] = {v, dev.terms.at(k)};
    term_rel = std::max(term_rel, rel);
  }
  double grad_rel = 0;
  for (size_t i = 0; i < cpu.grads.size(); ++i) {
    double scale = max_abs(cpu.grads[i]);
    if (scale > 0) grad_rel = std::max(grad_rel, max_abs(cpu.grads[i] - dev.grads[i]) / scale);
  }
  j["loss_max_rel_diff"] = term_rel;
  j["grad_max_rel_diff"] = grad_rel;  // per parameter tensor, relative to its largest gradient
  {  // generate's --precision bf16 on this device, against its float32 inference
    torch::NoGradGuard ng;
    prepare_inference(*n.gen, Precision::bf16);
    j["bf16_inference_max_abs_diff"] = max_abs(n.gen->forward(on_device.mel, on_device.identity).to(torch::kCPU) - dev.inference);
  }
  const bool ok = j["inference_max_abs_diff"].get<double>() < 1e-3 && term_rel < 1e-3 && grad_rel < 1e-2 &&
                  j["bf16_inference_max_abs_diff"].get<double>() < 0.05;
  j["ok"] = ok;
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
  at::globalContext().setAllowTF32CuBLAS(tf32_blas);
  at::globalContext().setAllowTF32CuDNN(tf32_dnn);
  return ok;
}

template <typename Step>
double seconds_per_step(const torch::Device& device, int steps, Step step) {
  for (int i = 0; i < 2; ++i) step();  // warm-up (cuDNN algorithm search, allocator)
  sync_device(device);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) step();
  sync_device(device);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / steps;
}

void speed(const ModelConfig& c, const torch::Device& device, int64_t windows, int steps, bool bf16) {
  torch::manual_seed(1);
  Nets n(c);
  n.to(device);
  n.gen->train();
  n.disc->train();
  n.sync->eval();
  for (auto& p : n.sync->parameters()) p.requires_grad_(false);
  if (n.critic) {
    for (auto& p : n.critic->parameters()) p.requires_grad_(false);
  }
  auto adam = [&](const std::vector<torch::Tensor>& p, double lr) {
    return torch::optim::Adam(p, torch::optim::AdamOptions(lr).betas(std::make_tuple(c.adam_beta1, c.adam_beta2)));
  };
  torch::optim::Adam opt_g = adam(n.gen->parameters(), c.lr_generator);
  torch::optim::Adam opt_d = adam(n.disc->parameters(), c.lr_discriminator);
  GeneratorBatch b = random_generator_batch(c, windows).to(device);
  double last_total = 0;
  const double gen_s = seconds_per_step(device, steps, [&] {
    GeneratorOutput out;
    torch::Tensor total;
    {
      BfloatAutocast autocast(bf16);
      out = n.gen->forward_train(b.mel, b.identity, b.lips);
      total = weighted_total(c.loss, generator_losses(c, b, out, n.sync, n.critic, n.disc));
    }
    opt_g.zero_grad();
    total.backward();
    opt_g.step();
    torch::Tensor d_loss;
    {
      BfloatAutocast autocast(bf16);
      d_loss = discriminator_loss(n.disc, b.target, out.recalled_image);
    }
    opt_d.zero_grad();
    d_loss.backward();
    opt_d.step();
    last_total = total.item<double>();  // the trainer reads its losses every step too
  });

  SyncNet sync(c.image_size, c.sync_width, c.sync_feature, c.residual_blocks);
  sync->to(device);
  sync->train();
  torch::optim::Adam opt_s = adam(sync->parameters(), c.lr_sync);
  SyncBatch sb = random_sync_batch(c, windows).to(device);
  const double sync_s = seconds_per_step(device, steps, [&] {
    auto p = sync->forward(sb.lower, sb.mel).clamp(1e-7, 1 - 1e-7);
    auto loss = torch::binary_cross_entropy(p, sb.label);
    opt_s.zero_grad();
    loss.backward();
    opt_s.step();
    loss.item<double>();
  });

  n.gen->eval();
  const double infer_s = seconds_per_step(device, steps, [&] {
    torch::NoGradGuard ng;
    n.gen->forward(b.mel, b.identity).sum().item<double>();
  });
  nlohmann::json j{{"speed", c.name},
                   {"device", device.str()},
                   {"threads", torch::get_num_threads()},
                   {"precision", bf16 ? "bf16" : "fp32"},
                   {"windows_per_step", windows},
                   {"generator_step_s", gen_s},
                   {"generator_windows_per_s", windows / gen_s},
                   {"sync_step_s", sync_s},
                   {"inference_frames_per_s", windows * 5 / infer_s},
                   {"final_total_loss", last_total},
                   {"generator_parameters", parameter_count(*n.gen)}};
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string config = "lite", device_name = "cpu";
  int64_t windows = 0;
  int steps = 5, threads = 0;
  bool bf16 = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "error: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--config") config = value();
    else if (a == "--device") device_name = value();
    else if (a == "--batch") windows = std::atoll(value().c_str());
    else if (a == "--steps") steps = std::atoi(value().c_str());
    else if (a == "--threads") threads = std::atoi(value().c_str());
    else if (a == "--precision") bf16 = value() == "bf16";
    else {
      std::fprintf(stderr,
                   "usage: bench_train_step [--config lite|paper|FILE] [--device cpu|cuda|cuda:N] "
                   "[--batch WINDOWS] [--steps N] [--threads N] [--precision fp32|bf16]\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  try {
    const ModelConfig c = ModelConfig::load(config);
    const torch::Device device(device_name);
    if (device.is_cuda() && !torch::cuda::is_available())
      throw Error("--device " + device_name + ": this LibTorch sees no CUDA device");
    if (threads > 0) torch::set_num_threads(threads);
    if (windows <= 0) windows = c.batch;
    const bool ok = check(c, device, 2);  // on the CPU: a run-to-run determinism check
    speed(c, device, windows, steps, bf16);
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
