#include <crio/oci/spec.hpp>

#include <crio/core/fs.hpp>

#include "seccomp_default.hpp"
#include "spec_json.hpp"

#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace crio::oci {

using nlohmann::json;

namespace {

constexpr const char* kOciVersion = "1.0.2-dev";

const std::vector<std::string>& known_namespaces() {
  static const std::vector<std::string> kinds = {"pid", "network", "ipc", "uts", "mount", "user", "cgroup", "time"};
  return kinds;
}

struct RlimitName {
  const char* name;
  int resource;
};

constexpr RlimitName kRlimits[] = {
    {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},       {"RLIMIT_FSIZE", RLIMIT_FSIZE},       {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},   {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

bool known_rlimit(const std::string& name) {
  return std::any_of(std::begin(kRlimits), std::end(kRlimits), [&](const RlimitName& r) { return name == r.name; });
}

json hook_json(const Hook& h) {
  json j = {{"path", h.path}};
  if (!h.args.empty()) j["args"] = h.args;
  if (!h.env.empty()) j["env"] = h.env;
  if (h.timeout) j["timeout"] = *h.timeout;
  return j;
}

json hooks_json(const Hooks& hooks) {
  json j = json::object();
  auto add = [&](const char* key, const std::vector<Hook>& list) {
    if (list.empty()) return;
    json arr = json::array();
    for (const auto& h : list) arr.push_back(hook_json(h));
    j[key] = std::move(arr);
  };
  add("prestart", hooks.prestart);
  add("createRuntime", hooks.create_runtime);
  add("createContainer", hooks.create_container);
  add("startContainer", hooks.start_container);
  add("poststart", hooks.poststart);
  add("poststop", hooks.poststop);
  return j;
}

}  // namespace

namespace detail {

json resources_to_json(const Resources& r) {
  json j = json::object();
  json cpu = json::object();
  if (r.cpu.shares) cpu["shares"] = *r.cpu.shares;
  if (r.cpu.quota) cpu["quota"] = *r.cpu.quota;
  if (r.cpu.period) cpu["period"] = *r.cpu.period;
  if (!r.cpu.cpus.empty()) cpu["cpus"] = r.cpu.cpus;
  if (!r.cpu.mems.empty()) cpu["mems"] = r.cpu.mems;
  if (!cpu.empty()) j["cpu"] = std::move(cpu);
  json mem = json::object();
  if (r.memory.limit) mem["limit"] = *r.memory.limit;
  if (r.memory.swap) mem["swap"] = *r.memory.swap;
  if (!mem.empty()) j["memory"] = std::move(mem);
  if (!r.hugepages.empty()) {
    json arr = json::array();
    for (const auto& h : r.hugepages) arr.push_back({{"pageSize", h.page_size}, {"limit", h.limit}});
    j["hugepageLimits"] = std::move(arr);
  }
  if (r.pids_limit) j["pids"] = {{"limit", *r.pids_limit}};
  if (!r.devices.empty()) {
    json arr = json::array();
    for (const auto& d : r.devices) {
      json e = {{"allow", d.allow}};
      if (!d.type.empty()) e["type"] = d.type;
      if (d.major) e["major"] = *d.major;
      if (d.minor) e["minor"] = *d.minor;
      if (!d.access.empty()) e["access"] = d.access;
      arr.push_back(std::move(e));
    }
    j["devices"] = std::move(arr);
  }
  if (!r.unified.empty()) j["unified"] = r.unified;
  return j;
}

}  // namespace detail

namespace {

Result<json> seccomp_json(const Spec& spec) {
  switch (spec.seccomp.kind) {
    case Seccomp::Kind::kUnconfined:
      return json(nullptr);
    case Seccomp::Kind::kRuntimeDefault:
      return detail::runtime_default_seccomp(spec.process.capabilities.effective, spec.seccomp.native_arch_only);
    case Seccomp::Kind::kLocalhost: {
      const std::string& path = spec.seccomp.localhost_path;
      if (path.empty() || path[0] != '/') {
        // Only an absolute host path names a profile: a relative one is never found.
        return error(Code::kInvalidArgument,
                     "seccomp profile \"{}\": no such file or directory (a Localhost profile is an absolute path)",
                     path);
      }
      auto text = fs::read_file(path);
      if (!text.ok()) {
        return error(Code::kInvalidArgument, "seccomp profile {}: {}", path, text.status().message());
      }
      json profile = json::parse(*text, nullptr, false);
      if (profile.is_discarded() || !profile.is_object() || !profile.contains("defaultAction")) {
        return error(Code::kInvalidArgument, "seccomp profile {}: not a JSON seccomp profile (no defaultAction)", path);
      }
      return profile;
    }
  }
  return json(nullptr);
}

}  // namespace

Capabilities Capabilities::of(const std::vector<std::string>& caps) {
  Capabilities c;
  c.bounding = caps;
  c.effective = caps;
  c.permitted = caps;
  return c;
}

Mount bind_mount(const std::string& source, const std::string& destination, bool readonly, Propagation propagation,
                 bool recursive) {
  Mount m{destination, "bind", source, {recursive ? "rbind" : "bind"}};
  if (readonly) m.options.push_back("ro");
  const char* prop = "private";
  if (propagation == Propagation::kSlave) prop = "slave";
  if (propagation == Propagation::kShared) prop = "shared";
  m.options.push_back(std::string(recursive ? "r" : "") + prop);
  return m;
}

std::vector<std::string> default_capabilities() {
  return {"CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER", "CAP_SETGID",
          "CAP_SETUID", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_KILL"};
}

std::vector<Mount> default_mounts() {
  return {
      {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
      {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {"/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
      {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
      {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
      {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
      {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}},
  };
}

std::vector<std::string> default_masked_paths() {
  return {"/proc/acpi",        "/proc/kcore",     "/proc/keys",        "/proc/latency_stats",
          "/proc/timer_list",  "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
          "/proc/interrupts",  "/sys/firmware",   "/sys/dev/block"};
}

std::vector<std::string> default_readonly_paths() {
  return {"/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
}

std::vector<DeviceRule> default_device_rules() {
  return {
      {false, "", std::nullopt, std::nullopt, "rwm"},
      {true, "c", 1, 3, "rwm"},     // null
      {true, "c", 1, 5, "rwm"},     // zero
      {true, "c", 1, 7, "rwm"},     // full
      {true, "c", 1, 8, "rwm"},     // random
      {true, "c", 1, 9, "rwm"},     // urandom
      {true, "c", 5, 0, "rwm"},     // tty
      {true, "c", 5, 2, "rwm"},     // ptmx
      {true, "c", 136, std::nullopt, "rwm"},  // pts
  };
}

Spec default_spec(const std::vector<std::string>& args) {
  Spec s;
  s.process.args = args;
  s.process.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  s.process.capabilities = Capabilities::of(default_capabilities());
  s.mounts = default_mounts();
  s.masked_paths = default_masked_paths();
  s.readonly_paths = default_readonly_paths();
  s.resources.devices = default_device_rules();
  for (const char* t : {"pid", "ipc", "uts", "mount", "network"}) s.namespaces.push_back({t, ""});
  return s;
}

std::string cgroupfs_path(const std::string& parent, const std::string& id) {
  std::string p = parent;
  while (!p.empty() && p.back() == '/') p.pop_back();
  if (p.empty() || p[0] != '/') p.insert(p.begin(), '/');
  if (p == "/") return "/crio-" + id;
  return p + "/crio-" + id;
}

void set_namespace(Spec& spec, const std::string& type, const std::string& path) {
  for (auto& ns : spec.namespaces) {
    if (ns.type == type) {
      ns.path = path;
      return;
    }
  }
  spec.namespaces.push_back({type, path});
}

void remove_namespace(Spec& spec, const std::string& type) {
  std::erase_if(spec.namespaces, [&](const Namespace& ns) { return ns.type == type; });
}

HostLimits host_limits() {
  HostLimits h;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) == 0) {
      uint64_t eff = std::stoull(line.substr(7), nullptr, 16);
      h.has_sys_resource = (eff >> 24) & 1;  // CAP_SYS_RESOURCE
    }
  }
  std::ifstream oom("/proc/self/oom_score_adj");
  oom >> h.oom_score_adj;
  for (const auto& r : kRlimits) {
    struct rlimit lim {};
    if (::getrlimit(r.resource, &lim) == 0) h.hard[r.name] = lim.rlim_max;
  }
  return h;
}

void clamp_to_host(Spec& spec, const HostLimits& limits) {
  if (limits.has_sys_resource) return;
  if (spec.process.oom_score_adj && *spec.process.oom_score_adj < limits.oom_score_adj) {
    spec.process.oom_score_adj = limits.oom_score_adj;
  }
  for (auto& r : spec.process.rlimits) {
    auto it = limits.hard.find(r.type);
    if (it == limits.hard.end() || it->second == RLIM_INFINITY) continue;
    r.hard = std::min<uint64_t>(r.hard, it->second);
    r.soft = std::min(r.soft, r.hard);
  }
}

Result<std::string> spec_to_json(const Spec& spec) {
  const Process& p = spec.process;
  if (p.args.empty()) return error(Code::kInvalidArgument, "OCI spec: process.args is empty");
  if (p.cwd.empty() || p.cwd[0] != '/') {
    return error(Code::kInvalidArgument, "OCI spec: process.cwd \"{}\" is not absolute", p.cwd);
  }
  if (spec.root_path.empty()) return error(Code::kInvalidArgument, "OCI spec: root.path is empty");

  json user = {{"uid", p.user.uid}, {"gid", p.user.gid}};
  if (!p.user.additional_gids.empty()) user["additionalGids"] = p.user.additional_gids;
  if (p.user.umask) user["umask"] = *p.user.umask;

  json process = {{"terminal", p.terminal}, {"user", std::move(user)}, {"args", p.args},
                  {"env", p.env},           {"cwd", p.cwd},           {"noNewPrivileges", p.no_new_privileges}};
  json caps = json::object();
  auto add_caps = [&](const char* key, const std::vector<std::string>& list) {
    for (const auto& c : list) {
      if (c.rfind("CAP_", 0) != 0) return false;
    }
    caps[key] = list;
    return true;
  };
  if (!add_caps("bounding", p.capabilities.bounding) || !add_caps("effective", p.capabilities.effective) ||
      !add_caps("permitted", p.capabilities.permitted) || !add_caps("inheritable", p.capabilities.inheritable) ||
      !add_caps("ambient", p.capabilities.ambient)) {
    return error(Code::kInvalidArgument, "OCI spec: capability names must start with CAP_");
  }
  process["capabilities"] = std::move(caps);
  if (!p.rlimits.empty()) {
    json arr = json::array();
    for (const auto& r : p.rlimits) {
      if (!known_rlimit(r.type)) return error(Code::kInvalidArgument, "OCI spec: unknown rlimit \"{}\"", r.type);
      if (r.soft > r.hard) {
        return error(Code::kInvalidArgument, "OCI spec: rlimit {} soft {} is above hard {}", r.type, r.soft, r.hard);
      }
      arr.push_back({{"type", r.type}, {"hard", r.hard}, {"soft", r.soft}});
    }
    process["rlimits"] = std::move(arr);
  }
  if (p.oom_score_adj) {
    if (*p.oom_score_adj < -1000 || *p.oom_score_adj > 1000) {
      return error(Code::kInvalidArgument, "OCI spec: oomScoreAdj {} is outside [-1000, 1000]", *p.oom_score_adj);
    }
    process["oomScoreAdj"] = *p.oom_score_adj;
  }

  json j = {{"ociVersion", kOciVersion},
            {"process", std::move(process)},
            {"root", {{"path", spec.root_path}, {"readonly", spec.root_readonly}}}};
  if (!spec.hostname.empty()) j["hostname"] = spec.hostname;

  json mounts = json::array();
  for (const auto& m : spec.mounts) {
    if (m.destination.empty() || m.destination[0] != '/') {
      return error(Code::kInvalidArgument, "OCI spec: mount destination \"{}\" is not absolute", m.destination);
    }
    json e = {{"destination", m.destination}};
    if (!m.type.empty()) e["type"] = m.type;
    if (!m.source.empty()) e["source"] = m.source;
    if (!m.options.empty()) e["options"] = m.options;
    mounts.push_back(std::move(e));
  }
  j["mounts"] = std::move(mounts);

  json hooks = hooks_json(spec.hooks);
  for (const auto& [kind, list] : hooks.items()) {
    for (const auto& h : list) {
      std::string path = h["path"];
      if (path.empty() || path[0] != '/') {
        return error(Code::kInvalidArgument, "OCI spec: {} hook path \"{}\" is not absolute", kind, path);
      }
    }
  }
  if (!hooks.empty()) j["hooks"] = std::move(hooks);
  if (!spec.annotations.empty()) j["annotations"] = spec.annotations;

  json linux_ = json::object();
  json resources = detail::resources_to_json(spec.resources);
  if (!resources.empty()) linux_["resources"] = std::move(resources);
  if (!spec.cgroups_path.empty()) linux_["cgroupsPath"] = spec.cgroups_path;
  if (!spec.rootfs_propagation.empty()) linux_["rootfsPropagation"] = spec.rootfs_propagation;
  json namespaces = json::array();
  for (const auto& ns : spec.namespaces) {
    if (std::find(known_namespaces().begin(), known_namespaces().end(), ns.type) == known_namespaces().end()) {
      return error(Code::kInvalidArgument, "OCI spec: unknown namespace type \"{}\"", ns.type);
    }
    json e = {{"type", ns.type}};
    if (!ns.path.empty()) e["path"] = ns.path;
    namespaces.push_back(std::move(e));
  }
  linux_["namespaces"] = std::move(namespaces);
  if (!spec.devices.empty()) {
    json arr = json::array();
    for (const auto& d : spec.devices) {
      json e = {{"path", d.path}, {"type", d.type}, {"major", d.major}, {"minor", d.minor}};
      if (d.file_mode) e["fileMode"] = *d.file_mode;
      if (d.uid) e["uid"] = *d.uid;
      if (d.gid) e["gid"] = *d.gid;
      arr.push_back(std::move(e));
    }
    linux_["devices"] = std::move(arr);
  }
  CRIO_ASSIGN_OR_RETURN(json seccomp, seccomp_json(spec));
  if (!seccomp.is_null()) linux_["seccomp"] = std::move(seccomp);
  if (!spec.masked_paths.empty()) linux_["maskedPaths"] = spec.masked_paths;
  if (!spec.readonly_paths.empty()) linux_["readonlyPaths"] = spec.readonly_paths;
  if (!spec.sysctl.empty()) linux_["sysctl"] = spec.sysctl;
  j["linux"] = std::move(linux_);
  return j.dump(2);
}

Status write_bundle(const std::string& bundle_dir, const Spec& spec) {
  if (bundle_dir.empty() || bundle_dir[0] != '/') {
    return error(Code::kInvalidArgument, "bundle \"{}\": path is not absolute", bundle_dir);
  }
  Spec clamped = spec;
  clamp_to_host(clamped, host_limits());
  CRIO_ASSIGN_OR_RETURN(std::string text, spec_to_json(clamped));
  CRIO_RETURN_IF_ERROR(fs::make_dirs(bundle_dir, 0700).wrap("bundle " + bundle_dir));
  if (spec.root_path[0] != '/' && !fs::exists(bundle_dir + "/" + spec.root_path)) {
    return error(Code::kFailedPrecondition, "bundle {}: rootfs {} does not exist", bundle_dir, spec.root_path);
  }
  return fs::write_file_atomic(bundle_dir + "/config.json", text, 0600).wrap("bundle " + bundle_dir);
}

}  // namespace crio::oci
