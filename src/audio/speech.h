// Text to speech with espeak-ng (its C library), with the start time of
// every phoneme in the audio.
#pragma once
#include <string>
#include <vector>

namespace stf {

struct PhonemeEvent {
  double time = 0;       // seconds from the start of the audio
  std::string phoneme;   // eSpeak phoneme mnemonic, e.g. "b", "aI", "_:" (pause)
};

struct Speech {
  std::vector<float> samples;  // mono, 16 kHz, [-1, 1]
  std::vector<PhonemeEvent> phonemes;
};

// Speaks `text` with an espeak-ng voice ("en", "en-us", "de", ...; the error
// for an unknown one lists them) at `words_per_minute` (80-450). Throws
// stf::Error for empty text or an unknown voice.
Speech synthesize_speech(const std::string& text, const std::string& voice = "en", int words_per_minute = 150);

}  // namespace stf
