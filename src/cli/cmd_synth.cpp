// synctalkface synth --faces PATH... --out DIR [--clips N] [--sentences FILE]
// [--voice V]... [--seed S] [--fps 25]: the synthetic talking-face corpus.
#include <cstdio>

#include "cli/common.h"
#include "stf/threads.h"
#include "synth/corpus.h"

namespace stf::cli {

void add_synth_command(CLI::App& root) {
  struct Opts {
    SynthOptions synth;
    std::vector<std::string> voices;
    bool still = false;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = root.add_subcommand(
      "synth", "Make talking-face clips from face photos and espeak-ng speech, with exact mouth landmarks");
  cmd->footer("Output per clip in OUT/clips/: NAME.mp4, NAME.landmarks.json (ground truth, read by preprocess),\n"
              "NAME.timeline.json (sentence, voice, phonemes with times, per-frame viseme and mouth parameters).\n"
              "Re-running continues where it stopped.");
  cmd->add_option("--faces", o->synth.faces, "Face photos, videos (first frame) or folders of them")->required();
  cmd->add_option("--out", o->synth.out, "Output folder")->required();
  cmd->add_option("--clips", o->synth.clips, "Number of clips")->default_val(10)->check(range(1, 10000000));
  cmd->add_option("--sentences", o->synth.sentences, "Text file, one sentence per line (default: GRID-style sentences)");
  cmd->add_option("--voice", o->voices, "espeak-ng voice(s), picked at random per clip; a variant after + (en-us+f3, en+m5) (default: en en-us en-gb-x-rp en-029)");
  cmd->add_option("--seed", o->synth.seed, "Seed for faces, sentences, voices and head motion")->default_val(1);
  cmd->add_option("--fps", o->synth.fps, "Frame rate")->default_val(25)->check(range(1.0, 120.0));
  cmd->add_flag("--still", o->still, "No head motion");
  cmd->add_option("--contact-sheet", o->synth.contact_sheet,
                  "Also write a PNG of the first written clip's mouth, every other frame, labelled with its phoneme");
  add_threads_option(cmd, o->threads);
  cmd->callback([o] {
    set_threads(o->threads);
    SynthOptions s = o->synth;
    if (!o->voices.empty()) s.voices = o->voices;
    s.head_motion = !o->still;
    SynthReport r = synthesize_corpus(s);
    std::printf("%s: %s written, %d already there; %s used, %d without a face skipped; %.1f s\n", s.out.c_str(),
                counted(r.written, "clip").c_str(), r.reused, counted(r.faces_usable, "face").c_str(), r.faces_skipped,
                r.seconds);
  });
}

}  // namespace stf::cli
