// Face pipeline on real clips: detection + tracking coverage, landmark
// sanity and jitter, crop/paste-back identity, black segments, face choice.
#include <dlib/image_processing/shape_predictor.h>
#include <dlib/opencv/cv_image.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>
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

namespace {

std::vector<TrackedFrame> track_frames(const std::vector<cv::Mat>& frames, const TrackerOptions& opt,
                                       TrackStats* stats = nullptr) {
  FaceTracker tracker(opt);
  std::vector<TrackedFrame> out;
  TrackedFrame tf;
  for (const cv::Mat& f : frames) {
    tracker.push(f);
    while (tracker.pop(tf)) out.push_back(tf);
  }
  tracker.finish();
  while (tracker.pop(tf)) out.push_back(tf);
  if (stats) *stats = tracker.stats();
  return out;
}

std::vector<cv::Mat> read_frames(const std::string& path) {
  VideoReader reader(path);
  std::vector<cv::Mat> frames;
  for (cv::Mat f; reader.read(f);) frames.push_back(f);
  return frames;
}

std::vector<std::string> clips_in(const std::string& folder) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(test::shared_data(folder)))
    if (e.path().extension() == ".mp4" || e.path().extension() == ".mpg") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
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

TEST(Face, PasteBackOfTheUnmodifiedCropIsLossless) {
  std::vector<cv::Mat> frames = read_frames(test::shared_data("grid/bbaf2n.mpg"));
  std::vector<TrackedFrame> out = track_frames({frames.begin(), frames.begin() + 10}, TrackerOptions{});
  for (int size : {96, 128}) {
    CropOptions copt;
    copt.size = size;
    for (const TrackedFrame& tf : out) {
      ASSERT_TRUE(tf.face.found);
      cv::Matx23f m = crop_transform(tf.face.landmarks, copt);
      FaceCrop crop = crop_face(tf.frame, m, size);
      cv::Mat pasted = tf.frame.clone();
      paste_back(pasted, crop.image, m, tf.face.landmarks);
      EXPECT_GE(cv::PSNR(pasted, tf.frame), 40.0) << "size " << size << " frame " << tf.index;
      // Outside the mask nothing changes.
      cv::Mat mask = lower_face_mask(tf.face.landmarks, cv::Rect(0, 0, tf.frame.cols, tf.frame.rows));
      cv::Mat diff;
      cv::absdiff(pasted, tf.frame, diff);
      cv::Mat outside = mask <= 0;
      cv::cvtColor(diff, diff, cv::COLOR_BGR2GRAY);
      EXPECT_EQ(cv::countNonZero(diff & outside), 0);
      EXPECT_GT(cv::countNonZero(mask > 0.5f), 300) << "the mask should cover the lower face";
    }
  }
}

// Speech moves the mouth and the chin, not the cheeks: on a face turned
// aside (vox/00010) the mask covers the mouth and the chin and stops within
// 0.35 mouth widths beyond each corner, although the jaw line (the mask's
// outline before) lies farther out on the near side.
TEST(Face, MaskStopsShortOfTheCheeks) {
  std::vector<cv::Mat> frames = read_frames(test::shared_data("vox/00010.mp4"));
  std::vector<TrackedFrame> out = track_frames({frames[35]}, TrackerOptions{});
  ASSERT_TRUE(out[0].face.found);
  const Landmarks& lm = out[0].face.landmarks;
  const cv::Mat mask = lower_face_mask(lm, cv::Rect(0, 0, frames[35].cols, frames[35].rows));
  auto at = [&](cv::Point2f p) { return mask.at<float>(cvRound(p.y), cvRound(p.x)); };
  EXPECT_GT(at((lm[62] + lm[66]) * 0.5f), 0.9f) << "mouth centre";
  EXPECT_GT(at(lm[57] * 0.7f + lm[8] * 0.3f), 0.9f) << "between lower lip and chin";
  const float width = static_cast<float>(cv::norm(lm[54] - lm[48]));
  const cv::Point2f axis = (lm[54] - lm[48]) / width;
  std::vector<cv::Point2f> jaw(lm.begin() + 2, lm.begin() + 15);
  int cheek_points = 0;
  for (float beyond = 0.35f; beyond < 2.0f; beyond += 0.1f)
    for (const cv::Point2f p : {lm[54] + axis * (beyond * width), lm[48] - axis * (beyond * width)}) {
      if (p.x < 0 || p.y < 0 || p.x >= mask.cols || p.y >= mask.rows || cv::pointPolygonTest(jaw, p, false) <= 0) continue;
      ++cheek_points;  // inside the jaw line
      EXPECT_EQ(at(p), 0.0f) << "cheek " << beyond << " mouth widths beyond a corner";
    }
  EXPECT_GE(cheek_points, 3) << "the near cheek should reach beyond 0.35 mouth widths from the corner";
}

// The model's colour errors are local (a green patch over the mouth) or
// fine (a red streak along a lip): the paste-back moves the chroma toward
// the frame's, damps the crop's fine colour, and keeps the mouth that the
// generated crop draws in luminance (here a dark bar).
TEST(Face, ColourMatchRemovesTintsAndStreaksButKeepsTheDrawnMouth) {
  std::vector<cv::Mat> frames = read_frames(test::shared_data("grid/bbaf2n.mpg"));
  std::vector<TrackedFrame> out = track_frames({frames.front()}, TrackerOptions{});
  ASSERT_TRUE(out[0].face.found);
  const cv::Mat& frame = out[0].frame;
  const Landmarks& lm = out[0].face.landmarks;
  CropOptions copt;
  cv::Matx23f m = crop_transform(lm, copt);
  std::vector<cv::Point2f> mouth(lm.begin() + 48, lm.begin() + 68), in_crop;
  cv::transform(mouth, in_crop, m);
  cv::Rect box = cv::boundingRect(in_crop);
  cv::Mat ycc;
  cv::cvtColor(crop_face(frame, m, copt.size).image, ycc, cv::COLOR_BGR2YCrCb);
  ycc(box) -= cv::Scalar(0, 25, 25);  // green, same luminance
  cv::Rect bar(box.x, box.y + box.height / 2 - 1, box.width, 3);
  ycc(bar) -= cv::Scalar(70, 0, 0);   // a dark line between the lips
  cv::Mat generated;
  cv::cvtColor(ycc, generated, cv::COLOR_YCrCb2BGR);

  BlendOptions match, plain;
  plain.color_match = false;
  cv::Mat a = frame.clone(), b = frame.clone();
  paste_back(a, generated, m, lm, match);
  paste_back(b, generated, m, lm, plain);
  auto ycc_mean = [](const cv::Mat& img, const cv::Rect& r) {
    cv::Mat y;
    cv::cvtColor(img(r), y, cv::COLOR_BGR2YCrCb);
    return cv::mean(y);
  };
  const cv::Rect mouth_box = cv::boundingRect(mouth);
  const cv::Scalar f = ycc_mean(frame, mouth_box), pa = ycc_mean(a, mouth_box), pb = ycc_mean(b, mouth_box);
  const double tint_a = std::abs(pa[1] - f[1]) + std::abs(pa[2] - f[2]);
  const double tint_b = std::abs(pb[1] - f[1]) + std::abs(pb[2] - f[2]);
  EXPECT_GT(tint_b, 20) << "the tint should show without colour matching";
  EXPECT_LT(tint_a, 0.5 * tint_b) << "the tint was not corrected";
  cv::Matx23f back;
  cv::invertAffineTransform(m, back);
  auto in_frame = [&](const cv::Rect& r) {  // a rectangle of the crop in frame pixels, inside the frame
    std::vector<cv::Point2f> corners{{float(r.x), float(r.y)}, {float(r.br().x), float(r.br().y)}}, moved;
    cv::transform(corners, moved, back);
    return cv::Rect(cv::Point(moved[0]), cv::Point(moved[1])) & cv::Rect(0, 0, frame.cols, frame.rows);
  };
  const cv::Rect bar_in_frame = in_frame(bar);
  ASSERT_FALSE(bar_in_frame.empty());
  EXPECT_GT(ycc_mean(frame, bar_in_frame)[0] - ycc_mean(a, bar_in_frame)[0], 30) << "the drawn mouth was lost";

  // A red streak two crop pixels high along the upper lip, same luminance.
  cv::cvtColor(crop_face(frame, m, copt.size).image, ycc, cv::COLOR_BGR2YCrCb);
  const cv::Rect streak(box.x, box.y + 1, box.width, 2);
  ycc(streak) += cv::Scalar(0, 40, 0);
  cv::cvtColor(ycc, generated, cv::COLOR_YCrCb2BGR);
  a = frame.clone();
  b = frame.clone();
  paste_back(a, generated, m, lm, match);
  paste_back(b, generated, m, lm, plain);
  const cv::Rect streak_in_frame = in_frame(streak);
  ASSERT_FALSE(streak_in_frame.empty());
  const double red_b = ycc_mean(b, streak_in_frame)[1] - ycc_mean(frame, streak_in_frame)[1];
  const double red_a = ycc_mean(a, streak_in_frame)[1] - ycc_mean(frame, streak_in_frame)[1];
  EXPECT_GT(red_b, 15) << "the streak should show without colour matching";
  EXPECT_LT(std::abs(red_a), 0.3 * red_b) << "the streak was not damped";

  // Skin drawn over the lower lip (a mouth the model draws higher up, as
  // on retalking/face3 dubbed with speech2.wav, frame 20): the frame's old
  // lip colour must not stay on it as a red patch.
  cv::cvtColor(crop_face(frame, m, copt.size).image, ycc, cv::COLOR_BGR2YCrCb);
  const cv::Scalar skin = cv::mean(ycc(cv::Rect(box.x, box.br().y + 3, box.width, 4)));
  const cv::Rect lower_lip(box.x, box.br().y - box.height / 3, box.width, box.height / 3);
  ycc(lower_lip).setTo(skin);
  cv::cvtColor(ycc, generated, cv::COLOR_YCrCb2BGR);
  a = frame.clone();
  paste_back(a, generated, m, lm, match);
  const cv::Rect lip_in_frame = in_frame(lower_lip);
  ASSERT_FALSE(lip_in_frame.empty());
  const double lips_cr = ycc_mean(frame, lip_in_frame)[1], out_cr = ycc_mean(a, lip_in_frame)[1];
  ASSERT_GT(lips_cr - skin[1], 6) << "the lip should be redder than the skin";
  EXPECT_LT(out_cr - skin[1], 0.7 * (lips_cr - skin[1])) << "the old lip's colour stayed: Cr " << out_cr << ", lip "
                                                          << lips_cr << ", skin " << skin[1];
}

