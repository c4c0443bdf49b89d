#include "train/distributed.h"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <unistd.h>
#include <functional>
#include <thread>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef STF_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef STF_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "stf/error.h"

namespace stf {

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  try {
    size_t used = 0;
    int x = std::stoi(v, &used);
    if (used == std::string(v).size()) return x;
  } catch (const std::exception&) {
  }
  throw Error(std::string(name) + "=" + v + " is not a whole number");
}

// An exception's first line, at most 200 characters, for a parenthesis.
std::string briefly(const std::exception& e) { return first_line(e.what()).substr(0, 200); }

constexpr int64_t kBucketElements = 25 * 1024 * 1024 / 4;  // ~25 MB of float32 per allreduce

// Silences stderr while it lives: the rendezvous's retries log through
// glog, and a user should see one line saying what went wrong, not those.
class QuietStderr {
 public:
  QuietStderr() {
    std::fflush(stderr);
    saved_ = dup(2);
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, 2), close(null);
  }
  ~QuietStderr() {
    std::fflush(stderr);
    if (saved_ >= 0) dup2(saved_, 2), close(saved_);
  }

 private:
  int saved_;
};

std::string key_failed(int rank) { return "stf/failed/" + std::to_string(rank); }
std::string key_beat(int rank) { return "stf/beat/" + std::to_string(rank); }

}  // namespace

DistEnv DistEnv::from_environment() {
  DistEnv e;
  e.world = env_int("WORLD_SIZE", 1);
  e.rank = env_int("RANK", 0);
  e.local_rank = env_int("LOCAL_RANK", 0);
  e.master_port = env_int("MASTER_PORT", 29500);
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) e.master_addr = a;
  else if (e.world > 1)
    throw Error("WORLD_SIZE=" + std::to_string(e.world) +
                " but MASTER_ADDR is not set: start the ranks with torchrun (docs/distributed.md)");
  if (e.world < 1) throw Error("WORLD_SIZE must be at least 1, not " + std::to_string(e.world));
  if (e.rank < 0 || e.rank >= e.world)
    throw Error("RANK=" + std::to_string(e.rank) + " is outside 0.." + std::to_string(e.world - 1) +
                " (WORLD_SIZE=" + std::to_string(e.world) + ")");
  if (e.local_rank < 0) throw Error("LOCAL_RANK must not be negative");
  if (e.master_port < 1 || e.master_port > 65535)
    throw Error("MASTER_PORT=" + std::to_string(e.master_port) + " is not a TCP port");
  return e;
}

torch::Device training_device(const std::string& name, int local_rank) {
  const bool cuda = torch::cuda::is_available();
  if (name == "auto")
    return cuda ? torch::Device(torch::kCUDA, static_cast<int16_t>(local_rank % torch::cuda::device_count()))
                : torch::Device(torch::kCPU);
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    if (!cuda) throw Error("--device " + name + ": this LibTorch has no CUDA or sees no GPU; use --device cpu");
    int index = local_rank;
    if (name != "cuda") {
      try {
        index = std::stoi(name.substr(5));
      } catch (const std::exception&) {
        throw Error("--device " + name + ": expected cuda:N with a GPU number N");
      }
    }
    const int n = static_cast<int>(torch::cuda::device_count());
    if (index < 0 || index >= n)
      throw Error("--device " + name + ": GPU " + std::to_string(index) + " does not exist (" + std::to_string(n) +
                  " visible)");
    return torch::Device(torch::kCUDA, static_cast<int16_t>(index));
  }
  throw Error("--device must be cpu, cuda, cuda:N or auto, not '" + name + "'");
}

struct Distributed::Impl {
  std::string endpoint;  // MASTER_ADDR:MASTER_PORT, for messages
  torch::Device device = torch::kCPU;
  std::chrono::seconds timeout;
  c10::intrusive_ptr<c10d::Store> store;
  std::function<void(std::vector<at::Tensor>&, c10d::ReduceOp)> allreduce;
  std::function<void(std::vector<at::Tensor>&)> broadcast;
  // A second connection to the store, on which a thread counts up this
  // rank's heartbeat twice a second: after a failed collective, the ranks
  // whose count stands still are the ones that stopped.
  c10::intrusive_ptr<c10d::Store> beat_store;
  std::thread beat;
  std::atomic<bool> stop{false};

