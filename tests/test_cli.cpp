// The CLI's contract: --help/--version work; bad input gives exactly one line
// "error: ..." naming the file, exit status 2, and no output file.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "helpers.h"
#include "stf/media.h"
#include "stf/threads.h"

using namespace stf;
namespace fs = std::filesystem;

namespace {

std::string quote(const std::string& s) { return "'" + s + "'"; }

class CliBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = test::temp_dir("cli");
    out = dir + "/out.npy";
  }
  void TearDown() override { EXPECT_FALSE(fs::exists(out)) << "an output file was left behind"; }
  std::string dir, out;
};

}  // namespace

TEST(Cli, HelpAndVersion) {
  test::CliResult root = test::run_cli("--help");
  EXPECT_EQ(root.status, 0);
  EXPECT_NE(root.output.find("probe"), std::string::npos) << root.output;
  // Every subcommand explains itself and takes --threads.
  for (const char* cmd : {"probe", "mel", "faces", "preprocess", "train-sync", "train", "export", "generate", "eval",
                          "synth", "memory"}) {
    EXPECT_NE(root.output.find(cmd), std::string::npos) << cmd << " missing from --help";
    test::CliResult r = test::run_cli(std::string(cmd) + " --help");
    EXPECT_EQ(r.status, 0) << cmd;
    EXPECT_NE(r.output.find("--threads"), std::string::npos) << cmd << ": " << r.output;
  }
  // Each command offers the face options it uses: rendering ones only where a face is redrawn.
  const std::map<std::string, std::set<std::string>> offers = {{"faces", {"--align", "--strict"}},
                                                                {"preprocess", {"--align"}},
                                                                {"generate", {"--align", "--strict", "--jaw", "--sharpen"}},
                                                                {"eval", {"--align", "--jaw", "--sharpen"}}};
  for (const auto& [cmd, offered] : offers) {
    const std::string help = test::run_cli(cmd + " --help").output;
    for (const char* flag : {"--align", "--strict", "--jaw", "--sharpen"})
      EXPECT_EQ(help.find(std::string(flag) + " ") != std::string::npos, offered.count(flag) > 0) << cmd << " " << flag;
  }
  test::CliResult v = test::run_cli("--version");
  EXPECT_EQ(v.status, 0);
  EXPECT_EQ(v.output.rfind("synctalkface ", 0), 0u);
  test::expect_one_line_error(test::run_cli("no-such-command"), "no-such-command");
}

// A number out of its range says what it must be (not CLI11's range up to 1.8e308).
TEST(Cli, NumberOutOfRangeSaysWhatItMustBe) {
  test::expect_one_line_error(test::run_cli("train --data d --out o --steps 0"), "--steps: must be more than 0, not 0");
  test::expect_one_line_error(test::run_cli("mel a.wav --out a.npy --threads -3"), "--threads: must be 0 or more, not -3");
  test::expect_one_line_error(test::run_cli("train --data d --out o --lr -1"), "--lr: must be 0 or more, not -1");
  test::expect_one_line_error(test::run_cli("generate --face f --text hi --outfile o.mp4 --crf 60"),
                              "--crf: must be from 0 to 51, not 60");
  test::expect_one_line_error(test::run_cli("generate --face f --text hi --outfile o.mp4 --resize-factor 0.5"),
                              "--resize-factor: must be from 1 to 16, not 0.5");
  // nan and inf parse as numbers; a box or padding of them was taken (and a nan box passed its top < bottom check).
  test::expect_one_line_error(test::run_cli("generate --face f --text hi --outfile o.mp4 --box nan 10 0 10"),
                              "--box: must be a finite number, not nan");
  test::expect_one_line_error(test::run_cli("faces f --pads 0 inf 0 0"), "--pads: must be a finite number, not inf");
  test::expect_one_line_error(test::run_cli("eval --data d --audio-shift nan"), "--audio-shift: must be a finite number, not nan");
}

TEST(Cli, ProbeAndMelOnRealClip) {
  std::string clip = test::shared_data("grid_s1/bbaf2n.mp4");
  test::CliResult r = test::run_cli("probe --json " + quote(clip));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("\"fps\": 25.0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\"sample_rate\": 16000"), std::string::npos) << r.output;

  std::string out = test::temp_dir("cli_mel") + "/m.npy";
  r = test::run_cli("mel " + quote(clip) + " --out " + quote(out) + " --threads 1");
  ASSERT_EQ(r.status, 0) << r.output;
  test::Npy m = test::read_npy(out);
  ASSERT_EQ(m.shape.size(), 2u);
  EXPECT_EQ(m.shape[0], 80);
  EXPECT_NEAR(m.shape[1], 241, 5);  // about 3 s at 80 columns/s, + 1
}

