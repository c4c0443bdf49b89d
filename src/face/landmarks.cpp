#include <dlib/image_processing/shape_predictor.h>
#include <dlib/opencv/cv_image.h>
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "stf/error.h"
#include "stf/face.h"

namespace stf {

// dlib's 68-point shape predictor (Kazemi & Sullivan's cascade of regression
// trees) with its trees repacked for speed. dlib keeps every leaf (68 point
// offsets) in its own heap block and walks tree after tree, so a fit waits on
// 7500 scattered memory reads in turn (6-7 ms on a 720p face). Here each
// cascade's splits and leaves lie in two flat arrays; a cascade first finds
// the leaf of each of its trees, then adds the leaves in tree order while
// prefetching the next ones. The sums are the same float additions in the
// same order as dlib's, so the points are identical (test
// Face.LandmarkFitMatchesDlibsShapePredictor).
struct LandmarkModel::Impl {
  struct Cascade {
    int trees = 0, splits_per_tree = 0, leaves_per_tree = 0;
    std::vector<uint32_t> features;  // per split: idx1 | idx2 << 16 (indices into the cascade's pixel values)
    std::vector<float> thresholds;   // per split
    std::vector<float> leaves;       // (trees, leaves_per_tree, 136): offsets of the 68 points (x, y)
  };
  dlib::matrix<float, 0, 1> initial_shape;                         // (136): mean shape, box-normalised
  std::vector<std::vector<unsigned long>> anchor_idx;              // per cascade, per pixel: anchor point
  std::vector<std::vector<dlib::vector<float, 2>>> deltas;         // per cascade, per pixel: offset from it
  std::vector<Cascade> cascades;

