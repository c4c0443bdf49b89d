// Face pipeline: detection, 68-point landmarks, tracking with centred
// smoothing, square crops with their exact transform, and paste-back.
#pragma once
#include <array>
#include <functional>
#include <memory>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

#include "stf/crop_placement.h"

namespace stf {

using Landmarks = std::array<cv::Point2f, 68>;  // dlib/iBUG 68-point order

constexpr const char* kDefaultLandmarkModel = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";

// ---- detection -------------------------------------------------------------

// The bundled OpenCV res10 SSD weights (models/face/ in the source tree;
// $STF_MODELS_DIR overrides the models folder).
std::string bundled_dnn_detector();

struct DetectorOptions {
  // auto: dlib HOG, then the res10 SSD on frames where HOG finds no face;
  // hog: dlib HOG alone (no model file); dnn: the res10 SSD alone;
  // mmod: dlib's MMOD CNN (model file required, slow on CPU).
  std::string kind = "auto";
  std::string model;         // dnn: .pb (.pbtxt beside it; empty = bundled); mmod: .dat
  int max_side = 480;        // detection runs on a copy downscaled to this longest side
  float min_score = 0.5f;    // dnn confidence threshold
};

class FaceDetector {
 public:
  virtual ~FaceDetector() = default;
  // Face boxes in the frame's pixel coordinates, best first.
  virtual std::vector<cv::Rect2f> detect(const cv::Mat& bgr) = 0;
};

std::unique_ptr<FaceDetector> make_face_detector(const DetectorOptions& opt);

// A second opinion on a 68-point fit. The shape predictor returns a face
// shape for any box; on a face turned to profile it puts one on the cheek or
// the neck. FitCheck runs dlib's HOG detector on a crop that frames the
// fitted face at about 90 px and confirms the fit when it finds a face box
// over it scoring at least min_score (the detector's own threshold is 0; -1
// lets turned, blurred and rotated faces through) and, where that box is
// the detector's for a turned face, the fitted nose tip is not behind the
// box's middle (a frontal shape fitted to the cheek of a face turned far).
class FitCheck {
 public:
  FitCheck();
  ~FitCheck();
  bool confirms(const cv::Mat& bgr, const Landmarks& lm, double min_score = -1);

  struct Impl;
 private:
  std::unique_ptr<Impl> impl_;
};

// ---- landmarks ---------------------------------------------------------------

class LandmarkModel {
 public:
  explicit LandmarkModel(const std::string& path = kDefaultLandmarkModel);
  ~LandmarkModel();
  // Fits the 68 points inside a face box (frame pixel coordinates).
  Landmarks fit(const cv::Mat& bgr, const cv::Rect2f& box) const;

