// Usage from cgroup v1 hierarchies: each controller has its own tree and path.

#include "cgroup_internal.hpp"

#include <algorithm>

namespace crio::oci::detail {

namespace {

std::optional<std::string> dir_for(const std::vector<CgroupMount>& mounts, const std::map<std::string, std::string>& cg,
                                   const std::string& controller) {
  auto it = cg.find(controller);
  if (it == cg.end()) return std::nullopt;
  for (const auto& m : mounts) {
    if (m.v2) continue;
    if (std::find(m.controllers.begin(), m.controllers.end(), controller) != m.controllers.end()) {
      return join_cgroup(m, it->second);
    }
  }
  return std::nullopt;
}

}  // namespace

Result<CgroupStats> stats_v1(const std::vector<CgroupMount>& mounts, const std::map<std::string, std::string>& cg) {
  CgroupStats s;
  s.version = 1;
  s.timestamp = std::chrono::system_clock::now();
  auto cpu = dir_for(mounts, cg, "cpuacct");
  auto mem = dir_for(mounts, cg, "memory");
  if (!cpu && !mem) return error(Code::kNotFound, "no cpuacct or memory cgroup mounted");
  if (cpu) s.cpu_usage_ns = read_u64(*cpu + "/cpuacct.usage").value_or(0);
  if (mem) {
    s.memory_usage_bytes = read_u64(*mem + "/memory.usage_in_bytes").value_or(0);
    auto stat = read_kv(*mem + "/memory.stat");
    uint64_t inactive = stat.count("total_inactive_file") ? stat["total_inactive_file"] : stat["inactive_file"];
    s.memory_working_set_bytes = s.memory_usage_bytes > inactive ? s.memory_usage_bytes - inactive : 0;
    auto limit = read_u64(*mem + "/memory.limit_in_bytes");
    // v1 reports "unlimited" as a huge page-aligned number.
    if (limit && *limit < (uint64_t{1} << 62)) s.memory_limit_bytes = limit;
  }
  if (auto pids = dir_for(mounts, cg, "pids")) s.pids_current = read_u64(*pids + "/pids.current").value_or(0);
  return s;
}

}  // namespace crio::oci::detail