// More threads than cores only slow the work down: they are capped, with a note.
TEST(Cli, ThreadsBeyondTheCoresAreCapped) {
  std::string clip = test::shared_data("grid_s1/bbaf2n.mp4");
  std::string out = test::temp_dir("cli_threads") + "/m.npy";
  test::CliResult r = test::run_cli("mel " + quote(clip) + " --out " + quote(out) + " --threads 100000");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("note: --threads 100000 is more than the"), std::string::npos) << r.output;
  EXPECT_EQ(test::read_npy(out).shape.size(), 2u);
  // A process allowed one CPU (taskset, as a container's cpuset does) counts one core.
  if (std::system("taskset -c 0 true > /dev/null 2>&1") != 0) GTEST_SKIP() << "no taskset";
  r = test::run_cli("mel " + quote(clip) + " --out " + quote(out) + " --threads 2", "taskset -c 0");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("more than the CPU cores this process can use (1); using 1"), std::string::npos) << r.output;
}

// A container's CPU quota (docker --cpus), cgroup v2 and v1: the least of the process's cgroup, those above it
// and the mount's root.
TEST(Cli, CgroupCpuQuotaIsRead) {
  const std::string root = test::temp_dir("cgroup");
  auto write = [&](const std::string& rel, const std::string& text) {
    fs::create_directories(fs::path(root + rel).parent_path());
    std::ofstream(root + rel) << text << "\n";
  };
  EXPECT_EQ(cgroup_cpu_limit(root, "0::/\n"), 0);  // nothing mounted there: no limit
  write("/cpu.max", "150000 100000");
  EXPECT_EQ(cgroup_cpu_limit(root, "0::/\n"), 2);  // 1.5 CPUs: 2 threads
  write("/user.slice/job/cpu.max", "max 100000");
  EXPECT_EQ(cgroup_cpu_limit(root, "0::/user.slice/job\n"), 2);  // none of its own: the root's
  EXPECT_EQ(cgroup_cpu_limit(root, "0::/docker/abc\n"), 2);       // not mounted at its path: the root's
  write("/user.slice/cpu.max", "100000 100000");
  EXPECT_EQ(cgroup_cpu_limit(root, "0::/user.slice/job\n"), 1);  // the slice above it allows less
  write("/cpu,cpuacct/cpu.cfs_quota_us", "400000");
  write("/cpu,cpuacct/cpu.cfs_period_us", "100000");
  EXPECT_EQ(cgroup_cpu_limit(root, "4:memory:/x\n3:cpu,cpuacct:/docker/abc\n"), 4);
  write("/cpu,cpuacct/cpu.cfs_quota_us", "-1");
  EXPECT_EQ(cgroup_cpu_limit(root, "3:cpu,cpuacct:/\n"), 0);
  EXPECT_EQ(cgroup_cpu_limit(root, "3:cpu:odd\n2:cpu\n"), 0);  // malformed lines: read, nothing found
  EXPECT_GE(available_cores(), 1);
}

TEST_F(CliBadInput, MissingFile) {
  test::expect_one_line_error(test::run_cli("mel " + quote(dir + "/nope.wav") + " --out " + quote(out)), "nope.wav");
  test::expect_one_line_error(test::run_cli("probe " + quote(dir + "/nope.mp4")), "nope.mp4");
}

TEST_F(CliBadInput, MelOutputNotNamedNpy) {  // was written, as .npy data under the name given
  const std::string txt = dir + "/mel.txt";
  test::expect_one_line_error(test::run_cli("mel " + quote(test::shared_data("retalking/speech1.wav")) + " --out " + quote(txt)),
                              "mel.txt: the mel is written as a NumPy array; name it .npy");
  EXPECT_FALSE(fs::exists(txt));
}

TEST_F(CliBadInput, Directory) {
  test::expect_one_line_error(test::run_cli("mel " + quote(dir) + " --out " + quote(out)), "directory");
}

TEST_F(CliBadInput, TextFileRenamedMp4) {
  std::string fake = dir + "/notes.mp4";
  std::ofstream(fake) << "these are my notes, not a video\n";
  test::expect_one_line_error(test::run_cli("mel " + quote(fake) + " --out " + quote(out)), "notes.mp4");
  test::expect_one_line_error(test::run_cli("probe " + quote(fake)), "notes.mp4");
}

// A RIFF/WAVE header whose chunk sizes are text: FFmpeg's WAV reader gives
// up with "Cannot allocate memory", which must not reach the user.
TEST_F(CliBadInput, DamagedWavHeaderIsNotCalledOutOfMemory) {
  std::string wav = dir + "/garbage.wav";
  std::ofstream f(wav, std::ios::binary);
  for (int i = 0; i < 10; ++i) f << "RIFF1234WAVEfmt garbage";
  f.close();
  test::CliResult r = test::run_cli("mel " + quote(wav) + " --out " + quote(out));
  test::expect_one_line_error(r, "garbage.wav");
  EXPECT_EQ(r.output.find("memory"), std::string::npos) << r.output;
}

