// Errors: the library throws stf::Error with a message a user can act on
// (what failed, on which file, and a hint). Invariants that only a bug can
// break use STF_ASSERT, which names the file and line.
#pragma once
#include <stdexcept>
#include <string>

namespace stf {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An exception's text up to its first line break: LibTorch's errors carry
// a stack trace after it.
std::string first_line(const std::string& text);

[[noreturn]] void assert_fail(const char* expr, const char* file, int line);

}  // namespace stf

#define STF_ASSERT(cond) \
  do { if (!(cond)) ::stf::assert_fail(#cond, __FILE__, __LINE__); } while (0)