  struct Impl;
 private:
  std::unique_ptr<Impl> impl_;
};

// Axis-aligned bounds of the landmarks.
cv::Rect2f landmark_bounds(const Landmarks& lm);
// Distance between the eye centres (points 36-41 and 42-47).
float inter_ocular_distance(const Landmarks& lm);
// How open the mouth is: the mean distance between the inner lips' three
// facing pairs (61-67, 62-66, 63-65) over the inter-ocular distance.
double mouth_opening(const Landmarks& lm);

// ---- crops ---------------------------------------------------------------------

struct CropOptions {
  int size = 96;                               // output side in pixels
  CropPlacement placement = CropPlacement::bounds;
  std::array<float, 4> pads{0, 10, 0, 0};      // top, bottom, left, right, pixels (Wav2Lip --pads)
  bool align = false;                          // rotate so the eye line is level (else a face rolled over
                                               // 10 degrees is turned to 10)
  bool speech_jaw = true;                      // bounds placement, where crop_transform is told how far the
                                               // speech opens the mouth: the box's bottom placed from that
                                               // instead of the face's own chin (generate --jaw speech)
};

// A square crop of the face and the 2x3 affine transform frame -> crop.
struct FaceCrop {
  cv::Mat image;       // size x size BGR
  cv::Matx23f to_crop; // frame pixel -> crop pixel
};

// The crop transform for a face: the landmark box (see CropPlacement)
// extended up by 15% of its height (forehead, like a detector box) and down
// by 10% (chin room), padded, squared around its centre. With `speaking`
// (0..1: how far the speech opens the mouth at this frame, generate's
// speech_opening) and opt.speech_jaw, a bounds box's bottom is where a
// median face's chin lies with the mouth that open, not the face's own chin:
// a model trained on bounds crops reads the mouth's opening from where the
// chin sits in its crop, and given the video's own chin it redraws the
// video's original mouth movements over the new speech (models/README.md,
// session 46). Never more than kChinAbove of the box's height above the
// face's own lowest point, so the crop still holds the jaw paste_back redraws.
cv::Matx23f crop_transform(const Landmarks& lm, const CropOptions& opt, float speaking = -1);
// The same from a fixed box (--box): top, bottom, left, right in pixels.
cv::Matx23f crop_transform(const cv::Rect2f& box, const CropOptions& opt);
FaceCrop crop_face(const cv::Mat& frame, const cv::Matx23f& to_crop, int size);
// Landmarks mapped by a crop transform into the crop's pixels.
Landmarks to_crop_space(const Landmarks& lm, const cv::Matx23f& to_crop);

// ---- paste-back -------------------------------------------------------------------

// What the speech asks of a photo's mouth at one frame beyond the model's
// rendering (generate sets it per frame on a photo: from a text's phonemes,
// or the opening alone from recorded speech's loudness; all 0 elsewhere).
struct SpeechShape {
  float least_open = 0;  // the mouth opened by at least this share of its width
  float wider = 0;       // the lips drawn this share of their width wider (negative: narrower, rounded)
};

struct BlendOptions {
  bool color_match = true;  // match the generated crop's colour to the skin around the mask, and its
                            // chroma to the frame's at about half the mouth's height
  bool seamless = false;    // cv::seamlessClone instead of feathered alpha
  bool detail = true;       // the frame's fine texture kept where the generated face agrees with it
  bool reference_detail = true;  // with detail: the redrawn mouth's fine lines from paste_back's `reference`
  bool teeth = true;        // in a video (not the keep_frame path): upper teeth painted where the redrawn
                            // mouth is dark just under the upper lip
  bool even_halves = false;  // in a video: a dark patch on one half of the redrawn mouth only shared with the
                             // other half (even_halves; off by default: models/README.md, session 59)
  float sharpen = 1.5f;     // elsewhere (the re-rendered mouth) an unsharp mask: its detail at the crop's
                            // pixel scale x (1 + sharpen); 0 = off. Not on the keep_frame path.
  bool keep_frame = true;   // with the model's silent rendering (paste_back's `silent`): the frame's own
                            // pixels plus the speech's change, where that rendering matches the frame
  float motion_gain = 2.0f;  // on that path, the speech's darkening times this (1 = as rendered; a brightening
                             // stays as rendered),
                             // falling to 1 as the mouth opens by a tenth of its width
  float mouth_open = 1.0f;   // and the mouth opened by this % of its width per grey level the speech darkens
                             // the lips by (mean over them), and at least as speech_shape asks; 0 = off
  SpeechShape speech_shape;  // and, on that path, the mouth shaped as the speech asks
  float max_scale = 6.0f;    // a face larger than this many frame pixels per crop pixel is blended at that
                             // scale, and the change it makes scaled up (the frame keeps its own detail)
};

// Soft mask (CV_32F, 0..1, frame size restricted to `roi`) over the lower
// face: the jaw line up to just under the nose, with a feathered edge.
cv::Mat lower_face_mask(const Landmarks& lm, const cv::Rect& roi);

// A person's teeth as a video shows them (TeethObserver, below).
struct SeenTeeth {
  int frames = 0;         // open-mouthed frames they were seen in; 0: none
  float share = 0;        // their luminance over the skin's (between nose and mouth)
  cv::Vec3f tint;         // their colour (BGR) per unit of luminance
  float limit = 1;        // teeth are painted no further than this (0..1; see paint_teeth)
};

// Pastes the generated crop's lower face back into the frame in place. Only
// pixels under the mask change. `silent`, when given (and opt.keep_frame):
// the model's crop of the same input with silent audio (generate passes a
// photo's). Where it matches the frame at a coarse scale, the result is the
// frame plus the speech's change (generated - silent, its luminance times
// opt.motion_gain): the frame's own
// sharpness and colours, and the frame itself (within a few grey levels) in
// silence; where it does not (a mouth in the frame the model would not render
// in silence), the generated pixels. Detail transfer and colour matching's
// global shift are then not needed; its local chroma step still applies.
// The luminance the speech takes off the lips there also opens the frame's
// mouth (opt.mouth_open): lips apart, jaw down, the inside painted.
// `reference`, when given (and opt.reference_detail; generate passes a video
// frame's): the crop the model was given as its reference, at any resolution
// (crop_face's crop scaled up, square). It is moved by optical flow onto the
// shapes the generated crop draws; where the two then agree in luminance at
// a few crop pixels' scale, its finer detail replaces the generated face's.
// In a video (not the keep_frame path) and with opt.teeth, where the
// redrawn mouth turns dark just under the upper lip (an opening the model
// drew without teeth), the upper teeth are painted over the top of that
// dark, looking like `teeth` where the video has shown them, else like a
// photo's painted teeth (paint_teeth). Returns how far that opening shows
// teeth (0..1; 0 off that path).
float paste_back(cv::Mat& frame, const cv::Mat& generated, const cv::Matx23f& to_crop,
                 const Landmarks& lm, const BlendOptions& opt = {}, const cv::Mat& silent = {},
                 const cv::Mat& reference = {}, const SeenTeeth& teeth = {});

// On a photo the model draws its opening where its training faces have the
// mouth, which can lie a tenth of the mouth's width above or below the
// photo's lips (a darkening on the chin under a thin-lipped smile). The
// shift (pixels, across the mouth) that brings the centre of the darkening
// renderings `spoken` make against `silent` (8-bit BGR crops; where darker
// by over 4 grey levels, from the nose's base to the chin) to within a
// twentieth of the mouth's width of the centre of the lips `lm` (in the
// crops' coordinates); none where they darken too little to tell, at most a
// fifth of the mouth's width.
cv::Point2f darkening_shift(const std::vector<cv::Mat>& spoken, const cv::Mat& silent, const Landmarks& lm);

// `silent` plus generated's change from it moved by `by` pixels and made
// mirror-symmetric about the middle of the lips `lm` (in the crops'
// coordinates): the model's change on a photo is often lopsided (one half of
// a lip darkened into a blotch) where a speaking mouth moves both halves
// alike; each half gets the mean of its own change and its mirror image's.
cv::Mat photo_change(const cv::Mat& generated, const cv::Mat& silent, cv::Point2f by, const Landmarks& lm);

// A video's redrawn crop `generated` (8-bit BGR, `lm` in its coordinates)
// with the dark patches the model draws on one half of the mouth only (half
// a lip gone dark brown, half an opening) shared with the other half: there
// both halves get the mean of the crop and its mirror image (across the
// lips' middle, as photo_change mirrors), at their own side's light, so the
// darkening, which draws the opening the speech asks for, stays, at half its
// depth on either side. Within the mouth's width, where a pixel (blurred by
// 6% of that width) is darker than its mirror image by more than the face's
// light from one side makes it, and by more than the same comparison finds
// in `frame` (the frame's own crop, same size: a moustache, a turned face's
// shading): from 20 grey levels beyond, fully from 40. Unchanged for a face
// turned far.
cv::Mat even_halves(const cv::Mat& generated, const cv::Mat& frame, const Landmarks& lm);

// The upper teeth painted into the dark opening of a mouth paste_back
// redrew in `frame` (on the video path), as far as the opening shows them
// (0..1, from its height), or teeth.limit if that is less; returns the
// former (teeth.limit 0: only measured). paste_back does it with
// opt.teeth; a caller that knows the frames around (generate) passes
// opt.teeth = false, then this with the limit the neighbours allow, so
// that an opening one frame long gets none (it flashed).
float paint_teeth(cv::Mat& frame, const Landmarks& lm, const SeenTeeth& teeth);

// A person's teeth as a video shows them: observe() each real frame (before
// paste_back); frames whose inner lips are apart by over 15% of the mouth's
// width and whose brightest tenth between the lips is at least 0.8 of the
// skin's luminance (teeth, not a tongue or lips) count, by that tenth's
// colour relative to the skin's luminance (a change of light carries over).
class TeethObserver {
 public:
  void observe(const cv::Mat& frame, const Landmarks& lm);
  SeenTeeth seen() const;

