#include "stf/threads.h"

#include <opencv2/core.hpp>
#include <thread>
#include <torch/torch.h>

namespace stf {

int available_cores() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

int set_threads(int n) {
  if (n <= 0) n = available_cores();
  torch::set_num_threads(n);
  cv::setNumThreads(n);
  return n;
}

}  // namespace stf
