// Output files that are either complete or absent: a temporary name beside
// the target, renamed over it on success. And PNG encoding without OpenCV,
// so the training layer can write its sample grids on any machine.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace stf {

// Throws stf::Error when path's folder is missing or not writable, path is a
// folder, or path names the same file as one of `inputs` (replacing it would
// lose the input).
void check_output_path(const std::string& path, const std::vector<std::string>& inputs = {});

// Creates the folder `path` (and those above it) for a command's several
// outputs (train, preprocess, synth, memory); throws stf::Error naming the
// option, `what` (e.g. "--out"), when path is a file or cannot be created.
void make_output_folder(const std::string& path, const std::string& what);

// A hidden temporary name in path's folder (so the final rename is atomic and
// a crash leaves only a dot-file behind), ending in ext.
std::string temp_path_beside(const std::string& path, const std::string& ext);

// path's extension in lower case, with its dot (".mp4"; "" where it has none).
std::string lower_extension(const std::string& path);

// Writes text/bytes to path atomically (temp file beside it + rename).
void write_file_atomic(const std::string& path, const std::string& bytes);

// A PNG file's bytes for an 8-bit BGR image (rows x cols x 3, row-major, as
// OpenCV stores it), written as RGB.
std::string encode_png(const uint8_t* bgr, int rows, int cols);

}  // namespace stf
