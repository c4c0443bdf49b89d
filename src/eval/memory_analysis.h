// `synctalkface memory`: what the Audio-Lip Memory does with a piece of
// speech (PAPER.md's analysis figures). Per video frame, the audio feature
// addresses the key memory; from those addresses come
//   addresses.png  key-address heatmap, slots x frames
//   usage.png      each slot's mean address weight, and how often it is the top slot
//   gallery.png    one generated mouth per slot: the decoder fed that slot's
//                  value alone (a one-hot address), on a face photo
//   phonemes.png   (speech from --text only: espeak-ng gives the phoneme at
//                  every frame) the mean address of each phoneme, phonemes x slots
//   memory.json    the numbers behind the pictures
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace stf {

struct MemoryAnalysisOptions {
  std::string model;         // empty = the bundled model
  std::string audio;         // a speech file, or
  std::string text;          // text spoken by espeak-ng
  std::string voice = "en";
  std::string face;          // photo for the slot gallery; empty = the bundled example photo
  std::string out;           // folder for the pictures and memory.json
  double fps = 25;           // video frames per second the addresses are taken at
};

// Writes the files above; returns memory.json's content. Throws stf::Error
// for a model without the memory, audio shorter than one window, a photo
// without a face.
nlohmann::json analyse_memory(const MemoryAnalysisOptions& opt);

}  // namespace stf
