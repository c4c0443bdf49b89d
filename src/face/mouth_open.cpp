// A photo's mouth opened by the speech (paste_back's keep-frame path): lips
// apart, the jaw down, the inside painted; and the photo path's reading of
// the model's change (darkening_shift, photo_change).
#include <algorithm>
#include <limits>
#include <opencv2/imgproc.hpp>

#include "face/mouth.h"
#include "stf/face.h"

namespace stf {

namespace {

// On a still face the model draws an opening mostly as a darkening between
// the lips, a third of a speaker's opening at most (models/README.md,
// sessions 13-15). keep_frame's path reads that darkening as an opening and
// opens the photo's mouth by it: the upper lip goes up by kUpperLipShare of
// the opening, the lower lip and the skin below it down by the rest, the
// jaw's share fading out towards the chin, and between the lips the
// mouth's inside is painted (models/README.md, sessions 35, 37 and 48):
// dark, the upper teeth under the upper lip once the gap is over 5% of the
// mouth's width, the tongue at the bottom once it is over 15%, the lower
// teeth's tips above the lower lip once it is over 12%.
constexpr float kUpperLipShare = 0.2f;
// darkening_shift: the darkening counted (grey levels); how far off its
// centre may be and still count as on the lips (share of the mouth's width:
// on 16 stills of GRID speakers, faces the model draws well, it lay
// -0.08..+0.15 from the lips' centre, the median distance 0.057), and the
// most the change is moved beyond that.
constexpr float kDarkSeen = 4.f;
constexpr float kDarkScatter = 0.05f;
constexpr float kDarkShift = 0.2f;
constexpr float kCavity = 0.3f;   // the inside's colour as a share of the lips'
constexpr float kTongue = 0.8f;   // the tongue's, likewise
// The lower teeth: their tips show above the lower lip in wide openings
// (retalking/face3 and face5 at a gap of 20-27% of the mouth's width show
// about half the upper teeth's height of them, a little darker, across a
// narrower arch): kLowerTeethHeight of the width high at most, kLowerTeeth of
// the upper teeth's brightness, shown from a gap of kLowerTeethFrom of the
// width, in full 10% later; their teeth kLowerArch as wide (the seams).
constexpr float kLowerTeethHeight = 0.08f;
constexpr float kLowerArch = 0.75f;
constexpr float kLowerTeeth = 0.85f;
constexpr float kLowerTeethFrom = 0.12f;
// Lips in the photo parted by less than this share of the mouth's width (a
// dark line) get the inside painted over them; from twice that (an open
// mouth, teeth showing) the photo's own inside is kept instead.
constexpr float kOpenInPhoto = 0.06f;
// The jaw drops under the whole mouth: below the lower lip the opening's
// full share moves the skin between the inner corners, and beyond them
// less, down to nothing at kJawReach half-widths from the mouth's middle
// (the lips' gap itself closes at the corners; a jaw that followed it made a
// visible shear in the skin below them on large faces). A raised cosine.
constexpr float kJawReach = 1.45f;
// 1 for a <= 0 down to 0 for a >= 1, a raised cosine between.
float fade(float a) {
  if (a <= 0) return 1;
  if (a >= 1) return 0;
  const float c = std::cos(0.5f * float(CV_PI) * a);
  return c * c;
}
float jaw_share(float q) { return fade((std::abs(q) - 1) / (kJawReach - 1)); }
// Lips rounded (an "oo", a "w": the corners come together) or spread (an
// "ee"): the picture between the corners is squeezed or stretched along the
// mouth, and the pull fades out over kLipReach of the mouth's width beyond
// each corner (inside the blend's mask, which reaches 0.3 beyond them).
constexpr float kLipReach = 0.2f;
// Pixels: an opening or a pull of the lips smaller than this moves nothing.
constexpr float kLeastMove = 0.3f;

// How far the photo's own open mouth takes over (0..1): by how far its
// inner lips are apart in the middle (62, 66) across its width. One share
// for the whole mouth: taken per column, the corners (always nearly closed)
// got painted teeth beside a dark open middle, like fangs.
float open_in_photo(const Landmarks& lm, const MouthAxes& m) {
  return std::clamp((m.st(lm[66]).y - m.st(lm[62]).y) / (kOpenInPhoto * std::max(1.f, m.width)) - 1, 0.f, 1.f);
}

// Where a photo's own inside parts as its mouth opens: the share of the gap
// between its lips (0 at the upper lip, 1 at the lower) whose row, over the
// middle half of the inner lips' width, is darkest, and darker than the
// rows' mean by kDarkerRow (between upper and lower teeth, or above lower
// teeth alone); 1 (the inside moves with the upper lip: upper teeth, the
// usual ones to show) where no row is. The lip edges (the outer kEdgeRows)
// are left out: shadowed lines on either, which of them is darker changes
// from frame to frame.
constexpr float kEdgeRows = 0.15f, kDarkerRow = 0.2f;
float parting_row(const cv::Mat& img, const MouthAxes& m, const std::vector<cv::Point2f>& upper,
                  const std::vector<cv::Point2f>& lower) {
  const float s_mid = (upper.front().x + upper.back().x) / 2, half = (upper.back().x - upper.front().x) / 2;
  constexpr int kRows = 16, kColumns = 9;
  float best = 1, least = std::numeric_limits<float>::max(), sum = 0;
  int rows = 0;
  for (int i = 0; i <= kRows; ++i) {
    const float r = float(i) / kRows;
    if (r < kEdgeRows || r > 1 - kEdgeRows) continue;
    float row = 0;
    for (int j = 0; j < kColumns; ++j) {
      const float s = s_mid + half * (float(j) / (kColumns - 1) - 0.5f);
      const float t_up = polyline_at(upper, s), t_lo = std::max(t_up, polyline_at(lower, s));
      cv::Mat pixel;
      cv::getRectSubPix(img, cv::Size(1, 1), m.at(s, t_up + r * (t_lo - t_up)), pixel);
      row += luma(cv::mean(pixel)) / kColumns;
    }
    sum += row;
    ++rows;
    if (row < least) least = row, best = r;
  }
  return rows > 0 && least < (1 - kDarkerRow) * sum / rows ? best : 1.f;
}

}  // namespace

float mouth_darkening(const cv::Mat& generated, const cv::Mat& silent, const Landmarks& lm) {
  const cv::Mat lips = lip_mask(generated.size(), lm);
  return luma(cv::mean(silent, lips) - cv::mean(generated, lips));
}

// The pixels of `img` (8-bit BGR, landmarks in its coordinates) in `box`,
// set to the region that moves (empty, and no pixels, when none does), with
// the mouth opened by h pixels at its middle, less towards the corners (an
// ellipse between the inner corners 60 and 64). Coordinates: s along the
// line through the mouth corners, t across it towards the chin, from the
// corners' midpoint. Each
// column s is moved along t: above the lips' line (the inner lip
// contours 60-64, 64-60) down to the nose base by up to kUpperLipShare h,
// below it by the rest (the gap's ellipse at the lower lip's top edge, the
// jaw's wider profile from its bottom edge, jaw_share) and fading to nothing
// at the chin (landmark 8). A photo's mouth that is already open keeps its
// inside, stretched; a closed one gets the inside painted (kOpenInPhoto).
// The lips are drawn `wider` (a share of the mouth's width, negative:
// narrower) by moving each column's source along s (kLipReach).
cv::Mat open_mouth(const cv::Mat& img, const Landmarks& lm, float h, float wider, const cv::Scalar& white,
                   cv::Rect& box) {
  box = cv::Rect();
  const MouthAxes m(lm);
  const float width = m.width;
  const bool lips_pulled = std::abs(wider) * width >= kLeastMove;
  if ((h < kLeastMove && !lips_pulled) || width < 4) return {};
  const cv::Point2f u = m.u, c = m.c, v = m.v;
  auto st = [&](int i) { return m.st(lm[i]); };
  std::vector<cv::Point2f> upper, lower;  // the inner lip contours as (s, t)
  inner_lips(lm, m, upper, lower);
  const float s_mid = (upper.front().x + upper.back().x) / 2;
  const float half = std::max(1.f, (upper.back().x - upper.front().x) / 2);
  const float t_nose = st(33).y, t_chin = st(8).y;
  const float lip = std::max(1.f, st(57).y - st(66).y);  // the lower lip's height

  const cv::Scalar lip_colour = cv::mean(img, lip_mask(img.size(), lm));
  const cv::Vec3f lips{float(lip_colour[0]), float(lip_colour[1]), float(lip_colour[2])};
  const cv::Scalar skin = skin_colour(img, lm);
  const float skin_luma = luma(skin);
  const TeethLook teeth = teeth_look(skin, lip_colour, white);
  const float teeth_shown = std::clamp((h / width - 0.05f) / 0.1f, 0.f, 1.f);  // in full from 15% of the width
  const float tongue_shown = std::clamp((h / width - 0.15f) / 0.15f, 0.f, 1.f);  // from 15%, in full from 30%
  const float lower_shown = std::clamp((h / width - kLowerTeethFrom) / 0.1f, 0.f, 1.f);
  // The photo's own inside, where its lips are apart, parts at that row: above
  // it moves with the upper lip, below it with the lower lip, and the space
  // between is painted dark (teeth keep their height; stretched, they grew
  // into long bars).
  const float split = parting_row(img, m, upper, lower);
  const float own = open_in_photo(lm, m);
  // The lips' pull (wider): full over the lips, fading out towards the nose
  // and half way down to the chin (below the opened lower lip).
  const float a = width / 2;  // the corners' distance from c
  const float t_top = st(51).y, t_bottom = st(57).y + (1 - kUpperLipShare) * h;
  auto source_s = [&](float s, float t) {
    if (!lips_pulled) return s;
    const float along = std::abs(s) <= a ? s : std::copysign(a, s) * fade((std::abs(s) - a) / (kLipReach * width));
    const float across = t < t_top      ? fade((t_top - t) / std::max(1.f, t_top - t_nose))
                         : t > t_bottom ? fade((t - t_bottom) / std::max(1.f, 0.5f * (t_chin - t_bottom)))
                                        : 1.f;
    return s - wider * along * across;
  };
  // Only pixels within the jaw's (and the pull's) reach and from the nose to
  // the chin move: the rest of the image is left as it is.
  std::vector<cv::Point2f> corners;
  const float reach = lips_pulled ? a + kLipReach * width : 0.f;
  for (float s : {std::min(s_mid - kJawReach * half, -reach), std::max(s_mid + kJawReach * half, reach)})
    for (float t : {t_nose, t_chin}) corners.push_back(c + s * u + t * v);
  box = (cv::boundingRect(corners) + cv::Size(2, 2)) & cv::Rect(0, 0, img.cols, img.rows);
  if (box.empty()) return {};
  cv::Mat map_x(box.size(), CV_32F), map_y(box.size(), CV_32F);  // each box pixel's source in img
  cv::Mat inside(box.size(), CV_32FC3, cv::Scalar::all(0));      // the painted inside's colour
  cv::Mat cover(box.size(), CV_32F, cv::Scalar(0));                // and how much of each pixel it covers
  for (int y = box.y; y < box.br().y; ++y)
    for (int x = box.x; x < box.br().x; ++x) {
      const cv::Point2f p = cv::Point2f(float(x), float(y)) - c;
      const float t = p.dot(v), s = source_s(p.dot(u), t);  // s: where the lips' pull takes the column from
      const float q = (s - s_mid) / half;  // -1 .. 1 between the inner corners
      const float open = std::abs(q) < 1 ? h * std::sqrt(1 - q * q) : 0.f;
      const float t_up = polyline_at(upper, s), t_lo = std::max(t_up, polyline_at(lower, s));
      const float top = t_up - kUpperLipShare * open, bottom = t_lo + (1 - kUpperLipShare) * open;
      float from = t;  // the source pixel's t
      if (t <= top) {
        // moved up by H (1 - (t_up - from) / L) for from in [t_up - L, t_up]: solved for from
        const float H = kUpperLipShare * open, L = std::max(1.f, t_up - t_nose);
        if (H > 0) from = std::clamp((t + H - H * t_up / L) / (1 - H / L), t, t_up);
      } else if (t >= bottom) {
        // moved down: the lower lip's top edge (t_lo) by the gap's share He,
        // its bottom edge (t1) and the skin below by the jaw's Hj, fading to 0
        // at the chin; the source `from` of t solved on each linear piece
        const float He = (1 - kUpperLipShare) * open, Hj = (1 - kUpperLipShare) * h * jaw_share(q);
        const float t1 = t_lo + lip, L = std::max(1.f, t_chin - t1);
        const float k = (Hj - He) / lip;  // over the lip: D(from) = He + k (from - t_lo)
        from = t <= t1 + Hj ? (t - He + k * t_lo) / (1 + k) : std::clamp((t - Hj * t_chin / L) / (1 - Hj / L), t1, t);
      } else {
        // the gap: the photo's own gap opened at its parting row, or the inside painted
        const float r = (t - top) / std::max(1e-3f, bottom - top);  // 0 at the upper lip, 1 at the lower
        const float above = split * (t_lo - t_up), below = (1 - split) * (t_lo - t_up);
        from = t - top < above ? t_up + (t - top) : bottom - t < below ? t_lo - (bottom - t) : t_up + above;
        const float edge = std::min({1.f, t - top + 0.5f, bottom - t + 0.5f});  // anti-aliased lip edges
        // (fading in over the first kLeastMove of the opening: the lips' pull alone paints nothing)
        const float painted = edge * (1 - own) * std::min(1.f, h / kLeastMove);
        // the space opened within the photo's own inside: dark, no teeth
        const float opened = own * std::clamp(std::min(t - top - above, bottom - below - t) + 0.5f, 0.f, 1.f);
        cover.at<float>(y - box.y, x - box.x) = painted + opened;
        const float side = std::sqrt(std::max(0.f, 1 - q * q));  // darker towards the corners
        const float d = t - top;  // from the upper lip
        cv::Vec3f colour = kCavity * lips;
        colour += tongue_shown * std::clamp((r - 0.55f) / 0.3f, 0.f, 1.f) * side * (kTongue * lips - colour);
        // the upper teeth: a band under the upper lip
        const float band = std::min(0.5f * (bottom - top), kTeethHeight * width);
        const float lit = tooth_light(d, band, side, s - s_mid, width) * teeth.luminance;
        const float teeth_here = painted / std::max(1e-6f, painted + opened);
        colour += teeth_here * teeth_shown * tooth_cover(d, band, side) * (lit * teeth.tint - colour);
        // the lower teeth: a lower band above the lower lip, in front of the tongue
        const float d_lo = bottom - t, band_lo = std::min(0.3f * (bottom - top), kLowerTeethHeight * width);
        // (lit from above: none of the upper teeth's shadow under the lip, d = band)
        const float lit_lo =
            kLowerTeeth * tooth_light(band_lo, band_lo, side, (s - s_mid) / kLowerArch, width) * teeth.luminance;
        colour += teeth_here * lower_shown * lower_tooth_cover(d_lo, band_lo, side) * (lit_lo * teeth.tint - colour);
        inside.at<cv::Vec3f>(y - box.y, x - box.x) = colour;
      }
      const cv::Point2f src = c + s * u + from * v;
      map_x.at<float>(y - box.y, x - box.x) = src.x;
      map_y.at<float>(y - box.y, x - box.x) = src.y;
    }
  cv::Mat moved;
  cv::remap(img, moved, map_x, map_y, cv::INTER_CUBIC, cv::BORDER_REPLICATE);
  lay_paint(moved, inside, cover, skin_grain(img, lm), skin_luma, box.tl());
  return moved;
}

// A mouth open in the photo (lips over 2 kOpenInPhoto of its width apart
// in the middle, fading in from kOpenInPhoto) keeps its own inside, teeth
// and all, within the inner lip contour (60-67): the model's darkening
// there smudged the teeth (faces/utk smiles), and the speech's opening
// stretches that inside (open_mouth). 8-bit BGR images, landmarks in their
// coordinates.
void keep_open_inside(cv::Mat& blended, const cv::Mat& photo, const Landmarks& lm) {
  const MouthAxes m(lm);
  const float own = open_in_photo(lm, m);
  if (own <= 0) return;
  cv::Mat cover = cv::Mat::zeros(blended.size(), CV_32F);
  cv::fillPoly(cover, std::vector<std::vector<cv::Point>>{outline(lm, 60, 68)}, cv::Scalar(own));
  cv::GaussianBlur(cover, cover, cv::Size(), std::max(0.5, 0.02 * m.width));
  mix_in(blended, photo, cover);
}

cv::Point2f darkening_shift(const std::vector<cv::Mat>& spoken, const cv::Mat& silent, const Landmarks& lm) {
  const MouthAxes m(lm);
  const float t_top = m.st(lm[33]).y, t_bottom = m.st(lm[8]).y, half = 0.6f * m.width;
  const std::vector<cv::Point2f> corners = {m.at(-half, t_top), m.at(half, t_top), m.at(-half, t_bottom),
                                            m.at(half, t_bottom)};
  const cv::Rect r = cv::boundingRect(corners) & cv::Rect(0, 0, silent.cols, silent.rows);
  const cv::Moments lips = cv::moments(std::vector<cv::Point2f>(lm.begin() + 48, lm.begin() + 60));
  if (r.empty() || lips.m00 < 1e-3) return {0, 0};
  double sum = 0, sum_t = 0;  // the darkening, and its moment along t
  for (const cv::Mat& img : spoken)
    for (int y = r.y; y < r.y + r.height; ++y)
      for (int x = r.x; x < r.x + r.width; ++x) {
        const cv::Point2f st = m.st(cv::Point2f(float(x), float(y)));
        if (std::abs(st.x) > half || st.y < t_top || st.y > t_bottom) continue;
        const cv::Vec3b g = img.at<cv::Vec3b>(y, x), q = silent.at<cv::Vec3b>(y, x);
        const float d = kLuma(0) * float(q[0] - g[0]) + kLuma(1) * float(q[1] - g[1]) + kLuma(2) * float(q[2] - g[2]);
        if (d <= kDarkSeen) continue;
        sum += d;
        sum_t += d * st.y;
      }
  // Less than a line of it across the mouth: too little to tell.
  if (spoken.empty() || sum < kDarkSeen * m.width * double(spoken.size())) return {0, 0};
  const float centre = m.st(cv::Point2f(float(lips.m10 / lips.m00), float(lips.m01 / lips.m00))).y;
  const float off = float(sum_t / sum) - centre, scatter = kDarkScatter * m.width;
  const float beyond =
      std::clamp(off - std::clamp(off, -scatter, scatter), -kDarkShift * m.width, kDarkShift * m.width);
  return -beyond * m.v;
}

cv::Mat photo_change(const cv::Mat& generated, const cv::Mat& silent, cv::Point2f by, const Landmarks& lm) {
  cv::Mat change, base, out;
  cv::subtract(generated, silent, change, cv::noArray(), CV_32FC3);
  if (by != cv::Point2f(0, 0))  // most photos: the darkening lies on the lips already
    cv::warpAffine(change, change, cv::Matx23f(1, 0, by.x, 0, 1, by.y), change.size(), cv::INTER_LINEAR,
                   cv::BORDER_CONSTANT);
  const LipsMirror mirror(lm, change.size());
  if (mirror.valid) change = 0.5 * (change + mirror(change));
  silent.convertTo(base, CV_32FC3);
  cv::Mat(base + change).convertTo(out, CV_8UC3);
  return out;
}

}  // namespace stf
