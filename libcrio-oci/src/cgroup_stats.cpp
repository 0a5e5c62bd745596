#include <crio/oci/cgroup_stats.hpp>

#include <crio/core/fs.hpp>

#include "cgroup_internal.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

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

Status move_to_cgroup(pid_t pid, const std::string& path) {
  auto mounts = detail::cgroup_mounts();
  bool v2only = detail::unified_only(mounts);
  for (const auto& m : mounts) {
    // In hybrid mode the v2 tree carries no controllers of ours; leave it alone. A new
    // v1 cpuset cgroup has no cpus until someone fills them in, and joining it fails:
    // the process keeps its cpuset.
    if (m.v2 != v2only) continue;
    if (std::find(m.controllers.begin(), m.controllers.end(), "cpuset") != m.controllers.end()) continue;
    std::string dir = m.mount_point + (path.empty() || path[0] != '/' ? "/" : "") + path;
    CRIO_RETURN_IF_ERROR(fs::make_dirs(dir, 0755).wrap("cgroup " + path));
    std::ofstream procs(dir + "/cgroup.procs");
    procs << pid << '\n';
    procs.flush();
    if (!procs) return error(Code::kInternal, "moving process {} into {}: write failed", pid, dir);
  }
  return ok_status();
}

}  // namespace crio::oci
