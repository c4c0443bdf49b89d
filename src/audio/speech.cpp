#include "audio/speech.h"

#include <espeak-ng/speak_lib.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "stf/audio.h"
#include "stf/error.h"
#include "stf/media.h"

namespace stf {

namespace {

// espeak-ng keeps global state: one synthesis at a time.
std::mutex g_espeak_mutex;
int g_espeak_rate = 0;  // its output sample rate (22050 for the Debian voices)

struct Collected {
  std::vector<float> samples;
  std::vector<PhonemeEvent> phonemes;
  std::vector<double> words;
};

int on_synth(short* wav, int count, espeak_EVENT* events) {
  auto* out = static_cast<Collected*>(events->user_data);
  for (int i = 0; i < count; ++i) out->samples.push_back(wav[i] / 32768.0f);
  for (espeak_EVENT* e = events; e->type != espeakEVENT_LIST_TERMINATED; ++e) {
    // (a word event of length 0 closes some syntheses: no word)
    if (e->type == espeakEVENT_WORD && e->length > 0) out->words.push_back(e->audio_position / 1000.0);
    if (e->type != espeakEVENT_PHONEME) continue;
    out->phonemes.push_back({e->audio_position / 1000.0, std::string(e->id.string, strnlen(e->id.string, 8))});
  }
  return 0;  // continue
}

// The language names espeak-ng's voices answer to ("af en en-us ..."): the
// espeak-ng program that would list them is not installed with the library.
// Each is tried, as a few of the languages voices state are no voice's name.
std::string voice_names() {
  std::vector<std::string> names;
  for (const espeak_VOICE** v = espeak_ListVoices(nullptr); v && *v; ++v) {
    // languages: a priority byte, then a name, repeated; an empty name ends it.
    for (const char* l = (*v)->languages; l && *l; l += std::strlen(l + 1) + 2) names.emplace_back(l + 1);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  // Trying a language whose full dictionary is not installed ('be') makes
  // espeak-ng print a note on stderr: hidden, so the error stays one line.
  std::fflush(stderr);
  const int saved = dup(2), null = open("/dev/null", O_WRONLY);
  if (saved >= 0 && null >= 0) dup2(null, 2);
  std::string out;
  for (const std::string& n : names)
    if (espeak_SetVoiceByName(n.c_str()) == EE_OK) out += (out.empty() ? "" : " ") + n;
  std::fflush(stderr);
  if (saved >= 0 && null >= 0) dup2(saved, 2);
  if (null >= 0) close(null);
  if (saved >= 0) close(saved);
  return out;
}

// The voice variants espeak-ng has ("f3" in "en-us+f3"), sorted.
std::vector<std::string> variant_names() {
  espeak_VOICE spec{};
  spec.languages = "variant";
  std::vector<std::string> names;
  for (const espeak_VOICE** v = espeak_ListVoices(&spec); v && *v; ++v) {
    const std::string id = (*v)->identifier ? (*v)->identifier : "";  // "!v/f3"
    names.push_back(id.substr(id.find_last_of('/') + 1));
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

Speech synthesize_speech(const std::string& text, const std::string& voice, int words_per_minute) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) throw Error("--text is empty: nothing to say");
  std::lock_guard<std::mutex> lock(g_espeak_mutex);
  if (g_espeak_rate == 0) {
    g_espeak_rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nullptr, espeakINITIALIZE_PHONEME_EVENTS);
    if (g_espeak_rate <= 0) {
      g_espeak_rate = 0;
      throw Error("espeak-ng could not start: is espeak-ng-data installed? (scripts/setup.sh installs it)");
    }
    espeak_SetSynthCallback(on_synth);
  }
  // espeak-ng speaks a variant it does not have in the plain voice, without a word.
  if (const size_t plus = voice.find('+'); plus != std::string::npos) {
    const std::string variant = voice.substr(plus + 1);
    const std::vector<std::string> variants = variant_names();
    if (!std::binary_search(variants.begin(), variants.end(), variant)) {
      std::string list;
      for (const std::string& n : variants) list += (list.empty() ? "" : " ") + n;
      throw Error("unknown espeak-ng voice variant '" + variant + "' in '" + voice + "'; the variants installed: " + list);
    }
  }
  if (espeak_SetVoiceByName(voice.c_str()) != EE_OK)
    throw Error("unknown espeak-ng voice '" + voice + "'; the voices installed: " + voice_names());
  espeak_SetParameter(espeakRATE, std::clamp(words_per_minute, espeakRATE_MINIMUM, espeakRATE_MAXIMUM), 0);
  Collected got;
  espeak_ERROR err = espeak_Synth(text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, nullptr, &got);
  if (err != EE_OK || espeak_Synchronize() != EE_OK) throw Error("espeak-ng failed to synthesise the text");
  if (got.samples.empty()) throw Error("espeak-ng produced no audio for the text");
  Speech s;
  s.samples = resample_audio(got.samples, g_espeak_rate, kSampleRate);
  s.phonemes = std::move(got.phonemes);
  s.words = std::move(got.words);
  return s;
}

}  // namespace stf
