#include "train/trainer.h"

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <new>

#include "core/progress.h"
#include "model/discriminator.h"
#include "model/model_file.h"
#include "model/precision.h"
#include "model/syncnet.h"
#include "model/synctalkface.h"
#include "stf/cancel.h"
#include "stf/error.h"
#include "stf/files.h"
#include "train/checkpoint.h"
#include "train/dataset.h"
#include "train/losses.h"

namespace stf {

namespace fs = std::filesystem;

namespace {

// Batch k of a run depends only on (seed, k): resuming reproduces the run.
uint64_t batch_seed(uint64_t seed, int64_t step) { return seed * 1000003ull + static_cast<uint64_t>(step); }
constexpr uint64_t kValSeed = 0x5EEDull;

torch::optim::AdamOptions adam(const ModelConfig& c, double lr) {
  return torch::optim::AdamOptions(lr).betas(std::make_tuple(c.adam_beta1, c.adam_beta2));
}

// A run started afresh, or resumed from another folder, into a folder that
// holds a run would write over its checkpoints, best.ckpt included: refused.
void check_not_another_run(const TrainOptions& opt) {
  const fs::path last = fs::path(opt.out) / "last.ckpt";
  if (!fs::exists(last)) return;
  std::error_code ec;
  const fs::path from = fs::path(opt.resume).parent_path();
  if (!opt.resume.empty() && fs::equivalent(from.empty() ? fs::path(".") : from, opt.out, ec)) return;
  std::string at;
  try {
    at = " at step " + std::to_string(read_checkpoint_meta(last.string()).at("step").get<int64_t>());
  } catch (const std::exception&) {  // unreadable: the folder is still taken
  }
  throw Error(opt.out + ": holds a run already (last.ckpt" + at + "); continue it with --resume " + last.string() +
              ", or give another --out");
}

// Keeps the last `keep` step checkpoints, the best by validation loss, and
// writes a JSONL log line per logged step.
class RunFolder {
 public:
  RunFolder(const TrainOptions& opt) : opt_(opt) {
    check_not_another_run(opt);
    make_output_folder(opt.out, "--out");
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
  const int height = static_cast<int>(img.size(0)), width = static_cast<int>(img.size(1));
  write_file_atomic(path, encode_png(img.data_ptr<uint8_t>(), height, width));
}

// Builds the next `workers` batches on worker threads while a step trains.
// Batches depend only on their step, so the number of workers and their
// timing do not change results.
template <typename Batch>
class Prefetcher {
 public:
  Prefetcher(std::function<Batch(int64_t)> make, int64_t first, int64_t last, int workers)
      : make_(std::move(make)), next_(first), last_(last) {
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
    pending_.emplace_back(step, std::async(std::launch::async, [this, step] { return make_(step); }));
  }
  std::function<Batch(int64_t)> make_;
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

// --deterministic: only CUDA kernels that give the same bits on every run
// (cuDNN's deterministic algorithms, cuBLAS with a fixed workspace), so a
// resumed run repeats the uninterrupted one on a GPU too; an operation that
// has no such kernel stops the run with its name.
torch::Device setup_device(const TrainOptions& opt) {
  if (opt.deterministic) {
    setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", 0);  // read when cuBLAS starts
    at::globalContext().setDeterministicCuDNN(true);
    at::globalContext().setBenchmarkCuDNN(false);
    at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/false);
  }
  torch::Device device = training_device(opt.device, opt.dist.local_rank);
  if (opt.bf16 && !device.is_cpu()) throw Error("--precision bf16 is CPU autocast; on " + device.str() + " use fp32");
  return device;
}

// The ranks of a run (one without torchrun) and its device. Step k
// (1-based) of a run uses samples [k-1]*B*W .. k*B*W-1 of the run's
// numbering, counted on from where a resumed run stopped: rank r takes the
// r-th slice of B, so the ranks see disjoint parts of every epoch and
// W ranks of batch B see the same samples as one process of batch B*W.
struct Ranks {
  Ranks(const TrainOptions& opt, int batch)
      : device(setup_device(opt)),
        dist(opt.dist, std::chrono::seconds(opt.dist_timeout), device),
        batch(batch) {}
  int64_t first_sample(int64_t step) const {
    return samples_before + (step - start - 1) * batch * dist.world() + int64_t(dist.rank()) * batch;
  }
  int64_t samples_after(int64_t step) const { return samples_before + (step - start) * batch * dist.world(); }
  // Dropout and other randomness of a step: rank 0 as a single process.
  uint64_t step_seed(uint64_t seed, int64_t step) const {
    return batch_seed(seed, step) + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(dist.rank());
  }

