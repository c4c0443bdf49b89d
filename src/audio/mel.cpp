#include <algorithm>
#include <cmath>

#include "stf/audio.h"
#include "stf/error.h"

namespace stf {

namespace {

// Slaney mel scale (librosa htk=False): linear below 1 kHz, log above.
double hz_to_mel(double f) {
  const double f_sp = 200.0 / 3, min_log_hz = 1000, min_log_mel = min_log_hz / f_sp;
  const double logstep = std::log(6.4) / 27.0;
  return f < min_log_hz ? f / f_sp : min_log_mel + std::log(f / min_log_hz) / logstep;
}

double mel_to_hz(double m) {
  const double f_sp = 200.0 / 3, min_log_hz = 1000, min_log_mel = min_log_hz / f_sp;
  const double logstep = std::log(6.4) / 27.0;
  return m < min_log_mel ? f_sp * m : min_log_hz * std::exp(logstep * (m - min_log_mel));
}

// DFT of a periodic-Hann-windowed frame as one matrix product:
// frames (T, 800) @ basis (800, 802) -> [re | im] (T, 802).
const torch::Tensor& windowed_dft_basis() {
  static const torch::Tensor basis = [] {
    const int bins = kNfft / 2 + 1;
    auto b = torch::empty({kNfft, 2 * bins}, torch::kFloat64);
    auto a = b.accessor<double, 2>();
    for (int n = 0; n < kNfft; ++n) {
      double w = 0.5 - 0.5 * std::cos(2 * M_PI * n / kNfft);  // periodic Hann
      for (int k = 0; k < bins; ++k) {
        double phase = 2 * M_PI * double((int64_t(n) * k) % kNfft) / kNfft;
        a[n][k] = w * std::cos(phase);
        a[n][bins + k] = -w * std::sin(phase);
      }
    }
    return b.to(torch::kFloat32);
  }();
  return basis;
}

}  // namespace

torch::Tensor mel_filterbank() {
  const int bins = kNfft / 2 + 1;
  const double fmin = 55, fmax = 7600;
  std::vector<double> mel_f(kMelBands + 2);
  const double mlo = hz_to_mel(fmin), mhi = hz_to_mel(fmax);
  for (int i = 0; i < kMelBands + 2; ++i)
    mel_f[i] = mel_to_hz(mlo + (mhi - mlo) * i / (kMelBands + 1));
  auto fb = torch::zeros({kMelBands, bins}, torch::kFloat64);
  auto a = fb.accessor<double, 2>();
  for (int m = 0; m < kMelBands; ++m) {
    double enorm = 2.0 / (mel_f[m + 2] - mel_f[m]);  // Slaney area normalisation
    for (int k = 0; k < bins; ++k) {
      double f = double(kSampleRate) / 2 * k / (bins - 1);
      double lower = (f - mel_f[m]) / (mel_f[m + 1] - mel_f[m]);
      double upper = (mel_f[m + 2] - f) / (mel_f[m + 2] - mel_f[m + 1]);
      a[m][k] = std::max(0.0, std::min(lower, upper)) * enorm;
    }
  }
  return fb;
}

double speech_gain(const std::vector<float>& samples) {
  const size_t piece = kSampleRate / 50;  // 20 ms
  std::vector<double> level;              // dB of full scale
  for (size_t i = 0; i + piece <= samples.size(); i += piece) {
    double sum = 0;
    for (size_t j = i; j < i + piece; ++j) sum += double(samples[j]) * samples[j];
    level.push_back(10 * std::log10(std::max(sum / piece, 1e-12)));
  }
  if (level.empty()) return 1.0;
  std::sort(level.begin(), level.end());
  auto at = [&](double q) { return level[static_cast<size_t>(q * double(level.size() - 1))]; };
  const double speech = at(0.95), spread = speech - at(0.10);
  const double most = 30 * std::clamp((spread - 10) / 5, 0.0, 1.0);  // dB of boost: none for a steady noise
  return std::pow(10.0, std::min(kSpeechLevelDb - speech, most) / 20);
}

torch::Tensor mel_spectrogram(const std::vector<float>& samples, double gain) {
  if (samples.empty()) throw Error("cannot compute a mel spectrogram of empty audio");
  torch::NoGradGuard no_grad;
  const int64_t n = static_cast<int64_t>(samples.size());
  const int64_t pad = kNfft / 2;
  // Sample p of the signal as framed: pre-emphasis y[i] = x[i] - 0.97 x[i-1],
  // centred by reflect padding (without repeating the edge; tiny inputs
  // reflect back and forth) of kNfft / 2 either side.
  auto framed = [&](int64_t p) {
    int64_t i = p - pad;
    if (n == 1) i = 0;
    else if (i < 0 || i >= n) {
      const int64_t period = 2 * (n - 1);
      i = ((i % period) + period) % period;
      if (i >= n) i = period - i;
    }
    return samples[size_t(i)] - (i > 0 ? 0.97f * samples[size_t(i - 1)] : 0.0f);
  };
  const int64_t columns = 1 + n / kHop;
  const int bins = kNfft / 2 + 1;
  static const torch::Tensor fb_t = mel_filterbank().to(torch::kFloat32).t().contiguous();  // (401, 80)
  const torch::Tensor& basis = windowed_dft_basis();
  auto out = torch::empty({kMelBands, columns}, torch::kFloat32);
  // A chunk of columns at a time, from the samples to the normalised log-mel:
  // the memory beyond the result (an hour's audio: 115 MB) stays that of one
  // chunk (with whole-length intermediates, `mel` of an hour peaked at 1.4
  // GB, now 0.66).
  const int64_t chunk = 4096;
  std::vector<float> y(size_t((std::min(chunk, columns) - 1) * kHop + kNfft));  // one chunk's samples, framed
  for (int64_t c0 = 0; c0 < columns; c0 += chunk) {
    const int64_t c = std::min(columns, c0 + chunk) - c0, len = (c - 1) * kHop + kNfft;
    for (int64_t p = 0; p < len; ++p) y[size_t(p)] = framed(c0 * kHop + p);
    auto frames = torch::from_blob(y.data(), {len}, torch::kFloat32).unfold(0, kNfft, kHop);  // (c, 800)
    auto spec = frames.matmul(basis);                                                       // (c, 802)
    auto re = spec.narrow(1, 0, bins), im = spec.narrow(1, bins, bins);
    auto mel = (re * re + im * im).sqrt().matmul(fb_t);                                    // (c, 80)
    if (gain != 1.0) mel.mul_(gain);  // the samples' gain: magnitudes are linear in it
    auto db = 20 * mel.clamp_min(1e-5).log10() - 20;
    out.narrow(1, c0, c).copy_((8 * ((db + 100) / 100) - 4).clamp(-4, 4).t());            // (80, c)
  }
  return out;
}

int64_t mel_window_start(int64_t frame, double fps, int64_t mel_columns) {
  STF_ASSERT(fps > 0);
  int64_t start = static_cast<int64_t>(std::floor(kMelFps * frame / fps + 1e-9));
  return std::max<int64_t>(0, std::min(start, mel_columns - kMelWindow));
}

torch::Tensor mel_window(const torch::Tensor& mel, int64_t frame, double fps) {
  const int64_t columns = mel.size(1);
  if (columns < kMelWindow)
    throw Error("audio too short: " + std::to_string(columns) + " mel columns, need at least " +
                std::to_string(kMelWindow) + " (0.2 s)");
  return mel.narrow(1, mel_window_start(frame, fps, columns), kMelWindow);  // (80, 16)
}

std::vector<float> frame_loudness(const torch::Tensor& mel, int64_t frames, double fps) {
  STF_ASSERT(fps > 0);
  auto per_column = mel.mean(0).contiguous();  // (T,)
  const float* c = per_column.data_ptr<float>();
  const int64_t T = per_column.size(0);
  std::vector<float> loud(static_cast<size_t>(std::max<int64_t>(0, frames)));
  for (int64_t i = 0; i < frames; ++i) {
    const int64_t at = static_cast<int64_t>(std::floor(kMelFps * i / fps + 1e-9));
    const int64_t from = std::clamp<int64_t>(at - 3, 0, T - 1), to = std::clamp<int64_t>(at + 7, from + 1, T);
    double sum = 0;
    for (int64_t k = from; k < to; ++k) sum += c[k];
    loud[i] = static_cast<float>(sum / (to - from));
  }
  return loud;
}

}  // namespace stf