// On a high-resolution photo the upscaled crop loses the skin's texture:
// the detail transfer brings the frame's own texture back where the
// generated face agrees with it, and not where it was re-rendered.
namespace {

// The bundled photo, its tracked landmarks and its default (96 px) crop
// transform; found is false when no face was tracked.
struct PhotoFace {
  cv::Mat image;
  Landmarks lm;
  cv::Matx23f to_crop;
  bool found = false;
};

PhotoFace bundled_photo_face() {
  PhotoFace p;
  p.image = cv::imread(STF_SOURCE_DIR "/examples/grace_hopper_512x512.jpg");
  if (p.image.empty()) return p;
  std::vector<TrackedFrame> out = track_frames({p.image}, TrackerOptions{});
  p.found = out[0].face.found;
  p.lm = out[0].face.landmarks;
  p.to_crop = crop_transform(p.lm, CropOptions{});
  return p;
}

// The eye line's angle (degrees) of landmarks `lm` mapped by m.
double eye_angle(const Landmarks& lm, const cv::Matx23f& m) {
  cv::Point2f l(0, 0), r(0, 0);
  for (int i = 36; i <= 41; ++i) l += cv::Point2f(m * cv::Vec3f(lm[i].x, lm[i].y, 1)) / 6.0f;
  for (int i = 42; i <= 47; ++i) r += cv::Point2f(m * cv::Vec3f(lm[i].x, lm[i].y, 1)) / 6.0f;
  return std::atan2(r.y - l.y, r.x - l.x) * 180 / M_PI;
}

// 255 inside the photo's outer lip polygon (points 48-59) in its crop of `size`.
cv::Mat lips_in_crop(const PhotoFace& p, cv::Size size) {
  std::vector<cv::Point> lips;
  for (int i = 48; i < 60; ++i) lips.emplace_back(cv::Point2f(p.to_crop * cv::Vec3f(p.lm[i].x, p.lm[i].y, 1.f)));
  cv::Mat mask = cv::Mat::zeros(size, CV_8U);
  cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{lips}, cv::Scalar(255));
  return mask;
}

// A stand-in for the model's rendering of the photo with silent audio
// (paste_back's `silent`): the photo's crop, blurred.
cv::Mat soft_rendering(const PhotoFace& p) {
  cv::Mat soft;
  cv::GaussianBlur(crop_face(p.image, p.to_crop, CropOptions{}.size).image, soft, cv::Size(), 1.5);
  return soft;
}

// `image` (the photo, or the photo changed) pasted back on the keep-frame
// path with the lips of its soft rendering darkened by 30 levels: an
// opening of about 30% of the mouth's width.
cv::Mat opened_photo(const PhotoFace& p, const cv::Mat& image) {
  PhotoFace q = p;
  q.image = image;
  const cv::Mat silent = soft_rendering(q);
  cv::Mat dark = silent.clone();
  cv::subtract(silent, cv::Scalar::all(30), dark, lips_in_crop(p, silent.size()));
  cv::Mat out = image.clone();
  paste_back(out, dark, p.to_crop, p.lm, BlendOptions{}, silent);
  return out;
}

}  // namespace

TEST(Face, DetailTransferKeepsSkinTextureButNotTheOldMouth) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  const cv::Mat& photo = p.image;
  const Landmarks& lm = p.lm;
  const cv::Matx23f& m = p.to_crop;  // 96 px, ~2.5x smaller than this face
  FaceCrop crop = crop_face(photo, m, CropOptions{}.size);
  BlendOptions plain, detail;
  plain.detail = false;
  plain.sharpen = 0;
  cv::Mat a = photo.clone(), b = photo.clone();
  paste_back(a, crop.image, m, lm, plain);
  paste_back(b, crop.image, m, lm, detail);
  EXPECT_GT(cv::PSNR(b, photo), cv::PSNR(a, photo) + 2) << "texture not restored";

  // A re-rendered mouth: the crop's mouth replaced by a flat colour.
  std::vector<cv::Point2f> mouth;
  for (int i = 48; i < 68; ++i) mouth.push_back(lm[i]);
  std::vector<cv::Point2f> in_crop;
  cv::transform(mouth, in_crop, m);
  cv::Mat flat = crop.image.clone();
  cv::rectangle(flat, cv::boundingRect(in_crop), cv::Scalar(90, 100, 160), cv::FILLED);
  cv::Mat c = photo.clone();
  paste_back(c, flat, m, lm, detail);
  cv::Rect core = cv::boundingRect(mouth);
  core = cv::Rect(core.x + core.width / 4, core.y + core.height / 4, core.width / 2, core.height / 2);
  cv::Scalar mean_o, std_o, mean_c, std_c;
  cv::meanStdDev(photo(core), mean_o, std_o);
  cv::meanStdDev(c(core), mean_c, std_c);
  EXPECT_LT(std_c[0] + std_c[1] + std_c[2], 0.3 * (std_o[0] + std_o[1] + std_o[2])) << "the old mouth shows through";
}

// A re-rendered mouth with fine structure (teeth-like stripes two crop
// pixels wide) comes out with more contrast when sharpened, at the same
// mean; the unmodified crop, where the frame's own detail is used, comes
// back as close to the photo as without.
TEST(Face, SharpenAddsDetailToTheRedrawnMouthOnly) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  const Landmarks& lm = p.lm;
  FaceCrop crop = crop_face(p.image, p.to_crop, CropOptions{}.size);
  BlendOptions off, on;
  off.sharpen = 0;
  ASSERT_GT(on.sharpen, 0) << "sharpening should be on by default";
  auto paste = [&](const cv::Mat& generated, const BlendOptions& opt) {
    cv::Mat out = p.image.clone();
    paste_back(out, generated, p.to_crop, lm, opt);
    return out;
  };
  EXPECT_GT(cv::PSNR(paste(crop.image, on), p.image), cv::PSNR(paste(crop.image, off), p.image) - 1);

  std::vector<cv::Point2f> mouth(lm.begin() + 48, lm.begin() + 68), in_crop;
  cv::transform(mouth, in_crop, p.to_crop);
  const cv::Rect lips = cv::boundingRect(in_crop);
  cv::Mat teeth = crop.image.clone();
  for (int x = lips.x; x < lips.br().x; ++x)
    teeth(cv::Rect(x, lips.y, 1, lips.height)).setTo(x / 2 % 2 ? cv::Scalar(170, 170, 170) : cv::Scalar(110, 110, 110));
  const cv::Mat a = paste(teeth, off), b = paste(teeth, on);
  cv::Rect core = cv::boundingRect(mouth);
  core = cv::Rect(core.x + core.width / 4, core.y + core.height / 4, core.width / 2, core.height / 2);
  cv::Scalar mean_a, sd_a, mean_b, sd_b;
  cv::meanStdDev(a(core), mean_a, sd_a);
  cv::meanStdDev(b(core), mean_b, sd_b);
  EXPECT_GT(sd_b[1], 1.3 * sd_a[1]) << "the mouth is not sharper";
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(mean_a[c], mean_b[c], 3.0) << "sharpening changed the mouth's brightness";

  // Stripes of colour at one luminance (blue / green, Y ~129): the model's
  // colour specks; the sharpening must not raise them (colour matching,
  // which mutes them, off).
  cv::Mat specks = crop.image.clone();
  for (int x = lips.x; x < lips.br().x; ++x)
    specks(cv::Rect(x, lips.y, 1, lips.height)).setTo(x / 2 % 2 ? cv::Scalar(200, 120, 120) : cv::Scalar(60, 147, 120));
  off.color_match = on.color_match = false;
  cv::Mat ycc_a, ycc_b;
  cv::cvtColor(paste(specks, off)(core), ycc_a, cv::COLOR_BGR2YCrCb);
  cv::cvtColor(paste(specks, on)(core), ycc_b, cv::COLOR_BGR2YCrCb);
  cv::meanStdDev(ycc_a, mean_a, sd_a);
  cv::meanStdDev(ycc_b, mean_b, sd_b);
  ASSERT_GT(sd_a[2], 5) << "the stripes should show in Cb";
  EXPECT_LT(sd_b[2], 1.1 * sd_a[2]) << "sharpening amplified colour specks";
}