  // Which rank stopped (or why the collective failed), for an error message.
  std::string diagnose(const DistEnv& env) {
    std::string who;
    try {
      for (int r = 0; r < env.world; ++r) {
        if (r == env.rank || !store->check({key_failed(r)})) continue;
        std::vector<uint8_t> why = store->get(key_failed(r));
        who += (who.empty() ? "" : "; ") + ("rank " + std::to_string(r) + " stopped: " +
                                            std::string(why.begin(), why.end()));
      }
      if (!who.empty()) return who;
      auto counts = [&] {
        std::vector<int64_t> c(env.world, -1);
        for (int r = 0; r < env.world; ++r)
          if (r != env.rank && store->check({key_beat(r)})) c[r] = store->add(key_beat(r), 0);
        return c;
      };
      std::vector<int64_t> before = counts();
      std::this_thread::sleep_for(std::chrono::milliseconds(2500));
      std::vector<int64_t> after = counts();
      for (int r = 0; r < env.world; ++r)
        if (r != env.rank && after[r] == before[r])
          who += (who.empty() ? "" : ", ") + ("rank " + std::to_string(r));
      if (!who.empty()) return who + " stopped without a word (killed, or its machine went away)";
      return "every rank is alive, but one did not reach the collective within " + std::to_string(timeout.count()) +
             " s (--dist-timeout)";
    } catch (const std::exception&) {
      return "rank 0, which hosts the rendezvous at " + endpoint + ", stopped";
    }
  }
};

Distributed::Distributed(const DistEnv& env, std::chrono::seconds timeout, const torch::Device& device)
    : env_(env), impl_(std::make_unique<Impl>()) {
  if (env.world == 1) return;
  // A rank that dies mid-collective leaves its sockets closed: writing to
  // them must fail as an error, reported below as that rank having stopped,
  // not kill this rank by SIGPIPE without a word (status 141; seen once in
  // CI, Distributed.KilledRankIsNamedAndTheLastCheckpointSurvives).
  std::signal(SIGPIPE, SIG_IGN);
  std::fprintf(stderr, "rank %d of world_size %d on %s, meeting at %s:%d\n", env.rank, env.world,
               device.str().c_str(), env.master_addr.c_str(), env.master_port);
  Impl& d = *impl_;
  d.endpoint = env.master_addr + ":" + std::to_string(env.master_port);
  d.timeout = timeout;
  d.device = device;
  c10d::TCPStoreOptions o;
  o.port = static_cast<uint16_t>(env.master_port);
  o.isServer = env.rank == 0;
  o.numWorkers = env.world;
  o.waitWorkers = true;
  o.timeout = timeout;
  try {
    QuietStderr quiet;
    d.store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
  } catch (const std::exception& e) {
    if (env.rank == 0)
      throw Error("rank 0: not all " + std::to_string(env.world) + " ranks arrived at " + d.endpoint + " within " +
                  std::to_string(timeout.count()) + " s (" + briefly(e) + ")");
    throw Error("rank " + std::to_string(env.rank) + ": cannot reach rank 0 at " + d.endpoint + " within " +
                std::to_string(timeout.count()) + " s: check MASTER_ADDR/MASTER_PORT and that rank 0 runs (" +
                briefly(e) + ")");
  }
  // Every rank's process group connects to every other one through the store.
  auto use = [&d](auto pg) {  // the collectives of either process group
    d.allreduce = [pg](std::vector<at::Tensor>& t, c10d::ReduceOp op) {
      c10d::AllreduceOptions ao;
      ao.reduceOp = op;
      pg->allreduce(t, ao)->wait();
    };
    d.broadcast = [pg](std::vector<at::Tensor>& t) { pg->broadcast(t)->wait(); };
  };
  try {
    QuietStderr quiet;
    if (device.is_cuda()) {
#ifdef STF_WITH_NCCL
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      use(c10::make_intrusive<c10d::ProcessGroupNCCL>(d.store, env.rank, env.world, options));
#else
      throw Error("this build has no NCCL: multi-GPU training needs a CUDA LibTorch build with NCCL (docs/gpu.md)");
#endif
    } else {
#ifdef STF_WITH_GLOO
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      else if (env.master_addr == "localhost" || env.master_addr.rfind("127.", 0) == 0)
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else
        options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      options->threads = 2;
      use(c10::make_intrusive<c10d::ProcessGroupGloo>(d.store, env.rank, env.world, options));
#else
      throw Error("this build has no Gloo: CPU ranks need libgloo-dev at build time (scripts/setup.sh installs it)");
#endif
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error("rank " + std::to_string(env.rank) + ": not all " + std::to_string(env.world) + " ranks joined at " +
                d.endpoint + " within " + std::to_string(timeout.count()) + " s (" + briefly(e) + ")");
  }
  c10d::TCPStoreOptions bo = o;
  bo.isServer = false;
  bo.waitWorkers = false;
  d.beat_store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, bo);
  d.beat_store->add(key_beat(env.rank), 1);
  d.beat = std::thread([&d, rank = env.rank] {
    try {
      while (!d.stop) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        d.beat_store->add(key_beat(rank), 1);
      }
    } catch (const std::exception&) {  // the store went away: rank 0 has ended
    }
  });
}

