// generate end to end on real clips with the bundled model: frame rates,
// lengths, loops, photos, text input, pass-through of faceless frames and the
// fade around them, bad inputs, Ctrl-C; and the exported model file.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "helpers.h"
#include "audio/speech.h"
#include "eval/metrics.h"
#include "model/model_file.h"
#include "model/precision.h"
#include "pipeline/generate.h"
#include "pipeline/reference.h"
#include "stf/audio.h"
#include "stf/face.h"
#include "stf/media.h"
#include "synth/visemes.h"

using namespace stf;
namespace fs = std::filesystem;
using test::read_frames;

namespace {

std::string q(const std::string& s) { return "'" + s + "'"; }

nlohmann::json generate_json(const std::string& args) {
  test::CliResult r = test::run_cli("generate " + args + " --json --threads 2");
  EXPECT_EQ(r.status, 0) << r.output;
  return r.status == 0 ? nlohmann::json::parse(r.output) : nlohmann::json{};
}

// The frames after one pass through the project's writer at generate's
// settings: what "unchanged" can mean after re-encoding.
std::vector<cv::Mat> reencoded(const std::vector<cv::Mat>& frames, double fps, const std::string& dir) {
  VideoWriterOptions w;
  w.fps = fps;
  {
    VideoWriter writer(dir + "/reencoded.mp4", frames[0].cols, frames[0].rows, w);
    for (const cv::Mat& f : frames) writer.write(f);
    writer.finish();
  }
  return read_frames(dir + "/reencoded.mp4");
}

double mean_abs_diff(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat d;
  cv::absdiff(a, b, d);
  cv::Scalar m = cv::mean(d);
  return (m[0] + m[1] + m[2]) / 3;
}

// dlib landmarks of a still frame (one shared landmark model).
Landmarks landmarks_of(const cv::Mat& frame) {
  static auto model = std::make_shared<const LandmarkModel>();
  FaceObservation face = find_face(frame, model);
  EXPECT_TRUE(face.found);
  return face.landmarks;
}

// Mouth opening: mean gap between the inner lips (61-67, 62-66, 63-65) over
// the inter-ocular distance.
double mouth_opening(const cv::Mat& frame) {
  const Landmarks lm = landmarks_of(frame);
  double gap = 0;
  for (auto [a, b] : {std::pair{61, 67}, {62, 66}, {63, 65}}) gap += cv::norm(lm[a] - lm[b]) / 3;
  return gap / inter_ocular_distance(lm);
}

// The box around the mouth points, grown by half its size on every side.
cv::Rect mouth_box(const cv::Mat& frame) {
  const Landmarks lm = landmarks_of(frame);
  cv::Rect b = cv::boundingRect(std::vector<cv::Point2f>(lm.begin() + 48, lm.end()));
  b -= cv::Point(b.width / 2, b.height / 2);
  b += cv::Size(b.width, b.height);
  return b & cv::Rect(0, 0, frame.cols, frame.rows);
}

// A clip of 25 black 64x64 frames carrying `samples` (16 kHz mono) as its
// sound: speech to drive generate with.
void write_sound_clip(const std::string& path, std::vector<float> samples) {
  VideoWriter w(path, 64, 64, VideoWriterOptions{});
  w.set_audio(std::move(samples));
  for (int i = 0; i < 25; ++i) w.write(cv::Mat(64, 64, CV_8UC3, cv::Scalar(0, 0, 0)));
  w.finish();
}

double mean_of(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / v.size(); }

}  // namespace

TEST(Generate, LoopModesVisitFramesWithoutJumps) {
  std::vector<int64_t> ping, rep;
  for (int i = 0; i < 10; ++i) ping.push_back(looped_frame(i, 4, "pingpong")), rep.push_back(looped_frame(i, 4, "repeat"));
  EXPECT_EQ(ping, (std::vector<int64_t>{0, 1, 2, 3, 2, 1, 0, 1, 2, 3}));
  EXPECT_EQ(rep, (std::vector<int64_t>{0, 1, 2, 3, 0, 1, 2, 3, 0, 1}));
  EXPECT_EQ(looped_frame(7, 1, "pingpong"), 0);
}

TEST(Generate, ReferenceIsTheFaceFromLagFramesBeforeInTheSameShot) {
  auto crop = [](int i) { return torch::full({3, 2, 2}, float(i)); };
  auto seen = [](const torch::Tensor& t) { return int(t[0][0][0].item<float>()); };
  ReferenceHistory refs(3);
  std::vector<int> got;
  for (int i = 0; i < 6; ++i) got.push_back(seen(refs.next(0, crop(i))));
  EXPECT_EQ(got, (std::vector<int>{0, 0, 0, 0, 1, 2}));  // the shot's first crop, then 3 frames back
  EXPECT_EQ(seen(refs.next(1, crop(10))), 10);            // a new shot starts afresh
  EXPECT_EQ(seen(refs.next(1, crop(11))), 10);
  refs.reset();                                           // the face was lost
  EXPECT_EQ(seen(refs.next(1, crop(12))), 12);
  ReferenceHistory itself(0);
  EXPECT_EQ(seen(itself.next(0, crop(5))), 5);
  EXPECT_EQ(seen(itself.next(0, crop(6))), 6);
  // The sharp image given with a crop comes back with it.
  ReferenceHistory sharp(2);
  for (int i = 0; i < 5; ++i) {
    const int got = seen(sharp.next(0, crop(i), 0, 0, {}, cv::Mat(1, 1, CV_8U, cv::Scalar(100 + i))));
    EXPECT_EQ(sharp.sharp().at<uchar>(0, 0), 100 + got);
  }
}

TEST(Generate, ReferenceChoiceMatchesTheMouthToTheSpeech) {
  EXPECT_EQ(ranks({3, 1, 2, 2}), (std::vector<double>{1, 0, 0.5, 0.5}));
  auto crop = [](int i) { return torch::full({3, 2, 2}, float(i)); };
  auto seen = [](const torch::Tensor& t) { return int(t[0][0][0].item<float>()); };
  // lag 2, choice 3: crops 2 to 5 frames back are candidates, ranked by mouth opening.
  const std::vector<double> opening{0.0, 0.5, 0.2, 0.9, 0.1, 0.3, 0.8, 0.0, 0.0};
  const std::vector<double> loudness{0.5, 0.5, 0.5, 1.0, 0.0, 0.7, 0.75, 0.95, 0.8};
  ReferenceHistory refs(2, 3);
  std::vector<int> got;
  for (int i = 0; i < 9; ++i) got.push_back(seen(refs.next(0, crop(i), opening[i], loudness[i])));
  // 0-2: the shot's first crop (nothing 2 back yet); 3: loud, the more open of {0, 1}; 4: silent, the most
  // closed of {0, 1, 2}; 5: rank 0.7 of {0, 1, 2, 3} -> 1 (rank 2/3); 6: 1 again (the nearest rank, and held);
  // 7: crop 1 left the window, 3 is the most open; 8: rank 0.8 in {3, 4, 5, 6}: 6 (2/3) is nearer than 3 (1)
  // by less than the hold, so 3 stays.
  EXPECT_EQ(got, (std::vector<int>{0, 0, 0, 1, 0, 1, 1, 3, 3}));
  refs.reset();
  EXPECT_EQ(seen(refs.next(0, crop(20), 0.5, 1.0)), 20);  // a lost face starts afresh
}

