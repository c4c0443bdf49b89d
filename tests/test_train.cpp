// Preprocess -> dataset -> training on real clips: resumable preprocessing,
// a split without leaks, seeded sampling, overfitting, bit-for-bit resume,
// and the bad inputs of the training commands.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <set>

#include "helpers.h"
#include "model/precision.h"
#include "stf/error.h"
#include "train/checkpoint.h"
#include "train/clip_file.h"
#include "train/dataset.h"
#include "train/losses.h"
#include "train/preprocess.h"

using namespace stf;
namespace fs = std::filesystem;

namespace {

std::string q(const std::string& s) { return "'" + s + "'"; }

const std::string& dataset_dir() { return test::two_clip_dataset(); }

std::vector<nlohmann::json> read_log(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream f(path);
  for (std::string line; std::getline(f, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}


}  // namespace

TEST(Preprocess, ResumesSkipsFailuresAndSplitsByClip) {
  std::string dir = test::temp_dir("prep");
  std::string bad = dir + "/notes.mp4";
  std::ofstream(bad) << "not a video";
  std::vector<std::string> inputs{test::shared_data("grid_s1/bbaf2n.mp4"), test::shared_data("grid_s1/bbaf4p.mp4"),
                                  test::shared_data("vox/00010.mp4"), bad};
  PreprocessOptions opt;
  opt.size = 64;
  opt.val_match = "vox";
  opt.quiet = true;
  PreprocessReport first = preprocess(inputs, dir + "/ds", opt);
  EXPECT_EQ(first.processed, 3);
  EXPECT_EQ(first.failed, 1);
  EXPECT_EQ(first.train, 2);
  EXPECT_EQ(first.val, 1);
  auto stamp = fs::last_write_time(dir + "/ds/clips/bbaf2n.stfclip");
  PreprocessReport again = preprocess(inputs, dir + "/ds", opt);
  EXPECT_EQ(again.reused, 3) << "finished clips must not be redone";
  EXPECT_EQ(again.processed, 0);
  EXPECT_EQ(fs::last_write_time(dir + "/ds/clips/bbaf2n.stfclip"), stamp);

  // Stored landmarks are in crop pixels: with the default (bounds) placement
  // the 68 points fill the crop, eyes (36-47) above the mouth (48-67).
  ClipFile clip(dir + "/ds/clips/bbaf2n.stfclip");
  for (int64_t f : {int64_t(0), clip.header().frames - 1}) {
    const float* lm = clip.landmarks(f);
    float x0 = 1e9f, x1 = -1e9f, y0 = 1e9f, y1 = -1e9f, eye_y = 0, mouth_y = 0;
    for (int i = 0; i < 68; ++i) {
      x0 = std::min(x0, lm[2 * i]), x1 = std::max(x1, lm[2 * i]);
      y0 = std::min(y0, lm[2 * i + 1]), y1 = std::max(y1, lm[2 * i + 1]);
      if (i >= 36 && i < 48) eye_y += lm[2 * i + 1] / 12;
      if (i >= 48) mouth_y += lm[2 * i + 1] / 20;
    }
    EXPECT_GT(x0, -2) << f;
    EXPECT_LT(x1, opt.size + 2) << f;
    EXPECT_GT(y0, -2) << f;
    EXPECT_LT(y1, opt.size + 2) << f;
    EXPECT_GT(x1 - x0, 0.6 * opt.size) << f;
    EXPECT_GT(y1 - y0, 0.6 * opt.size) << f;
    EXPECT_GT(mouth_y - eye_y, 0.25 * opt.size) << f;
  }

  nlohmann::json m = nlohmann::json::parse(std::ifstream(dir + "/ds/manifest.json"));
  std::set<std::string> train, val;
  for (const auto& c : m["clips"]) (c["split"] == "train" ? train : val).insert(c["id"].get<std::string>());
  for (const auto& id : val) EXPECT_EQ(train.count(id), 0u) << id << " is in both splits";
  ASSERT_EQ(m["failed"].size(), 1u);
  EXPECT_NE(m["failed"][0]["reason"].get<std::string>().find("notes.mp4"), std::string::npos);
}

// --crop steady: recorded in each clip and the manifest; clips made with the
// other placement are redone, not reused; a generator trained on the data
// records it (also from a model that learned the other placement).
TEST(Preprocess, CropPlacementIsRecordedAndTrainedOn) {
  const std::string dir = test::temp_dir("prep_steady"), ds = dir + "/ds", run = dir + "/run";
  const std::string clips = q(test::shared_data("grid_s1/bbaf2n.mp4")) + " " + q(test::shared_data("grid_s1/bbaf3s.mp4"));
  auto manifest_crop = [&] { return nlohmann::json::parse(std::ifstream(ds + "/manifest.json"))["crop"]; };
  test::CliResult r = test::run_cli("preprocess " + clips + " --out " + q(ds) + " --size 96 --val-ratio 0 --crop steady");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(manifest_crop(), "steady");
  EXPECT_EQ(ClipFile(ds + "/clips/bbaf2n.stfclip").header().crop, CropPlacement::steady);
  EXPECT_EQ(dataset_crop(ds), CropPlacement::steady);
  EXPECT_EQ(dataset_crop(dataset_dir()), CropPlacement::bounds);  // the default

  r = test::run_cli("train --data " + q(ds) + " --batch 2 --steps 1 --no-av --out " + q(run) + " --init " +
                    q(STF_SOURCE_DIR "/models/synctalkface_lite.stfm"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(read_checkpoint_meta(run + "/last.ckpt")["config"]["crop"], "steady");
  // L_av's expert must have judged crops placed as the data's are.
  ASSERT_EQ(test::run_cli("train-sync --data " + q(dataset_dir()) + " --out " + q(dir + "/sync") + " --steps 1 --batch 2")
                .status,
            0);
  test::expect_one_line_error(test::run_cli("train --data " + q(ds) + " --batch 2 --steps 1 --out " + q(dir + "/av") +
                                            " --sync " + q(dir + "/sync/last.ckpt")),
                              "'bounds' crops");

  r = test::run_cli("preprocess " + clips + " --out " + q(ds) + " --size 96 --val-ratio 0");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("2 clips processed, 0 reused"), std::string::npos) << r.output;
  EXPECT_EQ(manifest_crop(), "bounds");
  EXPECT_EQ(ClipFile(ds + "/clips/bbaf2n.stfclip").header().crop, CropPlacement::bounds);
  test::expect_one_line_error(test::run_cli("preprocess " + clips + " --out " + q(ds) + " --crop chin"), "--crop");
}

TEST(Dataset, BatchesHaveThePaperShapesAndDependOnlyOnTheSeed) {
  Dataset ds(dataset_dir(), "train", 96);
  // Workers build uint8 crops (9 frames + 5 references per sample); the step expands them.
  GeneratorSamples raw = ds.generator_batch(0, 3, 42);
  EXPECT_EQ(raw.frames.scalar_type(), torch::kUInt8);
  EXPECT_EQ(raw.frames.sizes(), (std::vector<int64_t>{3, 9, 96, 96, 3}));
  EXPECT_EQ(raw.references.sizes(), (std::vector<int64_t>{3, 5, 96, 96, 3}));
  GeneratorBatch a = raw.expand(torch::kCPU), b = ds.generator_batch(0, 3, 42).expand(torch::kCPU),
                 c = ds.generator_batch(0, 3, 43).expand(torch::kCPU);
  EXPECT_EQ(a.target.sizes(), (std::vector<int64_t>{15, 3, 96, 96}));
  EXPECT_EQ(a.identity.sizes(), (std::vector<int64_t>{15, 6, 96, 96}));
  EXPECT_EQ(a.lips.sizes(), (std::vector<int64_t>{15, 3, 5, 96, 96}));
  EXPECT_EQ(a.mel.sizes(), (std::vector<int64_t>{15, 1, 80, 16}));
  EXPECT_EQ(a.sync_mel.sizes(), (std::vector<int64_t>{3, 1, 80, 16}));
  EXPECT_TRUE(torch::equal(a.target, b.target));
  EXPECT_FALSE(torch::equal(a.target, c.target));
  // Masks: identity's first frame has its lower half zeroed, lips their upper half.
  EXPECT_EQ(a.identity.narrow(1, 0, 3).narrow(2, 48, 48).abs().sum().item<float>(), 0.0f);
  EXPECT_GT(a.identity.narrow(1, 3, 3).narrow(2, 48, 48).abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(a.lips.narrow(3, 0, 48).abs().sum().item<float>(), 0.0f);
  // The centre of each lip window is the target frame itself, its neighbours
  // the neighbouring targets.
  EXPECT_TRUE(torch::equal(a.lips.select(2, 2).narrow(2, 48, 48), a.target.narrow(2, 48, 48)));
  EXPECT_TRUE(torch::equal(a.lips[0].select(1, 3).narrow(1, 48, 48), a.target[1].narrow(1, 48, 48)));
  EXPECT_TRUE(torch::equal(a.lips[4].select(1, 1).narrow(1, 48, 48), a.target[3].narrow(1, 48, 48)));
  // The reference half of the identity input is the stored reference crop.
  EXPECT_TRUE(torch::equal(a.identity.narrow(1, 3, 3), crops_to_float(raw.references.flatten(0, 1), 96)));

  SyncBatch s = ds.sync_batch(0, 200, 7);
  EXPECT_EQ(s.lower.sizes(), (std::vector<int64_t>{200, 15, 48, 96}));
  double positives = s.label.sum().item<double>();
  EXPECT_GT(positives, 70);
  EXPECT_LT(positives, 130);

  // Samples are numbered: a batch of 6 is the batches of 3 at 0 and 3 one
  // after the other (what two data-parallel ranks take), and every epoch
  // (2 clips here) visits each clip once.
  GeneratorBatch six = ds.generator_batch(0, 6, 42).expand(torch::kCPU),
                 rest = ds.generator_batch(3, 3, 42).expand(torch::kCPU);
  EXPECT_TRUE(torch::equal(six.target, torch::cat({a.target, rest.target})));
  EXPECT_TRUE(torch::equal(six.sync_mel, torch::cat({a.sync_mel, rest.sync_mel})));
  std::set<std::vector<size_t>> orders;
  for (int epoch = 0; epoch < 8; ++epoch) {
    std::vector<size_t> order{ds.clip_of(2 * epoch, 7), ds.clip_of(2 * epoch + 1, 7)};
    EXPECT_EQ(std::set<size_t>(order.begin(), order.end()), (std::set<size_t>{0, 1})) << "epoch " << epoch;
    orders.insert(order);
  }
  EXPECT_EQ(orders.size(), 2u) << "each epoch is shuffled anew";
}

// Augmented SyncNet windows: same pairs, labels and audio; the pictures are
// the plain ones mirrored or not and colour-scaled, the same way for all 5
// frames, reproducible from the seed.
TEST(Dataset, AugmentedSyncWindowsKeepTheirPairsAndChangeOnlyTheirLook) {
  Dataset ds(dataset_dir(), "train", 96);
  const Augment look{true, false};
  SyncBatch plain = ds.sync_batch(0, 64, 9), aug = ds.sync_batch(0, 64, 9, look), again = ds.sync_batch(0, 64, 9, look);
  EXPECT_TRUE(torch::equal(aug.lower, again.lower));
  EXPECT_TRUE(torch::equal(plain.label, aug.label));
  EXPECT_TRUE(torch::equal(plain.mel, aug.mel));
  EXPECT_GE(aug.lower.min().item<float>(), 0.0f);
  EXPECT_LE(aug.lower.max().item<float>(), 1.0f);
  int mirrored = 0;
  for (int64_t i = 0; i < 64; ++i) {
    auto p = plain.lower[i].view({5, 3, 48, 96}), a = aug.lower[i].view({5, 3, 48, 96});
    // Undo the mirror when it fits better, then every channel must be one gain
    // and one offset of the plain one (clamping aside): a linear fit per channel.
    const bool flip = (a - p.flip({3})).abs().mean().item<double>() < (a - p).abs().mean().item<double>();
    mirrored += flip;
    if (flip) a = a.flip({3});
    for (int ch = 0; ch < 3; ++ch) {
      auto x = p.select(1, ch).flatten(), y = a.select(1, ch).flatten();
      auto inside = (y > 0.01) & (y < 0.99);
      x = x.masked_select(inside), y = y.masked_select(inside);
      if (x.numel() < 100) continue;
      auto xc = x - x.mean();
      const double gain = (xc * (y - y.mean())).sum().item<double>() / (xc * xc).sum().item<double>();
      const double residual = (y - y.mean() - gain * xc).abs().max().item<double>();
      EXPECT_GT(gain, 0.7) << i;
      EXPECT_LT(gain, 1.3) << i;
      EXPECT_LT(residual, 1e-3) << "sample " << i << " channel " << ch;
    }
  }
  EXPECT_GT(mirrored, 16);
  EXPECT_LT(mirrored, 48);
}

namespace {

// A training set in `dir` of the one clip `h` (32 px crops): frame i's crop
// all of the value i, mel band b's column j 0.01 j + band_step b.
void write_counting_clip(const std::string& dir, const ClipHeader& h, float band_step) {
  fs::create_directories(dir + "/clips");
  std::vector<std::vector<uint8_t>> pixels;
  std::vector<const uint8_t*> crops;
  for (int64_t i = 0; i < h.frames; ++i) pixels.emplace_back(32 * 32 * 3, static_cast<uint8_t>(i));
  for (const auto& p : pixels) crops.push_back(p.data());
  std::vector<std::array<float, 136>> points(h.frames);
  std::vector<float> mel(80 * h.mel_columns);
  for (int b = 0; b < 80; ++b)
    for (int64_t j = 0; j < h.mel_columns; ++j) mel[b * h.mel_columns + j] = 0.01f * j + band_step * b;
  write_clip_file(dir + "/clips/" + h.id + ".stfclip", h, crops, points, mel.data());
  std::ofstream(dir + "/manifest.json") << R"({"version": 1, "clips": [{"file": "clips/)" << h.id
                                        << R"(.stfclip", "split": "train"}]})";
}

}  // namespace

