#include "cli/common.h"

namespace stf::cli {

void add_threads_option(CLI::App* cmd, int& threads) {
  cmd->add_option("--threads", threads, "CPU threads for torch and OpenCV (0 = all cores)")
      ->default_val(0)
      ->check(CLI::NonNegativeNumber);
}

}  // namespace stf::cli
