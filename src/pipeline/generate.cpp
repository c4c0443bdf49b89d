#include "pipeline/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <mutex>
#include <numeric>
#include <optional>
#include <opencv2/imgproc.hpp>
#include <thread>

#include "audio/speech.h"
#include "core/progress.h"
#include "model/blocks.h"
#include "model/model_file.h"
#include "model/precision.h"
#include "pipeline/bounded_queue.h"
#include "pipeline/reference.h"
#include "pipeline/source.h"
#include "stf/audio.h"
#include "stf/cancel.h"
#include "stf/error.h"
#include "stf/files.h"
#include "stf/media.h"
#include "stf/threads.h"
#include "synth/visemes.h"

namespace stf {

nlohmann::json GenerateSummary::to_json() const {
  return {{"outfile", outfile},
          {"model", model},
          {"precision", precision},
          {"frames", frames},
          {"frames_with_face", frames_with_face},
          {"fps", fps},
          {"audio_seconds", audio_seconds},
          {"held_frames", held_frames},
          {"wall_seconds", wall_seconds},
          {"frames_per_second", frames_per_second}};
}

int64_t looped_frame(int64_t i, int64_t frames, const std::string& loop) {
  if (frames <= 1) return 0;
  if (loop == "repeat") return i % frames;
  const int64_t period = 2 * frames - 2;  // 0 1 .. F-1 F-2 .. 1 | 0 1 ..
  const int64_t k = i % period;
  return k < frames ? k : period - k;
}

namespace {

// Frames waiting between two stages: two batches, or fewer where that would
// hold more than this many bytes of frames (a 4K frame is 25 MB: the two
// queues held 64 of them, 1.6 GB).
constexpr double kQueueBytes = 256.0 * (1 << 20);

// Seconds: the nearest a reference comes to its frame in training (5 frames
// at 25 fps), and so the nearest ReferenceHistory takes one on a quick turn.
constexpr double kNearestReference = 0.2;

// Runs a stage; the first failure is kept and closes every queue so the
// other stages stop instead of waiting.
class StageErrors {
 public:
  explicit StageErrors(std::vector<BoundedQueue<Item>*> queues) : queues_(std::move(queues)) {}
  template <typename F>
  void run(F&& body) {
    try {
      body();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!first_) first_ = std::current_exception();
      for (auto* q : queues_) q->close();
    }
  }
  void rethrow() {
    if (first_) std::rethrow_exception(first_);
  }

