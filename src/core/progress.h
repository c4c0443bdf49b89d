// Progress display for long work: a redrawn bar with rate and ETA on a
// terminal, a plain line every few seconds otherwise (logs, CI).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace stf {

class Progress {
 public:
  // total <= 0: unknown length (no bar, no ETA). unit: "frames", "steps", ...
  // first: units already done before this run (a resumed training): not
  // counted in the rate.
  Progress(std::string label, int64_t total, std::string unit, bool enabled = true, int64_t first = 0);
  ~Progress();
  void update(int64_t done, const std::string& extra = "");
  void finish();
  double elapsed() const;

 private:
  void draw(bool final);
  std::string label_, unit_, extra_;
  int64_t total_, first_, done_;
  int64_t drawn_ = -1;  // done_ when a line was last printed
  bool enabled_, tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace stf
