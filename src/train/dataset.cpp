#include "train/dataset.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <cmath>
#include <random>

#include "stf/audio.h"
#include "stf/error.h"
#include "model/syncnet.h"
#include "model/synctalkface.h"

namespace stf {

namespace fs = std::filesystem;

// Frames a generator sample needs around its window start t: t-2 .. t+6.
static constexpr int64_t kMinClipFrames = 25;

namespace {

nlohmann::json read_manifest(const std::string& dir) {
  fs::path manifest_path = fs::path(dir) / "manifest.json";
  if (!fs::exists(manifest_path))
    throw Error(dir + ": no manifest.json; create the dataset with 'synctalkface preprocess VIDEOS --out " + dir + "'");
  nlohmann::json manifest;
  try {
    std::ifstream(manifest_path) >> manifest;
  } catch (const std::exception&) {
    throw Error(manifest_path.string() + ": not valid JSON");
  }
  return manifest;
}

}  // namespace

CropPlacement dataset_crop(const std::string& dir) {
  const nlohmann::json manifest = read_manifest(dir);
  try {
    return parse_crop_placement(manifest.value("crop", std::string("bounds")));  // datasets before session 26
  } catch (const Error& e) {
    throw Error(dir + "/manifest.json: " + e.what());
  }
}

Dataset::Dataset(const std::string& dir, const std::string& split, int image_size) : size_(image_size) {
  const nlohmann::json manifest = read_manifest(dir);
  for (const auto& c : manifest.value("clips", nlohmann::json::array())) {
    if (c.value("split", "") != split) continue;
    auto clip = std::make_unique<ClipFile>((fs::path(dir) / c.at("file").get<std::string>()).string());
    if (clip->header().frames < kMinClipFrames) continue;  // too short for a window with margins
    clips_.push_back(std::move(clip));
  }
  if (clips_.empty())
    throw Error(dir + ": no usable " + split + " clips (need clips of at least " + std::to_string(kMinClipFrames) +
                " frames in the manifest's " + split + " split)");
}

int64_t Dataset::frames() const {
  int64_t n = 0;
  for (const auto& c : clips_) n += c->header().frames;
  return n;
}

torch::Tensor crops_to_float(const torch::Tensor& crops, int64_t size) {
  auto t = crops.permute({0, 3, 1, 2}).to(torch::kFloat32).div_(255.0);  // (N, 3, S0, S0), a copy
  const int64_t stored = t.size(-1);
  if (stored == size) return t;
  namespace F = torch::nn::functional;
  auto opt = F::InterpolateFuncOptions().size(std::vector<int64_t>{size, size});
  if (stored > size) opt.mode(torch::kArea);
  else opt.mode(torch::kBilinear).align_corners(false);
  return F::interpolate(t, opt);  // (N, 3, S, S)
}

GeneratorBatch GeneratorSamples::expand(const torch::Device& device) const {
  const int64_t B = frames.size(0), S = size;
  auto f = crops_to_float(frames.to(device).flatten(0, 1), S).view({B, 9, 3, S, S});
  auto target = f.narrow(1, 2, 5).reshape({B * 5, 3, S, S});                     // frames t .. t+4
  auto refs = crops_to_float(references.to(device).flatten(0, 1), S);             // (B*5, 3, S, S)
  std::vector<torch::Tensor> windows;                                            // frame t+k's lips: t+k-2 .. t+k+2
  for (int k = 0; k < 5; ++k) windows.push_back(f.narrow(1, k, 5).transpose(1, 2));  // (B, 3, 5, S, S)
  auto lips = mask_upper_half(torch::stack(windows, 1).reshape({B * 5, 3, 5, S, S}));
  return {target, identity_input(target, refs), lips, mel.to(device), sync_mel.to(device)};
}

torch::Tensor Dataset::crop(const ClipFile& c, int64_t i) const {
  const int64_t s = c.header().size;
  return torch::from_blob(const_cast<uint8_t*>(c.crop(i)), {s, s, 3}, torch::kUInt8).clone();
}

torch::Tensor Dataset::mel(const ClipFile& c, std::mt19937_64& rng, bool augment) const {
  auto mel = torch::from_blob(const_cast<float*>(c.mel()), {kMelBands, c.header().mel_columns}, torch::kFloat32);
  if (!augment) return mel;  // (80, T)
  const SpeechChange change = draw_speech_change(rng);
  return change_speech(mel, change, rng);
}

torch::Tensor Dataset::mel_window(const ClipFile& c, const torch::Tensor& mel, int64_t i, double pace) const {
  const ClipHeader& h = c.header();
  if (pace == 1) return stf::mel_window(mel, h.first_frame + i, h.fps).unsqueeze(0).clone();  // (1, 80, 16)
  const int64_t T = mel.size(1);
  // The last start whose window ends within the mel (0 for a mel shorter than the window: its last column repeats).
  const double last_start = std::max(0.0, double(T - 1) - (kMelWindow - 1) * pace);
  const double start = std::clamp(std::floor(kMelFps * (h.first_frame + i) / h.fps + 1e-9), 0.0, last_start);
  auto at = (start + pace * torch::arange(kMelWindow, torch::kFloat64)).clamp_max(T - 1);  // (16,) fractional columns
  auto below = at.floor().to(torch::kLong), above = (below + 1).clamp_max(T - 1);
  auto w = (at - below.to(torch::kFloat64)).to(torch::kFloat32);        // (16,)
  return (mel.index_select(1, below) * (1 - w) + mel.index_select(1, above) * w).unsqueeze(0);  // (1, 80, 16)
}

namespace {

// A well-mixed 64-bit number from two (splitmix64's finaliser).
uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t z = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// hide_mouth on stored crops: (N, S0, S0, 3) uint8 -> the same.
torch::Tensor hide_stored_mouths(const torch::Tensor& crops) {
  auto t = crops.permute({0, 3, 1, 2}).to(torch::kFloat32);  // (N, 3, S0, S0)
  return hide_mouth(t).round().to(torch::kUInt8).permute({0, 2, 3, 1});
}

}  // namespace

size_t Dataset::clip_of(int64_t sample, uint64_t seed) const {
  const int64_t n = static_cast<int64_t>(clips_.size());
  std::vector<size_t> order(clips_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937_64 rng(mix(seed, static_cast<uint64_t>(sample / n)));
  std::shuffle(order.begin(), order.end(), rng);
  return order[sample % n];
}

std::vector<torch::Tensor> Dataset::generator_sample(const ClipFile& c, std::mt19937_64& rng,
                                                     const Augment& aug) const {
  const int64_t n = c.header().frames;
  const double pace = aug.pace ? draw_pace(rng) : 1;
  // Window t..t+4, lips t-2..t+6, in steps of `pace` frames: frame k of the sample is stored frame at(k).
  const int64_t t = std::uniform_int_distribution<int64_t>(static_cast<int64_t>(std::ceil(2 * pace)),
                                                              static_cast<int64_t>(std::floor(n - 1 - 6 * pace)))(rng);
  auto at = [&](int k) { return t + static_cast<int64_t>(std::lround(k * pace)); };
  int64_t r;
  do r = std::uniform_int_distribution<int64_t>(0, n - 5)(rng);
  while (std::abs(r - t) < 5);                                               // reference >= 5 frames away
  const torch::Tensor speech = mel(c, rng, aug.speech);  // (80, T)
  std::vector<torch::Tensor> around, references, windows;
  for (int k = -2; k <= 6; ++k) around.push_back(crop(c, at(k)));  // frames t-2 .. t+6 (at pace 1)
  for (int k = 0; k < 5; ++k) {
    references.push_back(crop(c, r + k));
    windows.push_back(mel_window(c, speech, at(k), pace));
  }
  torch::Tensor refs = torch::stack(references);  // (5, S0, S0, 3)
  const bool hide = aug.hide_mouth >= 1 || (aug.hide_mouth > 0 && std::bernoulli_distribution(aug.hide_mouth)(rng));
  if (hide) refs = hide_stored_mouths(refs);
  return {torch::stack(around), refs, torch::stack(windows), windows.front()};
}

std::vector<torch::Tensor> Dataset::sync_sample(const ClipFile& c, std::mt19937_64& rng, const Augment& aug) const {
  const int64_t n = c.header().frames;
  const int64_t t = std::uniform_int_distribution<int64_t>(0, n - 5)(rng);
  const bool positive = std::bernoulli_distribution(0.5)(rng);
  int64_t a = t;
  if (!positive) {
    do a = std::uniform_int_distribution<int64_t>(0, n - 5)(rng);
    while (std::abs(a - t) < 5);                                              // clearly out of sync
  }
  std::vector<torch::Tensor> window;
  for (int64_t i = t; i < t + 5; ++i) window.push_back(crop(c, i));
  torch::Tensor frames = crops_to_float(torch::stack(window), size_);  // (5, 3, S, S)
  if (aug.look) frames = augment_look(frames, rng);
  return {stack_lower_halves(frames.unsqueeze(0)).squeeze(0),  // (15, S/2, S)
          mel_window(c, mel(c, rng, aug.speech), a), torch::tensor(positive ? 1.0f : 0.0f)};
}

namespace {

// Samples' tensors (per sample: 9 frames, 5 references, the mel of the 5
// targets, the sync mel) as one batch.
GeneratorSamples generator_batch_of(const std::vector<std::vector<torch::Tensor>>& samples, int64_t size) {
  std::vector<torch::Tensor> f[4];
  for (const auto& s : samples)
    for (int i = 0; i < 4; ++i) f[i].push_back(s[i]);
  return {torch::stack(f[0]), torch::stack(f[1]), torch::cat(f[2]), torch::stack(f[3]), size};
}

SyncBatch sync_batch_of(const std::vector<std::vector<torch::Tensor>>& samples) {
  std::vector<torch::Tensor> f[3];
  for (const auto& s : samples)
    for (int i = 0; i < 3; ++i) f[i].push_back(s[i]);
  return {torch::stack(f[0]), torch::stack(f[1]), torch::stack(f[2])};
}

}  // namespace

GeneratorSamples Dataset::generator_batch(int64_t first, int count, uint64_t seed, const Augment& aug) const {
  std::vector<std::vector<torch::Tensor>> samples;
  for (int64_t p = first; p < first + count; ++p) {
    std::mt19937_64 rng(mix(~seed, static_cast<uint64_t>(p)));
    samples.push_back(generator_sample(*clips_[clip_of(p, seed)], rng, aug));
  }
  return generator_batch_of(samples, size_);
}

SyncBatch Dataset::sync_batch(int64_t first, int count, uint64_t seed, const Augment& aug) const {
  std::vector<std::vector<torch::Tensor>> samples;
  for (int64_t p = first; p < first + count; ++p) {
    std::mt19937_64 rng(mix(~seed, static_cast<uint64_t>(p)));
    samples.push_back(sync_sample(*clips_[clip_of(p, seed)], rng, aug));
  }
  return sync_batch_of(samples);
}

GeneratorSamples Dataset::validation_generator_batch(int batch, uint64_t seed, bool hide_ref_mouth) const {
  std::mt19937_64 rng(seed);
  Augment aug;
  aug.hide_mouth = hide_ref_mouth ? 1 : 0;  // at 1 no random draw: the same samples either way
  std::vector<std::vector<torch::Tensor>> samples;
  for (int b = 0; b < batch; ++b)
    samples.push_back(
        generator_sample(*clips_[std::uniform_int_distribution<size_t>(0, clips_.size() - 1)(rng)], rng, aug));
  return generator_batch_of(samples, size_);
}

SyncBatch Dataset::validation_sync_batch(int batch, uint64_t seed) const {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<torch::Tensor>> samples;
  for (int b = 0; b < batch; ++b)
    samples.push_back(
        sync_sample(*clips_[std::uniform_int_distribution<size_t>(0, clips_.size() - 1)(rng)], rng, Augment{}));
  return sync_batch_of(samples);
}

}  // namespace stf