 private:
  std::vector<BoundedQueue<Item>*> queues_;
  std::mutex mutex_;
  std::exception_ptr first_;
};

// The face video's own sound stays timed against its frames; speech from any
// other file is taken from its first sample (its picture, if any, plays no part).
SoundStart driving_sound_start(const GenerateOptions& opt) {
  std::error_code ec;
  return std::filesystem::equivalent(opt.audio, opt.face, ec) ? SoundStart::with_picture : SoundStart::own;
}

// The speech's samples, and its phonemes when it is a text spoken here or
// a recording with its transcript (espeak-ng's phonemes of it, aligned).
Speech driving_speech(const GenerateOptions& opt, SoundStart start) {
  if (!opt.transcript.empty() && opt.audio.empty())
    throw Error("--transcript gives the words of --audio: give --audio FILE");
  if (!opt.samples.empty()) return {opt.samples, {}, {}};
  if (!opt.text.empty()) return synthesize_speech(opt.text, opt.voice);
  if (opt.audio.empty()) throw Error("give the speech with --audio FILE or --text \"...\"");
  std::vector<float> recorded = read_audio(opt.audio, kSampleRate, start);
  if (!opt.transcript.empty()) return transcribed_speech(std::move(recorded), opt.transcript, opt.voice);
  return {std::move(recorded), {}, {}};
}

// A photo speaking a text has its lips rounded ("oo", "w") and spread
// ("ee") as its phonemes ask (open_mouth, src/face/mouth_open.cpp): the share of
// the mouth's width they are drawn wider per unit of the viseme table's
// width (-0.55 for a "w" .. 0.45 for an "ee", src/synth/visemes.cpp): a
// "w" narrows the mouth by 8%, an "ee" widens it by 7%. Between the 1st
// and the 99th percentile of its frames, GRID s1's mouth (dlib's corners
// 48-54, 81 sentences) is 8.6% narrower .. 7.8% wider than its median.
constexpr float kLipWidth = 0.15f;
// Its mouth also opens by at least this share of its width per unit of the
// viseme table's opening (0.6 for an open vowel: 21% of the width, the demo
// photo's 90th percentile; 0.38 for a mid vowel: 13%): a face the model
// hardly darkens still speaks (a VoxCeleb2 face: models/README.md,
// "Session 41").
constexpr float kTextOpen = 0.35f;
// Any face speaking a text has its lips pressed together (the model given
// silence's audio feature instead of the speech's) as the track's opening
// falls below this (p, b and m hold it at 0 from 50 ms before their
// release; silence is 0): the model closes the lips a frame or two late, or
// leaves them parted (the demo's "am", "Hopper").
constexpr float kPressedBelow = 0.1f;
// A photo speaking recorded speech opens its mouth by at least this share of
// its width times speech_opening (0..1, from the speech's loudness): there
// are no phonemes, and the model hardly darkens some faces (models/README.md,
// "Session 42"). GRID speakers' inner lips part by 0.09 of the mouth's width
// at the median frame, 0.18 at the 90th percentile (dlib; closed: about 0.03).
constexpr float kSpeechOpen = 0.15f;
// A transcript's shapes on a photo in full where speech_opening is at least this.
constexpr float kHeard = 0.1f;
// speech_opening's bounds, in frame_loudness's units (normalised log-mel:
// 1 = 12.5 dB; -4 is the floor, digital silence; speech's loud frames lie
// near -0.8, GRID's pauses at -3.6 .. -3.2): the level under which the audio
// counts as silence (fading in over kSilenceFade above it), and the least
// spread of the ramp from the speech's quiet frames to its loud ones.
constexpr float kSilenceBelow = -3.5f, kSilenceFade = 0.5f, kLeastSpread = 1.0f;

// (3, S, S) float in [0, 1] from an S x S BGR crop.
torch::Tensor to_tensor(const cv::Mat& crop) {
  auto t = torch::from_blob(crop.data, {crop.rows, crop.cols, 3}, torch::kUInt8);
  return t.permute({2, 0, 1}).to(torch::kFloat32).div_(255.0);
}

// Torch threads for the model stage. Idle OpenMP threads busy-wait between
// the model's many small parallel regions and take the cores that decoding,
// tracking and x264 need: on 2 cores a light model (the lite config, 0.2
// GFLOP per frame) runs the 720p pipeline at 22.9 frames/s with 2 torch
// threads and 34 with 1 (docs/performance.md; OpenCV's own thread pool
// is set to 1 thread for the same reason). A heavy model is the bottleneck
// itself and gets every core.
int automatic_model_threads(SyncTalkFace& model) {
  const int S = model->config().image_size;
  FlopCounter count;
  {
    torch::NoGradGuard ng;
    model->forward(torch::zeros({1, 1, kMelBands, 16}), torch::zeros({1, 6, S, S}));
  }
  const int cores = available_cores();
  return count.flops() > 1e9 ? cores : std::max(1, cores - 1);
}

// (B, 3, S, S) in [0, 1] -> B images, S x S BGR 8-bit.
std::vector<cv::Mat> to_images(const torch::Tensor& crops) {
  auto bytes = crops.mul(255).round_().clamp_(0, 255).to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous();
  std::vector<cv::Mat> images;
  for (int64_t i = 0; i < bytes.size(0); ++i)
    images.push_back(cv::Mat(int(bytes.size(1)), int(bytes.size(2)), CV_8UC3, bytes[i].data_ptr()).clone());
  return images;
}

// The bottleneck that digital silence gives: the base of the audio guidance
// (GenerateOptions::guidance_scale). (1, C)
torch::Tensor silence_bottleneck(SyncTalkFace& model) {
  torch::NoGradGuard ng;
  auto mel = mel_spectrogram(std::vector<float>(kMelWindow * kHop, 0.0f)).narrow(1, 0, kMelWindow);  // (80, 16)
  return model->bottleneck_from_audio(model->audio_encoder->forward(mel.view({1, 1, kMelBands, kMelWindow})));
}

// The bottleneck of mel windows `mels` (B, 1, 80, 16), taken `guidance`
// times as far from silence's (GenerateOptions::guidance_scale). (B, C)
torch::Tensor guided_bottleneck(SyncTalkFace& model, const torch::Tensor& mels, const torch::Tensor& silence,
                                double guidance) {
  torch::Tensor b = model->bottleneck_from_audio(model->audio_encoder->forward(mels));
  return guidance == 1 ? b : silence + guidance * (b - silence);
}

// The face crop at up to kSharpScale times the model's resolution, as far as
// the frame has pixels for it, and at least at the model's (a face smaller in
// the frame than in the crop). paste_back takes the fine detail of the
// redrawn mouth from the reference's.
constexpr double kSharpScale = 4;
cv::Mat sharp_crop(const cv::Mat& frame, const cv::Matx23f& to_crop, int S) {
  const double k = std::clamp(1 / double(std::hypot(to_crop(0, 0), to_crop(0, 1))), 1.0, kSharpScale);
  const int side = static_cast<int>(std::lround(k * S));
  cv::Mat out;
  cv::warpAffine(frame, out, to_crop * float(side / double(S)), cv::Size(side, side), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  return out;
}

}  // namespace

std::vector<float> speech_opening(const std::vector<float>& loudness) {
  if (loudness.empty()) return {};
  std::vector<float> sorted(loudness);
  std::sort(sorted.begin(), sorted.end());
  auto at = [&](double q) { return sorted[static_cast<size_t>(q * double(sorted.size() - 1))]; };
  const float quiet = at(0.10), spread = std::max(at(0.90) - quiet, kLeastSpread);
  std::vector<float> open;
  for (float l : loudness)
    open.push_back(std::clamp((l - quiet) / spread, 0.f, 1.f) * std::clamp((l - kSilenceBelow) / kSilenceFade, 0.f, 1.f));
  return open;
}

std::vector<double> ranks(const std::vector<float>& values) {
  std::vector<float> sorted(values);
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> r(values.size());
  const double last = std::max<double>(1, double(values.size()) - 1);
  for (size_t i = 0; i < values.size(); ++i) {
    const auto lo = std::lower_bound(sorted.begin(), sorted.end(), values[i]) - sorted.begin();
    const auto hi = std::upper_bound(sorted.begin(), sorted.end(), values[i]) - sorted.begin();
    r[i] = (double(lo) + double(hi - 1)) / 2 / last;
  }
  return r;
}

// A photo rendered at the speech's loudest moments (its loudest 5% of
// frames, 4 to 16 of them): where the model draws an opening on that face
// (darkening_shift). `skips` are the photo's identity features.
std::vector<cv::Mat> spoken_probe(SyncTalkFace& model, const torch::Tensor& mel, const std::vector<double>& loudness_rank,
                                  double fps, const torch::Tensor& silence, double guidance,
                                  const std::vector<torch::Tensor>& skips) {
  std::vector<size_t> order(loudness_rank.size());
  std::iota(order.begin(), order.end(), size_t(0));
  const size_t n = std::min(order.size(), std::clamp<size_t>(order.size() / 20, 4, 16));
  if (n == 0) return {};
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                    [&](size_t a, size_t b) { return loudness_rank[a] > loudness_rank[b]; });
  std::vector<torch::Tensor> mels;
  for (size_t i = 0; i < n; ++i) mels.push_back(mel_window(mel, static_cast<int64_t>(order[i]), fps).unsqueeze(0));
  const torch::Tensor bottleneck = guided_bottleneck(model, torch::stack(mels), silence, guidance);  // (n, C)
  std::vector<torch::Tensor> expanded;
  for (const auto& s : skips) expanded.push_back(s.expand({static_cast<int64_t>(n), -1, -1, -1}));
  return to_images(model->decode(bottleneck, expanded));
}