// --augment-pace: a sample spoken p times as fast takes its frames every p
// stored frames (rounded) and reads its mel windows every p columns from
// each frame's own start. A clip whose crops hold their frame number and
// whose mel holds its column number shows both, checked against a direct
// computation: one p explains all 9 frames and all 5 x 16 columns.
TEST(Dataset, PacedSamplesTakeFramesAndMelAtOnePace) {
  const std::string dir = test::temp_dir("paced");
  ClipHeader h;
  h.id = "count", h.fps = 25, h.frames = 60, h.size = 32, h.first_frame = 7;
  h.mel_columns = 300;  // past the last window's reach (column 80 * 66 / 25 + 15 * 1.7 < 238)
  write_counting_clip(dir, h, 0.0001f);

  Dataset ds(dir, "train", 32);
  Augment paced;
  paced.pace = true;
  const int B = 300;
  GeneratorSamples plain = ds.generator_batch(0, B, 4), s = ds.generator_batch(0, B, 4, paced);
  int at_one = 0;
  double slowest = 9, fastest = 0;
  for (int b = 0; b < B; ++b) {
    std::vector<int64_t> f(9), g(9);
    for (int k = 0; k < 9; ++k) {
      f[k] = s.frames[b][k][0][0][0].item<int64_t>();
      g[k] = plain.frames[b][k][0][0][0].item<int64_t>();
    }
    for (int k = 1; k < 9; ++k) ASSERT_EQ(g[k], g[0] + k) << "without --augment-pace frames are consecutive";
    // The paces that round to these frames (frame 2 of the 9 is t).
    double lo = 0.8 - 1e-9, hi = 1.7 + 1e-9;
    for (int k = -2; k <= 6; ++k) {
      if (k == 0) continue;
      const double a = (f[k + 2] - f[2] - 0.5) / k, c = (f[k + 2] - f[2] + 0.5) / k;
      lo = std::max(lo, std::min(a, c)), hi = std::min(hi, std::max(a, c));
    }
    ASSERT_LE(lo, hi) << "sample " << b << ": no one pace takes these frames";
    // The mel: window k of the sample starts at its frame's first column and
    // steps by one pace p in [lo, hi] (the same for all 5 windows).
    double step_lo = 9, step_hi = 0;
    for (int k = 0; k < 5; ++k) {
      auto w = s.mel[b * 5 + k][0];  // (80, 16)
      const double start = std::floor(80.0 * (h.first_frame + f[k + 2]) / 25 + 1e-9);
      const double step = (w[0][15].item<double>() - w[0][0].item<double>()) / 0.01 / 15;
      step_lo = std::min(step_lo, step), step_hi = std::max(step_hi, step);
      for (int i = 0; i < 16; ++i)
        for (int band : {0, 79})
          ASSERT_NEAR(w[band][i].item<double>(), 0.01 * (start + i * step) + 0.0001 * band, 2e-5)
              << "sample " << b << " window " << k << " column " << i;
    }
    EXPECT_NEAR(step_lo, step_hi, 1e-3) << "sample " << b;
    EXPECT_GE(step_lo, lo - 1e-3) << "sample " << b;
    EXPECT_LE(step_hi, hi + 1e-3) << "sample " << b;
    EXPECT_TRUE(torch::equal(s.sync_mel[b], s.mel[b * 5])) << "the sync window is the first frame's";
    if (std::abs(step_lo - 1) < 1e-6) ++at_one;
    slowest = std::min(slowest, step_lo), fastest = std::max(fastest, step_lo);
  }
  EXPECT_GT(at_one, B / 2 - 40);  // half the samples keep the recorded pace
  EXPECT_LT(at_one, B / 2 + 40);
  EXPECT_LT(slowest, 0.85);
  EXPECT_GT(fastest, 1.6);
}

