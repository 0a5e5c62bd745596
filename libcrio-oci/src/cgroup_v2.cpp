// Usage from the cgroup v2 unified hierarchy: one directory holds every controller.

#include "cgroup_internal.hpp"

namespace crio::oci::detail {

Result<CgroupStats> stats_v2(const CgroupMount& unified, const std::string& path) {
  CgroupStats s;
  s.version = 2;
  s.timestamp = std::chrono::system_clock::now();
  std::string dir = join_cgroup(unified, path);
  auto cpu = read_kv(dir + "/cpu.stat");
  if (cpu.empty()) return error(Code::kNotFound, "cgroup {}: no cpu.stat (gone?)", dir);
  s.cpu_usage_ns = cpu["usage_usec"] * 1000;
  s.memory_usage_bytes = read_u64(dir + "/memory.current").value_or(0);
  auto stat = read_kv(dir + "/memory.stat");
  uint64_t inactive = stat["inactive_file"];
  s.memory_working_set_bytes = s.memory_usage_bytes > inactive ? s.memory_usage_bytes - inactive : 0;
  s.memory_limit_bytes = read_u64(dir + "/memory.max");
  s.pids_current = read_u64(dir + "/pids.current").value_or(0);
  return s;
}

}  // namespace crio::oci::detail