// In a video the model redraws the reference frame's mouth, soft: where the
// generated face agrees with the reference at a few crop pixels' scale, the
// reference's own fine lines come back at the frame's resolution; where the
// model drew another mouth, nothing of the reference shows.
TEST(Face, ReferenceDetailRestoresTheRedrawnMouthsLinesOnly) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  const Landmarks& lm = p.lm;
  const int S = CropOptions{}.size;
  std::vector<cv::Point2f> mouth(lm.begin() + 48, lm.begin() + 68);
  cv::Rect core = cv::boundingRect(mouth);
  core = cv::Rect(core.x + core.width / 4, core.y + core.height / 4, core.width / 2, core.height / 2);
  // The reference frame: the photo with teeth-like stripes 4 frame pixels wide over the mouth.
  cv::Mat teeth = p.image.clone();
  const cv::Rect lips = cv::boundingRect(mouth);
  for (int x = lips.x; x < lips.br().x; ++x)
    teeth(cv::Rect(x, lips.y, 1, lips.height)).setTo(x / 4 % 2 ? cv::Scalar(200, 200, 200) : cv::Scalar(80, 80, 80));
  const float k = 2.5f;  // the photo's face is ~2.5x the crop's
  cv::Mat reference;
  cv::warpAffine(teeth, reference, p.to_crop * k, cv::Size(int(k * S), int(k * S)), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  // The model's rendering of it: the 96 px crop, blurred (the stripes, 1.6 crop pixels wide, nearly gone).
  cv::Mat soft;
  cv::GaussianBlur(crop_face(teeth, p.to_crop, S).image, soft, cv::Size(), 1.0);
  BlendOptions off, on;
  off.reference_detail = false;
  ASSERT_TRUE(on.reference_detail) << "reference detail should be on by default";
  auto paste = [&](const cv::Mat& generated, const BlendOptions& opt) {
    cv::Mat out = p.image.clone();
    paste_back(out, generated, p.to_crop, lm, opt, {}, reference);
    return out;
  };
  const cv::Mat a = paste(soft, off), b = paste(soft, on);
  EXPECT_GT(cv::PSNR(b(core), teeth(core)), cv::PSNR(a(core), teeth(core)) + 3) << "the reference's lines did not come back";
  cv::Scalar mean_a, sd_a, mean_b, sd_b, mean_t, sd_t;
  cv::meanStdDev(a(core), mean_a, sd_a);
  cv::meanStdDev(b(core), mean_b, sd_b);
  cv::meanStdDev(teeth(core), mean_t, sd_t);
  EXPECT_GT(sd_b[1], 0.6 * sd_t[1]) << "the stripes' contrast: " << sd_b[1] << " of " << sd_t[1];
  EXPECT_GT(sd_b[1], 1.5 * sd_a[1]);

  // The reference frame's head 4 frame pixels to the left (a stripe's width): its stripes are moved onto the
  // generated face's, not laid over them out of phase.
  cv::Mat shifted;
  cv::warpAffine(teeth, shifted, cv::Matx23f(1, 0, -4, 0, 1, 0), teeth.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  cv::warpAffine(shifted, reference, p.to_crop * k, reference.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  const cv::Mat e = paste(soft, on);
  EXPECT_GT(cv::PSNR(e(core), teeth(core)), cv::PSNR(a(core), teeth(core)) + 2) << "the moved reference's lines are out of place";

  // The model drew a closed, dark mouth instead: the reference's stripes must not show.
  cv::Mat closed = crop_face(p.image, p.to_crop, S).image;
  std::vector<cv::Point2f> in_crop;
  cv::transform(mouth, in_crop, p.to_crop);
  cv::rectangle(closed, cv::boundingRect(in_crop), cv::Scalar(60, 60, 110), cv::FILLED);
  const cv::Mat c = paste(closed, off), d = paste(closed, on);
  cv::meanStdDev(c(core), mean_a, sd_a);
  cv::meanStdDev(d(core), mean_b, sd_b);
  EXPECT_LT(sd_b[1], sd_a[1] + 3) << "the reference's mouth shows through";
  EXPECT_GT(cv::PSNR(c, d), 40) << "another mouth: the paste should not change";
}

// A face smaller in the frame than in the crop (a wide shot; here the photo
// at a third of its size, 0.8 frame pixels per crop pixel) is blended on its
// region enlarged, so the redrawn mouth's lines come back from the reference
// as on a large face (before, nothing did: the model's blur stayed); outside
// the mask nothing changes.
TEST(Face, SmallFaceTakesTheReferencesLinesToo) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  const int S = CropOptions{}.size;
  cv::Mat image;
  cv::resize(p.image, image, cv::Size(), 1 / 3.0, 1 / 3.0, cv::INTER_AREA);
  Landmarks lm;
  for (int i = 0; i < 68; ++i) lm[i] = (p.lm[i] + cv::Point2f(0.5f, 0.5f)) / 3.f - cv::Point2f(0.5f, 0.5f);
  const cv::Matx23f m = crop_transform(lm, CropOptions{});
  const float scale = 1 / std::sqrt(std::abs(m(0, 0) * m(1, 1) - m(0, 1) * m(1, 0)));
  ASSERT_LT(scale, 1.0f);
  // The reference frame: teeth-like stripes 2 frame pixels wide over the mouth.
  std::vector<cv::Point2f> mouth(lm.begin() + 48, lm.begin() + 68);
  const cv::Rect lips = cv::boundingRect(mouth);
  cv::Mat teeth = image.clone();
  for (int x = lips.x; x < lips.br().x; ++x)
    teeth(cv::Rect(x, lips.y, 1, lips.height)).setTo(x / 2 % 2 ? cv::Scalar(200, 200, 200) : cv::Scalar(80, 80, 80));
  const cv::Mat reference = crop_face(teeth, m, S).image;  // as generate hands it over: the crop itself
  cv::Mat soft;  // the model's rendering: the stripes (2.5 crop pixels) blurred away
  cv::GaussianBlur(reference, soft, cv::Size(), 1.5);
  BlendOptions off, on;
  off.reference_detail = false;
  on.teeth = off.teeth = false;
  auto paste = [&](const BlendOptions& opt) {
    cv::Mat out = image.clone();
    paste_back(out, soft, m, lm, opt, {}, reference);
    return out;
  };
  const cv::Mat a = paste(off), b = paste(on);
  const cv::Rect core(lips.x + lips.width / 4, lips.y + lips.height / 4, lips.width / 2, lips.height / 2);
  cv::Scalar mean_a, sd_a, mean_b, sd_b, mean_t, sd_t;
  cv::meanStdDev(a(core), mean_a, sd_a);
  cv::meanStdDev(b(core), mean_b, sd_b);
  cv::meanStdDev(teeth(core), mean_t, sd_t);
  EXPECT_GT(cv::PSNR(b(core), teeth(core)), cv::PSNR(a(core), teeth(core)) + 2) << "the reference's lines did not come back";
  EXPECT_GT(sd_b[1], 1.5 * sd_a[1]) << "the stripes' contrast: " << sd_b[1] << " against " << sd_a[1] << " of " << sd_t[1];
  const cv::Mat outside = lower_face_mask(lm, cv::Rect(0, 0, image.cols, image.rows)) <= 0;
  cv::Mat changed;
  cv::absdiff(b, image, changed);
  cv::cvtColor(changed, changed, cv::COLOR_BGR2GRAY);
  EXPECT_GT(cv::countNonZero(changed), 20) << "the blend changed nothing";
  EXPECT_EQ(cv::countNonZero(changed & outside), 0) << "pixels outside the mask changed";
}

// A face larger than max_scale frame pixels per crop pixel is blended at
// that scale and only the change is scaled up: the result must match the
// blend at full size (the photo at 4x: ~10 frame pixels per crop pixel),
// on both paths, the opened mouth included (it is drawn at full size), and
// leave everything outside the mask untouched.
TEST(Face, LargeFaceBlendedAtReducedScaleMatchesFullSize) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  cv::Mat big;
  cv::resize(p.image, big, cv::Size(), 4, 4, cv::INTER_CUBIC);
  Landmarks lm;
  for (int i = 0; i < 68; ++i) lm[i] = (p.lm[i] + cv::Point2f(0.5f, 0.5f)) * 4.f - cv::Point2f(0.5f, 0.5f);
  const cv::Matx23f m = crop_transform(lm, CropOptions{});
  const float scale = 1 / std::sqrt(std::abs(m(0, 0) * m(1, 1) - m(0, 1) * m(1, 0)));
  ASSERT_GT(scale, 1.5f * BlendOptions{}.max_scale);
  const cv::Mat crop = crop_face(big, m, CropOptions{}.size).image;
  cv::Mat silent, spoken = crop.clone();
  cv::GaussianBlur(crop, silent, cv::Size(), 1.5);
  std::vector<cv::Point2f> mouth(lm.begin() + 48, lm.begin() + 68), in_crop;
  cv::transform(mouth, in_crop, m);
  const cv::Rect lips = cv::boundingRect(in_crop);
  cv::rectangle(spoken, lips, cv::Scalar(40, 30, 60), cv::FILLED);  // an open mouth
  const cv::Mat outside = lower_face_mask(lm, cv::Rect(0, 0, big.cols, big.rows)) <= 0;
  cv::Rect around = cv::boundingRect(mouth);  // the lips, and as much above and below
  around = cv::Rect(around.x, around.y - around.height, around.width, 3 * around.height);
  for (const cv::Mat& given_silent : {cv::Mat(), silent}) {
    // On the video path the teeth painted into the dark opening come after
    // either blend, at full size; their edges move with the blend's by a
    // pixel, so the mouth's worst difference is taken without them.
    BlendOptions full, reduced;
    full.max_scale = std::numeric_limits<float>::infinity();
    full.teeth = reduced.teeth = false;
    cv::Mat a = big.clone(), b = big.clone();
    paste_back(a, spoken, m, lm, full, given_silent);
    paste_back(b, spoken, m, lm, reduced, given_silent);
    const std::string path = given_silent.empty() ? "video path" : "keep-frame path";
    cv::Mat d, changed;
    cv::absdiff(a, big, changed);
    ASSERT_GT(cv::mean(changed, outside == 0)[2], 5) << path << ": the blend changed nothing";
    cv::absdiff(a, b, d);
    EXPECT_LT(cv::mean(d, outside == 0)[0], 1.5) << path;
    EXPECT_LT(cv::mean(d, outside == 0)[2], 1.5) << path;
    double worst = 0;  // the keep-frame path's opening drawn at the reduced scale: 77 levels at the lips' edges
    cv::minMaxLoc(d(around).reshape(1), nullptr, &worst);
    EXPECT_LT(worst, 20) << path << ": the mouth differs from the full-size blend";
    cv::absdiff(b, big, changed);
    cv::cvtColor(changed, changed, cv::COLOR_BGR2GRAY);
    EXPECT_EQ(cv::countNonZero(changed & outside), 0) << path << ": pixels outside the mask changed";
  }
  // The video path with a reference (stripes over the lips, the crop at 4x its size; the model's soft
  // rendering of it): its detail is taken at the reduced scale as at full size.
  const int S = CropOptions{}.size;
  cv::Mat teeth = big.clone(), reference, soft;
  const cv::Rect lips_big = cv::boundingRect(mouth);
  for (int x = lips_big.x; x < lips_big.br().x; ++x)
    teeth(cv::Rect(x, lips_big.y, 1, lips_big.height)).setTo(x / 16 % 2 ? cv::Scalar(200, 200, 200) : cv::Scalar(80, 80, 80));
  cv::warpAffine(teeth, reference, m * 4.f, cv::Size(4 * S, 4 * S), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  cv::GaussianBlur(crop_face(teeth, m, S).image, soft, cv::Size(), 1.0);
  BlendOptions full, reduced, without;
  full.max_scale = without.max_scale = std::numeric_limits<float>::infinity();
  without.reference_detail = false;
  cv::Mat a = big.clone(), b = big.clone(), c = big.clone(), d;
  paste_back(a, soft, m, lm, full, {}, reference);
  paste_back(b, soft, m, lm, reduced, {}, reference);
  paste_back(c, soft, m, lm, without, {}, reference);
  cv::absdiff(a, c, d);
  ASSERT_GT(cv::mean(d, outside == 0)[1], 3) << "the reference changed nothing";
  cv::absdiff(a, b, d);
  for (int ch = 0; ch < 3; ++ch) EXPECT_LT(cv::mean(d, outside == 0)[ch], 1.5) << "with a reference";
}

// In a video the model draws an opening the reference frame does not have
// as a dark hole; paste_back paints the upper teeth over its top (session
// 38), in the video's own teeth's colour where they were seen, and no
// further than a limit. Not where the
// opening is a thin line, nor where the dark starts well below the upper lip
// (teeth drawn above it), nor with teeth off. The photo stands in for a
// video frame; the generated crop is its crop with a dark ellipse between
// the lips, `height` of the mouth's width high, its top `below` under the
// inner upper lip.
TEST(Face, DarkRedrawnOpeningGetsUpperTeeth) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  const Landmarks& lm = p.lm;
  const float w = static_cast<float>(cv::norm(lm[54] - lm[48]));
  const float x_mid = (lm[60].x + lm[64].x) / 2, y_lip = lm[62].y;
  auto generated = [&](float height, float below) {
    cv::Mat drawn = p.image.clone();
    const cv::Point2f centre(x_mid, y_lip + (below + height / 2) * w);
    cv::ellipse(drawn, cv::RotatedRect(centre, cv::Size2f(0.8f * w, height * w), 0), cv::Scalar(30, 25, 45), cv::FILLED,
                cv::LINE_AA);
    cv::Mat soft;
    cv::GaussianBlur(crop_face(drawn, p.to_crop, CropOptions{}.size).image, soft, cv::Size(), 0.7);
    return soft;
  };
  auto paste = [&](const cv::Mat& g, bool teeth, const SeenTeeth& seen = {}) {
    BlendOptions opt;
    opt.teeth = teeth;
    cv::Mat out = p.image.clone();
    paste_back(out, g, p.to_crop, lm, opt, {}, {}, seen);
    return out;
  };
  auto grey_in = [&](const cv::Mat& img, float from, float to) {  // rows from/to (shares of w) under the upper lip
    cv::Mat grey;
    cv::cvtColor(img, grey, cv::COLOR_BGR2GRAY);
    return cv::mean(grey(cv::Rect(cv::Point(int(x_mid - 0.1f * w), int(y_lip + from * w)),
                                  cv::Point(int(x_mid + 0.1f * w), int(y_lip + to * w)))))[0];
  };
  cv::Mat grey_photo;
  cv::cvtColor(p.image, grey_photo, cv::COLOR_BGR2GRAY);
  const double skin = cv::mean(grey_photo(cv::Rect(cv::Point(lm[31]), cv::Point(int(lm[35].x), int(lm[51].y)))))[0];

  const cv::Mat open = generated(0.25f, 0);
  const cv::Mat with = paste(open, true), without = paste(open, false);
  EXPECT_LT(grey_in(without, 0.02f, 0.06f), 0.5 * skin) << "the drawn opening is not dark";
  EXPECT_GT(grey_in(with, 0.02f, 0.06f), 0.8 * skin) << "no teeth at the top of the opening (skin " << skin << ")";
  EXPECT_LT(grey_in(with, 0.18f, 0.23f), 0.5 * skin) << "the teeth fill the opening";
  cv::Mat d, changed;
  cv::absdiff(with, without, d);
  cv::cvtColor(d, changed, cv::COLOR_BGR2GRAY);
  const cv::Rect teeth_box = cv::boundingRect(changed > 3);
  EXPECT_LT(teeth_box.width, 0.85 * w) << "teeth beyond the opening";
  EXPECT_LT(teeth_box.y + teeth_box.height, y_lip + 0.2f * w) << "teeth below the opening's upper part";
  const cv::Mat outside = lower_face_mask(lm, cv::Rect(0, 0, p.image.cols, p.image.rows)) <= 0;
  EXPECT_EQ(cv::countNonZero(changed & outside), 0) << "pixels outside the mask changed";

  // The video's own teeth: darker and bluer than the first guess.
  SeenTeeth seen;
  seen.frames = 100;
  seen.share = 0.7f;
  seen.tint = cv::Vec3f(1.3f, 1.f, 0.8f);  // B, G, R per unit of luminance
  const cv::Mat own = paste(open, true, seen);
  EXPECT_NEAR(grey_in(own, 0.03f, 0.06f), 0.7 * skin, 0.12 * skin);
  const cv::Scalar c = cv::mean(own(cv::Rect(cv::Point(int(x_mid - 0.1f * w), int(y_lip + 0.03f * w)),
                                              cv::Point(int(x_mid + 0.1f * w), int(y_lip + 0.06f * w)))));
  EXPECT_GT(c[0], c[2] + 10) << "not the seen teeth's colour";

  // A thin line, a dark that starts under drawn teeth: nothing painted.
  for (auto [height, below] : {std::pair{0.03f, 0.f}, std::pair{0.25f, 0.15f}}) {
    const cv::Mat g = generated(height, below);
    EXPECT_EQ(cv::norm(paste(g, true), paste(g, false), cv::NORM_INF), 0) << height << " high, " << below << " below";
  }

  // paste_back returns how far the opening shows teeth; a limit holds the
  // painting back (generate's for an opening one frame long: 0), and
  // paint_teeth on paste_back's result without teeth paints the same.
  cv::Mat out = p.image.clone();
  EXPECT_GT(paste_back(out, open, p.to_crop, lm, BlendOptions{}), 0.9f);
  out = p.image.clone();
  EXPECT_EQ(paste_back(out, generated(0.03f, 0), p.to_crop, lm, BlendOptions{}), 0.f);
  SeenTeeth limited;
  limited.limit = 0;
  EXPECT_EQ(cv::norm(paste(open, true, limited), without, cv::NORM_INF), 0) << "teeth beyond the limit";
  limited.limit = 0.5f;
  EXPECT_LT(grey_in(paste(open, true, limited), 0.02f, 0.06f), grey_in(with, 0.02f, 0.06f) - 10);
  out = without.clone();
  EXPECT_GT(paint_teeth(out, lm, SeenTeeth{}), 0.9f);
  EXPECT_EQ(cv::norm(out, with, cv::NORM_INF), 0) << "paint_teeth differs from paste_back's";
}

