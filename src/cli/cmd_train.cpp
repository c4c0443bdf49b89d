// synctalkface train-sync ... and synctalkface train ...
#include <cstdio>

#include "cli/common.h"
#include "stf/threads.h"
#include "train/dataset.h"
#include "train/trainer.h"

namespace stf::cli {

namespace {

struct TrainCli {
  TrainOptions train;
  std::string config = "lite";
  int threads = 0;
  bool no_memory = false, no_av = false, no_vv = false, no_gan = false;
  int slots = 0;
  double mouth_weight = 0;
  std::string precision = "fp32";
};

void add_common(CLI::App* cmd, TrainCli& o) {
  cmd->add_option("--data", o.train.data, "Dataset folder made by 'synctalkface preprocess'")->required();
  cmd->add_option("--out", o.train.out, "Run folder: checkpoints, log.jsonl, samples")->required();
  cmd->add_option("--config", o.config, "lite, paper, or a JSON file")->default_val("lite");
  cmd->add_option("--steps", o.train.steps, "Total optimiser steps (a resumed run continues up to this)")
      ->default_val(1000)->check(positive());
  cmd->add_option("--batch", o.train.batch, "Batch size (0 = the config's)")->default_val(0)->check(non_negative());
  cmd->add_option("--lr", o.train.lr, "Learning rate (0 = the config's)")->default_val(0)->check(non_negative());
  cmd->add_option("--seed", o.train.seed, "Seed for initialisation and sampling")->default_val(1);
  cmd->add_option("--resume", o.train.resume, "Continue from this checkpoint (same config)");
  cmd->add_option("--log-every", o.train.log_every, "Steps between log lines")->default_val(10)->check(positive());
  cmd->add_option("--workers", o.train.workers, "Threads building the next batches (results do not depend on it)")
      ->default_val(2)->check(range(1, 64));
  cmd->add_option("--val-every", o.train.val_every, "Steps between validations")->default_val(200)->check(positive());
  cmd->add_option("--val-batches", o.train.val_batches, "Fixed validation batches per validation")
      ->default_val(4)->check(positive());
  cmd->add_option("--ckpt-every", o.train.ckpt_every, "Steps between checkpoints")->default_val(500)->check(positive());
  cmd->add_option("--keep", o.train.keep, "Step checkpoints kept (plus last.ckpt and best.ckpt)")
      ->default_val(3)->check(positive());
  cmd->add_flag("--freeze-bn", o.train.freeze_bn,
                "BatchNorm normalises with its running statistics (small per-rank batches; exact data parallelism)");
  cmd->add_option("--device", o.train.device, "cpu, cuda, cuda:N, or auto (CUDA when available, GPU LOCAL_RANK)")
      ->default_val("auto");
  cmd->add_flag("--deterministic", o.train.deterministic,
                "GPU: deterministic kernels only, so a resumed run repeats an uninterrupted one bit for bit "
                "(slower; runs on the CPU are deterministic anyway)");
  cmd->add_option("--dist-timeout", o.train.dist_timeout,
                  "Seconds to wait for the other ranks (rendezvous and every collective) when started by torchrun")
      ->default_val(600)->check(positive());
  cmd->add_flag("--augment-audio", o.train.augment.speech,
                "Vary the training audio's loudness, colour, noise floor and voice (train/augment.h): "
                "for people and rooms the data lacks");
  add_threads_option(cmd, o.threads);
  cmd->footer(
      "Data-parallel: start it with torchrun, e.g.\n"
      "  torchrun --nproc_per_node=2 --no_python synctalkface " + cmd->get_name() + " --data D --out O ...\n"
      "Each rank takes --batch samples per step (the effective batch is --batch x WORLD_SIZE); only rank 0 writes.\n"
      "See docs/distributed.md.");
}

std::string format_val(double v) {
  if (v >= 1e9) return "n/a (no validation clips)";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

// The run's one-line summary (rank 0's): `loss` names the logged loss.
void print_summary(const char* command, const char* loss, const TrainResult& r) {
  if (r.trained == 0) {  // resumed at --steps already: a script that resumes every stage runs it again
    std::printf("%s: %s has reached --steps %lld already; nothing to train (a higher --steps goes on)\n", command,
                r.last_checkpoint.c_str(), static_cast<long long>(r.steps));
    return;
  }
  std::printf("%s: %s in %.1f s, %s %.4f -> %.4f, best val %s %s, %s\n", command,
              counted(r.steps, "step").c_str(), r.seconds, loss, r.first_loss, r.last_loss, loss,
              format_val(r.best_val).c_str(), r.last_checkpoint.c_str());
}

}  // namespace

void add_train_commands(CLI::App& root) {
  auto s = std::make_shared<TrainCli>();
  CLI::App* sync = root.add_subcommand("train-sync", "Train the SyncNet expert (audio-visual sync critic)");
  add_common(sync, *s);
  sync->add_flag("--augment", s->train.augment.look,
                 "Mirror each window at random and scale its colours (no gain on unseen people measured yet: models/README.md)");
  sync->callback([s] {
    set_threads(s->threads);
    s->train.dist = DistEnv::from_environment();
    s->train.config = ModelConfig::load(s->config);
    s->train.config.crop = dataset_crop(s->train.data);
    const TrainResult r = train_sync(s->train);
    if (s->train.dist.rank == 0) print_summary("train-sync", "BCE", r);  // rank 0 reports for all
  });

  auto g = std::make_shared<TrainCli>();
  CLI::App* gen = root.add_subcommand(
      "train", "Train the generator with the Audio-Lip Memory, SyncNet/lip critics and the quality discriminator");
  add_common(gen, *g);
  gen->add_option("--sync", g->train.sync, "Trained SyncNet checkpoint (needed for L_av)");
  gen->add_option("--init", g->train.init,
                  "Start from this generator checkpoint's weights, or an exported model's (e.g. the bundled one; the "
                  "discriminator then starts fresh, and may be another: a config's disc_width, lr_discriminator): a new run "
                  "from step 0 with fresh optimisers, so loss flags, --hide-ref-mouth, --lr and data may differ (the "
                  "generator must be the same)")
      ->excludes("--resume");
  gen->add_option("--sample-every", g->train.sample_every, "Steps between sample grid PNGs (0 = never)")->default_val(500);
  gen->add_flag("--no-memory", g->no_memory, "Ablation: no Audio-Lip Memory (Wav2Lip-style: decoder gets f_aud)");
  gen->add_flag("--no-av", g->no_av, "Ablation: drop L_av (audio-visual sync loss)");
  gen->add_flag("--no-vv", g->no_vv, "Ablation: drop L_vv (visual-visual sync loss)");
  gen->add_flag("--no-gan", g->no_gan, "Ablation: drop L_gan (quality discriminator)");
  gen->add_option("--mouth-weight", g->mouth_weight,
                  "Not in the paper: weight of an extra L1 on the crop's mouth region, against L_recon's 10 "
                  "(0 = off)")
      ->default_val(0)
      ->check(non_negative());
  gen->add_flag("--augment-pace", g->train.augment.pace,
                "Not in the paper: half the samples as if spoken 0.8-1.7 times as fast (frames taken and the mel "
                "read at that pace, pitch kept), for speech quicker or slower than the data's");
  gen->add_option("--hide-ref-mouth", g->train.augment.hide_mouth,
                  "Not in the paper: probability that a sample's reference frames have their mouth smoothed "
                  "away, so the generator must draw the mouth from the audio instead of copying it; at 1 the model "
                  "records it, and generate and eval hide its references' mouth too")
      ->default_val(0)
      ->check(range(0.0, 1.0));
  gen->add_option("--slots", g->slots, "Memory slots (0 = the config's)")->default_val(0)->check(non_negative());
  gen->add_option("--precision", g->precision,
                  "fp32, or bf16: the forward passes under CPU autocast to bfloat16 (weights, gradients and Adam stay "
                  "float32; 1.7-2.3x faster steps on CPUs with bfloat16 units, AMX or AVX512_BF16, far slower on others; "
                  "CPU only)")
      ->default_val("fp32")->check(CLI::IsMember({"fp32", "bf16"}));
  gen->callback([g] {
    set_threads(g->threads);
    warn_if_slow_precision(g->precision);
    g->train.dist = DistEnv::from_environment();
    ModelConfig c = ModelConfig::load(g->config);
    if (g->no_memory) c.memory = false, c.loss.store = 0, c.loss.align = 0;
    if (g->no_av) c.loss.av = 0;
    if (g->no_vv) c.loss.vv = 0;
    if (g->no_gan) c.loss.gan = 0;
    if (g->mouth_weight > 0) c.loss.mouth = g->mouth_weight;
    if (g->slots > 0) c.slots = g->slots;
    if (g->train.augment.hide_mouth >= 1) c.hide_ref_mouth = true;  // it never sees a reference's mouth
    c.crop = dataset_crop(g->train.data);                           // generate places crops as the data did
    g->train.bf16 = g->precision == "bf16";
    c.validate();
    g->train.config = c;
    const TrainResult r = train_generator(g->train);
    if (g->train.dist.rank == 0) print_summary("train", "L1", r);  // rank 0 reports for all
  });
}

}  // namespace stf::cli