// The shortest clip the dataset takes (25 frames) at 120 fps has 17 mel
// columns, fewer than a window read at pace 1.7 spans (26): its paced
// windows stay inside the mel (its last column repeats).
TEST(Dataset, PacedWindowsOfAShortFastClipStayInsideItsMel) {
  const std::string dir = test::temp_dir("paced_short");
  ClipHeader h;
  h.id = "short", h.fps = 120, h.frames = 25, h.size = 32, h.mel_columns = 17;
  write_counting_clip(dir, h, 0);

  Dataset ds(dir, "train", 32);
  Augment paced;
  paced.pace = true;
  GeneratorSamples s = ds.generator_batch(0, 64, 4, paced);
  EXPECT_GE(s.mel.min().item<double>(), 0);
  EXPECT_LE(s.mel.max().item<double>(), 0.16 + 1e-6);
  // The fastest windows reach the last column.
  EXPECT_GT(s.mel.max().item<double>(), 0.16 - 1e-6);
}

// --hide-ref-mouth: with probability p a sample's 5 reference frames lose
// their mouth (a smooth colour field over mouth_region, same mean colour);
// everything else in the batch is what it is without the option.
TEST(Dataset, HiddenReferenceMouthsChangeOnlyTheMouthRegion) {
  Dataset ds(dataset_dir(), "train", 96);
  Augment half;
  half.hide_mouth = 0.5;
  GeneratorSamples plain = ds.generator_batch(0, 64, 3), hidden = ds.generator_batch(0, 64, 3, half);
  EXPECT_TRUE(torch::equal(plain.frames, hidden.frames));
  EXPECT_TRUE(torch::equal(plain.mel, hidden.mel));
  EXPECT_TRUE(torch::equal(plain.sync_mel, hidden.sync_mel));
  const int64_t S = plain.references.size(2);
  auto inside = torch::zeros({S, S}, torch::kBool);
  inside.slice(0, S / 2, S * 4 / 5).slice(1, S / 4, S * 3 / 4).fill_(true);
  int changed = 0;
  for (int64_t i = 0; i < 64; ++i) {
    auto p = plain.references[i].to(torch::kFloat32), h = hidden.references[i].to(torch::kFloat32);  // (5, S, S, 3)
    auto diff = (p - h).abs().amax({0, 3});                                                           // (S, S)
    EXPECT_EQ(diff.masked_select(~inside).max().item<float>(), 0) << "sample " << i << " changed outside its mouth";
    if (diff.max().item<float>() == 0) continue;
    ++changed;
    for (int k = 0; k < 5; ++k) {
      auto region_p = p[k].masked_select(inside.unsqueeze(-1)).view({-1, 3});
      auto region_h = h[k].masked_select(inside.unsqueeze(-1)).view({-1, 3});
      // Same colour on average (2x2 area means, bilinear between them), far less detail.
      EXPECT_LT((region_p.mean(0) - region_h.mean(0)).abs().max().item<float>(), 4) << i;
      auto detail = [](const torch::Tensor& img) {  // mean |horizontal step| inside the region
        return (img.slice(1, 1) - img.slice(1, 0, -1)).abs().mean().item<double>();
      };
      auto crop_p = p[k].slice(0, S / 2, S * 4 / 5).slice(1, S / 4, S * 3 / 4);
      auto crop_h = h[k].slice(0, S / 2, S * 4 / 5).slice(1, S / 4, S * 3 / 4);
      EXPECT_LT(detail(crop_h), 0.3 * detail(crop_p)) << i;
    }
  }
  EXPECT_GT(changed, 16);
  EXPECT_LT(changed, 48);

  // Validation for a model that always hides them: the same samples, every
  // reference's mouth hidden.
  GeneratorSamples v = ds.validation_generator_batch(8, 1), vh = ds.validation_generator_batch(8, 1, true);
  EXPECT_TRUE(torch::equal(v.frames, vh.frames));
  auto vdiff = (v.references.to(torch::kFloat32) - vh.references.to(torch::kFloat32)).abs().amax({1, 4});  // (8, S, S)
  EXPECT_EQ(vdiff.masked_select(~inside).max().item<float>(), 0);
  EXPECT_GT(vdiff.masked_select(inside).view({8, -1}).amax(1).min().item<float>(), 0) << "a reference kept its mouth";
}