// The model sometimes draws an opening whose top is ragged (retalking/face3
// and face5 dubbed: teeth painted along it came out as a zigzag, or with a
// jagged lower edge). The painted row of teeth is one smooth arc whatever
// the drawn top: its top and bottom edges, column by column over the
// middle of the mouth, lie close to a parabola (RMS: 0.65 and 0.26 pixels
// on this 72-pixel mouth; the teeth that followed the drawn top, before
// session 49: 1.67 and 0.89).
TEST(Face, RaggedRedrawnOpeningGetsAnEvenRowOfTeeth) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  const Landmarks& lm = p.lm;
  const float w = static_cast<float>(cv::norm(lm[54] - lm[48]));
  const float x_mid = (lm[60].x + lm[64].x) / 2, y_lip = lm[62].y;
  // A dark opening 0.25 of the width high, its top a zigzag of +-0.05 of
  // the width, a step every 0.16.
  cv::Mat drawn = p.image.clone();
  std::vector<cv::Point> outline;
  for (int k = 0; k <= 5; ++k)
    outline.emplace_back(int(x_mid + (-0.4f + 0.16f * k) * w), int(y_lip + (0.02f + (k % 2 ? 0.05f : -0.05f)) * w));
  for (int k = 20; k >= 0; --k) {
    const float x = -0.4f + 0.04f * float(k);
    outline.emplace_back(int(x_mid + x * w), int(y_lip + (0.03f + 0.22f * std::sqrt(1 - x * x / 0.16f)) * w));
  }
  cv::fillPoly(drawn, std::vector<std::vector<cv::Point>>{outline}, cv::Scalar(30, 25, 45), cv::LINE_AA);
  cv::Mat generated;
  cv::GaussianBlur(crop_face(drawn, p.to_crop, CropOptions{}.size).image, generated, cv::Size(), 0.7);
  auto paste = [&](bool teeth) {
    BlendOptions opt;
    opt.teeth = teeth;
    cv::Mat out = p.image.clone();
    paste_back(out, generated, p.to_crop, lm, opt);
    return out;
  };
  cv::Mat d, painted;
  cv::absdiff(paste(true), paste(false), d);
  cv::cvtColor(d, painted, cv::COLOR_BGR2GRAY);
  painted = painted > 40;
  ASSERT_GT(cv::countNonZero(painted), 0.02 * w * w) << "no teeth painted";
  // Per column over the middle half of the opening: the painted teeth's top and bottom rows.
  std::vector<double> xs, tops, bottoms;
  for (int x = int(x_mid - 0.2f * w); x <= int(x_mid + 0.2f * w); ++x) {
    int first = -1, last = -1;
    for (int y = 0; y < painted.rows; ++y)
      if (painted.at<uint8_t>(y, x)) last = y, first = first < 0 ? y : first;
    if (first < 0) continue;
    xs.push_back(x - x_mid);
    tops.push_back(first);
    bottoms.push_back(last);
  }
  ASSERT_GT(xs.size(), 0.3 * w) << "teeth over too few columns";
  auto rms_off_parabola = [&](const std::vector<double>& y) {
    cv::Mat A(int(xs.size()), 3, CV_64F), b(int(xs.size()), 1, CV_64F), c;
    for (size_t k = 0; k < xs.size(); ++k) {
      A.at<double>(int(k), 0) = 1;
      A.at<double>(int(k), 1) = xs[k];
      A.at<double>(int(k), 2) = xs[k] * xs[k];
      b.at<double>(int(k)) = y[k];
    }
    cv::solve(A, b, c, cv::DECOMP_SVD);
    return cv::norm(A * c - b) / std::sqrt(double(xs.size()));
  };
  const double top_off = rms_off_parabola(tops), bottom_off = rms_off_parabola(bottoms);
  std::printf("teeth edges off a parabola (RMS): top %.2f, bottom %.2f pixels; mouth %.0f pixels wide\n", top_off,
              bottom_off, w);
  EXPECT_LT(top_off, 1.0);
  EXPECT_LT(bottom_off, 0.6);
}

// TeethObserver: a frame whose mouth is open by over 15% of its width
// counts by its brightest tenth between the inner lips, if that is as
// bright as teeth; a closed mouth, or an open one without teeth, does not.
TEST(Face, TeethObserverLearnsTheTeethFromOpenMouths) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  cv::Mat grey;
  cv::cvtColor(p.image, grey, cv::COLOR_BGR2GRAY);
  const double skin = cv::mean(grey(cv::Rect(cv::Point(p.lm[31]), cv::Point(int(p.lm[35].x), int(p.lm[51].y)))))[0];
  TeethObserver closed;
  closed.observe(p.image, p.lm);
  EXPECT_EQ(closed.seen().frames, 0) << "the photo's mouth is closed";

  // The lower inner lip moved down by 30% of the width; the inside painted dark, then its upper half white-blue.
  Landmarks lm = p.lm;
  const float w = static_cast<float>(cv::norm(lm[54] - lm[48]));
  for (int i : {65, 66, 67}) lm[i].y += 0.3f * w;
  std::vector<cv::Point> inside;
  for (int i = 60; i < 68; ++i) inside.emplace_back(lm[i]);
  cv::Mat dark = p.image.clone();
  cv::fillPoly(dark, std::vector<std::vector<cv::Point>>{inside}, cv::Scalar(20, 20, 30));
  TeethObserver none;
  for (int k = 0; k < 3; ++k) none.observe(dark, lm);
  EXPECT_EQ(none.seen().frames, 0) << "a dark inside taken for teeth";
  cv::Mat teeth = dark.clone(), upper = cv::Mat::zeros(dark.size(), CV_8U);
  cv::fillPoly(upper, std::vector<std::vector<cv::Point>>{inside}, cv::Scalar(255));
  const cv::Rect box = cv::boundingRect(inside);
  upper.rowRange(box.y + box.height / 2, upper.rows).setTo(0);
  teeth.setTo(cv::Scalar(230, 215, 200), upper);
  TeethObserver seen;
  for (int k = 0; k < 3; ++k) seen.observe(teeth, lm);
  const SeenTeeth s = seen.seen();
  ASSERT_EQ(s.frames, 3);
  const double lum = 0.114 * 230 + 0.587 * 215 + 0.299 * 200;
  EXPECT_NEAR(s.share, lum / skin, 0.03 * lum / skin);
  EXPECT_NEAR(s.tint[0] * lum, 230, 4);
  EXPECT_NEAR(s.tint[2] * lum, 200, 4);
}

