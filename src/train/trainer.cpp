#include "train/trainer.h"

#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <opencv2/imgcodecs.hpp>

#include "core/progress.h"
#include "model/discriminator.h"
#include "model/syncnet.h"
#include "model/synctalkface.h"
#include "stf/cancel.h"
#include "stf/error.h"
#include "train/checkpoint.h"
#include "train/dataset.h"

namespace stf {

namespace fs = std::filesystem;

namespace {

// Batch k of a run depends only on (seed, k): resuming reproduces the run.
uint64_t batch_seed(uint64_t seed, int64_t step) { return seed * 1000003ull + static_cast<uint64_t>(step); }
constexpr uint64_t kValSeed = 0x5EEDull;

torch::optim::AdamOptions adam(const ModelConfig& c, double lr) {
  return torch::optim::AdamOptions(lr).betas(std::make_tuple(c.adam_beta1, c.adam_beta2));
}

// Keeps the last `keep` step checkpoints, the best by validation loss, and
// writes a JSONL log line per logged step.
class RunFolder {
 public:
  RunFolder(const TrainOptions& opt) : opt_(opt) {
    fs::create_directories(opt.out);
    log_.open(fs::path(opt.out) / "log.jsonl", std::ios::app);
    if (!log_) throw Error(opt.out + ": cannot write log.jsonl");
  }
  void log(const nlohmann::json& j) { log_ << j.dump() << "\n" << std::flush; }
  std::string save(const Checkpoint& c, int64_t step) {
    std::string path = (fs::path(opt_.out) / ("step_" + std::to_string(step) + ".ckpt")).string();
    save_checkpoint(path, c);
    save_checkpoint((fs::path(opt_.out) / "last.ckpt").string(), c);
    saved_.push_back(path);
    while (static_cast<int>(saved_.size()) > opt_.keep) {
      fs::remove(saved_.front());
      saved_.erase(saved_.begin());
    }
    return path;
  }
  void save_best(const Checkpoint& c) { save_checkpoint((fs::path(opt_.out) / "best.ckpt").string(), c); }

 private:
  const TrainOptions& opt_;
  std::ofstream log_;
  std::vector<std::string> saved_;
};

void check_finite(double loss, int64_t step, const std::string& last_ckpt) {
  if (std::isfinite(loss)) return;
  throw Error("loss became " + std::string(std::isnan(loss) ? "NaN" : "infinite") + " at step " +
              std::to_string(step) + "; the last good checkpoint is " +
              (last_ckpt.empty() ? std::string("none (no checkpoint written yet)") : last_ckpt) +
              "; try a lower --lr");
}

std::string format_losses(const std::map<std::string, double>& l) {
  std::string s;
  char buf[64];
  for (const auto& [k, v] : l) {
    std::snprintf(buf, sizeof buf, "%s%s %.4f", s.empty() ? "" : " ", k.c_str(), v);
    s += buf;
  }
  return s;
}

// A row per sample: masked input | reference | generated | real.
void write_sample_grid(const std::string& path, const GeneratorBatch& b, const torch::Tensor& generated) {
  const int64_t rows = std::min<int64_t>(4, generated.size(0));
  std::vector<torch::Tensor> lines;
  for (int64_t i = 0; i < rows; ++i) {
    auto id = b.identity[i];
    lines.push_back(torch::cat({id.narrow(0, 0, 3), id.narrow(0, 3, 3), generated[i], b.target[i]}, 2));
  }
  auto img = torch::cat(lines, 1).clamp(0, 1).mul(255).to(torch::kUInt8).permute({1, 2, 0}).contiguous();
  cv::Mat m(static_cast<int>(img.size(0)), static_cast<int>(img.size(1)), CV_8UC3, img.data_ptr());
  cv::imwrite(path, m);
}

// Builds the next `workers` batches on worker threads while a step trains.
// Batches depend only on (seed, step), so the number of workers and their
// timing do not change results.
template <typename Batch>
class Prefetcher {
 public:
  Prefetcher(std::function<Batch(uint64_t)> make, uint64_t seed, int64_t first, int64_t last, int workers)
      : make_(std::move(make)), seed_(seed), next_(first), last_(last) {
    for (int w = 0; w < std::max(1, workers) && next_ <= last_; ++w) start();
  }
  Batch take(int64_t step) {
    STF_ASSERT(!pending_.empty() && pending_.front().first == step);
    Batch b = pending_.front().second.get();
    pending_.pop_front();
    if (next_ <= last_) start();
    return b;
  }

