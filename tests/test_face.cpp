// Face pipeline on real clips: detection and tracking coverage, landmark fits,
// face choice, crops and their placement, the faces command.

#include <dlib/image_processing/shape_predictor.h>
#include <dlib/opencv/cv_image.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "helpers.h"
#include "stf/error.h"
#include "stf/face.h"
#include "stf/media.h"

using namespace stf;
namespace fs = std::filesystem;
using test::read_frames;
using test::track_frames;

namespace {

std::vector<std::string> clips_in(const std::string& folder) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(test::shared_data(folder)))
    if (e.path().extension() == ".mp4" || e.path().extension() == ".mpg") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// The eye line's angle (degrees) of landmarks `lm` mapped by m.
double eye_angle(const Landmarks& lm, const cv::Matx23f& m) {
  cv::Point2f l(0, 0), r(0, 0);
  for (int i = 36; i <= 41; ++i) l += cv::Point2f(m * cv::Vec3f(lm[i].x, lm[i].y, 1)) / 6.0f;
  for (int i = 42; i <= 47; ++i) r += cv::Point2f(m * cv::Vec3f(lm[i].x, lm[i].y, 1)) / 6.0f;
  return std::atan2(r.y - l.y, r.x - l.x) * 180 / M_PI;
}

}  // namespace

TEST(Face, TracksTheFaceInAlmostEveryFrameOfEveryClip) {
  for (const char* folder : {"grid", "vox", "retalking"}) {
    for (const std::string& clip : clips_in(folder)) {
      std::vector<TrackedFrame> out = track_frames(read_frames(clip), TrackerOptions{});
      ASSERT_FALSE(out.empty()) << clip;
      int found = 0;
      for (const TrackedFrame& tf : out) {
        if (!tf.face.found) continue;
        ++found;
        // Mouth points 48-67 lie in the lower half of the face box.
        const cv::Rect2f& b = tf.face.box;
        for (int k = 48; k < 68; ++k) {
          ASSERT_GT(tf.face.landmarks[k].y, b.y + b.height / 2) << clip << " frame " << tf.index;
          ASSERT_TRUE(b.contains(tf.face.landmarks[k]) || cv::norm(tf.face.landmarks[k] - cv::Point2f(b.br())) < 2)
              << clip;
        }
      }
      EXPECT_GE(found, 0.99 * out.size()) << clip << ": face in " << found << " of " << out.size() << " frames";
    }
  }
}

TEST(Face, BlackSegmentHasNoFaceAndTheRestIsTracked) {
  std::vector<cv::Mat> clip = read_frames(test::shared_data("vox/00002.mp4"));
  ASSERT_GT(clip.size(), 60u);
  std::vector<cv::Mat> frames(clip.begin(), clip.begin() + 30);
  for (int i = 0; i < 20; ++i) frames.push_back(cv::Mat::zeros(clip[0].size(), CV_8UC3));
  frames.insert(frames.end(), clip.begin() + 30, clip.begin() + 60);
  std::vector<TrackedFrame> out = track_frames(frames, TrackerOptions{});
  ASSERT_EQ(out.size(), frames.size());
  for (int i = 0; i < int(out.size()); ++i) {
    bool black = i >= 30 && i < 50;
    EXPECT_EQ(out[i].face.found, !black) << "frame " << i;
  }

  // Processing (here: paste back an inverted crop) changes face frames only.
  CropOptions copt;
  for (int i = 0; i < int(out.size()); ++i) {
    cv::Mat before = out[i].frame.clone();
    cv::Mat after = before.clone();
    if (out[i].face.found) {
      cv::Matx23f m = crop_transform(out[i].face.landmarks, copt);
      FaceCrop crop = crop_face(after, m, copt.size);
      cv::Mat changed = cv::Scalar(255, 255, 255) - crop.image;
      paste_back(after, changed, m, out[i].face.landmarks);
    }
    double diff = cv::norm(before, after, cv::NORM_INF);
    if (out[i].face.found) EXPECT_GT(diff, 50) << "frame " << i << " was not processed";
    else EXPECT_EQ(diff, 0) << "frame " << i << " without a face was modified";
  }
}

TEST(Face, SegmentNumberChangesAtASceneCutOnly) {
  std::vector<cv::Mat> a = read_frames(test::shared_data("vox/00002.mp4"));
  std::vector<cv::Mat> b = read_frames(test::shared_data("vox/00473.mp4"));
  ASSERT_GT(a.size(), 40u);
  ASSERT_GT(b.size(), 40u);
  std::vector<cv::Mat> frames(a.begin(), a.begin() + 40);
  for (int i = 0; i < 40; ++i) {
    cv::Mat f;
    cv::resize(b[i], f, a[0].size());
    frames.push_back(f);
  }
  std::vector<TrackedFrame> out = track_frames(frames, TrackerOptions{});
  ASSERT_EQ(out.size(), frames.size());
  for (int i = 1; i < int(out.size()); ++i) {
    ASSERT_TRUE(out[i].face.found) << "frame " << i;
    if (i == 40) EXPECT_GT(out[i].segment, out[i - 1].segment) << "no new segment at the cut";
    else EXPECT_EQ(out[i].segment, out[i - 1].segment) << "frame " << i;
  }
}