// The model draws a person's lips paler than they are (retalking/face5's
// red lips came out mauve): where the generated crop draws lips, redder
// than its skin but only a third as much as the frame's are, the pasted
// lips take the frame's lips' colour, with the generated luminance.
TEST(Face, RedrawnLipsKeepTheirColour) {
  VideoReader reader(test::shared_data("retalking/face5.mp4"));
  cv::Mat first;
  ASSERT_TRUE(reader.read(first));
  std::vector<TrackedFrame> out = track_frames({first}, TrackerOptions{});
  ASSERT_TRUE(out[0].face.found);
  const cv::Mat& frame = out[0].frame;
  const Landmarks& lm = out[0].face.landmarks;
  CropOptions copt;
  const cv::Matx23f m = crop_transform(lm, copt);
  const std::vector<cv::Point2f> frame_pts(lm.begin(), lm.end());
  std::vector<cv::Point2f> crop_pts;
  cv::transform(frame_pts, crop_pts, m);
  // The lips (outer polygon less the inner) and the skin between nose and mouth.
  auto lips_of = [](cv::Size size, const std::vector<cv::Point2f>& p) {
    std::vector<cv::Point> outer(p.begin() + 48, p.begin() + 60), inner(p.begin() + 60, p.begin() + 68);
    cv::Mat mask = cv::Mat::zeros(size, CV_8U);
    cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{outer}, cv::Scalar(255));
    cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{inner}, cv::Scalar(0));
    cv::erode(mask, mask, cv::Mat());
    return mask;
  };
  auto skin_of = [](const std::vector<cv::Point2f>& p) { return cv::Rect(cv::Point(p[31]), cv::Point(p[35].x, p[51].y)); };
  auto ycc = [](const cv::Mat& bgr) {
    cv::Mat y;
    cv::cvtColor(bgr, y, cv::COLOR_BGR2YCrCb);
    return y;
  };
  cv::Mat g = ycc(crop_face(frame, m, copt.size).image);
  const cv::Mat crop_lips = lips_of(g.size(), crop_pts);
  const cv::Scalar crop_skin = cv::mean(g(skin_of(crop_pts)));
  for (int y = 0; y < g.rows; ++y)
    for (int x = 0; x < g.cols; ++x)
      if (crop_lips.at<uchar>(y, x)) {
        cv::Vec3b& p = g.at<cv::Vec3b>(y, x);
        p[0] = cv::saturate_cast<uchar>(p[0] - 20);  // drawn darker: the frame's colour is not simply kept
        for (int c = 1; c < 3; ++c) p[c] = cv::saturate_cast<uchar>(crop_skin[c] + (p[c] - crop_skin[c]) / 3.0);
      }
  cv::Mat generated;
  cv::cvtColor(g, generated, cv::COLOR_YCrCb2BGR);

  BlendOptions opt;
  opt.teeth = false;
  cv::Mat pasted = frame.clone();
  paste_back(pasted, generated, m, lm, opt);
  const cv::Mat lips = lips_of(frame.size(), frame_pts);
  const cv::Rect skin = skin_of(frame_pts);
  const cv::Scalar before = cv::mean(ycc(frame), lips), after = cv::mean(ycc(pasted), lips);
  const double red_before = before[1] - cv::mean(ycc(frame)(skin))[1];
  const double red_after = after[1] - cv::mean(ycc(pasted)(skin))[1];
  ASSERT_GT(red_before, 15) << "face5's lips should be red";
  EXPECT_GT(red_after, 0.8 * red_before) << "the lips lost their red";
  EXPECT_LT(red_after, 1.2 * red_before) << "the lips got redder than the person's";
  EXPECT_LT(after[0], before[0] - 5) << "the drawn (darker) lips were lost: Y " << after[0] << ", frame " << before[0];
}

// A black-and-white picture stays black and white: the model's colour (here
// green lips) and the painted teeth's warmth are left out where the frame
// has no colour, on the video path and on a photo's; the colour picture's
// blend still takes both.
TEST(Face, GreyPictureGetsNoColour) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  const Landmarks& lm = p.lm;
  cv::Mat grey;
  cv::cvtColor(p.image, grey, cv::COLOR_BGR2GRAY);
  cv::cvtColor(grey, grey, cv::COLOR_GRAY2BGR);
  std::vector<cv::Point2f> mouth(lm.begin() + 48, lm.begin() + 68), in_crop;
  cv::transform(mouth, in_crop, p.to_crop);
  const cv::Rect lips = cv::boundingRect(in_crop);
  // The model's rendering: the colour crop, green lips, a dark opening between them.
  cv::Mat generated = crop_face(p.image, p.to_crop, CropOptions{}.size).image;
  generated(lips) += cv::Scalar(0, 40, 0);
  const cv::Rect gap(lips.x + lips.width / 6, lips.y + lips.height * 2 / 5, lips.width * 2 / 3, lips.height / 4);
  generated(gap).setTo(cv::Scalar(30, 25, 35));
  cv::Mat silent;
  cv::GaussianBlur(crop_face(p.image, p.to_crop, CropOptions{}.size).image, silent, cv::Size(), 1.5);
  auto chroma = [](const cv::Mat& img) {  // the largest difference between two channels of a pixel
    double worst = 0;
    for (int y = 0; y < img.rows; ++y)
      for (int x = 0; x < img.cols; ++x) {
        const cv::Vec3b v = img.at<cv::Vec3b>(y, x);
        worst = std::max(worst, double(std::max({v[0], v[1], v[2]}) - std::min({v[0], v[1], v[2]})));
      }
    return worst;
  };
  for (const cv::Mat& given_silent : {cv::Mat(), silent}) {
    const std::string path = given_silent.empty() ? "video path" : "photo path";
    cv::Mat out = grey.clone(), colour = p.image.clone();
    paste_back(out, generated, p.to_crop, lm, BlendOptions{}, given_silent);
    paste_back(colour, generated, p.to_crop, lm, BlendOptions{}, given_silent);
    cv::Mat changed;
    cv::absdiff(out, grey, changed);
    ASSERT_GT(cv::norm(changed, cv::NORM_INF), 20) << path << ": the blend changed nothing";
    EXPECT_LE(chroma(out), 3) << path;
    const cv::Mat lips_out = colour(cv::boundingRect(mouth));
    EXPECT_GT(chroma(lips_out), 20) << path << ": the colour picture lost its colour";
  }
}

// On the keep-frame path the speech's darkening is multiplied by
// motion_gain, its brightening and its change in colour are not, and
// silence stays the photo.
TEST(Face, MotionGainScalesTheSpeechsDarkeningOnly) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  const cv::Mat& photo = p.image;
  const Landmarks& lm = p.lm;
  const cv::Mat silent = soft_rendering(p);
  std::vector<cv::Point2f> mouth(lm.begin() + 48, lm.begin() + 68), in_crop;
  cv::transform(mouth, in_crop, p.to_crop);
  const cv::Rect inner = cv::boundingRect(in_crop);
  const cv::Rect box = cv::boundingRect(mouth);
  const cv::Rect core(box.x + box.width * 3 / 8, box.y + box.height * 3 / 8, box.width / 4, box.height / 4);
  auto paste = [&](const cv::Mat& generated, float gain) {
    BlendOptions opt;
    opt.motion_gain = gain;
    opt.mouth_open = 0;  // the brightness alone
    cv::Mat out = photo.clone();
    paste_back(out, generated, p.to_crop, lm, opt, silent);
    return out;
  };
  auto grey = [&](const cv::Mat& img) {
    cv::Scalar s = cv::mean(img(core));
    return (s[0] + s[1] + s[2]) / 3;
  };
  cv::Mat darker = silent.clone();  // an opening: 30 levels darker
  darker(inner) -= cv::Scalar(30, 30, 30);
  const double drop1 = grey(photo) - grey(paste(darker, 1)), drop2 = grey(photo) - grey(paste(darker, 2));
  EXPECT_GT(drop1, 20);
  EXPECT_NEAR(drop2 / drop1, 2.0, 0.3) << "drops " << drop1 << ", " << drop2;

  cv::Mat brighter = silent.clone();  // lips pressed together, paler
  brighter(inner) += cv::Scalar(20, 20, 20);
  const double rise1 = grey(paste(brighter, 1)) - grey(photo), rise2 = grey(paste(brighter, 2)) - grey(photo);
  EXPECT_GT(rise1, 12);
  EXPECT_NEAR(rise2, rise1, 1.0) << "the brightening was amplified";

  cv::Mat tinted = silent.clone();  // the same luminance, another colour
  tinted(inner) += cv::Scalar(30, 0, 30);
  tinted(inner) -= cv::Scalar(0, 21, 0);
  cv::Mat diff;
  cv::absdiff(paste(tinted, 1), paste(tinted, 3), diff);
  const cv::Scalar d = cv::mean(diff(core));
  EXPECT_LT(d[0] + d[1] + d[2], 3.0) << "the colour change was amplified";
  EXPECT_GT(cv::PSNR(paste(silent, 3), photo), 50) << "silence should still give the photo";
}

// The model draws its opening where its faces have the mouth, which on a
// photo can lie a tenth of the mouth's width below the lips (a thin-lipped
// smile, faces/london/smiling_172_08): darkening_shift finds how far, and
// photo_change moves the speech's change onto the photo's lips.
TEST(Face, SpeechsDarkeningIsMovedOntoThePhotosLips) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  const Landmarks lm = to_crop_space(p.lm, p.to_crop);
  const cv::Mat silent = soft_rendering(p);
  const cv::Mat lips = lips_in_crop(p, silent.size());
  const float width = static_cast<float>(cv::norm(lm[54] - lm[48]));
  const cv::Moments m = cv::moments(std::vector<cv::Point2f>(lm.begin() + 48, lm.begin() + 60));
  const double centre = m.m01 / m.m00;
  auto darkened = [&](double down) {  // the lips' polygon, `down` mouth widths lower, 30 levels darker
    const int px = static_cast<int>(std::lround(down * width));
    const cv::Rect kept(0, 0, lips.cols, lips.rows - px);
    cv::Mat below = cv::Mat::zeros(lips.size(), CV_8U);
    lips(kept).copyTo(below(kept + cv::Point(0, px)));
    cv::Mat dark = silent.clone();
    cv::subtract(silent, cv::Scalar::all(30), dark, below);
    return dark;
  };
  auto darkening_centre = [&](const cv::Mat& img) {  // in mouth widths below the lips' centre
    cv::Mat a, b;
    cv::cvtColor(silent, a, cv::COLOR_BGR2GRAY);
    cv::cvtColor(img, b, cv::COLOR_BGR2GRAY);
    double sum = 0, sum_y = 0;
    for (int y = 0; y < a.rows; ++y)
      for (int x = 0; x < a.cols; ++x) {
        const int d = a.at<uchar>(y, x) - b.at<uchar>(y, x);
        if (d <= 4) continue;
        sum += d;
        sum_y += d * y;
      }
    EXPECT_GT(sum, 0) << "nothing darkened";
    return (sum_y / std::max(1e-9, sum) - centre) / width;
  };
  const cv::Mat low = darkened(0.12);
  EXPECT_NEAR(darkening_centre(low), 0.12, 0.03) << "the test's own darkening";
  const cv::Point2f by = darkening_shift({low, low}, silent, lm);
  EXPECT_NEAR(by.y / width, -0.07, 0.03);  // to within a twentieth of the width
  EXPECT_NEAR(by.x / width, 0.0, 0.03);    // the photo's mouth is level
  EXPECT_NEAR(darkening_centre(photo_change(low, silent, by, lm)), 0.05, 0.03) << "moved onto the lips";

  EXPECT_EQ(darkening_shift({darkened(0.03)}, silent, lm), cv::Point2f(0, 0)) << "near enough";
  EXPECT_NEAR(darkening_shift({darkened(0.4)}, silent, lm).y / width, -0.2, 1e-3) << "at most a fifth of the width";
  EXPECT_EQ(darkening_shift({silent, silent}, silent, lm), cv::Point2f(0, 0)) << "silence moves nothing";
  const cv::Mat same = photo_change(silent, silent, by, lm);
  EXPECT_EQ(cv::norm(same, silent, cv::NORM_INF), 0) << "no change, nothing moved";
}

