// Wav2Lip-compatible audio features (PAPER.md, "Audio features").
#pragma once
#include <cstdint>
#include <torch/torch.h>
#include <vector>

namespace stf {

constexpr int kSampleRate = 16000;
constexpr int kNfft = 800;
constexpr int kHop = 200;         // 80 mel frames per second
constexpr int kMelBands = 80;
constexpr int kMelWindow = 16;    // mel columns per video frame window (0.2 s)
constexpr double kMelFps = double(kSampleRate) / kHop;

// Slaney-scale, Slaney-normalised filterbank, 55-7600 Hz: (80, 401) float64.
torch::Tensor mel_filterbank();

// Normalised log-mel of 16 kHz mono samples: (80, T) float32 in [-4, 4],
// T = 1 + samples / 200, of the samples times `gain`. Throws stf::Error on
// empty input.
torch::Tensor mel_spectrogram(const std::vector<float>& samples, double gain = 1.0);

// The speech level the bundled model trained at: the 95th percentile of the
// power of 20 ms pieces, in dB of full scale (its GRID recordings: about
// -10; VoxCeleb2 and presenter clips -15 to -26; models/README.md).
constexpr double kSpeechLevelDb = -12;

// The gain that brings the samples' speech level (as above) to
// kSpeechLevelDb: the same speech recorded softer or louder then moves the
// mouth alike. It boosts by at most 30 dB, and only sound whose loud pieces
// stand out from its quiet ones as speech does: by 15 dB or more (speech:
// 12-45 dB in the clips measured; a steady hiss or hum: under 10, not
// boosted; between, partly).
// Silence stays silence.
double speech_gain(const std::vector<float>& samples);

// First mel column of the window for video frame `frame` at `fps`:
// floor(80 * frame / fps), clamped so the 16-column window fits in T columns.
int64_t mel_window_start(int64_t frame, double fps, int64_t mel_columns);

// The (80, 16) window for a video frame. Throws if T < 16 (audio < 0.2 s).
torch::Tensor mel_window(const torch::Tensor& mel, int64_t frame, double fps);

// How loud the speech is at each of `frames` video frames at `fps`: the mean
// normalised log-mel over the 80 bands and the columns from 40 ms before to
// 80 ms after the frame's time (frames past the audio's end get its last
// columns). A mouth is open when the voice is loud, whoever speaks.
std::vector<float> frame_loudness(const torch::Tensor& mel, int64_t frames, double fps);

}  // namespace stf