 private:
  void start() {
    const int64_t step = next_++;
    pending_.emplace_back(step, std::async(std::launch::async, [this, step] { return make_(batch_seed(seed_, step)); }));
  }
  std::function<Batch(uint64_t)> make_;
  uint64_t seed_;
  int64_t next_, last_;
  std::deque<std::pair<int64_t, std::future<Batch>>> pending_;
};

// The validation split, or null (with a warning) when the dataset has none.
std::unique_ptr<Dataset> open_validation(const TrainOptions& opt) {
  try {
    return std::make_unique<Dataset>(opt.data, "val", opt.config.image_size);
  } catch (const Error&) {
    if (!opt.quiet) std::fprintf(stderr, "warning: no validation clips; reporting training loss only\n");
    return nullptr;
  }
}

// Loads --resume into ckpt after checking its kind and configuration.
// Returns the step to continue from (0 without --resume).
int64_t resume_into(const TrainOptions& opt, const std::string& kind, const std::string& what, Checkpoint& ckpt) {
  if (opt.resume.empty()) return 0;
  nlohmann::json m = read_checkpoint_meta(opt.resume);
  if (m.value("kind", "") != kind)
    throw Error(opt.resume + ": not a " + what + " checkpoint (kind " + m.value("kind", "?") + ")");
  if (ModelConfig::from_json(m.at("config")).to_json() != opt.config.to_json())
    throw Error(opt.resume + ": checkpoint has another configuration than --config and the loss flags");
  load_checkpoint(opt.resume, ckpt);
  ckpt.meta["best_val"] = m.value("best_val", 1e9);
  return m.at("step").get<int64_t>();
}

// An explicit --lr replaces the learning rate restored with the optimiser
// state (e.g. to continue at a lower rate after a divergence).
void override_lr(torch::optim::Adam& optim, double lr) {
  if (lr <= 0) return;
  for (auto& group : optim.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
}

}  // namespace

TrainResult train_sync(const TrainOptions& opt) {
  const ModelConfig& c = opt.config;
  const int batch = opt.batch > 0 ? opt.batch : c.batch;
  Dataset train(opt.data, "train", c.image_size);
  std::unique_ptr<Dataset> val = open_validation(opt);
  torch::manual_seed(opt.seed);
  SyncNet net(c.image_size, c.sync_width, c.sync_feature, c.residual_blocks);
  torch::optim::Adam optim(net->parameters(), adam(c, opt.lr > 0 ? opt.lr : c.lr_sync));
  nlohmann::json meta{{"kind", "sync"}, {"config", c.to_json()}, {"step", 0}, {"best_val", 1e9}};
  Checkpoint ckpt{meta, {{"syncnet", net.get()}}, {{"syncnet", &optim}}};
  const int64_t start = resume_into(opt, "sync", "SyncNet", ckpt);
  override_lr(optim, opt.lr);
  RunFolder run(opt);
  TrainResult result;
  result.last_checkpoint = opt.resume;  // the last good checkpoint until this run writes one
  Progress progress("train-sync", opt.steps, "steps", !opt.quiet);
  double sum = 0, acc_sum = 0;
  int n = 0;
  bool first_interval = true;
  auto evaluate = [&]() {
    torch::NoGradGuard ng;
    net->eval();
    double bce = 0, acc = 0;
    for (int v = 0; v < opt.val_batches; ++v) {
      SyncBatch b = val->sync_batch(batch, kValSeed + v);
      auto p = net->forward(b.lower, b.mel).clamp(1e-7, 1 - 1e-7);
      bce += torch::binary_cross_entropy(p, b.label).item<double>();
      acc += ((p > 0.5).to(torch::kFloat32) == b.label).to(torch::kFloat32).mean().item<double>();
    }
    net->train();
    return std::make_pair(bce / opt.val_batches, acc / opt.val_batches);
  };
  Prefetcher<SyncBatch> batches([&](uint64_t s) { return train.sync_batch(batch, s); }, opt.seed, start + 1, opt.steps,
                                opt.workers);
  for (int64_t step = start + 1; step <= opt.steps; ++step) {
    check_cancelled();
    SyncBatch b = batches.take(step);
    torch::manual_seed(batch_seed(opt.seed, step));
    auto p = net->forward(b.lower, b.mel).clamp(1e-7, 1 - 1e-7);
    auto loss = torch::binary_cross_entropy(p, b.label);
    optim.zero_grad();
    loss.backward();
    optim.step();
    double l = loss.item<double>();
    check_finite(l, step, result.last_checkpoint);
    sum += l;
    acc_sum += ((p > 0.5).to(torch::kFloat32) == b.label).to(torch::kFloat32).mean().item<double>();
    ++n;
    ckpt.meta["step"] = step;
    if (step % opt.log_every == 0 || step == opt.steps) {
      nlohmann::json j{{"step", step}, {"bce", sum / n}, {"acc", acc_sum / n}};
      if (first_interval) result.first_loss = sum / n, first_interval = false;
      result.last_loss = sum / n;
      if (val && (step % opt.val_every == 0 || step == opt.steps)) {
        auto [vb, va] = evaluate();
        j["val_bce"] = vb;
        j["val_acc"] = va;
        if (vb < ckpt.meta["best_val"].get<double>()) {
          ckpt.meta["best_val"] = vb;
          run.save_best(ckpt);
        }
      }
      run.log(j);
      progress.update(step, format_losses({{"bce", sum / n}, {"acc", acc_sum / n}}));
      sum = acc_sum = 0;
      n = 0;
    }
    if (step % opt.ckpt_every == 0 || step == opt.steps) result.last_checkpoint = run.save(ckpt, step);
  }
  progress.finish();
  result.seconds = progress.elapsed();
  result.steps = opt.steps;
  result.best_val = ckpt.meta["best_val"];
  return result;
}

TrainResult train_generator(const TrainOptions& opt) {
  const ModelConfig& c = opt.config;
  const LossWeights& w = c.loss;
  const int batch = opt.batch > 0 ? opt.batch : c.batch;
  if (!c.memory && (w.vv > 0 || w.store > 0 || w.align > 0))
    throw Error("without the memory there is no lip encoder: also pass --no-vv (L_store and L_align are off)");
  Dataset train(opt.data, "train", c.image_size);
  std::unique_ptr<Dataset> val = open_validation(opt);
  torch::manual_seed(opt.seed);
  SyncTalkFace gen(c);
  Discriminator disc(c.disc_width);
  SyncNet sync(c.image_size, c.sync_width, c.sync_feature, c.residual_blocks);
  if (w.av > 0) {
    if (opt.sync.empty()) throw Error("L_av needs the trained SyncNet expert: pass --sync DIR/best.ckpt (or --no-av)");
    nlohmann::json m = read_checkpoint_meta(opt.sync);
    if (m.value("kind", "") != "sync") throw Error(opt.sync + ": not a SyncNet checkpoint");
    ModelConfig sc = ModelConfig::from_json(m.at("config"));
    if (sc.image_size != c.image_size || sc.sync_width != c.sync_width || sc.sync_feature != c.sync_feature)
      throw Error(opt.sync + ": the SyncNet was trained for another configuration");
    load_checkpoint(opt.sync, {m, {{"syncnet", sync.get()}}, {}});
  }
  sync->eval();  // frozen expert
  for (auto& p : sync->parameters()) p.requires_grad_(false);
  LipEncoder critic{nullptr};  // frozen copy of the lip encoder for L_vv
  if (c.memory) {
    critic = LipEncoder(c.image_size, c.lip_width, c.feature, c.residual_blocks);
    critic->eval();
    for (auto& p : critic->parameters()) p.requires_grad_(false);
  }
  auto refresh_critic = [&]() {
    if (!critic) return;
    torch::NoGradGuard ng;
    auto src = gen->lip_encoder->named_parameters();
    for (auto& item : critic->named_parameters()) item.value().copy_(src[item.key()]);
    auto srcb = gen->lip_encoder->named_buffers();
    for (auto& item : critic->named_buffers()) item.value().copy_(srcb[item.key()]);
  };
  const double lr_g = opt.lr > 0 ? opt.lr : c.lr_generator;
  torch::optim::Adam opt_g(gen->parameters(), adam(c, lr_g));
  torch::optim::Adam opt_d(disc->parameters(), adam(c, c.lr_discriminator));
  nlohmann::json meta{{"kind", "generator"}, {"config", c.to_json()}, {"step", 0}, {"best_val", 1e9}};
  refresh_critic();
  Checkpoint ckpt{meta, {{"generator", gen.get()}, {"discriminator", disc.get()}},
                  {{"generator", &opt_g}, {"discriminator", &opt_d}}};
  if (critic) ckpt.modules["lip_critic"] = critic.get();  // its copy time matters for an exact resume
  const int64_t start = resume_into(opt, "generator", "generator", ckpt);
  override_lr(opt_g, opt.lr);
  RunFolder run(opt);
  TrainResult result;
  result.last_checkpoint = opt.resume;  // the last good checkpoint until this run writes one
  Progress progress("train", opt.steps, "steps", !opt.quiet);
  std::map<std::string, double> sums;
  int n = 0;
  bool first_interval = true;
  Prefetcher<GeneratorBatch> batches([&](uint64_t s) { return train.generator_batch(batch, s); }, opt.seed, start + 1,
                                     opt.steps, opt.workers);
  for (int64_t step = start + 1; step <= opt.steps; ++step) {
    check_cancelled();
    GeneratorBatch b = batches.take(step);
    torch::manual_seed(batch_seed(opt.seed, step));
    if (c.memory && c.vv_refresh > 0 && step % c.vv_refresh == 0) refresh_critic();

    GeneratorOutput out = gen->forward_train(b.mel, b.identity, b.lips);
    std::vector<torch::Tensor> images{out.recalled_image};  // I_g, and I_G with the memory
    if (out.stored_image.defined()) images.push_back(out.stored_image);
    const int64_t S = c.image_size;
    std::map<std::string, torch::Tensor> terms;
    terms["recon"] = torch::zeros({});
    for (auto& img : images) terms["recon"] = terms["recon"] + (img - b.target).abs().mean();
    if (w.av > 0) {  // PAPER.md: L_av = -log cos(audio, generated window), both paths
      terms["av"] = torch::zeros({});
      for (auto& img : images) {
        auto lower = stack_lower_halves(img.view({batch, 5, 3, S, S}));
        terms["av"] = terms["av"] - sync->forward(lower, b.sync_mel).clamp_min(1e-7).log().mean();
      }
    }
    if (w.vv > 0) {  // L1 between frozen lip-encoder embeddings of generated and real windows
      auto window = [&](const torch::Tensor& x) {
        return mask_upper_half(x.view({batch, 5, 3, S, S})).transpose(1, 2);  // (B, 3, 5, S, S)
      };
      auto real = critic->forward(window(b.target)).detach();
      terms["vv"] = torch::zeros({});
      for (auto& img : images) terms["vv"] = terms["vv"] + (critic->forward(window(img)) - real).abs().mean();
    }
    if (w.gan > 0)  // generator side of the quality discriminator
      terms["gan"] = torch::binary_cross_entropy_with_logits(disc->forward(out.recalled_image),
                                                             torch::ones({out.recalled_image.size(0)}));
    if (c.memory) {
      terms["store"] = out.memory.store_loss;
      terms["align"] = out.memory.align_loss;
    }
    const std::map<std::string, double> weight{{"recon", w.recon}, {"av", w.av}, {"vv", w.vv},
                                               {"gan", w.gan}, {"store", w.store}, {"align", w.align}};
    auto total = torch::zeros({});
    for (auto& [k, t] : terms) total = total + weight.at(k) * t;
    opt_g.zero_grad();
    total.backward();
    opt_g.step();
    double total_v = total.item<double>();
    check_finite(total_v, step, result.last_checkpoint);
    if (w.gan > 0) {
      auto real_logit = disc->forward(b.target);
      auto fake_logit = disc->forward(out.recalled_image.detach());
      auto d_loss = torch::binary_cross_entropy_with_logits(real_logit, torch::ones_like(real_logit)) +
                    torch::binary_cross_entropy_with_logits(fake_logit, torch::zeros_like(fake_logit));
      opt_d.zero_grad();
      d_loss.backward();
      opt_d.step();
      sums["disc"] += d_loss.item<double>();
    }
    for (auto& [k, t] : terms) sums[k] += t.item<double>();
    sums["total"] += total_v;
    ++n;
    ckpt.meta["step"] = step;
    if (step % opt.log_every == 0 || step == opt.steps) {
      nlohmann::json j{{"step", step}};
      std::map<std::string, double> mean;
      for (auto& [k, v] : sums) j[k] = mean[k] = v / n;
      if (first_interval) result.first_loss = mean["recon"], first_interval = false;
      result.last_loss = mean["recon"];
      if (val && (step % opt.val_every == 0 || step == opt.steps)) {
        torch::NoGradGuard ng;
        gen->eval();
        double l1 = 0;
        for (int v = 0; v < opt.val_batches; ++v) {
          GeneratorBatch vb = val->generator_batch(batch, kValSeed + v);
          l1 += (gen->forward(vb.mel, vb.identity) - vb.target).abs().mean().item<double>();
        }
        gen->train();
        j["val_l1"] = l1 / opt.val_batches;
        if (j["val_l1"].get<double>() < ckpt.meta["best_val"].get<double>()) {
          ckpt.meta["best_val"] = j["val_l1"];
          run.save_best(ckpt);
        }
      }
      run.log(j);
      progress.update(step, format_losses(mean));
      sums.clear();
      n = 0;
    }
    if (opt.sample_every > 0 && step % opt.sample_every == 0)
      write_sample_grid((fs::path(opt.out) / ("sample_" + std::to_string(step) + ".png")).string(), b,
                        out.recalled_image.detach());
    if (step % opt.ckpt_every == 0 || step == opt.steps) result.last_checkpoint = run.save(ckpt, step);
  }
  progress.finish();
  result.seconds = progress.elapsed();
  result.steps = opt.steps;
  result.best_val = ckpt.meta["best_val"];
  return result;
}

}  // namespace stf
