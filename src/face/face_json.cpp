#include "face/face_json.h"

#include <fstream>

#include "stf/error.h"

namespace stf {

nlohmann::json face_to_json(int64_t frame, const FaceObservation& face) {
  if (!face.found) return nullptr;
  const cv::Rect2f& b = face.box;
  nlohmann::json lm = nlohmann::json::array();
  for (const auto& p : face.landmarks) lm.push_back({p.x, p.y});
  return {{"frame", frame}, {"box", {b.x, b.y, b.x + b.width, b.y + b.height}}, {"landmarks", lm}};
}

std::vector<FaceObservation> read_face_track(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open the landmark file");
  std::vector<FaceObservation> out;
  try {
    nlohmann::json j = nlohmann::json::parse(in);
    for (const auto& e : j) {
      FaceObservation f;
      if (!e.is_null()) {
        const auto& lm = e.at("landmarks");
        if (lm.size() != 68) throw Error("");
        for (int k = 0; k < 68; ++k) f.landmarks[k] = {lm[k][0].get<float>(), lm[k][1].get<float>()};
        f.box = landmark_bounds(f.landmarks);
        f.found = true;
      }
      out.push_back(f);
    }
  } catch (const std::exception&) {
    throw Error(path + ": not a landmark file (a JSON array of null or {frame, box, landmarks[68]})");
  }
  return out;
}

}  // namespace stf
