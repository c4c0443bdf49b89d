// Training loops: the SyncNet expert (train-sync) and the generator with
// memory, critics and all six losses (train).
#pragma once
#include <string>

#include "model/config.h"
#include "train/augment.h"
#include "train/distributed.h"

namespace stf {

struct TrainOptions {
  std::string data, out, resume, sync;  // dataset dir, output dir, checkpoint to resume, sync expert
  std::string init;                      // train: generator checkpoint whose weights start a new run
  ModelConfig config;
  int64_t steps = 1000;
  int batch = 0;            // 0 = config.batch
  double lr = 0;            // 0 = the config's rate
  uint64_t seed = 1;
  int log_every = 10;       // JSONL + progress line
  int val_every = 200;      // validation (and best checkpoint)
  int val_batches = 4;
  int ckpt_every = 500;
  int keep = 3;             // last K step checkpoints kept
  int sample_every = 500;   // sample grid PNG (generator only)
  int workers = 2;          // threads building the next batches
  bool freeze_bn = false;   // BatchNorm normalises with its running statistics
  Augment augment;          // training samples' augmentation (train/augment.h)
  std::string device = "auto";  // cpu, cuda, cuda:N, auto
  bool deterministic = false;   // CUDA: deterministic kernels only (the CPU is deterministic already)
  bool bf16 = false;            // train: forward passes under CPU autocast to bfloat16 (model/precision.h)
  DistEnv dist;             // this process's rank (torchrun's environment)
  int dist_timeout = 600;   // seconds to wait for the other ranks
  bool quiet = false;
};

struct TrainResult {
  int64_t steps = 0;
  int64_t trained = 0;                   // steps this call ran: 0 for a run resumed at --steps already
  double first_loss = 0, last_loss = 0;  // mean of the first / last logged interval
  double best_val = 0;
  double seconds = 0;                    // wall time of the training loop
  std::string last_checkpoint;
};

TrainResult train_sync(const TrainOptions& opt);
TrainResult train_generator(const TrainOptions& opt);

}  // namespace stf
