#pragma once
// Shared by the cgroup v1 and v2 readers: where the hierarchies are mounted and which
// cgroup a process is in.

#include <crio/oci/cgroup_stats.hpp>

#include <map>
#include <string>
#include <vector>

namespace crio::oci::detail {

struct CgroupMount {
  std::string mount_point;
  std::string root;  // the cgroup path mounted there (usually "/")
  bool v2 = false;
  std::vector<std::string> controllers;  // v1 only
};

std::vector<CgroupMount> cgroup_mounts();

// /proc/<pid>/cgroup: controller ("" for the v2 line) → path. NotFound if no process.
Result<std::map<std::string, std::string>> proc_cgroups(pid_t pid);

// True on a host where cgroup v2 is the only hierarchy.
bool unified_only(const std::vector<CgroupMount>& mounts);

// "<mount>/<path relative to the mount's root>".
std::string join_cgroup(const CgroupMount& m, const std::string& path);

// Reads one unsigned integer file; nullopt for "max" or a missing file.
std::optional<uint64_t> read_u64(const std::string& path);
// "key value" lines (memory.stat, cpu.stat).
std::map<std::string, uint64_t> read_kv(const std::string& path);

Result<CgroupStats> stats_v1(const std::vector<CgroupMount>& mounts, const std::map<std::string, std::string>& cg);
Result<CgroupStats> stats_v2(const CgroupMount& unified, const std::string& path);

}  // namespace crio::oci::detail