// The model's change to a photo is often lopsided: one half of the upper lip
// darkened into a blotch (the demo photo saying "Hopper"). photo_change
// gives both halves the mean of the change and its mirror image across the
// lips' middle: the blotch at half its depth on either side, the darkening
// over the whole crop as it was.
TEST(Face, PhotosSpeechChangeIsTheSameOnBothHalvesOfTheMouth) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  const Landmarks lm = to_crop_space(p.lm, p.to_crop);
  const cv::Mat silent = soft_rendering(p);
  const float width = static_cast<float>(cv::norm(lm[54] - lm[48]));
  const cv::Point2f left_lip = lm[50], right_lip = lm[52];  // the upper lip's peaks, either side of its middle
  cv::Mat blotch = silent.clone();
  cv::Mat disc = cv::Mat::zeros(silent.size(), CV_8U);
  cv::circle(disc, left_lip, std::max(2, int(std::lround(0.1 * width))), cv::Scalar(255), cv::FILLED);
  cv::subtract(silent, cv::Scalar::all(30), blotch, disc);
  auto darkening = [&](const cv::Mat& img, cv::Point2f at) {  // mean over a 3x3 patch, grey levels
    const cv::Rect r(cv::Point(at) - cv::Point(1, 1), cv::Size(3, 3));
    const cv::Scalar d = cv::mean(silent(r)) - cv::mean(img(r));
    return 0.114 * d[0] + 0.587 * d[1] + 0.299 * d[2];
  };
  auto total = [&](const cv::Mat& img) {
    cv::Mat d;
    cv::subtract(silent, img, d, cv::noArray(), CV_32FC3);
    return cv::sum(d)[1];
  };
  const cv::Mat out = photo_change(blotch, silent, {0, 0}, lm);
  EXPECT_NEAR(darkening(blotch, left_lip), 30, 1) << "the test's own blotch";
  EXPECT_NEAR(darkening(blotch, right_lip), 0, 1);
  EXPECT_NEAR(darkening(out, left_lip), 15, 3) << "half the blotch stays";
  EXPECT_NEAR(darkening(out, right_lip), 15, 3) << "and half is mirrored onto the other side";
  EXPECT_NEAR(total(out), total(blotch), 0.05 * total(blotch)) << "as much darkening as before";
  EXPECT_EQ(cv::norm(photo_change(silent, silent, {0, 0}, lm), silent, cv::NORM_INF), 0) << "no change stays none";
}

// On the keep-frame path the lips darkened by the speech open the photo's
// mouth: by mouth_open % of the mouth's width per grey level, as dlib's
// landmark fit of the result measures it (the inner lips apart, the lower
// lip further down than the upper lip goes up, the chin almost still); the
// darkening's gain gives way to the opening, and under a wide one the
// model's change is gone; a brightening or silence opens nothing, and
// outside the mask nothing changes.
TEST(Face, DarkenedLipsOpenThePhotosMouth) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  const cv::Mat& photo = p.image;
  const Landmarks& lm = p.lm;
  const cv::Mat silent = soft_rendering(p);
  const cv::Mat lips = lips_in_crop(p, silent.size());
  auto with_lips = [&](double change) {  // the silent rendering with the lips `change` levels brighter
    cv::Mat out = silent.clone();
    cv::add(silent, cv::Scalar::all(change), out, lips);  // saturated: a negative change darkens
    return out;
  };
  auto paste = [&](const cv::Mat& generated, float open, float gain = BlendOptions{}.motion_gain) {
    BlendOptions opt;
    opt.mouth_open = open;
    opt.motion_gain = gain;
    cv::Mat out = photo.clone();
    paste_back(out, generated, p.to_crop, lm, opt, silent);
    return out;
  };
  auto fit = [](const cv::Mat& img) {
    const std::vector<TrackedFrame> t = track_frames({img}, TrackerOptions{});
    EXPECT_TRUE(t[0].face.found);
    return t[0].face.landmarks;
  };
  const float width = static_cast<float>(cv::norm(lm[54] - lm[48]));
  const cv::Mat dark = with_lips(-20);
  const Landmarks closed = fit(paste(dark, 0)), opened = fit(paste(dark, 1));
  const float h = 0.20f * width;  // 1% of the width per level
  auto gap = [](const Landmarks& l) { return l[66].y - l[62].y; };
  EXPECT_NEAR(gap(opened) - gap(closed), h, 0.35f * h) << "mouth width " << width;
  EXPECT_GT(opened[57].y - closed[57].y, 0.5f * h) << "the lower lip should go down";
  EXPECT_LT(std::abs(opened[51].y - closed[51].y), 0.4f * h) << "the upper lip moves less";
  EXPECT_LT(std::abs(opened[8].y - closed[8].y), 0.25f * h) << "the chin moves little";
  const Landmarks half = fit(paste(dark, 0.5f));
  EXPECT_NEAR(gap(half) - gap(closed), h / 2, 0.35f * h / 2);

  // The darkening's own gain (motion_gain) applies where the mouth opens
  // little and falls to 1 once it opens by a tenth of its width.
  EXPECT_EQ(cv::norm(paste(dark, 1, 1), paste(dark, 1, 3), cv::NORM_INF), 0) << "a wide opening, amplified";
  const cv::Mat faint = with_lips(-3);  // opens by 3% of the width
  EXPECT_GT(cv::norm(paste(faint, 1, 1), paste(faint, 1, 3), cv::NORM_INF), 2) << "a faint darkening not amplified";

  // Under a wide opening the model's change itself is gone (it blotched
  // the lips the opening moves): stripes of +-12 levels over the darkened
  // lips, the same mean darkening, give the same result.
  cv::Mat striped = dark.clone();
  for (int y = 0; y < striped.rows; ++y) {
    cv::Mat row = striped.row(y);
    if (y % 4 < 2) cv::add(row, cv::Scalar::all(12), row, lips.row(y));
    else cv::subtract(row, cv::Scalar::all(12), row, lips.row(y));
  }
  cv::Mat diff;
  cv::absdiff(paste(dark, 1), paste(striped, 1), diff);
  cv::Mat grey_diff;
  cv::cvtColor(diff, grey_diff, cv::COLOR_BGR2GRAY);
  EXPECT_LT(cv::countNonZero(grey_diff > 6), 30) << "the stripes showed";  // 3 when written; 919 with them kept
  cv::absdiff(paste(with_lips(20), 1), paste(with_lips(20), 0), diff);
  EXPECT_EQ(cv::countNonZero(diff.reshape(1)), 0) << "a brightening opened the mouth";
  EXPECT_GT(cv::PSNR(paste(silent, 1), photo), 50) << "silence should give the photo";
  cv::absdiff(paste(dark, 1), photo, diff);
  cv::Mat changed;  // 8-bit sum of the channels' differences: > 0 where any changed
  cv::transform(diff, changed, cv::Matx13f(1, 1, 1));
  const cv::Mat outside = lower_face_mask(lm, cv::Rect(0, 0, photo.cols, photo.rows)) <= 0;
  EXPECT_GT(cv::countNonZero(changed), 500);
  EXPECT_EQ(cv::countNonZero(changed & outside), 0) << "pixels outside the mask changed";
}

// A mouth open in the photo keeps its own inside, teeth and all, where the
// speech darkens it: the model's darkening smudged the teeth of smiling
// photos (faces/utk); the opening stretches that inside instead.
TEST(Face, PhotosOpenMouthKeepsItsOwnInside) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  Landmarks lm = p.lm;  // the lips 15% of the mouth's width apart, teeth between them
  const float w = static_cast<float>(cv::norm(lm[54] - lm[48]));
  for (int i : {55, 56, 57, 58, 59, 65, 66, 67}) lm[i].y += 0.15f * w;
  auto inner_mask = [](const Landmarks& l, cv::Size size) {
    std::vector<cv::Point> inner;
    for (int i = 60; i < 68; ++i) inner.emplace_back(l[i]);
    cv::Mat mask = cv::Mat::zeros(size, CV_8U);
    cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{inner}, cv::Scalar(255));
    return mask;
  };
  cv::Mat photo = p.image.clone();
  photo.setTo(cv::Scalar(215, 222, 228), inner_mask(lm, photo.size()));
  PhotoFace q = p;
  q.image = photo;
  const cv::Mat silent = soft_rendering(q);
  cv::Mat dark = silent.clone();  // the speech darkens the inside by 40 levels
  cv::subtract(silent, cv::Scalar::all(40), dark, inner_mask(to_crop_space(lm, p.to_crop), silent.size()));
  BlendOptions opt;
  opt.mouth_open = 0;  // the darkening alone
  cv::Mat out = photo.clone();
  paste_back(out, dark, p.to_crop, lm, opt, silent);
  cv::Mat core;  // the inside, away from its edges
  cv::erode(inner_mask(lm, photo.size()), core, cv::Mat(), cv::Point(-1, -1), static_cast<int>(std::ceil(0.04f * w)));
  ASSERT_GT(cv::countNonZero(core), 20);
  cv::Mat a, b;
  cv::cvtColor(photo, a, cv::COLOR_BGR2GRAY);
  cv::cvtColor(out, b, cv::COLOR_BGR2GRAY);
  EXPECT_NEAR(cv::mean(b, core)[0], cv::mean(a, core)[0], 2.0) << "the teeth darkened";
}

// `photo` (p's image with its mouth painted open, its landmarks `lm`)
// pasted back on the keep-frame path with silent speech and a least opening
// of 30% of the mouth's width: the mouth opened by that much more.
cv::Mat opened_further(const PhotoFace& p, const Landmarks& lm, const cv::Mat& photo) {
  PhotoFace q = p;
  q.image = photo;
  const cv::Mat silent = soft_rendering(q);
  BlendOptions opt;
  opt.speech_shape.least_open = 0.3f;
  cv::Mat out = photo.clone();
  paste_back(out, silent, p.to_crop, lm, opt, silent);
  return out;
}

