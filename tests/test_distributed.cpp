// Data-parallel training over c10d (TCPStore + ProcessGroupGloo on
// 127.0.0.1): two ranks of batch B against one process of batch 2B, a real
// torchrun launch, resuming with another world size, an unreachable rank 0,
// and a rank killed mid-run.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <unistd.h>

#include "helpers.h"
#include "model/syncnet.h"
#include "model/synctalkface.h"
#include "train/checkpoint.h"
#include "train/preprocess.h"

using namespace stf;
namespace fs = std::filesystem;

namespace {

std::string q(const std::string& s) { return "'" + s + "'"; }

const std::string& dataset_dir() { return test::two_clip_dataset(); }

// A port no other test process is likely to pick at the same time.
int free_port(int offset) { return 20000 + (static_cast<int>(getpid()) * 16 + offset) % 40000; }

std::string rank_env(int rank, int world, int port) {
  return "MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " WORLD_SIZE=" + std::to_string(world) +
         " LOCAL_WORLD_SIZE=" + std::to_string(world) + " RANK=" + std::to_string(rank) +
         " LOCAL_RANK=" + std::to_string(rank) + " ";
}

const std::string kCli = q(STF_CLI_PATH);

// Runs `args` as two ranks; returns rank 0's and rank 1's exit statuses.
std::pair<int, int> two_ranks(const std::string& args, int port, const std::string& logs) {
  std::string cmd = rank_env(1, 2, port) + kCli + " " + args + " > " + q(logs + "/r1.log") + " 2>&1 & P1=$!; " +
                    rank_env(0, 2, port) + kCli + " " + args + " > " + q(logs + "/r0.log") + " 2>&1; R0=$?; " +
                    "wait $P1; R1=$?; echo $R0 $R1 > " + q(logs + "/status");
  test::run_shell(cmd);
  std::ifstream f(logs + "/status");
  int r0 = -1, r1 = -1;
  f >> r0 >> r1;
  return {r0, r1};
}

std::vector<nlohmann::json> read_log(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream f(path);
  for (std::string line; std::getline(f, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

SyncTalkFace load_generator(const std::string& ckpt) {
  nlohmann::json m = read_checkpoint_meta(ckpt);
  SyncTalkFace g(ModelConfig::from_json(m.at("config")));
  load_checkpoint(ckpt, {m, {{"generator", g.get()}}, {}});
  return g;
}

// Largest absolute difference over all parameters and buffers.
double max_difference(SyncTalkFace& a, SyncTalkFace& b) {
  double d = 0;
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (auto& item : pa) d = std::max(d, (item.value() - pb[item.key()]).abs().max().item<double>());
  auto ba = a->named_buffers(), bb = b->named_buffers();
  for (auto& item : ba)
    if (item.value().is_floating_point()) d = std::max(d, (item.value() - bb[item.key()]).abs().max().item<double>());
  return d;
}

}  // namespace

// PAPER-level check of data parallelism: gradients averaged over 2 ranks of
// batch 2 equal the gradient of one batch of 4, so after 3 Adam steps the
// weights agree to float rounding; the ranks agree bit for bit after every
// step. BatchNorm is frozen (--freeze-bn) and dropout off so that the two
// runs compute the same function of the same 4 samples per step.
TEST(Distributed, TwoRanksOfBatchTwoMatchOneProcessOfBatchFour) {
  std::string dir = test::temp_dir("dist_equal");
  std::ofstream(dir + "/cfg.json") << R"({"name": "lite", "dropout": 0})";
  std::string common = "train --data " + q(dataset_dir()) + " --config " + q(dir + "/cfg.json") +
                       " --steps 3 --no-av --no-gan --freeze-bn --log-every 1 --ckpt-every 3 --sample-every 0"
                       " --workers 1 --threads 1 --dist-timeout 60 ";
  ASSERT_EQ(test::run_shell(kCli + " " + common + "--batch 4 --out " + q(dir + "/one") + " > " + q(dir + "/one.log") +
                            " 2>&1"),
            0)
      << test::read_file(dir + "/one.log");
  auto [r0, r1] = two_ranks(common + "--batch 2 --out " + q(dir + "/two"), free_port(0), dir);
  ASSERT_EQ(r0, 0) << test::read_file(dir + "/r0.log");
  ASSERT_EQ(r1, 0) << test::read_file(dir + "/r1.log");
  EXPECT_NE(test::read_file(dir + "/r0.log").find("rank 0 of world_size 2"), std::string::npos);
  EXPECT_NE(test::read_file(dir + "/r1.log").find("rank 1 of world_size 2"), std::string::npos);

  // Only rank 0 writes: one log line per step, not two.
  auto one = read_log(dir + "/one/log.jsonl"), two = read_log(dir + "/two/log.jsonl");
  ASSERT_EQ(one.size(), 3u);
  ASSERT_EQ(two.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(two[i].at("param_spread").get<double>(), 0.0) << "ranks differ after step " << i + 1;
    // The logged losses are means over both ranks' samples: those of the batch of 4.
    EXPECT_NEAR(two[i].at("recon").get<double>(), one[i].at("recon").get<double>(), 1e-5) << "step " << i + 1;
    EXPECT_NEAR(two[i].at("vv").get<double>(), one[i].at("vv").get<double>(), 1e-5) << "step " << i + 1;
  }

  SyncTalkFace a = load_generator(dir + "/one/last.ckpt"), b = load_generator(dir + "/two/last.ckpt");
  torch::manual_seed(1);
  nlohmann::json cfg = read_checkpoint_meta(dir + "/one/last.ckpt").at("config");
  SyncTalkFace init(ModelConfig::from_json(cfg));  // the weights before training (same seed)
  const double moved = max_difference(a, init), apart = max_difference(a, b);
  EXPECT_GT(moved, 1e-4) << "training did not change the weights";
  EXPECT_LT(apart, 2e-5) << "2 ranks x batch 2 ended " << apart << " away from 1 x batch 4 (training moved "
                         << moved << ")";
  EXPECT_EQ(read_checkpoint_meta(dir + "/two/last.ckpt").at("samples").get<int64_t>(), 12);
}

// What a user types: torchrun starts 2 processes on this machine.
TEST(Distributed, TorchrunLaunchOfTwoProcessesWritesOneCheckpoint) {
  std::string dir = test::temp_dir("dist_torchrun");
  ASSERT_EQ(test::run_shell("command -v torchrun > /dev/null"), 0)
      << "torchrun is missing (Debian package python3-torch; scripts/setup.sh installs it)";
  // --redirects/--tee 2: Debian 12's torchrun (1.13, Python 3.11) crashes on their default
  // 0 (docs/distributed.md).
  std::string cmd = "torchrun --redirects 2 --tee 2 --standalone --nproc_per_node=2 --no_python " + kCli + " train --data " +
                    q(dataset_dir()) + " --out " + q(dir + "/run") +
                    " --steps 2 --batch 2 --no-av --no-gan --log-every 1 --ckpt-every 2 --sample-every 0 > " +
                    q(dir + "/log") + " 2>&1";
  ASSERT_EQ(test::run_shell(cmd), 0) << test::read_file(dir + "/log");
  std::string log = test::read_file(dir + "/log");
  EXPECT_NE(log.find("rank 0 of world_size 2"), std::string::npos) << log;
  EXPECT_NE(log.find("rank 1 of world_size 2"), std::string::npos) << log;
  std::vector<std::string> checkpoints;
  for (auto& e : fs::directory_iterator(dir + "/run"))
    if (e.path().extension() == ".ckpt") checkpoints.push_back(e.path().filename().string());
  std::sort(checkpoints.begin(), checkpoints.end());
  EXPECT_EQ(checkpoints, (std::vector<std::string>{"last.ckpt", "step_2.ckpt"}));
  EXPECT_EQ(read_log(dir + "/run/log.jsonl").size(), 2u);
  nlohmann::json meta = read_checkpoint_meta(dir + "/run/step_2.ckpt");
  EXPECT_EQ(meta.at("step").get<int64_t>(), 2);
  EXPECT_EQ(meta.at("samples").get<int64_t>(), 8);  // 2 steps x 2 ranks x batch 2
}

// A checkpoint of one process continues on two ranks (and the sample count
// goes on from where it stopped).
TEST(Distributed, ResumeWithAnotherWorldSize) {
  std::string dir = test::temp_dir("dist_resume");
  std::string common = "train-sync --data " + q(dataset_dir()) + " --batch 2 --log-every 1 --ckpt-every 2 --threads 1 ";
  ASSERT_EQ(test::run_shell(kCli + " " + common + "--steps 2 --out " + q(dir + "/a") + " > " + q(dir + "/a.log") +
                            " 2>&1"),
            0)
      << test::read_file(dir + "/a.log");
  auto [r0, r1] = two_ranks(common + "--steps 4 --out " + q(dir + "/b") + " --resume " + q(dir + "/a/last.ckpt"),
                            free_port(1), dir);
  ASSERT_EQ(r0, 0) << test::read_file(dir + "/r0.log");
  ASSERT_EQ(r1, 0) << test::read_file(dir + "/r1.log");
  nlohmann::json meta = read_checkpoint_meta(dir + "/b/last.ckpt");
  EXPECT_EQ(meta.at("step").get<int64_t>(), 4);
  EXPECT_EQ(meta.at("samples").get<int64_t>(), 2 * 2 + 2 * 2 * 2);
  EXPECT_EQ(read_log(dir + "/b/log.jsonl").size(), 2u);  // steps 3 and 4, by rank 0 only
}

TEST(Distributed, UnreachableRankZeroIsAClearErrorAfterTheTimeout) {
  std::string dir = test::temp_dir("dist_unreachable");
  auto start = std::chrono::steady_clock::now();
  test::CliResult r;
  std::string cmd = rank_env(1, 2, free_port(2)) + kCli + " train-sync --data " + q(dataset_dir()) + " --out " +
                    q(dir + "/run") + " --steps 2 --dist-timeout 2 > " + q(dir + "/log") + " 2>&1";
  r.status = test::run_shell(cmd);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.output = test::read_file(dir + "/log");
  // The "rank 1 of world_size 2" line comes first; the error is the last line.
  r.output = r.output.substr(r.output.find('\n') + 1);
  test::expect_one_line_error(r, "cannot reach rank 0 at 127.0.0.1");
  EXPECT_LT(seconds, 30) << "the timeout is 2 s";
  EXPECT_FALSE(fs::exists(dir + "/run/last.ckpt"));
}

// Rank 1 is killed (SIGKILL: no goodbye) mid-run: rank 0 stops with an error
// naming it, and the last checkpoint is intact.
TEST(Distributed, KilledRankIsNamedAndTheLastCheckpointSurvives) {
  std::string dir = test::temp_dir("dist_killed");
  const int port = free_port(3);
  std::string args = "train-sync --data " + q(dataset_dir()) + " --out " + q(dir + "/run") +
                     " --steps 100000 --batch 2 --log-every 1 --ckpt-every 2 --threads 1 --dist-timeout 60";
  std::string cmd = "(" + rank_env(1, 2, port) + kCli + " " + args + " > " + q(dir + "/r1.log") +
                    " 2>&1 & echo $! > " + q(dir + "/r1.pid") + "; " + rank_env(0, 2, port) + kCli + " " + args +
                    " > " + q(dir + "/r0.log") + " 2>&1; echo $? > " + q(dir + "/r0.status") + ") &";
  ASSERT_EQ(test::run_shell(cmd), 0);
  auto lines = [&] { return read_log(dir + "/run/log.jsonl").size(); };
  for (int i = 0; i < 1200 && (!fs::exists(dir + "/run/log.jsonl") || lines() < 5); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_GE(lines(), 5u) << test::read_file(dir + "/r0.log");
  pid_t rank1 = 0;
  std::ifstream(dir + "/r1.pid") >> rank1;
  ASSERT_GT(rank1, 0);
  kill(rank1, SIGKILL);
  for (int i = 0; i < 1200 && !fs::exists(dir + "/r0.status"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  test::CliResult r;
  std::ifstream(dir + "/r0.status") >> r.status;
  r.output = test::read_file(dir + "/r0.log");
  r.output = r.output.substr(r.output.find('\n') + 1);  // after "rank 0 of world_size 2 ..."
  test::expect_one_line_error(r, "rank 1 stopped");
  nlohmann::json meta = read_checkpoint_meta(dir + "/run/last.ckpt");
  EXPECT_GE(meta.at("step").get<int64_t>(), 2);
  ModelConfig c = ModelConfig::from_json(meta.at("config"));
  SyncNet net(c.image_size, c.sync_width, c.sync_feature, c.residual_blocks);
  EXPECT_NO_THROW(load_checkpoint(dir + "/run/last.ckpt", {meta, {{"syncnet", net.get()}}, {}}));
}
