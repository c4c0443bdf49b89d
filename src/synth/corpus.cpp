#include "synth/corpus.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/imgproc.hpp>
#include <random>

#include "audio/speech.h"
#include "core/progress.h"
#include "face/face_json.h"
#include "stf/audio.h"
#include "stf/cancel.h"
#include "stf/error.h"
#include "stf/files.h"
#include "stf/media.h"
#include "synth/render.h"
#include "synth/visemes.h"

namespace fs = std::filesystem;

namespace stf {

std::string grid_sentence(uint64_t seed) {
  static const std::vector<std::vector<std::string>> words{
      {"bin", "lay", "place", "set"},
      {"blue", "green", "red", "white"},
      {"at", "by", "in", "with"},
      {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u", "v", "x", "y", "z"},
      {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"},
      {"again", "now", "please", "soon"}};
  std::mt19937_64 rng(seed);
  std::string s;
  for (const auto& group : words) s += (s.empty() ? "" : " ") + group[rng() % group.size()];
  return s;
}

namespace {

std::vector<std::string> collect_faces(const std::vector<std::string>& inputs) {
  std::vector<std::string> out;
  auto is_video = [](const fs::path& p) {
    const std::string e = lower_extension(p.string());
    return e == ".mp4" || e == ".mov" || e == ".mkv" || e == ".avi" || e == ".webm" || e == ".mpg";
  };
  for (const std::string& in : inputs) {
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      std::vector<std::string> found;
      for (const auto& e : fs::recursive_directory_iterator(in))
        if (e.is_regular_file() && (is_image_path(e.path().string()) || is_video(e.path()))) found.push_back(e.path().string());
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else if (fs::exists(in, ec)) {
      out.push_back(in);
    } else {
      throw Error(in + ": no such file or folder");
    }
  }
  if (out.empty()) throw Error("no face images or videos found in --faces");
  return out;
}

std::vector<std::string> read_sentences(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open the sentence file");
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);)
    if (line.find_first_not_of(" \t\r") != std::string::npos) out.push_back(line);
  if (out.empty()) throw Error(path + ": the sentence file has no sentences");
  return out;
}

struct Face {
  cv::Mat image;
  Landmarks landmarks;
};

// The first frame of `path`, scaled to max_side and even sizes, with its
// landmarks; nullopt when no face is found.
std::optional<Face> load_face(const std::string& path, int max_side, const std::shared_ptr<const LandmarkModel>& lm) {
  VideoReader reader(path);
  cv::Mat img;
  if (!reader.read(img)) return std::nullopt;
  const double scale = std::min(1.0, double(max_side) / std::max(img.cols, img.rows));
  if (scale < 1) cv::resize(img, img, cv::Size(), scale, scale, cv::INTER_AREA);
  img = img(cv::Rect(0, 0, img.cols & ~1, img.rows & ~1)).clone();
  FaceObservation face = find_face(img, lm);
  if (!face.found) return std::nullopt;
  return Face{img, face.landmarks};
}

// A small smooth sway: rotation about the face centre and a shift.
cv::Matx23f head_pose(double t, uint64_t seed, cv::Point2f centre) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> phase(0, 2 * M_PI);
  const double a = 1.5 * std::sin(2 * M_PI * t / 3.1 + phase(rng));
  const double dx = 2.0 * std::sin(2 * M_PI * t / 2.3 + phase(rng));
  const double dy = 1.5 * std::sin(2 * M_PI * t / 2.7 + phase(rng));
  cv::Mat m = cv::getRotationMatrix2D(centre, a, 1.0);
  m.at<double>(0, 2) += dx;
  m.at<double>(1, 2) += dy;
  cv::Matx23f out;
  m.convertTo(cv::Mat(2, 3, CV_32F, out.val), CV_32F);
  return out;
}

// Lower halves of every other frame (up to 32), 8 per row, labelled with
// the frame number and the phoneme sounding.
void write_contact_sheet(const std::string& path, const std::vector<cv::Mat>& frames,
                         const std::vector<MouthFrame>& mouth, const Landmarks& lm) {
  cv::Rect2f box = landmark_bounds(lm);
  const float side = box.height * 0.9f;
  cv::Rect roi(int(box.x + box.width / 2 - side / 2), int(lm[33].y - side * 0.15f), int(side), int(side * 0.75f));
  roi &= cv::Rect(0, 0, frames[0].cols, frames[0].rows);
  std::vector<cv::Mat> tiles;
  for (size_t f = 0; f < frames.size() && tiles.size() < 32; f += 2) {
    cv::Mat tile;
    cv::resize(frames[f](roi), tile, cv::Size(160, int(160.0 * roi.height / roi.width)));
    cv::rectangle(tile, cv::Rect(0, 0, tile.cols, 22), cv::Scalar(0, 0, 0), cv::FILLED);
    std::string label = std::to_string(f) + " " + (mouth[f].phoneme.empty() ? "-" : mouth[f].phoneme) + " " +
                        viseme_table()[mouth[f].viseme].name;
    cv::putText(tile, label, {4, 16}, cv::FONT_HERSHEY_SIMPLEX, 0.38, cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
    tiles.push_back(tile);
  }
  while (tiles.size() % 8) tiles.push_back(cv::Mat(tiles[0].size(), tiles[0].type(), cv::Scalar(0, 0, 0)));
  std::vector<cv::Mat> rows;
  for (size_t i = 0; i < tiles.size(); i += 8) {
    cv::Mat row;
    cv::hconcat(std::vector<cv::Mat>(tiles.begin() + i, tiles.begin() + i + 8), row);
    rows.push_back(row);
  }
  cv::Mat sheet;
  cv::vconcat(rows, sheet);
  write_file_atomic(path, encode_png(sheet));
}

}  // namespace

SynthReport synthesize_corpus(const SynthOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  if (opt.out.empty()) throw Error("--out is required");
  if (opt.clips < 1) throw Error("--clips must be at least 1");
  std::vector<std::string> face_paths = collect_faces(opt.faces);
  std::vector<std::string> sentences;
  if (!opt.sentences.empty()) sentences = read_sentences(opt.sentences);
  for (const std::string& voice : opt.voices) synthesize_speech("a", voice);  // an unknown one fails before any clip
  auto landmarks = std::make_shared<const LandmarkModel>();
  std::map<size_t, std::optional<Face>> faces;  // loaded on first use
  SynthReport report;
  Progress progress("synth", opt.clips, "clips", !opt.quiet);
  for (int i = 0; i < opt.clips; ++i) {
    check_cancelled();
    char name[32];
    std::snprintf(name, sizeof name, "synth_%05d", i);
    const fs::path base = fs::path(opt.out) / "clips" / name;
    const std::string video = base.string() + ".mp4";
    if (fs::exists(video)) {  // finished earlier (the video is written last)
      ++report.reused;
      progress.update(i + 1);
      continue;
    }
    std::mt19937_64 rng(opt.seed * 1000003 + i);
    // A face: random, skipping images without one.
    const Face* face = nullptr;
    std::string face_path;
    const size_t first = rng() % face_paths.size();
    for (size_t tries = 0; tries < face_paths.size() && !face; ++tries) {
      const size_t k = (first + tries) % face_paths.size();
      if (!faces.count(k)) {
        faces[k] = load_face(face_paths[k], opt.max_side, landmarks);
        if (faces[k]) ++report.faces_usable;
        else ++report.faces_skipped, std::fprintf(stderr, "\nwarning: no face found in %s; skipped\n", face_paths[k].c_str());
      }
      if (faces[k]) face = &*faces[k], face_path = face_paths[k];
    }
    if (!face) throw Error("no face found in any of the " + std::to_string(face_paths.size()) + " --faces inputs");
    const std::string sentence = sentences.empty() ? grid_sentence(rng()) : sentences[rng() % sentences.size()];
    const std::string voice = opt.voices[rng() % opt.voices.size()];
    const int wpm = 140 + int(rng() % 46);
    Speech speech = synthesize_speech(sentence, voice, wpm);
    const double duration = double(speech.samples.size()) / kSampleRate;
    const int64_t frames = std::max<int64_t>(1, std::llround(duration * opt.fps));
    std::vector<MouthFrame> mouth = mouth_track(speech.phonemes, duration, frames, opt.fps);

    const cv::Point2f centre = (face->landmarks[30] + face->landmarks[8]) * 0.5f;
    const uint64_t pose_seed = rng();
    nlohmann::json lms = nlohmann::json::array(), per_frame = nlohmann::json::array();
    make_output_folder(opt.out, "--out");  // only once there is a clip to write
    make_output_folder(base.parent_path().string(), "--out");
    VideoWriterOptions w;
    w.fps = opt.fps;
    VideoWriter writer(video, face->image.cols, face->image.rows, w);
    std::vector<cv::Mat> sheet_frames;  // the first written clip's, for --contact-sheet
    writer.set_audio(speech.samples);
    for (int64_t f = 0; f < frames; ++f) {
      Landmarks target = mouth_landmarks(face->landmarks, mouth[f].shape);
      cv::Mat frame = render_mouth(face->image, face->landmarks, target, mouth[f].shape);
      if (opt.head_motion) {
        cv::Matx23f pose = head_pose(f / opt.fps, pose_seed, centre);
        cv::warpAffine(frame, frame, pose, frame.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
        for (auto& p : target) p = pose * cv::Vec3f(p.x, p.y, 1);
      }
      writer.write(frame);
      if (!opt.contact_sheet.empty() && report.written == 0) sheet_frames.push_back(frame);
      FaceObservation obs;
      obs.found = true;
      obs.landmarks = target;
      obs.box = landmark_bounds(target);
      lms.push_back(face_to_json(f, obs));
      const MouthShape& s = mouth[f].shape;
      per_frame.push_back({{"phoneme", mouth[f].phoneme}, {"viseme", viseme_table()[mouth[f].viseme].name},
                           {"open", s.open}, {"width", s.width}, {"round", s.round}, {"raise", s.raise},
                           {"teeth", s.teeth}});
    }
    nlohmann::json phonemes = nlohmann::json::array();
    for (const auto& p : speech.phonemes)
      phonemes.push_back({{"time", p.time}, {"phoneme", p.phoneme}, {"viseme", viseme_table()[viseme_for_phoneme(p.phoneme)].name}});
    nlohmann::json timeline{{"sentence", sentence}, {"voice", voice},       {"words_per_minute", wpm},
                            {"face", face_path},    {"fps", opt.fps},       {"duration", duration},
                            {"phonemes", phonemes}, {"frames", per_frame}};
    write_file_atomic(base.string() + ".landmarks.json", lms.dump() + "\n");
    write_file_atomic(base.string() + ".timeline.json", timeline.dump(1) + "\n");
    writer.finish();
    if (!sheet_frames.empty()) write_contact_sheet(opt.contact_sheet, sheet_frames, mouth, face->landmarks);
    ++report.written;
    progress.update(i + 1);
  }
  progress.finish();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace stf
