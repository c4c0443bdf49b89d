#include <sstream>

#include <opencv2/imgproc.hpp>

#include "stf/error.h"
#include "stf/files.h"
#include "stf/media.h"

namespace stf {

std::string encode_png(const cv::Mat& image) {
  STF_ASSERT(image.depth() == CV_8U && (image.channels() == 3 || image.channels() == 1));
  cv::Mat bgr;
  if (image.channels() == 1) cv::cvtColor(image, bgr, cv::COLOR_GRAY2BGR);
  else bgr = image.isContinuous() ? image : image.clone();
  return encode_png(bgr.data, bgr.rows, bgr.cols);
}

// NumPy format 1.0: magic, version, little-endian header length, a Python
// dict literal padded with spaces so the data starts on a 64-byte boundary.
void write_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
  std::ostringstream dict;
  dict << "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  int64_t count = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    dict << shape[i] << (shape.size() == 1 || i + 1 < shape.size() ? ", " : "");
    count *= shape[i];
  }
  dict << "), }";
  std::string header = dict.str();
  const size_t preamble = 10;  // magic (6) + version (2) + length (2)
  size_t total = preamble + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  STF_ASSERT(header.size() < 65536);
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes.push_back(static_cast<char>(header.size() & 0xff));
  bytes.push_back(static_cast<char>(header.size() >> 8));
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(data), static_cast<size_t>(count) * sizeof(float));
  write_file_atomic(path, bytes);
}

}  // namespace stf
