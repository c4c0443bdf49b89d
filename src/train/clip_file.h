// One preprocessed clip in one file (.stfclip): face crops, landmarks and
// mel, read through mmap so training touches only the frames it samples.
//
// Layout (little endian): magic "STFCLIP\0", uint32 version (1), uint32
// header length, header JSON {id, source, fps, frames, size, first_frame,
// mel_columns, crop}, then uint8 crops [frames, size, size, 3] (BGR), float32
// landmarks [frames, 68, 2] in crop pixels, float32 mel [80, mel_columns].
#pragma once
#include <cstdint>
#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "stf/crop_placement.h"

namespace stf {

struct ClipHeader {
  std::string id, source;
  double fps = 25;
  int64_t frames = 0;
  int size = 0;
  int64_t first_frame = 0;  // index in the source video of stored frame 0 (mel is of the whole audio)
  int64_t mel_columns = 0;
  CropPlacement crop = CropPlacement::bounds;  // how its crops sit on the face
  nlohmann::json to_json() const;
  static ClipHeader from_json(const nlohmann::json& j);
};

// Writes atomically (temp file + rename). crops: one size x size x 3 BGR
// buffer per frame; landmarks: 68 (x, y) per frame in crop pixels; mel: 80 x mel_columns.
void write_clip_file(const std::string& path, const ClipHeader& header, const std::vector<const uint8_t*>& crops,
                     const std::vector<std::array<float, 136>>& landmarks, const float* mel);

class ClipFile {
 public:
  explicit ClipFile(const std::string& path);  // throws stf::Error on a missing or corrupt file
  ~ClipFile();
  ClipFile(const ClipFile&) = delete;
  ClipFile& operator=(const ClipFile&) = delete;

  const ClipHeader& header() const { return header_; }
  // Read-only view of stored frame i (size x size x 3 BGR, row-major), no copy.
  const uint8_t* crop(int64_t i) const;
  const float* landmarks(int64_t i) const;  // 68 x 2
  const float* mel() const;                 // 80 x mel_columns, row-major

 private:
  ClipHeader header_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t crops_offset_ = 0, landmarks_offset_ = 0, mel_offset_ = 0;
};

}  // namespace stf
