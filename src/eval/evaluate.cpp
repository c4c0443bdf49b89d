#include "eval/evaluate.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <unistd.h>

#include "core/progress.h"
#include "face/face_json.h"
#include "eval/lse.h"
#include "eval/metrics.h"
#include "model/model_file.h"
#include "pipeline/generate.h"
#include "stf/audio.h"
#include "stf/cancel.h"
#include "stf/error.h"
#include "stf/media.h"
#include "train/checkpoint.h"

namespace fs = std::filesystem;

namespace stf {

namespace {

struct Track {
  std::vector<cv::Mat> frames;
  std::vector<FaceObservation> faces;
  double fps = 0;
};

Track track_file(const std::string& path, const TrackerOptions& topt,
                 const std::shared_ptr<const LandmarkModel>& landmarks) {
  Track t;
  VideoReader reader(path);
  t.fps = reader.fps();
  FaceTracker tracker(topt, landmarks);
  track_video(reader, tracker, [&](const TrackedFrame& tf) {
    t.frames.push_back(tf.frame);
    t.faces.push_back(tf.face);
  });
  return t;
}

// Landmarks of frames already in memory (a system's output made here).
Track track_frames(std::vector<cv::Mat> frames, const TrackerOptions& topt,
                   const std::shared_ptr<const LandmarkModel>& landmarks) {
  Track t;
  FaceTracker tracker(topt, landmarks);
  TrackedFrame tf;
  auto take = [&] {
    while (tracker.pop(tf)) t.frames.push_back(tf.frame), t.faces.push_back(tf.face);
  };
  for (const cv::Mat& f : frames) tracker.push(f), take();
  tracker.finish();
  take();
  return t;
}

struct SyncExpert {
  SyncNet net{nullptr};
  int64_t size = 0;
  torch::Tensor mel;  // (80, T) of the driving audio
  double fps = 25;
};

// Pearson correlation between the mouth opening of the shown frames and of
// the driver clip's real face at the same times (the shown clip's frame i
// is at i / fps); NaN with fewer than 10 pairs.
double driver_correlation(const Track& shown, double fps, const Track& driver) {
  std::vector<double> a, b;
  for (size_t i = 0; i < shown.faces.size(); ++i) {
    const size_t k = static_cast<size_t>(std::llround(static_cast<double>(i) * driver.fps / fps));
    if (k >= driver.faces.size() || !shown.faces[i].found || !driver.faces[k].found) continue;
    a.push_back(mouth_opening(shown.faces[i].landmarks));
    b.push_back(mouth_opening(driver.faces[k].landmarks));
  }
  return a.size() < 10 ? std::nan("") : pearson(a, b);
}

// The frame whose mouth is the most closed (EvalOptions::still), or -1 without a face.
int64_t most_closed_mouth(const Track& t) {
  int64_t best = -1;
  for (size_t i = 0; i < t.faces.size(); ++i)
    if (t.faces[i].found && (best < 0 || mouth_opening(t.faces[i].landmarks) < mouth_opening(t.faces[best].landmarks)))
      best = static_cast<int64_t>(i);
  return best;
}

// Scores `shown` frames against the real ones on the real frames' crops,
// and their lip sync with the driving audio. driver (dub mode, when the
// speech came from a video with a face): the speaker's own mouth.
nlohmann::json score(const std::string& clip, const Track& real, const Track& shown, const CropOptions& crop,
                     SyncExpert& sync, bool sync_only, const std::vector<FaceObservation>& truth,
                     const Track* driver = nullptr) {
  std::vector<cv::Mat> shown_crops(shown.frames.size());
  double psnr_sum = 0, ssim_sum = 0, lmd_sum = 0, lmdn_sum = 0, detail_real = 0, detail_shown = 0;
  double change_real = 0, change_shown = 0;    // mouth-box change from the previous frame
  double flicker_real = 0, flicker_shown = 0;  // and away from the mean of the frames on both sides
  int64_t n = 0, n_lm = 0, n_inf = 0;
  std::vector<double> open_real, open_shown;
  const size_t frames = std::min(real.frames.size(), shown.frames.size());
  for (size_t i = 0; i < frames; ++i) {
    if (!real.faces[i].found) continue;
    const cv::Matx23f m = crop_transform(real.faces[i].landmarks, crop);
    cv::Mat a = crop_face(real.frames[i], m, crop.size).image, b = crop_face(shown.frames[i], m, crop.size).image;
    shown_crops[i] = b;
    double p = psnr(a, b);
    if (std::isinf(p)) ++n_inf;
    else psnr_sum += p;
    ssim_sum += ssim(a, b);
    ++n;
    const cv::Rect box = mouth_box(real.faces[i].landmarks, real.frames[i].size());  // in frame pixels
    detail_real += laplacian_variance(real.frames[i], box);
    detail_shown += laplacian_variance(shown.frames[i], box);
    if (i > 0 && real.faces[i - 1].found) {
      change_real += mean_grey_change(real.frames[i], real.frames[i - 1], box);
      change_shown += mean_grey_change(shown.frames[i], shown.frames[i - 1], box);
    }
    if (i > 0 && i + 1 < frames && real.faces[i - 1].found && real.faces[i + 1].found) {
      flicker_real += mean_grey_flicker(real.frames[i - 1], real.frames[i], real.frames[i + 1], box);
      flicker_shown += mean_grey_flicker(shown.frames[i - 1], shown.frames[i], shown.frames[i + 1], box);
    }
    if (!shown.faces[i].found) continue;
    double d = mouth_distance(to_crop_space(real.faces[i].landmarks, m), to_crop_space(shown.faces[i].landmarks, m));
    lmd_sum += d;
    lmdn_sum += mouth_distance(real.faces[i].landmarks, shown.faces[i].landmarks) /
                inter_ocular_distance(real.faces[i].landmarks);
    open_real.push_back(mouth_opening(real.faces[i].landmarks));
    open_shown.push_back(mouth_opening(shown.faces[i].landmarks));
    ++n_lm;
  }
  nlohmann::json j{{"clip", clip}, {"frames", n}};
  SyncScore ss = sync_score(sync.net, sync.size, shown_crops, sync.mel, sync.fps);
  j["lse_d"] = ss.lse_d;
  j["lse_c"] = ss.lse_c;
  j["offset"] = ss.offset;
  if (change_real > 0) j["mouth_motion"] = change_shown / change_real;
  if (flicker_real > 0) j["mouth_flicker"] = flicker_shown / flicker_real;
  if (driver) {
    const double r = driver_correlation(shown, real.fps, *driver);
    if (std::isfinite(r)) j["driver_corr"] = r;
  }
  if (sync_only) return j;  // dub: the real frames show other speech
  // PSNR is infinite only when every frame is identical (the real clip).
  j["psnr"] = n_inf == n ? nlohmann::json("inf") : nlohmann::json(psnr_sum / std::max<int64_t>(1, n - n_inf));
  j["ssim"] = ssim_sum / std::max<int64_t>(1, n);
  j["lmd"] = lmd_sum / std::max<int64_t>(1, n_lm);
  j["lmd_norm"] = lmdn_sum / std::max<int64_t>(1, n_lm);
  j["mouth_corr"] = pearson(open_real, open_shown);
  j["mouth_range"] = spread_ratio(open_shown, open_real);
  if (detail_real > 0) j["mouth_sharpness"] = detail_shown / detail_real;
  double truth_sum = 0;
  int64_t n_truth = 0;
  for (size_t i = 0; i < std::min(truth.size(), shown.faces.size()); ++i) {
    if (!truth[i].found || !shown.faces[i].found) continue;
    truth_sum += mouth_distance(truth[i].landmarks, shown.faces[i].landmarks) / inter_ocular_distance(truth[i].landmarks);
    ++n_truth;
  }
  if (n_truth > 0) j["lmd_truth"] = truth_sum / n_truth;
  return j;
}

// Exact landmarks beside a synthetic clip (NAME.landmarks.json), or none.
std::vector<FaceObservation> ground_truth(const std::string& clip) {
  fs::path p = fs::path(clip).replace_extension("").string() + ".landmarks.json";
  return fs::exists(p) ? read_face_track(p.string()) : std::vector<FaceObservation>{};
}

// Up to 6 frames spread over the clip, a row of face crops per system, each
// cut where the real frame's face is.
cv::Mat frame_strip(const std::vector<std::pair<std::string, const Track*>>& rows, const Track& real,
                    const CropOptions& crop) {
  std::vector<size_t> with_face;
  for (size_t i = 0; i < real.faces.size(); ++i)
    if (real.faces[i].found) with_face.push_back(i);
  const int columns = static_cast<int>(std::min<size_t>(6, with_face.size())), size = crop.size, label = 120;
  cv::Mat strip(size * static_cast<int>(rows.size()), label + size * columns, CV_8UC3, cv::Scalar(255, 255, 255));
  for (size_t r = 0; r < rows.size(); ++r) {
    const int y = static_cast<int>(r) * size;
    cv::putText(strip, rows[r].first, {6, y + size / 2 + 5}, cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(40, 40, 40), 1,
                cv::LINE_AA);
    for (int c = 0; c < columns; ++c) {
      const size_t i = with_face[c * with_face.size() / columns];
      if (i >= rows[r].second->frames.size()) continue;
      cv::Mat cell = crop_face(rows[r].second->frames[i], crop_transform(real.faces[i].landmarks, crop), size).image;
      cell.copyTo(strip(cv::Rect(label + c * size, y, size, size)));
    }
  }
  return strip;
}

// "Reference copy": every frame gets the mouth of the clip's first face
// frame, pasted with the same mask as generate uses (no motion at all).
std::vector<cv::Mat> reference_copy(const Track& real, const CropOptions& crop, const BlendOptions& blend) {
  std::vector<cv::Mat> t = real.frames;
  size_t ref = 0;
  while (ref < real.faces.size() && !real.faces[ref].found) ++ref;
  if (ref == real.faces.size()) return t;
  cv::Mat ref_crop = crop_face(real.frames[ref], crop_transform(real.faces[ref].landmarks, crop), crop.size).image;
  for (size_t i = 0; i < t.size(); ++i) {
    if (!real.faces[i].found) continue;
    t[i] = real.frames[i].clone();
    paste_back(t[i], ref_crop, crop_transform(real.faces[i].landmarks, crop), real.faces[i].landmarks, blend);
  }
  return t;
}

}  // namespace

void summarize_clips(nlohmann::json& system) {
  nlohmann::json mean, median;
  for (const char* k : {"psnr", "ssim", "lmd", "lmd_norm", "mouth_corr", "mouth_range", "mouth_sharpness", "mouth_motion", "mouth_flicker", "driver_corr", "lmd_truth", "lse_d", "lse_c"}) {
    std::vector<double> all;  // "inf" as infinity
    double sum = 0;
    int finite = 0;
    for (const auto& c : system["clips"]) {
      if (!c.contains(k)) continue;
      all.push_back(c[k].is_string() ? std::numeric_limits<double>::infinity() : c[k].get<double>());
      if (std::isfinite(all.back())) sum += all.back(), ++finite;
    }
    if (all.empty()) continue;
    auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json("inf"); };
    mean[k] = number(finite > 0 ? sum / finite : std::numeric_limits<double>::infinity());
    std::sort(all.begin(), all.end());
    const size_t h = all.size() / 2;
    median[k] = number(all.size() % 2 ? all[h] : (all[h - 1] + all[h]) / 2);
  }
  system["mean"] = mean;
  system["median"] = median;
}

