#include "bench_util.h"

#include <chrono>
#include <filesystem>
#include <opencv2/imgproc.hpp>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stf/media.h"

namespace stf::bench {

std::string make_clip(int width, int height, double seconds) {
  std::string path = std::filesystem::temp_directory_path() /
                     ("stf_bench_" + std::to_string(width) + "x" + std::to_string(height) + "_" +
                      std::to_string(int(seconds)) + "s.mp4");
  if (std::filesystem::exists(path)) return path;
  std::string src = std::string(STF_SHARED_DATA_DIR) + "/grid_s1/bbaf2n.mp4";
  std::vector<cv::Mat> frames;
  VideoReader reader(src);
  for (cv::Mat f; reader.read(f);) {
    cv::Mat scaled;
    cv::resize(f, scaled, cv::Size(width, height), 0, 0, cv::INTER_LINEAR);
    frames.push_back(scaled);
  }
  std::vector<float> clip_audio = read_audio(src);
  const int64_t total = static_cast<int64_t>(seconds * 25);
  std::vector<float> audio;
  while (audio.size() < size_t(total) * 640) audio.insert(audio.end(), clip_audio.begin(), clip_audio.end());
  audio.resize(size_t(total) * 640);
  VideoWriterOptions opt;
  opt.preset = "ultrafast";
  VideoWriter writer(path, width, height, opt);
  writer.set_audio(audio);
  for (int64_t i = 0; i < total; ++i) writer.write(frames[i % frames.size()]);
  writer.finish();
  return path;
}

ChildRun run_child(const std::vector<std::string>& argv) {
  ChildRun r;
  int fds[2];
  if (pipe(fds) != 0) return r;
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) r.output.append(buf, n);
  close(fds[0]);
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.peak_rss_mb = usage.ru_maxrss / 1024.0;
  return r;
}

}  // namespace stf::bench