 private:
  int frames_ = 0;
  double share_sum_ = 0;
  cv::Vec3d tint_sum_{0, 0, 0};
};

// ---- tracking ---------------------------------------------------------------------

struct TrackerOptions {
  DetectorOptions detector;
  std::string landmark_model = kDefaultLandmarkModel;
  int detect_every = 5;       // full detection every N frames; landmarks track in between
  int smooth_radius = 2;      // centred window of 2r+1 frames (also bridges gaps of up to 2r-1 and fades
                              // over r frames around longer ones); 0 = --nosmooth
  float cut_threshold = 0.35f;// histogram change that counts as a scene cut (re-detect)
  std::string select = "largest";  // largest | center | index:N | point:X,Y
  std::optional<cv::Rect2f> fixed_box;  // --box: skip detection
  bool static_image = false;  // --static: detect once, reuse for every frame
  bool check_fit = true;      // a fit FitCheck does not confirm counts as no face (not with fixed_box)
};

struct FaceObservation {
  bool found = false;
  cv::Rect2f box;      // landmark bounds (x, y, w, h) in frame pixels
  Landmarks landmarks{};
};

struct TrackedFrame {
  int64_t index = 0;
  cv::Mat frame;
  FaceObservation face;
  int64_t segment = 0;  // shot number: grows at a scene cut or when the face is lost
  float fade = 1;       // share of the re-rendered face to show: 1/(r+1), 2/(r+1) .. on the r frames
                        // next to a stretch of the same shot where the face is lost, else 1
};

struct TrackStats {
  int64_t frames = 0, with_face = 0, detections = 0;
};

// Follows one face through a stream. Frames go in with push(); they come out
// of pop() 2 x `smooth_radius` frames later, with smoothed landmarks (the
// centred window needs future frames), a face the detector missed on a
// few frames within the window, between two finds at about the same place
// and with no cut between, interpolated, and `fade` set next to the face's
// longer absences. Call finish() after the last frame.
class FaceTracker {
 public:
  explicit FaceTracker(const TrackerOptions& opt);
  // Shares an already loaded landmark model (loading takes about a second):
  // for many clips in one process.
  FaceTracker(const TrackerOptions& opt, std::shared_ptr<const LandmarkModel> landmarks);
  ~FaceTracker();
  void push(const cv::Mat& frame);
  void finish();
  bool pop(TrackedFrame& out);
  const TrackStats& stats() const;

  struct Impl;
 private:
  std::unique_ptr<Impl> impl_;
};

// The face in one still image (detection + landmarks, as --static does for
// a photo); found = false when there is none.
FaceObservation find_face(const cv::Mat& image, std::shared_ptr<const LandmarkModel> landmarks);

class VideoReader;

// Runs every frame of `reader` through `tracker` and calls `on_frame` for
// each tracked frame, in order (the tracker delays them by twice its
// smoothing radius). Polls Ctrl-C between frames.
void track_video(VideoReader& reader, FaceTracker& tracker,
                 const std::function<void(const TrackedFrame&)>& on_frame);

}  // namespace stf