// The loss terms against formulas written out here: which terms a config
// produces, L_recon over both decoding paths, L_gan and the discriminator's
// loss as -log sigmoid, and the total as the weighted sum.
TEST(Losses, TermsFollowTheConfigAndMatchTheirFormulas) {
  torch::manual_seed(5);
  ModelConfig c = ModelConfig::preset("lite");
  const int64_t windows = 1, n = 5 * windows, S = c.image_size;
  GeneratorBatch b;
  b.target = torch::rand({n, 3, S, S});
  b.identity = torch::cat({mask_upper_half(b.target), torch::rand({n, 3, S, S})}, 1);
  b.lips = torch::rand({n, 3, 5, S, S});
  b.mel = torch::randn({n, 1, 80, 16});
  b.sync_mel = torch::randn({windows, 1, 80, 16});
  SyncNet sync(S, c.sync_width, c.sync_feature, c.residual_blocks);
  LipEncoder critic(S, c.lip_width, c.feature, c.residual_blocks);
  Discriminator disc(c.disc_width, c.disc_patches);
  SyncTalkFace gen(c);
  for (torch::nn::Module* m : std::vector<torch::nn::Module*>{gen.get(), sync.get(), critic.get(), disc.get()}) m->eval();
  torch::NoGradGuard ng;
  GeneratorOutput out = gen->forward_train(b.mel, b.identity, b.lips);
  auto terms = generator_losses(c, b, out, sync, critic, disc);
  std::set<std::string> names;
  for (auto& [k, t] : terms) names.insert(k);
  EXPECT_EQ(names, (std::set<std::string>{"align", "av", "gan", "recon", "store", "vv"}));

  const double recon = ((out.recalled_image - b.target).abs().mean() + (out.stored_image - b.target).abs().mean()).item<double>();
  EXPECT_NEAR(terms["recon"].item<double>(), recon, 1e-6);
  const double gan = -torch::log(torch::sigmoid(disc->forward(out.recalled_image))).mean().item<double>();
  EXPECT_NEAR(terms["gan"].item<double>(), gan, 1e-5);
  EXPECT_GT(terms["av"].item<double>(), 0) << "-log of a cosine in (0, 1]";
  EXPECT_GE(terms["vv"].item<double>(), 0);

  double total = 0;
  const LossWeights& w = c.loss;
  const std::map<std::string, double> weight{{"recon", w.recon}, {"av", w.av},       {"vv", w.vv},
                                             {"gan", w.gan},     {"store", w.store}, {"align", w.align}};
  for (auto& [k, t] : terms) total += weight.at(k) * t.item<double>();
  EXPECT_NEAR(weighted_total(w, terms).item<double>(), total, 1e-5 * total);

  auto real = disc->forward(b.target), fake = disc->forward(out.recalled_image);
  const double d = (-torch::log(torch::sigmoid(real)).mean() - torch::log(1 - torch::sigmoid(fake)).mean()).item<double>();
  EXPECT_NEAR(discriminator_loss(disc, b.target, out.recalled_image).item<double>(), d, 1e-5);

  // Weights switched off drop their terms; without the memory there is one path and no memory terms.
  ModelConfig plain = c;
  plain.memory = false;
  plain.loss.av = plain.loss.vv = plain.loss.gan = 0;
  SyncTalkFace baseline(plain);
  baseline->eval();
  GeneratorOutput bo = baseline->forward_train(b.mel, b.identity, b.lips);
  LipEncoder none{nullptr};
  auto only = generator_losses(plain, b, bo, sync, none, disc);
  ASSERT_EQ(only.size(), 1u);
  EXPECT_NEAR(only["recon"].item<double>(), (bo.recalled_image - b.target).abs().mean().item<double>(), 1e-6);

  // The mouth term (off by default): the L1 over rows S/2 .. 4S/5 and
  // columns S/4 .. 3S/4 of each path, summed; the total weighs it too.
  plain.loss.mouth = 20;
  auto with_mouth = generator_losses(plain, b, bo, sync, none, disc);
  ASSERT_EQ(with_mouth.size(), 2u);
  double sum = 0;
  auto diff = (bo.recalled_image - b.target).abs().contiguous();
  auto px = diff.accessor<float, 4>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < 3; ++ch)
      for (int64_t y = S / 2; y < S * 4 / 5; ++y)
        for (int64_t x = S / 4; x < S * 3 / 4; ++x) sum += px[i][ch][y][x];
  const double mouth = sum / (n * 3 * (S * 4 / 5 - S / 2) * (S * 3 / 4 - S / 4));
  EXPECT_NEAR(with_mouth["mouth"].item<double>(), mouth, 1e-6);
  EXPECT_NEAR(weighted_total(plain.loss, with_mouth).item<double>(), 10 * only["recon"].item<double>() + 20 * mouth, 1e-5);
}

