#pragma once

#include <string>

namespace stf {

// Number of CPU cores available to this process: the machine's, or fewer
// where its CPU affinity (taskset, a container's cpuset) or its cgroup's CPU
// quota (docker --cpus) allows fewer.
int available_cores();

// The CPUs' worth of time a cgroup quota allows, rounded up; 0 where none is
// set. cgroup_root: where the cgroup file systems are mounted
// (/sys/fs/cgroup); proc_self_cgroup: the text of /proc/self/cgroup. Reads
// cgroup v2's cpu.max or v1's cpu.cfs_quota_us and cpu.cfs_period_us in the
// process's own cgroup, each one above it and the mount's root (a
// container's own cgroup), and takes the least.
int cgroup_cpu_limit(const std::string& cgroup_root, const std::string& proc_self_cgroup);

// Sets torch's intra-op thread count (Debian's torch defaults to 1 here) and
// OpenCV's. n <= 0 means all available cores, shared among the processes
// torchrun starts on this machine (LOCAL_WORLD_SIZE); more than the cores
// is capped at the cores, with a note on stderr. Also keeps freed
// memory in the process for reuse (threads.cpp). Returns the count in use.
int set_threads(int n);

}  // namespace stf
