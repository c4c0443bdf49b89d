#include "stf/threads.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <thread>
#include <torch/torch.h>
#ifdef STF_WITH_OPENCV
#include <opencv2/core.hpp>
#endif

namespace stf {

int available_cores() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

// glibc hands freed blocks of over 128 KB (more once it adapts) back to the
// system and maps fresh pages for the next allocation; the first touch of
// each page then faults, which on virtual machines is slow. Every model
// layer allocates its output anew: on a 2-core AMD EPYC VM the lite model at
// batch 16 ran at 171 frames/s, and at 700 with freed memory kept for reuse
// (docs/performance.md, session 13). Blocks of up to 32 MB (glibc's limit)
// now come from the heap, and up to 512 MB of free heap stays mapped.
// Threads other than the first get heaps of their own (64 MB each), and a
// heap whose blocks are all freed is unmapped whatever the trim threshold:
// generate's stages, each on its own thread, passing 6 MB 1080p frames
// along, mapped and unmapped them over and over (a quarter of a 1080p run's
// samples in the kernel, mostly page faults). One heap for all threads keeps
// them (1080p: 22-24 -> 31-34 frames/s; docs/performance.md, session 18).
static void keep_freed_memory() {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  mallopt(M_ARENA_MAX, 1);
#endif
}

int set_threads(int n) {
  keep_freed_memory();
  // Processes that torchrun starts side by side share the cores.
  const char* local = std::getenv("LOCAL_WORLD_SIZE");
  const int sharing = local ? std::max(1, std::atoi(local)) : 1;
  const int cores = available_cores();
  if (n <= 0) n = std::max(1, cores / sharing);
  // More threads than cores only adds switching: 1000 threads on 2 cores took
  // 20 frames from 1.8 s to 42 s (docs/performance.md, session 55).
  if (n > cores) {
    std::fprintf(stderr, "note: --threads %d is more than this machine's %d cores; using %d\n", n, cores, cores);
    n = cores;
  }
  torch::set_num_threads(n);
#ifdef STF_WITH_OPENCV
  cv::setNumThreads(n);
#endif
  return n;
}

}  // namespace stf