  torch::Device device;
  Distributed dist;
  int batch;
  int64_t start = 0, samples_before = 0;
};

std::vector<torch::Tensor> float_buffers(const std::vector<torch::nn::Module*>& modules) {
  std::vector<torch::Tensor> out;
  for (auto* m : modules)
    for (auto& b : m->buffers())
      if (b.is_floating_point()) out.push_back(b);
  return out;
}

std::vector<torch::Tensor> state_tensors(const std::vector<torch::nn::Module*>& modules) {
  std::vector<torch::Tensor> out = float_buffers(modules);
  for (auto* m : modules)
    for (auto& p : m->parameters()) out.push_back(p);
  return out;
}

// After an optimiser step on every rank: BatchNorm running statistics become
// their mean over the ranks, then the ranks compare a fingerprint of all
// weights. They must agree bit for bit (the same averaged gradients went
// into the same optimiser); if they do not (different hardware rounding),
// rank 0's weights are sent to all, with a warning. Returns the spread.
double keep_ranks_identical(Distributed& dist, const std::vector<torch::nn::Module*>& modules, int64_t step) {
  if (dist.world() == 1) return 0;
  torch::NoGradGuard ng;
  dist.average(float_buffers(modules));
  double fp = 0;
  int64_t i = 0;
  for (auto& t : state_tensors(modules)) {
    auto d = t.detach().to(torch::kCPU, torch::kFloat64);
    fp += d.sum().item<double>() * (1.0 + 0.001 * double(i++)) + d.square().sum().item<double>();
  }
  double spread = dist.spread(fp);
  if (spread != 0) {
    if (dist.is_main())
      std::fprintf(stderr, "warning: step %lld: the ranks' weights differ (fingerprint spread %g); resending rank 0's\n",
                   static_cast<long long>(step), spread);
    dist.broadcast(state_tensors(modules));
  }
  return spread;
}

// Stops the run on `e` (the other ranks told why): an allocation that
// failed as what to do about it, anything else as it is. An allocation
// fails where the system does not overcommit (vm.overcommit_memory 2) or
// a data limit is set (ulimit -d); elsewhere the kernel kills a run that
// needs more memory than there is, without a word (the paper configuration
// at its batch of 40 on the CPU needs more than 23 GB: docs/performance.md).
[[noreturn]] void fail(const std::exception& e, Distributed& dist, int batch, const std::string& last_ckpt) {
  const std::string what = e.what();
  if (!dynamic_cast<const std::bad_alloc*>(&e) && what.find("can't allocate memory") == std::string::npos) {
    dist.announce_failure(what);
    throw;
  }
  const Error oom("out of memory: a step at --batch " + std::to_string(batch) +
                  " needs more than this machine has free; give a smaller --batch" +
                  (last_ckpt.empty() ? "" : " (last checkpoint: " + last_ckpt + ")"));
  dist.announce_failure(oom.what());
  throw oom;
}

// After a run's loop: the progress line and the ranks closed, the summary's figures set.
void finish_run(Progress& progress, Distributed& dist, const TrainOptions& opt, int64_t start, const Checkpoint& ckpt,
                TrainResult& result) {
  progress.finish();
  dist.finish();
  result.seconds = progress.elapsed();
  result.steps = opt.steps;
  result.trained = std::max<int64_t>(0, opt.steps - start);
  result.best_val = ckpt.meta["best_val"];
}

// Training mode; with --freeze-bn, BatchNorm layers stay in evaluation mode
// (normalising with their running statistics, which then do not change).
void set_training(torch::nn::Module& m, bool freeze_bn) {
  m.train();
  if (!freeze_bn) return;
  for (auto& sub : m.modules())
    if (sub->as<torch::nn::BatchNorm2d>() || sub->as<torch::nn::BatchNorm3d>()) sub->eval();
}

// Ctrl-C: stop between steps; the checkpoints already written stay valid.
void check_interrupted(int64_t step, const std::string& last_ckpt) {
  if (!cancelled()) return;
  throw Error("interrupted at step " + std::to_string(step) + "; " +
              (last_ckpt.empty() ? std::string("no checkpoint was written yet")
                                 : "continue with --resume " + last_ckpt));
}

// The meta of a checkpoint that must be of `kind` (what: its name in the error).
nlohmann::json meta_of_kind(const std::string& path, const std::string& kind, const std::string& what) {
  nlohmann::json m = read_checkpoint_meta(path);
  if (m.value("kind", "") != kind)
    throw Error(path + ": not a " + what + " checkpoint (kind " + m.value("kind", "?") + ")");
  return m;
}

// Loads --resume into ckpt after checking its kind and configuration.
// Returns the step to continue from (0 without --resume); sets
// ranks.start and ranks.samples_before.
int64_t resume_into(const TrainOptions& opt, const std::string& kind, const std::string& what, Checkpoint& ckpt,
                    Ranks& ranks) {
  if (opt.resume.empty()) return 0;
  nlohmann::json m = meta_of_kind(opt.resume, kind, what);
  if (ModelConfig::from_json(m.at("config")).to_json() != opt.config.to_json())
    throw Error(opt.resume + ": checkpoint has another configuration than --config and the loss flags");
  load_checkpoint(opt.resume, ckpt, ranks.device);
  ckpt.meta["best_val"] = m.value("best_val", 1e9);
  ranks.start = m.at("step").get<int64_t>();
  // Runs from before the sample numbering: go on as if every step had taken one batch.
  ranks.samples_before = m.value("samples", ranks.start * ranks.batch);
  ckpt.meta["samples"] = ranks.samples_before;
  return ranks.start;
}

// Every parameter and buffer of `to` takes the value of the same-named one
// of `from` (the same network; any device).
void copy_state(torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard ng;
  auto params = from.named_parameters(), buffers = from.named_buffers();
  for (auto& p : to.named_parameters()) p.value().copy_(params[p.key()]);
  for (auto& b : to.named_buffers()) b.value().copy_(buffers[b.key()]);
}

// --init: the weights of another generator run with the same network (its
// loss weights, hide_ref_mouth and crop placement may differ), into a run that starts at
// step 0. From a training checkpoint every network comes (generator,
// discriminator, lip critic); from an exported model file (`export`, e.g.
// the bundled model) the generator only: the discriminator starts fresh (its
// width and learning rate may differ) and the caller refreshes the critic.
// Returns true for a model file.
bool init_from(const TrainOptions& opt, const std::map<std::string, torch::nn::Module*>& modules,
               const torch::Device& device) {
  if (opt.init.empty()) return false;
  nlohmann::json m = read_checkpoint_meta(opt.init);
  const bool model_file = m.value("kind", "") == "model";
  if (!model_file) m = meta_of_kind(opt.init, "generator", "generator");
  ModelConfig theirs = ModelConfig::from_json(m.at("config"));
  theirs.loss = opt.config.loss;
  theirs.hide_ref_mouth = opt.config.hide_ref_mouth;
  theirs.crop = opt.config.crop;  // a model may learn crops placed otherwise
  if (model_file) {  // the discriminator starts fresh: it may be another one
    theirs.disc_width = opt.config.disc_width;
    theirs.disc_patches = opt.config.disc_patches;
    theirs.lr_discriminator = opt.config.lr_discriminator;
  }
  if (theirs.to_json() != opt.config.to_json())
    throw Error(opt.init + ": checkpoint has another network than --config (only the loss flags may differ, and "
                "from a model file the discriminator)");
  if (!model_file) {
    load_checkpoint(opt.init, {m, modules, {}}, device);
    return false;
  }
  copy_state(*load_generator(opt.init), *modules.at("generator"));  // fp32, also from an fp16 file
  return true;
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
  Ranks ranks(opt, batch);
  Distributed& dist = ranks.dist;
  const bool main = dist.is_main(), show = main && !opt.quiet;
  Dataset train(opt.data, "train", c.image_size);
  std::unique_ptr<Dataset> val = main ? open_validation(opt) : nullptr;
  torch::manual_seed(opt.seed);
  SyncNet net(c.image_size, c.sync_width, c.sync_feature, c.residual_blocks);
  net->to(ranks.device);
  set_training(*net, opt.freeze_bn);
  torch::optim::Adam optim(net->parameters(), adam(c, opt.lr > 0 ? opt.lr : c.lr_sync));
  nlohmann::json meta{{"kind", "sync"}, {"config", c.to_json()}, {"step", 0}, {"samples", 0}, {"best_val", 1e9}};
  Checkpoint ckpt{meta, {{"syncnet", net.get()}}, {{"syncnet", &optim}}};
  const int64_t start = resume_into(opt, "sync", "SyncNet", ckpt, ranks);
  override_lr(optim, opt.lr);
  dist.broadcast(state_tensors({net.get()}));
  std::unique_ptr<RunFolder> run = main ? std::make_unique<RunFolder>(opt) : nullptr;
  TrainResult result;
  result.last_checkpoint = opt.resume;  // the last good checkpoint until this run writes one
  Progress progress("train-sync", opt.steps, "steps", show, start);
  double sum = 0, acc_sum = 0, spread_max = 0;
  int n = 0;
  bool first_interval = true;
  auto evaluate = [&]() {
    torch::NoGradGuard ng;
    net->eval();
    double bce = 0, acc = 0;
    for (int v = 0; v < opt.val_batches; ++v) {
      SyncBatch b = val->validation_sync_batch(batch, kValSeed + v).to(ranks.device);
      auto p = net->forward(b.lower, b.mel).clamp(1e-7, 1 - 1e-7);
      bce += torch::binary_cross_entropy(p, b.label).item<double>();
      acc += ((p > 0.5).to(torch::kFloat32) == b.label).to(torch::kFloat32).mean().item<double>();
    }
    set_training(*net, opt.freeze_bn);
    return std::make_pair(bce / opt.val_batches, acc / opt.val_batches);
  };
  Prefetcher<SyncBatch> batches(
      [&](int64_t step) { return train.sync_batch(ranks.first_sample(step), batch, opt.seed, opt.augment); },
      start + 1, opt.steps, opt.workers);
  try {
    for (int64_t step = start + 1; step <= opt.steps; ++step) {
      check_interrupted(step, result.last_checkpoint);
      SyncBatch b = batches.take(step).to(ranks.device);
      torch::manual_seed(ranks.step_seed(opt.seed, step));
      auto p = net->forward(b.lower, b.mel).clamp(1e-7, 1 - 1e-7);
      auto loss = torch::binary_cross_entropy(p, b.label);
      optim.zero_grad();
      loss.backward();
      dist.average_gradients(net->parameters());
      optim.step();
      spread_max = std::max(spread_max, keep_ranks_identical(dist, {net.get()}, step));
      // The logged figures are means over all ranks' samples.
      auto figures = torch::stack({loss.detach(), ((p > 0.5).to(torch::kFloat32) == b.label).to(torch::kFloat32).mean()});
      dist.average({figures});
      double l = figures[0].item<double>();
      check_finite(l, step, result.last_checkpoint);
      sum += l;
      acc_sum += figures[1].item<double>();
      ++n;
      ckpt.meta["step"] = step;
      ckpt.meta["samples"] = ranks.samples_after(step);
      if (main && (step % opt.log_every == 0 || step == opt.steps)) {
        nlohmann::json j{{"step", step}, {"bce", sum / n}, {"acc", acc_sum / n}};
        if (dist.world() > 1) j["param_spread"] = spread_max;
        if (first_interval) result.first_loss = sum / n, first_interval = false;
        result.last_loss = sum / n;
        if (val && (step % opt.val_every == 0 || step == opt.steps)) {
          auto [vb, va] = evaluate();
          j["val_bce"] = vb;
          j["val_acc"] = va;
          if (vb < ckpt.meta["best_val"].get<double>()) {
            ckpt.meta["best_val"] = vb;
            run->save_best(ckpt);
          }
        }
        run->log(j);
        progress.update(step, format_losses({{"bce", sum / n}, {"acc", acc_sum / n}}));
        sum = acc_sum = spread_max = 0;
        n = 0;
      }
      if (main && (step % opt.ckpt_every == 0 || step == opt.steps)) result.last_checkpoint = run->save(ckpt, step);
    }
  } catch (const std::exception& e) {
    fail(e, dist, batch, result.last_checkpoint);
  }
  finish_run(progress, dist, opt, start, ckpt, result);
  return result;
}

TrainResult train_generator(const TrainOptions& opt) {
  const ModelConfig& c = opt.config;
  const LossWeights& w = c.loss;
  const int batch = opt.batch > 0 ? opt.batch : c.batch;
  if (!c.memory && (w.vv > 0 || w.store > 0 || w.align > 0))
    throw Error("without the memory there is no lip encoder: also pass --no-vv (L_store and L_align are off)");
  Ranks ranks(opt, batch);
  Distributed& dist = ranks.dist;
  const torch::Device device = ranks.device;
  const bool main = dist.is_main(), show = main && !opt.quiet;
  Dataset train(opt.data, "train", c.image_size);
  std::unique_ptr<Dataset> val = main ? open_validation(opt) : nullptr;
  torch::manual_seed(opt.seed);
  SyncTalkFace gen(c);
  Discriminator disc(c.disc_width, c.disc_patches);
  SyncNet sync(c.image_size, c.sync_width, c.sync_feature, c.residual_blocks);
  if (w.av > 0) {
    if (opt.sync.empty()) throw Error("L_av needs the trained SyncNet expert: pass --sync DIR/best.ckpt (or --no-av)");
    nlohmann::json m = read_checkpoint_meta(opt.sync);
    if (m.value("kind", "") != "sync") throw Error(opt.sync + ": not a SyncNet checkpoint");
    ModelConfig sc = ModelConfig::from_json(m.at("config"));
    if (sc.image_size != c.image_size || sc.sync_width != c.sync_width || sc.sync_feature != c.sync_feature)
      throw Error(opt.sync + ": the SyncNet was trained for another configuration");
    if (sc.crop != c.crop)
      throw Error(opt.sync + ": the SyncNet was trained on '" + crop_placement_name(sc.crop) + "' crops, the data has '" +
                  crop_placement_name(c.crop) + "' ones: train one on this data (train-sync)");
    load_checkpoint(opt.sync, {m, {{"syncnet", sync.get()}}, {}});
  }
  sync->to(device);
  sync->eval();  // frozen expert
  for (auto& p : sync->parameters()) p.requires_grad_(false);
  LipEncoder critic{nullptr};  // frozen copy of the lip encoder for L_vv
  if (c.memory) {
    critic = LipEncoder(c.image_size, c.lip_width, c.feature, c.residual_blocks);
    critic->to(device);
    critic->eval();
    for (auto& p : critic->parameters()) p.requires_grad_(false);
  }
  gen->to(device);
  disc->to(device);
  set_training(*gen, opt.freeze_bn);
  set_training(*disc, opt.freeze_bn);
  auto refresh_critic = [&]() {
    if (critic) copy_state(*gen->lip_encoder, *critic);
  };
  const double lr_g = opt.lr > 0 ? opt.lr : c.lr_generator;
  torch::optim::Adam opt_g(gen->parameters(), adam(c, lr_g));
  torch::optim::Adam opt_d(disc->parameters(), adam(c, c.lr_discriminator));
  nlohmann::json meta{{"kind", "generator"}, {"config", c.to_json()}, {"step", 0}, {"samples", 0}, {"best_val", 1e9}};
  refresh_critic();
  Checkpoint ckpt{meta, {{"generator", gen.get()}, {"discriminator", disc.get()}},
                  {{"generator", &opt_g}, {"discriminator", &opt_d}}};
  if (critic) ckpt.modules["lip_critic"] = critic.get();  // its copy time matters for an exact resume
  if (init_from(opt, ckpt.modules, device)) refresh_critic();
  const int64_t start = resume_into(opt, "generator", "generator", ckpt, ranks);
  override_lr(opt_g, opt.lr);
  std::vector<torch::nn::Module*> trained{gen.get(), disc.get()};
  if (critic) trained.push_back(critic.get());
  dist.broadcast(state_tensors(trained));
  std::unique_ptr<RunFolder> run = main ? std::make_unique<RunFolder>(opt) : nullptr;
  TrainResult result;
  result.last_checkpoint = opt.resume;  // the last good checkpoint until this run writes one
  Progress progress("train", opt.steps, "steps", show, start);
  std::map<std::string, double> sums;
  double spread_max = 0;
  int n = 0;
  bool first_interval = true;
  // Workers gather uint8 crops and expand them on the step's device (on a
  // GPU: an 11x smaller copy, the float batch made there).
  Prefetcher<GeneratorBatch> batches(
      [&](int64_t step) {
        return train.generator_batch(ranks.first_sample(step), batch, opt.seed, opt.augment).expand(device);
      },
      start + 1, opt.steps, opt.workers);
  try {
    for (int64_t step = start + 1; step <= opt.steps; ++step) {
      check_interrupted(step, result.last_checkpoint);
      GeneratorBatch b = batches.take(step);
      torch::manual_seed(ranks.step_seed(opt.seed, step));
      if (c.memory && c.vv_refresh > 0 && step % c.vv_refresh == 0) refresh_critic();

      GeneratorOutput out;
      std::map<std::string, torch::Tensor> terms;
      torch::Tensor total;
      {
        BfloatAutocast bf16(opt.bf16);
        out = gen->forward_train(b.mel, b.identity, b.lips);
        terms = generator_losses(c, b, out, sync, critic, disc);
        total = weighted_total(w, terms);
      }
      opt_g.zero_grad();
      total.backward();
      dist.average_gradients(gen->parameters());
      opt_g.step();
      std::vector<torch::Tensor> figures{total.detach()};
      for (auto& [k, t] : terms) figures.push_back(t.detach());
      if (w.gan > 0) {
        torch::Tensor d_loss;
        {
          BfloatAutocast bf16(opt.bf16);
          d_loss = discriminator_loss(disc, b.target, out.recalled_image);
        }
        opt_d.zero_grad();
        d_loss.backward();
        dist.average_gradients(disc->parameters());
        opt_d.step();
        figures.push_back(d_loss.detach());
      }
      spread_max = std::max(spread_max, keep_ranks_identical(dist, trained, step));
      // The logged figures are means over all ranks' samples.
      auto fig = torch::stack(figures);
      dist.average({fig});
      fig = fig.to(torch::kCPU, torch::kFloat64);
      const double total_v = fig[0].item<double>();
      check_finite(total_v, step, result.last_checkpoint);
      int64_t f = 1;
      for (auto& [k, t] : terms) sums[k] += fig[f++].item<double>();
      if (w.gan > 0) sums["disc"] += fig[f++].item<double>();
      sums["total"] += total_v;
      ++n;
      ckpt.meta["step"] = step;
      ckpt.meta["samples"] = ranks.samples_after(step);
      if (main && (step % opt.log_every == 0 || step == opt.steps)) {
        nlohmann::json j{{"step", step}};
        std::map<std::string, double> mean;
        for (auto& [k, v] : sums) j[k] = mean[k] = v / n;
        if (dist.world() > 1) j["param_spread"] = spread_max;
        if (first_interval) result.first_loss = mean["recon"], first_interval = false;
        result.last_loss = mean["recon"];
        if (val && (step % opt.val_every == 0 || step == opt.steps)) {
          torch::NoGradGuard ng;
          gen->eval();
          double l1 = 0;
          for (int v = 0; v < opt.val_batches; ++v) {
            GeneratorBatch vb =
                val->validation_generator_batch(batch, kValSeed + v, opt.config.hide_ref_mouth).expand(device);
            l1 += (gen->forward(vb.mel, vb.identity) - vb.target).abs().mean().item<double>();
          }
          set_training(*gen, opt.freeze_bn);
          j["val_l1"] = l1 / opt.val_batches;
          if (j["val_l1"].get<double>() < ckpt.meta["best_val"].get<double>()) {
            ckpt.meta["best_val"] = j["val_l1"];
            run->save_best(ckpt);
          }
        }
        run->log(j);
        progress.update(step, format_losses(mean));
        sums.clear();
        spread_max = 0;
        n = 0;
      }
      if (main && opt.sample_every > 0 && step % opt.sample_every == 0)
        write_sample_grid((fs::path(opt.out) / ("sample_" + std::to_string(step) + ".png")).string(), b.to(torch::kCPU),
                          out.recalled_image.detach().to(torch::kCPU));
      if (main && (step % opt.ckpt_every == 0 || step == opt.steps)) result.last_checkpoint = run->save(ckpt, step);
    }
  } catch (const std::exception& e) {
    fail(e, dist, batch, result.last_checkpoint);
  }
  finish_run(progress, dist, opt, start, ckpt, result);
  return result;
}

}  // namespace stf
