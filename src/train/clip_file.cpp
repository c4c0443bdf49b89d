#include "train/clip_file.h"

#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stf/error.h"
#include "stf/files.h"

namespace stf {

static const char kMagic[8] = {'S', 'T', 'F', 'C', 'L', 'I', 'P', '\0'};
static const uint32_t kVersion = 1;

nlohmann::json ClipHeader::to_json() const {
  return {{"id", id}, {"source", source}, {"fps", fps}, {"frames", frames}, {"size", size},
          {"first_frame", first_frame}, {"mel_columns", mel_columns}, {"crop", crop_placement_name(crop)}};
}

ClipHeader ClipHeader::from_json(const nlohmann::json& j) {
  ClipHeader h;
  h.id = j.at("id");
  h.source = j.at("source");
  h.fps = j.at("fps");
  h.frames = j.at("frames");
  h.size = j.at("size");
  h.first_frame = j.at("first_frame");
  h.mel_columns = j.at("mel_columns");
  h.crop = parse_crop_placement(j.value("crop", std::string("bounds")));  // files before session 26
  return h;
}

void write_clip_file(const std::string& path, const ClipHeader& h, const std::vector<const uint8_t*>& crops,
                     const std::vector<std::array<float, 136>>& landmarks, const float* mel) {
  STF_ASSERT(int64_t(crops.size()) == h.frames && int64_t(landmarks.size()) == h.frames);
  std::string header = h.to_json().dump();
  header.append((64 - (16 + header.size()) % 64) % 64, ' ');  // data starts 64-byte aligned
  std::string bytes(kMagic, 8);
  auto put32 = [&](uint32_t v) { bytes.append(reinterpret_cast<const char*>(&v), 4); };
  put32(kVersion);
  put32(static_cast<uint32_t>(header.size()));
  bytes += header;
  const size_t frame_bytes = size_t(h.size) * h.size * 3;
  bytes.reserve(bytes.size() + crops.size() * (frame_bytes + 68 * 8) + size_t(80) * h.mel_columns * 4);
  for (const uint8_t* c : crops) bytes.append(reinterpret_cast<const char*>(c), frame_bytes);
  for (const auto& lm : landmarks) bytes.append(reinterpret_cast<const char*>(lm.data()), 136 * 4);
  bytes.append(reinterpret_cast<const char*>(mel), size_t(80) * h.mel_columns * 4);
  write_file_atomic(path, bytes);
}

ClipFile::ClipFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) throw Error(path + ": cannot open clip file");
  struct stat st {};
  fstat(fd, &st);
  size_ = static_cast<size_t>(st.st_size);
  if (size_ < 16) {
    close(fd);
    throw Error(path + ": not a SyncTalkFace clip file (too short)");
  }
  void* m = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED) throw Error(path + ": cannot map clip file");
  data_ = static_cast<const uint8_t*>(m);
  auto fail = [&](const std::string& why) {
    munmap(const_cast<uint8_t*>(data_), size_);
    data_ = nullptr;
    throw Error(path + ": " + why + "; re-run synctalkface preprocess");
  };
  if (std::memcmp(data_, kMagic, 8) != 0) fail("not a SyncTalkFace clip file");
  uint32_t version, hlen;
  std::memcpy(&version, data_ + 8, 4);
  std::memcpy(&hlen, data_ + 12, 4);
  if (version != kVersion) fail("clip file version " + std::to_string(version) + " is not supported");
  if (16 + size_t(hlen) > size_) fail("truncated clip file");
  try {
    header_ = ClipHeader::from_json(nlohmann::json::parse(std::string(reinterpret_cast<const char*>(data_ + 16), hlen)));
  } catch (const std::exception&) {
    fail("corrupt clip header");
  }
  crops_offset_ = 16 + hlen;
  landmarks_offset_ = crops_offset_ + size_t(header_.frames) * header_.size * header_.size * 3;
  mel_offset_ = landmarks_offset_ + size_t(header_.frames) * 68 * 8;
  if (mel_offset_ + size_t(80) * header_.mel_columns * 4 != size_) fail("truncated or corrupt clip file");
}

ClipFile::~ClipFile() {
  if (data_) munmap(const_cast<uint8_t*>(data_), size_);
}

const uint8_t* ClipFile::crop(int64_t i) const {
  STF_ASSERT(i >= 0 && i < header_.frames);
  return data_ + crops_offset_ + size_t(i) * header_.size * header_.size * 3;
}

const float* ClipFile::landmarks(int64_t i) const {
  STF_ASSERT(i >= 0 && i < header_.frames);
  return reinterpret_cast<const float*>(data_ + landmarks_offset_ + size_t(i) * 68 * 8);
}

const float* ClipFile::mel() const { return reinterpret_cast<const float*>(data_ + mel_offset_); }

}  // namespace stf