Distributed::~Distributed() {
  if (!impl_ || !impl_->beat.joinable()) return;
  impl_->stop = true;
  impl_->beat.join();
}

void Distributed::broadcast(const std::vector<torch::Tensor>& tensors) {
  if (env_.world == 1) return;
  for (const auto& t : tensors) {
    std::vector<at::Tensor> one{t.detach()};
    try {
      impl_->broadcast(one);
    } catch (const std::exception& e) {
      throw Error("rank " + std::to_string(env_.rank) + ": broadcast failed: " + impl_->diagnose(env_));
    }
  }
}

void Distributed::average(const std::vector<torch::Tensor>& tensors) {
  if (env_.world == 1) return;
  // Consecutive tensors of one dtype and device share a flat buffer of up to
  // kBucketElements; each buffer is summed over the ranks, divided, copied back.
  size_t i = 0;
  while (i < tensors.size()) {
    std::vector<torch::Tensor> bucket{tensors[i]};
    int64_t n = tensors[i].numel();
    size_t j = i + 1;
    while (j < tensors.size() && n + tensors[j].numel() <= kBucketElements &&
           tensors[j].scalar_type() == tensors[i].scalar_type() && tensors[j].device() == tensors[i].device())
      n += tensors[j].numel(), bucket.push_back(tensors[j++]);
    std::vector<torch::Tensor> flat_parts;
    for (auto& t : bucket) flat_parts.push_back(t.detach().reshape({-1}));
    std::vector<at::Tensor> flat{torch::cat(flat_parts)};
    try {
      impl_->allreduce(flat, c10d::ReduceOp::SUM);
    } catch (const std::exception& e) {
      throw Error("rank " + std::to_string(env_.rank) + ": averaging over the ranks failed: " + impl_->diagnose(env_));
    }
    if (flat[0].is_floating_point()) flat[0].div_(env_.world);
    else flat[0].floor_divide_(env_.world);
    int64_t offset = 0;
    torch::NoGradGuard ng;
    for (auto& t : bucket) {
      t.copy_(flat[0].narrow(0, offset, t.numel()).view_as(t));
      offset += t.numel();
    }
    i = j;
  }
}

void Distributed::average_gradients(const std::vector<torch::Tensor>& parameters) {
  if (env_.world == 1) return;
  std::vector<torch::Tensor> grads;
  for (const auto& p : parameters) {
    if (!p.requires_grad()) continue;
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  average(grads);
}

double Distributed::spread(double value) {
  if (env_.world == 1) return 0;
  std::vector<at::Tensor> t{torch::tensor({value, -value}, torch::TensorOptions(torch::kFloat64).device(impl_->device))};
  try {
    impl_->allreduce(t, c10d::ReduceOp::MAX);
  } catch (const std::exception& e) {
    throw Error("rank " + std::to_string(env_.rank) + ": lost the other ranks: " + impl_->diagnose(env_));
  }
  return t[0][0].item<double>() + t[0][1].item<double>();
}

void Distributed::finish() {
  if (env_.world == 1) return;
  try {
    impl_->store->add("stf/done", 1);
    const auto deadline = std::chrono::steady_clock::now() + impl_->timeout;
    while (env_.rank == 0 && impl_->store->add("stf/done", 0) < env_.world) {
      if (std::chrono::steady_clock::now() > deadline) throw Error("timeout");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  } catch (const std::exception&) {
    throw Error("rank " + std::to_string(env_.rank) + ": the run ended here, but not on every rank: " +
                impl_->diagnose(env_));
  }
}

void Distributed::announce_failure(const std::string& why) noexcept {
  if (env_.world == 1 || !impl_->store) return;
  try {
    impl_->store->set(key_failed(env_.rank), std::vector<uint8_t>(why.begin(), why.end()));
  } catch (...) {
  }
}

}  // namespace stf
