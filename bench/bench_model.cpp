// Model cost for both configurations: parameters, inference GFLOP per frame
// (counted layer by layer), generator inference frames/s, the achieved
// GFLOP/s next to that of one large 3x3 convolution timed in the same run,
// and `generate` end to end (decode, track, model, blend, encode) with its peak RSS, each
// in its own process, on 720p and 224x224 clips; each in float32 and in
// bfloat16 (generate --precision; fast on CPUs with AMX units only).
//
//   build/bench/bench_model                      (STF_BENCH_SECONDS=60 by default)
//   build/bench/bench_model --benchmark_filter=EndToEnd
// A training step is timed by build/bench_train_step (bench_train_step.cpp).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "bench_util.h"
#include "model/blocks.h"
#include "model/model_file.h"
#include "model/precision.h"
#include "model/synctalkface.h"
#include "train/checkpoint.h"
#include "stf/threads.h"

namespace {

using stf::ModelConfig;

double inference_gflop_per_frame(stf::SyncTalkFace& g, int64_t S) {
  torch::NoGradGuard ng;
  stf::FlopCounter count;
  g->forward(torch::randn({1, 1, 80, 16}), torch::rand({1, 6, S, S}));
  return count.flops() / 1e9;
}

void BM_GeneratorInference(benchmark::State& state, const std::string& name, const std::string& precision) {
  stf::set_threads(0);
  torch::manual_seed(0);
  ModelConfig c = ModelConfig::preset(name);
  stf::SyncTalkFace g(c);
  g->eval();
  const double gflop = inference_gflop_per_frame(g, c.image_size);
  stf::prepare_inference(*g, stf::parse_precision(precision));  // as generate runs it
  const int64_t B = state.range(0), S = c.image_size;
  auto mel = torch::randn({B, 1, 80, 16});
  auto id = torch::rand({B, 6, S, S});
  torch::NoGradGuard ng;
  g->forward(mel, id);  // warm-up (oneDNN kernel generation)
  for (auto _ : state) benchmark::DoNotOptimize(g->forward(mel, id));
  state.counters["params_M"] = stf::parameter_count(*g) / 1e6;
  state.counters["GFLOP_per_frame"] = gflop;
  state.counters["frames_per_s"] = benchmark::Counter(double(B), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP_per_s"] = benchmark::Counter(gflop * B, benchmark::Counter::kIsIterationInvariantRate);
}

// The reference: one 256->256 3x3 convolution on 32x32, batch 16, in the
// number format and layout that prepare_inference gives the model.
void BM_ReferenceConv(benchmark::State& state, const std::string& precision) {
  stf::set_threads(0);
  torch::NoGradGuard ng;
  auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(256, 256, 3).padding(1));
  auto x = torch::randn({16, 256, 32, 32});
  stf::prepare_inference(*conv, stf::parse_precision(precision));
  x = x.to(conv->weight.scalar_type()).contiguous(conv->weight.suggest_memory_format());  // channels-last, as the model's activations
  conv->forward(x);
  for (auto _ : state) benchmark::DoNotOptimize(conv->forward(x));
  const double gflop = 2.0 * 16 * 256 * 32 * 32 * 256 * 9 / 1e9;
  state.counters["GFLOP_per_s"] = benchmark::Counter(gflop, benchmark::Counter::kIsIterationInvariantRate);
}

// A model file for `name`: the bundled one for lite, freshly initialised
// weights for paper (speed does not depend on training).
std::string model_file(const std::string& name) {
  if (name == "lite") return stf::default_model_path();
  std::string path = std::filesystem::temp_directory_path() / ("stf_bench_" + name + ".stfm");
  if (std::filesystem::exists(path)) return path;
  ModelConfig c = ModelConfig::preset(name);
  stf::SyncTalkFace g(c);
  nlohmann::json meta{{"kind", "model"}, {"module", "generator"}, {"config", c.to_json()}, {"dtype", "float32"}};
  stf::save_checkpoint(path, stf::Checkpoint{meta, {{"generator", g.get()}}, {}});
  return path;
}

// generate on a width x height clip of STF_BENCH_SECONDS (default 60) s.
void BM_EndToEnd(benchmark::State& state, const std::string& name, const std::string& precision) {
  const int w = state.range(0), h = state.range(1);
  const char* env = std::getenv("STF_BENCH_SECONDS");
  const double seconds = env ? std::atof(env) : 60;
  std::string in = stf::bench::make_clip(w, h, seconds), model = model_file(name);
  std::string out = std::filesystem::temp_directory_path() / "stf_bench_generated.mp4";
  stf::bench::ChildRun run;
  for (auto _ : state) {
    run = stf::bench::run_child({STF_CLI_PATH, "generate", "--face", in, "--audio", in, "--outfile", out, "--model",
                                 model, "--precision", precision, "--json"});
    if (run.status != 0) state.SkipWithError("generate failed");
  }
  std::filesystem::remove(out);
  state.counters["frames_per_s"] = seconds * 25 / run.seconds;
  state.counters["peak_rss_MB"] = run.peak_rss_mb;
}

}  // namespace

BENCHMARK_CAPTURE(BM_EndToEnd, lite_fp32, std::string("lite"), std::string("fp32"))->Args({1280, 720})->Args({224, 224})->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_EndToEnd, lite_bf16, std::string("lite"), std::string("bf16"))->Args({1280, 720})->Args({224, 224})->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_EndToEnd, paper_fp32, std::string("paper"), std::string("fp32"))->Args({1280, 720})->Args({224, 224})->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_EndToEnd, paper_bf16, std::string("paper"), std::string("bf16"))->Args({1280, 720})->Args({224, 224})->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_GeneratorInference, lite_fp32, std::string("lite"), std::string("fp32"))->Arg(1)->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_GeneratorInference, lite_bf16, std::string("lite"), std::string("bf16"))->Arg(1)->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_GeneratorInference, paper_fp32, std::string("paper"), std::string("fp32"))->Arg(1)->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_GeneratorInference, paper_bf16, std::string("paper"), std::string("bf16"))->Arg(1)->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_ReferenceConv, fp32, std::string("fp32"))->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_ReferenceConv, bf16, std::string("bf16"))->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
