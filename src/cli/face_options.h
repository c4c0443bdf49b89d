// The face pipeline's command-line options: finding and cropping the face
// (faces, generate, preprocess, eval), redrawing it (generate, eval) and
// --strict (faces, generate).
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "stf/face.h"

namespace stf::cli {

struct FaceCliOptions {
  std::vector<float> pads{0, 10, 0, 0};
  std::vector<float> box;  // top bottom left right; empty = detect
  bool nosmooth = false, is_static = false, strict = false, seamless = false, no_detail = false, no_reference_detail = false, no_teeth = false, even_halves = false, no_keep_frame = false, align = false;
  bool no_fit_check = false;
  float sharpen = BlendOptions{}.sharpen, motion_gain = BlendOptions{}.motion_gain,
        mouth_open = BlendOptions{}.mouth_open;
  int smooth_radius = 2, detect_every = 5, detect_size = 480;
  std::string select = "largest", detector = "auto", detector_model, landmark_model, jaw = "speech";
};
void add_face_options(CLI::App* cmd, FaceCliOptions& o);
void add_render_options(CLI::App* cmd, FaceCliOptions& o);
void add_strict_option(CLI::App* cmd, FaceCliOptions& o);
TrackerOptions tracker_options(const FaceCliOptions& o);
CropOptions crop_options(const FaceCliOptions& o, int size);
// --crop bounds|steady (include/stf/crop_placement.h); `role` ends the help text.
void add_crop_option(CLI::App* cmd, std::string& placement, const std::string& role);
BlendOptions blend_options(const FaceCliOptions& o);

}  // namespace stf::cli
