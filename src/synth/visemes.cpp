#include "synth/visemes.h"

#include <algorithm>
#include <cmath>

namespace stf {

const std::vector<Viseme>& viseme_table() {
  //                         open  width round raise teeth
  static const std::vector<Viseme> table{
      {"rest", {0.00f, 0.00f, 0.0f, 0.0f, 0.0f}},
      {"closed_pbm", {0.00f, -0.05f, 0.0f, 0.0f, 0.0f}},
      {"labiodental_fv", {0.08f, 0.05f, 0.0f, 0.3f, 1.0f}},
      {"dental_th", {0.15f, 0.05f, 0.0f, 0.1f, 0.8f}},
      {"sibilant_s_sh", {0.10f, 0.20f, 0.1f, 0.2f, 1.0f}},
      {"alveolar_tdnl", {0.22f, 0.05f, 0.0f, 0.1f, 0.6f}},
      {"velar_kg_h", {0.30f, 0.00f, 0.0f, 0.0f, 0.4f}},
      {"r", {0.18f, -0.20f, 0.5f, 0.1f, 0.2f}},
      {"open_vowel", {0.60f, 0.10f, 0.0f, 0.2f, 0.5f}},
      {"mid_vowel", {0.38f, 0.15f, 0.0f, 0.1f, 0.5f}},
      {"spread_vowel", {0.18f, 0.45f, 0.0f, 0.2f, 0.8f}},
      {"rounded_vowel", {0.30f, -0.45f, 0.9f, 0.0f, 0.1f}},
      {"w", {0.12f, -0.55f, 1.0f, 0.0f, 0.0f}},
  };
  return table;
}

int viseme_for_phoneme(const std::string& p) {
  auto index = [](const char* name) {
    const auto& t = viseme_table();
    for (size_t i = 0; i < t.size(); ++i)
      if (t[i].name == name) return static_cast<int>(i);
    return 0;
  };
  if (p.empty() || p[0] == '_') return index("rest");  // pauses: _ _: _!
  // Longest match first: two-letter affricates and vowels before their first letter.
  static const std::vector<std::pair<std::string, const char*>> prefixes{
      {"tS", "sibilant_s_sh"}, {"dZ", "sibilant_s_sh"}, {"aI", "open_vowel"}, {"aU", "open_vowel"},
      {"eI", "mid_vowel"},     {"oU", "rounded_vowel"}, {"OI", "rounded_vowel"}, {"i@", "spread_vowel"},
      {"p", "closed_pbm"},     {"b", "closed_pbm"},     {"m", "closed_pbm"},     {"f", "labiodental_fv"},
      {"v", "labiodental_fv"}, {"T", "dental_th"},      {"D", "dental_th"},      {"s", "sibilant_s_sh"},
      {"z", "sibilant_s_sh"},  {"S", "sibilant_s_sh"},  {"Z", "sibilant_s_sh"},  {"t", "alveolar_tdnl"},
      {"d", "alveolar_tdnl"},  {"n", "alveolar_tdnl"},  {"l", "alveolar_tdnl"},  {"k", "velar_kg_h"},
      {"g", "velar_kg_h"},     {"N", "velar_kg_h"},     {"h", "velar_kg_h"},     {"x", "velar_kg_h"},
      {"?", "velar_kg_h"},     {"r", "r"},              {"w", "w"},              {"j", "spread_vowel"},
      {"a", "open_vowel"},     {"A", "open_vowel"},     {"V", "open_vowel"},     {"0", "rounded_vowel"},
      {"O", "rounded_vowel"},  {"o", "rounded_vowel"},  {"u", "rounded_vowel"},  {"U", "rounded_vowel"},
      {"i", "spread_vowel"},   {"I", "spread_vowel"},   {"e", "mid_vowel"},      {"E", "mid_vowel"},
      {"@", "mid_vowel"},      {"3", "mid_vowel"},
  };
  for (const auto& [prefix, name] : prefixes)
    if (p.compare(0, prefix.size(), prefix) == 0) return index(name);
  return index("mid_vowel");  // an unlisted phoneme: a neutral, half-open mouth
}

namespace {

MouthShape blend(const MouthShape& a, const MouthShape& b, float t) {
  auto mix = [t](float x, float y) { return x + (y - x) * t; };
  return {mix(a.open, b.open), mix(a.width, b.width), mix(a.round, b.round), mix(a.raise, b.raise),
          mix(a.teeth, b.teeth)};
}

}  // namespace

std::vector<MouthFrame> mouth_track(const std::vector<PhonemeEvent>& phonemes, double speech_end, int64_t frames,
                                    double fps) {
  // Targets: (time, shape). Rest at the start and end of every silent span.
  struct Target {
    double time;
    MouthShape shape;
  };
  const MouthShape rest = viseme_table()[0].shape;
  std::vector<Target> targets{{0.0, rest}};
  for (size_t i = 0; i < phonemes.size(); ++i) {
    const double start = phonemes[i].time;
    const double end = i + 1 < phonemes.size() ? phonemes[i + 1].time : speech_end;
    if (end <= start) continue;
    const Viseme& v = viseme_table()[viseme_for_phoneme(phonemes[i].phoneme)];
    if (v.name == "closed_pbm") {
      // espeak-ng's event for a bilabial marks its release; the lips close
      // before it. Hold the closure from 50 ms before to 60% into the span.
      // (never earlier than half way from the previous target: a short vowel before still opens).
      targets.push_back({std::max(start - 0.05, (targets.back().time + start) / 2), v.shape});
      targets.push_back({start + 0.6 * (end - start), v.shape});
    } else {
      targets.push_back({(start + end) / 2, v.shape});
    }
  }
  targets.push_back({std::max(speech_end, targets.back().time) + 0.05, rest});
  std::vector<MouthFrame> out(frames);
  size_t k = 0, p = 0;
  // Sampled 50 ms ahead: without this lead the opening correlates best with
  // the loudness 50 ms before each frame (measured over 20 clips, see
  // docs/synth.md), i.e. the mouth lagged the sound.
  const double lead = 0.05;
  for (int64_t f = 0; f < frames; ++f) {
    const double t = f / fps + lead;
    while (k + 1 < targets.size() && targets[k + 1].time <= t) ++k;
    if (k + 1 >= targets.size()) {
      out[f].shape = targets.back().shape;
    } else {
      const double span = targets[k + 1].time - targets[k].time;
      double u = span > 0 ? (t - targets[k].time) / span : 1.0;
      u = std::clamp(u, 0.0, 1.0);
      out[f].shape = blend(targets[k].shape, targets[k + 1].shape, float(u * u * (3 - 2 * u)));  // smoothstep
    }
    while (p < phonemes.size() && p + 1 < phonemes.size() && phonemes[p + 1].time <= t) ++p;
    if (!phonemes.empty() && t >= phonemes[p].time && t < (p + 1 < phonemes.size() ? phonemes[p + 1].time : speech_end)) {
      out[f].phoneme = phonemes[p].phoneme;
      out[f].viseme = viseme_for_phoneme(phonemes[p].phoneme);
    }
  }
  return out;
}

}  // namespace stf