TEST_F(CliBadInput, TruncatedMp4) {
  std::string src = test::shared_data("grid_s1/bbaf2n.mp4");
  std::string cut = dir + "/cut.mp4";
  std::string bytes = test::read_file(src);
  std::ofstream(cut, std::ios::binary).write(bytes.data(), bytes.size() / 2);
  test::expect_one_line_error(test::run_cli("mel " + quote(cut) + " --out " + quote(out)), "cut.mp4");
}

TEST_F(CliBadInput, VideoWithoutAudioGivenAsAudio) {
  std::string silent = dir + "/silent.mp4";
  {
    VideoWriter w(silent, 64, 64, {});
    for (int i = 0; i < 5; ++i) w.write(cv::Mat(64, 64, CV_8UC3, cv::Scalar(i * 20, 50, 50)));
    w.finish();
  }
  test::CliResult r = test::run_cli("mel " + quote(silent) + " --out " + quote(out));
  test::expect_one_line_error(r, "no audio stream");
}

TEST_F(CliBadInput, ZeroLengthAudio) {
  // A valid WAV header announcing 0 samples of 16-bit mono 16 kHz.
  std::string wav = dir + "/empty.wav";
  auto u32 = [](uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [](uint16_t v) { return std::string(reinterpret_cast<const char*>(&v), 2); };
  std::string h = "RIFF" + u32(36) + "WAVE" + "fmt " + u32(16) + u16(1) + u16(1) + u32(16000) +
                  u32(32000) + u16(2) + u16(16) + "data" + u32(0);
  std::ofstream(wav, std::ios::binary) << h;
  test::expect_one_line_error(test::run_cli("mel " + quote(wav) + " --out " + quote(out)), "empty.wav");
}

// Commands that write several files take a folder: a file given there is a
// one-line error (it was std::filesystem's "cannot create directories: Not
// a directory [...]", exit 1).
TEST_F(CliBadInput, OutputFolderThatIsAFile) {
  const std::string file = dir + "/notes.txt", photo = STF_SOURCE_DIR "/examples/grace_hopper_512x512.jpg";
  std::ofstream(file) << "notes\n";
  test::expect_one_line_error(test::run_cli("memory --text hello --out " + quote(file)), "is a file");
  test::expect_one_line_error(test::run_cli("preprocess " + quote(test::shared_data("grid_s1/bbaf2n.mp4")) + " --out " + quote(file)),
                              "notes.txt: is a file");
  test::expect_one_line_error(test::run_cli("synth --faces " + quote(photo) + " --clips 1 --out " + quote(file)), "notes.txt: is a file");
  std::string text = test::read_file(file);
  EXPECT_EQ(text, "notes\n");
}

TEST_F(CliBadInput, UnwritableOutputPath) {
  std::string clip = test::shared_data("grid_s1/bbaf2n.mp4");
  test::expect_one_line_error(test::run_cli("mel " + quote(clip) + " --out " + quote(dir + "/no/such/dir/m.npy")),
                        "m.npy");
  test::expect_one_line_error(test::run_cli("mel " + quote(clip) + " --out /proc/m.npy"), "m.npy");
  test::expect_one_line_error(test::run_cli("mel " + quote(clip) + " --out " + quote(dir)), "directory");
  // An output that would replace the input.
  std::filesystem::copy_file(clip, dir + "/in.mp4");
  const auto size = std::filesystem::file_size(dir + "/in.mp4");
  test::expect_one_line_error(test::run_cli("mel " + quote(dir + "/in.mp4") + " --out " + quote(dir + "/in.mp4")),
                              "is the input");
  test::expect_one_line_error(test::run_cli("faces " + quote(dir + "/in.mp4") + " --json " + quote(dir + "/in.mp4")),
                              "is the input");
  EXPECT_EQ(std::filesystem::file_size(dir + "/in.mp4"), size);
  // A name whose container would not hold H.264 + AAC.
  test::expect_one_line_error(
      test::run_cli("generate --face " + quote(STF_SOURCE_DIR "/examples/grace_hopper_512x512.jpg") + " --text hi --outfile " + quote(dir + "/o.webm")),
      "name it .mp4");
  test::expect_one_line_error(test::run_cli("faces " + quote(clip) + " --out " + quote(dir + "/debug.avi")), "name it .mp4");
  EXPECT_FALSE(std::filesystem::exists(dir + "/o.webm"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/debug.avi"));
}
