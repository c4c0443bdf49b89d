// The mel spectrogram against (1) an independent numpy/scipy reference on
// real speech and (2) a slow loop-based DFT written here from the formula.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "helpers.h"
#include "stf/audio.h"
#include "stf/error.h"
#include "stf/media.h"

using namespace stf;

namespace {

// The obvious O(N^2) version of PAPER.md's recipe, one column at a time.
std::vector<double> slow_mel_column(const std::vector<float>& x, int64_t col, const torch::Tensor& fb) {
  const int64_t n = static_cast<int64_t>(x.size());
  auto emph = [&](int64_t i) { return double(x[i]) - (i > 0 ? 0.97 * x[i - 1] : 0.0); };
  auto padded = [&](int64_t j) {  // reflect padding of 400 around the emphasised signal
    int64_t i = j - kNfft / 2;
    if (i < 0) i = -i;
    if (i >= n) i = 2 * (n - 1) - i;
    return emph(i);
  };
  std::vector<double> mag(kNfft / 2 + 1);
  for (int k = 0; k <= kNfft / 2; ++k) {
    double re = 0, im = 0;
    for (int t = 0; t < kNfft; ++t) {
      double w = 0.5 - 0.5 * std::cos(2 * M_PI * t / kNfft);
      double v = w * padded(col * kHop + t);
      re += v * std::cos(2 * M_PI * k * t / kNfft);
      im -= v * std::sin(2 * M_PI * k * t / kNfft);
    }
    mag[k] = std::sqrt(re * re + im * im);
  }
  auto a = fb.accessor<double, 2>();
  std::vector<double> out(kMelBands);
  for (int m = 0; m < kMelBands; ++m) {
    double s = 0;
    for (int k = 0; k <= kNfft / 2; ++k) s += a[m][k] * mag[k];
    double db = 20 * std::log10(std::max(1e-5, s)) - 20;
    out[m] = std::clamp(8 * ((db + 100) / 100) - 4, -4.0, 4.0);
  }
  return out;
}

}  // namespace

TEST(Mel, MatchesNumpyReferenceOnRealSpeech) {
  std::vector<float> samples = read_audio(test::shared_data("grid_s1/bbaf2n.mp4"));
  std::string dir = test::temp_dir("mel_ref");
  write_npy(dir + "/samples.npy", samples.data(), {static_cast<int64_t>(samples.size())});
  ASSERT_EQ(test::run_shell("/usr/bin/python3 '" STF_SOURCE_DIR "/scripts/mel_reference.py' '" + dir +
                            "/samples.npy' '" + dir + "'"),
            0)
      << "the numpy/scipy reference failed (needs python3-numpy and python3-scipy)";

  test::Npy fb_ref = test::read_npy(dir + "/filterbank.npy");
  torch::Tensor fb = mel_filterbank();
  ASSERT_EQ(fb_ref.shape, (std::vector<int64_t>{80, 401}));
  double fb_err = 0;
  auto fa = fb.accessor<double, 2>();
  for (int m = 0; m < 80; ++m)
    for (int k = 0; k < 401; ++k) fb_err = std::max(fb_err, std::abs(fa[m][k] - fb_ref.data[m * 401 + k]));
  EXPECT_LE(fb_err, 1e-6);

  test::Npy mel_ref = test::read_npy(dir + "/mel.npy");
  torch::Tensor mel = mel_spectrogram(samples);
  ASSERT_EQ(mel_ref.shape, (std::vector<int64_t>{mel.size(0), mel.size(1)}));
  auto ma = mel.accessor<float, 2>();
  double err = 0;
  for (int64_t m = 0; m < mel.size(0); ++m)
    for (int64_t t = 0; t < mel.size(1); ++t)
      err = std::max(err, std::abs(ma[m][t] - mel_ref.data[m * mel.size(1) + t]));
  EXPECT_LE(err, 1e-3);
  // Real speech spans a good part of the range: the comparison is not trivial.
  EXPECT_GT(mel.max().item<float>() - mel.min().item<float>(), 4.0f);
}

TEST(Mel, MatchesLoopDftReference) {
  std::vector<float> x(8000);  // 0.5 s: a chirp plus a little noise
  uint32_t seed = 1;
  for (size_t i = 0; i < x.size(); ++i) {
    double t = i / 16000.0;
    seed = seed * 1664525u + 1013904223u;
    x[i] = 0.4f * std::sin(2 * M_PI * (200 + 3000 * t) * t) + 0.01f * ((seed >> 8) / 16777216.0f - 0.5f);
  }
  torch::Tensor mel = mel_spectrogram(x);
  ASSERT_EQ(mel.size(0), 80);
  ASSERT_EQ(mel.size(1), 1 + 8000 / 200);
  torch::Tensor fb = mel_filterbank();
  auto ma = mel.accessor<float, 2>();
  for (int64_t col : {0L, 1L, 17L, 39L, 40L}) {
    std::vector<double> ref = slow_mel_column(x, col, fb);
    for (int m = 0; m < 80; ++m) EXPECT_NEAR(ma[m][col], ref[m], 1e-3) << "band " << m << " column " << col;
  }
}

