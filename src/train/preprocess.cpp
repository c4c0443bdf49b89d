#include "train/preprocess.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "core/progress.h"
#include "face/face_json.h"
#include "stf/audio.h"
#include "stf/cancel.h"
#include "stf/error.h"
#include "stf/files.h"
#include "stf/media.h"
#include "train/clip_file.h"

namespace stf {

namespace fs = std::filesystem;

namespace {

bool is_video_path(const fs::path& p) {
  const std::string ext = lower_extension(p.string());
  for (const char* e : {".mp4", ".mpg", ".mpeg", ".mov", ".mkv", ".avi", ".webm", ".m4v"})
    if (ext == e) return true;
  return false;
}

std::string make_id(const fs::path& relative) {
  std::string id = relative.parent_path().empty() ? relative.stem().string()
                                                  : (relative.parent_path() / relative.stem()).string();
  for (char& c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') c = '_';
  return id;
}

// FNV-1a: a split that depends on the clip id only, stable across runs.
uint64_t stable_hash(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> collect_clips(const std::vector<std::string>& inputs) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& in : inputs) {
    fs::path p(in);
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> found;
      for (const auto& e : fs::recursive_directory_iterator(p))
        if (e.is_regular_file() && is_video_path(e.path())) found.push_back(e.path());
      std::sort(found.begin(), found.end());
      // Lexical: symlinked files keep the name they have in the folder.
      for (const auto& f : found) out.push_back({make_id(f.lexically_relative(p)), f.string()});
    } else if (fs::exists(p, ec) && (p.extension() == ".txt" || p.extension() == ".lst")) {
      std::ifstream list(p);
      std::string line;
      while (std::getline(list, line)) {
        if (line.empty() || line[0] == '#') continue;
        fs::path f = fs::path(line).is_absolute() ? fs::path(line) : p.parent_path() / line;
        out.push_back({make_id(fs::path(line).relative_path()), f.string()});
      }
    } else if (fs::exists(p, ec)) {
      out.push_back({make_id(p.filename()), p.string()});
    } else {
      throw Error(in + ": no such file or folder");
    }
  }
  // Ids must be unique: suffix repeats with a hash of the path.
  std::map<std::string, int> seen;
  for (auto& [id, path] : out)
    if (seen[id]++ > 0) id += "_" + std::to_string(stable_hash(path) % 100000);
  return out;
}

namespace {

// Tracks the face through one video and writes its longest run of frames
// with a face. Throws stf::Error with the reason a clip cannot be used.
void process_clip(const std::string& id, const std::string& path, const std::string& out_file,
                  const PreprocessOptions& opt, std::shared_ptr<const LandmarkModel> landmarks) {
  std::vector<float> audio = read_audio(path);
  torch::Tensor mel = mel_spectrogram(audio);  // (80, T)
  VideoReader reader(path);
  if (reader.is_image()) throw Error(path + ": a still image has no motion to learn from");
  FaceTracker tracker(opt.tracker, landmarks);
  CropOptions copt = opt.crop;
  copt.size = opt.size;

  std::vector<cv::Mat> best_crops, crops;
  std::vector<Landmarks> best_lms, lms;
  int64_t best_first = 0, first = 0;
  auto close_run = [&]() {
    if (crops.size() > best_crops.size()) {
      best_crops = std::move(crops);
      best_lms = std::move(lms);
      best_first = first;
    }
    crops.clear();
    lms.clear();
  };
  auto take = [&](const TrackedFrame& tf) {
    if (!tf.face.found) {
      close_run();
      return;
    }
    if (crops.empty()) first = tf.index;
    cv::Matx23f m = crop_transform(tf.face.landmarks, copt);
    crops.push_back(crop_face(tf.frame, m, copt.size).image);
    Landmarks in_crop;
    for (int k = 0; k < 68; ++k) in_crop[k] = m * cv::Vec3f(tf.face.landmarks[k].x, tf.face.landmarks[k].y, 1);
    lms.push_back(in_crop);
  };
  const fs::path truth = fs::path(path).replace_extension(".landmarks.json");
  if (fs::exists(truth)) {  // ground-truth landmarks (synthetic clips): no tracking
    std::vector<FaceObservation> faces = read_face_track(truth.string());
    TrackedFrame tf;
    for (cv::Mat f; reader.read(f); ++tf.index) {
      check_cancelled();
      tf.frame = f;
      tf.face = tf.index < int64_t(faces.size()) ? faces[tf.index] : FaceObservation{};
      take(tf);
    }
  } else {
    track_video(reader, tracker, take);
  }
  close_run();
  if (int64_t(best_crops.size()) < opt.min_frames)
    throw Error(path + ": only " + std::to_string(best_crops.size()) + " consecutive frames with a face (need " +
                std::to_string(opt.min_frames) + ")");
  ClipHeader h;
  h.id = id;
  h.source = path;
  h.fps = reader.fps();
  h.frames = static_cast<int64_t>(best_crops.size());
  h.size = copt.size;
  h.crop = copt.placement;
  h.first_frame = best_first;
  h.mel_columns = mel.size(1);
  std::vector<const uint8_t*> pixels;
  std::vector<std::array<float, 136>> points(best_lms.size());
  for (size_t i = 0; i < best_crops.size(); ++i) {
    STF_ASSERT(best_crops[i].type() == CV_8UC3 && best_crops[i].isContinuous() && best_crops[i].rows == h.size);
    pixels.push_back(best_crops[i].data);
    for (int k = 0; k < 68; ++k) {
      points[i][2 * k] = best_lms[i][k].x;
      points[i][2 * k + 1] = best_lms[i][k].y;
    }
  }
  write_clip_file(out_file, h, pixels, points, mel.contiguous().data_ptr<float>());
}

}  // namespace

PreprocessReport preprocess(const std::vector<std::string>& inputs, const std::string& out_dir,
                            const PreprocessOptions& opt) {
  auto clips = collect_clips(inputs);
  if (clips.empty()) throw Error("no video files found in the inputs");
  const fs::path clip_dir = fs::path(out_dir) / "clips";
  const bool new_out = !fs::exists(out_dir), new_clip_dir = !fs::exists(clip_dir);
  make_output_folder(out_dir, "--out");
  make_output_folder(clip_dir.string(), "--out");
  auto landmarks = std::make_shared<const LandmarkModel>(opt.tracker.landmark_model);
  PreprocessReport report;
  nlohmann::json manifest_clips = nlohmann::json::array(), failed = nlohmann::json::array();
  Progress progress("preprocess", static_cast<int64_t>(clips.size()), "clips", !opt.quiet);
  for (size_t i = 0; i < clips.size(); ++i) {
    check_cancelled();
    const auto& [id, path] = clips[i];
    std::string file = (clip_dir / (id + ".stfclip")).string();
    bool reuse = false;
    if (fs::exists(file)) {
      try {
        ClipFile existing(file);
        reuse = existing.header().size == opt.size && existing.header().crop == opt.crop.placement;
      } catch (const Error&) {
        reuse = false;  // a damaged file from an interrupted run: redo it
      }
    }
    try {
      if (!reuse) process_clip(id, path, file, opt, landmarks);
      ClipFile done(file);
      bool val = !opt.val_match.empty() ? path.find(opt.val_match) != std::string::npos
                                        : (stable_hash(id) % 10000) < opt.val_ratio * 10000;
      manifest_clips.push_back({{"id", id}, {"file", "clips/" + id + ".stfclip"}, {"source", path},
                                {"frames", done.header().frames}, {"fps", done.header().fps},
                                {"split", val ? "val" : "train"}});
      (val ? report.val : report.train)++;
      (reuse ? report.reused : report.processed)++;
    } catch (const Error& e) {
      if (!opt.quiet) std::fprintf(stderr, "\nwarning: skipped %s: %s\n", path.c_str(), e.what());
      failed.push_back({{"source", path}, {"reason", e.what()}});
      ++report.failed;
    }
    progress.update(static_cast<int64_t>(i + 1));
  }
  progress.finish();
  if (report.train + report.val == 0) {
    std::error_code ec;  // the folders this run made, still empty, go with it
    if (new_clip_dir && fs::is_empty(clip_dir, ec)) fs::remove(clip_dir, ec);
    if (new_out && fs::is_empty(out_dir, ec)) fs::remove(out_dir, ec);
    throw Error("no clip could be used; see the warnings above");
  }
  nlohmann::json manifest{{"version", 1},           {"size", opt.size}, {"crop", crop_placement_name(opt.crop.placement)},
                          {"clips", manifest_clips}, {"failed", failed}};
  write_file_atomic((fs::path(out_dir) / "manifest.json").string(), manifest.dump(1) + "\n");
  return report;
}

}  // namespace stf