TEST(Face, SmoothedLandmarksAreStillOnAStillFace) {
  // A still photo with fresh sensor-like noise each frame: raw landmarks
  // jitter by a pixel or so; the centred smoothing must calm them.
  cv::Mat photo = cv::imread(test::shared_data("faces/london/neutral_001_03.jpg"));
  ASSERT_FALSE(photo.empty());
  cv::RNG rng(7);
  std::vector<cv::Mat> frames;
  for (int i = 0; i < 40; ++i) {
    cv::Mat noise(photo.size(), CV_16SC3);
    rng.fill(noise, cv::RNG::NORMAL, 0, 6);
    cv::Mat noisy;
    photo.convertTo(noisy, CV_16SC3);
    noisy += noise;
    noisy.convertTo(noisy, CV_8UC3);
    frames.push_back(noisy);
  }
  auto jitter = [&](int radius) {
    TrackerOptions opt;
    opt.smooth_radius = radius;
    std::vector<TrackedFrame> out = track_frames(frames, opt);
    double sum = 0;
    int n = 0;
    for (size_t i = 1; i < out.size(); ++i) {
      EXPECT_TRUE(out[i].face.found);
      for (int k = 0; k < 68; ++k) sum += cv::norm(out[i].face.landmarks[k] - out[i - 1].face.landmarks[k]);
      n += 68;
    }
    return sum / n;
  };
  double raw = jitter(0), smooth = jitter(2);
  EXPECT_LT(smooth, 0.5) << "mean frame-to-frame landmark motion in pixels on a still face";
  EXPECT_LT(smooth, raw * 0.8) << "raw " << raw;
}

TEST(Face, FaceSelectPicksTheRequestedPerson) {
  cv::Mat a = cv::imread(test::shared_data("faces/london/neutral_001_03.jpg"));
  cv::Mat b = cv::imread(test::shared_data("faces/london/neutral_002_03.jpg"));
  cv::Mat small_b;
  cv::resize(b, small_b, cv::Size(), 0.7, 0.7);
  cv::Mat pair(a.rows, a.cols + small_b.cols, CV_8UC3, cv::Scalar(128, 128, 128));
  a.copyTo(pair(cv::Rect(0, 0, a.cols, a.rows)));
  small_b.copyTo(pair(cv::Rect(a.cols, 0, small_b.cols, small_b.rows)));
  std::vector<cv::Mat> frames(3, pair);
  auto centre_x = [&](const std::string& how) {
    TrackerOptions opt;
    opt.select = how;
    opt.detector.max_side = 1400;  // both faces large enough for HOG in the widest picture
    std::vector<TrackedFrame> out = track_frames(frames, opt);
    EXPECT_TRUE(out[0].face.found) << how;
    return out[0].face.box.x + out[0].face.box.width / 2;
  };
  EXPECT_LT(centre_x("largest"), a.cols);
  EXPECT_LT(centre_x("index:0"), a.cols);
  EXPECT_GT(centre_x("index:1"), a.cols);
  EXPECT_GT(centre_x("point:" + std::to_string(a.cols + small_b.cols / 2) + ",100"), a.cols);
  EXPECT_THROW(centre_x("tallest"), Error);
  EXPECT_THROW(centre_x("index:-1"), Error);
  EXPECT_THROW(centre_x("index:"), Error);
  // With grey to the right the smaller face sits in the middle of the picture.
  cv::Mat wide(pair.rows, pair.cols + a.cols, CV_8UC3, cv::Scalar(128, 128, 128));
  pair.copyTo(wide(cv::Rect(0, 0, pair.cols, pair.rows)));
  frames.assign(3, wide);
  EXPECT_LT(centre_x("largest"), a.cols);
  EXPECT_GT(centre_x("center"), a.cols);
}

TEST(Face, LargestMeansTheLargerFaceNotTheLargerBox) {
  // Two faces of about one size, the left one larger (tracked: ~118 against
  // ~106 px wide); the detector's box around the bearded right one is the
  // larger of the two.
  cv::Mat left = read_frames(test::shared_data("vox/00473.mp4"))[0];
  cv::Mat right = read_frames(test::shared_data("vox/731200067.mp4"))[0];
  cv::Mat pair(224, 512, CV_8UC3, cv::Scalar(90, 90, 90)), small;
  cv::resize(left, pair(cv::Rect(0, 0, 224, 224)), cv::Size(224, 224));
  cv::resize(right, small, cv::Size(200, 200));
  small.copyTo(pair(cv::Rect(300, 12, 200, 200)));
  std::vector<TrackedFrame> out = track_frames({pair}, TrackerOptions{});
  ASSERT_TRUE(out[0].face.found);
  EXPECT_LT(out[0].face.box.x + out[0].face.box.width / 2, 224);
}