// A photo smiling with its teeth: as its mouth opens further, the teeth
// keep their height, and the space opened below them is dark (the inside
// was stretched: the teeth grew into long bars, faces/london/smiling_006_08).
TEST(Face, PhotosOpenedMouthKeepsItsTeethsHeight) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  Landmarks lm = p.lm;  // the lips 15% of the mouth's width apart
  const float w = static_cast<float>(cv::norm(lm[54] - lm[48]));
  for (int i : {55, 56, 57, 58, 59, 65, 66, 67}) lm[i].y += 0.15f * w;
  std::vector<cv::Point> inner;
  for (int i = 60; i < 68; ++i) inner.emplace_back(lm[i]);
  cv::Mat inside = cv::Mat::zeros(p.image.size(), CV_8U);
  cv::fillPoly(inside, std::vector<std::vector<cv::Point>>{inner}, cv::Scalar(255));
  // White teeth over the gap's top 70%, the dark mouth below them.
  const float top = 0.5f * (lm[61].y + lm[63].y), bottom = 0.5f * (lm[65].y + lm[67].y);
  const int teeth_end = static_cast<int>(std::lround(top + 0.7f * (bottom - top)));
  cv::Mat photo = p.image.clone();
  cv::Mat upper = inside.clone(), lower = inside.clone();
  upper.rowRange(teeth_end, upper.rows).setTo(0);
  lower.rowRange(0, teeth_end).setTo(0);
  photo.setTo(cv::Scalar(225, 230, 235), upper);
  photo.setTo(cv::Scalar(30, 30, 45), lower);
  // Down the mouth's middle: how many rows are white (the teeth), and the lowest dark one (the inside's bottom).
  const int x = static_cast<int>(std::lround(0.5f * (lm[62].x + lm[66].x)));
  const int y0 = static_cast<int>(lm[51].y), y1 = static_cast<int>(lm[57].y + 0.3f * w);
  auto white_rows = [&](const cv::Mat& img) {
    int n = 0;
    for (int y = y0; y < y1; ++y) {
      const cv::Vec3b c = img.at<cv::Vec3b>(y, x);
      n += c[0] > 190 && c[1] > 190 && c[2] > 190;
    }
    return n;
  };
  auto lowest_dark = [&](const cv::Mat& img) {
    int lowest = -1;
    for (int y = y0; y < y1; ++y) {
      const cv::Vec3b c = img.at<cv::Vec3b>(y, x);
      if (c[0] + c[1] + c[2] < 3 * 70) lowest = y;
    }
    return lowest;
  };
  const cv::Mat out = opened_further(p, lm, photo);
  const int teeth = white_rows(photo);
  ASSERT_GT(teeth, 0.07 * w) << "the test's own teeth";
  EXPECT_NEAR(white_rows(out), teeth, 0.25 * teeth) << "the teeth's height changed";
  EXPECT_GT(lowest_dark(out), lowest_dark(photo) + 0.15 * w) << "the mouth did not open";
}

// A photo whose mouth is open and dark inside (no teeth showing, a baby's,
// faces/utk/1_1_2_20161219221237927): opened further, it stays dark across
// its whole width. (Taken column by column, the photo's own inside was kept
// in the middle and teeth were painted at the nearly closed corners, like
// fangs.)
TEST(Face, PhotosDarkOpenMouthGetsNoTeethAtItsCorners) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  Landmarks lm = p.lm;  // the lips 15% of the mouth's width apart in the middle, 5% half way to the corners
  const float w = static_cast<float>(cv::norm(lm[54] - lm[48]));
  for (int i : {56, 57, 58, 66}) lm[i].y += 0.15f * w;
  for (int i : {55, 59, 65, 67}) lm[i].y += 0.05f * w;
  std::vector<cv::Point> inner;
  for (int i = 60; i < 68; ++i) inner.emplace_back(lm[i]);
  cv::Mat photo = p.image.clone();
  cv::fillPoly(photo, std::vector<std::vector<cv::Point>>{inner}, cv::Scalar(35, 35, 50));
  cv::Mat grey;
  cv::cvtColor(opened_further(p, lm, photo), grey, cv::COLOR_BGR2GRAY);
  auto at = [&](cv::Point2f p) { return cv::mean(grey(cv::Rect(cv::Point(p) - cv::Point(1, 1), cv::Size(3, 3))))[0]; };
  // Just under the upper lip (risen by a fifth of the opening): in the middle and half way to either corner.
  const float y = lm[62].y;
  const double middle = at({lm[62].x, y}), left = at({lm[61].x, y}), right = at({lm[63].x, y});
  EXPECT_LT(middle, 70) << "the inside is not dark";
  EXPECT_NEAR(left, middle, 20) << "teeth at the left";
  EXPECT_NEAR(right, middle, 20) << "teeth at the right";
}

// A photo's lips drawn narrower (rounded) or wider (spread) by
// BlendOptions::speech_shape.wider, with no opening: red lips come out 4-10% narrower
// for -0.1 and 5-12% wider for +0.1 (measured: 5.6% and 9.9%; their pointed
// ends count a pixel or two either way), the same for 0; off the photo path
// (no silent rendering) it does nothing.
TEST(Face, PhotosLipsRoundAndSpread) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  const Landmarks& lm = p.lm;
  std::vector<cv::Point> outer;
  for (int i = 48; i < 60; ++i) outer.emplace_back(lm[i]);
  cv::Mat photo = p.image.clone();
  cv::fillPoly(photo, std::vector<std::vector<cv::Point>>{outer}, cv::Scalar(40, 40, 220));
  PhotoFace q = p;
  q.image = photo;
  const cv::Mat silent = soft_rendering(q);
  auto pasted = [&](float wider, bool photo_path) {
    BlendOptions opt;
    opt.speech_shape.wider = wider;
    cv::Mat out = photo.clone();
    paste_back(out, silent, p.to_crop, lm, opt, photo_path ? silent : cv::Mat());
    return out;
  };
  auto red_width = [&](const cv::Mat& img) {  // widest run of the lips' red through the middle, corners' rows
    auto red = [&](int x, int y) {
      const cv::Vec3b c = img.at<cv::Vec3b>(y, x);
      return c[2] > 150 && c[1] < 90 && c[0] < 90;
    };
    int widest = 0;
    const int x0 = static_cast<int>((lm[48].x + lm[54].x) / 2), y0 = static_cast<int>((lm[48].y + lm[54].y) / 2);
    for (int y = y0 - 3; y <= y0 + 3; ++y) {
      int lo = x0, hi = x0;
      while (lo > 0 && red(lo - 1, y)) --lo;
      while (hi + 1 < img.cols && red(hi + 1, y)) ++hi;
      widest = std::max(widest, hi - lo + 1);
    }
    return double(widest);
  };
  const double base = red_width(pasted(0, true));
  ASSERT_GT(base, 40);
  EXPECT_NEAR(base, red_width(photo), 1.0);
  const double narrower = red_width(pasted(-0.1f, true)) / base, wider = red_width(pasted(0.1f, true)) / base;
  EXPECT_GT(narrower, 0.90);
  EXPECT_LT(narrower, 0.96);
  EXPECT_GT(wider, 1.05);
  EXPECT_LT(wider, 1.12);
  EXPECT_EQ(cv::norm(pasted(-0.1f, false), pasted(0, false), cv::NORM_INF), 0) << "acted off the photo path";
}

// BlendOptions::speech_shape.least_open opens a photo's mouth the speech does
// not darken (generated = silent; at 0 the photo stays as it is) and changes
// nothing where the speech opens it further.
TEST(Face, PhotosMouthOpensAtLeastAsThePhonemesAsk) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  const Landmarks& lm = p.lm;
  const cv::Mat silent = soft_rendering(p);
  cv::Mat dark = silent.clone();  // the speech opens the mouth: lips darkened by 30 levels, 30% of the width
  cv::subtract(silent, cv::Scalar::all(30), dark, lips_in_crop(p, silent.size()));
  auto pasted = [&](const cv::Mat& generated, float least) {  // grey
    BlendOptions opt;
    opt.speech_shape.least_open = least;
    cv::Mat out = p.image.clone(), grey;
    paste_back(out, generated, p.to_crop, lm, opt, silent);
    cv::cvtColor(out, grey, cv::COLOR_BGR2GRAY);
    return grey;
  };
  cv::Mat photo_grey;
  cv::cvtColor(p.image, photo_grey, cv::COLOR_BGR2GRAY);
  // mean grey-level change from the photo in a band down the middle, from the upper lip's top to the chin
  const int x = static_cast<int>(lm[62].x), top = static_cast<int>(lm[51].y), bottom = static_cast<int>(lm[8].y);
  auto moved = [&](const cv::Mat& grey, int half) {
    const cv::Rect band(x - half, top, 2 * half + 1, bottom - top);
    return cv::norm(grey(band), photo_grey(band), cv::NORM_L1) / band.area();
  };
  EXPECT_LT(moved(pasted(silent, 0), 20), 2.0) << "a closed mouth moved";
  EXPECT_GT(moved(pasted(silent, 0.2f), 5), 8.0) << "the mouth did not open";
  // Where the speech opens the mouth further, a smaller least_open changes nothing.
  EXPECT_EQ(cv::norm(pasted(dark, 0.1f), pasted(dark, 0), cv::NORM_INF), 0);
}

// The opened mouth's inside: the upper teeth under the raised upper lip, as
// bright as the skin at least and brighter than the inside below them; on a
// darker face (the photo at half its brightness) they are as white as the
// eyes' whites, not as dark as the skin (teeth are white whatever the skin).
TEST(Face, OpenedMouthShowsTeethAsWhiteAsTheEyes) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  const Landmarks& lm = p.lm;
  const float w = static_cast<float>(cv::norm(lm[54] - lm[48]));
  struct Inside {
    double skin, teeth, below;  // mean grey levels
  };
  auto open = [&](const cv::Mat& image) {
    cv::Mat grey, photo_grey;
    cv::cvtColor(opened_photo(p, image), grey, cv::COLOR_BGR2GRAY);
    cv::cvtColor(image, photo_grey, cv::COLOR_BGR2GRAY);
    // rows measured down from the photo's lips' line at the middle, in shares of the mouth's width
    auto rows = [&](float from, float to) {
      const cv::Point2f c = lm[62];
      return cv::mean(grey(cv::Rect(cv::Point(int(c.x - 0.1f * w), int(c.y + from * w)),
                                    cv::Point(int(c.x + 0.1f * w), int(c.y + to * w)))))[0];
    };
    Inside r;
    r.skin = cv::mean(photo_grey(cv::Rect(cv::Point(lm[31]), cv::Point(int(lm[35].x), int(lm[51].y)))))[0];
    r.teeth = rows(-0.02f, 0.04f);  // the upper lip rises by 6% of the width
    r.below = rows(0.10f, 0.13f);
    return r;
  };
  const Inside lit = open(p.image);
  cv::Mat dim = p.image * 0.5;
  const Inside dimmed = open(dim);
  EXPECT_GT(lit.teeth, 0.9 * lit.skin) << "skin " << lit.skin;  // 151 against 148 when written
  EXPECT_LT(lit.below, 0.5 * lit.teeth) << "teeth " << lit.teeth;  // 30
  for (int first : {36, 42}) {  // the eyes' whites kept: the face alone darker
    std::vector<cv::Point> eye;
    for (int i = first; i < first + 6; ++i) eye.emplace_back(lm[i]);
    cv::Mat inside = cv::Mat::zeros(dim.size(), CV_8U);
    cv::fillPoly(inside, std::vector<std::vector<cv::Point>>{eye}, cv::Scalar(255));
    p.image.copyTo(dim, inside);
  }
  const Inside dark_skin = open(dim);
  EXPECT_GT(dark_skin.teeth, 1.2 * dark_skin.skin) << "skin " << dark_skin.skin;  // 100 against 74
  EXPECT_GT(dark_skin.teeth, 1.2 * dimmed.teeth) << "the eyes' whites made no difference";  // 75 with dim eyes
}

