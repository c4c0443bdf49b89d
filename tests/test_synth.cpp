// The synthetic corpus: phoneme timeline, viseme shapes at their frames,
// mouth motion that follows the loudness, renders that still look like faces
// to dlib, bad inputs, and a layout preprocess reads with its ground truth.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "face/face_json.h"
#include "helpers.h"
#include "stf/face.h"
#include "stf/media.h"
#include "synth/corpus.h"
#include "synth/render.h"
#include "synth/visemes.h"

using namespace stf;
namespace fs = std::filesystem;

namespace {

std::string q(const std::string& s) { return "'" + s + "'"; }

nlohmann::json load(const std::string& path) { return nlohmann::json::parse(std::ifstream(path)); }

double lip_gap(const Landmarks& lm) { return cv::norm(lm[62] - lm[66]) / inter_ocular_distance(lm); }

// Twenty clips over a few London faces into `dir`.
SynthReport make_corpus(const std::string& dir) {
  SynthOptions o;
  o.faces = {test::shared_data("faces/london")};
  o.out = dir;
  o.clips = 20;
  o.quiet = true;
  return synthesize_corpus(o);
}

// The corpus, made once for the file.
const std::string& corpus() {
  static std::string dir = [] {
    std::string d = test::temp_dir("synth_corpus");
    EXPECT_EQ(make_corpus(d).written, 20);
    return d;
  }();
  return dir;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) ma += a[i] / a.size(), mb += b[i] / b.size();
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i)
    sab += (a[i] - ma) * (b[i] - mb), saa += (a[i] - ma) * (a[i] - ma), sbb += (b[i] - mb) * (b[i] - mb);
  return sab / std::sqrt(saa * sbb);
}

}  // namespace

TEST(Synth, VisemeTableCoversEnglishPhonemes) {
  auto name = [](const std::string& p) { return viseme_table()[viseme_for_phoneme(p)].name; };
  EXPECT_EQ(name("p"), "closed_pbm");
  EXPECT_EQ(name("b"), "closed_pbm");
  EXPECT_EQ(name("m"), "closed_pbm");
  EXPECT_EQ(name("f"), "labiodental_fv");
  EXPECT_EQ(name("tS"), "sibilant_s_sh");
  EXPECT_EQ(name("t"), "alveolar_tdnl");
  EXPECT_EQ(name("aI"), "open_vowel");
  EXPECT_EQ(name("u:"), "rounded_vowel");
  EXPECT_EQ(name("i:"), "spread_vowel");
  EXPECT_EQ(name("_:"), "rest");
  EXPECT_EQ(viseme_table()[0].shape.open, 0.0f);
}

TEST(Synth, LipsCloseOnPbmAndOpenOnOpenVowels) {
  std::string dir = test::temp_dir("synth_pbm");
  std::ofstream(dir + "/s.txt") << "Papa bought my mom a big map of Bombay.\n";
  test::CliResult r =
      test::run_cli("synth --faces " + q(test::shared_data("faces/london/neutral_001_03.jpg")) + " --out " +
                    q(dir + "/c") + " --clips 1 --sentences " + q(dir + "/s.txt") + " --voice en --still");
  ASSERT_EQ(r.status, 0) << r.output;
  nlohmann::json t = load(dir + "/c/clips/synth_00000.timeline.json");
  std::vector<FaceObservation> gt = read_face_track(dir + "/c/clips/synth_00000.landmarks.json");
  const auto& ph = t["phonemes"];
  int closed = 0, open = 0;
  // Bilabials around their event (the release), vowels around their middle:
  // the smallest / largest gap within two frames of that time (the mouth
  // leads the sound by 50 ms, and short vowels between bilabials are brief).
  auto around = [&](double time, bool smallest) {
    const int64_t c = std::llround(time * 25);
    double best = smallest ? 1e9 : -1e9;
    for (int64_t f = std::max<int64_t>(0, c - 2); f <= std::min<int64_t>(gt.size() - 1, c + 2); ++f)
      best = smallest ? std::min(best, lip_gap(gt[f].landmarks)) : std::max(best, lip_gap(gt[f].landmarks));
    return best;
  };
  for (size_t i = 0; i + 1 < ph.size(); ++i) {
    const double start = ph[i]["time"].get<double>(), mid = (start + ph[i + 1]["time"].get<double>()) / 2;
    const std::string v = ph[i]["viseme"];
    if (v == "closed_pbm") {
      EXPECT_LT(around(start, true), 0.02) << ph[i]["phoneme"] << " at " << start << " s";
      ++closed;
    }
    if (v == "open_vowel") {
      EXPECT_GT(around(mid, false), 0.15) << ph[i]["phoneme"] << " at " << mid << " s";
      ++open;
    }
  }
  EXPECT_GE(closed, 6);
  EXPECT_GE(open, 3);
}

