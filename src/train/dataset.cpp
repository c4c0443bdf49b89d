#include "train/dataset.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "stf/audio.h"
#include "stf/error.h"
#include "model/syncnet.h"
#include "model/synctalkface.h"

namespace stf {

namespace fs = std::filesystem;

// Frames a generator sample needs around its window start t: t-2 .. t+6.
static constexpr int64_t kMinClipFrames = 25;

Dataset::Dataset(const std::string& dir, const std::string& split, int image_size) : size_(image_size) {
  fs::path manifest_path = fs::path(dir) / "manifest.json";
  if (!fs::exists(manifest_path))
    throw Error(dir + ": no manifest.json; create the dataset with 'synctalkface preprocess VIDEOS --out " + dir + "'");
  nlohmann::json manifest;
  try {
    std::ifstream(manifest_path) >> manifest;
  } catch (const std::exception&) {
    throw Error(manifest_path.string() + ": not valid JSON");
  }
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

torch::Tensor Dataset::frame(const ClipFile& c, int64_t i) const {
  cv::Mat img = c.crop(i);
  if (img.rows != size_) cv::resize(img, img, cv::Size(size_, size_), 0, 0, cv::INTER_AREA);
  else img = img.clone();
  auto t = torch::from_blob(img.data, {size_, size_, 3}, torch::kUInt8);
  return t.permute({2, 0, 1}).to(torch::kFloat32).div_(255.0);  // (3, S, S)
}

torch::Tensor Dataset::mel_window(const ClipFile& c, int64_t i) const {
  const ClipHeader& h = c.header();
  auto mel = torch::from_blob(const_cast<float*>(c.mel()), {kMelBands, h.mel_columns}, torch::kFloat32);
  return stf::mel_window(mel, h.first_frame + i, h.fps).unsqueeze(0).clone();  // (1, 80, 16)
}

GeneratorBatch Dataset::generator_batch(int batch, uint64_t seed) const {
  std::mt19937_64 rng(seed);
  std::vector<torch::Tensor> target, identity, lips, mel, sync_mel;
  for (int b = 0; b < batch; ++b) {
    const ClipFile& c = *clips_[std::uniform_int_distribution<size_t>(0, clips_.size() - 1)(rng)];
    const int64_t n = c.header().frames;
    const int64_t t = std::uniform_int_distribution<int64_t>(2, n - 7)(rng);  // window t..t+4, lips t-2..t+6
    int64_t r;
    do r = std::uniform_int_distribution<int64_t>(0, n - 5)(rng);
    while (std::abs(r - t) < 5);                                               // reference >= 5 frames away
    std::vector<torch::Tensor> around;                                         // frames t-2 .. t+6
    for (int64_t i = t - 2; i <= t + 6; ++i) around.push_back(frame(c, i));
    for (int k = 0; k < 5; ++k) {
      torch::Tensor real = around[k + 2];
      target.push_back(real);
      identity.push_back(identity_input(real.unsqueeze(0), frame(c, r + k).unsqueeze(0)).squeeze(0));
      auto window = torch::stack({around[k], around[k + 1], around[k + 2], around[k + 3], around[k + 4]}, 1);  // (3, 5, S, S)
      lips.push_back(mask_upper_half(window));
      mel.push_back(mel_window(c, t + k));
    }
    sync_mel.push_back(mel_window(c, t));
  }
  return {torch::stack(target), torch::stack(identity), torch::stack(lips), torch::stack(mel), torch::stack(sync_mel)};
}

SyncBatch Dataset::sync_batch(int batch, uint64_t seed) const {
  std::mt19937_64 rng(seed);
  std::vector<torch::Tensor> lower, mel, label;
  for (int b = 0; b < batch; ++b) {
    const ClipFile& c = *clips_[std::uniform_int_distribution<size_t>(0, clips_.size() - 1)(rng)];
    const int64_t n = c.header().frames;
    const int64_t t = std::uniform_int_distribution<int64_t>(0, n - 5)(rng);
    const bool positive = std::bernoulli_distribution(0.5)(rng);
    int64_t a = t;
    if (!positive) {
      do a = std::uniform_int_distribution<int64_t>(0, n - 5)(rng);
      while (std::abs(a - t) < 5);                                              // clearly out of sync
    }
    std::vector<torch::Tensor> window;
    for (int64_t i = t; i < t + 5; ++i) window.push_back(frame(c, i));
    lower.push_back(stack_lower_halves(torch::stack(window).unsqueeze(0)).squeeze(0));  // (15, S/2, S)
    mel.push_back(mel_window(c, a));
    label.push_back(torch::tensor(positive ? 1.0f : 0.0f));
  }
  return {torch::stack(lower), torch::stack(mel), torch::stack(label)};
}

}  // namespace stf
