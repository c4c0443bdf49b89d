// Streaming media I/O: decode + re-encode of a long 1280x720 video must keep
// memory flat. The input is made from a shared GRID clip scaled to 720p and
// looped (with its audio) to the requested length, written by our own writer.
// Each measurement runs in a forked child so its peak RSS is its own.
//
//   build/bench/bench_media [--benchmark_filter=...]   (STF_BENCH_MINUTES=10 by default)
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <opencv2/imgproc.hpp>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stf/media.h"

namespace {

std::string make_input(double minutes) {
  std::string path = std::filesystem::temp_directory_path() /
                     ("stf_bench_720p_" + std::to_string(int(minutes * 60)) + "s.mp4");
  if (std::filesystem::exists(path)) return path;
  std::string src = std::string(STF_SHARED_DATA_DIR) + "/grid_s1/bbaf2n.mp4";
  std::vector<cv::Mat> frames;
  stf::VideoReader reader(src);
  for (cv::Mat f; reader.read(f);) {
    cv::Mat big;
    cv::resize(f, big, cv::Size(1280, 720), 0, 0, cv::INTER_LINEAR);
    frames.push_back(big);
  }
  std::vector<float> clip_audio = stf::read_audio(src);
  const int64_t total = static_cast<int64_t>(minutes * 60 * 25);
  std::vector<float> audio;
  while (audio.size() < size_t(total) * 640) audio.insert(audio.end(), clip_audio.begin(), clip_audio.end());
  audio.resize(size_t(total) * 640);
  stf::VideoWriterOptions opt;
  opt.preset = "ultrafast";
  stf::VideoWriter writer(path, 1280, 720, opt);
  writer.set_audio(audio);
  for (int64_t i = 0; i < total; ++i) writer.write(frames[i % frames.size()]);
  writer.finish();
  return path;
}

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
  std::string in = make_input(minutes);
  std::string out = std::filesystem::temp_directory_path() / "stf_bench_out.mp4";
  long peak_kb = 0;
  double seconds = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    // fork + exec of this program in --transcode mode: a clean process
    // (no inherited thread pools) whose peak RSS wait4 reports alone.
    pid_t pid = fork();
    if (pid == 0) {
      execl("/proc/self/exe", "bench_media", "--transcode", in.c_str(), out.c_str(), nullptr);
      _exit(127);
    }
    int status = 0;
    rusage usage{};
    wait4(pid, &status, 0, &usage);
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) state.SkipWithError("transcode failed");
    peak_kb = usage.ru_maxrss;
  }
  std::filesystem::remove(out);
  state.counters["peak_rss_MB"] = peak_kb / 1024.0;
  state.counters["frames_per_s"] = minutes * 60 * 25 / seconds;
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
