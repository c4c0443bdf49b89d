// synctalkface memory (--audio FILE | --text "...") --out DIR: the Audio-Lip
// Memory's addresses, slot usage, slot gallery and phoneme-by-slot matrix.
#include <cstdio>

#include "cli/common.h"
#include "eval/memory_analysis.h"
#include "stf/threads.h"

namespace stf::cli {

void add_memory_command(CLI::App& root) {
  struct Opts {
    MemoryAnalysisOptions m;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = root.add_subcommand(
      "memory", "Analyse the Audio-Lip Memory on speech: address heatmap, slot usage, slot gallery, phonemes x slots");
  cmd->add_option("--model", o->m.model, "Model file or train checkpoint (default: the bundled model)");
  cmd->add_option("--audio", o->m.audio, "Speech: any audio or video file");
  cmd->add_option("--text", o->m.text, "Speech: text spoken by espeak-ng (adds phonemes.png: its phonemes are known)");
  cmd->add_option("--voice", o->m.voice, "espeak-ng voice for --text")->default_val("en");
  cmd->add_option("--face", o->m.face, "Face photo for the slot gallery (default: the bundled example photo)");
  cmd->add_option("--out", o->m.out, "Output folder")->required();
  cmd->add_option("--fps", o->m.fps, "Video frames per second the addresses are taken at")
      ->default_val(25)->check(range(1.0, 120.0));
  add_threads_option(cmd, o->threads);
  cmd->footer("Writes OUT/addresses.png, usage.png, gallery.png, phonemes.png (with --text) and memory.json.");
  cmd->callback([o] {
    set_threads(o->threads);
    nlohmann::json j = analyse_memory(o->m);
    std::printf("memory: %lld slots over %lld frames; %d slots are the top address of at least one frame; "
                "mean address entropy %.2f nats (uniform: %.2f)\n",
                static_cast<long long>(j["slots"].get<int64_t>()), static_cast<long long>(j["frames"].get<int64_t>()),
                j["slots_used_as_top"].get<int>(), j["mean_entropy_nats"].get<double>(),
                j["uniform_entropy_nats"].get<double>());
    std::printf("wrote %s/{addresses,usage,gallery%s}.png and memory.json\n", o->m.out.c_str(),
                j.contains("phonemes") ? ",phonemes" : "");
  });
}

}  // namespace stf::cli
