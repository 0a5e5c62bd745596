#pragma once
// An OCI runtime spec (a bundle's config.json) built from plain C++ types, so the
// daemon fills it from the CRI request and the image config, and a test fills it by
// hand. Only what runc and crun need on a Linux host is modelled; fields that are
// empty or unset are left out of the JSON.

#include <crio/core/status.hpp>
#include <crio/oci/export.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace crio::oci {

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
  std::optional<uint32_t> umask;
};

// Capability names carry the "CAP_" prefix ("CAP_CHOWN").
struct Capabilities {
  std::vector<std::string> bounding;
  std::vector<std::string> effective;
  std::vector<std::string> permitted;
  std::vector<std::string> inheritable;
  std::vector<std::string> ambient;

  // The set a container runs with: bounding = effective = permitted = `caps`,
  // nothing inheritable or ambient (as CRI-O does for a root or non-root user).
  CRIO_OCI_EXPORT static Capabilities of(const std::vector<std::string>& caps);
};

// "RLIMIT_NOFILE" etc.
struct Rlimit {
  std::string type;
  uint64_t hard = 0;
  uint64_t soft = 0;
};

struct Process {
  std::vector<std::string> args;
  std::vector<std::string> env;  // "KEY=value"
  std::string cwd = "/";
  User user;
  bool terminal = false;
  Capabilities capabilities;
  bool no_new_privileges = true;
  std::vector<Rlimit> rlimits;
  std::optional<int> oom_score_adj;
};

