#include "eval/memory_analysis.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "audio/speech.h"
#include "model/model_file.h"
#include "stf/audio.h"
#include "stf/error.h"
#include "stf/files.h"
#include "stf/face.h"
#include "stf/media.h"

namespace fs = std::filesystem;

namespace stf {

namespace {

const auto kFont = cv::FONT_HERSHEY_SIMPLEX;

void save_png(const fs::path& path, const cv::Mat& image) {
  write_file_atomic(path.string(), encode_png(image));
}

// A heatmap of a (rows, cols) tensor of values >= 0, scaled to its maximum:
// each value a cell_w x cell_h block, rows labelled on the left (every row,
// or every 16th when `row_labels` is empty), columns ticked below.
cv::Mat heatmap(const torch::Tensor& values, const std::string& title, const std::vector<std::string>& row_labels,
                const std::vector<std::pair<int, std::string>>& col_ticks, int cell_w, int cell_h,
                const std::string& x_label) {
  const int rows = static_cast<int>(values.size(0)), cols = static_cast<int>(values.size(1));
  const int left = row_labels.empty() ? 46 : 96, top = 34, bottom = 44;
  cv::Mat v(rows, cols, CV_32F);
  auto acc = values.to(torch::kFloat32).contiguous();
  std::memcpy(v.data, acc.data_ptr<float>(), sizeof(float) * rows * cols);
  double hi = 0;
  cv::minMaxLoc(v, nullptr, &hi);
  cv::Mat grey, coloured;
  v.convertTo(grey, CV_8U, hi > 0 ? 255.0 / hi : 0);
  cv::applyColorMap(grey, coloured, cv::COLORMAP_VIRIDIS);
  cv::resize(coloured, coloured, cv::Size(cols * cell_w, rows * cell_h), 0, 0, cv::INTER_NEAREST);
  cv::Mat img(top + coloured.rows + bottom, std::max(left + coloured.cols + 70, 360), CV_8UC3, cv::Scalar(255, 255, 255));
  coloured.copyTo(img(cv::Rect(left, top, coloured.cols, coloured.rows)));
  cv::putText(img, title, {8, 20}, kFont, 0.5, {20, 20, 20}, 1, cv::LINE_AA);
  for (int r = 0; r < rows; ++r) {
    const bool labelled = row_labels.empty() ? r % 16 == 0 : true;
    if (!labelled) continue;
    const std::string text = row_labels.empty() ? std::to_string(r) : row_labels[r];
    cv::putText(img, text, {4, top + r * cell_h + cell_h / 2 + 4}, kFont, 0.35, {40, 40, 40}, 1, cv::LINE_AA);
  }
  for (const auto& [c, text] : col_ticks) {
    const int x = left + c * cell_w + cell_w / 2;
    cv::line(img, {x, top + coloured.rows}, {x, top + coloured.rows + 4}, {0, 0, 0});
    cv::putText(img, text, {x - 4, top + coloured.rows + 16}, kFont, 0.35, {40, 40, 40}, 1, cv::LINE_AA);
  }
  cv::putText(img, x_label, {left, img.rows - 8}, kFont, 0.4, {20, 20, 20}, 1, cv::LINE_AA);
  // Colour scale: 0 .. max.
  const int sx = left + coloured.cols + 20;
  for (int y = 0; y < coloured.rows; ++y) {
    cv::Mat g(1, 1, CV_8U, cv::Scalar(255 - 255 * y / std::max(1, coloured.rows - 1))), c;
    cv::applyColorMap(g, c, cv::COLORMAP_VIRIDIS);
    cv::line(img, {sx, top + y}, {sx + 10, top + y}, cv::Scalar(c.at<cv::Vec3b>(0)));
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2g", hi);
  cv::putText(img, buf, {sx + 13, top + 8}, kFont, 0.35, {40, 40, 40}, 1, cv::LINE_AA);
  cv::putText(img, "0", {sx + 13, top + coloured.rows}, kFont, 0.35, {40, 40, 40}, 1, cv::LINE_AA);
  return img;
}

// Two bar series per slot: mean address weight, share of frames as top slot.
cv::Mat usage_plot(const std::vector<double>& mean, const std::vector<double>& top_share) {
  const int slots = static_cast<int>(mean.size()), bar = 7, left = 50, top = 34, h = 180;
  cv::Mat img(top + 2 * h + 70, left + slots * bar + 30, CV_8UC3, cv::Scalar(255, 255, 255));
  cv::putText(img, "Slot usage", {8, 20}, kFont, 0.5, {20, 20, 20}, 1, cv::LINE_AA);
  auto panel = [&](const std::vector<double>& v, int y0, const std::string& name, cv::Scalar colour) {
    const double hi = std::max(1e-9, *std::max_element(v.begin(), v.end()));
    for (int s = 0; s < slots; ++s) {
      const int bh = static_cast<int>(std::lround(h * v[s] / hi));
      cv::rectangle(img, cv::Rect(left + s * bar, y0 + h - bh, bar - 1, bh), colour, cv::FILLED);
    }
    cv::line(img, {left, y0 + h}, {left + slots * bar, y0 + h}, {0, 0, 0});
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3g", hi);
    cv::putText(img, buf, {4, y0 + 8}, kFont, 0.35, {40, 40, 40}, 1, cv::LINE_AA);
    cv::putText(img, name, {left + 4, y0 + 12}, kFont, 0.4, {20, 20, 20}, 1, cv::LINE_AA);
  };
  panel(mean, top, "mean key-address weight", {200, 110, 40});
  panel(top_share, top + h + 20, "share of frames where it is the top slot", {60, 160, 230});
  for (int s = 0; s < slots; s += 16)
    cv::putText(img, std::to_string(s), {left + s * bar, top + 2 * h + 38}, kFont, 0.35, {40, 40, 40}, 1, cv::LINE_AA);
  cv::putText(img, "slot", {left, img.rows - 8}, kFont, 0.4, {20, 20, 20}, 1, cv::LINE_AA);
  return img;
}

// (B, 3, S, S) in [0, 1] -> BGR image of row `i`.
cv::Mat to_image(const torch::Tensor& batch, int64_t i) {
  auto t = batch[i].clamp(0, 1).mul(255).round().to(torch::kUInt8).permute({1, 2, 0}).contiguous();
  return cv::Mat(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), CV_8UC3, t.data_ptr()).clone();
}

}  // namespace

nlohmann::json analyse_memory(const MemoryAnalysisOptions& opt) {
  if (opt.audio.empty() == opt.text.empty()) throw Error("give the speech as --audio FILE or --text \"...\"");
  const std::string model_path = opt.model.empty() ? default_model_path() : opt.model;
  SyncTalkFace model = load_generator(model_path);
  model->eval();
  torch::NoGradGuard no_grad;
  const ModelConfig& c = model->config();
  if (!c.memory) throw Error(model_path + ": this model has no Audio-Lip Memory (trained with --no-memory)");
  const std::string face_path = opt.face.empty() ? bundled_example_face() : opt.face;
  cv::Mat photo = cv::imread(face_path);
  if (photo.empty()) throw Error(face_path + ": cannot read the face photo");
  FaceObservation face = find_face(photo, std::make_shared<const LandmarkModel>());
  if (!face.found) throw Error(face_path + ": no face found in the photo");

  Speech speech;
  if (!opt.text.empty()) speech = synthesize_speech(opt.text, opt.voice);
  else speech.samples = read_audio(opt.audio, kSampleRate, SoundStart::own);  // as generate takes speech from another file
  const torch::Tensor mel = mel_spectrogram(speech.samples, speech_gain(speech.samples));  // as generate gives it
  const int64_t frames = static_cast<int64_t>(std::floor(double(speech.samples.size()) / kSampleRate * opt.fps));
  if (frames < 1 || mel.size(1) < 16) throw Error("the speech is shorter than one mel window (0.2 s)");

  // Key addresses of every frame: (T, S).
  std::vector<torch::Tensor> windows;
  for (int64_t t = 0; t < frames; ++t) windows.push_back(mel_window(mel, t, opt.fps).unsqueeze(0));
  const torch::Tensor f_aud = model->audio_encoder->forward(torch::stack(windows));  // (T, C)
  const torch::Tensor address = model->memory->forward(f_aud).key_address;           // (T, S)
  const int64_t slots = address.size(1);

  make_output_folder(opt.out, "--out");
  nlohmann::json j{{"model", model_path}, {"slots", slots}, {"frames", frames}, {"fps", opt.fps}};

  std::vector<std::pair<int, std::string>> seconds;
  for (int s = 0; s * opt.fps < frames; ++s) seconds.push_back({int(std::lround(s * opt.fps)), std::to_string(s)});
  const int cell_w = static_cast<int>(std::clamp<int64_t>(900 / frames, 1, 6));
  save_png(fs::path(opt.out) / "addresses.png",
           heatmap(address.t(), "Key address per frame (slots x frames)", {}, seconds, cell_w, 4, "time (s)"));

  const torch::Tensor top = address.argmax(1);  // (T)
  std::vector<double> mean(slots), share(slots, 0.0);
  auto m = address.mean(0);
  for (int64_t s = 0; s < slots; ++s) mean[s] = m[s].item<double>();
  for (int64_t t = 0; t < frames; ++t) share[top[t].item<int64_t>()] += 1.0 / frames;
  save_png(fs::path(opt.out) / "usage.png", usage_plot(mean, share));
  const auto entropy = -(address * address.clamp_min(1e-12).log()).sum(1);  // (T) nats
  int used = 0;
  for (double s : share) used += s > 0;
  j["mean_address"] = mean;
  j["top_slot_share"] = share;
  j["slots_used_as_top"] = used;
  j["mean_entropy_nats"] = entropy.mean().item<double>();
  j["uniform_entropy_nats"] = std::log(double(slots));
  std::vector<int64_t> top_per_frame(frames);
  for (int64_t t = 0; t < frames; ++t) top_per_frame[t] = top[t].item<int64_t>();
  j["top_slot_per_frame"] = top_per_frame;

  // Slot gallery: the decoder fed each slot's value alone (one-hot address),
  // with the speech's mean audio feature, on the photo's face.
  CropOptions crop;
  crop.size = static_cast<int>(c.image_size);
  crop.placement = c.crop;
  cv::Mat crop_img = crop_face(photo, crop_transform(face.landmarks, crop), crop.size).image;
  auto face_t = torch::from_blob(crop_img.data, {crop.size, crop.size, 3}, torch::kUInt8)
                    .permute({2, 0, 1}).to(torch::kFloat32).div(255.0).unsqueeze(0);  // (1, 3, S, S)
  auto skips = model->encode_identity(model->inference_identity(face_t, face_t));
  for (auto& s : skips) s = s.expand({slots, s.size(1), s.size(2), s.size(3)});
  auto values = model->memory->read_value(torch::eye(slots));                 // (S, C)
  auto bottleneck = model->fuse(f_aud.mean(0, true).expand({slots, f_aud.size(1)}), values);
  auto mouths = model->decode(bottleneck, skips);                              // (S, 3, H, W)
  const int H = crop.size, half = H / 2, columns = 12, label = 14;
  const int rows = static_cast<int>((slots + columns - 1) / columns);
  cv::Mat gallery(rows * (half + label), columns * H, CV_8UC3, cv::Scalar(255, 255, 255));
  for (int64_t s = 0; s < slots; ++s) {
    const int x = static_cast<int>(s % columns) * H, y = static_cast<int>(s / columns) * (half + label);
    to_image(mouths, s).rowRange(half, H).copyTo(gallery(cv::Rect(x, y + label, H, half)));
    cv::putText(gallery, std::to_string(s), {x + 3, y + 11}, kFont, 0.35, {40, 40, 40}, 1, cv::LINE_AA);
  }
  save_png(fs::path(opt.out) / "gallery.png", gallery);

  // Phoneme x slot: the mean key address of the frames each phoneme sounds in.
  if (!speech.phonemes.empty()) {
    std::map<std::string, std::pair<torch::Tensor, int>> by_phoneme;
    size_t e = 0;
    for (int64_t t = 0; t < frames; ++t) {
      const double time = t / opt.fps;
      while (e + 1 < speech.phonemes.size() && speech.phonemes[e + 1].time <= time) ++e;
      if (speech.phonemes[e].time > time) continue;  // before the first phoneme
      std::string ph = speech.phonemes[e].phoneme;
      if (ph.empty() || ph[0] == '_') ph = "(pause)";
      auto& entry = by_phoneme[ph];
      entry.first = entry.first.defined() ? entry.first + address[t] : address[t].clone();
      ++entry.second;
    }
    std::vector<std::pair<std::string, std::pair<torch::Tensor, int>>> rows_sorted(by_phoneme.begin(), by_phoneme.end());
    std::sort(rows_sorted.begin(), rows_sorted.end(),
              [](const auto& a, const auto& b) { return a.second.second > b.second.second; });
    std::vector<torch::Tensor> matrix;
    std::vector<std::string> labels;
    nlohmann::json table = nlohmann::json::object();
    for (const auto& [ph, sum_count] : rows_sorted) {
      auto row = sum_count.first / sum_count.second;
      matrix.push_back(row);
      labels.push_back(ph + " (" + std::to_string(sum_count.second) + ")");
      auto best = row.topk(3);
      std::vector<int64_t> best_slots(3);
      for (int k = 0; k < 3; ++k) best_slots[k] = std::get<1>(best)[k].item<int64_t>();
      table[ph] = {{"frames", sum_count.second}, {"top_slots", best_slots}};
    }
    std::vector<std::pair<int, std::string>> slot_ticks;
    for (int s = 0; s < slots; s += 16) slot_ticks.push_back({s, std::to_string(s)});
    save_png(fs::path(opt.out) / "phonemes.png",
             heatmap(torch::stack(matrix), "Mean key address per phoneme (frames in brackets)", labels, slot_ticks, 6,
                     12, "slot"));
    j["phonemes"] = table;
  }
  write_file_atomic((fs::path(opt.out) / "memory.json").string(), j.dump(1) + "\n");
  return j;
}

}  // namespace stf
