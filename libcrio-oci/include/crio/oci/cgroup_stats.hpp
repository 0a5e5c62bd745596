#pragma once
// Container resource usage from its cgroups, v1 or v2 behind one call. The paths are
// read from /proc/<pid>/cgroup and the host's cgroup mounts, never assumed: runc and
// crun place a container's cgroups differently.

#include <crio/core/status.hpp>
#include <crio/oci/export.hpp>
#include <crio/oci/spec.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace crio::oci {

struct CgroupStats {
  int version = 0;  // 1 or 2
  std::chrono::system_clock::time_point timestamp;
  uint64_t cpu_usage_ns = 0;
  uint64_t memory_usage_bytes = 0;
  uint64_t memory_working_set_bytes = 0;  // usage - inactive_file
  std::optional<uint64_t> memory_limit_bytes;  // unset when unlimited
  uint64_t pids_current = 0;
};

// NotFound when the process is gone.
CRIO_OCI_EXPORT Result<CgroupStats> cgroup_stats(pid_t pid);

// The directory of `pid`'s cgroup for a v1 `controller` ("memory", "cpu", "pids"), or
// its v2 directory when the host is cgroup v2 only.
CRIO_OCI_EXPORT Result<std::string> cgroup_dir(pid_t pid, const std::string& controller);

// Moves `pid` into the cgroupfs path (e.g. "/crio-conmon") in every mounted hierarchy
// (the unified one on a cgroup v2 host), creating the directories; a new v1 cpuset
// cgroup gets its parent's cpus and mems. `cpu` (shares, quota, period, cpus, mems)
// is applied to the cgroup before the process joins it.
CRIO_OCI_EXPORT Status move_to_cgroup(pid_t pid, const std::string& path);
CRIO_OCI_EXPORT Status move_to_cgroup(pid_t pid, const std::string& path, const CpuResources& cpu);

// Creates the cgroupfs path in every hierarchy (the unified one on a cgroup v2 host),
// with no process in it; a new v1 cpuset cgroup gets its parent's cpus and mems and
// sched_load_balance 0, as CRI-O makes the cgroup of a pod without infra container.
CRIO_OCI_EXPORT Status create_cgroup(const std::string& path);

// Removes the cgroupfs path's last directory from every hierarchy it was created in;
// one already gone is fine, a busy one is an error.
CRIO_OCI_EXPORT Status remove_cgroup(const std::string& path);

}  // namespace crio::oci
