// Renders a mouth shape on a real face: moves the mouth and jaw landmarks to
// the shape, warps the lower face piecewise-affinely (Delaunay triangles over
// the landmarks and a frame around them), and draws the inner mouth.
#pragma once
#include <opencv2/core.hpp>

#include "stf/face.h"
#include "synth/visemes.h"

namespace stf {

// Where the 68 landmarks go for `shape`, starting from a face's landmarks.
// The mouth is first closed (inner lips meet on the line between them), then
// opened, widened, rounded and raised; the jaw and chin follow the opening.
// Distances scale with the inter-ocular distance.
Landmarks mouth_landmarks(const Landmarks& face, const MouthShape& shape);

// The face image with its landmarks moved from `from` to `to` (only the
// lower face changes) and the inner mouth of `to` drawn: a dark cavity, and
// a band of teeth under the upper lip as `shape.teeth` says.
cv::Mat render_mouth(const cv::Mat& image, const Landmarks& from, const Landmarks& to, const MouthShape& shape);

}  // namespace stf
