// A photo's mouth moved by the speech on the keep-frame path: the darkening
// moved onto its lips, the mouth opened, its inside and teeth painted, lips
// rounded and spread, the jaw and skin below it.

#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/imgproc.hpp>

#include "helpers.h"
#include "stf/face.h"

using namespace stf;
using test::bundled_photo_face;
using test::PhotoFace;
using test::track_frames;

namespace {

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