TEST(Generate, ReferenceChoiceSkipsFacesPosedOtherwise) {
  auto crop = [](int i) { return torch::full({3, 2, 2}, float(i)); };
  auto seen = [](const torch::Tensor& t) { return int(t[0][0][0].item<float>()); };
  auto pose = [](float dx) { return std::vector<cv::Point2f>{{0.3f + dx, 0.4f}, {0.7f + dx, 0.4f}, {0.5f + dx, 0.6f}}; };
  // lag 2, choice 3. Crop 1 has the most open mouth but the head 5% of the crop to the side;
  // crop 3 is 0.5% off, within the tolerance.
  const std::vector<double> opening{0.1, 0.9, 0.2, 0.3, 0.0, 0.0, 0.0};
  const std::vector<double> loudness{0.5, 0.5, 0.5, 0.5, 0.5, 1.0, 0.0};
  const std::vector<float> dx{0, 0.05f, 0, 0.005f, 0, 0, 0.05f};
  ReferenceHistory refs(2, 3);
  std::vector<int> got;
  for (int i = 0; i < 7; ++i) got.push_back(seen(refs.next(0, crop(i), opening[i], loudness[i], pose(dx[i]))));
  // 5: loud; of the candidates 0-3 the most open posed alike is 3 (1 is turned away);
  // 6: silent, posed as 1: of 1-4 only 1 is posed alike, so it is taken however open.
  EXPECT_EQ(got[5], 3);
  EXPECT_EQ(got[6], 1);
  ReferenceHistory blind(2, 3);  // without poses the mouth alone decides
  for (int i = 0; i < 6; ++i) got[i] = seen(blind.next(0, crop(i), opening[i], loudness[i]));
  EXPECT_EQ(got[5], 1);
}

// A quick turn: when every crop lag frames back is posed more than 5% of the
// crop away, a crop from `near` frames back posed like the frame is taken
// (it drew a smear of two mouths otherwise), or the frame itself when none
// is; a turn within 5% changes nothing.
TEST(Generate, ReferenceOnAQuickTurnComesFromNearerFrames) {
  auto crop = [](int i) { return torch::full({3, 2, 2}, float(i)); };
  auto seen = [](const torch::Tensor& t) { return int(t[0][0][0].item<float>()); };
  auto pose = [](float dx) { return std::vector<cv::Point2f>{{0.3f + dx, 0.4f}, {0.7f + dx, 0.4f}, {0.5f + dx, 0.6f}}; };
  for (float turn : {0.1f, 0.04f}) {
    // lag 3, choice 2, near_lag 1: the head turns by `turn` at crop 5 and stays turned.
    ReferenceHistory refs(3, 2, 1), before(3, 2);  // before: without the nearer frames
    std::vector<int> got, old;
    for (int i = 0; i < 8; ++i) {
      const float dx = i >= 5 ? turn : 0;
      got.push_back(seen(refs.next(0, crop(i), 0.1 * i, 0.5, pose(dx))));
      old.push_back(seen(before.next(0, crop(i), 0.1 * i, 0.5, pose(dx))));
    }
    EXPECT_EQ(std::vector<int>(got.begin(), got.begin() + 5), std::vector<int>(old.begin(), old.begin() + 5)) << turn;
    if (turn > 0.05f) EXPECT_EQ(got[5], 5) << "the turn's first frame: nothing before is posed alike";
    for (int i = 5 + (turn > 0.05f); i < 8; ++i) {
      EXPECT_LE(old[i], 4) << "lag 3 back at most: posed otherwise";
      if (turn > 0.05f)
        EXPECT_GE(got[i], 5) << i << ": a crop posed as the frame, 1-2 frames back";
      else
        EXPECT_EQ(got[i], old[i]) << i << ": within 5% the usual candidates stay";
    }
  }
  // A head still turning, 6% of the crop a frame: nothing before is posed alike, so the frame itself.
  ReferenceHistory refs(3, 2, 1);
  std::vector<int> got;
  for (int i = 0; i < 8; ++i) got.push_back(seen(refs.next(0, crop(i), 0.1 * i, 0.5, pose(i >= 5 ? 0.06f * (i - 4) : 0))));
  EXPECT_EQ(got[6], 6);
  EXPECT_EQ(got[7], 7);
}

