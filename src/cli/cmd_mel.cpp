// synctalkface mel AUDIO_OR_VIDEO --out FILE.npy
#include <cstdio>

#include "cli/common.h"
#include "stf/audio.h"
#include "stf/error.h"
#include "stf/files.h"
#include "stf/media.h"
#include "stf/threads.h"

namespace stf::cli {

void add_mel_command(CLI::App& root) {
  struct Opts { std::string input, out; int threads = 0; };
  auto opts = std::make_shared<Opts>();
  CLI::App* cmd = root.add_subcommand(
      "mel", "Write the normalised 80-band log-mel (Wav2Lip-compatible) as float32 .npy [80, T]");
  cmd->add_option("input", opts->input, "Audio or video file (its audio track is used)")->required();
  cmd->add_option("--out,-o", opts->out, "Output .npy file")->required();
  add_threads_option(cmd, opts->threads);
  cmd->callback([opts] {
    set_threads(opts->threads);
    check_output_path(opts->out, {opts->input});
    if (lower_extension(opts->out) != ".npy") throw Error(opts->out + ": the mel is written as a NumPy array; name it .npy");
    std::vector<float> samples = read_audio(opts->input, kSampleRate);
    torch::Tensor mel = mel_spectrogram(samples);  // (80, T)
    write_npy(opts->out, mel.data_ptr<float>(), {mel.size(0), mel.size(1)});
    std::printf("%s: %lld x %lld mel (%.2f s of audio)\n", opts->out.c_str(),
                static_cast<long long>(mel.size(0)), static_cast<long long>(mel.size(1)),
                samples.size() / double(kSampleRate));
  });
}

}  // namespace stf::cli
