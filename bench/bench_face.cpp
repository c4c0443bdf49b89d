// Face pipeline speed: detect (every N frames) + track + landmarks +
// smoothing, per frame, on decoded frames held in memory (decode excluded).
// Inputs: a 1280x720 clip made by scaling a shared GRID clip with our own
// writer, and a 224x224 VoxCeleb2 crop.
//
// Also one 68-point fit alone: ours (LandmarkModel) against dlib's
// shape_predictor, whose trees it repacks; and the paste-back of a photo
// whose mouth the speech opens.
//
//   build/bench/bench_face
#include <benchmark/benchmark.h>
#include <dlib/image_processing/shape_predictor.h>
#include <dlib/opencv/cv_image.h>

#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "stf/face.h"
#include "stf/media.h"
#include "stf/threads.h"

namespace {

std::vector<cv::Mat> load(const std::string& path, cv::Size size) {
  std::vector<cv::Mat> frames;
  stf::VideoReader reader(path);
  for (cv::Mat f; reader.read(f);) {
    if (size.area() > 0) cv::resize(f, f, size, 0, 0, cv::INTER_LINEAR);
    frames.push_back(f);
  }
  return frames;
}

const std::vector<cv::Mat>& clip_720p() {
  static std::vector<cv::Mat> frames = [] {
    // Through our writer and reader, so the frames carry real codec artefacts.
    std::string tmp = std::filesystem::temp_directory_path() / "stf_bench_face_720p.mp4";
    std::vector<cv::Mat> big = load(std::string(STF_SHARED_DATA_DIR) + "/grid_s1/bbaf2n.mp4", {1280, 720});
    stf::VideoWriter w(tmp, 1280, 720, {});
    for (const cv::Mat& f : big) w.write(f);
    w.finish();
    return load(tmp, {});
  }();
  return frames;
}

const std::vector<cv::Mat>& clip_224() {
  static std::vector<cv::Mat> frames = load(std::string(STF_SHARED_DATA_DIR) + "/vox/00010.mp4", {});
  return frames;
}

void run(benchmark::State& state, const std::vector<cv::Mat>& frames) {
  stf::set_threads(0);
  stf::TrackerOptions opt;
  opt.detect_every = static_cast<int>(state.range(0));
  opt.check_fit = state.range(1) != 0;
  // One tracker for the whole run (model loading is a start-up cost, not a
  // per-frame one); the clip plays on a loop, each pass starting with a cut.
  stf::FaceTracker tracker(opt);
  stf::TrackedFrame tf;
  int64_t done = 0, found = 0;
  for (auto _ : state) {
    for (const cv::Mat& f : frames) {
      tracker.push(f);
      while (tracker.pop(tf)) found += tf.face.found, ++done;
    }
  }
  state.counters["frames_per_s"] = benchmark::Counter(double(done), benchmark::Counter::kIsRate);
  state.counters["detector_runs_pct"] = 100.0 * tracker.stats().detections / std::max<int64_t>(1, tracker.stats().frames);
  state.counters["found_pct"] = 100.0 * found / std::max<int64_t>(1, done);
}

void BM_Track720p(benchmark::State& state) { run(state, clip_720p()); }
void BM_Track224(benchmark::State& state) { run(state, clip_224()); }

// Fits on the 720p clip's frames in turn, in the face's box found on the
// first. Argument: 0 LandmarkModel, 1 dlib::shape_predictor.
void BM_LandmarkFit(benchmark::State& state) {
  const std::vector<cv::Mat>& frames = clip_720p();
  auto model = std::make_shared<const stf::LandmarkModel>();
  const stf::FaceObservation face = stf::find_face(frames[0], model);
  if (!face.found) return state.SkipWithError("no face in the 720p clip");
  const cv::Rect2f b = stf::landmark_bounds(face.landmarks);
  dlib::shape_predictor dlib_model;
  if (state.range(0) == 1) dlib::deserialize(stf::kDefaultLandmarkModel) >> dlib_model;
  const dlib::rectangle r(std::lround(b.x), std::lround(b.y), std::lround(b.x + b.width), std::lround(b.y + b.height));
  size_t i = 0;
  for (auto _ : state) {
    const cv::Mat& f = frames[i++ % frames.size()];
    if (state.range(0) == 0) benchmark::DoNotOptimize(model->fit(f, b));
    else benchmark::DoNotOptimize(dlib_model(dlib::cv_image<dlib::bgr_pixel>(f), r));
  }
}

// paste_back on the photo path (generate's keep-frame path, the mouth
// opened by 25% of its width): the bundled photo scaled by the argument
// (1: 512 px, the model's crop at ~3 photo pixels per crop pixel; 6: 3072
// px, the reduced-scale blend), its crop blurred as the silent rendering,
// the lips darkened by 25 levels as the speaking one. Per call, the frame
// copy included.
void BM_PhotoPasteBack(benchmark::State& state) {
  stf::set_threads(0);
  cv::Mat photo = cv::imread(STF_SOURCE_DIR "/examples/grace_hopper_512x512.jpg");
  if (photo.empty()) return state.SkipWithError("no bundled photo");
  auto model = std::make_shared<const stf::LandmarkModel>();
  const stf::FaceObservation face = stf::find_face(photo, model);
  if (!face.found) return state.SkipWithError("no face in the bundled photo");
  const float k = float(state.range(0));
  cv::resize(photo, photo, cv::Size(), k, k, cv::INTER_CUBIC);
  stf::Landmarks lm;
  for (int i = 0; i < 68; ++i) lm[i] = (face.landmarks[i] + cv::Point2f(0.5f, 0.5f)) * k - cv::Point2f(0.5f, 0.5f);
  const cv::Matx23f to_crop = stf::crop_transform(lm, stf::CropOptions{});
  cv::Mat silent, speaking;
  cv::GaussianBlur(stf::crop_face(photo, to_crop, stf::CropOptions{}.size).image, silent, cv::Size(), 1.5);
  std::vector<cv::Point> lips;
  for (int i = 48; i < 60; ++i) lips.emplace_back(cv::Point2f(to_crop * cv::Vec3f(lm[i].x, lm[i].y, 1.f)));
  cv::Mat lip_mask = cv::Mat::zeros(silent.size(), CV_8U);
  cv::fillPoly(lip_mask, std::vector<std::vector<cv::Point>>{lips}, cv::Scalar(255));
  speaking = silent.clone();
  cv::subtract(silent, cv::Scalar::all(25), speaking, lip_mask);
  cv::Mat frame;
  for (auto _ : state) {
    photo.copyTo(frame);
    stf::paste_back(frame, speaking, to_crop, lm, stf::BlendOptions{}, silent);
    benchmark::DoNotOptimize(frame.data);
  }
}

}  // namespace

BENCHMARK(BM_LandmarkFit)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3);
// Arguments: detect every N frames; the fit check on (1) or off (0).
BENCHMARK(BM_Track720p)->Args({1, 1})->Args({5, 1})->Args({10, 1})->Args({5, 0})->Unit(benchmark::kMillisecond)
    ->UseRealTime()->MinTime(3);
BENCHMARK(BM_Track224)->Args({1, 1})->Args({5, 1})->Args({10, 1})->Args({5, 0})->Unit(benchmark::kMillisecond)
    ->UseRealTime()->MinTime(3);
BENCHMARK(BM_PhotoPasteBack)->Arg(1)->Arg(6)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3);
BENCHMARK_MAIN();
