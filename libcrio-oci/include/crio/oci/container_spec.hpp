#pragma once
// A Kubernetes container's OCI spec from plain types: the container request (what
// CreateContainer asks), the pod's context (its namespaces and files), the image's
// defaults (its config) and the configured defaults (crio.conf). The daemon fills
// these from CRI messages, a test or a tool by hand; nothing here needs a daemon.

#include <crio/core/status.hpp>
#include <crio/oci/cgroup_driver.hpp>
#include <crio/oci/export.hpp>
#include <crio/oci/spec.hpp>

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace crio::core {
struct Config;
}

namespace crio::oci {

class HookSet;

// CRI NamespaceMode: whose namespace a pod or container uses.
enum class NamespaceMode { kPod = 0, kContainer = 1, kNode = 2, kTarget = 3 };

struct ContainerMount {
  std::string container_path;
  std::string host_path;
  bool readonly = false;
  int propagation = 0;  // CRI MountPropagation: 0 private, 1 host-to-container, 2 bidirectional
};

struct SeccompProfile {
  enum class Kind { kDefault = 0, kRuntimeDefault = 1, kUnconfined = 2, kLocalhost = 3 };
  Kind kind = Kind::kDefault;  // kDefault: no profile named in the request
  std::string localhost_path;
};

// A host device given to the container (CRI Device).
struct DeviceRequest {
  std::string container_path;
  std::string host_path;            // a device node, or a directory of them
  std::string permissions = "rwm";  // cgroup access: r, w, m
};

// CRI LinuxContainerResources as CreateContainer and UpdateContainerResources give
// them (zero: not set).
struct ResourceRequest {
  int64_t cpu_period = 0;
  int64_t cpu_quota = 0;
  int64_t cpu_shares = 0;
  int64_t memory_limit = 0;
  int64_t memory_swap_limit = 0;
  std::optional<int64_t> oom_score_adj;
  std::string cpuset_cpus;
  std::string cpuset_mems;
  std::vector<HugepageLimit> hugepages;
  std::map<std::string, std::string> unified;  // cgroup v2 files
};

// What the host's cgroups can limit.
struct HostCgroups {
  bool v2 = false;           // cgroup v2 only
  bool memory_swap = false;  // memory.memsw.* (v1) or memory.swap.* (v2)
};
// This host's, detected once.
CRIO_OCI_EXPORT const HostCgroups& host_cgroups();

// The one mapping of requested resources to the spec's, for create and update alike:
// memory+swap is the swap limit when given, else the memory limit (no swap beyond the
// limit), when the host accounts swap; a swap limit below the memory limit and unified
// (cgroup v2) files on a cgroup v1 host are InvalidArgument naming `container`.
CRIO_OCI_EXPORT Result<Resources> container_resources(const ResourceRequest& request, const std::string& container,
                                                      const HostCgroups& host = host_cgroups());

// A CreateContainer request.
struct ContainerRequest {
  std::string name;
  uint32_t attempt = 0;
  std::string image;  // as the client named it
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::string working_dir;
  std::vector<std::pair<std::string, std::string>> envs;
  std::vector<ContainerMount> mounts;
  std::vector<DeviceRequest> devices;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string log_path;  // relative to the pod's log directory
  bool stdin_open = false;
  bool stdin_once = false;
  bool tty = false;

  // linux.resources, mapped as UpdateContainerResources maps them.
  ResourceRequest resources;