namespace {

// One metric of two systems, per clip, for the clips that have it in both.
struct Paired {
  std::vector<std::string> clips;
  std::vector<double> a, b;
};

Paired paired(const nlohmann::json& x, const nlohmann::json& y, const char* key) {
  Paired p;
  for (const auto& c : x)
    for (const auto& d : y)
      if (d["clip"] == c["clip"] && c.contains(key) && d.contains(key)) {
        p.clips.push_back(c["clip"].get<std::string>());
        p.a.push_back(c[key].get<double>());
        p.b.push_back(d[key].get<double>());
      }
  return p;
}

std::vector<double> drawn(const std::vector<double>& v, const std::vector<size_t>& clips) {
  std::vector<double> d;
  for (size_t i : clips) d.push_back(v[i]);
  return d;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / v.size();
}

}  // namespace

nlohmann::json compare_shift(const nlohmann::json& own, const nlohmann::json& shifted) {
  const Paired p = paired(own, shifted, "lmd_norm");
  nlohmann::json clips = nlohmann::json::array();
  int closer = 0;
  for (size_t i = 0; i < p.a.size(); ++i) {
    clips.push_back({{"clip", p.clips[i]}, {"own", p.a[i]}, {"shifted", p.b[i]}, {"lower_by", lower_by({p.a[i]}, {p.b[i]})}});
    closer += p.a[i] < p.b[i];
  }
  if (p.a.empty()) return {{"clips", clips}};
  const auto [lo, hi] = bootstrap_interval(
      p.a.size(), [&](const std::vector<size_t>& d) { return lower_by(drawn(p.a, d), drawn(p.b, d)); });
  return {{"clips", clips}, {"own", mean(p.a)}, {"shifted", mean(p.b)}, {"lower_by", lower_by(p.a, p.b)},
          {"interval95", {lo, hi}}, {"closer", closer}};
}

