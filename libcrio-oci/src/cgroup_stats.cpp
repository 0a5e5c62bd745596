#include <crio/oci/cgroup_stats.hpp>

#include <crio/core/fs.hpp>

#include "cgroup_internal.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace crio::oci {
namespace detail {

std::vector<CgroupMount> cgroup_mounts() {
  std::vector<CgroupMount> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // id parent major:minor root mountpoint options [optional...] - fstype source superopts
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream head(line.substr(0, dash)), tail(line.substr(dash + 3));
    std::string id, parent, dev, root, mp, fstype, source, superopts;
    head >> id >> parent >> dev >> root >> mp;
    tail >> fstype >> source >> superopts;
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    CgroupMount m{mp, root, fstype == "cgroup2", {}};
    if (!m.v2) {
      std::istringstream opts(superopts);
      std::string opt;
      while (std::getline(opts, opt, ',')) {
        if (opt == "rw" || opt == "ro" || opt.find('=') != std::string::npos) {
          if (opt.rfind("name=", 0) == 0) m.controllers.push_back(opt);
          continue;
        }
        m.controllers.push_back(opt);
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::map<std::string, std::string>> proc_cgroups(pid_t pid) {
  std::string file = "/proc/" + std::to_string(pid) + "/cgroup";
  std::ifstream in(file);
  if (!in) return error(Code::kNotFound, "process {}: no {} ({})", pid, file, std::strerror(errno));
  std::map<std::string, std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    // hierarchy-id:controller,list:path
    auto a = line.find(':');
    auto b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string controllers = line.substr(a + 1, b - a - 1);
    std::string path = line.substr(b + 1);
    if (controllers.empty()) {
      out[""] = path;
      continue;
    }
    std::istringstream list(controllers);
    std::string c;
    while (std::getline(list, c, ',')) out[c] = path;
  }
  if (out.empty()) return error(Code::kNotFound, "process {}: {} is empty (exited?)", pid, file);
  return out;
}

bool unified_only(const std::vector<CgroupMount>& mounts) {
  for (const auto& m : mounts) {
    if (!m.v2 && !m.controllers.empty() && m.controllers[0].rfind("name=", 0) != 0) return false;
  }
  for (const auto& m : mounts) {
    if (m.v2) return true;
  }
  return false;
}

std::string join_cgroup(const CgroupMount& m, const std::string& path) {
  std::string rel = path;
  if (m.root != "/" && rel.rfind(m.root, 0) == 0) rel = rel.substr(m.root.size());
  if (rel.empty() || rel == "/") return m.mount_point;
  return m.mount_point + (rel[0] == '/' ? "" : "/") + rel;
}

std::optional<uint64_t> read_u64(const std::string& path) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word) || word == "max") return std::nullopt;
  try {
    return std::stoull(word);
  } catch (...) {
    return std::nullopt;
  }
}

std::map<std::string, uint64_t> read_kv(const std::string& path) {
  std::map<std::string, uint64_t> out;
  std::ifstream in(path);
  std::string key;
  uint64_t value = 0;
  while (in >> key >> value) out[key] = value;
  return out;
}

}  // namespace detail

Result<CgroupStats> cgroup_stats(pid_t pid) {
  auto mounts = detail::cgroup_mounts();
  CRIO_ASSIGN_OR_RETURN(auto cg, detail::proc_cgroups(pid));
  if (detail::unified_only(mounts)) {
    for (const auto& m : mounts) {
      if (m.v2) return detail::stats_v2(m, cg[""]);
    }
  }
  return detail::stats_v1(mounts, cg);
}

Result<std::string> cgroup_dir(pid_t pid, const std::string& controller) {
  auto mounts = detail::cgroup_mounts();
  CRIO_ASSIGN_OR_RETURN(auto cg, detail::proc_cgroups(pid));
  bool v2only = detail::unified_only(mounts);
  for (const auto& m : mounts) {
    if (v2only && m.v2) return detail::join_cgroup(m, cg[""]);
    if (!v2only && !m.v2) {
      for (const auto& c : m.controllers) {
        if (c == controller && cg.count(controller)) return detail::join_cgroup(m, cg[controller]);
      }
    }
  }
  return error(Code::kNotFound, "process {}: no mounted cgroup hierarchy for \"{}\"", pid, controller);
}

namespace {

std::vector<std::string> path_elements(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(path);
  std::string e;
  while (std::getline(in, e, '/')) {
    if (!e.empty() && e != "." && e != "..") out.push_back(e);
  }
  return out;
}

Status write_cgroup_file(const std::string& dir, const std::string& file, const std::string& value) {
  std::ofstream out(dir + "/" + file);
  out << value;
  out.flush();
  if (!out) return error(Code::kInternal, "writing \"{}\" to {}/{}: {}", value, dir, file, std::strerror(errno));
  return ok_status();
}

std::string read_trimmed(const std::string& file) {
  std::ifstream in(file);
  std::string v;
  std::getline(in, v);
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

// mkdir -p under one hierarchy. In a v1 cpuset hierarchy a new cgroup starts with no
// cpus and no mems, and no process can join it until they are filled in: each new
// level gets its parent's.
Result<std::string> make_cgroup_dirs(const detail::CgroupMount& m, const std::string& path, bool cpuset_v1) {
  std::string dir = m.mount_point;
  for (const auto& e : path_elements(path)) {
    std::string parent = dir;
    dir += "/" + e;
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return error(Code::kInternal, "creating cgroup {}: {}", dir, std::strerror(errno));
    }
    if (!cpuset_v1) continue;
    for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
      if (!read_trimmed(dir + "/" + f).empty()) continue;
      CRIO_RETURN_IF_ERROR(write_cgroup_file(dir, f, read_trimmed(parent + "/" + f)));
    }
  }
  return dir;
}

