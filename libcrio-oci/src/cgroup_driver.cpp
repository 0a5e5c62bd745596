#include <crio/oci/cgroup_driver.hpp>

#include <crio/core/config.hpp>
#include <crio/core/process.hpp>

#include "cgroup_internal.hpp"

#include <csignal>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <unistd.h>

namespace crio::oci {

namespace {

constexpr std::string_view kSliceSuffix = ".slice";
constexpr const char* kDefaultSystemdParent = "system.slice";

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string last_element(std::string path) {
  while (!path.empty() && path.back() == '/') path.pop_back();
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "0-2,5" → the bytes of systemd's CPU/NUMA-node bitmask (bit n of byte n/8).
Result<std::vector<uint8_t>> cpu_bits(const std::string& list, std::string_view what) {
  std::vector<uint8_t> bits;
  std::istringstream in(list);
  std::string range;
  auto bad = [&] { return error(Code::kInvalidArgument, "{} \"{}\" is not a list of ranges like 0-2,5", what, list); };
  while (std::getline(in, range, ',')) {
    if (range.empty()) return bad();
    unsigned long lo = 0, hi = 0;
    try {
      size_t used = 0;
      auto dash = range.find('-');
      lo = std::stoul(range.substr(0, dash), &used);
      if (used != (dash == std::string::npos ? range.size() : dash)) return bad();
      hi = lo;
      if (dash != std::string::npos) {
        hi = std::stoul(range.substr(dash + 1), &used);
        if (used != range.size() - dash - 1) return bad();
      }
    } catch (...) {
      return bad();
    }
    if (hi < lo || hi > 8191) return bad();
    if (bits.size() < hi / 8 + 1) bits.resize(hi / 8 + 1, 0);
    for (unsigned long b = lo; b <= hi; ++b) bits[b / 8] |= static_cast<uint8_t>(1u << (b % 8));
  }
  return bits;
}

}  // namespace

Result<std::string> expand_slice(const std::string& slice) {
  auto invalid = [&](std::string_view why) {
    return error(Code::kInvalidArgument, "\"{}\" is not a systemd slice: {}", slice, why);
  };
  if (!ends_with(slice, kSliceSuffix)) return invalid("it does not end in .slice");
  if (slice.find('/') != std::string::npos) return invalid("it contains a \"/\"");
  std::string name = slice.substr(0, slice.size() - kSliceSuffix.size());
  if (name == "-") return std::string("/");  // the root slice
  if (name.empty()) return invalid("its name is empty");
  std::string path, prefix;
  std::istringstream in(name);
  std::string part;
  size_t parts = 0;
  while (std::getline(in, part, '-')) {
    // Each dash starts a level below; an empty level ("a--b", "-a", "a-") is invalid.
    if (part.empty()) return invalid("a \"-\" starts, ends or doubles in its name");
    prefix += (parts++ ? "-" : "") + part;
    path += "/" + prefix + std::string(kSliceSuffix);
  }
  if (name.back() == '-') return invalid("a \"-\" starts, ends or doubles in its name");
  return path;
}

Result<CgroupDriver> CgroupDriver::from_name(std::string_view name) {
  if (name == "cgroupfs") return CgroupDriver(Kind::kCgroupfs);
  if (name == "systemd") return CgroupDriver(Kind::kSystemd);
  return error(Code::kInvalidArgument, "cgroup manager \"{}\" is not one of cgroupfs, systemd", name);
}

CgroupDriver CgroupDriver::of(const core::Config& config) {
  return CgroupDriver(config.cgroup_manager == "systemd" ? Kind::kSystemd : Kind::kCgroupfs);
}

Result<std::string> CgroupDriver::pod_parent(const std::string& pod, const std::string& parent) const {
  if (!systemd() || parent.empty()) return parent;
  std::string slice = last_element(parent);
  if (!ends_with(slice, kSliceSuffix)) {
    return error(Code::kInvalidArgument,
                 "pod sandbox {}: cgroup parent \"{}\" is not a systemd slice (NAME.slice), which the systemd cgroup "
                 "manager needs",
                 pod, parent);
  }
  auto expanded = expand_slice(slice);
  if (!expanded.ok()) return expanded.status().wrap("pod sandbox " + pod + ": cgroup parent");
  return slice;
}

std::string CgroupDriver::cgroups_path(const std::string& parent, const std::string& id) const {
  if (systemd()) return (parent.empty() ? kDefaultSystemdParent : parent) + ":crio:" + id;
  return cgroupfs_path(parent.empty() ? "/crio" : parent, id);
}

Result<std::string> CgroupDriver::container_cgroup(const std::string& parent, const std::string& id) const {
  if (!systemd()) return cgroups_path(parent, id);
  auto slice = expand_slice(parent.empty() ? std::string(kDefaultSystemdParent) : parent);
  if (!slice.ok()) return slice.status();
  std::string dir = *slice == "/" ? std::string() : *slice;
  return dir + "/crio-" + id + ".scope";
}

Result<std::string> CgroupDriver::dropped_infra_cgroup(const std::string& parent, const std::string& pod_id) const {
  if (!systemd()) return cgroupfs_path(parent, pod_id);
  if (parent.empty()) return std::string();
  CRIO_ASSIGN_OR_RETURN(std::string slice, expand_slice(parent));
  return (slice == "/" ? std::string() : slice) + "/crio-" + pod_id;
}

std::string CgroupDriver::check_monitor_cgroup(const std::string& monitor_cgroup) const {
  if (monitor_cgroup.empty() || monitor_cgroup == "pod") return {};
  if (!systemd()) {
    return fmt::format("\"{}\" is a systemd slice, which needs cgroup_manager \"systemd\"; with cgroupfs use \"pod\"",
                       monitor_cgroup);
  }
  if (!ends_with(monitor_cgroup, kSliceSuffix)) {
    return fmt::format("\"{}\" is neither \"pod\" nor a systemd slice (NAME.slice)", monitor_cgroup);
  }
  auto expanded = expand_slice(monitor_cgroup);
  return expanded.ok() ? std::string() : expanded.status().message();
}

Result<ConmonCgroup> CgroupDriver::conmon_cgroup(const std::string& monitor_cgroup, const std::string& parent,
                                                 const std::string& id) const {
  if (std::string why = check_monitor_cgroup(monitor_cgroup); !why.empty()) {
    return error(Code::kInvalidArgument, "container {}: conmon cgroup {}", id, why);
  }
  ConmonCgroup c;
  if (!systemd()) {
    std::string p = parent;
    while (!p.empty() && p.back() == '/') p.pop_back();
    if (!p.empty() && p.front() != '/') p.insert(p.begin(), '/');
    c.cgroupfs_path = p + "/crio-conmon-" + id;
    return c;
  }
  c.scope = "crio-conmon-" + id + ".scope";
  c.slice = ends_with(monitor_cgroup, kSliceSuffix) ? monitor_cgroup : parent;
  return c;
}

std::vector<std::string> CgroupDriver::runtime_args() const {
  if (systemd()) return {"--systemd-cgroup"};
  return {};
}

std::vector<std::string> CgroupDriver::conmon_args() const {
  if (systemd()) return {"-s"};
  return {};
}

Result<CgroupStats> CgroupDriver::container_stats(const std::string& parent, const std::string& id,
                                                  pid_t pid) const {
  if (!systemd()) return cgroup_stats(pid);
  CRIO_ASSIGN_OR_RETURN(std::string path, container_cgroup(parent, id));
  return cgroup_stats_at(path);
}

std::vector<std::string> systemd_scope_command(pid_t pid, const ConmonCgroup& c, const CpuResources& cpu) {
  std::vector<std::string> props = {"PIDs", "au", "1", std::to_string(pid),
                                    "Delegate", "b", "true",
                                    "DefaultDependencies", "b", "false",
                                    "KillSignal", "i", std::to_string(SIGPIPE),
                                    "After", "as", "1", "crio.service"};
  auto add_bits = [&](const char* name, const std::string& list) {
    auto bits = cpu_bits(list, name);
    if (!bits.ok()) return;  // checked by move_to_systemd_scope before it runs the command
    props.insert(props.end(), {name, "ay", std::to_string(bits->size())});
    for (uint8_t b : *bits) props.push_back(std::to_string(b));
  };
  if (!cpu.cpus.empty()) add_bits("AllowedCPUs", cpu.cpus);
  if (!cpu.mems.empty()) add_bits("AllowedMemoryNodes", cpu.mems);
  if (cpu.shares && *cpu.shares > 0) {
    props.insert(props.end(), {"CPUShares", "t", std::to_string(*cpu.shares)});
  }
  if (cpu.quota && *cpu.quota > 0) {
    // systemd takes the quota per second of wall time; the period defaults to 100 ms.
    uint64_t period = cpu.period && *cpu.period > 0 ? *cpu.period : 100000;
    props.insert(props.end(), {"CPUQuotaPerSecUSec", "t",
                               std::to_string(static_cast<uint64_t>(*cpu.quota) * 1000000 / period)});
  }
  if (cpu.period && *cpu.period > 0) {
    props.insert(props.end(), {"CPUQuotaPeriodUSec", "t", std::to_string(*cpu.period)});
  }
  if (!c.slice.empty()) props.insert(props.end(), {"Slice", "s", c.slice});

  size_t count = 0;
  for (size_t i = 0; i < props.size(); ++count) {
    // name, signature, then the value's words: arrays carry their length first.
    const std::string& sig = props[i + 1];
    size_t words = sig[0] == 'a' ? 1 + std::stoul(props[i + 2]) : 1;
    i += 2 + words;
  }
  std::vector<std::string> argv = {"busctl", "call", "--system", "--quiet",
                                   "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                   "org.freedesktop.systemd1.Manager", "StartTransientUnit",
                                   "ssa(sv)a(sa(sv))", c.scope, "fail", std::to_string(count)};
  argv.insert(argv.end(), props.begin(), props.end());
  argv.push_back("0");  // no auxiliary units
  return argv;
}

Status move_to_systemd_scope(pid_t pid, const ConmonCgroup& c, const CpuResources& cpu,
                             std::chrono::milliseconds timeout) {
  if (!cpu.cpus.empty()) CRIO_RETURN_IF_ERROR(cpu_bits(cpu.cpus, "cpuset").status());
  if (!cpu.mems.empty()) CRIO_RETURN_IF_ERROR(cpu_bits(cpu.mems, "memory nodes").status());
  process::Options opts;
  opts.timeout = timeout;
  CRIO_ASSIGN_OR_RETURN(process::Output out, process::run(systemd_scope_command(pid, c, cpu), opts));
  if (out.exit_code != 0) {
    return error(Code::kInternal, "making systemd scope {} for process {}: busctl exited with {}: {}", c.scope, pid,
                 out.exit_code, out.err);
  }
  // StartTransientUnit only queues a job; the process is in the scope once it ran.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    CRIO_ASSIGN_OR_RETURN(auto cgroups, detail::proc_cgroups(pid));
    for (const auto& [controller, path] : cgroups) {
      if ((controller.empty() || controller == "name=systemd") && ends_with(path, "/" + c.scope)) return ok_status();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return error(Code::kDeadlineExceeded, "process {} is not in systemd scope {} after {} ms", pid, c.scope,
                   timeout.count());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Result<CgroupStats> cgroup_stats_at(const std::string& path) {
  auto mounts = detail::cgroup_mounts();
  bool exists = false;
  for (const auto& m : mounts) exists = exists || ::access(detail::join_cgroup(m, path).c_str(), F_OK) == 0;
  if (!exists) return error(Code::kNotFound, "cgroup {}: in no mounted hierarchy", path);
  if (detail::unified_only(mounts)) {
    for (const auto& m : mounts) {
      if (m.v2) return detail::stats_v2(m, path);
    }
  }
  std::map<std::string, std::string> cg;
  for (const char* controller : {"cpuacct", "memory", "pids"}) cg[controller] = path;
  return detail::stats_v1(mounts, cg);
}

}  // namespace crio::oci