TEST(Synth, BadInputsAndFacelessPhotos) {
  std::string dir = test::temp_dir("synth_bad");
  fs::create_directories(dir + "/faces");
  cv::imwrite(dir + "/faces/wall.png", cv::Mat(200, 200, CV_8UC3, cv::Scalar(120, 160, 200)));
  test::expect_one_line_error(test::run_cli("synth --faces " + q(dir + "/faces") + " --out " + q(dir + "/o")),
                              "no face found");
  EXPECT_FALSE(fs::exists(dir + "/o")) << "a failed run left its output folder";
  fs::copy(test::shared_data("faces/london/neutral_001_03.jpg"), dir + "/faces/person.jpg");
  test::CliResult r = test::run_cli("synth --faces " + q(dir + "/faces") + " --out " + q(dir + "/o") + " --clips 2");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("warning: no face found in " + dir + "/faces/wall.png"), std::string::npos) << r.output;
  std::ofstream(dir + "/empty.txt") << "\n  \n";
  test::expect_one_line_error(test::run_cli("synth --faces " + q(dir + "/faces") + " --out " + q(dir + "/o2") +
                                            " --sentences " + q(dir + "/empty.txt")),
                              "no sentences");
  // An unknown voice among good ones fails before any clip is written.
  test::expect_one_line_error(test::run_cli("synth --faces " + q(dir + "/faces") + " --out " + q(dir + "/o3") +
                                            " --clips 4 --seed 3 --voice en xx-nope"),  // seed 3: en for the first two
                              "unknown espeak-ng voice 'xx-nope'");
  EXPECT_FALSE(fs::exists(dir + "/o3"));
}

// A face cropped just under the chin (as in 200x200 UTKFace crops): the
// opened jaw leaves the frame, and the warp must still work.
TEST(Synth, JawLeavingTheFrame) {
  cv::Mat img = cv::imread(test::shared_data("faces/london/neutral_001_03.jpg"));
  ASSERT_FALSE(img.empty());
  FaceObservation found = find_face(img, std::make_shared<const LandmarkModel>());
  ASSERT_TRUE(found.found);
  const Landmarks& face = found.landmarks;
  float chin = face[8].y;
  cv::Mat cropped = img.rowRange(0, int(chin) + 2).clone();
  MouthShape wide{1.0f, 0.2f, 0.0f, 0.3f, 0.5f};
  Landmarks to = mouth_landmarks(face, wide);
  ASSERT_GT(to[8].y, float(cropped.rows));  // the moved chin is outside the image
  cv::Mat out = render_mouth(cropped, face, to, wide);
  EXPECT_EQ(out.size(), cropped.size());
  EXPECT_GT(cv::norm(out, cropped, cv::NORM_L1), 0.0);
}

