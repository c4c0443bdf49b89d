// Training-time augmentation: make the few people and rooms of a small
// dataset look and sound like many. Every draw comes from the sample's own
// random generator, so a batch stays a pure function of (seed, sample).
#pragma once
#include <random>
#include <torch/torch.h>

namespace stf {

struct Augment {
  bool look = false;    // train-sync: SyncNet windows mirrored at random, colours scaled
  bool speech = false;  // train-sync and train: the mel as if spoken louder or softer, in another
                        // room with background noise, by a longer or shorter vocal tract
  double hide_mouth = 0;  // train: the probability that a sample's reference frames have their
                          // mouth smoothed away (model/synctalkface.h), so the audio must draw it
  bool pace = false;      // train: windows as if spoken faster or slower (draw_pace)
};

// How much faster than recorded a generator sample is spoken: 1 for half the
// samples, the others log-uniform in [0.8, 1.7]. Its frames are taken every
// `pace` frames and its mel windows read every `pace` columns (the pitch and
// the spectrum stay: a time stretch).
double draw_pace(std::mt19937_64& rng);

// frames: (5, 3, S, S) in [0, 1] -> the same, mirrored with probability 1/2
// and each channel scaled by a gain in [0.75, 1.25] plus one offset in
// [-0.1, 0.1], the same for all 5 frames (a mirrored mouth says the same).
torch::Tensor augment_look(torch::Tensor frames, std::mt19937_64& rng);

// How one sample's speech is changed (draw_speech_change draws it at random).
struct SpeechChange {
  double voice = 1;         // band axis stretch: band b takes the value at b / voice
  double gain_db = 0;       // added to every cell
  double tilt_db = 0;       // from -tilt/2 at the lowest band to +tilt/2 at the highest
  bool noise = false;       // add stationary noise
  double noise_level = -4;  // its level on the normalised scale (-4 = -100 dB)
  double noise_tilt_db = 0;
};

// voice in [0.88, 1.12] (vocal tract length perturbation on the mel scale),
// gain -10 .. +10 dB and tilt -6 .. +6 dB (microphone and room colour), and
// with probability 0.7 noise at a level in [-3.5, -1.0] (VoxCeleb-like noise
// floors; GRID's is about -3.6) with its own tilt.
SpeechChange draw_speech_change(std::mt19937_64& rng);

// mel: (80, T) normalised log-mel (PAPER.md: 1 unit = 12.5 dB, -4 = -100 dB)
// -> (80, T), a new tensor in [-4, 4]: the voice stretch, then gain and tilt,
// then the noise added as power, each cell's noise scaled by exp(0.3 N(0, 1))
// drawn from rng. Applied to a whole clip, so a sample's windows agree.
torch::Tensor change_speech(const torch::Tensor& mel, const SpeechChange& c, std::mt19937_64& rng);

}  // namespace stf