GenerateSummary generate(const GenerateOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  if (opt.outfile.empty()) throw Error("--outfile is required");
  if (opt.loop != "pingpong" && opt.loop != "repeat" && opt.loop != "none")
    throw Error("--loop must be pingpong, repeat or none, not '" + opt.loop + "'");
  if (opt.resize_factor < 1) throw Error("--resize-factor must be at least 1");
  if (opt.batch < 1) throw Error("--batch must be at least 1");
  video_container(opt.outfile);  // a name we can write (.mp4, .m4v, .mov), checked before the model loads
  check_output_path(opt.outfile, {opt.face, opt.audio});

  GenerateSummary summary;
  summary.outfile = opt.outfile;
  summary.model = opt.model.empty() ? default_model_path() : opt.model;
  const Precision precision = parse_precision(opt.precision);
  summary.precision = precision_name(precision);
  SyncTalkFace model = load_generator(summary.model);
  prepare_inference(*model, precision);  // BatchNorm folded; bf16 by default on CPUs with bfloat16 units
  const int S = model->config().image_size;
  struct RestoreThreads {  // eval calls generate and then runs models of its own
    int torch_threads = torch::get_num_threads(), cv_threads = cv::getNumThreads();
    ~RestoreThreads() { torch::set_num_threads(torch_threads), cv::setNumThreads(cv_threads); }
  } restore_threads;
  if (opt.model_threads > 0) {
    torch::set_num_threads(opt.model_threads);
  } else {  // the stages are the parallelism: OpenCV inside each runs on its own thread
    torch::set_num_threads(automatic_model_threads(model));
    cv::setNumThreads(1);
  }
  GenerateOptions o = opt;
  o.crop.size = S;
  o.crop.placement = model->config().crop;

  VideoReader reader(o.face);
  const bool photo = reader.is_image();
  if (photo) o.tracker.static_image = true;
  summary.fps = photo ? o.fps : reader.fps();
  if (!(summary.fps > 0 && summary.fps <= 240)) throw Error(o.face + ": frame rate " + std::to_string(summary.fps) + " is not usable; try --fps");

  const SoundStart sound_start = driving_sound_start(o);
  Speech speech = driving_speech(o, sound_start);
  std::vector<float> samples = std::move(speech.samples);
  int64_t outputs = std::max<int64_t>(1, std::llround(samples.size() * summary.fps / kSampleRate));
  if (samples.size() < size_t(kMelWindow * kHop)) {
    const std::string ms = std::to_string(samples.size() * 1000 / kSampleRate);
    if (!o.text.empty()) throw Error("--text '" + o.text + "' gives " + ms + " ms of speech; at least 200 ms is needed: give words to speak");
    throw Error("the audio is " + ms + " ms long; at least 200 ms (one mel window) is needed");
  }
  const int64_t video_frames = photo ? 1 : reader.frame_count();
  const bool audio_longer = !photo && video_frames > 0 && outputs > video_frames;
  if (audio_longer && o.loop == "none") {
    outputs = video_frames;
    samples.resize(std::min(samples.size(), size_t(std::llround(outputs * kSampleRate / summary.fps))));
  }
  const cv::Size out_size = shrunk_size(reader.width(), reader.height(), o.resize_factor);
  const int out_w = out_size.width, out_h = out_size.height;
  if (out_w < 2 || out_h < 2)
    throw Error(o.face + ": " + std::to_string(out_w) + "x" + std::to_string(out_h) + " pixels" +
                (o.resize_factor > 1 ? " after --resize-factor" : "") + " is too small to hold a face");
  const bool loop = !photo && o.loop != "none" && (audio_longer || video_frames <= 0);
  summary.audio_seconds = double(samples.size()) / kSampleRate;
  torch::Tensor mel = mel_spectrogram(samples, speech_gain(samples));  // (80, T), at the model's speech level
  const std::vector<float> loudness = frame_loudness(mel, outputs, summary.fps);
  const std::vector<double> loudness_rank = ranks(loudness);
  std::vector<float> speaking = speech_opening(loudness);
  // Per output frame of a text or a transcript: how far the lips are pressed
  // together (0..1); on a photo what else the speech asks: the phonemes'
  // shapes (kTextOpen, kLipWidth), or recorded speech's loudness
  // (speech_opening, kSpeechOpen). A transcript's pauses are espeak-ng's,
  // not the recording's: its lips are pressed only within words, and a
  // photo's shapes fade out where the recording falls quiet (kHeard; a pause
  // the transcript does not mark is spanned by a phoneme).
  const bool transcript = !speech.phonemes.empty() && o.text.empty();
  std::vector<float> pressed;
  std::vector<SpeechShape> shapes;
  if (!speech.phonemes.empty()) {
    const std::vector<MouthFrame> track = mouth_track(speech.phonemes, summary.audio_seconds, outputs, summary.fps);
    for (size_t i = 0; i < track.size(); ++i) {
      const MouthShape& m = track[i].shape;
      const bool in_word = !transcript || track[i].viseme != 0;
      pressed.push_back(in_word ? std::clamp(1 - m.open / kPressedBelow, 0.f, 1.f) : 0.f);
      if (!photo) continue;
      const float heard = transcript && i < speaking.size() ? std::min(1.f, speaking[i] / kHeard) : 1.f;
      shapes.push_back({heard * (1 - pressed.back()) * kTextOpen * m.open, heard * kLipWidth * m.width});
    }
  }
  if (photo && speech.phonemes.empty())
    for (float open : speaking) shapes.push_back({kSpeechOpen * open, 0.f});
  // A text's or a transcript's p, b and m: the chin where silence puts it (the model is given silence's feature there).
  for (size_t i = 0; i < pressed.size() && i < speaking.size(); ++i) speaking[i] *= 1 - pressed[i];

  VideoWriterOptions wopt;
  wopt.fps = summary.fps;
  wopt.crf = o.crf;
  wopt.preset = o.preset;
  wopt.audio_sample_rate = kSampleRate;
  wopt.color = reader.color();  // an HDR video keeps its look where untouched
  VideoWriter writer(o.outfile, out_w, out_h, wopt);
  if (o.samples.empty() && o.text.empty()) {
    // as recorded (rate, stereo), cut like the samples
    writer.set_audio_from(o.audio, summary.audio_seconds, sound_start);
    std::vector<float>().swap(samples);  // the features are made (10 min: 38 MB)
  } else {
    writer.set_audio(std::move(samples));  // given or synthesised; the writer's copy is the only one
  }

  const size_t queued = static_cast<size_t>(
      std::clamp(kQueueBytes / (double(out_w) * out_h * 3), 2.0, 2.0 * o.batch));  // the model stage holds a batch itself
  BoundedQueue<Item> decoded(queued), generated(queued);
  StageErrors errors({&decoded, &generated});
  // A video's crops placed for the speech (--jaw speech); a photo's crop is its own.
  Source source(o, reader, photo ? 1 : outputs, loop, photo ? std::vector<float>{} : speaking);
  Progress progress("generate", outputs, "frames", !o.quiet);

  std::thread source_thread([&] {
    errors.run([&] {
      if (!photo) return source.run(decoded);
      // A still: track it once, then show it for every output frame.
      BoundedQueue<Item> one(2);
      source.run(one);
      Item it;
      if (!one.pop(it) || !it.face.found) {
        const std::string which = o.tracker.select.rfind("index:", 0) == 0 && o.tracker.select != "index:0"
                                      ? " as --face-select " + o.tracker.select + " asks (index:0 is the leftmost)"
                                      : "";
        throw Error(o.face + ": no face found in the photo" + which +
                    " (a face turned to profile is not taken); try --box top bottom left right");
      }
      for (int64_t i = 0; i < outputs; ++i) {
        check_cancelled();
        it.index = i;
        if (!decoded.push(it)) break;
      }
      decoded.close();
    });
  });
  std::thread sink_thread([&] {
    errors.run([&] {
      // A video's teeth (paint_teeth) are painted one frame late, once the
      // next frame shows whether the opening lasts: an opening that the
      // frames on both sides lack gets none (it flashed).
      const bool teeth_later = !photo && o.blend.teeth;
      BlendOptions blend = o.blend;
      blend.teeth = o.blend.teeth && !teeth_later;
      TeethObserver seen;  // the video's own teeth, for those painted into a redrawn opening
      struct Pasted {
        Item item;
        cv::Mat frame;      // pasted
        float teeth = 0;    // how far its opening shows teeth
      };
      std::optional<Pasted> held;
      float teeth_before = 0;  // the frame before the held one's
      auto write_held = [&](float teeth_after) {
        if (!held) return;
        Item& it = held->item;
        if (it.face.found) {
          if (held->teeth > 0) {
            SeenTeeth s = seen.seen();
            s.limit = std::max(teeth_before, teeth_after);
            paint_teeth(held->frame, it.face.landmarks, s);
          }
          if (it.fade < 1) cv::addWeighted(held->frame, it.fade, it.frame, 1 - it.fade, 0, held->frame);
        }
        writer.write(held->frame);
        teeth_before = held->teeth;
        held.reset();
      };
      Item it;
      while (generated.pop(it)) {
        Pasted p;
        if (it.face.found) {
          if (teeth_later) seen.observe(it.frame, it.face.landmarks);
          p.frame = it.frame.clone();
          if (!shapes.empty()) blend.speech_shape = shapes[static_cast<size_t>(it.index)];
          paste_back(p.frame, it.generated, it.to_crop, it.face.landmarks, blend, it.silent, it.reference);
          if (teeth_later) {
            SeenTeeth measure_only;
            measure_only.limit = 0;
            p.teeth = paint_teeth(p.frame, it.face.landmarks, measure_only);
          }
          ++summary.frames_with_face;
        } else {
          p.frame = it.frame;
        }
        write_held(p.teeth);
        p.item = std::move(it);
        held = std::move(p);
        ++summary.frames;
        progress.update(summary.frames);
      }
      write_held(0);
    });
  });

  errors.run([&] {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> photo_skips;  // identity features of a still, computed once
    cv::Mat photo_silent;                    // and its rendering with silent audio
    cv::Point2f photo_shift(0, 0);           // where the speech's change moves onto its lips (darkening_shift)
    Landmarks photo_lips{};                  // the photo's landmarks in its crop
    const torch::Tensor silence = silence_bottleneck(model);  // (1, C)
    ReferenceHistory references(static_cast<size_t>(std::llround(std::max(0.0, o.ref_lag) * summary.fps)),
                                static_cast<size_t>(std::llround(std::max(0.0, o.ref_choice) * summary.fps)),
                                static_cast<size_t>(std::max<int64_t>(1, std::llround(kNearestReference * summary.fps))));
    const bool sharp = !photo && o.blend.detail && o.blend.reference_detail;  // paste_back's reference detail
    std::vector<Item> batch;
    bool more = true;
    while (more) {
      batch.clear();
      Item it;
      while (batch.size() < size_t(o.batch) && (more = decoded.pop(it))) batch.push_back(std::move(it));
      check_cancelled();
      std::vector<torch::Tensor> faces, refs, mels;
      std::vector<float> kept;  // a text's frames: 1 - pressed
      for (Item& b : batch) {
        if (!b.face.found) {
          references.reset();
          continue;
        }
        mels.push_back(mel_window(mel, b.index, summary.fps).unsqueeze(0));  // (1, 80, 16)
        if (!pressed.empty()) kept.push_back(1 - pressed[static_cast<size_t>(b.index)]);
        if (photo && !photo_skips.empty()) continue;
        faces.push_back(to_tensor(crop_face(b.frame, b.to_crop, S).image));
        refs.push_back(references.next(b.segment, faces.back(), mouth_opening(b.face.landmarks),
                                       loudness_rank[static_cast<size_t>(b.index)], pose_points(b.face.landmarks, b.to_crop, S),
                                       sharp ? sharp_crop(b.frame, b.to_crop, S) : cv::Mat()));
        b.reference = references.sharp();
      }
      if (!mels.empty()) {
        const int64_t B = static_cast<int64_t>(mels.size());
        auto m = torch::stack(mels);                                   // (B, 1, 80, 16)
        std::vector<torch::Tensor> skips;
        if (photo) {
          if (photo_skips.empty()) {
            auto f = faces.front().unsqueeze(0);                       // (1, 3, S, S)
            photo_skips = model->encode_identity(model->inference_identity(f, f));
          }
          for (const auto& s : photo_skips) skips.push_back(s.expand({B, -1, -1, -1}));
        } else {
          skips = model->encode_identity(model->inference_identity(torch::stack(faces), torch::stack(refs)));
        }
        torch::Tensor bottleneck = guided_bottleneck(model, m, silence, o.guidance_scale);  // (B, C)
        if (!pressed.empty())  // lips pressed together: silence's feature
          bottleneck = silence + torch::tensor(kept).to(bottleneck.options()).unsqueeze(1) * (bottleneck - silence);
        const std::vector<cv::Mat> generated_crops = to_images(model->decode(bottleneck, skips));
        if (photo && o.blend.keep_frame && photo_silent.empty()) {
          photo_silent = to_images(model->decode(silence, photo_skips))[0];
          const Item& first = *std::find_if(batch.begin(), batch.end(), [](const Item& b) { return b.face.found; });
          photo_lips = to_crop_space(first.face.landmarks, first.to_crop);
          photo_shift = darkening_shift(spoken_probe(model, mel, loudness_rank, summary.fps, silence, o.guidance_scale,
                                                     photo_skips),
                                        photo_silent, photo_lips);
        }
        size_t k = 0;
        for (Item& b : batch) {
          if (!b.face.found) continue;
          b.generated = generated_crops[k++];
          b.silent = photo_silent;
          if (!photo_silent.empty()) b.generated = photo_change(b.generated, b.silent, photo_shift, photo_lips);
        }
      }
      for (Item& b : batch)
        if (!generated.push(std::move(b))) more = false;
    }
    generated.close();
  });
  source_thread.join();
  sink_thread.join();
  errors.rethrow();
  if (source.stats().with_face == 0 && !photo)
    throw Error(o.face + ": no face found in any frame (a face turned to profile or under ~70 px across is not "
                "taken); try --box top bottom left right or --detector dnn");
  summary.held_frames = source.held();
  writer.finish();
  progress.finish();
  summary.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  summary.frames_per_second = summary.frames / std::max(1e-9, summary.wall_seconds);
  return summary;
}

}  // namespace stf
