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
  std::vector<double> words;   // each word's start, seconds from the start of the audio
};

// Speaks `text` with an espeak-ng voice ("en", "en-us", "de", ...; the error
// for an unknown one lists them) at `words_per_minute` (80-450), in a process
// that starts espeak-ng afresh: the same text, voice and rate give
// the same speech whatever was spoken before. Throws stf::Error for empty
// text or an unknown voice.
Speech synthesize_speech(const std::string& text, const std::string& voice = "en", int words_per_minute = 150);

// The same words spoken twice (`from`, `to`: 16 kHz mono): each of `times`
// (seconds into `from`) carried to where `to` says the same, by dynamic time
// warping of their cepstra (25 ms steps; each coefficient normalised over
// its recording's frames with sound, so that another voice or microphone
// matters less; the path within 2 s plus a tenth of the longer recording of
// the diagonal). `from` may wait out a pause of `to` (150 ms or more of
// silence) in a pause of its own or at one of `pauses` (seconds into
// `from`: where its words start); a time at such a wait is carried to its
// end. Throws stf::Error where no path is found (src/audio/align.cpp).
std::vector<double> warp_times(const std::vector<float>& from, const std::vector<float>& to,
                               const std::vector<double>& times, const std::vector<double>& pauses);

// A recording with the phonemes and words of its transcript: `transcript`
// spoken by espeak-ng's `voice` and padded with 0.5 s of silence either
// side, its events moved onto the recording by warp_times. Throws
// stf::Error for an empty transcript.
Speech transcribed_speech(std::vector<float> recorded, const std::string& transcript, const std::string& voice);

}  // namespace stf