TEST(Train, LiteModelOverfitsTwoRealClips) {
  std::string out = test::temp_dir("overfit");
  test::CliResult r = test::run_cli("train --data " + q(dataset_dir()) + " --out " + q(out) +
                                    " --steps 80 --batch 2 --lr 1e-3 --seed 3 --no-av --no-gan --no-vv"
                                    " --log-every 10 --ckpt-every 1000");
  ASSERT_EQ(r.status, 0) << r.output;
  auto log = read_log(out + "/log.jsonl");
  ASSERT_EQ(log.size(), 8u);
  double first = log.front()["recon"], last = log.back()["recon"];
  EXPECT_LT(last, 0.5 * first) << "L1 " << first << " -> " << last;
  EXPECT_TRUE(fs::exists(out + "/step_80.ckpt"));
  EXPECT_TRUE(fs::exists(out + "/last.ckpt"));
}

TEST(Train, ResumeContinuesBitForBit) {
  std::string whole = test::temp_dir("resume_whole"), part = test::temp_dir("resume_part");
  const std::string common = " --data " + q(dataset_dir()) + " --batch 2 --seed 5 --log-every 1 --ckpt-every 3 --no-av";
  // The number of data workers must not matter either: 1, 2 (default) and 4;
  // nor --deterministic (it only restricts CUDA kernels; every op here has a
  // deterministic kernel, or the run would stop naming it).
  ASSERT_EQ(test::run_cli("train" + common + " --out " + q(whole) + " --steps 6 --workers 1 --deterministic").status, 0);
  ASSERT_EQ(test::run_cli("train" + common + " --out " + q(part) + " --steps 3").status, 0);
  test::CliResult r = test::run_cli("train" + common + " --out " + q(part) + " --steps 6 --workers 4 --resume " +
                                    q(part + "/step_3.ckpt"));
  ASSERT_EQ(r.status, 0) << r.output;
  auto a = read_log(whole + "/log.jsonl"), b = read_log(part + "/log.jsonl");
  ASSERT_EQ(a.size(), 6u);
  ASSERT_EQ(b.size(), 6u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].dump(), b[i].dump()) << "step " << i + 1;
  // Resumed at --steps already (a script that resumes every stage, run
  // again): nothing trained, said so (was "6 steps in 0.0 s, L1 0.0000 -> 0.0000").
  r = test::run_cli("train" + common + " --out " + q(part) + " --steps 6 --resume " + q(part + "/last.ckpt"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("last.ckpt has reached --steps 6 already; nothing to train"), std::string::npos) << r.output;
  EXPECT_EQ(read_log(part + "/log.jsonl").size(), 6u);
}

