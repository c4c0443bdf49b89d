#include <dlib/image_processing/shape_predictor.h>
#include <dlib/opencv/cv_image.h>
#include <filesystem>
#include <fstream>

#include "stf/error.h"
#include "stf/face.h"

namespace stf {

struct LandmarkModel::Impl {
  dlib::shape_predictor sp;
};

LandmarkModel::LandmarkModel(const std::string& path) : impl_(std::make_unique<Impl>()) {
  if (!std::filesystem::exists(path))
    throw Error(path + ": landmark model not found; install it with 'apt-get install libdlib-data' "
                "or pass --landmark-model PATH");
  try {
    dlib::deserialize(path) >> impl_->sp;
  } catch (const std::exception& e) {
    throw Error(path + ": not a dlib shape predictor (" + std::string(e.what()).substr(0, 80) + ")");
  }
  if (impl_->sp.num_parts() != 68)
    throw Error(path + ": shape predictor has " + std::to_string(impl_->sp.num_parts()) +
                " points, need the 68-point model");
}

LandmarkModel::~LandmarkModel() = default;

Landmarks LandmarkModel::fit(const cv::Mat& bgr, const cv::Rect2f& box) const {
  dlib::cv_image<dlib::bgr_pixel> img(bgr);
  dlib::rectangle r(std::lround(box.x), std::lround(box.y), std::lround(box.x + box.width),
                    std::lround(box.y + box.height));
  dlib::full_object_detection shape = impl_->sp(img, r);
  Landmarks lm;
  for (int i = 0; i < 68; ++i) lm[i] = cv::Point2f(shape.part(i).x(), shape.part(i).y());
  return lm;
}

cv::Rect2f landmark_bounds(const Landmarks& lm) {
  float x0 = lm[0].x, y0 = lm[0].y, x1 = x0, y1 = y0;
  for (const auto& p : lm) {
    x0 = std::min(x0, p.x), y0 = std::min(y0, p.y);
    x1 = std::max(x1, p.x), y1 = std::max(y1, p.y);
  }
  return {x0, y0, x1 - x0, y1 - y0};
}

static cv::Point2f mean_of(const Landmarks& lm, int from, int to) {
  cv::Point2f s(0, 0);
  for (int i = from; i <= to; ++i) s += lm[i];
  return s / float(to - from + 1);
}

float inter_ocular_distance(const Landmarks& lm) {
  return static_cast<float>(cv::norm(mean_of(lm, 36, 41) - mean_of(lm, 42, 47)));
}

double mouth_opening(const Landmarks& lm) {
  const double gap = cv::norm(lm[61] - lm[67]) + cv::norm(lm[62] - lm[66]) + cv::norm(lm[63] - lm[65]);
  return gap / 3 / inter_ocular_distance(lm);
}

}  // namespace stf
