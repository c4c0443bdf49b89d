#include "stf/files.h"

#include <zlib.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <vector>

#include "stf/error.h"

namespace stf {

namespace fs = std::filesystem;

void check_output_path(const std::string& path, const std::vector<std::string>& inputs) {
  fs::path p(path);
  fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(path + ": output folder " + dir.string() + " does not exist");
  if (fs::is_directory(p, ec)) throw Error(path + ": is a directory, expected an output file name");
  if (access(dir.c_str(), W_OK) != 0) throw Error(path + ": output folder is not writable");
  for (const std::string& input : inputs)
    if (!input.empty() && fs::equivalent(p, input, ec))  // false (ec set) while path does not exist
      throw Error(path + ": is the input " + input + "; write the result to another file");
}

void make_output_folder(const std::string& path, const std::string& what) {
  std::error_code ec;
  for (fs::path p = path; !p.empty(); p = p.parent_path()) {  // the nearest of it and its parents that exists
    if (!fs::exists(p, ec)) continue;
    if (!fs::is_directory(p, ec))
      throw Error(what + " " + path + ": " + (p == fs::path(path) ? "" : p.string() + " ") +
                  "is a file; give a folder (it gets several files)");
    break;
  }
  fs::create_directories(path, ec);
  if (ec) throw Error(what + " " + path + ": cannot create the folder (" + ec.message() + ")");
}

std::string lower_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

std::string temp_path_beside(const std::string& path, const std::string& ext) {
  fs::path p(path);
  fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  return (dir / ("." + p.filename().string() + ".partial-" + std::to_string(getpid()) + ext)).string();
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  check_output_path(path);
  std::string tmp = temp_path_beside(path, ".tmp");
  {
    std::ofstream f(tmp, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) {
      std::remove(tmp.c_str());
      throw Error(path + ": cannot write (disk full or not writable?)");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot write (" + ec.message() + ")");
  }
}

namespace {

void put_be32(std::string& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
}

// A PNG chunk: length, type, data, CRC-32 of type and data.
void put_chunk(std::string& out, const char* type, const std::string& data) {
  put_be32(out, static_cast<uint32_t>(data.size()));
  std::string body = std::string(type, 4) + data;
  out += body;
  put_be32(out, static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size())));
}

}  // namespace

std::string encode_png(const uint8_t* bgr, int rows, int cols) {
  STF_ASSERT(rows > 0 && cols > 0);
  // Scanlines: filter type 0 (none) then RGB bytes.
  std::vector<uint8_t> raw(size_t(rows) * (1 + size_t(cols) * 3));
  size_t k = 0;
  for (int y = 0; y < rows; ++y) {
    raw[k++] = 0;
    const uint8_t* row = bgr + size_t(y) * cols * 3;
    for (int x = 0; x < cols; ++x) {
      raw[k++] = row[3 * x + 2];
      raw[k++] = row[3 * x + 1];
      raw[k++] = row[3 * x];
    }
  }
  uLongf packed_size = compressBound(raw.size());
  std::string packed(packed_size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size, raw.data(), raw.size(), 6) != Z_OK)
    throw Error("PNG encoding failed (out of memory?)");
  packed.resize(packed_size);

  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::string header;
  put_be32(header, static_cast<uint32_t>(cols));
  put_be32(header, static_cast<uint32_t>(rows));
  header += std::string("\x08\x02\x00\x00\x00", 5);  // 8 bits, truecolour, deflate, adaptive filters, no interlace
  put_chunk(png, "IHDR", header);
  put_chunk(png, "IDAT", packed);
  put_chunk(png, "IEND", "");
  return png;
}

}  // namespace stf
