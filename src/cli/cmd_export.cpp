// synctalkface export CKPT --out FILE: a weights-only model file for
// generate/eval (fp16 by default: half the size, same output to ~1e-3).
#include <cstdio>
#include <filesystem>

#include "cli/common.h"
#include "model/model_file.h"
#include "stf/files.h"
#include "stf/threads.h"

namespace stf::cli {

void add_export_command(CLI::App& root) {
  struct Opts {
    std::string checkpoint, out;
    bool fp32 = false;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = root.add_subcommand(
      "export", "Write the trained network of a checkpoint without optimiser state (for generate and eval)");
  cmd->add_option("checkpoint", o->checkpoint, "Checkpoint from train or train-sync")->required();
  cmd->add_option("--out", o->out, "Model file to write (.stfm)")->required();
  cmd->add_flag("--fp32", o->fp32, "Keep 32-bit weights (default: 16-bit)");
  add_threads_option(cmd, o->threads);
  cmd->callback([o] {
    set_threads(o->threads);
    check_output_path(o->out, {o->checkpoint});
    std::string module = export_model(o->checkpoint, o->out, !o->fp32);
    std::printf("%s: %s, %s, %.1f MB\n", o->out.c_str(), module.c_str(), o->fp32 ? "fp32" : "fp16",
                std::filesystem::file_size(o->out) / 1e6);
  });
}

}  // namespace stf::cli
