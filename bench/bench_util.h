// Shared by the benchmarks: inputs made with the project's own writer, and
// child processes whose wall time and peak RSS are their own.
#pragma once
#include <string>
#include <vector>

namespace stf::bench {

// A width x height 25 fps clip of `seconds`, made from a shared GRID clip
// (scaled, looped, with its audio looped too). Cached in the temp folder.
std::string make_clip(int width, int height, double seconds);

struct ChildRun {
  int status = -1;        // exit status, -1 if killed by a signal
  double seconds = 0;     // wall time
  double peak_rss_mb = 0; // the child's own peak resident set
  std::string output;     // its stdout
};
// fork + exec (a clean process: no thread pools inherited from this one).
ChildRun run_child(const std::vector<std::string>& argv);

}  // namespace stf::bench