// A shot's first lag frames: no crop lies lag frames back yet. They keep the
// shot's first crop while it is posed like the frame (a steady reference),
// else take the oldest crop from near_lag frames back posed like it, else
// the frame itself (the first crop drew its pose, and a smear of two mouths,
// over the whole first second).
TEST(Generate, ReferenceAtAShotsStartIsPosedLikeTheFrame) {
  auto crop = [](int i) { return torch::full({3, 2, 2}, float(i)); };
  auto seen = [](const torch::Tensor& t) { return int(t[0][0][0].item<float>()); };
  auto pose = [](float dx) { return std::vector<cv::Point2f>{{0.3f + dx, 0.4f}, {0.7f + dx, 0.4f}, {0.5f + dx, 0.6f}}; };
  const std::vector<double> opening{0.0, 0.8, 0.1, 0.0, 0.0, 0.0};
  const std::vector<double> loudness{0.5, 0.5, 0.5, 1.0, 0.0, 0.0};
  // lag 4, choice 2, near_lag 2; the head 3% of the crop to the side in the first crop only.
  ReferenceHistory refs(4, 2, 2), without(4, 2), steady(4, 2, 2);
  std::vector<int> got, old, still;
  for (int i = 0; i < 6; ++i) {
    got.push_back(seen(refs.next(0, crop(i), opening[i], loudness[i], pose(i == 0 ? 0.03f : 0))));
    old.push_back(seen(without.next(0, crop(i), opening[i], loudness[i], pose(i == 0 ? 0.03f : 0))));
    still.push_back(seen(steady.next(0, crop(i), opening[i], loudness[i], pose(0))));
  }
  // 0-1: the first crop (nothing 2 back); 2: crop 0, the only one 2 back; 3: crop 1, posed alike;
  // 4-5: the usual candidates (4 to 6 back).
  EXPECT_EQ(got, (std::vector<int>{0, 0, 0, 1, 0, 1}));
  EXPECT_EQ(old, (std::vector<int>{0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(still, (std::vector<int>{0, 0, 0, 0, 0, 0})) << "a head held still keeps the first crop";
  // A head turned by 10% of the crop at frame 3: nothing 2 back is posed alike, so the frame itself.
  ReferenceHistory turned(4, 2, 2);
  for (int i = 0; i < 4; ++i) got[i] = seen(turned.next(0, crop(i), opening[i], loudness[i], pose(i == 3 ? 0.1f : 0)));
  EXPECT_EQ(got[3], 3);
}

TEST(Generate, DubsA25FpsClipForTheWholeAudio) {
  // 3 s of video, 5 s of speech: pingpong fills the rest.
  std::string dir = test::temp_dir("gen25"), out = dir + "/out.mp4";
  std::string face = test::shared_data("grid_s1/bbaf2n.mp4"), speech = test::shared_data("retalking/speech1.wav");
  nlohmann::json s = generate_json("--face " + q(face) + " --audio " + q(speech) + " --outfile " + q(out));
  MediaInfo info = probe_media(out);
  const double audio_s = read_audio(speech).size() / 16000.0;
  ASSERT_EQ(info.streams.size(), 2u);
  EXPECT_NEAR(info.streams[0].fps, 25.0, 1e-6);
  EXPECT_NEAR(info.streams[0].frames / 25.0, audio_s, 1.0 / 25);
  EXPECT_EQ(s["frames"], info.streams[0].frames);
  // The speech as recorded (44.1 kHz stereo), not the model's 16 kHz mono.
  EXPECT_EQ(info.streams[1].sample_rate, 44100);
  EXPECT_EQ(info.streams[1].channels, 2);
  EXPECT_NEAR(read_audio(out).size() / 16000.0, audio_s, 0.01);
  EXPECT_EQ(s["frames_with_face"], s["frames"]);

  // Only the lower face changes: the top third of every frame matches the
  // input (up to re-encoding), the mouth area does not.
  std::vector<cv::Mat> in = read_frames(face), got = read_frames(out), ref = reencoded(in, 25, dir);
  ASSERT_EQ(got.size(), size_t(s["frames"].get<int64_t>()));
  ASSERT_EQ(got[0].size(), in[0].size());
  double top = 0, top_ref = 0;
  for (int i = 0; i < 75; ++i) {
    cv::Rect upper(0, 0, in[i].cols, in[i].rows / 3);
    top += mean_abs_diff(in[i](upper), got[i](upper)) / 75;
    top_ref += mean_abs_diff(in[i](upper), ref[i](upper)) / 75;
  }
  EXPECT_LT(top, top_ref + 0.5);
  // Pingpong: output frame 75 shows input frame 73 (the backward pass), never frame 0 again.
  cv::Rect upper(0, 0, in[0].cols, in[0].rows / 3);
  EXPECT_LT(mean_abs_diff(in[73](upper), got[75](upper)), mean_abs_diff(in[0](upper), got[75](upper)) + 1e-9);
}

TEST(Generate, KeepsA30FpsClipAt30FpsAndCutsAudioWithLoopNone) {
  std::string dir = test::temp_dir("gen30"), out = dir + "/out.mp4";
  std::string face = test::shared_data("retalking/face1.mp4"), speech = test::shared_data("retalking/speech1.wav");
  nlohmann::json s = generate_json("--face " + q(face) + " --audio " + q(speech) + " --outfile " + q(out) +
                                   " --loop none --resize-factor 2");
  MediaInfo in = probe_media(face), info = probe_media(out);
  EXPECT_NEAR(info.streams[0].fps, 30.0, 1e-6);
  EXPECT_EQ(info.streams[0].width, in.streams[0].width / 2);
  const double audio_s = read_audio(speech).size() / 16000.0, video_s = in.streams[0].frames / 30.0;
  EXPECT_NEAR(info.streams[0].frames / 30.0, std::min(audio_s, video_s), 1.0 / 30);
  EXPECT_NEAR(read_audio(out).size() / 16000.0, info.streams[0].frames / 30.0, 1.0 / 30);  // the audio cut too
  EXPECT_GT(s["frames_with_face"].get<int64_t>(), 0.95 * s["frames"].get<int64_t>());
}

// A factor that does not divide the picture's sides: every frame is shrunk
// to the size the output was opened with (1001 / 3 rounded down; the frames
// came out a pixel larger, 334 px, and the writer refused the first).
TEST(Generate, ResizeFactorThatDoesNotDivideTheSides) {
  std::string dir = test::temp_dir("genresize");
  cv::Mat photo;
  cv::resize(cv::imread(STF_SOURCE_DIR "/examples/grace_hopper_512x512.jpg"), photo, cv::Size(1001, 1001));
  cv::imwrite(dir + "/big.png", photo);
  nlohmann::json s = generate_json("--face " + q(dir + "/big.png") + " --text 'Hello there.' --resize-factor 3" +
                                   " --outfile " + q(dir + "/o.mp4"));
  EXPECT_EQ(s["frames_with_face"], s["frames"]);
  MediaInfo info = probe_media(dir + "/o.mp4");
  EXPECT_EQ(info.streams[0].width, 332);  // 333, the odd column dropped for yuv420p
  EXPECT_EQ(info.streams[0].height, 332);
}

// A looped video over --loop-memory is read again from the file (backward in
// chunks): the output is the one its frames kept in memory give.
TEST(Generate, LoopOverTheMemoryBudgetReadsTheVideoAgain) {
  std::string dir = test::temp_dir("genloopmem");
  std::string face = test::shared_data("grid_s1/bbaf2n.mp4"), speech = test::shared_data("retalking/speech1.wav");
  for (std::string loop : {"pingpong", "repeat"}) {
    std::vector<std::vector<cv::Mat>> got;
    for (std::string mb : {"1024", "0"}) {
      std::string out = dir + "/" + loop + mb + ".mp4";
      generate_json("--face " + q(face) + " --audio " + q(speech) + " --outfile " + q(out) + " --loop " + loop +
                    " --loop-memory " + mb + " --precision fp32");
      got.push_back(read_frames(out));
    }
    ASSERT_EQ(got[0].size(), got[1].size()) << loop;
    ASSERT_GT(got[0].size(), 120u) << loop;  // 75 frames of video, 5 s of speech
    double worst = 0;
    for (size_t i = 0; i < got[0].size(); ++i) worst = std::max(worst, mean_abs_diff(got[0][i], got[1][i]));
    EXPECT_LT(worst, 0.01) << loop;
  }
}

// A truncated video, whose header states more frames than it holds: its last
// frame stays to the end of the audio, and the summary says how many.
TEST(Generate, TruncatedVideoHoldsItsLastFrameToTheAudiosEnd) {
  std::string dir = test::temp_dir("gentrunc"), whole = dir + "/whole.mp4", cut = dir + "/cut.mp4",
              out = dir + "/out.mp4";
  std::string clip = test::shared_data("vox/00010.mp4");
  {
    VideoReader reader(clip);
    VideoWriter writer(whole, reader.width(), reader.height(), {});  // the header before the frames
    for (cv::Mat f; reader.read(f);) writer.write(f);
    writer.finish();
  }
  std::string bytes = test::read_file(whole);
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  const int64_t stated = VideoReader(cut).frame_count(), held = static_cast<int64_t>(read_frames(cut).size());
  ASSERT_LT(held, stated - 10) << "the cut file is not truncated as this test needs";

  nlohmann::json s = generate_json("--face " + q(cut) + " --audio " + q(clip) + " --outfile " + q(out));
  const double audio_s = read_audio(clip).size() / 16000.0;
  EXPECT_NEAR(s["frames"].get<int64_t>() / 25.0, audio_s, 1.0 / 25);
  EXPECT_EQ(probe_media(out).streams[0].frames, s["frames"].get<int64_t>());
  EXPECT_EQ(s["held_frames"].get<int64_t>(), s["frames"].get<int64_t>() - held);
  EXPECT_EQ(s["frames_with_face"], s["frames"]);
}

// Speech taken from another video is taken whole: a clip whose sound starts
// 1 s before its picture drives a photo for all of its sound, not 1 s less
// (the face video's own sound stays timed against its frames: the dubbing
// tests above and Media.SoundIsTimedAgainstThePicture).
TEST(Generate, SpeechFromAnotherVideoIsTakenWhole) {
  std::string dir = test::temp_dir("genearly"), speech = dir + "/early.mp4", out = dir + "/out.mp4";
  test::remux(test::shared_data("vox/00010.mp4"), speech, test::Remux{0, 0, 1, -1.0});
  const double sound_s = read_audio(speech, 16000, SoundStart::own).size() / 16000.0;
  ASSERT_NEAR(read_audio(speech).size() / 16000.0, sound_s - 1.0, 0.1);  // what plays with its picture
  std::string photo = test::shared_data("faces/london/neutral_001_03.jpg");
  nlohmann::json s = generate_json("--face " + q(photo) + " --audio " + q(speech) + " --outfile " + q(out));
  EXPECT_NEAR(s["frames"].get<int64_t>() / 25.0, sound_s, 1.0 / 25);
  EXPECT_NEAR(read_audio(out).size() / 16000.0, sound_s, 1.0 / 25);
}

// --preset reaches the encoder: libx264 writes its settings into the stream
// (an SEI message), subme=2 for veryfast (the default), subme=0 for ultrafast.
TEST(Generate, PresetReachesTheEncoder) {
  std::string dir = test::temp_dir("genpreset");
  std::string photo = test::shared_data("faces/london/neutral_001_03.jpg");
  auto settings = [&](const std::string& flag) {
    const std::string out = dir + "/out" + std::to_string(flag.size()) + ".mp4";
    generate_json("--face " + q(photo) + " --text 'Hello there.' --outfile " + q(out) + flag);
    const std::string bytes = test::read_file(out);
    const size_t at = bytes.find("subme=");
    return at == std::string::npos ? std::string("none") : bytes.substr(at, 7);
  };
  EXPECT_EQ(settings(""), "subme=2");
  EXPECT_EQ(settings(" --preset ultrafast"), "subme=0");
  test::expect_one_line_error(
      test::run_cli("generate --face " + q(photo) + " --text hi --preset quick --outfile " + q(dir + "/bad.mp4")),
      "--preset");
}

// --precision bf16 on a CPU without bfloat16 units works, with a warning
// that it is far slower there; fp32 and auto never warn; the summary names
// the format used.
TEST(Generate, Bfloat16WithoutBfloatUnitsWarns) {
  std::string dir = test::temp_dir("genbf16");
  std::string photo = test::shared_data("faces/london/neutral_001_03.jpg");
  auto run = [&](const std::string& precision) {
    return test::run_cli("generate --face " + q(photo) + " --text 'Hi.' --threads 2 --precision " + precision +
                         " --outfile " + q(dir + "/" + precision + ".mp4"));
  };
  const test::CliResult bf16 = run("bf16"), fp32 = run("fp32"), automatic = run("auto");
  EXPECT_EQ(bf16.status, 0) << bf16.output;
  EXPECT_EQ(bf16.output.find("warning: this CPU has no bfloat16 units") != std::string::npos, !cpu_has_fast_bf16())
      << bf16.output;
  EXPECT_EQ(fp32.output.find("warning"), std::string::npos) << fp32.output;
  EXPECT_EQ(automatic.output.find("warning"), std::string::npos) << automatic.output;
  // The summary line says which format the model ran in.
  EXPECT_NE(bf16.output.find("frames/s, model in bf16"), std::string::npos) << bf16.output;
  EXPECT_NE(fp32.output.find("frames/s, model in fp32"), std::string::npos) << fp32.output;
  EXPECT_NE(automatic.output.find(cpu_has_fast_bf16() ? "model in bf16" : "model in fp32"), std::string::npos)
      << automatic.output;
  EXPECT_TRUE(fs::exists(dir + "/bf16.mp4"));
}

TEST(Generate, OutputKeepsTheInputsColourTags) {
  // A phone's HDR video (BT.2020 HLG tags): untagged, the output would be
  // shown as SDR BT.709, washed out next to the input.
  std::string dir = test::temp_dir("gencolour"), in = dir + "/hdr.mp4", out = dir + "/out.mp4";
  VideoWriterOptions opt;
  opt.color = VideoColor{9, 9, 18};
  {
    VideoWriter w(in, 224, 224, opt);
    std::vector<cv::Mat> frames = read_frames(test::shared_data("vox/00473.mp4"));
    for (int i = 0; i < 25; ++i) w.write(frames[i]);
    w.finish();
  }
  generate_json("--face " + q(in) + " --text 'Hello there.' --loop none --outfile " + q(out));
  const VideoColor c = VideoReader(out).color();
  EXPECT_EQ(c.space, 9);
  EXPECT_EQ(c.primaries, 9);
  EXPECT_EQ(c.transfer, 18);
}

TEST(Generate, PhotoSpeaksTextAndSilenceKeepsTheMouthShut) {
  std::string dir = test::temp_dir("genphoto");
  std::string photo = test::shared_data("faces/london/neutral_001_03.jpg");
  nlohmann::json s = generate_json("--face " + q(photo) + " --text 'Bin blue at F two now. Place red by A one again.'" +
                                   " --fps 20 --outfile " + q(dir + "/talk.mp4"));
  MediaInfo info = probe_media(dir + "/talk.mp4");
  EXPECT_NEAR(info.streams[0].fps, 20.0, 1e-6);
  EXPECT_NEAR(info.streams[0].frames / 20.0, s["audio_seconds"].get<double>(), 1.0 / 20);
  std::vector<cv::Mat> talk = read_frames(dir + "/talk.mp4");

  // Silence: a video file whose audio track is 2 s of zeros.
  write_sound_clip(dir + "/silence.mp4", std::vector<float>(32000, 0.0f));
  generate_json("--face " + q(photo) + " --audio " + q(dir + "/silence.mp4") + " --outfile " + q(dir + "/quiet.mp4"));
  std::vector<cv::Mat> quiet = read_frames(dir + "/quiet.mp4");
  ASSERT_GE(quiet.size(), 40u);
  // Still: consecutive silent frames barely differ around the mouth, while
  // speech moves it.
  const cv::Rect mouth = mouth_box(talk[0]);
  auto motion = [&](const std::vector<cv::Mat>& v) {
    double m = 0;
    for (size_t i = 1; i < v.size(); ++i) m += mean_abs_diff(v[i](mouth), v[i - 1](mouth)) / (v.size() - 1);
    return m;
  };
  EXPECT_LT(motion(quiet), 0.5);
  EXPECT_GT(motion(talk), 4 * motion(quiet) + 0.3) << "silence " << motion(quiet);
  // Shut: the inner lips (dlib) less than 5% of the inter-ocular distance apart.
  EXPECT_LT(mouth_opening(quiet[25]), 0.05);
}

// A text's p, b and m close the lips: where the viseme track holds them shut
// the model is given silence's audio feature (and the crop its chin at
// rest), so a video's inner lips there lie as close as where the same video
// is given silent audio, while the vowels open them. dlib's inner-lip
// opening over the inter-ocular distance. Fails with the pressing ignored
// (the model closes "Mama"'s lips late).
TEST(Generate, TextClosesTheLipsOnPBAndM) {
  std::string dir = test::temp_dir("genpbm");
  const std::string face = test::shared_data("grid_s1/bbaf2n.mp4"), text = "Mama made a map by the bomb.";
  generate_json("--face " + q(face) + " --text '" + text + "' --crf 0 --outfile " + q(dir + "/text.mp4"));
  const Speech speech = synthesize_speech(text);
  write_sound_clip(dir + "/silence.mp4", std::vector<float>(speech.samples.size(), 0.0f));
  generate_json("--face " + q(face) + " --audio " + q(dir + "/silence.mp4") + " --crf 0 --outfile " + q(dir + "/quiet.mp4"));
  const std::vector<cv::Mat> talk = read_frames(dir + "/text.mp4"), quiet = read_frames(dir + "/quiet.mp4");
  const std::vector<MouthFrame> track =
      mouth_track(speech.phonemes, speech.samples.size() / 16000.0, static_cast<int64_t>(talk.size()), 25.0);
  std::vector<double> shut, open, silent;
  for (size_t i = 0; i < std::min(talk.size(), quiet.size()); ++i) {
    const bool speaking = !track[i].phoneme.empty();
    if (speaking && track[i].shape.open == 0) {
      shut.push_back(mouth_opening(talk[i]));
      silent.push_back(mouth_opening(quiet[i]));
    } else if (track[i].shape.open > 0.3) {
      open.push_back(mouth_opening(talk[i]));
    }
  }
  ASSERT_GE(shut.size(), 5u);
  ASSERT_GE(open.size(), 5u);
  std::printf("inner lips over the IOD: p/b/m %.3f (silent audio %.3f), open vowels %.3f\n", mean_of(shut),
              mean_of(silent), mean_of(open));
  EXPECT_LT(mean_of(shut), mean_of(silent) + 0.01);
  EXPECT_GT(mean_of(open), mean_of(shut) + 0.05);
}

// Recorded speech with its transcript closes the lips on p, b and m as a
// text does: the transcript's phonemes, aligned to the recording. The
// recording here is the text spoken by another voice at another pace (its
// own phonemes, from espeak-ng, say where its p, b and m are); where they
// hold the lips shut, the inner lips lie closer with the transcript than
// without it.
TEST(Generate, TranscriptClosesTheLipsOnRecordedSpeechsPBAndM) {
  std::string dir = test::temp_dir("gentranscript");
  const std::string face = test::shared_data("grid_s1/bbaf2n.mp4"), text = "Mama made a map by the bomb.";
  const Speech recorded = synthesize_speech(text, "en-us+f3", 190);
  write_sound_clip(dir + "/speech.mp4", recorded.samples);
  const std::string common = "--face " + q(face) + " --audio " + q(dir + "/speech.mp4") + " --crf 0 --outfile ";
  generate_json(common + q(dir + "/plain.mp4"));
  generate_json(common + q(dir + "/told.mp4") + " --transcript '" + text + "'");
  const std::vector<cv::Mat> plain = read_frames(dir + "/plain.mp4"), told = read_frames(dir + "/told.mp4");
  const std::vector<MouthFrame> track =
      mouth_track(recorded.phonemes, recorded.samples.size() / 16000.0, static_cast<int64_t>(told.size()), 25.0);
  std::vector<double> shut_plain, shut_told;
  for (size_t i = 0; i < std::min(plain.size(), told.size()); ++i)
    if (track[i].viseme != 0 && track[i].shape.open == 0) {  // in a word (not a pause), the lips shut
      shut_plain.push_back(mouth_opening(plain[i]));
      shut_told.push_back(mouth_opening(told[i]));
    }
  ASSERT_GE(shut_told.size(), 4u);
  std::printf("inner lips over the IOD at p/b/m: %.3f with the transcript, %.3f without\n", mean_of(shut_told),
              mean_of(shut_plain));
  // 0.026 and 0.069 when written (a text itself: 0.014, TextClosesTheLipsOnPBAndM)
  EXPECT_LT(mean_of(shut_told), mean_of(shut_plain) - 0.02);
  EXPECT_LT(mean_of(shut_told), 0.04);
}

// Recorded speech's loudness -> how far a photo's mouth opens: 0 up to the
// 10th percentile, 1 from the 90th, a steady noise near 0, and sound within
// half a unit (6 dB) of the mel's floor counted as silence however the rest
// spreads. Fails without that last bound (the faint frames open 0.4).
TEST(Generate, SpeechOpeningFollowsTheLoudness) {
  std::vector<float> ramp;
  for (int i = 0; i <= 100; ++i) ramp.push_back(-3.4f + 0.03f * i);  // -3.4 .. -0.4
  const std::vector<float> open = speech_opening(ramp);
  ASSERT_EQ(open.size(), ramp.size());
  EXPECT_EQ(open[5], 0.f);
  EXPECT_EQ(open[95], 1.f);
  EXPECT_NEAR(open[50], 0.5f, 0.01f);  // halfway between the 10th (-3.1) and the 90th (-0.7) percentile
  for (size_t i = 1; i < open.size(); ++i) EXPECT_GE(open[i], open[i - 1]);
  std::vector<float> hiss;
  for (int i = 0; i < 100; ++i) hiss.push_back(-2.f + 0.05f * std::sin(float(i)));
  for (float o : speech_opening(hiss)) EXPECT_LT(o, 0.1f);
  std::vector<float> faint(60, -4.f);  // digital silence, then a faint room
  faint.resize(100, -3.6f);
  for (float o : speech_opening(faint)) EXPECT_EQ(o, 0.f);
  EXPECT_TRUE(speech_opening({}).empty());
}

// A photo the model hardly opens (a smiling face) still opens its mouth
// with recorded speech where the speech is loud: dlib's inner-lip opening
// over the inter-ocular distance, loud frames (speech_opening >= 0.6)
// against the quiet ones (0), and its correlation with speech_opening.
// Measured (session 42): 0.084 against 0.008, r 0.83; without the least
// opening 0.039 against 0.007, r 0.53.
TEST(Generate, RecordedSpeechOpensAPhotosMouthWhereItIsLoud) {
  std::string dir = test::temp_dir("genloud");
  const std::string photo = test::shared_data("faces/london/smiling_172_08.jpg");
  const std::string audio = test::shared_data("retalking/speech1.wav");
  generate_json("--face " + q(photo) + " --audio " + q(audio) + " --outfile " + q(dir + "/talk.mp4"));
  const std::vector<cv::Mat> frames = read_frames(dir + "/talk.mp4");
  const std::vector<float> samples = read_audio(audio);
  const std::vector<float> open = speech_opening(
      frame_loudness(mel_spectrogram(samples, speech_gain(samples)), static_cast<int64_t>(frames.size()), 25.0));
  std::vector<double> drawn, asked, loud, quiet;
  for (size_t i = 0; i < frames.size(); ++i) {
    drawn.push_back(mouth_opening(frames[i]));
    asked.push_back(open[i]);
    if (open[i] >= 0.6f) loud.push_back(drawn.back());
    if (open[i] == 0.f) quiet.push_back(drawn.back());
  }
  ASSERT_GE(loud.size(), 10u);
  ASSERT_GE(quiet.size(), 5u);
  EXPECT_GT(mean_of(loud) - mean_of(quiet), 0.05) << "loud " << mean_of(loud) << " quiet " << mean_of(quiet);
  EXPECT_GT(pearson(drawn, asked), 0.68);
}

// A video dubbed with new speech: the redrawn mouth follows the new
// speaker's mouth (dlib's opening per frame, Pearson r against GRID s1's
// own mouth in the clip whose sound drives it) far better with the crops'
// chin placed by the speech (--jaw speech, the default) than by the video's
// own chin, which handed the model the original mouth's opening. Measured
// (session 46): r 0.57 against 0.21 here (scripts/eval_battery.sh's lossless
// run of this face: 0.66 against 0.34).
TEST(Generate, DubbedVideoFollowsTheNewSpeech) {
  std::string dir = test::temp_dir("gendub");
  const std::string face = test::shared_data("vox/00010.mp4"), speech = test::shared_data("grid_s1/bbaf2n.mp4");
  std::vector<double> speaker;
  for (const cv::Mat& f : read_frames(speech)) speaker.push_back(mouth_opening(f));
  double r[2];
  for (int k = 0; k < 2; ++k) {
    const std::string out = dir + "/dub" + std::to_string(k) + ".mp4";
    generate_json("--face " + q(face) + " --audio " + q(speech) + " --loop none --outfile " + q(out) +
                  (k == 0 ? " --jaw video" : ""));
    std::vector<double> drawn;
    for (const cv::Mat& f : read_frames(out)) drawn.push_back(mouth_opening(f));
    const size_t n = std::min(drawn.size(), speaker.size());
    ASSERT_GT(n, 60u);
    r[k] = pearson(std::vector<double>(drawn.begin(), drawn.begin() + n), std::vector<double>(speaker.begin(), speaker.begin() + n));
  }
  std::printf("dubbed mouth against the new speaker's: r %.3f with the video's chin, %.3f with the speech's\n", r[0], r[1]);
  EXPECT_GT(r[1], 0.45);
  EXPECT_GT(r[1], r[0] + 0.15);
}

// Audio guidance: the same speech opens the mouth wider and moves it more at
// the default scale (3) than at 1 (the model as trained), in time with the
// speech at both. Fails when the scale is ignored or misapplied (e.g. taken
// from the other side of silence). The model's rendering alone
// (--mouth-open 0): the photo's opened mouth, its painted inside, would
// measure the painting too (session 48's lower teeth put dlib's inner lower
// lip on their tips: std 0.043 -> 0.072 with the opening, 0.0070 -> 0.038
// without it).
TEST(Generate, GuidanceScaleWidensTheSpeakingMouth) {
  std::string dir = test::temp_dir("genguide");
  std::string photo = test::shared_data("faces/london/neutral_001_03.jpg");
  const std::string speech = " --text 'Bin blue at F two now. Place red by A one again.' --fps 20 --mouth-open 0";
  std::vector<std::vector<double>> open(2);
  for (int k = 0; k < 2; ++k) {
    const std::string out = dir + "/scale" + std::to_string(k) + ".mp4";
    generate_json("--face " + q(photo) + speech + " --outfile " + q(out) + (k == 0 ? " --guidance-scale 1" : ""));
    const std::vector<cv::Mat> frames = read_frames(out);
    for (size_t i = 0; i < frames.size(); i += 2) open[k].push_back(mouth_opening(frames[i]));
  }
  auto stddev = [&](const std::vector<double>& v) {
    const double m = mean_of(v);
    double s = 0;
    for (double x : v) s += (x - m) * (x - m);
    return std::sqrt(s / v.size());
  };
  ASSERT_EQ(open[0].size(), open[1].size());
  const double r = pearson(open[0], open[1]);
  // Measured (session 21, `faces --json` on the outputs): mean opening 0.014 -> 0.052, its std over
  // the frames 0.0054 -> 0.029, r 0.83 (session 20, before speech_gain: 0.0095 -> 0.026,
  // 0.0056 -> 0.021, r 0.46; the plain mouth barely moves, so landmark noise weighs on r).
  // Session 48, this test's own measure: 0.014 -> 0.041, std 0.0070 -> 0.038, r 0.88.
  EXPECT_GT(mean_of(open[1]), 1.5 * mean_of(open[0])) << mean_of(open[0]);
  EXPECT_GT(stddev(open[1]), 2 * stddev(open[0])) << stddev(open[0]);
  EXPECT_GT(r, 0.3) << "the guided mouth should move when the plain one does";
}

// The same speech recorded 12 dB softer moves the mouth as much (the
// driving audio is brought to the model's speech level).
TEST(Generate, SofterRecordingMovesTheMouthAlike) {
  std::string dir = test::temp_dir("gensoft");
  std::string photo = test::shared_data("faces/london/neutral_001_03.jpg");
  const std::vector<float> speech = read_audio(test::shared_data("retalking/speech1.wav"));
  std::vector<double> open[2];
  for (int k = 0; k < 2; ++k) {
    const std::string audio = dir + "/speech" + std::to_string(k) + ".mp4";
    std::vector<float> s(speech);
    for (float& v : s) v *= k == 0 ? 1.0f : 0.25f;
    write_sound_clip(audio, std::move(s));
    const std::string out = dir + "/talk" + std::to_string(k) + ".mp4";
    generate_json("--face " + q(photo) + " --audio " + q(audio) + " --fps 20 --outfile " + q(out));
    const std::vector<cv::Mat> frames = read_frames(out);
    for (size_t i = 0; i < frames.size(); i += 2) open[k].push_back(mouth_opening(frames[i]));
  }
  ASSERT_EQ(open[0].size(), open[1].size());
  EXPECT_NEAR(mean_of(open[1]), mean_of(open[0]), 0.15 * mean_of(open[0]));
  EXPECT_GT(pearson(open[0], open[1]), 0.8);
}

TEST(Generate, FramesWithoutAFaceAreUnchanged) {
  // 30 face frames, then 30 frames of a faceless pattern.
  std::string dir = test::temp_dir("gennoface");
  std::vector<cv::Mat> clip = read_frames(test::shared_data("grid_s1/bbaf2n.mp4"));
  {
    VideoWriterOptions w;
    VideoWriter mixed(dir + "/mixed.mp4", clip[0].cols, clip[0].rows, w);
    mixed.set_audio_from(test::shared_data("grid_s1/bbaf2n.mp4"));
    for (int i = 0; i < 30; ++i) mixed.write(clip[i]);
    cv::Mat pattern(clip[0].size(), CV_8UC3);
    for (int i = 0; i < 30; ++i) {
      for (int y = 0; y < pattern.rows; ++y)
        for (int x = 0; x < pattern.cols; ++x)
          pattern.at<cv::Vec3b>(y, x) = cv::Vec3b((x + i) % 256, (y * 2) % 256, ((x ^ y) + 3 * i) % 256);
      mixed.write(pattern);
    }
    mixed.finish();
  }
  nlohmann::json s = generate_json("--face " + q(dir + "/mixed.mp4") + " --audio " +
                                   q(test::shared_data("grid_s1/bbaf3s.mp4")) + " --loop none --outfile " +
                                   q(dir + "/out.mp4"));
  EXPECT_EQ(s["frames"], 60);
  EXPECT_EQ(s["frames_with_face"], 30);
  // Without --json the summary says so, and how to place a face by hand.
  test::CliResult plain = test::run_cli("generate --face " + q(dir + "/mixed.mp4") + " --audio " +
                                        q(test::shared_data("grid_s1/bbaf3s.mp4")) + " --loop none --outfile " +
                                        q(dir + "/plain.mp4"));
  EXPECT_EQ(plain.status, 0) << plain.output;
  EXPECT_NE(plain.output.find("frames without a face found: as in the input"), std::string::npos) << plain.output;
  EXPECT_NE(plain.output.find("--box"), std::string::npos) << plain.output;
  std::vector<cv::Mat> in = read_frames(dir + "/mixed.mp4"), got = read_frames(dir + "/out.mp4");
  std::vector<cv::Mat> ref = reencoded(in, 25, dir);
  ASSERT_EQ(got.size(), 60u);
  for (int i = 32; i < 60; ++i)
    EXPECT_LT(mean_abs_diff(in[i], got[i]), mean_abs_diff(in[i], ref[i]) + 0.5) << "frame " << i;
}

// The re-rendered face fades out over the 2 frames (--smooth 2) before the
// detector loses the face for a while and back in over the 2 after: the
// change to the frame there is a third and two thirds of the full one.
TEST(Generate, FaceFadesOutAndInAroundAnAbsence) {
  std::string dir = test::temp_dir("genfade");
  std::vector<cv::Mat> clip = read_frames(test::shared_data("vox/00010.mp4"));
  clip.resize(45);
  for (int i = 20; i < 30; ++i) cv::GaussianBlur(clip[i], clip[i], cv::Size(), 10);  // the detector misses these
  {
    VideoWriterOptions w;
    w.crf = 0;
    VideoWriter writer(dir + "/gap.mp4", clip[0].cols, clip[0].rows, w);
    for (const cv::Mat& f : clip) writer.write(f);
    writer.finish();
  }
  nlohmann::json s = generate_json("--face " + q(dir + "/gap.mp4") + " --audio " +
                                   q(test::shared_data("grid_s1/bbaf3s.mp4")) + " --loop none --crf 0 --outfile " +
                                   q(dir + "/out.mp4"));
  EXPECT_EQ(s["frames_with_face"], 35);
  std::vector<cv::Mat> in = read_frames(dir + "/gap.mp4"), got = read_frames(dir + "/out.mp4");
  ASSERT_EQ(got.size(), 45u);
  const FaceObservation face = find_face(in[17], std::make_shared<const LandmarkModel>(kDefaultLandmarkModel));
  ASSERT_TRUE(face.found);
  const std::vector<cv::Point2f> mouth(face.landmarks.begin() + 48, face.landmarks.begin() + 68);
  cv::Rect box = cv::boundingRect(mouth);
  box = cv::Rect(box.x - 8, box.y - 8, box.width + 16, box.height + 16) & cv::Rect(0, 0, in[0].cols, in[0].rows);
  auto change = [&](int i) { return mean_abs_diff(in[i](box), got[i](box)); };
  double full = 0;
  for (int i : {12, 13, 14, 15, 16, 17, 32, 33, 34, 35, 36, 37}) full += change(i) / 12;
  EXPECT_LT(change(19), 0.55 * full);
  EXPECT_LT(change(30), 0.55 * full);
  EXPECT_LT(change(18), 0.9 * full);
  EXPECT_LT(change(31), 0.9 * full);
  EXPECT_GT(change(18), change(19));
  EXPECT_GT(change(31), change(30));
  const std::vector<cv::Mat> ref = reencoded(in, 25, dir);
  for (int i = 20; i < 30; ++i)
    EXPECT_LT(mean_abs_diff(in[i], got[i]), mean_abs_diff(in[i], ref[i]) + 0.5) << "frame " << i << " without a face";
}

TEST(Generate, BadInputsAreOneLineErrorsWithoutOutput) {
  std::string dir = test::temp_dir("genbad"), out = dir + "/out.mp4";
  std::string face = test::shared_data("grid_s1/bbaf2n.mp4");
  // Audio shorter than one mel window.
  {
    VideoWriter w(dir + "/blip.mp4", 64, 64);
    w.set_audio(std::vector<float>(1600, 0.1f));
    for (int i = 0; i < 3; ++i) w.write(cv::Mat(64, 64, CV_8UC3, cv::Scalar(0, 0, 0)));
    w.finish();
  }
  test::expect_one_line_error(
      test::run_cli("generate --face " + q(face) + " --audio " + q(dir + "/blip.mp4") + " --outfile " + q(out)),
      "200 ms");
  // A photo without a face.
  cv::Mat wall(240, 320, CV_8UC3, cv::Scalar(90, 140, 200));
  cv::imwrite(dir + "/wall.png", wall);
  test::expect_one_line_error(
      test::run_cli("generate --face " + q(dir + "/wall.png") + " --text hello --outfile " + q(out)), "no face");
  // A face asked for by a count the photo does not reach, or by no count
  // at all (was "error: stoi").
  const std::string photo = STF_SOURCE_DIR "/examples/grace_hopper_512x512.jpg";
  test::expect_one_line_error(test::run_cli("generate --face " + q(photo) + " --text hello --face-select index:1 --outfile " + q(out)),
                              "no face found in the photo as --face-select index:1 asks (index:0 is the leftmost)");
  test::expect_one_line_error(test::run_cli("generate --face " + q(photo) + " --text hello --face-select index:one --outfile " + q(out)),
                              "--face-select index:N needs a whole number N from 0 (the leftmost face), not 'one'");
  // A picture too small for a face (its error named the encoder's limit).
  cv::imwrite(dir + "/dot.png", cv::Mat(1, 1, CV_8UC3, cv::Scalar(90, 140, 200)));
  test::expect_one_line_error(
      test::run_cli("generate --face " + q(dir + "/dot.png") + " --text hello --outfile " + q(out)),
      "dot.png: 1x1 pixels is too small to hold a face");
  // Model files: another program's, a truncated one, a SyncNet instead of a generator.
  std::ofstream(dir + "/other.stfm") << "GGUF this is some other model format";
  test::expect_one_line_error(test::run_cli("generate --face " + q(face) + " --text hello --model " +
                                            q(dir + "/other.stfm") + " --outfile " + q(out)),
                              "not a SyncTalkFace");
  std::string bytes = test::read_file(default_model_path());
  std::ofstream(dir + "/cut.stfm", std::ios::binary).write(bytes.data(), bytes.size() / 2);
  test::expect_one_line_error(test::run_cli("generate --face " + q(face) + " --text hello --model " +
                                            q(dir + "/cut.stfm") + " --outfile " + q(out)),
                              "cut.stfm");
  test::expect_one_line_error(
      test::run_cli("generate --face " + q(face) + " --text hello --model " + q(dir) + " --outfile " + q(out)),
      "is a directory");
  // Missing speech, unknown voice, empty text.
  test::expect_one_line_error(test::run_cli("generate --face " + q(face) + " --outfile " + q(out)), "--audio");
  // The unknown voice's error names the ones there are (no espeak-ng program is installed to list them),
  // and is all there is: espeak-ng's notes while they are tried stay hidden.
  const test::CliResult voice =
      test::run_cli("generate --face " + q(face) + " --text hi --voice xx-nope --outfile " + q(out));
  test::expect_one_line_error(voice, " en-us ");
  EXPECT_EQ(voice.output.rfind("error: ", 0), 0u) << voice.output;
  // A variant espeak-ng lacks would be spoken in the plain voice without a word.
  test::expect_one_line_error(test::run_cli("generate --face " + q(face) + " --text hi --voice en-us+nosuch --outfile " + q(out)),
                              "variant 'nosuch'");
  test::expect_one_line_error(test::run_cli("generate --face " + q(face) + " --text ' ' --outfile " + q(out)), "empty");
  test::expect_one_line_error(test::run_cli("generate --face " + q(face) + " --text '' --outfile " + q(out)), "empty");
  test::expect_one_line_error(test::run_cli("generate --face " + q(face) + " --text ... --outfile " + q(out)),
                              "give words");
  // A transcript without its recording, or an empty one.
  test::expect_one_line_error(test::run_cli("generate --face " + q(face) + " --transcript hello --outfile " + q(out)),
                              "--audio");
  test::expect_one_line_error(
      test::run_cli("generate --face " + q(face) + " --audio " + q(face) + " --transcript ' ' --outfile " + q(out)),
      "--transcript is empty");
  // A fixed face box below the 360x288 frame.
  test::expect_one_line_error(test::run_cli("generate --face " + q(face) + " --text hello --box 300 400 50 170 --outfile " + q(out)),
                              "outside the 360x288 frame");
  EXPECT_FALSE(fs::exists(out));
  for (const auto& e : fs::directory_iterator(dir)) EXPECT_NE(e.path().filename().string()[0], '.') << e.path();
  // The output named as an input: refused, the input left as it was.
  fs::copy_file(face, dir + "/mine.mp4");
  test::expect_one_line_error(
      test::run_cli("generate --face " + q(dir + "/mine.mp4") + " --text hello --outfile " + q(dir + "/mine.mp4")),
      "is the input");
  test::expect_one_line_error(test::run_cli("generate --face " + q(face) + " --audio " + q(dir + "/mine.mp4") +
                                            " --outfile " + q(dir + "/./mine.mp4")),
                              "is the input");
  EXPECT_EQ(fs::file_size(dir + "/mine.mp4"), fs::file_size(face));
}

TEST(Generate, CtrlCLeavesNoPartialOutput) {
  std::string dir = test::temp_dir("genctrlc"), log_dir = test::temp_dir("genctrlc_log"), log;
  auto writing = [](const std::string& folder) { return !fs::is_empty(folder); };
  const std::vector<std::string> args = {"generate", "--face", test::shared_data("vox/741400163.mp4"), "--audio",
                                         test::shared_data("vox/741400163.mp4"), "--outfile", dir + "/out.mp4"};
  // Ctrl-C, and SIGHUP: the terminal closed.
  for (int sig : {SIGINT, SIGHUP}) {
    int status = test::interrupt_cli_when(args, log_dir + "/run.log", writing, dir, &log, sig);
    EXPECT_EQ(status, 2) << "signal " << sig << ": " << log;
    EXPECT_TRUE(fs::is_empty(dir)) << "signal " << sig << ": a partial output was left behind";
    EXPECT_NE(log.find("error: interrupted"), std::string::npos) << log;
    fs::remove_all(dir), fs::create_directory(dir);
  }
  // Started under nohup, SIGHUP is ignored: the output is written.
  int status = test::interrupt_cli_when(args, log_dir + "/run.log", writing, dir, &log, SIGHUP, true);
  EXPECT_EQ(status, 0) << log;
  EXPECT_TRUE(fs::exists(dir + "/out.mp4")) << log;
}

TEST(ModelFile, Fp16ExportGivesTheSameFacesAsFp32) {
  std::string dir = test::temp_dir("export");
  ASSERT_EQ(test::run_cli("export " + q(default_model_path()) + " --fp32 --out " + q(dir + "/m32.stfm")).status, 0);
  ASSERT_EQ(test::run_cli("export " + q(dir + "/m32.stfm") + " --out " + q(dir + "/m16.stfm")).status, 0);
  EXPECT_LT(fs::file_size(dir + "/m16.stfm"), 0.6 * fs::file_size(dir + "/m32.stfm"));
  test::expect_one_line_error(test::run_cli("export " + q(dir + "/m32.stfm") + " --out " + q(dir + "/m32.stfm")),
                              "is the input");
  SyncTalkFace a = load_generator(dir + "/m32.stfm"), b = load_generator(dir + "/m16.stfm");
  torch::manual_seed(3);
  const int64_t S = a->config().image_size;
  auto mel = torch::randn({4, 1, 80, 16}), id = torch::rand({4, 6, S, S});
  torch::NoGradGuard ng;
  auto diff = (a->forward(mel, id) - b->forward(mel, id)).abs().max().item<double>();
  EXPECT_LT(diff, 2e-2);
}
