#include "stf/error.h"

namespace stf {

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

void assert_fail(const char* expr, const char* file, int line) {
  throw std::logic_error(std::string("internal error: ") + expr + " failed at " + file + ":" +
                         std::to_string(line) + " (please report this)");
}

}  // namespace stf
