// Visemes for the synthetic corpus: espeak-ng's English phonemes mapped to a
// dozen mouth shapes (docs/synth.md has the table), and per-frame mouth
// parameters with smooth co-articulation between phoneme targets.
#pragma once
#include <string>
#include <vector>

#include "audio/speech.h"

namespace stf {

// Mouth parameters, all in [0, 1] except width (-1..1, negative = narrower).
struct MouthShape {
  float open = 0;      // jaw opening / inner-lip gap
  float width = 0;     // lip corners pulled apart (spread) or together
  float round = 0;     // lips rounded and pushed forward
  float raise = 0;     // upper lip raised
  float teeth = 0;     // how much of the teeth show when the mouth is open
};

struct Viseme {
  std::string name;
  MouthShape shape;
};

// The table, index 0 = rest (silence: closed and relaxed).
const std::vector<Viseme>& viseme_table();

// Index into viseme_table() for an eSpeak phoneme mnemonic ("p", "aI", "_:").
int viseme_for_phoneme(const std::string& phoneme);

struct MouthFrame {
  MouthShape shape;
  int viseme = 0;            // of the phoneme sounding at this frame
  std::string phoneme;       // "" in silence
};

// Per-frame mouth for `frames` frames at `fps`. Each phoneme's shape is its
// target at the middle of its span (p/b/m: held closed from 50 ms before
// their event to 60% into their span); frames between targets blend with a
// smoothstep, so the mouth never jumps; silence before, after and in pauses
// is the rest shape. Phonemes are in order of time; a phoneme lasts until the
// next one starts (the last one until `speech_end`).
std::vector<MouthFrame> mouth_track(const std::vector<PhonemeEvent>& phonemes, double speech_end, int64_t frames,
                                    double fps);

}  // namespace stf
