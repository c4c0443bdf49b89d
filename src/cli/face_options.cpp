#include "cli/face_options.h"

#include "cli/common.h"

#include "stf/error.h"

namespace stf::cli {

void add_face_options(CLI::App* cmd, FaceCliOptions& o) {
  const char* g = "Face pipeline";
  cmd->add_option("--pads", o.pads, "Padding around the face box in pixels: top bottom left right")
      ->expected(4)->default_str("0 10 0 0")->check(finite())->group(g);
  cmd->add_option("--box", o.box, "Fixed face box top bottom left right in pixels (skips detection)")
      ->expected(4)->check(finite())->group(g);
  cmd->add_flag("--nosmooth", o.nosmooth, "Do not smooth landmarks over time (and do not bridge or fade, see --smooth)")->group(g);
  cmd->add_option("--smooth", o.smooth_radius,
                  "Smoothing radius r in frames (centred window of 2r+1); faces the detector misses on up to 2r-1 "
                  "frames are interpolated, and around longer absences the re-rendered face fades over r frames")
      ->default_val(2)->check(range(0, 50))->group(g);
  cmd->add_flag("--static", o.is_static, "Detect once and reuse the face for every frame (photos)")->group(g);
  cmd->add_option("--face-select", o.select, "Which face to follow: largest (by its fitted landmarks), center, index:N (N-th from the left, 0 = the leftmost), point:X,Y")
      ->default_val("largest")->group(g);
  cmd->add_option("--detector", o.detector,
                  "Face detector: auto (dlib HOG, then the bundled res10 SSD where HOG finds none, then HOG on the "
                  "whole frame for a small face in a large picture), hog, dnn, mmod")
      ->default_val("auto")->group(g);
  cmd->add_option("--detector-model", o.detector_model,
                  "Detector weights: dnn .pb (its .pbtxt beside it; default: bundled), mmod .dat (required)")
      ->group(g);
  cmd->add_option("--detect-every", o.detect_every, "Run the detector every N frames; landmarks track in between")
      ->default_val(5)->check(range(1, 1000))->group(g);
  cmd->add_option("--detect-size", o.detect_size, "Longest side of the downscaled copy the detector sees")
      ->default_val(480)->check(range(64, 4096))->group(g);
  cmd->add_flag("--no-fit-check", o.no_fit_check,
                "Keep every 68-point fit (default: a fit counts only where dlib's HOG detector, run on a crop "
                "around it, also sees a face; on a face turned to profile the fit lands on the cheek, and such "
                "frames are passed through)")
      ->group(g);
  cmd->add_option("--landmark-model", o.landmark_model, "dlib 68-point shape predictor")
      ->default_str(kDefaultLandmarkModel)->group(g);
  cmd->add_flag("--align", o.align,
                "Rotate crops so the eye line is level (default: a head tilted sideways by more than 10 degrees is "
                "turned to 10, as far as the model follows the speech as on an upright face)")
      ->group(g);
}

void add_render_options(CLI::App* cmd, FaceCliOptions& o) {
  const char* g = "Rendering";
  cmd->add_option("--jaw", o.jaw,
                  "Where a video's face crop puts the chin: speech (where the new speech's loudness would open the "
                  "jaw) or video (the video's own chin, which also hands the model how far the original mouth was "
                  "open: a dubbed mouth then partly replays the original speech). Photos: their own chin")
      ->default_val("speech")->check(CLI::IsMember({"speech", "video"}))->group(g);
  cmd->add_flag("--seamless", o.seamless, "Paste back with cv::seamlessClone instead of a feathered mask")->group(g);
  cmd->add_flag("--no-detail", o.no_detail,
                "Paste back the upscaled generated face as it is (default: the frame's own skin texture is kept where the generated face agrees with it; see also --no-reference-detail)")
      ->group(g);
  cmd->add_flag("--no-reference-detail", o.no_reference_detail,
                "In a video, leave the re-rendered mouth as the model draws it, sharpened (default: its fine lines, "
                "lip outline and teeth, come from the reference frame the model was given, at the video's "
                "resolution, where the model drew the mouth as that frame has it)")
      ->group(g);
  cmd->add_flag("--no-teeth", o.no_teeth,
                "In a video, leave the re-rendered mouth's opening as the model draws it (default: where it is "
                "dark right under the upper lip, the upper teeth are painted into it, coloured as the video shows the "
                "person's own teeth)")
      ->group(g);
  cmd->add_flag("--even-halves", o.even_halves,
                "In a video, share a dark patch the model draws on one half of the mouth only with the other half "
                "(where one half of the redrawn mouth is much darker than the other's mirror image, more than the "
                "face's light and the frame's own mouth make it, both get their mean): fewer one-sided blotches, "
                "at some cost to how far a dub's mouth follows conversational speech (off by default)")
      ->group(g);
  cmd->add_option("--sharpen", o.sharpen,
                  "Sharpen the re-rendered mouth of a video where the reference frame gives it no detail (the model "
                  "renders it at 96-128 px): its detail at the model's pixel scale is multiplied by 1 + this; 0 = off")
      ->default_val(BlendOptions{}.sharpen)->check(range(0.0, 5.0))->group(g);
  cmd->add_flag("--no-keep-frame", o.no_keep_frame,
                "Paste back the model's rendering of the whole lower face (default: where the model's rendering of "
                "the frame with silent audio matches the frame, the frame's own pixels are kept and only the change "
                "the speech makes is added, so skin and closed lips stay sharp)")
      ->group(g);
  cmd->add_option("--motion-gain", o.motion_gain,
                  "With the frame kept (a photo): the darkening the speech makes to the mouth (an opening "
                  "darkens it) times this where the mouth opens little, falling to 1 as it opens by a tenth of "
                  "its width (see --mouth-open) and to nothing by a fifth, where the opening alone shows the "
                  "speech; a brightening (lips pressed together) stays as rendered; 1 = as the model renders it")
      ->default_val(BlendOptions{}.motion_gain)->check(range(0.0, 5.0))->group(g);
  cmd->add_option("--mouth-open", o.mouth_open,
                  "With the frame kept (a photo): open the mouth by this % of its width for each grey level the "
                  "speech darkens the model's lips by (the model draws an opening on a still face mostly as a "
                  "darkening), and at least as far as a text's phonemes or recorded speech's loudness ask; the lips "
                  "move apart, the jaw follows, the inside is painted; 0 = off (the darkening-only rendering)")
      ->default_val(BlendOptions{}.mouth_open)->check(range(0.0, 5.0))->group(g);
}

void add_strict_option(CLI::App* cmd, FaceCliOptions& o) {
  cmd->add_flag("--strict", o.strict, "Frames without a face are an error (default: passed through unchanged)")
      ->group("Face pipeline");
}

TrackerOptions tracker_options(const FaceCliOptions& o) {
  TrackerOptions t;
  t.detector.kind = o.detector;
  t.detector.model = o.detector_model;
  t.detector.max_side = o.detect_size;
  if (!o.landmark_model.empty()) t.landmark_model = o.landmark_model;
  t.detect_every = o.detect_every;
  t.smooth_radius = o.nosmooth ? 0 : o.smooth_radius;
  t.select = o.select;
  t.static_image = o.is_static;
  t.check_fit = !o.no_fit_check;
  if (!o.box.empty()) {
    const float top = o.box[0], bottom = o.box[1], left = o.box[2], right = o.box[3];
    if (bottom <= top || right <= left) throw Error("--box needs top < bottom and left < right");
    t.fixed_box = cv::Rect2f(left, top, right - left, bottom - top);
  }
  return t;
}

CropOptions crop_options(const FaceCliOptions& o, int size) {
  CropOptions c;
  c.size = size;
  c.pads = {o.pads[0], o.pads[1], o.pads[2], o.pads[3]};
  c.align = o.align;
  c.speech_jaw = o.jaw == "speech";
  return c;
}

void add_crop_option(CLI::App* cmd, std::string& placement, const std::string& role) {
  cmd->add_option("--crop", placement,
                  "Where crops sit on the face: bounds (the box of all 68 landmarks, chin included, so it moves "
                  "with the mouth) or steady (placed by the nose and eyes). " + role)
      ->default_val("bounds")->check(CLI::IsMember({"bounds", "steady"}));
}

BlendOptions blend_options(const FaceCliOptions& o) {
  BlendOptions b;
  b.seamless = o.seamless;
  b.detail = !o.no_detail;
  b.reference_detail = !o.no_reference_detail;
  b.teeth = !o.no_teeth;
  b.even_halves = o.even_halves;
  b.sharpen = o.sharpen;
  b.motion_gain = o.motion_gain;
  b.mouth_open = o.mouth_open;
  b.keep_frame = !o.no_keep_frame;
  return b;
}

}  // namespace stf::cli