// One corpus of twenty clips over the London faces, checked four ways
// (one test: the corpus takes a while to render).
TEST(Synth, CorpusOfTwentyClips) {
  {  // the phoneme timeline covers the audio, in order

    for (const char* clip : {"synth_00000", "synth_00007"}) {
      nlohmann::json t = load(corpus() + "/clips/" + clip + ".timeline.json");
      const double duration = read_audio(corpus() + "/clips/" + clip + ".mp4").size() / 16000.0;
      EXPECT_NEAR(t["duration"].get<double>(), duration, 0.1);
      const auto& ph = t["phonemes"];
      ASSERT_GT(ph.size(), 8u);
      EXPECT_LT(ph.front()["time"].get<double>(), 0.3);
      EXPECT_GT(ph.back()["time"].get<double>(), duration - 0.6);
      for (size_t i = 1; i < ph.size(); ++i) EXPECT_GE(ph[i]["time"].get<double>(), ph[i - 1]["time"].get<double>());
      EXPECT_EQ(t["frames"].size(), load(corpus() + "/clips/" + clip + ".landmarks.json").size());
    }
  }
  {  // the mouth opening follows the loudness of the speech

    std::vector<double> gap, loud;
    for (int c = 0; c < 20; ++c) {
      char name[32];
      std::snprintf(name, sizeof name, "/clips/synth_%05d", c);
      std::vector<float> audio = read_audio(corpus() + name + ".mp4");
      std::vector<FaceObservation> gt = read_face_track(corpus() + name + ".landmarks.json");
      for (size_t f = 0; f < gt.size(); ++f) {
        // RMS of the 80 ms around the frame's time.
        const int64_t centre = int64_t(f * 640), half = 640;
        double e = 0;
        int n = 0;
        for (int64_t i = std::max<int64_t>(0, centre - half); i < std::min<int64_t>(audio.size(), centre + half); ++i)
          e += audio[i] * audio[i], ++n;
        gap.push_back(lip_gap(gt[f].landmarks));
        loud.push_back(std::sqrt(e / std::max(1, n)));
      }
    }
    EXPECT_GT(pearson(gap, loud), 0.5);
  }
  {  // dlib's landmarks on the rendered frames agree with the ground truth

    // dlib's landmarks on the rendered frames against the ground truth.
    auto landmarks = std::make_shared<const LandmarkModel>();
    double err = 0;
    int n = 0;
    for (int c : {0, 5, 11}) {
      char name[32];
      std::snprintf(name, sizeof name, "/clips/synth_%05d", c);
      std::vector<FaceObservation> gt = read_face_track(corpus() + name + ".landmarks.json");
      VideoReader reader(corpus() + name + ".mp4");
      TrackerOptions t;
      t.smooth_radius = 0;
      FaceTracker tracker(t, landmarks);
      track_video(reader, tracker, [&](const TrackedFrame& tf) {
        ASSERT_TRUE(tf.face.found) << name << " frame " << tf.index;
        double d = 0;
        for (int k = 48; k < 68; ++k) d += cv::norm(tf.face.landmarks[k] - gt[tf.index].landmarks[k]) / 20;
        err += d / inter_ocular_distance(gt[tf.index].landmarks);
        ++n;
      });
    }
    EXPECT_LT(err / n, 0.08) << "mean mouth landmark error / inter-ocular distance";
  }
  {  // a corpus resumed writes the clip an uninterrupted run wrote (espeak-ng's state once made it differ)

    const std::string clip = corpus() + "/clips/synth_00019";
    const std::string video = test::read_file(clip + ".mp4"), timeline = test::read_file(clip + ".timeline.json");
    fs::remove(clip + ".mp4");
    SynthReport r = make_corpus(corpus());
    EXPECT_EQ(r.written, 1);
    EXPECT_EQ(r.reused, 19);
    EXPECT_TRUE(test::read_file(clip + ".mp4") == video) << "the resumed clip's video differs";
    EXPECT_EQ(test::read_file(clip + ".timeline.json"), timeline);
  }
  {  // preprocess reads the corpus with its ground-truth landmarks

    std::string out = test::temp_dir("synth_prep");
    test::CliResult r = test::run_cli("preprocess " + q(corpus() + "/clips") + " --out " + q(out) + " --size 96");
    ASSERT_EQ(r.status, 0) << r.output;
    nlohmann::json m = load(out + "/manifest.json");
    EXPECT_EQ(m["clips"].size(), 20u);
    EXPECT_EQ(m["failed"].size(), 0u);
  }
}