// train --precision bf16: forward passes under CPU autocast to bfloat16.
// The losses follow the float32 run's within bfloat16 rounding (same seed,
// same batches), yet are not the same numbers (autocast did act), and a
// bf16 run is deterministic too.
TEST(Train, Bfloat16AutocastTrainsCloseToFloat) {
  std::string fp32 = test::temp_dir("bf16_ref"), bf16 = test::temp_dir("bf16_run"), again = test::temp_dir("bf16_again");
  const std::string common = " --data " + q(dataset_dir()) + " --batch 2 --seed 9 --steps 4 --log-every 1 --no-av";
  ASSERT_EQ(test::run_cli("train" + common + " --out " + q(fp32)).status, 0);
  test::CliResult r = test::run_cli("train" + common + " --precision bf16 --out " + q(bf16));
  ASSERT_EQ(r.status, 0) << r.output;
  // Far slower without bfloat16 units (13x a lite step on an AVX2 CPU): a warning says so.
  EXPECT_EQ(r.output.find("warning: this CPU has no bfloat16 units") != std::string::npos, !cpu_has_fast_bf16())
      << r.output;
  ASSERT_EQ(test::run_cli("train" + common + " --precision bf16 --out " + q(again)).status, 0);
  auto a = read_log(fp32 + "/log.jsonl"), b = read_log(bf16 + "/log.jsonl"), c = read_log(again + "/log.jsonl");
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  ASSERT_EQ(c.size(), 4u);
  for (size_t i = 0; i < a.size(); ++i) {
    for (const char* k : {"recon", "total"}) {
      double x = a[i][k], y = b[i][k];
      EXPECT_TRUE(std::isfinite(y)) << k << " step " << i + 1;
      EXPECT_NEAR(y, x, 0.03 * std::abs(x)) << k << " step " << i + 1;
    }
    EXPECT_EQ(b[i].dump(), c[i].dump()) << "step " << i + 1;
  }
  EXPECT_NE(a[0]["recon"].get<double>(), b[0]["recon"].get<double>());
  EXPECT_NE(test::run_cli("train" + common + " --precision fp16 --out " + q(bf16)).status, 0);
}

