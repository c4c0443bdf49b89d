#include "stf/threads.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>
#ifdef __linux__
#include <sched.h>
#endif
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <thread>
#include <torch/torch.h>
#ifdef STF_WITH_OPENCV
#include <opencv2/core.hpp>
#endif

namespace stf {

namespace {

std::string first_line(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

// CPUs' worth of time a quota of `quota` per `period` gives, rounded up; 0 = none.
int quota_cores(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return 0;
  return static_cast<int>((quota + period - 1) / period);
}

// The quota set in one cgroup directory, in cores; 0 where none is (or no such file).
int quota_in(const std::string& dir, bool v2) {
  if (v2) {
    std::istringstream max(first_line(dir + "/cpu.max"));  // "QUOTA PERIOD" or "max PERIOD"
    std::string quota;
    long long period = 0;
    if (!(max >> quota >> period) || quota == "max") return 0;
    return quota_cores(std::atoll(quota.c_str()), period);
  }
  const std::string quota = first_line(dir + "/cpu.cfs_quota_us"), period = first_line(dir + "/cpu.cfs_period_us");
  return quota.empty() || period.empty() ? 0 : quota_cores(std::atoll(quota.c_str()), std::atoll(period.c_str()));
}

}  // namespace

int cgroup_cpu_limit(const std::string& cgroup_root, const std::string& proc_self_cgroup) {
  int least = 0;
  std::istringstream lines(proc_self_cgroup);
  std::string line;
  while (std::getline(lines, line)) {
    // "hierarchy-ID:controllers:path"; v2 is "0::path", v1's CPU controller lists "cpu".
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    const bool v2 = controllers.empty();
    std::vector<std::string> mounts{cgroup_root};
    if (!v2) {
      if (("," + controllers + ",").find(",cpu,") == std::string::npos) continue;
      mounts = {cgroup_root + "/" + controllers};  // "cpu", or "cpu,cpuacct" with "cpu" often a link to it
      if (controllers != "cpu") mounts.push_back(cgroup_root + "/cpu");
    }
    // The process's cgroup and each one above it up to the mount's root (a
    // container's own cgroup, where its path is not mounted): the least quota.
    for (const std::string& mount : mounts)
      for (std::string p = path;;) {
        const int cores = quota_in(mount + p, v2);
        if (cores > 0 && (least == 0 || cores < least)) least = cores;
        const size_t up = p.rfind('/');
        if (p.empty() || p == "/" || up == std::string::npos) break;
        p = p.substr(0, up);
      }
  }
  return least;
}

int available_cores() {
  unsigned n = std::thread::hardware_concurrency();
#ifdef __linux__
  // The CPUs this process may run on (taskset, a container's cpuset) ...
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) n = static_cast<unsigned>(CPU_COUNT(&set));
  // ... and the CPU time its cgroup allows (docker --cpus): on a large host a
  // container limited to 2 CPUs would otherwise start a thread per host core.
  std::ifstream own("/proc/self/cgroup");
  const std::string cgroups((std::istreambuf_iterator<char>(own)), std::istreambuf_iterator<char>());
  const int limit = cgroup_cpu_limit("/sys/fs/cgroup", cgroups);
  if (limit > 0 && static_cast<unsigned>(limit) < n) n = static_cast<unsigned>(limit);
#endif
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
    std::fprintf(stderr, "note: --threads %d is more than the CPU cores this process can use (%d); using %d\n", n, cores, cores);
    n = cores;
  }
  torch::set_num_threads(n);
#ifdef STF_WITH_OPENCV
  cv::setNumThreads(n);
#endif
  return n;
}

}  // namespace stf