  // linux.security_context
  std::vector<std::string> add_capabilities, drop_capabilities;
  bool privileged = false;
  NamespaceMode pid_mode = NamespaceMode::kContainer;
  std::string target_id;  // with pid_mode kTarget: the container whose PID namespace to join
  std::optional<int64_t> run_as_user, run_as_group;
  std::string run_as_username;
  std::vector<int64_t> supplemental_groups;
  // supplemental_groups_policy Strict: only run_as_group and supplemental_groups, none
  // of the groups the image's /etc/group gives the user (Merge, the default, adds them).
  bool supplemental_groups_strict = false;
  bool readonly_rootfs = false;
  bool no_new_privs = false;
  std::vector<std::string> masked_paths, readonly_paths;
  bool masked_paths_set = false, readonly_paths_set = false;
  SeccompProfile seccomp;
};

// What the container takes from its pod.
struct PodContext {
  std::string id;
  std::string name;
  std::string pod_namespace;
  std::string hostname;
  std::string cgroup_parent;  // empty: /crio (cgroupfs) or system.slice (systemd)
  NamespaceMode pid = NamespaceMode::kPod;
  std::map<std::string, std::string> sysctls;
  std::map<std::string, std::string> annotations;
  // Namespaces to join; empty for the host's.
  std::string netns_path;
  std::string ipcns_path;
  std::string utsns_path;
  // Files bind-mounted into every container of the pod; empty for none.
  std::string hosts_path;
  std::string resolv_path;
  std::string hostname_path;
  std::string shm_path;
  std::string containerenv_path;  // /run/.containerenv, created empty when missing
  // From the pod's runtime handler: the annotations it lets act (prefixes, as
  // allowed_annotations), and whether privileged containers go without host devices.
  std::vector<std::string> allowed_annotations;
  bool privileged_without_host_devices = false;
};

// Annotations that change a container only when the pod's runtime handler allows them.
inline constexpr const char* kDevicesAnnotation = "io.kubernetes.cri-o.Devices";
inline constexpr const char* kUmaskAnnotation = "io.kubernetes.cri-o.umask";

// Whether the handler lets `annotation` act (an allowed_annotations entry is a prefix).
CRIO_OCI_EXPORT bool annotation_allowed(const std::vector<std::string>& allowed, const std::string& annotation);

// What the container takes from its image's config.
struct ImageDefaults {
  std::string user;  // "name", "uid", "name:group", "uid:gid"
  std::vector<std::string> env;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string working_dir;
  std::string stop_signal;
  std::vector<std::string> volumes;
};

// What the node's configuration adds to every container.
struct SpecDefaults {
  std::vector<std::string> capabilities;  // without "CAP_"
  bool add_inheritable_capabilities = false;  // the container's capabilities also inheritable
  std::vector<std::string> env;           // "KEY=value"
  std::vector<std::string> ulimits;       // "nofile=1024:2048"
  std::vector<std::string> absent_mount_sources_to_reject;
  std::string seccomp_profile;                  // what RuntimeDefault stands for; empty: the built-in one
  bool seccomp_use_default_when_empty = true;   // no profile named: RuntimeDefault, else Unconfined
  int64_t pids_limit = -1;                      // <= 0: none
  std::vector<std::string> additional_devices;  // "/dev/src[:/dev/dst][:rwm]" for every container
  std::vector<std::string> allowed_devices;     // what the Devices annotation may name
  bool read_only = false;                       // every rootfs read-only, tmpfs on /run, /tmp, /var/tmp
  std::string bind_mount_prefix;                // prepended to the host path of the request's mounts
  std::string image_volumes = "mkdir";          // the image's volumes: "mkdir", "bind" or "ignore"
  // "host:container" lines for every container; read at each create (a missing file has
  // none; an unreadable one or a bad line is InvalidArgument naming it). Each source is
  // copied into the container's run directory and the copy bind-mounted, as CRI-O does.
  std::string default_mounts_file;
  CgroupDriver cgroup_driver;  // the container's cgroupsPath
};

// crio.conf's values for SpecDefaults.
CRIO_OCI_EXPORT SpecDefaults spec_defaults(const core::Config& config);

// Where the spec goes.
struct SpecTarget {
  std::string id;           // the container's ID
  std::string rootfs;       // its mounted root filesystem
  pid_t target_pid = 0;     // the target container's init, with pid_mode kTarget
  std::string volumes_dir;  // where image_volumes = "bind" makes the volumes' host directories
  // The container's private directory on the host: the copies of default_mounts_file's
  // sources (at their container path under it) and the /etc/passwd and /etc/group with
  // an entry for a uid or gid the image lacks go there.
  std::string run_dir;
};

// The whole spec. Creates missing host paths of bind mounts (as directories) and
// refuses those in absent_mount_sources_to_reject; matching hooks of `hooks` are added.
// InvalidArgument naming the container for a request that cannot run.
CRIO_OCI_EXPORT Result<Spec> build_container_spec(const ContainerRequest& request, const PodContext& pod,
                                                  const ImageDefaults& image, const SpecDefaults& defaults,
                                                  const SpecTarget& target, const HookSet* hooks = nullptr);

// The process's argv from the request's command/args and the image's entrypoint/cmd,
// as Kubernetes defines it; InvalidArgument when nothing is left to run.
CRIO_OCI_EXPORT Result<std::vector<std::string>> container_argv(const ContainerRequest& request,
                                                                const ImageDefaults& image);

// "SIGINT", "INT", "2" → 2; InvalidArgument otherwise. Empty → SIGTERM.
CRIO_OCI_EXPORT Result<int> parse_signal(const std::string& name);

// The user the process runs as, resolved in the rootfs's /etc/passwd and /etc/group
// (read without following symlinks out of the rootfs). `home` gets the user's home.
CRIO_OCI_EXPORT Result<User> resolve_user(const std::string& rootfs, const ContainerRequest& request,
                                          const ImageDefaults& image, std::string* home);

}  // namespace crio::oci
