#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv/cv_image.h>
#include <filesystem>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "stf/error.h"
#include "stf/face.h"

namespace stf {

namespace {

// Downscales so the longest side is at most max_side; returns the factor
// that maps small-image coordinates back to the frame.
double downscale(const cv::Mat& src, cv::Mat& dst, int max_side) {
  int longest = std::max(src.cols, src.rows);
  if (longest <= max_side) {
    dst = src;
    return 1.0;
  }
  double s = double(max_side) / longest;
  cv::resize(src, dst, cv::Size(), s, s, cv::INTER_AREA);
  return 1.0 / s;
}

// dlib's HOG + linear SVM frontal detector: needs no model file.
class HogDetector : public FaceDetector {
 public:
  explicit HogDetector(int max_side) : max_side_(max_side), det_(dlib::get_frontal_face_detector()) {}
  std::vector<cv::Rect2f> detect(const cv::Mat& bgr) override {
    cv::Mat small, gray;
    double back = downscale(bgr, small, max_side_);
    cv::cvtColor(small, gray, cv::COLOR_BGR2GRAY);
    dlib::cv_image<unsigned char> img(gray);
    std::vector<std::pair<double, dlib::rectangle>> found;
    det_(img, found, 0.0);
    std::sort(found.begin(), found.end(), [](auto& a, auto& b) { return a.first > b.first; });
    std::vector<cv::Rect2f> out;
    for (auto& [score, r] : found)
      out.emplace_back(r.left() * back, r.top() * back, r.width() * back, r.height() * back);
    return out;
  }

 private:
  int max_side_;
  dlib::frontal_face_detector det_;
};

// OpenCV DNN res10 SSD (TensorFlow graph + pbtxt).
class DnnDetector : public FaceDetector {
 public:
  DnnDetector(const std::string& pb, float min_score) : min_score_(min_score) {
    std::string pbtxt = std::filesystem::path(pb).replace_extension(".pbtxt").string();
    if (!std::filesystem::exists(pb)) throw Error(pb + ": detector model not found (--detector-model)");
    if (!std::filesystem::exists(pbtxt))
      throw Error(pbtxt + ": the .pbtxt graph description must sit beside " + pb);
    try {
      net_ = cv::dnn::readNetFromTensorflow(pb, pbtxt);
    } catch (const cv::Exception& e) {
      throw Error(pb + ": not a readable OpenCV DNN face detector");
    }
  }
  std::vector<cv::Rect2f> detect(const cv::Mat& bgr) override {
    cv::Mat blob = cv::dnn::blobFromImage(bgr, 1.0, cv::Size(300, 300), cv::Scalar(104, 177, 123), false, false);
    net_.setInput(blob);
    cv::Mat det = net_.forward();  // (1, 1, N, 7): image, class, score, x0, y0, x1, y1
    cv::Mat rows(det.size[2], det.size[3], CV_32F, det.ptr<float>());
    std::vector<std::pair<float, cv::Rect2f>> found;
    for (int i = 0; i < rows.rows; ++i) {
      float score = rows.at<float>(i, 2);
      if (score < min_score_) continue;
      float x0 = rows.at<float>(i, 3) * bgr.cols, y0 = rows.at<float>(i, 4) * bgr.rows;
      float x1 = rows.at<float>(i, 5) * bgr.cols, y1 = rows.at<float>(i, 6) * bgr.rows;
      if (x1 > x0 && y1 > y0) found.push_back({score, cv::Rect2f(x0, y0, x1 - x0, y1 - y0)});
    }
    std::sort(found.begin(), found.end(), [](auto& a, auto& b) { return a.first > b.first; });
    std::vector<cv::Rect2f> out;
    for (auto& f : found) out.push_back(f.second);
    return out;
  }

 private:
  float min_score_;
  cv::dnn::Net net_;
};

}  // namespace

std::unique_ptr<FaceDetector> make_face_detector(const DetectorOptions& opt) {
  if (opt.kind == "hog") return std::make_unique<HogDetector>(opt.max_side);
  if (opt.kind == "dnn") {
    if (opt.model.empty()) throw Error("--detector dnn needs --detector-model PATH.pb");
    return std::make_unique<DnnDetector>(opt.model, opt.min_score);
  }
  throw Error("unknown detector '" + opt.kind + "'; use hog or dnn");
}

}  // namespace stf
