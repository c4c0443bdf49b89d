// Paste-back of a redrawn face crop: lossless when nothing changed, the mask,
// colour matching, detail and sharpening, the reference's fine lines, large
// and small faces, painted teeth in a video's opening, lip colour.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <opencv2/imgproc.hpp>

#include "helpers.h"
#include "stf/face.h"
#include "stf/media.h"

using namespace stf;
using test::bundled_photo_face;
using test::PhotoFace;
using test::read_frames;
using test::track_frames;

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

// A video's redrawn mouth with a dark patch on one half only (the model's
// blotch) gets the mean of it and its mirror image there: half the patch on
// either side, the darkening as a whole kept; the face's light from one
// side, the frame's own one-sided features (a moustache) and a symmetric
// mouth are left as they are; paste_back does it when
// BlendOptions::even_halves is on.
TEST(Face, DarkPatchOnOneHalfOfTheRedrawnMouthIsSharedWithTheOther) {
  const PhotoFace p = bundled_photo_face();
  ASSERT_TRUE(p.found);
  const Landmarks lm = to_crop_space(p.lm, p.to_crop);
  const cv::Mat frame = crop_face(p.image, p.to_crop, CropOptions{}.size).image;
  cv::Mat soft;  // a stand-in for the model's rendering: the frame's crop, blurred
  cv::GaussianBlur(frame, soft, cv::Size(), 1.5);
  const float width = static_cast<float>(cv::norm(lm[54] - lm[48]));
  const cv::Point2f left_lip = lm[50], right_lip = lm[52];  // the upper lip's peaks, either side of its middle
  auto with_patch = [&](const cv::Mat& img) {  // a disc 70 grey levels darker on the left peak
    cv::Mat disc = cv::Mat::zeros(img.size(), CV_8U), out = img.clone();
    cv::circle(disc, left_lip, std::max(2, int(std::lround(0.15 * width))), cv::Scalar(255), cv::FILLED);
    cv::subtract(img, cv::Scalar::all(70), out, disc);
    return out;
  };
  auto darkening = [](const cv::Mat& from, const cv::Mat& img, cv::Point2f at) {  // over a 3x3 patch
    const cv::Rect r(cv::Point(at) - cv::Point(1, 1), cv::Size(3, 3));
    const cv::Scalar d = cv::mean(from(r)) - cv::mean(img(r));
    return 0.114 * d[0] + 0.587 * d[1] + 0.299 * d[2];
  };
  auto total = [](const cv::Mat& from, const cv::Mat& img) {  // summed over the crop, green
    cv::Mat d;
    cv::subtract(from, img, d, cv::noArray(), CV_32FC3);
    return cv::sum(d)[1];
  };
  const cv::Mat patched = with_patch(soft);
  const cv::Mat out = even_halves(patched, frame, lm);
  EXPECT_NEAR(darkening(soft, patched, left_lip), 70, 2) << "the test's own patch";
  EXPECT_NEAR(darkening(soft, out, left_lip), 35, 6) << "half the patch stays";
  EXPECT_NEAR(darkening(soft, out, right_lip), 35, 6) << "and half is mirrored onto the other side";
  EXPECT_NEAR(total(soft, out), total(soft, patched), 0.1 * total(soft, patched)) << "as much darkening as before";
  EXPECT_LT(cv::norm(even_halves(soft, frame, lm), soft, cv::NORM_INF), 12) << "a symmetric mouth barely changes";

  // The face lit from one side: 100 grey levels brighter from left to right across the crop.
  cv::Mat ramp(soft.size(), CV_32FC3);
  for (int x = 0; x < ramp.cols; ++x) ramp.col(x).setTo(cv::Scalar::all(100.0 * x / (ramp.cols - 1) - 50));
  auto lit = [&](const cv::Mat& img) {
    cv::Mat f;
    img.convertTo(f, CV_32FC3);
    cv::Mat(f + ramp).convertTo(f, CV_8UC3);
    return f;
  };
  const cv::Mat lit_soft = lit(soft), lit_out = even_halves(with_patch(lit_soft), lit(frame), lm);
  EXPECT_NEAR(darkening(lit_soft, lit_out, left_lip), 35, 8) << "on a face lit from one side, half the patch stays";
  EXPECT_NEAR(darkening(lit_soft, lit_out, right_lip), 35, 8) << "and half is mirrored at the other side's light";
  EXPECT_LT(cv::norm(even_halves(lit_soft, lit(frame), lm), lit_soft, cv::NORM_INF), 12)
      << "the light alone is not a patch";

  EXPECT_LT(cv::norm(even_halves(patched, with_patch(frame), lm), patched, cv::NORM_INF), 12)
      << "a patch the frame has too (a moustache) stays";

  // Through paste_back (the video path), on and off.
  auto pasted_darkening = [&](bool on, int point) {
    BlendOptions opt;
    opt.teeth = false;
    opt.even_halves = on;
    cv::Mat plain = p.image.clone(), with = p.image.clone();
    paste_back(plain, soft, p.to_crop, p.lm, opt);
    paste_back(with, patched, p.to_crop, p.lm, opt);
    return darkening(plain, with, p.lm[point]);
  };
  EXPECT_GT(pasted_darkening(false, 50), 50) << "off: the patch is pasted";
  EXPECT_LT(std::abs(pasted_darkening(false, 52)), 3) << "off: on its side only";
  EXPECT_LT(pasted_darkening(true, 50), 45) << "on: half of it";
  EXPECT_GT(pasted_darkening(true, 52), 20) << "on: on both sides";
}