TEST(Face, FacesCommandWritesJsonAndRejectsFacelessInput) {
  std::string dir = test::temp_dir("faces_cli");
  std::string clip = test::shared_data("grid/bbaf2n.mpg");
  test::CliResult r = test::run_cli("faces '" + clip + "' --json '" + dir + "/f.json' --out '" + dir + "/dbg.mp4'");
  ASSERT_EQ(r.status, 0) << r.output;
  nlohmann::json j = nlohmann::json::parse(std::ifstream(dir + "/f.json"));
  ASSERT_EQ(j.size(), 75u);
  EXPECT_EQ(j[10]["frame"], 10);
  EXPECT_EQ(j[10]["box"].size(), 4u);
  EXPECT_EQ(j[10]["landmarks"].size(), 68u);
  EXPECT_TRUE(fs::exists(dir + "/dbg.mp4"));
  EXPECT_NE(r.output.find("75 frames, 75 with a face"), std::string::npos) << r.output;
  // A photo's summary counts in the singular (was "1 frames, 1 with a face, 1 detector runs").
  r = test::run_cli("faces '" STF_SOURCE_DIR "/examples/grace_hopper_512x512.jpg'");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(": 1 frame, 1 with a face, 1 detector run, "), std::string::npos) << r.output;
  // --crop steady draws the crop box where a steady-crop model's crops sit:
  // the same landmarks, another box.
  r = test::run_cli("faces '" + clip + "' --crop steady --out '" + dir + "/dbg_steady.mp4'");
  ASSERT_EQ(r.status, 0) << r.output;
  cv::Mat bounds_frame = read_frames(dir + "/dbg.mp4")[30], steady_frame = read_frames(dir + "/dbg_steady.mp4")[30];
  EXPECT_GT(cv::norm(bounds_frame, steady_frame, cv::NORM_L1) / bounds_frame.total(), 0.5);
  test::expect_one_line_error(test::run_cli("faces '" + clip + "' --crop chin"), "--crop");

  cv::Mat blank(200, 200, CV_8UC3, cv::Scalar(90, 120, 150));
  cv::imwrite(dir + "/wall.png", blank);
  r = test::run_cli("faces '" + dir + "/wall.png' --json '" + dir + "/w.json'");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
  EXPECT_NE(r.output.find("wall.png"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir + "/w.json"));

  r = test::run_cli("faces '" + clip + "' --landmark-model /nonexistent.dat");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("libdlib-data"), std::string::npos) << r.output;

  // Another dlib model in its place: one line that says what it is not.
  const std::string detector_file = test::shared_data("../models/mmod_human_face_detector.dat");
  r = test::run_cli("faces '" + clip + "' --landmark-model '" + detector_file + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
  EXPECT_NE(r.output.find("not a dlib shape predictor"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

// A video with a face, then black frames: those pass through as null (or are
// an error with --strict); a video where no frame has a face is an error.
TEST(Face, FacesCommandOnBlackFramesAndFacelessVideo) {
  std::string dir = test::temp_dir("faces_black");
  std::vector<cv::Mat> clip = read_frames(test::shared_data("vox/00002.mp4"));
  ASSERT_GT(clip.size(), 20u);
  {
    VideoWriter writer(dir + "/cut.mp4", clip[0].cols, clip[0].rows);
    for (int i = 0; i < 20; ++i) writer.write(i < 15 ? clip[i] : cv::Mat::zeros(clip[0].size(), CV_8UC3));
    writer.finish();
    VideoWriter blank(dir + "/blank.mp4", 160, 120);
    for (int i = 0; i < 10; ++i) blank.write(cv::Mat(120, 160, CV_8UC3, cv::Scalar(90, 120, 150)));
    blank.finish();
  }
  test::CliResult r = test::run_cli("faces '" + dir + "/cut.mp4' --json '" + dir + "/cut.json'");
  ASSERT_EQ(r.status, 0) << r.output;
  nlohmann::json j = nlohmann::json::parse(std::ifstream(dir + "/cut.json"));
  ASSERT_EQ(j.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(j[i].is_null(), i >= 15) << "frame " << i;

  r = test::run_cli("faces '" + dir + "/cut.mp4' --strict --json '" + dir + "/strict.json'");
  test::expect_one_line_error(r, "no face in frame 15");
  EXPECT_FALSE(fs::exists(dir + "/strict.json"));

  r = test::run_cli("faces '" + dir + "/blank.mp4' --json '" + dir + "/blank.json'");
  test::expect_one_line_error(r, "blank.mp4");
  EXPECT_FALSE(fs::exists(dir + "/blank.json"));
}

// --box: a fixed face box skips detection; every frame gets landmarks fitted
// in that box (even one the detector would find nothing in).
TEST(Face, FixedBoxSkipsTheDetector) {
  std::vector<cv::Mat> frames = read_frames(test::shared_data("grid/bbaf2n.mpg"));
  frames.resize(20);
  TrackerOptions found;
  std::vector<TrackedFrame> detected = track_frames(frames, found);
  ASSERT_TRUE(detected[0].face.found);
  const cv::Rect2f box = detected[0].face.box;  // the landmarks' bounds on frame 0
  frames[10] = cv::Mat::zeros(frames[0].size(), CV_8UC3);

  TrackerOptions fixed;
  fixed.fixed_box = box;
  TrackStats stats;
  std::vector<TrackedFrame> out = track_frames(frames, fixed, &stats);
  ASSERT_EQ(out.size(), 20u);
  EXPECT_EQ(stats.detections, 0);
  EXPECT_EQ(stats.with_face, 20);
  for (int i = 0; i < 20; ++i) {
    if (i >= 8 && i <= 12) continue;  // the black frame and its smoothing window
    for (int k = 48; k < 68; ++k) {   // mouth points where the detected ones were
      EXPECT_NEAR(out[i].face.landmarks[k].x, detected[i].face.landmarks[k].x, 0.1 * box.width) << i;
      EXPECT_NEAR(out[i].face.landmarks[k].y, detected[i].face.landmarks[k].y, 0.1 * box.height) << i;
    }
  }
  test::expect_one_line_error(test::run_cli("faces '" + test::shared_data("grid/bbaf2n.mpg") + "' --box 100 50 0 80"),
                              "--box");
}

// Boxes a detector finds on the first frame of a GRID clip.
std::vector<cv::Rect2f> first_frame_boxes(const std::string& kind, const std::string& model) {
  DetectorOptions opt;
  opt.kind = kind;
  opt.model = test::shared_data(model);
  return make_face_detector(opt)->detect(read_frames(test::shared_data("grid/bbaf2n.mpg"))[0]);
}

TEST(Face, DnnDetectorFindsTheFace) {
  std::vector<cv::Rect2f> boxes = first_frame_boxes("dnn", "../models/opencv_face_detector_uint8.pb");
  ASSERT_FALSE(boxes.empty());
  EXPECT_GT(boxes[0].width, 40);
  EXPECT_LT(boxes[0].width, 250);
}

// A close-up stretched to 333x251 (the face fills the frame, HOG misses
// it): the SSD network, asked instead, also reports boxes far beyond the
// image. The tracker must never follow a face outside the frame.
TEST(Face, NoFaceIsTrackedOutsideTheFrame) {
  const std::string clip = test::temp_dir("stretched") + "/stretched.mp4";
  {
    VideoWriter writer(clip, 333, 251, {});
    std::vector<cv::Mat> frames = read_frames(test::shared_data("vox/00010.mp4"));
    for (int i = 0; i < 12; ++i) {
      cv::Mat f;
      cv::resize(frames[i], f, cv::Size(333, 251));
      writer.write(f);
    }
    writer.finish();
  }
  std::vector<cv::Mat> frames = read_frames(clip);
  const cv::Rect2f image(0, 0, frames[0].cols, frames[0].rows);
  for (const TrackedFrame& tf : track_frames(frames, TrackerOptions{})) {
    if (!tf.face.found) continue;
    const cv::Rect2f& b = tf.face.box;
    EXPECT_TRUE(image.contains(cv::Point2f(b.x + b.width / 2, b.y + b.height / 2)))
        << "frame " << tf.index << ": face box at " << b.x << "," << b.y << " in a 332x250 frame";
  }
}

// A wide 1080p shot with a small face (vox/00010 at 0.6 scale: the face
// about 70 px across): at the default --detect-size (480) neither HOG nor
// the SSD sees it; the auto detector looks at the whole frame instead and,
// having found the face there, keeps detecting at a size where it shows.
TEST(Face, SmallFaceInAWidePictureIsFound) {
  std::vector<cv::Mat> clip = read_frames(test::shared_data("vox/00010.mp4")), frames;
  const cv::Rect placed(900, 500, 134, 134);
  for (int i = 0; i < 30; ++i) {
    cv::Mat wide(1080, 1920, CV_8UC3, cv::Scalar(90, 100, 110));
    cv::resize(clip[i], wide(placed), placed.size(), 0, 0, cv::INTER_AREA);
    frames.push_back(wide);
  }
  int found = 0;
  for (const TrackedFrame& tf : track_frames(frames, TrackerOptions{})) {
    if (!tf.face.found) continue;
    ++found;
    const cv::Rect2f& b = tf.face.box;
    EXPECT_TRUE(cv::Rect2f(placed).contains(cv::Point2f(b.x + b.width / 2, b.y + b.height / 2)))
        << "frame " << tf.index << ": face box at " << b.x << "," << b.y;
    EXPECT_GT(b.width, 40) << "frame " << tf.index;
  }
  EXPECT_GE(found, 28) << "the small face was missed";
}

// 30 frames of vox/00010 where the detector misses the face on frame 10 and
// on frames 20-25 (blurred as by fast motion).
static std::vector<cv::Mat> frames_with_gaps() {
  std::vector<cv::Mat> frames = read_frames(test::shared_data("vox/00010.mp4"));
  frames.resize(30);
  auto blurred = [](const cv::Mat& f) {
    cv::Mat o;
    cv::GaussianBlur(f, o, cv::Size(), 10);
    return o;
  };
  frames[10] = blurred(frames[10]);
  for (int i = 20; i < 26; ++i) frames[i] = blurred(frames[i]);
  return frames;
}

// A frame where the detector misses the face between frames where it finds
// it (here: blurred as by fast motion) takes the
// landmarks between its neighbours; a longer gap and a cut are not bridged.
TEST(Face, ShortDetectionGapIsBridged) {
  std::vector<cv::Mat> frames = frames_with_gaps();
  TrackerOptions opt;
  opt.detect_every = 1;  // every frame detected: frame 10 alone is missed
  TrackerOptions raw = opt;
  raw.smooth_radius = 0;  // no window: nothing bridged
  std::vector<TrackedFrame> plain = track_frames(frames, raw), out = track_frames(frames, opt);
  ASSERT_EQ(out.size(), 30u);
  ASSERT_FALSE(plain[10].face.found) << "the detector should miss the blurred frame";
  ASSERT_TRUE(plain[9].face.found && plain[11].face.found);
  EXPECT_TRUE(out[10].face.found);
  for (int k = 0; k < 68; ++k) {
    const cv::Point2f mid = (out[9].face.landmarks[k] + out[11].face.landmarks[k]) * 0.5f;
    EXPECT_LT(cv::norm(out[10].face.landmarks[k] - mid), 3.0) << "landmark " << k;
  }
  for (int i = 20; i < 26; ++i) EXPECT_FALSE(out[i].face.found) << "frame " << i << " of a 6-frame gap";

  std::vector<cv::Mat> cut(frames.begin(), frames.begin() + 20);
  cut[10] = cv::Mat::zeros(cut[10].size(), cut[10].type());  // a black frame: a cut, and no face
  for (const TrackedFrame& tf : track_frames(cut, opt))
    if (tf.index == 10) EXPECT_FALSE(tf.face.found) << "a face bridged across a cut";
}

// Around the 6-frame gap (not bridged) the face fades out and back in over
// smooth_radius frames; not next to the bridged frame, nor towards a cut.
TEST(Face, FaceFadesAroundALongerAbsence) {
  std::vector<cv::Mat> frames = frames_with_gaps();
  TrackerOptions opt;
  opt.detect_every = 1;  // radius 2: fades over 2 frames each side of the 6-frame gap
  std::vector<TrackedFrame> out = track_frames(frames, opt);
  ASSERT_EQ(out.size(), 30u);
  const std::map<int, float> expected = {{17, 1.0f}, {18, 2 / 3.0f}, {19, 1 / 3.0f},
                                         {26, 1 / 3.0f}, {27, 2 / 3.0f}, {28, 1.0f}};
  for (const auto& [i, fade] : expected) {
    ASSERT_TRUE(out[i].face.found) << "frame " << i;
    EXPECT_NEAR(out[i].fade, fade, 1e-6) << "frame " << i;
  }
  for (int i = 8; i <= 12; ++i) EXPECT_EQ(out[i].fade, 1.0f) << "frame " << i << " next to the bridged frame";

  std::vector<cv::Mat> cut(frames.begin(), frames.begin() + 20);
  cut[10] = cv::Mat::zeros(cut[10].size(), cut[10].type());  // a black frame: cuts before and after it
  for (const TrackedFrame& tf : track_frames(cut, opt))
    EXPECT_EQ(tf.fade, 1.0f) << "frame " << tf.index << ": faded towards a cut";
}

namespace {
cv::Point2f mouth_centre(const Landmarks& lm) {
  cv::Point2f c(0, 0);
  for (int k = 48; k < 68; ++k) c += lm[k] / 20.0f;
  return c;
}
}  // namespace

// FitCheck confirms the fit of a face and not the same shape moved off it.
TEST(Face, FitCheckConfirmsAFaceAndNotTheSkinBesideIt) {
  std::vector<cv::Mat> frames = read_frames(test::shared_data("vox/00473.mp4"));
  TrackerOptions opt;
  opt.check_fit = false;
  FitCheck check;
  int checked = 0;
  for (const TrackedFrame& tf : track_frames({frames[0], frames[50], frames[100]}, opt)) {
    ASSERT_TRUE(tf.face.found);
    EXPECT_TRUE(check.confirms(tf.frame, tf.face.landmarks)) << "frame " << tf.index;
    // Down by 60% of the face (the chin and the neck), and to one side.
    const cv::Rect2f b = tf.face.box;
    for (cv::Point2f shift : {cv::Point2f(0, 0.6f * b.height), cv::Point2f(0.6f * b.width, 0.3f * b.height)}) {
      Landmarks moved = tf.face.landmarks;
      for (cv::Point2f& p : moved) p += shift;
      EXPECT_FALSE(check.confirms(tf.frame, moved)) << "frame " << tf.index << ", moved by " << shift;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 3);
}

// vox/00002 opens on a face in profile that the HOG detector does not find;
// the SSD's best box gets a frontal fit on the cheek and neck. With the
// check the tracker takes a fit on the lips (at about (88, 112) in frame 0,
// by eye).
TEST(Face, ProfileFitOnTheNeckIsNotTaken) {
  std::vector<cv::Mat> frames = read_frames(test::shared_data("vox/00002.mp4"));
  frames.resize(3);
  const cv::Point2f lips(88, 112);
  TrackerOptions checked, unchecked;
  unchecked.check_fit = false;
  const std::vector<TrackedFrame> with = track_frames(frames, checked), without = track_frames(frames, unchecked);
  auto lips_off = [&](const Landmarks& lm) { return cv::norm(mouth_centre(lm) - lips) / inter_ocular_distance(lm); };
  ASSERT_TRUE(without[0].face.found);
  EXPECT_GT(lips_off(without[0].face.landmarks), 2.5) << "the unchecked fit should show the failure";
  ASSERT_TRUE(with[0].face.found);
  EXPECT_LT(lips_off(with[0].face.landmarks), 0.5);
}

// Further into vox/00002 the face stays turned far to the picture's left,
// and the shape predictor, in the detector's box, fitted a frontal shape
// in stretches of 3-14 frames: the nose in the middle of the jaw line and
// the mouth on the cheek (frames 0-2, 12-24, 40-53 by the measure below:
// the nose tip 0.36-0.97 of the way from jaw point 0 to jaw point 16, the
// turned shape's 0.0-0.3). The check turns those fits down and the tracker
// refits with the box moved towards the face's front.
TEST(Face, FarTurnedFaceGetsTheTurnedShapeNotAFrontalOneOnTheCheek) {
  std::vector<cv::Mat> frames = read_frames(test::shared_data("vox/00002.mp4"));
  frames.resize(60);
  const std::vector<TrackedFrame> out = track_frames(frames, TrackerOptions{});
  int found = 0;
  for (const TrackedFrame& tf : out) {
    if (!tf.face.found) continue;
    ++found;
    const Landmarks& lm = tf.face.landmarks;
    EXPECT_LT((lm[30].x - lm[0].x) / (lm[16].x - lm[0].x), 0.3f) << "frame " << tf.index << ": a frontal shape";
  }
  EXPECT_GE(found, 55);
}

// A close-up photo whose face fills the picture (forehead and chin cut):
// HOG finds nothing and the SSD's one box inside the picture holds part of
// the face (its fit lies on the chin and the neck). The tracker then fits a
// square over the middle of the photo, which the check confirms. Mouth
// centre by eye: (93, 145).
TEST(Face, CloseUpPhotoFillingThePictureIsFound) {
  const cv::Mat photo = cv::imread(test::shared_data("faces/utk/11_0_0_20170110224408700.jpg"));
  ASSERT_FALSE(photo.empty());
  const cv::Point2f mouth(93, 145);
  auto landmarks = std::make_shared<const LandmarkModel>();
  const FaceObservation face = find_face(photo, landmarks);
  ASSERT_TRUE(face.found);
  EXPECT_LT(cv::norm(mouth_centre(face.landmarks) - mouth), 0.3 * inter_ocular_distance(face.landmarks));
  TrackerOptions unchecked;
  unchecked.static_image = true;
  unchecked.check_fit = false;
  const std::vector<TrackedFrame> out = track_frames({photo}, unchecked);
  ASSERT_TRUE(out[0].face.found);
  EXPECT_GT(cv::norm(mouth_centre(out[0].face.landmarks) - mouth), inter_ocular_distance(out[0].face.landmarks))
      << "without the check, the SSD box's fit should show the failure";
}

// LandmarkModel repacks dlib's trees (landmarks.cpp); dlib's own shape
// predictor is the reference. Frames of clips and photos of all sizes, each
// with the tracked face's box and boxes moved, scaled and cut by the
// picture's edge (pixels sampled outside read as 0): every point the same.
TEST(Face, LandmarkFitMatchesDlibsShapePredictor) {
  dlib::shape_predictor reference;
  dlib::deserialize(kDefaultLandmarkModel) >> reference;
  const LandmarkModel model;
  std::vector<cv::Mat> images;
  for (const char* clip : {"vox/00010.mp4", "vox/00473.mp4", "grid/bbaf2n.mpg", "retalking/face1.mp4"}) {
    std::vector<cv::Mat> frames = read_frames(test::shared_data(clip));
    images.push_back(frames[0]);
    images.push_back(frames[frames.size() / 2]);
  }
  for (const char* photo : {"faces/london/neutral_001_03.jpg", "faces/utk/11_0_0_20170110224408700.jpg"})
    images.push_back(cv::imread(test::shared_data(photo)));
  int fits = 0;
  for (const cv::Mat& image : images) {
    ASSERT_FALSE(image.empty());
    TrackerOptions still;
    still.static_image = true;
    const std::vector<TrackedFrame> out = track_frames({image}, still);
    ASSERT_TRUE(out[0].face.found);
    const cv::Rect2f b = landmark_bounds(out[0].face.landmarks);
    for (float dx : {-0.6f, -0.1f, 0.0f, 0.2f})
      for (float scale : {0.7f, 1.0f, 1.4f}) {
        const cv::Rect2f box(b.x + dx * b.width, b.y - 0.5f * dx * b.height, scale * b.width, scale * b.height);
        const Landmarks ours = model.fit(image, box);
        const dlib::full_object_detection theirs =
            reference(dlib::cv_image<dlib::bgr_pixel>(image),
                      dlib::rectangle(std::lround(box.x), std::lround(box.y), std::lround(box.x + box.width),
                                      std::lround(box.y + box.height)));
        for (int k = 0; k < 68; ++k) {
          ASSERT_EQ(ours[k].x, theirs.part(k).x()) << "point " << k << ", fit " << fits;
          ASSERT_EQ(ours[k].y, theirs.part(k).y()) << "point " << k << ", fit " << fits;
        }
        ++fits;
      }
  }
  EXPECT_EQ(fits, 120);
}

TEST(Face, MmodDetectorFindsTheFace) {
  std::vector<cv::Rect2f> boxes = first_frame_boxes("mmod", "../models/mmod_human_face_detector.dat");
  ASSERT_FALSE(boxes.empty());
  EXPECT_GT(boxes[0].width, 40);
  EXPECT_THROW(first_frame_boxes("mmod", "../models/opencv_face_detector.pbtxt"), Error);
}

TEST(Face, DamagedVideoIsStillTracked) {
  // Bytes overwritten inside an MPEG-1 stream: the decoder conceals or skips
  // the damage and every frame still comes out.
  std::string dir = test::temp_dir("damaged");
  std::string bytes = test::read_file(test::shared_data("grid/bbaf2n.mpg"));
  for (size_t k = 0; k < 20; ++k)
    for (size_t i = 0; i < 400; ++i) bytes[bytes.size() / 4 + k * 9000 + i] = static_cast<char>((i * 7919 + k) & 0xff);
  std::ofstream(dir + "/damaged.mpg", std::ios::binary) << bytes;
  test::CliResult r = test::run_cli("faces '" + dir + "/damaged.mpg' --json '" + dir + "/d.json'");
  ASSERT_EQ(r.status, 0) << r.output;
  nlohmann::json j = nlohmann::json::parse(std::ifstream(dir + "/d.json"));
  EXPECT_EQ(j.size(), 75u);
}

TEST(Face, AlignedCropLevelsTheEyes) {
  cv::Mat photo = cv::imread(test::shared_data("faces/london/neutral_001_03.jpg"));
  cv::Mat tilted;
  cv::Point2f centre(photo.cols / 2.0f, photo.rows / 2.0f);
  cv::warpAffine(photo, tilted, cv::getRotationMatrix2D(centre, 12.0, 1.0), photo.size());
  TrackerOptions topt;
  topt.static_image = true;
  std::vector<TrackedFrame> out = track_frames({tilted}, topt);
  ASSERT_TRUE(out[0].face.found);
  const Landmarks& lm = out[0].face.landmarks;
  CropOptions plain, aligned;
  aligned.align = true;
  EXPECT_GT(std::abs(eye_angle(lm, crop_transform(lm, plain))), 8.0);
  EXPECT_LT(std::abs(eye_angle(lm, crop_transform(lm, aligned))), 0.5);
  // And the face lies in it as the upright photo's lies in its own:
  // the box is taken around the levelled face (around the tilted one it was
  // larger, the face in the crop smaller and lower).
  std::vector<TrackedFrame> upright = track_frames({photo}, topt);
  ASSERT_TRUE(upright[0].face.found);
  const cv::Matx23f a = crop_transform(lm, aligned), b = crop_transform(upright[0].face.landmarks, aligned);
  double apart = 0;  // mean distance of the 68 points, crop pixels
  for (int i = 0; i < 68; ++i) {
    const cv::Point2f u = upright[0].face.landmarks[i];
    apart += cv::norm(a * cv::Vec3f(lm[i].x, lm[i].y, 1) - b * cv::Vec3f(u.x, u.y, 1)) / 68;
  }
  EXPECT_LT(apart, 1.0) << "crop pixels of " << CropOptions{}.size;
}

// Without --align, a head tilted sideways by more than 10 degrees is
// turned in its crop to 10 (the model follows the speech on faces rolled up
// to about that), one rolled less is left as it is, and the turn grows with
// the roll without a jump.
TEST(Face, CropTurnsAFaceRolledOver10DegreesTo10) {
  const cv::Mat photo = cv::imread(test::shared_data("faces/london/neutral_001_03.jpg"));
  ASSERT_FALSE(photo.empty());
  const cv::Point2f centre(photo.cols / 2.0f, photo.rows / 2.0f);
  auto roll_in_crop = [&](double degrees, double* in_frame) {
    cv::Mat tilted;
    cv::warpAffine(photo, tilted, cv::getRotationMatrix2D(centre, degrees, 1.0), photo.size(), cv::INTER_LINEAR,
                   cv::BORDER_REPLICATE);
    TrackerOptions topt;
    topt.static_image = true;
    const std::vector<TrackedFrame> out = track_frames({tilted}, topt);
    EXPECT_TRUE(out[0].face.found) << degrees;
    const Landmarks& lm = out[0].face.landmarks;
    *in_frame = eye_angle(lm, cv::Matx23f(1, 0, 0, 0, 1, 0));
    return eye_angle(lm, crop_transform(lm, CropOptions{}));
  };
  double frame = 0;
  for (double degrees : {25.0, -25.0, 15.0}) {
    const double crop = roll_in_crop(degrees, &frame);
    ASSERT_GT(std::abs(frame), 12) << degrees;
    EXPECT_NEAR(std::abs(crop), 10, 0.1) << degrees;
    EXPECT_GT(crop * frame, 0) << "turned the other way";
  }
  const double crop = roll_in_crop(5, &frame);
  ASSERT_LT(std::abs(frame), 9);
  EXPECT_NEAR(crop, frame, 0.01) << "a face rolled less than 10 degrees was turned";
}

// Crops placed by all 68 landmarks grow with the opening mouth (the chin
// drops), so the face in them shrinks: a cue to the mouth that needs no
// audio. Steady crops are placed by the points that do not move with the jaw.
TEST(Face, SteadyCropDoesNotFollowTheMouth) {
  CropOptions bounds, steady;
  steady.placement = CropPlacement::steady;
  // Moving the jaw below the mouth and the mouth itself leaves a steady crop where it was.
  std::vector<TrackedFrame> photo = track_frames({cv::imread(test::shared_data("faces/london/neutral_001_03.jpg"))},
                                                 TrackerOptions{});
  ASSERT_TRUE(photo[0].face.found);
  Landmarks open = photo[0].face.landmarks;
  const float drop = 0.3f * landmark_bounds(open).height;
  for (int i = 4; i <= 12; ++i) open[i].y += drop;
  for (int i = 48; i <= 67; ++i) open[i].y += drop * (i >= 55 && i <= 59 ? 1.0f : 0.5f);
  const cv::Matx23f before = crop_transform(photo[0].face.landmarks, steady), after = crop_transform(open, steady);
  for (int k = 0; k < 6; ++k) EXPECT_EQ(before.val[k], after.val[k]);
  EXPECT_LT(crop_transform(open, bounds)(0, 0), 0.9f * crop_transform(photo[0].face.landmarks, bounds)(0, 0));
  // At rest the two frame the face alike (a model trained on one runs on the other's crops).
  EXPECT_NEAR(before(0, 0), crop_transform(photo[0].face.landmarks, bounds)(0, 0), 0.1f * before(0, 0));

  // On a speaker: the least-squares slope of the eyes' distance in the crop against the mouth's
  // opening (inner lips 62-66), both in crop pixels.
  std::vector<TrackedFrame> clip = track_frames(read_frames(test::shared_data("grid_s1/bbaf2n.mp4")), TrackerOptions{});
  auto slope = [&](const CropOptions& opt) {
    std::vector<double> eyes, opening;
    for (const TrackedFrame& tf : clip) {
      if (!tf.face.found) continue;
      std::vector<cv::Point2f> p;
      cv::transform(std::vector<cv::Point2f>(tf.face.landmarks.begin(), tf.face.landmarks.end()), p,
                    crop_transform(tf.face.landmarks, opt));
      cv::Point2f l(0, 0), r(0, 0);
      for (int i = 36; i <= 41; ++i) l += p[i] / 6.0f;
      for (int i = 42; i <= 47; ++i) r += p[i] / 6.0f;
      eyes.push_back(cv::norm(r - l));
      opening.push_back(cv::norm(p[66] - p[62]));
    }
    const double n = double(eyes.size());
    double me = 0, mo = 0, cov = 0, var = 0;
    for (size_t i = 0; i < eyes.size(); ++i) me += eyes[i] / n, mo += opening[i] / n;
    for (size_t i = 0; i < eyes.size(); ++i) {
      cov += (eyes[i] - me) * (opening[i] - mo);
      var += (opening[i] - mo) * (opening[i] - mo);
    }
    return cov / var;
  };
  ASSERT_GT(clip.size(), 70u);
  const double with_chin = slope(bounds), without = slope(steady);
  EXPECT_LT(with_chin, -0.25) << "the chin-bounded crop shrinks the face as the mouth opens";
  EXPECT_GT(without, 0.3 * with_chin) << "the steady crop should keep the face's scale";
  std::printf("eye distance per unit of opening: bounds %.3f, steady %.3f\n", with_chin, without);
}

// With the speech's opening (crop_transform's `speaking`), a bounds crop's
// bottom follows the speech, not the face's own chin: the frame's mouth
// opening no longer reaches the model (a dubbed video replayed its original
// mouth). Louder speech, a lower chin: a larger box, the face smaller in the
// crop. A chin far below the speech's stays inside the crop (the clamp).
TEST(Face, SpeakingCropPlacesTheChinByTheSpeech) {
  std::vector<TrackedFrame> photo = track_frames({cv::imread(test::shared_data("faces/london/neutral_001_03.jpg"))},
                                                 TrackerOptions{});
  ASSERT_TRUE(photo[0].face.found);
  const Landmarks rest = photo[0].face.landmarks;
  auto dropped = [&](float share) {  // the jaw and the lower lip moved down by share of the landmark box's height
    Landmarks open = rest;
    const float drop = share * landmark_bounds(rest).height;
    for (int i = 4; i <= 12; ++i) open[i].y += drop;
    for (int i = 55; i <= 59; ++i) open[i].y += drop;
    for (int i = 65; i <= 67; ++i) open[i].y += drop;
    return open;
  };
  const CropOptions opt;
  const Landmarks little = dropped(0.02f);
  for (float s : {0.5f, 1.f}) {  // (at 0 this face's own chin already holds the box: the clamp)
    const cv::Matx23f a = crop_transform(rest, opt, s), b = crop_transform(little, opt, s);
    for (int k = 0; k < 6; ++k) EXPECT_EQ(a.val[k], b.val[k]) << "speaking " << s;
  }
  // Louder: a lower chin, a larger box, the face smaller in the crop.
  EXPECT_LT(crop_transform(rest, opt, 1)(0, 0), 0.97f * crop_transform(rest, opt, 0)(0, 0));
  // Without the speech, or with --jaw video: the face's own chin, as before.
  CropOptions video = opt;
  video.speech_jaw = false;
  EXPECT_LT(crop_transform(little, opt, -1)(0, 0), crop_transform(rest, opt, -1)(0, 0));
  for (int k = 0; k < 6; ++k) EXPECT_EQ(crop_transform(little, video, 0.5f).val[k], crop_transform(little, opt, -1).val[k]);
  // A wide-open jaw with a silent speech: its chin still inside the crop, a few pixels above its bottom.
  const Landmarks wide = dropped(0.3f);
  for (float s : {0.f, 1.f}) {
    const cv::Matx23f t = crop_transform(wide, opt, s);
    const cv::Point2f chin(t * cv::Vec3f(wide[8].x, wide[8].y, 1));
    EXPECT_LT(chin.y, 0.98f * float(opt.size)) << "speaking " << s;
  }
}

TEST(Face, CtrlCLeavesNoPartialOutput) {
  std::string dir = test::temp_dir("ctrlc"), log_dir = test::temp_dir("ctrlc_log"), log;
  // SIGINT arrives once the writer's hidden temp file exists, i.e. mid-run.
  auto writing = [](const std::string& folder) { return !fs::is_empty(folder); };
  int status = test::interrupt_cli_when(
      {"faces", test::shared_data("vox/741400163.mp4"), "--out", dir + "/dbg.mp4", "--json", dir + "/f.json"},
      log_dir + "/run.log", writing, dir, &log);
  EXPECT_EQ(status, 2) << log;
  EXPECT_TRUE(fs::is_empty(dir)) << "a partial output was left behind";
  EXPECT_NE(log.find("error: interrupted"), std::string::npos) << log;
}