bool has(const detail::CgroupMount& m, const char* controller) {
  return std::find(m.controllers.begin(), m.controllers.end(), controller) != m.controllers.end();
}

Status apply_cpu_v1(const detail::CgroupMount& m, const std::string& dir, const CpuResources& cpu) {
  if (has(m, "cpuset") && !cpu.cpus.empty()) CRIO_RETURN_IF_ERROR(write_cgroup_file(dir, "cpuset.cpus", cpu.cpus));
  if (has(m, "cpuset") && !cpu.mems.empty()) CRIO_RETURN_IF_ERROR(write_cgroup_file(dir, "cpuset.mems", cpu.mems));
  if (!has(m, "cpu")) return ok_status();
  if (cpu.shares && *cpu.shares > 0) {
    CRIO_RETURN_IF_ERROR(write_cgroup_file(dir, "cpu.shares", std::to_string(*cpu.shares)));
  }
  if (cpu.period && *cpu.period > 0) {
    CRIO_RETURN_IF_ERROR(write_cgroup_file(dir, "cpu.cfs_period_us", std::to_string(*cpu.period)));
  }
  if (cpu.quota && *cpu.quota != 0) {
    CRIO_RETURN_IF_ERROR(write_cgroup_file(dir, "cpu.cfs_quota_us", std::to_string(*cpu.quota)));
  }
  return ok_status();
}

Status apply_cpu_v2(const std::string& mount_point, const std::string& path, const std::string& dir,
                    const CpuResources& cpu) {
  bool any = !cpu.cpus.empty() || !cpu.mems.empty() || (cpu.shares && *cpu.shares > 0) || (cpu.quota && *cpu.quota) ||
             (cpu.period && *cpu.period);
  if (!any) return ok_status();
  // The controllers must be enabled on every level above for the files to exist.
  std::string level = mount_point;
  for (const auto& e : path_elements(path)) {
    CRIO_RETURN_IF_ERROR(write_cgroup_file(level, "cgroup.subtree_control", "+cpu +cpuset"));
    level += "/" + e;
  }
  if (!cpu.cpus.empty()) CRIO_RETURN_IF_ERROR(write_cgroup_file(dir, "cpuset.cpus", cpu.cpus));
  if (!cpu.mems.empty()) CRIO_RETURN_IF_ERROR(write_cgroup_file(dir, "cpuset.mems", cpu.mems));
  if (cpu.shares && *cpu.shares > 0) {
    // The conversion runc and crun use for cpu.shares → cpu.weight.
    uint64_t weight = 1 + ((std::max<uint64_t>(*cpu.shares, 2) - 2) * 9999) / 262142;
    CRIO_RETURN_IF_ERROR(write_cgroup_file(dir, "cpu.weight", std::to_string(weight)));
  }
  if ((cpu.quota && *cpu.quota) || (cpu.period && *cpu.period)) {
    std::string quota = cpu.quota && *cpu.quota > 0 ? std::to_string(*cpu.quota) : "max";
    uint64_t period = cpu.period && *cpu.period ? *cpu.period : 100000;
    CRIO_RETURN_IF_ERROR(write_cgroup_file(dir, "cpu.max", fmt::format("{} {}", quota, period)));
  }
  return ok_status();
}

}  // namespace

Status move_to_cgroup(pid_t pid, const std::string& path) { return move_to_cgroup(pid, path, CpuResources{}); }

Status move_to_cgroup(pid_t pid, const std::string& path, const CpuResources& cpu) {
  auto mounts = detail::cgroup_mounts();
  bool v2only = detail::unified_only(mounts);
  for (const auto& m : mounts) {
    // In hybrid mode the v2 tree carries no controllers of ours; leave it alone.
    if (m.v2 != v2only) continue;
    bool cpuset_v1 = !m.v2 && has(m, "cpuset");
    CRIO_ASSIGN_OR_RETURN(std::string dir, make_cgroup_dirs(m, path, cpuset_v1));
    Status applied = m.v2 ? apply_cpu_v2(m.mount_point, path, dir, cpu) : apply_cpu_v1(m, dir, cpu);
    CRIO_RETURN_IF_ERROR(applied.wrap("cgroup " + path));
    CRIO_RETURN_IF_ERROR(write_cgroup_file(dir, "cgroup.procs", std::to_string(pid))
                             .wrap(fmt::format("moving process {} into cgroup {}", pid, path)));
  }
  return ok_status();
}

Status create_cgroup(const std::string& path) {
  auto mounts = detail::cgroup_mounts();
  bool v2only = detail::unified_only(mounts);
  for (const auto& m : mounts) {
    if (m.v2 != v2only) continue;
    bool cpuset_v1 = !m.v2 && has(m, "cpuset");
    CRIO_ASSIGN_OR_RETURN(std::string dir, make_cgroup_dirs(m, path, cpuset_v1));
    if (cpuset_v1) CRIO_RETURN_IF_ERROR(write_cgroup_file(dir, "cpuset.sched_load_balance", "0"));
  }
  return ok_status();
}

Status remove_cgroup(const std::string& path) {
  if (path_elements(path).empty()) return error(Code::kInvalidArgument, "refusing to remove the root cgroup");
  auto mounts = detail::cgroup_mounts();
  bool v2only = detail::unified_only(mounts);
  for (const auto& m : mounts) {
    if (m.v2 != v2only) continue;
    std::string dir = m.mount_point + "/";
    for (const auto& e : path_elements(path)) dir += e + "/";
    dir.pop_back();
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) {
      return error(Code::kInternal, "removing cgroup {}: {}", dir, std::strerror(errno));
    }
  }
  return ok_status();
}

}  // namespace crio::oci
