// What the blend's parts share about the mouth: its coordinates, colours
// read off a face, and paint laid on a picture (mouth.cpp); the painted
// teeth (teeth.cpp); a photo's mouth opened (mouth_open.cpp); the blend's
// region (blend.cpp). Internal to src/face. Images are 8-bit BGR and
// landmarks in their coordinates unless said.
#pragma once
#include <algorithm>
#include <opencv2/core.hpp>
#include <optional>
#include <vector>

#include "stf/face.h"

namespace stf {

// ---- mouth.cpp ----------------------------------------------------------------------

// Landmarks first .. end - 1 as a polygon's pixel points (48-60 the outer
// lip contour, 60-68 the inner one, 36-42 and 42-48 the eyes).
std::vector<cv::Point> outline(const Landmarks& lm, int first, int end);

// BGR weights of luminance (Y), for cv::transform.
extern const cv::Matx13f kLuma;
float luma(const cv::Scalar& bgr);

// 255 inside the outer lip polygon (points 48-59), 0 elsewhere.
cv::Mat lip_mask(cv::Size size, const Landmarks& lm);

// The skin between the nose and the mouth (31, 35 down to 51), within img.
cv::Rect skin_rect(const cv::Mat& img, const Landmarks& lm);

// The mean colour of skin_rect.
cv::Scalar skin_colour(const cv::Mat& img, const Landmarks& lm);

// The mean colour of the brightest 1/`part` of the pixels of `img` inside
// the polygons (pooled); none where they cover under `least` pixels.
std::optional<cv::Scalar> brightest_colour(const cv::Mat& img, const std::vector<std::vector<cv::Point>>& polygons,
                                           size_t part, size_t least);

// The colour of the eyes' whites: the mean of the brightest fifth of the
// pixels inside both eyes' outlines (points 36-41, 42-47; the white is
// about half of the eye seen); 0 where they cover under 12 pixels (a small
// face, closed eyes).
cv::Scalar eye_white(const cv::Mat& frame, const Landmarks& lm);

// The mouth's own coordinates: s along the line through the corners (48,
// 54), t across it towards the chin, from the corners' midpoint.
struct MouthAxes {
  cv::Point2f c, u, v;
  float width;
  explicit MouthAxes(const Landmarks& lm) : width(static_cast<float>(cv::norm(lm[54] - lm[48]))) {
    u = (lm[54] - lm[48]) / std::max(1e-3f, width);
    c = (lm[48] + lm[54]) * 0.5f;
    v = cv::Point2f(-u.y, u.x);
    if (v.dot(lm[8] - lm[51]) < 0) v = -v;
  }
  cv::Point2f st(const cv::Point2f& p) const { return cv::Point2f((p - c).dot(u), (p - c).dot(v)); }
  cv::Point2f at(float s, float t) const { return c + s * u + t * v; }
};

// The mirror across the line through the lips' middle (the mean of points
// 51, 57, 62, 66 along the corners' line), perpendicular to the corners'
// line, each side's distance from it scaled to the other side's half-width
// (a face turned a little shows its far half narrower), for images of one
// size (its remap maps built once). Not `valid` where either half is
// narrower than kLeastHalf of the mouth's width (a face turned far).
constexpr float kLeastHalf = 0.25f;
struct LipsMirror {
  MouthAxes m;
  float mid, left, right;  // the middle's s, the half-widths to the corners
  bool valid;
  cv::Mat map_x, map_y;    // CV_32F: where each pixel's mirror image comes from
  LipsMirror(const Landmarks& lm, cv::Size size);
  // `img` (of the size given, any type) mirrored; pixels mirrored from beyond it are 0.
  cv::Mat operator()(const cv::Mat& img) const;
};

// Bilinear sample of a CV_32F image at p; `outside` where p's 2x2
// neighbourhood leaves the image.
float bilinear(const cv::Mat& img, cv::Point2f p, float outside);

// t(s) along a polyline given as (s, t) points sorted by s; constant beyond its ends.
float polyline_at(const std::vector<cv::Point2f>& st, float s);

// The inner lip contours (60-64 above, 64-67-60 below) as (s, t) points sorted by s.
void inner_lips(const Landmarks& lm, const MouthAxes& m, std::vector<cv::Point2f>& upper,
                std::vector<cv::Point2f>& lower);

// The fine grain of `img` on the skin between nose and mouth: the robust
// spread (median absolute deviation, scaled to a standard deviation) of its
// grey levels less their blur by one pixel. A scanned or high-ISO photo has
// several grey levels of it (the demo photo 3.3), a video's face about 1; a
// painted inside without it looks pasted on.
float skin_grain(const cv::Mat& img, const Landmarks& lm);

// A painting laid on `target` (in place): `colour` (CV_32FC3, blurred here
// by half a pixel: no sharper than the picture) with the picture's grain
// (`grain`, skin_grain, in proportion to the colour's luminance up to the
// skin's, `skin`; the target's pixel (0, 0) lies at `origin` in the
// picture), covering each pixel by `cover` (CV_32F, 0..1). All three the
// same size.
void lay_paint(cv::Mat& target, cv::Mat colour, const cv::Mat& cover, float grain, float skin, cv::Point origin);

// target (in place) moved towards src by the mask (CV_32F, 0..1, all three
// the same size); pixels where it is 0 stay untouched.
void mix_in(cv::Mat& target, const cv::Mat& src, const cv::Mat& mask);

// The landmarks in the coordinates of `roi`, a rectangle of their picture.
Landmarks in_rect(const Landmarks& lm, const cv::Rect& roi);

// ---- blend.cpp ----------------------------------------------------------------------

// The blend mask's bounding box in the frame, 2 pixels wider on each side.
cv::Rect mask_roi(const Landmarks& lm, cv::Size frame);

// ---- teeth.cpp ----------------------------------------------------------------------

constexpr float kTeethHeight = 0.13f;  // the upper teeth's visible height as a share of the mouth's width

// The painted upper teeth's look on a face: their luminance (grey levels)
// and their colour per unit of it: white, in part the light's colour (the
// eyes' whites', else the skin's), a little of the lips' hue, and a little
// warmer than all that (teeth are yellower than eyes' whites), as far as
// the skin has any colour (none in a black-and-white picture, where its
// channels lie within a grey level or two of each other).
struct TeethLook {
  float luminance;
  cv::Vec3f tint;
};
TeethLook teeth_look(const cv::Scalar& skin, const cv::Scalar& lips, const cv::Scalar& white);

// The upper teeth at a point of the mouth's inside, d pixels below the
// upper lip, in a band `band` pixels high, `side` from 1 in the middle to 0
// at the inner corners, `off` pixels from the middle along the mouth of
// width `width`: how much of the point they cover (0..1), and their
// brightness there as a share of TeethLook::luminance (in the upper lip's
// shadow at the top, receding at the sides, the lines where they meet).
float tooth_cover(float d, float band, float side);
float tooth_light(float d, float band, float side, float off, float width);
// The lower teeth likewise, d pixels above the lower lip: a narrower arch,
// gone well before the inner corners (the middle six teeth or so).
float lower_tooth_cover(float d, float band, float side);

// ---- mouth_open.cpp -----------------------------------------------------------------

constexpr float kWidestOpening = 0.6f;  // as a share of the mouth's width (a wide "ah" is about 0.5)
constexpr float kGainFade = 0.1f;       // the opening (share of the width) from which motion_gain is 1
                                        // (and at twice which the model's change is gone: blend)

// Mean luminance (grey levels) the speech takes off the lips: silent -
// generated over the outer lip polygon.
float mouth_darkening(const cv::Mat& generated, const cv::Mat& silent, const Landmarks& lm);

// The pixels of `img` in `box`, set to the region that moves (empty, and no
// pixels, when none does), with the mouth opened by h pixels at its middle,
// less towards the corners (an ellipse between the inner corners 60 and
// 64), the inside painted, and the lips drawn `wider` (a share of the
// mouth's width, negative: narrower). `white`: the eyes' whites (eye_white).
cv::Mat open_mouth(const cv::Mat& img, const Landmarks& lm, float h, float wider, const cv::Scalar& white,
                   cv::Rect& box);

// A mouth open in the photo keeps its own inside, teeth and all, within the
// inner lip contour (60-67), over what `blended` shows there.
void keep_open_inside(cv::Mat& blended, const cv::Mat& photo, const Landmarks& lm);

}  // namespace stf
