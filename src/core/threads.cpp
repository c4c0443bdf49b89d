#include "stf/threads.h"

#include <algorithm>
#include <cstdlib>
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

int set_threads(int n) {
  // Processes that torchrun starts side by side share the cores.
  const char* local = std::getenv("LOCAL_WORLD_SIZE");
  const int sharing = local ? std::max(1, std::atoi(local)) : 1;
  if (n <= 0) n = std::max(1, available_cores() / sharing);
  torch::set_num_threads(n);
#ifdef STF_WITH_OPENCV
  cv::setNumThreads(n);
#endif
  return n;
}

}  // namespace stf
