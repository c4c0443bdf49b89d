#include "train/augment.h"

#include <cmath>
#include <vector>

namespace stf {

torch::Tensor augment_look(torch::Tensor frames, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> gain(0.75f, 1.25f), shift(-0.1f, 0.1f);
  if (std::bernoulli_distribution(0.5)(rng)) frames = frames.flip({3});
  const float r = gain(rng), g = gain(rng), b = gain(rng), o = shift(rng);
  return (frames * torch::tensor({r, g, b}).view({1, 3, 1, 1}) + o).clamp(0, 1);  // (5, 3, S, S)
}

SpeechChange draw_speech_change(std::mt19937_64& rng) {
  using U = std::uniform_real_distribution<double>;
  SpeechChange c;
  c.voice = U(0.88, 1.12)(rng);
  c.gain_db = U(-10, 10)(rng);
  c.tilt_db = U(-6, 6)(rng);
  c.noise = std::bernoulli_distribution(0.7)(rng);
  c.noise_level = U(-3.5, -1.0)(rng);
  c.noise_tilt_db = U(-6, 6)(rng);
  return c;
}

double draw_pace(std::mt19937_64& rng) {
  if (std::bernoulli_distribution(0.5)(rng)) return 1;
  return std::exp(std::uniform_real_distribution<double>(std::log(0.8), std::log(1.7))(rng));
}

torch::Tensor change_speech(const torch::Tensor& mel, const SpeechChange& c, std::mt19937_64& rng) {
  const int64_t bands = mel.size(0), T = mel.size(1);
  // Voice: band b takes the value at b / voice (linear interpolation).
  std::vector<int64_t> lo(bands), hi(bands);
  std::vector<float> w(bands);
  for (int64_t b = 0; b < bands; ++b) {
    const double src = std::min(double(bands - 1), b / c.voice);
    lo[b] = static_cast<int64_t>(std::floor(src));
    hi[b] = std::min(bands - 1, lo[b] + 1);
    w[b] = static_cast<float>(src - lo[b]);
  }
  auto wt = torch::from_blob(w.data(), {bands, 1}, torch::kFloat32);
  auto x = mel.index_select(0, torch::tensor(lo)) * (1 - wt) + mel.index_select(0, torch::tensor(hi)) * wt;  // (80, T)

  // Colour, in dB of the magnitude: -4 .. 4 is -100 .. 0 dB.
  auto ramp = torch::linspace(-0.5, 0.5, bands, torch::kFloat32).view({bands, 1});  // (80, 1)
  auto db = (x + 4) * 12.5 - 100 + c.gain_db + c.tilt_db * ramp;                  // (80, T)
  if (c.noise) {
    std::normal_distribution<float> n01;
    std::vector<float> jitter(static_cast<size_t>(bands * T));
    for (float& j : jitter) j = n01(rng);
    auto noise_db = (c.noise_level + 4) * 12.5 - 100 + c.noise_tilt_db * ramp +
                    torch::from_blob(jitter.data(), {bands, T}, torch::kFloat32) * (0.3 * 20 / std::log(10.0));
    db = 10 * (torch::pow(10.0, db / 10) + torch::pow(10.0, noise_db / 10)).log10();  // powers add
  }
  return ((db + 100) / 12.5 - 4).clamp(-4, 4).contiguous();  // (80, T)
}

}  // namespace stf
