// Where a face crop's box comes from. A model records the placement it
// trained on (ModelConfig), so this header stays free of OpenCV: the model
// layer builds without it (STF_MODEL_ONLY).
#pragma once
#include <string>

#include "stf/error.h"

namespace stf {

// bounds: the box of all 68 landmarks, chin included, so an opening mouth
// makes the box taller and the face in the crop smaller (a cue to the mouth
// that needs no audio; the models of sessions 1-25). steady: the box's bottom
// is placed from the nose and the eyes, which do not move with speech.
enum class CropPlacement { bounds, steady };

inline const char* crop_placement_name(CropPlacement p) { return p == CropPlacement::steady ? "steady" : "bounds"; }

// Throws stf::Error on a name other than "bounds" or "steady".
inline CropPlacement parse_crop_placement(const std::string& name) {
  if (name == "bounds") return CropPlacement::bounds;
  if (name == "steady") return CropPlacement::steady;
  throw Error("unknown crop placement '" + name + "' (bounds or steady)");
}

}  // namespace stf
