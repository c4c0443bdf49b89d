// Streaming media I/O: decode + re-encode of a long 1280x720 video must keep
// memory flat. The input is made from a shared GRID clip scaled to 720p and
// looped (with its audio) to the requested length, written by our own writer.
// Each measurement runs in a forked child so its peak RSS is its own.
//
//   build/bench/bench_media [--benchmark_filter=...]   (STF_BENCH_MINUTES=10 by default)
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>

#include "bench_util.h"
#include "stf/media.h"

namespace {

// Decodes `in` and re-encodes it with its audio, frame by frame.
void transcode(const std::string& in, const std::string& out) {
  stf::VideoReader reader(in);
  stf::VideoWriterOptions opt;
  opt.fps = reader.fps();
  stf::VideoWriter writer(out, reader.width(), reader.height(), opt);
  writer.set_audio(stf::read_audio(in));
  for (cv::Mat f; reader.read(f);) writer.write(f);
  writer.finish();
}

void BM_Transcode720p(benchmark::State& state) {
  const double minutes = state.range(0) / 10.0;
  std::string in = stf::bench::make_clip(1280, 720, minutes * 60);
  std::string out = std::filesystem::temp_directory_path() / "stf_bench_out.mp4";
  stf::bench::ChildRun run;
  for (auto _ : state) {
    // This program in --transcode mode: a clean process whose peak RSS is its own.
    run = stf::bench::run_child({"/proc/self/exe", "--transcode", in, out});
    if (run.status != 0) state.SkipWithError("transcode failed");
  }
  std::filesystem::remove(out);
  state.counters["peak_rss_MB"] = run.peak_rss_mb;
  state.counters["frames_per_s"] = minutes * 60 * 25 / run.seconds;
}

}  // namespace

// Argument: length in tenths of a minute (1 minute and 10 minutes).
BENCHMARK(BM_Transcode720p)->Arg(10)->Arg(100)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--transcode") {
    try {
          transcode(argv[2], argv[3]);
      return 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "transcode: %s\n", e.what());
      return 1;
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
