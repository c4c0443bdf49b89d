#include "cli/common.h"

#include <cstdio>

#include "model/precision.h"

namespace stf::cli {

void add_threads_option(CLI::App* cmd, int& threads) {
  cmd->add_option("--threads", threads, "CPU threads for torch and OpenCV (0 = all cores; at most the cores)")
      ->default_val(0)
      ->check(CLI::NonNegativeNumber);
}

void warn_if_slow_precision(const std::string& precision) {
  if (precision == "bf16" && !cpu_has_fast_bf16())
    std::fprintf(stderr, "warning: this CPU has no bfloat16 units (AMX or AVX512_BF16): --precision bf16 runs far "
                         "slower than fp32 here\n");
}

}  // namespace stf::cli
