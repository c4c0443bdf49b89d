// The per-frame face file written by `faces --json` and `synth`, and read by
// `preprocess` (ground-truth landmarks beside a video: NAME.landmarks.json):
// a JSON array with one entry per frame, null where there is no face, else
// {"frame": i, "box": [x0, y0, x1, y1], "landmarks": [[x, y] x 68]}.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "stf/face.h"

namespace stf {

nlohmann::json face_to_json(int64_t frame, const FaceObservation& face);

// Throws stf::Error naming the file when it is not such an array.
std::vector<FaceObservation> read_face_track(const std::string& path);

}  // namespace stf
