#pragma once

namespace stf {

// Number of CPU cores available to this process.
int available_cores();

// Sets torch's intra-op thread count (Debian's torch defaults to 1 here) and
// OpenCV's. n <= 0 means all available cores, shared among the processes
// torchrun starts on this machine (LOCAL_WORLD_SIZE); more than the cores
// is capped at the cores, with a note on stderr. Also keeps freed
// memory in the process for reuse (threads.cpp). Returns the count in use.
int set_threads(int n);

}  // namespace stf