// The painted inside carries the photo's grain: a flat painting in a grainy
// scan looked pasted on. Measured as the robust spread (median absolute
// deviation x 1.4826) of the grey levels less their one-pixel blur, in the
// teeth's band and on the skin between nose and mouth; a photo blurred
// smooth gets smooth teeth.
TEST(Face, PaintedTeethAreAsGrainyAsThePhoto) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  const Landmarks& lm = p.lm;
  const float w = static_cast<float>(cv::norm(lm[54] - lm[48]));
  auto spread = [](const cv::Mat& bgr, const cv::Rect& r) {
    cv::Mat grey, soft;
    cv::cvtColor(bgr(r), grey, cv::COLOR_BGR2GRAY);
    grey.convertTo(grey, CV_32F);
    cv::GaussianBlur(grey, soft, cv::Size(), 1.0);
    cv::Mat d = cv::abs(grey - soft);
    std::vector<float> v(d.begin<float>(), d.end<float>());
    std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
    return 1.4826 * v[v.size() / 2];
  };
  const cv::Rect skin(cv::Point(lm[31]), cv::Point(int(lm[35].x), int(lm[51].y)));
  const cv::Rect teeth(cv::Point(int(lm[62].x - 0.15f * w), int(lm[62].y)),
                       cv::Point(int(lm[62].x + 0.15f * w), int(lm[62].y + 0.05f * w)));  // under the risen upper lip
  const double photo_grain = spread(p.image, skin);
  ASSERT_GT(photo_grain, 3) << "the demo photo is a grainy scan";
  const double teeth_grain = spread(opened_photo(p, p.image), teeth);
  EXPECT_GT(teeth_grain, 0.5 * photo_grain) << "the teeth are smooth in a grainy photo";
  EXPECT_LT(teeth_grain, 1.5 * photo_grain) << "the teeth are grainier than the photo";
  cv::Mat smooth;
  cv::GaussianBlur(p.image, smooth, cv::Size(), 2.0);
  const double smooth_grain = spread(smooth, skin);
  ASSERT_LT(smooth_grain, 0.4 * photo_grain);
  EXPECT_LT(spread(opened_photo(p, smooth), teeth), 1.5 * smooth_grain) << "grain added to a smooth photo";
}

// Below the mouth the opening moves the skin down with the jaw, smoothly
// from column to column: a jaw that followed the lips' gap, which closes at
// the corners, sheared the skin under each corner (a vertical line on large
// faces: 7 pixels from one column to the next here). Measured on the
// photo's landmarks at 4x with a frame whose brightness rises down the face,
// where skin moved down by D pixels is D grey levels darker.
TEST(Face, OpenedJawMovesTheSkinBelowTheCornersSmoothly) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  Landmarks lm;
  for (int i = 0; i < 68; ++i) lm[i] = p.lm[i] * 4.f;
  const float y_mid = lm[57].y + 40;  // 128 grey levels here, 1 more per pixel down (the lips mid-grey)
  PhotoFace ramp;
  ramp.image = cv::Mat(p.image.rows * 4, p.image.cols * 4, CV_8UC3);
  for (int y = 0; y < ramp.image.rows; ++y)
    ramp.image.row(y).setTo(cv::Scalar::all(std::clamp(128 + (y - y_mid), 0.f, 255.f)));
  ramp.lm = lm;
  ramp.to_crop = crop_transform(lm, CropOptions{});
  const cv::Mat silent = soft_rendering(ramp);
  cv::Mat dark = silent.clone();
  cv::subtract(silent, cv::Scalar::all(30), dark, lips_in_crop(ramp, silent.size()));  // opens by 30% of the width
  BlendOptions open, shut;
  shut.mouth_open = 0;
  cv::Mat a = ramp.image.clone(), b = ramp.image.clone();
  paste_back(a, dark, ramp.to_crop, lm, open, silent);
  paste_back(b, dark, ramp.to_crop, lm, shut, silent);
  cv::Mat grey_a, grey_b, moved;  // D
  cv::cvtColor(a, grey_a, cv::COLOR_BGR2GRAY);
  cv::cvtColor(b, grey_b, cv::COLOR_BGR2GRAY);
  cv::subtract(grey_b, grey_a, moved, cv::noArray(), CV_32F);
  const float width = static_cast<float>(cv::norm(lm[54] - lm[48])), h = 0.3f * width;
  // Each row from the lower lip to the chin (or the ramp's end): how far the
  // skin moves at the columns where the move starts, from either side.
  const int top = int(lm[57].y) + 2, bottom = int(std::min(lm[8].y, y_mid + 126));
  const int left = int(lm[48].x - 0.5f * width), right = int(lm[54].x + 0.5f * width);
  ASSERT_GT(bottom - top, 20);
  float step = 0, middle = 0;
  for (int y = top; y < bottom; ++y) {
    const float* d = moved.ptr<float>(y);
    int l = left, r = right;
    while (l < r && d[l] < 0.5f) ++l;
    while (r > l && d[r] < 0.5f) --r;
    step = std::max({step, d[l] - d[l - 1], d[r] - d[r + 1]});
    middle += d[int(lm[57].x)] / (bottom - top);
  }
  EXPECT_GT(middle, 0.5f * h) << "the skin under the mouth should move down";
  EXPECT_LT(step, 3) << "pixels: the skin's move starts with a step beside the mouth";
}

// With the model's silent rendering of a photo (generate's keep_frame): in
// silence the photo comes back as it is, not the soft rendering; the speech's
// change is added to the photo; a mouth in the photo that the silent
// rendering does not show (here painted black) is replaced, not kept.
TEST(Face, KeepFrameAddsOnlyTheSpeechsChangeToThePhoto) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  const cv::Mat& photo = p.image;
  const Landmarks& lm = p.lm;
  const cv::Matx23f& m = p.to_crop;
  const cv::Mat silent = soft_rendering(p);
  std::vector<cv::Point2f> mouth(lm.begin() + 48, lm.begin() + 68), in_crop;
  cv::transform(mouth, in_crop, m);
  const cv::Rect mouth_box = cv::boundingRect(mouth);
  cv::Rect inner = cv::boundingRect(in_crop);
  inner = cv::Rect(inner.x + inner.width / 4, inner.y + inner.height / 4, inner.width / 2, inner.height / 2);
  auto grey_mean = [](const cv::Mat& img, const cv::Rect& r) {
    cv::Scalar s = cv::mean(img(r));
    return (s[0] + s[1] + s[2]) / 3;
  };
  BlendOptions keep, plain;
  keep.mouth_open = 0;  // the change alone, not the opening it reads (DarkenedLipsOpenThePhotosMouth)
  plain.keep_frame = false;

  cv::Mat quiet = photo.clone(), soft = photo.clone();
  paste_back(quiet, silent, m, lm, keep, silent);
  paste_back(soft, silent, m, lm, plain, silent);
  cv::Mat diff;
  cv::absdiff(quiet, photo, diff);
  double worst = 0;
  cv::minMaxLoc(diff.reshape(1), nullptr, &worst);
  EXPECT_LE(worst, 4) << "silence should give the photo itself";
  EXPECT_GT(cv::PSNR(quiet, photo), 50);
  EXPECT_LT(cv::PSNR(soft, photo), 45) << "without keep_frame the soft rendering should show";

  cv::Mat speaking = silent.clone();  // the speech darkens the inside of the mouth by 60 levels
  speaking(inner) -= cv::Scalar(60, 60, 60);
  cv::Mat talk = photo.clone();
  paste_back(talk, speaking, m, lm, keep, silent);
  cv::Rect core(mouth_box.x + mouth_box.width * 3 / 8, mouth_box.y + mouth_box.height * 3 / 8, mouth_box.width / 4,
                mouth_box.height / 4);
  EXPECT_GT(grey_mean(photo, core) - grey_mean(talk, core), 40) << "the speech's change is missing";
  cv::Rect chin = mouth_box + cv::Point(0, mouth_box.height * 2);
  EXPECT_LT(std::abs(grey_mean(photo, chin) - grey_mean(talk, chin)), 2) << "the chin should stay the photo's";

  cv::Mat painted = photo.clone();  // an open mouth the silent rendering does not show
  std::vector<cv::Point> hull;
  for (const auto& p : mouth) hull.emplace_back(p);
  cv::convexHull(std::vector<cv::Point>(hull), hull);
  cv::fillConvexPoly(painted, hull, cv::Scalar(0, 0, 0));
  cv::Mat replaced = painted.clone();
  paste_back(replaced, silent, m, lm, keep, silent);
  EXPECT_GT(grey_mean(replaced, core), grey_mean(painted, core) + 60) << "the photo's own open mouth was kept";
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
  std::ifstream in(test::shared_data("grid/bbaf2n.mpg"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
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

// A wide opening shows the lower teeth's tips above the lower lip, as real
// wide-open mouths do (retalking/face3 and face5), with the dark inside
// between them and the upper teeth; a narrow one (a gap of 8% of the
// mouth's width) shows the upper teeth alone. Read down the mouth's middle
// (a band a tenth of its width wide) on the bundled photo with its lips
// painted red (told from teeth by their redness: (R - Y) / Y) and opened
// by least_open: rows as bright as the upper teeth and as little red,
// below the dark inside and above the lower lip.
TEST(Face, WideOpenedMouthShowsTheLowerTeeth) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  const Landmarks& lm = p.lm;
  const float w = static_cast<float>(cv::norm(lm[54] - lm[48]));
  std::vector<cv::Point> outer;
  for (int i = 48; i < 60; ++i) outer.emplace_back(lm[i]);
  cv::Mat photo = p.image.clone(), lips = cv::Mat::zeros(photo.size(), CV_8U);
  cv::fillPoly(lips, std::vector<std::vector<cv::Point>>{outer}, cv::Scalar(255));
  photo.setTo(cv::Scalar(60, 60, 200), lips);  // BGR
  PhotoFace q = p;
  q.image = photo;
  const cv::Mat silent = soft_rendering(q);
  const double lip_luma = 0.114 * 60 + 0.587 * 60 + 0.299 * 200, lip_red = (200 - lip_luma) / lip_luma;
  auto lower_teeth_rows = [&](float least) {
    BlendOptions opt;
    opt.speech_shape.least_open = least;
    cv::Mat out = photo.clone();
    paste_back(out, silent, p.to_crop, lm, opt, silent);
    const int x = static_cast<int>(lm[62].x), half = static_cast<int>(0.05f * w);
    std::vector<double> luma, red;  // per row, down from above the upper lip
    for (int y = static_cast<int>(lm[62].y - 0.1f * w); y < static_cast<int>(lm[66].y + 0.5f * w); ++y) {
      const cv::Scalar c = cv::mean(out(cv::Rect(x - half, y, 2 * half + 1, 1)));
      luma.push_back(0.114 * c[0] + 0.587 * c[1] + 0.299 * c[2]);
      red.push_back((c[2] - luma.back()) / std::max(1.0, luma.back()));
    }
    const size_t brightest = std::max_element(luma.begin(), luma.end()) - luma.begin();  // the upper teeth
    const double teeth = luma[brightest], teeth_red = red[brightest];
    EXPECT_LT(teeth_red, 0.5) << "the brightest row is not the upper teeth";
    size_t i = brightest;
    while (i < luma.size() && luma[i] > 0.5 * teeth) ++i;  // down to the dark inside
    int rows = 0;
    for (; i < luma.size() && !(luma[i] > 0.8 * lip_luma && red[i] > 0.9 * lip_red); ++i)  // to the lower lip
      rows += luma[i] > 0.7 * teeth && red[i] < 1.5 * teeth_red;
    return rows;
  };
  EXPECT_GE(lower_teeth_rows(0.35f), 0.04f * w) << "mouth width " << w;
  EXPECT_EQ(lower_teeth_rows(0.08f), 0);
}