struct Mount {
  std::string destination;
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

enum class Propagation { kPrivate, kSlave, kShared };

// A bind mount of a host path: rbind (or bind), ro when asked, and the propagation as
// "rprivate"/"rslave"/"rshared" ("private"/... when not recursive).
CRIO_OCI_EXPORT Mount bind_mount(const std::string& source, const std::string& destination, bool readonly = false,
                                 Propagation propagation = Propagation::kPrivate, bool recursive = true);

// "pid", "network", "ipc", "uts", "mount", "user", "cgroup". With `path` set, the
// container joins that namespace (a pod's pinned netns file, /proc/PID/ns/...).
struct Namespace {
  std::string type;
  std::string path;
};

struct Seccomp {
  enum class Kind { kUnconfined, kRuntimeDefault, kLocalhost };
  Kind kind = Kind::kRuntimeDefault;
  std::string localhost_path;  // a JSON profile on the host, for kLocalhost
  // RuntimeDefault lists only the native architecture (x86_64) instead of adding the
  // compat ones (x86, x32): 32-bit binaries then get ENOSYS, and the runtime compiles a
  // third of the filter (≈15 ms less per container create here).
  bool native_arch_only = false;
};

struct CpuResources {
  std::optional<uint64_t> shares;
  std::optional<int64_t> quota;
  std::optional<uint64_t> period;
  std::string cpus;  // cpuset, e.g. "0-1"
  std::string mems;
};

struct MemoryResources {
  std::optional<int64_t> limit;  // bytes
  std::optional<int64_t> swap;   // memory + swap, bytes (-1 unlimited)
};

struct HugepageLimit {
  std::string page_size;  // "2MB", "1GB"
  uint64_t limit = 0;
};

// One entry of linux.resources.devices (the cgroup device allow-list).
struct DeviceRule {
  bool allow = false;
  std::string type;  // "a", "c", "b"
  std::optional<int64_t> major;
  std::optional<int64_t> minor;
  std::string access;  // "rwm"
};

struct Resources {
  CpuResources cpu;
  MemoryResources memory;
  std::vector<HugepageLimit> hugepages;
  std::optional<int64_t> pids_limit;
  std::vector<DeviceRule> devices;
  std::map<std::string, std::string> unified;  // cgroup v2 files
};

// A device node created in the container's /dev.
struct Device {
  std::string path;
  std::string type;  // "c", "b", "u", "p"
  int64_t major = 0;
  int64_t minor = 0;
  std::optional<uint32_t> file_mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
};

struct Hook {
  std::string path;
  std::vector<std::string> args;  // args[0] is argv[0]
  std::vector<std::string> env;
  std::optional<int> timeout;  // seconds
};

struct Hooks {
  std::vector<Hook> prestart;
  std::vector<Hook> create_runtime;
  std::vector<Hook> create_container;
  std::vector<Hook> start_container;
  std::vector<Hook> poststart;
  std::vector<Hook> poststop;
};

struct Spec {
  Process process;
  std::string root_path = "rootfs";  // absolute, or relative to the bundle
  bool root_readonly = false;
  std::string hostname;
  std::vector<Mount> mounts;
  std::vector<Namespace> namespaces;
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  Seccomp seccomp;
  Resources resources;
  std::string cgroups_path;  // cgroupfs: "/parent/crio-<id>"
  // "rshared" lets mounts made inside the container reach a bidirectional bind's
  // source on the host; empty leaves the runtime's default (rslave/rprivate).
  std::string rootfs_propagation;
  std::map<std::string, std::string> sysctl;
  std::vector<Device> devices;
  std::map<std::string, std::string> annotations;
  Hooks hooks;
};

// CRI-O's defaults: capabilities, mounts, masked and read-only paths, devices.
CRIO_OCI_EXPORT std::vector<std::string> default_capabilities();
CRIO_OCI_EXPORT std::vector<Mount> default_mounts();
CRIO_OCI_EXPORT std::vector<std::string> default_masked_paths();
CRIO_OCI_EXPORT std::vector<std::string> default_readonly_paths();
// Deny everything, then allow the usual character devices (null, zero, full, tty,
// random, urandom, ptmx, pts).
CRIO_OCI_EXPORT std::vector<DeviceRule> default_device_rules();

// A spec ready to run `args`: default capabilities, mounts, masked/read-only paths,
// device rules, new pid/ipc/uts/mount/network namespaces, RuntimeDefault seccomp,
// PATH in the environment.
CRIO_OCI_EXPORT Spec default_spec(const std::vector<std::string>& args);

// The cgroupfs cgroupsPath for a container: "<parent>/crio-<id>", parent made absolute.
CRIO_OCI_EXPORT std::string cgroupfs_path(const std::string& parent, const std::string& id);

// Sets (or replaces) the namespace of `type`; an empty path means a new one.
CRIO_OCI_EXPORT void set_namespace(Spec& spec, const std::string& type, const std::string& path = "");
CRIO_OCI_EXPORT void remove_namespace(Spec& spec, const std::string& type);

// What this process may ask of the kernel without CAP_SYS_RESOURCE.
struct HostLimits {
  bool has_sys_resource = false;
  int oom_score_adj = 0;                    // our own value: the lowest a child may get
  std::map<std::string, uint64_t> hard;  // "RLIMIT_NOFILE" → our hard limit
};
CRIO_OCI_EXPORT HostLimits host_limits();

// Without CAP_SYS_RESOURCE a runtime cannot lower oom_score_adj below our own or raise
// an rlimit above our hard limit, and the container would fail to start: clamp both.
CRIO_OCI_EXPORT void clamp_to_host(Spec& spec, const HostLimits& limits);

// The config.json text. InvalidArgument for a spec no runtime would accept (no args,
// a relative mount destination, an unknown namespace type, a Localhost seccomp profile
// that is missing or not JSON).
CRIO_OCI_EXPORT Result<std::string> spec_to_json(const Spec& spec);

// The RuntimeDefault seccomp profile (linux.seccomp JSON) for a process whose
// effective capabilities are `caps`: syscalls guarded by a capability are allowed only
// with it.
CRIO_OCI_EXPORT std::string runtime_default_seccomp_json(const std::vector<std::string>& caps,
                                                         bool native_arch_only = false);

// Writes `<bundle>/config.json` atomically (creating the bundle directory), after
// clamp_to_host() with this host's limits. The rootfs itself is the caller's; a
// relative root_path must exist under the bundle.
CRIO_OCI_EXPORT Status write_bundle(const std::string& bundle_dir, const Spec& spec);

}  // namespace crio::oci