// --init starts a new run (step 1 again, other loss flags allowed) from a
// generator's weights; without it the same run starts from the seed's
// initial weights, as the first run did.
TEST(Train, InitStartsANewRunFromAnotherRunsWeights) {
  std::string first = test::temp_dir("init_first"), inited = test::temp_dir("init_new"),
              fresh = test::temp_dir("init_fresh");
  const std::string common = " --data " + q(dataset_dir()) + " --batch 2 --seed 5 --log-every 1 --no-av";
  ASSERT_EQ(test::run_cli("train" + common + " --out " + q(first) + " --steps 3").status, 0);
  test::CliResult r = test::run_cli("train" + common + " --no-vv --out " + q(inited) + " --steps 1 --init " +
                                    q(first + "/last.ckpt"));
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_EQ(test::run_cli("train" + common + " --no-vv --out " + q(fresh) + " --steps 1").status, 0);
  auto a = read_log(first + "/log.jsonl"), b = read_log(inited + "/log.jsonl"), c = read_log(fresh + "/log.jsonl");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0]["step"], 1);
  EXPECT_FALSE(b[0].contains("vv"));
  EXPECT_EQ(c[0]["recon"], a[0]["recon"]);  // same seed, same first batch, same starting weights
  EXPECT_NE(b[0]["recon"], a[0]["recon"]) << "the weights after 3 steps should score the first batch differently";

  // From an exported model file (the generator alone; the discriminator starts fresh): the same generator.
  std::string exported = test::temp_dir("init_export"), from_file = test::temp_dir("init_file");
  ASSERT_EQ(test::run_cli("export " + q(first + "/last.ckpt") + " --fp32 --out " + q(exported + "/g.stfm")).status, 0);
  r = test::run_cli("train" + common + " --no-vv --out " + q(from_file) + " --steps 1 --init " + q(exported + "/g.stfm"));
  ASSERT_EQ(r.status, 0) << r.output;
  auto d = read_log(from_file + "/log.jsonl");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0]["recon"], b[0]["recon"]);
  // ... with another discriminator, which a model file does not hold (a training checkpoint does).
  std::string wide = test::temp_dir("init_wide"), wide_run = test::temp_dir("init_wide_run");
  std::ofstream(wide + "/c.json") << R"({"name": "lite", "disc_width": 4, "lr_discriminator": 1e-4})";
  r = test::run_cli("train" + common + " --config " + q(wide + "/c.json") + " --out " + q(wide_run) + " --steps 1 --init " +
                    q(exported + "/g.stfm"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(read_log(wide_run + "/log.jsonl")[0]["recon"], b[0]["recon"]);
  test::expect_one_line_error(test::run_cli("train" + common + " --config " + q(wide + "/c.json") + " --out " +
                                            q(fresh) + " --steps 1 --init " + q(first + "/last.ckpt")),
                              "another network");

  test::expect_one_line_error(test::run_cli("train" + common + " --slots 24 --out " + q(fresh) + " --steps 1 --init " +
                                            q(first + "/last.ckpt")),
                              "another network");
  test::expect_one_line_error(test::run_cli("train" + common + " --out " + q(fresh) + " --steps 1 --init " +
                                            q(first + "/last.ckpt") + " --resume " + q(first + "/last.ckpt")),
                              "excludes");
}

TEST(Train, SyncExpertTrainsAndIsRequiredForAv) {
  std::string out = test::temp_dir("sync");
  test::CliResult r = test::run_cli("train-sync --data " + q(dataset_dir()) + " --out " + q(out) +
                                    " --steps 4 --batch 4 --log-every 2");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(read_log(out + "/log.jsonl").size(), 2u);
  std::string gen = test::temp_dir("sync_gen");
  r = test::run_cli("train --data " + q(dataset_dir()) + " --out " + q(gen) + " --steps 2 --batch 2 --sync " +
                    q(out + "/last.ckpt"));
  EXPECT_EQ(r.status, 0) << r.output;
  test::expect_one_line_error(test::run_cli("train --data " + q(dataset_dir()) + " --out " + q(gen) + " --steps 2"),
                        "--sync");
  // A generator checkpoint is not a SyncNet.
  test::expect_one_line_error(test::run_cli("train --data " + q(dataset_dir()) + " --out " + q(gen) + " --steps 2 --sync " +
                                      q(gen + "/last.ckpt")),
                        "not a SyncNet checkpoint");
}

TEST(Train, BadInputsAreOneLineErrors) {
  std::string dir = test::temp_dir("train_bad");
  fs::create_directories(dir + "/empty");
  test::expect_one_line_error(test::run_cli("train-sync --data " + q(dir + "/empty") + " --out " + q(dir + "/o")),
                        "no manifest.json");
  std::ofstream(dir + "/empty/manifest.json") << R"({"version": 1, "clips": []})";
  test::expect_one_line_error(test::run_cli("train-sync --data " + q(dir + "/empty") + " --out " + q(dir + "/o")),
                        "no usable train clips");
  // preprocess with no usable clip: an error, and no empty dataset folder left to be taken for one.
  cv::imwrite(dir + "/wall.png", cv::Mat(64, 64, CV_8UC3, cv::Scalar(90, 140, 200)));
  test::expect_one_line_error(test::run_cli("preprocess " + q(dir + "/wall.png") + " --out " + q(dir + "/ds")),
                              "no clip could be used");
  EXPECT_FALSE(fs::exists(dir + "/ds"));

  // Checkpoints: another program's file, a truncated one, another config.
  std::string good = test::temp_dir("train_bad_ckpt");
  ASSERT_EQ(test::run_cli("train-sync --data " + q(dataset_dir()) + " --out " + q(good) + " --steps 1 --batch 2").status, 0);
  std::ofstream(dir + "/other.ckpt") << "PK\x03\x04 some zip from elsewhere";
  test::expect_one_line_error(test::run_cli("train-sync --data " + q(dataset_dir()) + " --out " + q(dir + "/o") +
                                      " --steps 2 --resume " + q(dir + "/other.ckpt")),
                        "not a SyncTalkFace checkpoint");
  std::string bytes = test::read_file(good + "/last.ckpt");
  std::ofstream(dir + "/cut.ckpt", std::ios::binary).write(bytes.data(), bytes.size() / 2);
  test::expect_one_line_error(test::run_cli("train-sync --data " + q(dataset_dir()) + " --out " + q(dir + "/o") +
                                      " --steps 2 --resume " + q(dir + "/cut.ckpt")),
                        "cut.ckpt");
  test::expect_one_line_error(test::run_cli("train-sync --data " + q(dataset_dir()) + " --out " + q(dir + "/o") +
                                      " --steps 2 --config paper --resume " + q(good + "/last.ckpt")),
                        "another configuration");
  EXPECT_FALSE(fs::exists(dir + "/o/last.ckpt")) << "a failed run wrote a checkpoint";

  // A new run, or one resumed from elsewhere, into a run's folder would write
  // over its checkpoints (best.ckpt too): refused, the folder untouched.
  const auto before = fs::last_write_time(good + "/last.ckpt");
  const std::string into_good = "train-sync --data " + q(dataset_dir()) + " --out " + q(good) + " --steps 2 --batch 2";
  test::expect_one_line_error(test::run_cli(into_good),
                              "holds a run already (last.ckpt at step 1); continue it with --resume " + good + "/last.ckpt");
  fs::copy_file(good + "/last.ckpt", dir + "/elsewhere.ckpt");
  test::expect_one_line_error(test::run_cli(into_good + " --resume " + q(dir + "/elsewhere.ckpt")), "holds a run already");
  EXPECT_EQ(fs::last_write_time(good + "/last.ckpt"), before);
  EXPECT_FALSE(fs::exists(good + "/step_2.ckpt"));
}

// A step that needs more memory than the process may take (here under a
// data limit; where the system does not overcommit, all there is): a
// one-line error naming the batch, not LibTorch's message and stack trace
// with exit status 1. The limit lies well above what the process takes to
// start, OpenBLAS's buffers included (refused, they spin instead of failing).
TEST(Train, OutOfMemoryIsAOneLineErrorNamingTheBatch) {
  std::string dir = test::temp_dir("train_oom");
  test::CliResult r = test::run_cli("train --data " + q(dataset_dir()) + " --out " + q(dir + "/run") +
                                        " --config paper --batch 8 --steps 1 --no-av --no-gan --threads 2",
                                    "timeout 300 prlimit --data=3000000000");
  test::expect_one_line_error(r, "out of memory: a step at --batch 8 needs more than this machine has free; give a smaller --batch");
}

TEST(Train, NonFiniteLossStopsAndKeepsTheLastGoodCheckpoint) {
  // A learning rate of 1e30 sends the weights to +-1e30 after one step, so
  // the second forward pass overflows.
  std::string out = test::temp_dir("nan");
  test::CliResult r = test::run_cli("train --data " + q(dataset_dir()) + " --out " + q(out) +
                                    " --steps 5 --batch 2 --lr 1e30 --no-av --ckpt-every 1 --log-every 1");
  test::expect_one_line_error(r, "at step 2");
  EXPECT_NE(r.output.find("step_1.ckpt"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(out + "/step_1.ckpt"));
  EXPECT_FALSE(fs::exists(out + "/step_2.ckpt"));
  // The kept checkpoint is whole: it loads (a resume with nothing left to do).
  test::CliResult resumed = test::run_cli("train --data " + q(dataset_dir()) + " --out " + q(out + "/again") +
                                          " --steps 1 --batch 2 --no-av --resume " + q(out + "/step_1.ckpt"));
  EXPECT_EQ(resumed.status, 0) << resumed.output;
}

// Ctrl-C between steps: the checkpoints written so far stay, and the message
// says how to go on.
TEST(Train, CtrlCKeepsTheCheckpointsAndSaysHowToResume) {
  std::string dir = test::temp_dir("train_ctrlc"), log_dir = test::temp_dir("train_ctrlc_log"), log;
  auto checkpointed = [](const std::string& folder) { return fs::exists(folder + "/step_2.ckpt"); };
  int status = test::interrupt_cli_when({"train-sync", "--data", dataset_dir(), "--out", dir, "--steps", "100000",
                                         "--batch", "2", "--ckpt-every", "2", "--threads", "1"},
                                        log_dir + "/run.log", checkpointed, dir, &log);
  EXPECT_EQ(status, 2) << log;
  EXPECT_NE(log.find("error: interrupted at step"), std::string::npos) << log;
  EXPECT_NE(log.find("continue with --resume " + dir), std::string::npos) << log;
  EXPECT_NO_THROW(read_checkpoint_meta(dir + "/last.ckpt"));
}
