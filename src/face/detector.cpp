#include <algorithm>
#include <dlib/dnn.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv/cv_image.h>
#include <cstdlib>
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

// dlib's HOG + linear SVM frontal detector, which needs no model file. dlib
// decompresses its filters from a string at every get_frontal_face_detector()
// (0.4 s here); a tracker wants two (detection and the fit check): they
// copy one made once.
dlib::frontal_face_detector frontal_face_detector() {
  static const dlib::frontal_face_detector made = dlib::get_frontal_face_detector();
  return made;
}

class HogDetector : public FaceDetector {
 public:
  explicit HogDetector(int max_side) : max_side_(max_side), det_(frontal_face_detector()) {}
  std::vector<cv::Rect2f> detect(const cv::Mat& bgr) override { return detect_at(bgr, max_side_); }
  std::vector<cv::Rect2f> detect_at(const cv::Mat& bgr, int max_side) {
    cv::Mat small, gray;
    double back = downscale(bgr, small, max_side);
    cv::cvtColor(small, gray, cv::COLOR_BGR2GRAY);
    // HOG windows need some context around the face: a replicated border
    // lets it find faces cropped tightly or touching the frame edge.
    const int border = std::max(gray.cols, gray.rows) / 8;
    cv::copyMakeBorder(gray, gray, border, border, border, border, cv::BORDER_REPLICATE);
    dlib::cv_image<unsigned char> img(gray);
    std::vector<std::pair<double, dlib::rectangle>> found;
    det_(img, found, 0.0);
    std::sort(found.begin(), found.end(), [](auto& a, auto& b) { return a.first > b.first; });
    std::vector<cv::Rect2f> out;
    for (auto& [score, r] : found)
      out.emplace_back((r.left() - border) * back, (r.top() - border) * back, r.width() * back,
                       r.height() * back);
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
    if (!std::filesystem::exists(pb)) throw Error(pb + ": detector model not found (--detector-model)");
    // The graph text sits beside the weights: NAME.pbtxt, or without the
    // "_uint8" suffix as OpenCV ships the pair.
    std::filesystem::path p(pb);
    std::string stem = p.stem().string();
    std::string pbtxt = (p.parent_path() / (stem + ".pbtxt")).string();
    if (!std::filesystem::exists(pbtxt) && stem.size() > 6 && stem.substr(stem.size() - 6) == "_uint8")
      pbtxt = (p.parent_path() / (stem.substr(0, stem.size() - 6) + ".pbtxt")).string();
    if (!std::filesystem::exists(pbtxt))
      throw Error(pb + ": no .pbtxt graph description beside it (" + pbtxt + ")");
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

// dlib's MMOD CNN face detector. The layer stack must match the one the
// model file (mmod_human_face_detector.dat) was trained with: three strided
// 5x5 convolutions, three 5x5 convolutions of 45 filters, a 9x9 detector.
template <long N, typename SUBNET> using mmod_con5d = dlib::con<N, 5, 5, 2, 2, SUBNET>;
template <long N, typename SUBNET> using mmod_con5 = dlib::con<N, 5, 5, 1, 1, SUBNET>;
template <typename SUBNET>
using mmod_down = dlib::relu<dlib::affine<mmod_con5d<32, dlib::relu<dlib::affine<mmod_con5d<32,
                  dlib::relu<dlib::affine<mmod_con5d<16, SUBNET>>>>>>>>>;
template <typename SUBNET> using mmod_rcon5 = dlib::relu<dlib::affine<mmod_con5<45, SUBNET>>>;
using MmodNet = dlib::loss_mmod<dlib::con<1, 9, 9, 1, 1, mmod_rcon5<mmod_rcon5<mmod_rcon5<
                mmod_down<dlib::input_rgb_image_pyramid<dlib::pyramid_down<6>>>>>>>>;

class MmodDetector : public FaceDetector {
 public:
  MmodDetector(const std::string& path, int max_side) : max_side_(max_side) {
    if (!std::filesystem::exists(path)) throw Error(path + ": MMOD model not found (--detector-model)");
    try {
      dlib::deserialize(path) >> net_;
    } catch (const std::exception&) {
      throw Error(path + ": not a dlib MMOD face detector (mmod_human_face_detector.dat)");
    }
  }
  std::vector<cv::Rect2f> detect(const cv::Mat& bgr) override {
    cv::Mat small, rgb;
    double back = downscale(bgr, small, max_side_);
    cv::cvtColor(small, rgb, cv::COLOR_BGR2RGB);
    dlib::matrix<dlib::rgb_pixel> img;
    dlib::assign_image(img, dlib::cv_image<dlib::rgb_pixel>(rgb));
    std::vector<dlib::mmod_rect> found = net_(img);
    std::sort(found.begin(), found.end(), [](auto& a, auto& b) { return a.detection_confidence > b.detection_confidence; });
    std::vector<cv::Rect2f> out;
    for (const auto& d : found)
      out.emplace_back(d.rect.left() * back, d.rect.top() * back, d.rect.width() * back, d.rect.height() * back);
    return out;
  }

 private:
  int max_side_;
  MmodNet net_;
};

// --detector auto: HOG on the downscaled copy first (fast); the network
// (when its weights are there) only on frames where HOG finds nothing.
// HOG's window is 80 px, and the network misses faces much under that in
// its 300 px input too (a wide 1080p shot: a face under ~100-300 px): on
// the first frame where neither finds one, and every kWiderEvery such
// frames after, HOG also runs on the whole frame, and once it finds a face
// there, the copy grows so that this face is kFaceSide px across in it
// (never past the frame's size): later detections find it without the
// whole frame's cost where it is not that small. The video's faceless
// stretches pay one full-size pass per kWiderEvery frames.
class AutoDetector : public FaceDetector {
 public:
  AutoDetector(int max_side, std::unique_ptr<FaceDetector> dnn) : size_(max_side), hog_(max_side), dnn_(std::move(dnn)) {}
  std::vector<cv::Rect2f> detect(const cv::Mat& bgr) override {
    std::vector<cv::Rect2f> found = hog_.detect_at(bgr, size_);
    if (found.empty() && dnn_) found = dnn_->detect(bgr);
    const int longest = std::max(bgr.cols, bgr.rows);
    if (found.empty() && longest > size_ && misses_ % kWiderEvery == 0) {
      found = hog_.detect_at(bgr, longest);
      if (!found.empty())
        size_ = std::clamp(int(std::lround(kFaceSide * longest / std::max(1.0f, found[0].width))), size_, longest);
    }
    misses_ = found.empty() ? misses_ + 1 : 0;
    return found;
  }

 private:
  static constexpr int kWiderEvery = 25;
  static constexpr float kFaceSide = 100;
  int size_;        // the longest side HOG sees: --detect-size, or larger once a face was found only in the whole frame
  int misses_ = 0;  // detections in a row that found nothing
  HogDetector hog_;
  std::unique_ptr<FaceDetector> dnn_;
};

// The side x side grey crop centred on `centre` at `scale` crop pixels per
// frame pixel, the frame's edge pixels repeated beyond it. Resized straight
// from the frame's pixels around the face (area-averaged when shrinking):
// the check needs no sub-pixel placement, and warping a 720p face at its own
// resolution first, as crop_face does for the model, cost twice the detector.
cv::Mat grey_crop(const cv::Mat& bgr, cv::Point2f centre, float scale, int side) {
  const float half = side / (2 * scale);  // frame pixels from the centre to the crop's edge
  const cv::Rect around(cvRound(centre.x - half), cvRound(centre.y - half), cvRound(2 * half), cvRound(2 * half));
  const cv::Rect inside = around & cv::Rect(0, 0, bgr.cols, bgr.rows);
  const double f = double(side) / around.width;
  const int left = cvRound((inside.x - around.x) * f), top = cvRound((inside.y - around.y) * f);
  const int right = cvRound((inside.br().x - around.x) * f), bottom = cvRound((inside.br().y - around.y) * f);
  cv::Mat grey(side, side, CV_8UC1, cv::Scalar(0));
  if (right - left < 1 || bottom - top < 1) return grey;  // the face lies outside the frame
  cv::Mat part;
  cv::cvtColor(bgr(inside), part, cv::COLOR_BGR2GRAY);
  cv::resize(part, part, cv::Size(right - left, bottom - top), 0, 0, f < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  cv::copyMakeBorder(part, grey, top, side - bottom, left, side - right, cv::BORDER_REPLICATE);
  return grey;
}

}  // namespace

struct FitCheck::Impl {
  dlib::frontal_face_detector hog = frontal_face_detector();
};

FitCheck::FitCheck() : impl_(std::make_unique<Impl>()) {}
FitCheck::~FitCheck() = default;

bool FitCheck::confirms(const cv::Mat& bgr, const Landmarks& lm, double min_score) {
  // The face: the landmark bounds extended up by 15% (the forehead, as a
  // detector box has it), scaled so that its longer side is kFace px (the
  // detector's window is 80), centred in a crop kContext times as large.
  constexpr float kFace = 90, kContext = 1.6f, kMinIou = 0.3f;
  constexpr float kNoseBehind = 0.03f;  // share of the box's width
  cv::Rect2f b = landmark_bounds(lm);
  b.y -= 0.15f * b.height;
  b.height *= 1.15f;
  const float scale = kFace / std::max({b.width, b.height, 1.0f});
  const int side = int(std::lround(kFace * kContext));
  const cv::Mat grey = grey_crop(bgr, cv::Point2f(b.x + b.width / 2, b.y + b.height / 2), scale, side);
  std::vector<dlib::rect_detection> found;
  impl_->hog(dlib::cv_image<unsigned char>(grey), found, min_score);
  const cv::Rect2f face(side / 2.0f - scale * b.width / 2, side / 2.0f - scale * b.height / 2, scale * b.width,
                        scale * b.height);
  for (const dlib::rect_detection& d : found) {
    const cv::Rect2f r(d.rect.left(), d.rect.top(), d.rect.width(), d.rect.height());
    const float overlap = (r & face).area();
    if (overlap <= kMinIou * (r.area() + face.area() - overlap)) continue;
    // dlib's detector has five filters: 0 a frontal face, 1 and 2 a face
    // turned to the picture's left and right, 3 and 4 rolled. On a face
    // turned far, the shape predictor sometimes fits a frontal shape to the
    // cheek, its nose in the middle of the visible face and its mouth on the
    // cheek (vox/00002): the detector's box then has the fitted nose tip
    // behind its middle, where a right fit has it in front of it (on the 23
    // other clips of ../shared/data's vox, retalking and grid; 0.03-0.24
    // of the box's width behind on those frames). A
    // frontal face can have it a little behind (up to 0.07 on 600 photos of
    // faces/, over 0.03 on 2 of them): the tracker then fits again in moved
    // boxes, and got the same fit to a pixel. At 0.1, fits with the mouth
    // on the cheek came through on 00002.
    const float nose = ((lm[30].x - b.x - b.width / 2) * scale + side / 2.0f - r.x) / r.width - 0.5f;
    const float behind = d.weight_index == 1 ? nose : d.weight_index == 2 ? -nose : 0.0f;
    if (behind <= kNoseBehind) return true;
  }
  return false;
}

std::string bundled_dnn_detector() {
  const char* env = std::getenv("STF_MODELS_DIR");
  std::filesystem::path dir = env ? env : STF_MODELS_DIR;
  return (dir / "face" / "opencv_face_detector_uint8.pb").string();
}

std::unique_ptr<FaceDetector> make_face_detector(const DetectorOptions& opt) {
  const std::string dnn_model = opt.model.empty() ? bundled_dnn_detector() : opt.model;
  if (opt.kind == "hog") return std::make_unique<HogDetector>(opt.max_side);
  if (opt.kind == "dnn") return std::make_unique<DnnDetector>(dnn_model, opt.min_score);
  if (opt.kind == "mmod") {
    if (opt.model.empty()) throw Error("--detector mmod needs --detector-model PATH/mmod_human_face_detector.dat");
    return std::make_unique<MmodDetector>(opt.model, opt.max_side);
  }
  if (opt.kind == "auto") {
    std::unique_ptr<FaceDetector> dnn;  // none when the weights are absent: HOG alone
    if (std::filesystem::exists(dnn_model)) dnn = std::make_unique<DnnDetector>(dnn_model, opt.min_score);
    return std::make_unique<AutoDetector>(opt.max_side, std::move(dnn));
  }
  throw Error("unknown detector '" + opt.kind + "'; use auto, hog, dnn or mmod");
}

}  // namespace stf
