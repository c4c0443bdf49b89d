// Data-parallel training over PyTorch's distributed runtime (c10d), in the
// form torchrun launches it: every process reads RANK, WORLD_SIZE,
// LOCAL_RANK, MASTER_ADDR and MASTER_PORT, meets the others through a
// TCPStore hosted by rank 0, and averages gradients with a process group
// (Gloo on CPU, NCCL on CUDA when LibTorch has it). Without those variables
// (or with WORLD_SIZE=1) everything here is a no-op on one process.
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <torch/torch.h>
#include <vector>

namespace stf {

struct DistEnv {
  int rank = 0, world = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  // torchrun's variables; world 1 when WORLD_SIZE is unset. Throws
  // stf::Error on values that do not make sense (RANK >= WORLD_SIZE, ...).
  static DistEnv from_environment();
};

// The device a run trains on: "cpu", "cuda", "cuda:N", or "auto" (CUDA when
// LibTorch has it, the GPU numbered LOCAL_RANK; otherwise the CPU).
torch::Device training_device(const std::string& name, int local_rank);

class Distributed {
 public:
  // Connects to the other ranks when env.world > 1; gives up with a one-line
  // error after `timeout` (an unreachable MASTER_ADDR, a rank that never
  // starts), and collectives that wait longer than it fail the same way.
  Distributed(const DistEnv& env, std::chrono::seconds timeout, const torch::Device& device);
  ~Distributed();
  int rank() const { return env_.rank; }
  int world() const { return env_.world; }
  bool is_main() const { return env_.rank == 0; }

  // Rank 0's values into every rank's tensors (in place).
  void broadcast(const std::vector<torch::Tensor>& tensors);
  // Replaces each tensor by its mean over the ranks (in place), in buckets
  // of about 25 MB; a parameter without a gradient counts as zeros.
  void average(const std::vector<torch::Tensor>& tensors);
  void average_gradients(const std::vector<torch::Tensor>& parameters);
  // Largest minus smallest of a value over the ranks (0 on one process).
  double spread(double value);

  // At the end of a run: rank 0, which hosts the store, waits for the others
  // to finish before it goes.
  void finish();

  // Before a rank stops on an error: leaves its reason where the others
  // will look for it.
  void announce_failure(const std::string& why) noexcept;

  struct Impl;

 private:
  DistEnv env_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace stf
