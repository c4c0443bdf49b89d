#include "helpers.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <sys/wait.h>

#include "stf/media.h"
#include "train/preprocess.h"
#include <unistd.h>
extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/display.h>
}

namespace fs = std::filesystem;

namespace stf::test {

std::string shared_data(const std::string& relative) {
  const char* env = std::getenv("STF_SHARED_DATA");
  fs::path p = fs::path(env ? env : STF_SHARED_DATA_DIR) / relative;
  if (!fs::exists(p))
    ADD_FAILURE() << "missing shared test data " << p
                  << " (expected ../shared/data beside the checkout, or set STF_SHARED_DATA)";
  return p.string();
}

std::string temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() /
               ("stf_test_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  static std::vector<fs::path> made;
  if (made.empty()) std::atexit([] { for (auto& d : made) fs::remove_all(d); });
  made.push_back(p);
  return p.string();
}

const std::string& two_clip_dataset() {
  static std::string dir = [] {
    std::string d = temp_dir("two_clip_ds");
    PreprocessOptions opt;
    opt.size = 96;
    opt.val_ratio = 0;
    opt.quiet = true;
    preprocess({shared_data("grid_s1/bbaf2n.mp4"), shared_data("grid_s1/bbaf3s.mp4")}, d, opt);
    return d;
  }();
  return dir;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) ADD_FAILURE() << path << ": cannot be read";
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

int run_shell(const std::string& command) {
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int interrupt_cli_when(const std::vector<std::string>& args, const std::string& log_path,
                       bool (*ready)(const std::string& folder), const std::string& folder,
                       std::string* log, int sig, bool ignored) {
  pid_t pid = fork();
  if (pid == 0) {
    // As from a terminal (a background job in a script starts with SIGINT
    // ignored, which the program keeps), or ignored as nohup does; kept across execv.
    std::signal(sig, ignored ? SIG_IGN : SIG_DFL);
    FILE* f = std::freopen(log_path.c_str(), "w", stdout);
    if (!f || dup2(fileno(stdout), STDERR_FILENO) < 0) _exit(127);
    std::vector<char*> argv{const_cast<char*>(STF_CLI_PATH)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(STF_CLI_PATH, argv.data());
    _exit(127);
  }
  int status = 0;
  bool exited = false;
  for (int i = 0; i < 2400 && !exited; ++i) {
    if (ready(folder)) break;
    exited = waitpid(pid, &status, WNOHANG) == pid;
    if (!exited) usleep(50000);
  }
  if (!exited) {
    kill(pid, sig);
    waitpid(pid, &status, 0);
  }
  *log = read_file(log_path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void expect_one_line_error(const CliResult& r, const std::string& mention) {
  EXPECT_EQ(r.status, 2) << r.output;
  size_t at = r.output.find("error: ");
  ASSERT_NE(at, std::string::npos) << r.output;
  EXPECT_TRUE(at == 0 || r.output[at - 1] == '\n') << r.output;
  EXPECT_EQ(r.output.find('\n', at), r.output.size() - 1) << "the error is not one last line: " << r.output;
  EXPECT_NE(r.output.find(mention), std::string::npos) << r.output;
}

CliResult run_cli(const std::string& args, const std::string& launcher) {
  CliResult r;
  std::string cmd = (launcher.empty() ? "" : launcher + " ") + "'" + STF_CLI_PATH + "' " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

Npy read_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  char magic[8];
  f.read(magic, 8);
  if (std::memcmp(magic, "\x93NUMPY", 6) != 0) throw std::runtime_error(path + ": not .npy");
  uint32_t hlen = 0;
  if (magic[6] == 1) {
    uint16_t h;
    f.read(reinterpret_cast<char*>(&h), 2);
    hlen = h;
  } else {
    f.read(reinterpret_cast<char*>(&hlen), 4);
  }
  std::string header(hlen, ' ');
  f.read(header.data(), hlen);
  if (header.find("'fortran_order': False") == std::string::npos)
    throw std::runtime_error(path + ": fortran order not supported");
  Npy out;
  auto open = header.find('(', header.find("'shape'"));
  auto close = header.find(')', open);
  std::string dims = header.substr(open + 1, close - open - 1);
  int64_t count = 1;
  for (size_t pos = 0; pos < dims.size();) {
    size_t comma = dims.find(',', pos);
    std::string tok = dims.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (tok.find_first_of("0123456789") != std::string::npos) {
      out.shape.push_back(std::stoll(tok));
      count *= out.shape.back();
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  out.data.resize(count);
  if (header.find("<f4") != std::string::npos) {
    std::vector<float> tmp(count);
    f.read(reinterpret_cast<char*>(tmp.data()), count * 4);
    std::copy(tmp.begin(), tmp.end(), out.data.begin());
  } else if (header.find("<f8") != std::string::npos) {
    f.read(reinterpret_cast<char*>(out.data.data()), count * 8);
  } else {
    throw std::runtime_error(path + ": unsupported dtype");
  }
  if (!f) throw std::runtime_error(path + ": truncated");
  return out;
}

void remux(const std::string& in, const std::string& out, const Remux& r) {
  AVFormatContext* ic = nullptr;
  ASSERT_EQ(avformat_open_input(&ic, in.c_str(), nullptr, nullptr), 0);
  ASSERT_GE(avformat_find_stream_info(ic, nullptr), 0);
  AVFormatContext* oc = nullptr;
  ASSERT_GE(avformat_alloc_output_context2(&oc, nullptr, nullptr, out.c_str()), 0);
  for (unsigned i = 0; i < ic->nb_streams; ++i) {
    AVStream* os = avformat_new_stream(oc, nullptr);
    ASSERT_GE(avcodec_parameters_copy(os->codecpar, ic->streams[i]->codecpar), 0);
    os->codecpar->codec_tag = 0;
    os->time_base = ic->streams[i]->time_base;
    if (os->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
      uint8_t* m = av_stream_new_side_data(os, AV_PKT_DATA_DISPLAYMATRIX, 9 * sizeof(int32_t));
      av_display_rotation_set(reinterpret_cast<int32_t*>(m), r.cw);  // "a pure clockwise rotation"
      if (r.sar_num > 0) os->sample_aspect_ratio = os->codecpar->sample_aspect_ratio = AVRational{r.sar_num, r.sar_den};
    }
  }
  ASSERT_GE(avio_open(&oc->pb, out.c_str(), AVIO_FLAG_WRITE), 0);
  ASSERT_GE(avformat_write_header(oc, nullptr), 0);
  AVPacket* pkt = av_packet_alloc();
  while (av_read_frame(ic, pkt) >= 0) {
    const AVStream* is = ic->streams[pkt->stream_index];
    const bool audio = is->codecpar->codec_type == AVMEDIA_TYPE_AUDIO;
    const double delay = audio ? std::max(r.audio_late, 0.0) : std::max(-r.audio_late, 0.0);
    const int64_t shift = std::llround(delay / av_q2d(is->time_base));
    if (pkt->pts != AV_NOPTS_VALUE) pkt->pts += shift;
    if (pkt->dts != AV_NOPTS_VALUE) pkt->dts += shift;
    av_packet_rescale_ts(pkt, is->time_base, oc->streams[pkt->stream_index]->time_base);
    pkt->pos = -1;
    ASSERT_GE(av_interleaved_write_frame(oc, pkt), 0);
  }
  av_packet_free(&pkt);
  av_write_trailer(oc);
  avio_closep(&oc->pb);
  avformat_free_context(oc);
  avformat_close_input(&ic);
}

std::vector<cv::Mat> read_frames(const std::string& path) {
  VideoReader reader(path);
  std::vector<cv::Mat> frames;
  for (cv::Mat f; reader.read(f);) frames.push_back(f);
  return frames;
}

std::vector<TrackedFrame> track_frames(const std::vector<cv::Mat>& frames, const TrackerOptions& opt,
                                       TrackStats* stats) {
  FaceTracker tracker(opt);
  std::vector<TrackedFrame> out;
  TrackedFrame tf;
  for (const cv::Mat& f : frames) {
    tracker.push(f);
    while (tracker.pop(tf)) out.push_back(tf);
  }
  tracker.finish();
  while (tracker.pop(tf)) out.push_back(tf);
  if (stats) *stats = tracker.stats();
  return out;
}

PhotoFace bundled_photo_face() {
  PhotoFace p;
  p.image = cv::imread(STF_SOURCE_DIR "/examples/grace_hopper_512x512.jpg");
  if (p.image.empty()) return p;
  std::vector<TrackedFrame> out = track_frames({p.image}, TrackerOptions{});
  p.found = out[0].face.found;
  p.lm = out[0].face.landmarks;
  p.to_crop = crop_transform(p.lm, CropOptions{});
  return p;
}

}  // namespace stf::test
