// The same words spoken twice, aligned in time: dynamic time warping of
// their cepstra. Used to lay a transcript's phonemes, as espeak-ng speaks
// them, onto a recording of the same words.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "audio/speech.h"
#include "stf/audio.h"
#include "stf/error.h"

namespace stf {

namespace {

constexpr int kCepstra = 10;      // c0 (loudness) .. c9
constexpr int kPool = 2;          // mel columns per feature frame: 25 ms steps
constexpr double kBandSeconds = 2.0;  // the warping path stays this near the diagonal (plus kBandShare)
constexpr double kBandShare = 0.1;    // of the longer recording
constexpr double kPad = 0.5;          // seconds of silence either side of the transcript's speech
// A mel column (normalised log-mel at the speech's level, speech_gain) whose
// mean lies under this is silence: GRID s1's pauses lie at -3.9 .. -2.4, the
// first columns of recordings cut mid-speech at -2.1 .. -0.4.
constexpr float kSilentLevel = -2.0f;
// In the cepstra, a recording's silence is the quieter of the two modes of
// its frames' levels (their mel's mean) where they lie this far apart (12 dB)
// or more, up to kQuietest: a noisy room's pauses lie above kSilentLevel
// (-1.8, 17 dB under its speech, in a test recording), espeak-ng's at -4.
constexpr double kModeGap = 1.0;
constexpr double kQuietest = -1.5;
// A pause: at least this many silent feature frames (150 ms; a stop's
// closure, an s, are shorter).
constexpr int kMinPause = 6;
// espeak-ng reports a word up to 2 feature frames (36 ms measured) before its sound.
constexpr int kWordLead = 2;
// A pause step costs this share of the distance of the recording's silent
// frame from the transcript's silence: less than a step that matches the
// frame with a quiet sound of the transcript (a stop's closure, an s), so
// that a recording's pause goes between words, not into one.
constexpr float kPauseCost = 0.5f;
// A step along one recording alone (not a pause) costs this much more than
// its cell: without, stacking a few of the transcript's frames on one of the
// recording's cost about as much as matching them, and a sentence's first
// word was stacked on the frame before the recording's pause (1.5 .. 3 do
// alike on every set measured, models/README.md "Session 57").
constexpr float kStepPenalty = 2.0f;

struct Cepstra {
  int64_t frames = 0;
  // (frames, kCepstra), row-major: the DCT-II of the normalised log-mel (its
  // 80 bands) pooled over kPool columns, each coefficient then brought to
  // zero mean and unit variance over the frames with sound (a voice's or a
  // microphone's colouring is a constant offset in the cepstrum; a
  // recording's pauses would weigh in by their length).
  std::vector<float> c;
  std::vector<char> pause;  // per frame: in a run of kMinPause or more silent frames
};

// The level under which a frame is silent: the split of `levels` into two
// modes that parts them most (Otsu's threshold), where their means lie
// kModeGap apart, at most kQuietest; else none is (-inf).
double silence_level(const std::vector<double>& levels) {
  double best = -1, split = -std::numeric_limits<double>::infinity();
  for (double t = -3.9; t <= kQuietest; t += 0.05) {
    double n0 = 0, n1 = 0, s0 = 0, s1 = 0;
    for (double v : levels) {
      if (v < t) n0 += 1, s0 += v;
      else n1 += 1, s1 += v;
    }
    if (n0 == 0 || n1 == 0) continue;
    const double gap = s1 / n1 - s0 / n0, parted = n0 * n1 * gap * gap;
    if (parted > best) {
      best = parted;
      split = gap >= kModeGap ? t : -std::numeric_limits<double>::infinity();
    }
  }
  return split;
}

Cepstra cepstra(const std::vector<float>& samples) {
  const torch::Tensor mel = mel_spectrogram(samples, speech_gain(samples)).to(torch::kFloat64);  // (80, T)
  const int64_t T = mel.size(1);
  const int64_t frames = std::max<int64_t>(1, T / kPool);
  const auto m = mel.accessor<double, 2>();
  std::vector<double> dct(size_t(kCepstra) * kMelBands);
  for (int k = 0; k < kCepstra; ++k)
    for (int b = 0; b < kMelBands; ++b) dct[size_t(k) * kMelBands + b] = std::cos(M_PI * k * (b + 0.5) / kMelBands);
  std::vector<double> out(size_t(frames) * kCepstra, 0.0);
  for (int64_t f = 0; f < frames; ++f)
    for (int64_t c = f * kPool; c < std::min(T, (f + 1) * kPool); ++c)
      for (int k = 0; k < kCepstra; ++k)
        for (int b = 0; b < kMelBands; ++b)
          out[size_t(f) * kCepstra + k] += m[b][c] * dct[size_t(k) * kMelBands + b] / kPool;
  Cepstra cep;
  cep.frames = frames;
  std::vector<double> level(static_cast<size_t>(frames));
  for (int64_t f = 0; f < frames; ++f) level[size_t(f)] = out[size_t(f) * kCepstra] / kMelBands;  // c0: the bands' sum
  const double quiet = silence_level(level);
  std::vector<char> silent(static_cast<size_t>(frames));
  int64_t sound = 0;
  for (int64_t f = 0; f < frames; ++f) {
    silent[size_t(f)] = level[size_t(f)] < quiet;
    sound += !silent[size_t(f)];
  }
  cep.pause.assign(size_t(frames), 0);
  for (int64_t f = 0, run = 0; f <= frames; ++f) {
    if (f < frames && silent[size_t(f)]) {
      ++run;
      continue;
    }
    if (run >= kMinPause) std::fill(cep.pause.begin() + (f - run), cep.pause.begin() + f, 1);
    run = 0;
  }
  const bool all = sound < 10;  // near-silence throughout: its statistics are all there is
  if (all) sound = frames;
  cep.c.resize(out.size());
  for (int k = 0; k < kCepstra; ++k) {
    double sum = 0, sq = 0;
    for (int64_t f = 0; f < frames; ++f)
      if (all || !silent[size_t(f)]) sum += out[size_t(f) * kCepstra + k];
    const double mean = sum / double(sound);
    for (int64_t f = 0; f < frames; ++f)
      if (all || !silent[size_t(f)]) sq += std::pow(out[size_t(f) * kCepstra + k] - mean, 2);
    const double sd = std::sqrt(sq / double(sound)) + 1e-6;
    for (int64_t f = 0; f < frames; ++f)
      cep.c[size_t(f) * kCepstra + k] = float((out[size_t(f) * kCepstra + k] - mean) / sd);
  }
  return cep;
}

// Samples of silence at the start and at the end of a recording: its mel
// columns (at the speech's level) whose mean lies under kSilentLevel.
std::pair<size_t, size_t> silence_at_ends(const std::vector<float>& samples) {
  const torch::Tensor level = mel_spectrogram(samples, speech_gain(samples)).mean(0).contiguous();  // (T,)
  const auto c = level.accessor<float, 1>();
  const int64_t T = level.size(0);
  int64_t front = 0, back = 0;
  while (front < T && c[front] < kSilentLevel) ++front;
  while (back < T - front && c[T - 1 - back] < kSilentLevel) ++back;
  return {size_t(double(front) / kMelFps * kSampleRate), size_t(double(back) / kMelFps * kSampleRate)};
}

}  // namespace

std::vector<double> warp_times(const std::vector<float>& from, const std::vector<float>& to,
                               const std::vector<double>& times, const std::vector<double>& pauses) {
  const Cepstra a = cepstra(from), b = cepstra(to);
  const int64_t n = a.frames, m = b.frames;
  const double fps = kMelFps / kPool;
  // Rows of `from`, within a band of columns of `to` around the diagonal.
  const int64_t band =
      std::max<int64_t>(1, int64_t(kBandSeconds * fps + kBandShare * double(std::max(n, m))));
  auto centre = [&](int64_t i) { return n > 1 ? i * (m - 1) / (n - 1) : 0; };
  auto lo = [&](int64_t i) { return std::max<int64_t>(0, centre(i) - band); };
  auto hi = [&](int64_t i) { return std::min<int64_t>(m - 1, centre(i) + band); };
  auto dist = [&](int64_t i, int64_t j) {
    float s = 0;
    for (int k = 0; k < kCepstra; ++k) {
      const float d = a.c[size_t(i) * kCepstra + k] - b.c[size_t(j) * kCepstra + k];
      s += d * d;
    }
    return std::sqrt(s);
  };
  // Symmetric steps: a diagonal step counts its cell twice, a step along
  // one recording once, so no path is cheaper for being shorter, plus
  // kStepPenalty, so that a detour costs more than the diagonal it leaves.
  // A pause step (along `to` alone, over a pause of `to`, at a row of `from`
  // in a pause of its own or at one of `pauses` or the kWordLead rows before
  // it) costs kPauseCost of that frame's distance from `from`'s first
  // (silence, where the transcript's speech is padded with it).
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> pause_cost(static_cast<size_t>(m), inf);
  for (int64_t j = 0; j < m; ++j)
    if (b.pause[size_t(j)]) pause_cost[size_t(j)] = kPauseCost * dist(0, j);
  std::vector<char> may_pause = a.pause;
  for (double t : pauses) {
    const int64_t row = std::llround(t * fps);
    for (int64_t r = std::max<int64_t>(0, row - kWordLead); r <= std::min(row, n - 1); ++r) may_pause[size_t(r)] = 1;
  }
  std::vector<float> prev(size_t(m), inf), cur(size_t(m), inf);
  // per row, over lo..hi, two bits a cell (four to a byte: for an hour's
  // recording 0.34 GB, not 1.35): 0 diagonal, 1 from above, 2 from the left,
  // 3 a pause from the left
  std::vector<std::vector<uint8_t>> step(static_cast<size_t>(n));
  auto step_at = [&](int64_t i, int64_t j) {
    const int64_t k = j - lo(i);
    return uint8_t(step[size_t(i)][size_t(k / 4)] >> (2 * (k % 4)) & 3);
  };
  for (int64_t i = 0; i < n; ++i) {
    std::fill(cur.begin(), cur.end(), inf);
    step[size_t(i)].assign(size_t((hi(i) - lo(i)) / 4 + 1), 0);
    for (int64_t j = lo(i); j <= hi(i); ++j) {
      const float d = dist(i, j);
      if (i == 0 && j == 0) {
        cur[0] = d;
        continue;
      }
      float best = inf;
      uint8_t how = 0;
      if (i > 0 && j > 0 && prev[size_t(j - 1)] + 2 * d < best) best = prev[size_t(j - 1)] + 2 * d, how = 0;
      if (i > 0 && prev[size_t(j)] + d + kStepPenalty < best) best = prev[size_t(j)] + d + kStepPenalty, how = 1;
      if (j > 0 && cur[size_t(j - 1)] + d + kStepPenalty < best) best = cur[size_t(j - 1)] + d + kStepPenalty, how = 2;
      if (j > 0 && may_pause[size_t(i)] && cur[size_t(j - 1)] + pause_cost[size_t(j)] < best)
        best = cur[size_t(j - 1)] + pause_cost[size_t(j)], how = 3;
      cur[size_t(j)] = best;
      const int64_t k = j - lo(i);
      step[size_t(i)][size_t(k / 4)] |= uint8_t(how << (2 * (k % 4)));
    }
    std::swap(prev, cur);
  }
  if (!std::isfinite(prev[size_t(m - 1)]))
    throw Error("the transcript's speech could not be aligned with the recording");
  // Back from the end: each row's mean column on the path; a row that
  // paused, from its last pause step on (a word is where the pause ends).
  std::vector<double> sum(size_t(n), 0.0), count(size_t(n), 0.0);
  std::vector<char> paused(static_cast<size_t>(n), 0);
  for (int64_t i = n - 1, j = m - 1;;) {
    const uint8_t how = i == 0 && j == 0 ? 0 : step_at(i, j);
    if (!paused[size_t(i)]) {
      sum[size_t(i)] += double(j);
      count[size_t(i)] += 1;
    }
    if (how == 3) paused[size_t(i)] = 1;
    if (i == 0 && j == 0) break;
    if (how == 0) --i, --j;
    else if (how == 1) --i;
    else --j;
  }
  // A time's fractional row, its column interpolated between the rows' means;
  // a time just before a row that paused goes to that pause's end too.
  std::vector<double> out;
  for (double t : times) {
    const double x = std::clamp(t * fps, 0.0, double(n - 1));
    const int64_t i = std::min<int64_t>(int64_t(x), n - 1), k = std::min<int64_t>(i + 1, n - 1);
    const double ji = sum[size_t(i)] / count[size_t(i)], jk = sum[size_t(k)] / count[size_t(k)];
    out.push_back((x > double(i) && paused[size_t(k)] ? jk : ji + (x - double(i)) * (jk - ji)) / fps);
  }
  return out;
}

Speech transcribed_speech(std::vector<float> recorded, const std::string& transcript, const std::string& voice) {
  if (transcript.find_first_not_of(" \t\r\n") == std::string::npos)
    throw Error("--transcript is empty: give the words the audio says");
  Speech spoken = synthesize_speech(transcript, voice);
  // espeak-ng starts speaking at once: its speech gets kPad of silence
  // either side, so that it begins and ends in silence as a recording
  // usually does. A recording cut tight to its words gets the silence it
  // lacks of kPad too: without, its quietest speech took the place of the
  // transcript's silence, and the first words were found 0.75 s late in a
  // 1.4 s recording.
  const size_t pad = size_t(kPad * kSampleRate);
  spoken.samples.insert(spoken.samples.begin(), pad, 0.f);
  spoken.samples.insert(spoken.samples.end(), pad, 0.f);
  const auto [front, back] = silence_at_ends(recorded);
  const size_t add_front = front < pad ? pad - front : 0, add_back = back < pad ? pad - back : 0;
  std::vector<float> to(add_front, 0.f);
  to.insert(to.end(), recorded.begin(), recorded.end());
  to.insert(to.end(), add_back, 0.f);
  std::vector<double> times = spoken.words;  // the words' starts, then the phonemes'
  for (const PhonemeEvent& p : spoken.phonemes) times.push_back(p.time);
  for (double& t : times) t += kPad;
  std::vector<double> pauses = spoken.words;
  for (double& t : pauses) t += kPad;
  std::vector<double> moved = warp_times(spoken.samples, to, times, pauses);
  const double duration = double(recorded.size()) / kSampleRate;
  for (double& t : moved) t = std::clamp(t - double(add_front) / kSampleRate, 0.0, duration);
  Speech s;
  s.samples = std::move(recorded);
  s.words.assign(moved.begin(), moved.begin() + long(spoken.words.size()));
  s.phonemes = spoken.phonemes;
  for (size_t i = 0; i < s.phonemes.size(); ++i) s.phonemes[i].time = moved[spoken.words.size() + i];
  return s;
}

}  // namespace stf