nlohmann::json compare_chance(const nlohmann::json& shown, const nlohmann::json& real) {
  const Paired p = paired(shown, real, "driver_corr");
  if (p.a.empty()) return nullptr;
  std::vector<double> above;
  for (size_t i = 0; i < p.a.size(); ++i) above.push_back(p.a[i] - p.b[i]);
  const auto [lo, hi] = bootstrap_interval(p.a.size(), [&](const std::vector<size_t>& d) { return mean(drawn(p.a, d)); });
  const auto [alo, ahi] = bootstrap_interval(p.a.size(), [&](const std::vector<size_t>& d) { return mean(drawn(above, d)); });
  return {{"clips", p.a.size()}, {"speaker_r", mean(p.a)}, {"interval95", {lo, hi}}, {"chance", mean(p.b)},
          {"above_chance", mean(above)}, {"above_chance_interval95", {alo, ahi}}};
}

bool shows_medians(const nlohmann::json& results) {
  const nlohmann::json& systems = results.at("systems");
  return systems.contains("real") && systems["real"]["clips"].size() >= 3;
}

nlohmann::json evaluate(const EvalOptions& opt, std::vector<ClipStrip>* strips) {
  if (opt.clips.empty()) throw Error("no clips to evaluate: pass video files with --data");
  const bool dub = opt.mode == "dub", sync_check = opt.mode == "sync";
  if (!dub && !sync_check && opt.mode != "reconstruct")
    throw Error("--mode must be reconstruct, dub or sync, not '" + opt.mode + "'");
  if (!dub && !opt.dub_audio.empty())
    throw Error("--audio is the speech to dub the clips with: use it with --mode dub (the other modes use each clip's own)");
  if (sync_check && opt.audio_shift == 0)
    throw Error("--mode sync compares each clip's own audio with it shifted: give a nonzero --audio-shift");
  if (dub && opt.dub_audio.empty() && opt.clips.size() < 2)
    throw Error("--mode dub needs --audio FILE or at least two clips (each is driven by the next one's audio)");
  const std::string model_path = opt.model.empty() ? default_model_path() : opt.model;
  std::vector<std::pair<std::string, std::string>> models{{"model", model_path}};
  if (!opt.baseline.empty()) models.push_back({"baseline", opt.baseline});
  CropOptions crop = opt.crop;
  crop.size = load_generator(model_path)->config().image_size;  // also checks the file early
  if (!opt.baseline.empty()) load_generator(opt.baseline);      // a bad file is its own error, not every clip's
  auto landmarks = std::make_shared<const LandmarkModel>(opt.tracker.landmark_model);
  SyncExpert sync;
  const std::string sync_path = opt.sync.empty() ? default_syncnet_path() : opt.sync;
  sync.net = load_syncnet(sync_path);
  sync.size = ModelConfig::from_json(read_checkpoint_meta(sync_path)["config"]).image_size;
  fs::path tmp = fs::temp_directory_path() / ("stf_eval_" + std::to_string(getpid()));
  fs::create_directories(tmp);
  struct Cleanup {
    fs::path p;
    ~Cleanup() { fs::remove_all(p); }
  } cleanup{tmp};

  nlohmann::json systems, skipped = nlohmann::json::array();
  for (const char* name : {"real", "reference_copy", "model", "baseline"}) systems[name]["clips"] = nlohmann::json::array();
  // What each generator is driven by: the speech (shifted by --audio-shift
  // unless in sync mode), and in sync mode also the speech shifted.
  struct Run {
    std::string system, model;
    bool shifted;
  };
  std::vector<Run> runs;
  for (const auto& [name, path] : models) {
    runs.push_back({name, path, false});
    if (sync_check) {
      runs.push_back({name + "_shifted", path, true});
      systems[name + "_shifted"]["clips"] = nlohmann::json::array();
    }
  }
  TrackerOptions scoring = opt.tracker;  // the landmarks the scores read
  if (opt.score_smooth >= 0) scoring.smooth_radius = opt.score_smooth;
  std::map<std::string, std::optional<Track>> speakers;  // dub: tracked once per speech file
  Progress progress("eval", static_cast<int64_t>(opt.clips.size()), "clips", !opt.quiet);
  int64_t done = 0;
  for (size_t c = 0; c < opt.clips.size(); ++c) {
    const std::string& clip = opt.clips[c];
    check_cancelled();
    try {
      Track real = track_file(clip, scoring, landmarks);
      const std::string speech = !dub ? clip : !opt.dub_audio.empty() ? opt.dub_audio : opt.clips[(c + 1) % opt.clips.size()];
      std::vector<float> audio = read_audio(speech, kSampleRate), moved;
      if (opt.audio_shift != 0) {  // delayed (or advanced), keeping its length
        const int64_t shift = std::llround(opt.audio_shift * kSampleRate);
        moved.assign(audio.size(), 0.0f);
        for (int64_t i = 0; i < int64_t(audio.size()); ++i)
          if (i - shift >= 0 && i - shift < int64_t(audio.size())) moved[i] = audio[i - shift];
        if (!sync_check) audio = std::move(moved);
      }
      const torch::Tensor mel = mel_spectrogram(audio);
      const torch::Tensor mel_moved = sync_check ? mel_spectrogram(moved) : mel;  // the shifted runs' speech
      sync.mel = mel;
      if (dub && !speakers.count(speech)) {  // the speaker's face, where the speech is a video with one
        std::optional<Track> t;
        try {
          t = track_file(speech, scoring, landmarks);
          t->frames.clear();  // only the landmarks are needed
        } catch (const Error&) {  // an audio file, or no face in it
        }
        check_cancelled();  // ... but not Ctrl-C
        speakers[speech] = std::move(t);
      }
      const Track* drv = dub && speakers[speech] ? &*speakers[speech] : nullptr;
      sync.fps = real.fps;
      const std::vector<FaceObservation> truth = ground_truth(clip);
      systems["real"]["clips"].push_back(score(clip, real, real, crop, sync, dub, truth, drv));
      Track copy = track_frames(reference_copy(real, crop, opt.blend), scoring, landmarks);
      systems["reference_copy"]["clips"].push_back(score(clip, real, copy, crop, sync, dub, truth, drv));
      std::string face = clip;
      if (opt.still) {  // the photo the generators are given
        const int64_t still = most_closed_mouth(real);
        if (still < 0) throw Error(clip + ": no face found in any frame");
        face = (tmp / "photo.png").string();
        if (!cv::imwrite(face, real.frames[static_cast<size_t>(still)])) throw Error("cannot write " + face);
      }
      std::vector<Track> generated;
      for (const auto& [name, path, shifted] : runs) {
        GenerateOptions g;
        g.face = face;
        g.fps = real.fps;
        g.samples = shifted ? moved : audio;
        g.model = path;
        g.outfile = (tmp / (name + ".mp4")).string();
        g.loop = "none";
        g.ref_lag = opt.ref_lag;
        g.ref_choice = opt.ref_choice;
        g.guidance_scale = opt.guidance_scale;
        g.tracker = opt.tracker;
        g.crop = opt.crop;
        g.blend = opt.blend;
        g.batch = opt.batch;
        g.precision = opt.precision;
        g.quiet = true;
        // Scored losslessly: the decoded frames are the rendered ones, so the
        // scores see what the model drew, not the encoder's losses (dlib's
        // mouth landmarks on a dub move enough with them to change a clip's
        // SpeakerR by up to 0.2; docs/metrics.md).
        g.crf = 0;
        generate(g);
        generated.push_back(track_file(g.outfile, scoring, landmarks));
        sync.mel = shifted ? mel_moved : mel;  // LSE against the speech that drove it
        systems[name]["clips"].push_back(score(clip, real, generated.back(), crop, sync, dub, truth, drv));
      }
      if (strips) {
        std::vector<std::pair<std::string, const Track*>> rows{{"real", &real}, {"reference copy", &copy}};
        for (size_t m = 0; m < runs.size(); ++m) rows.push_back({runs[m].system, &generated[m]});
        strips->push_back({clip, frame_strip(rows, real, crop)});
      }
    } catch (const Error& e) {
      if (std::string(e.what()).find("interrupted") != std::string::npos) throw;
      skipped.push_back({{"clip", clip}, {"reason", e.what()}});
    }
    progress.update(++done);
  }
  progress.finish();
  if (skipped.size() == opt.clips.size()) throw Error("no clip could be evaluated; first reason: " + skipped[0]["reason"].get<std::string>());
  if (opt.baseline.empty()) systems.erase("baseline");
  for (auto& [name, s] : systems.items()) summarize_clips(s);
  nlohmann::json r{{"model", model_path}, {"baseline", opt.baseline}, {"mode", opt.mode}, {"still", opt.still},
                   {"audio_shift", opt.audio_shift}, {"ref_lag", opt.ref_lag}, {"score_smooth", scoring.smooth_radius}, {"ref_choice", opt.ref_choice},
                   {"guidance_scale", opt.guidance_scale}, {"jaw", opt.crop.speech_jaw ? "speech" : "video"}, {"systems", systems}, {"skipped", skipped}};
  for (const auto& [name, path] : models) {
    if (sync_check) r["sync"][name] = compare_shift(systems[name]["clips"], systems[name + "_shifted"]["clips"]);
    if (dub && !systems[name]["mean"].is_null() && systems[name]["mean"].contains("driver_corr"))
      r["speaker_r"][name] = compare_chance(systems[name]["clips"], systems["real"]["clips"]);
  }
  return r;
}

}  // namespace stf