// Long audio is computed a chunk of 4096 columns at a time (memory): the
// columns either side of a chunk's edge, and the last, as the loop DFT has them.
TEST(Mel, LongAudioMatchesLoopDftReferenceAcrossChunks) {
  std::vector<float> x(size_t(4100 * kHop + 123));  // 51 s: a slow chirp, its loudness swinging
  for (size_t i = 0; i < x.size(); ++i) {
    const double t = i / 16000.0;
    x[i] = 0.3f * std::sin(2 * M_PI * (150 + 40 * t) * t) * (0.6f + 0.4f * std::sin(2 * M_PI * 3 * t));
  }
  torch::Tensor mel = mel_spectrogram(x);
  ASSERT_EQ(mel.size(1), 1 + int64_t(x.size()) / kHop);
  torch::Tensor fb = mel_filterbank();
  auto ma = mel.accessor<float, 2>();
  for (int64_t col : {4094L, 4095L, 4096L, 4097L, mel.size(1) - 1}) {
    std::vector<double> ref = slow_mel_column(x, col, fb);
    for (int m = 0; m < 80; ++m) EXPECT_NEAR(ma[m][col], ref[m], 1e-3) << "band " << m << " column " << col;
  }
}

TEST(Mel, WindowStartFollowsTimestampAtAnyFps) {
  EXPECT_EQ(mel_window_start(0, 25, 1000), 0);
  EXPECT_EQ(mel_window_start(1, 25, 1000), 3);    // floor(3.2)
  EXPECT_EQ(mel_window_start(10, 25, 1000), 32);
  EXPECT_EQ(mel_window_start(3, 30, 1000), 8);    // floor(80 * 3 / 30)
  EXPECT_EQ(mel_window_start(29, 29.97, 1000), 77);  // floor(77.41)
  EXPECT_EQ(mel_window_start(74, 25, 241), 241 - 16);  // clamped at the end
}

TEST(Mel, ShortAndEmptyAudioAreErrors) {
  EXPECT_THROW(mel_spectrogram({}), Error);
  torch::Tensor mel = mel_spectrogram(std::vector<float>(1000, 0.0f));  // 6 columns
  EXPECT_EQ(mel.size(1), 6);
  EXPECT_THROW(mel_window(mel, 0, 25), Error);
  // Silence maps to the bottom of the range.
  EXPECT_FLOAT_EQ(mel.max().item<float>(), -4.0f);
}

// The 95th percentile of the power of 20 ms pieces, in dB (sorted whole:
// the independent counterpart of speech_gain's partial sort).
static double speech_level_db(const std::vector<float>& x, double gain) {
  std::vector<double> p;
  for (size_t i = 0; i + 320 <= x.size(); i += 320) {
    double s = 0;
    for (size_t j = i; j < i + 320; ++j) s += gain * x[j] * gain * x[j];
    p.push_back(s / 320);
  }
  std::sort(p.begin(), p.end());
  return 10 * std::log10(p[size_t(0.95 * (p.size() - 1))]);
}

TEST(Mel, SpeechGainBringsAnyRecordingLevelToTheModels) {
  const std::vector<float> speech = read_audio(test::shared_data("retalking/speech1.wav"));
  EXPECT_NEAR(speech_level_db(speech, speech_gain(speech)), kSpeechLevelDb, 0.01);
  const torch::Tensor mel = mel_spectrogram(speech, speech_gain(speech));
  for (float k : {0.25f, 3.0f}) {  // -12 dB, +9.5 dB: the same features
    std::vector<float> scaled(speech);
    for (float& v : scaled) v *= k;
    EXPECT_NEAR(speech_gain(scaled), speech_gain(speech) / k, 1e-6 * speech_gain(speech) / k);
    EXPECT_LT((mel_spectrogram(scaled, speech_gain(scaled)) - mel).abs().max().item<float>(), 1e-3) << k;
  }
  // Quiet speech: boosted by at most 30 dB.
  std::vector<float> faint(speech);
  for (float& v : faint) v *= 0.001f;  // -60 dB
  EXPECT_NEAR(speech_gain(faint), std::pow(10, 30.0 / 20), 1e-9);
  // Steady sound is not speech: a hum, a hiss, silence are not boosted.
  std::vector<float> hum(speech.size()), hiss(speech.size());
  std::mt19937 random(1);
  std::normal_distribution<float> normal(0.0f, 0.01f);  // -40 dB
  for (size_t i = 0; i < hum.size(); ++i) hum[i] = 0.01f * std::sin(2 * M_PI * 50 * i / kSampleRate), hiss[i] = normal(random);
  EXPECT_EQ(speech_gain(hum), 1.0);
  EXPECT_EQ(speech_gain(hiss), 1.0);
  std::vector<float> silence(16000, 0.0f);
  EXPECT_EQ(speech_gain(silence), 1.0);
  const double loud = std::pow(10, (kSpeechLevelDb - 20 * std::log10(0.9)) / 20);  // a constant 0.9: turned down
  EXPECT_NEAR(speech_gain(std::vector<float>(speech.size(), 0.9f)), loud, 1e-6);
}

TEST(Mel, FrameLoudnessFollowsTheSpeechAtItsTime) {
  // 1 s of silence, 1 s of a loud tone, 1 s of a soft one; 25 fps.
  std::vector<float> s(3 * kSampleRate, 0.f);
  for (int i = kSampleRate; i < 3 * kSampleRate; ++i)
    s[i] = (i < 2 * kSampleRate ? 0.5f : 0.05f) * std::sin(2 * M_PI * 440 * i / kSampleRate);
  auto loud = frame_loudness(mel_spectrogram(s), 80, 25);
  ASSERT_EQ(loud.size(), 80u);
  EXPECT_LT(loud[10], loud[60]);  // silence < soft
  EXPECT_LT(loud[60], loud[35]);  // soft < loud
  EXPECT_LT(loud[23], loud[26]);  // the tone starts at frame 25: 40 ms before it is still quiet
  auto past_end = frame_loudness(mel_spectrogram(s), 200, 25);  // frames after the audio: its last columns
  EXPECT_EQ(past_end[199], past_end[150]);
}
