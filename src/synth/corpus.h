// `synctalkface synth`: talking-face clips made from face photos and
// espeak-ng speech, with exact per-frame mouth landmarks and the phoneme /
// viseme timeline. Layout (accepted by `preprocess` as is):
//   OUT/clips/synth_00000.mp4               video + speech
//   OUT/clips/synth_00000.landmarks.json    ground-truth 68 points per frame
//   OUT/clips/synth_00000.timeline.json     sentence, voice, phonemes, per-frame mouth
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace stf {

struct SynthOptions {
  std::vector<std::string> faces;     // images, videos (first frame) or folders of them
  std::string out;
  int clips = 10;
  std::string sentences;              // file with one sentence per line; empty = GRID-style grammar
  std::vector<std::string> voices{"en", "en-us", "en-gb-x-rp", "en-029"};
  uint64_t seed = 1;
  double fps = 25;
  bool head_motion = true;            // small smooth head sway
  int max_side = 512;                 // larger photos are scaled down
  std::string contact_sheet;          // PNG of the first written clip's frames with their phonemes
  bool quiet = false;
};

struct SynthReport {
  int written = 0, reused = 0, faces_usable = 0, faces_skipped = 0;
  double seconds = 0;
};

// A GRID-style sentence: command colour preposition letter digit adverb.
std::string grid_sentence(uint64_t seed);

SynthReport synthesize_corpus(const SynthOptions& opt);

}  // namespace stf
