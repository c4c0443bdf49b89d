// Test helpers: shared data paths, temp folders, running the CLI, .npy reading,
// a video's frames and their tracked faces.
#pragma once
#include <csignal>
#include <cstdint>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "stf/face.h"

namespace stf::test {

// Absolute path of a file under ../shared/data (or $STF_SHARED_DATA); fails
// the calling test with a clear message when the file is missing.
std::string shared_data(const std::string& relative);

// A fresh empty folder under the build's temp area, removed at exit.
std::string temp_dir(const std::string& name);

// Two GRID s1 clips preprocessed once per test process (96 px crops, no
// validation split): the small real dataset of the training tests.
const std::string& two_clip_dataset();

struct CliResult {
  int status = -1;
  std::string output;  // stdout and stderr together
};
// Runs the synctalkface binary with the given argument string (shell-quoted by the caller),
// under `launcher` if one is given (a command that runs another, e.g. "taskset -c 0").
CliResult run_cli(const std::string& args, const std::string& launcher = "");

// The run failed with exit status 2 and its output ends in exactly one line
// "error: ..." that mentions `mention` (warnings may come before it).
void expect_one_line_error(const CliResult& r, const std::string& mention);

// A file's bytes; fails the calling test when the file cannot be read.
std::string read_file(const std::string& path);

// Runs a shell command, returns its exit status.
int run_shell(const std::string& command);

// Starts the synctalkface binary with these arguments (no shell), stdout and
// stderr going to log_path; waits until `ready()` is true (polled every 50 ms,
// at most 120 s), sends `sig`, waits for it to end, and returns the exit
// status (-1 if a signal killed it). The program starts with `sig` handled
// as by default, or with `ignored` ignored, as nohup starts it for SIGHUP.
// The log's text is left in *log.
int interrupt_cli_when(const std::vector<std::string>& args, const std::string& log_path,
                       bool (*ready)(const std::string& folder), const std::string& folder,
                       std::string* log, int sig = SIGINT, bool ignored = false);

// What remux changes in a file's streams.
struct Remux {
  int cw = 0;                    // a display matrix asking players to turn the picture cw degrees clockwise
  int sar_num = 0, sar_den = 1;  // when sar_num > 0, pixels sar_num / sar_den times as wide as tall
  double audio_late = 0;         // seconds the sound starts after the picture (negative: before it)
};

// Copies a file's packets into a new MP4 with the changes in `r`: the
// rotation as a phone filming in portrait writes it (FFmpeg's own tools read
// it the same way), the aspect as HDV or DV stores it, the sound delayed as
// in a recorder whose audio starts late.
void remux(const std::string& in, const std::string& out, const Remux& r);

struct Npy {
  std::vector<int64_t> shape;
  std::vector<double> data;  // converted from <f4 or <f8
};
Npy read_npy(const std::string& path);

// Every frame of a video, decoded by the project's reader.
std::vector<cv::Mat> read_frames(const std::string& path);

// The face tracker's output for `frames`, one per frame, in order; its
// counts in *stats when given.
std::vector<TrackedFrame> track_frames(const std::vector<cv::Mat>& frames, const TrackerOptions& opt,
                                       TrackStats* stats = nullptr);

// The bundled photo (examples/grace_hopper_512x512.jpg), its tracked
// landmarks and its default (96 px) crop transform; found is false when no
// face was tracked.
struct PhotoFace {
  cv::Mat image;
  Landmarks lm;
  cv::Matx23f to_crop;
  bool found = false;
};
PhotoFace bundled_photo_face();

}  // namespace stf::test