  // Reads the file as dlib::deserialize(shape_predictor&) does (version 1).
  void load(std::istream& in);
};

void LandmarkModel::Impl::load(std::istream& in) {
  int version = 0;
  dlib::deserialize(version, in);
  if (version != 1) throw dlib::serialization_error("unexpected shape_predictor version " + std::to_string(version));
  dlib::deserialize(initial_shape, in);
  const long n = initial_shape.size();
  // The forests (a vector of vectors of trees, as dlib writes them: a count,
  // then the items) are packed a tree at a time, never held whole.
  unsigned long count = 0;
  dlib::deserialize(count, in);
  for (unsigned long c = 0; c < count; ++c) {
    Cascade k;
    unsigned long trees = 0;
    dlib::deserialize(trees, in);
    for (unsigned long t = 0; t < trees; ++t) {
      dlib::impl::regression_tree tree;
      deserialize(tree, in);  // dlib's friend function, found through the argument
      if (t == 0) k.splits_per_tree = int(tree.splits.size()), k.leaves_per_tree = int(tree.leaf_values.size());
      if (int(tree.splits.size()) != k.splits_per_tree || int(tree.leaf_values.size()) != k.splits_per_tree + 1)
        throw dlib::serialization_error("trees of different depths in one cascade");
      for (const dlib::impl::split_feature& s : tree.splits) {
        if (s.idx1 > 0xffff || s.idx2 > 0xffff) throw dlib::serialization_error("split feature index out of range");
        k.features.push_back(uint32_t(s.idx1) | uint32_t(s.idx2) << 16);
        k.thresholds.push_back(s.thresh);
      }
      for (const dlib::matrix<float, 0, 1>& leaf : tree.leaf_values) {
        if (leaf.size() != n) throw dlib::serialization_error("leaf of the wrong size");
        k.leaves.insert(k.leaves.end(), &leaf(0), &leaf(0) + n);
      }
      ++k.trees;
    }
    if (k.trees == 0) throw dlib::serialization_error("empty cascade");
    cascades.push_back(std::move(k));
  }
  dlib::deserialize(anchor_idx, in);
  dlib::deserialize(deltas, in);
  if (anchor_idx.size() != count || deltas.size() != count) throw dlib::serialization_error("cascade counts differ");
  for (unsigned long c = 0; c < count; ++c) {
    if (anchor_idx[c].size() != deltas[c].size()) throw dlib::serialization_error("pixel counts differ");
    for (unsigned long a : anchor_idx[c])
      if (2 * long(a) + 1 >= n) throw dlib::serialization_error("pixel anchored to no point");
    for (uint32_t f : cascades[c].features)
      if ((f & 0xffff) >= deltas[c].size() || (f >> 16) >= deltas[c].size())
        throw dlib::serialization_error("split on a pixel the cascade does not sample");
  }
}

LandmarkModel::LandmarkModel(const std::string& path) : impl_(std::make_unique<Impl>()) {
  if (!std::filesystem::exists(path))
    throw Error(path + ": landmark model not found; install it with 'apt-get install libdlib-data' "
                "or pass --landmark-model PATH");
  try {
    std::ifstream in(path, std::ios::binary);
    impl_->load(in);
  } catch (const std::exception& e) {
    std::string why = e.what();  // dlib's messages run over several lines
    std::replace(why.begin(), why.end(), '\n', ' ');
    why.erase(std::unique(why.begin(), why.end(), [](char a, char b) { return a == ' ' && b == ' '; }), why.end());
    throw Error(path + ": not a dlib shape predictor (" + why.substr(0, 80) + ")");
  }
  if (impl_->initial_shape.size() != 2 * 68)
    throw Error(path + ": shape predictor has " + std::to_string(impl_->initial_shape.size() / 2) +
                " points, need the 68-point model");
}

LandmarkModel::~LandmarkModel() = default;

Landmarks LandmarkModel::fit(const cv::Mat& bgr, const cv::Rect2f& box) const {
  dlib::cv_image<dlib::bgr_pixel> img(bgr);
  dlib::rectangle r(std::lround(box.x), std::lround(box.y), std::lround(box.x + box.width),
                    std::lround(box.y + box.height));
  const Impl& m = *impl_;
  const long n = m.initial_shape.size();
  dlib::matrix<float, 0, 1> shape = m.initial_shape;  // (136), box-normalised
  std::vector<float> pixels;                          // the cascade's sampled intensities
  std::vector<const float*> leaf;                     // the leaf each tree gives
  const int ahead = 4;                                // leaves prefetched ahead of the one added
  for (size_t c = 0; c < m.cascades.size(); ++c) {
    const Impl::Cascade& k = m.cascades[c];
    dlib::impl::extract_feature_pixel_values(img, r, shape, m.initial_shape, m.anchor_idx[c], m.deltas[c], pixels);
    leaf.resize(k.trees);
    for (int t = 0; t < k.trees; ++t) {
      const uint32_t* f = &k.features[size_t(t) * k.splits_per_tree];
      const float* th = &k.thresholds[size_t(t) * k.splits_per_tree];
      int i = 0;  // dlib's tree layout: node i's children are 2i+1 (taken when over the threshold), 2i+2
      while (i < k.splits_per_tree) i = pixels[f[i] & 0xffff] - pixels[f[i] >> 16] > th[i] ? 2 * i + 1 : 2 * i + 2;
      leaf[t] = &k.leaves[(size_t(t) * k.leaves_per_tree + (i - k.splits_per_tree)) * n];
    }
    float* s = &shape(0);
    for (int t = 0; t < k.trees; ++t) {
      if (t + ahead < k.trees)
        for (long b = 0; b < n; b += 64 / sizeof(float)) __builtin_prefetch(leaf[t + ahead] + b);
      for (long j = 0; j < n; ++j) s[j] += leaf[t][j];
    }
  }
  const dlib::point_transform_affine to_image = dlib::impl::unnormalizing_tform(r);
  Landmarks lm;
  for (int i = 0; i < 68; ++i) {
    const dlib::point p = to_image(dlib::impl::location(shape, i));
    lm[i] = cv::Point2f(p.x(), p.y());
  }
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
