#include "cli/common.h"

#include <cmath>
#include <cstdio>
#include <exception>
#include <functional>
#include <sstream>
#include <string>

#include "model/precision.h"

namespace stf::cli {

namespace {
// A check that `value` parses as a number and that `ok` holds for it.
CLI::Validator number_check(std::function<bool(double)> ok, const std::string& wanted) {
  return CLI::Validator(
      [ok, wanted](std::string& value) -> std::string {
        size_t used = 0;
        double v = 0;
        try {
          v = std::stod(value, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == value.size() && used > 0 && ok(v)) return "";
        return "must be " + wanted + ", not " + value;
      },
      wanted);
}
}  // namespace

CLI::Validator positive() {
  return number_check([](double v) { return v > 0; }, "more than 0");
}

CLI::Validator non_negative() {
  return number_check([](double v) { return v >= 0; }, "0 or more");
}

CLI::Validator range(double lo, double hi) {
  auto text = [](double v) {
    std::ostringstream s;
    s.precision(10);
    s << v;
    return s.str();
  };
  return number_check([lo, hi](double v) { return v >= lo && v <= hi; }, "from " + text(lo) + " to " + text(hi));
}

CLI::Validator finite() {
  return number_check([](double v) { return std::isfinite(v); }, "a finite number");
}

void add_threads_option(CLI::App* cmd, int& threads) {
  cmd->add_option("--threads", threads, "CPU threads for torch and OpenCV (0 = all cores; at most the cores)")
      ->default_val(0)
      ->check(non_negative());
}

std::string counted(long long n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

void warn_if_slow_precision(const std::string& precision) {
  if (precision == "bf16" && !cpu_has_fast_bf16())
    std::fprintf(stderr, "warning: this CPU has no bfloat16 units (AMX or AVX512_BF16): --precision bf16 runs far "
                         "slower than fp32 here\n");
}

}  // namespace stf::cli
