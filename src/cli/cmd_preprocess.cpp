// synctalkface preprocess INPUT... --out DATASET_DIR
#include <cstdio>

#include "cli/common.h"
#include "cli/face_options.h"
#include "stf/threads.h"
#include "train/preprocess.h"

namespace stf::cli {

void add_preprocess_command(CLI::App& root) {
  struct Opts {
    std::vector<std::string> inputs;
    std::string out;
    int size = 128, threads = 0, min_frames = 25;
    double val_ratio = 0.05;
    std::string val_match, crop = "bounds";
    FaceCliOptions face;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = root.add_subcommand(
      "preprocess", "Turn videos into a training dataset: face crops, landmarks and mel per clip, and a manifest");
  cmd->add_option("inputs", o->inputs, "Video files, folders (searched recursively) or .txt lists of paths")
      ->required();
  cmd->add_option("--out,-o", o->out, "Dataset folder (created; re-running resumes)")->required();
  cmd->add_option("--size", o->size, "Stored face crop side in pixels")->default_val(128)->check(range(32, 512));
  cmd->add_option("--val-ratio", o->val_ratio, "Share of clips held out for validation (split by clip id)")
      ->default_val(0.05)->check(range(0.0, 1.0));
  cmd->add_option("--val-match", o->val_match, "Hold out the clips whose path contains this text instead (e.g. a speaker folder)");
  cmd->add_option("--min-frames", o->min_frames, "Skip clips with fewer consecutive face frames")
      ->default_val(25)->check(range(25, 100000));
  add_crop_option(cmd, o->crop, "Recorded in the manifest; a model trained on the data keeps it");
  add_threads_option(cmd, o->threads);
  add_face_options(cmd, o->face);
  cmd->callback([o] {
    set_threads(o->threads);
    PreprocessOptions p;
    p.size = o->size;
    p.tracker = tracker_options(o->face);
    p.crop = crop_options(o->face, o->size);
    p.crop.placement = parse_crop_placement(o->crop);
    p.val_ratio = o->val_ratio;
    p.val_match = o->val_match;
    p.min_frames = o->min_frames;
    PreprocessReport r = preprocess(o->inputs, o->out, p);
    std::printf("%s: %s processed, %d reused, %d failed; %d train, %d val\n", o->out.c_str(),
                counted(r.processed, "clip").c_str(), r.reused, r.failed, r.train, r.val);
  });
}

}  // namespace stf::cli
