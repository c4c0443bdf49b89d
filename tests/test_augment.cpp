// Training augmentation: the speech change against a per-cell reference,
// the noise's level and spread, the draws' ranges, and what augmented
// batches keep from the plain ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "helpers.h"
#include "train/augment.h"
#include "train/dataset.h"

using namespace stf;

namespace {

// change_speech without noise, one cell at a time, from the formulas.
float reference_cell(const torch::Tensor& mel, const SpeechChange& c, int64_t b, int64_t t) {
  auto x = mel.accessor<float, 2>();
  const int64_t bands = mel.size(0);
  const double src = std::min(double(bands - 1), b / c.voice);
  const int64_t lo = static_cast<int64_t>(src), hi = std::min(bands - 1, lo + 1);
  const double v = (1 - (src - lo)) * x[lo][t] + (src - lo) * x[hi][t];
  const double db = (v + 4) * 12.5 - 100 + c.gain_db + c.tilt_db * (double(b) / (bands - 1) - 0.5);
  return static_cast<float>(std::clamp((db + 100) / 12.5 - 4, -4.0, 4.0));
}

}  // namespace

TEST(Augment, SpeechChangeWithoutNoiseMatchesAPerCellReference) {
  torch::manual_seed(3);
  auto mel = (torch::rand({80, 40}) * 8 - 4).contiguous();
  std::mt19937_64 rng(1);
  for (SpeechChange c : {SpeechChange{}, SpeechChange{1.12, 10, -6}, SpeechChange{0.88, -10, 6},
                         SpeechChange{1.03, 4.5, 2}}) {
    auto out = change_speech(mel, c, rng);
    ASSERT_EQ(out.sizes(), mel.sizes());
    double worst = 0;
    for (int64_t b = 0; b < 80; ++b)
      for (int64_t t = 0; t < 40; ++t)
        worst = std::max(worst, double(std::abs(out[b][t].item<float>() - reference_cell(mel, c, b, t))));
    EXPECT_LT(worst, 1e-4) << "voice " << c.voice << " gain " << c.gain_db << " tilt " << c.tilt_db;
  }
  // The identity change gives the input back; a voice stretch moves a formant up.
  EXPECT_TRUE(torch::allclose(change_speech(mel, SpeechChange{}, rng), mel, 0, 1e-5));
  auto formant = torch::full({80, 1}, -4.0f);
  formant[40][0] = 2.0f;
  EXPECT_EQ(change_speech(formant, SpeechChange{1.1}, rng).argmax().item<int64_t>(), 44);
}

TEST(Augment, NoiseSitsAtItsLevelAndOnlyAddsPower) {
  std::mt19937_64 rng(2);
  SpeechChange c;
  c.noise = true;
  c.noise_level = -2;
  auto silent = torch::full({80, 500}, -4.0f);
  auto out = change_speech(silent, c, rng);
  // Level in dB is jittered by 0.3 N(0,1) nepers: sd 0.3 * 8.686 dB / 12.5 dB per unit.
  EXPECT_NEAR(out.mean().item<double>(), -2.0, 0.02);
  EXPECT_NEAR(out.std().item<double>(), 0.3 * 20 / std::log(10.0) / 12.5, 0.02);
  torch::manual_seed(4);
  auto speech = (torch::rand({80, 100}) * 8 - 4).contiguous();
  auto noisy = change_speech(speech, c, rng);
  EXPECT_GE((noisy - speech).min().item<float>(), -1e-4f);  // powers add: never quieter
  auto loud = speech > 2;                                    // 50 dB above the noise: unchanged
  EXPECT_LT((noisy - speech).masked_select(loud).abs().max().item<float>(), 0.01f);
}

TEST(Augment, DrawsStayInTheirRangesAndRepeatFromTheSeed) {
  std::mt19937_64 rng(5), again(5);
  int noisy = 0;
  for (int i = 0; i < 2000; ++i) {
    SpeechChange c = draw_speech_change(rng), d = draw_speech_change(again);
    EXPECT_EQ(c.voice, d.voice);
    EXPECT_EQ(c.noise_level, d.noise_level);
    EXPECT_GE(c.voice, 0.88);
    EXPECT_LE(c.voice, 1.12);
    EXPECT_LE(std::abs(c.gain_db), 10);
    EXPECT_LE(std::abs(c.tilt_db), 6);
    EXPECT_GE(c.noise_level, -3.5);
    EXPECT_LE(c.noise_level, -1.0);
    noisy += c.noise;
  }
  EXPECT_NEAR(noisy / 2000.0, 0.7, 0.04);
}

// Speech augmentation changes only the audio of a batch: the same windows,
// references and labels; all of a sample's mel windows from one changed clip
// (the sync window is the first frame's); reproducible from the seed.
TEST(Augment, AugmentedSpeechKeepsTheSamplesAndChangesOnlyTheirAudio) {
  Dataset ds(test::two_clip_dataset(), "train", 96);
  Augment speech;
  speech.speech = true;
  GeneratorSamples plain = ds.generator_batch(0, 6, 11), aug = ds.generator_batch(0, 6, 11, speech),
                   again = ds.generator_batch(0, 6, 11, speech);
  EXPECT_TRUE(torch::equal(plain.frames, aug.frames));
  EXPECT_TRUE(torch::equal(plain.references, aug.references));
  EXPECT_TRUE(torch::equal(aug.mel, again.mel));
  EXPECT_GT((aug.mel - plain.mel).abs().mean().item<double>(), 0.05);
  EXPECT_TRUE(torch::equal(aug.sync_mel, aug.mel.view({6, 5, 1, 80, 16}).select(1, 0)));
  EXPECT_GE(aug.mel.min().item<float>(), -4.0f);
  EXPECT_LE(aug.mel.max().item<float>(), 4.0f);

  SyncBatch sp = ds.sync_batch(0, 32, 11), sa = ds.sync_batch(0, 32, 11, speech);
  EXPECT_TRUE(torch::equal(sp.lower, sa.lower));
  EXPECT_TRUE(torch::equal(sp.label, sa.label));
  EXPECT_GT((sa.mel - sp.mel).abs().mean().item<double>(), 0.05);
}
