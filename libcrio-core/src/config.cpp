#include <crio/core/config.hpp>

#include <crio/core/fs.hpp>

#include "config_checks.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <type_traits>
#include <variant>

namespace crio::core {
namespace {

namespace stdfs = std::filesystem;
using checks::IntCheck;
using checks::StrCheck;

std::string env_for_flag(const std::string& flag);

constexpr int64_t kDefaultGrpcMsgSize = 80 * 1024 * 1024;

// ---------------------------------------------------------------------------------
// The option table. One entry per option: where it lives in crio.conf, its command-line
// flag (crio(8) names; "name,x" adds the short form -x), the struct member, the value
// check and the help text. The TOML reader, the TOML writer, the flags and
// config_options() are all driven from here.

template <typename S>
using FieldPtr = std::variant<std::string S::*, bool S::*, int64_t S::*, std::vector<std::string> S::*>;

template <typename S>
struct Desc {
  const char* table;
  const char* key;
  const char* flag;  // "" when there is none
  FieldPtr<S> field;
  StrCheck str_check = nullptr;  // for strings and for each element of a list
  IntCheck int_check = nullptr;
  const char* help;
};

template <typename S>
Desc<S> opt(const char* table, const char* key, const char* flag, std::string S::*f, StrCheck c, const char* help) {
  return {table, key, flag, f, c, nullptr, help};
}
template <typename S>
Desc<S> opt(const char* table, const char* key, const char* flag, std::vector<std::string> S::*f, StrCheck c,
            const char* help) {
  return {table, key, flag, f, c, nullptr, help};
}
template <typename S>
Desc<S> opt(const char* table, const char* key, const char* flag, int64_t S::*f, IntCheck c, const char* help) {
  return {table, key, flag, f, nullptr, c, help};
}
template <typename S>
Desc<S> opt(const char* table, const char* key, const char* flag, bool S::*f, const char* help) {
  return {table, key, flag, f, nullptr, nullptr, help};
}

constexpr const char* kCrio = "crio";
constexpr const char* kApi = "crio.api";
constexpr const char* kRuntime = "crio.runtime";
constexpr const char* kImage = "crio.image";
constexpr const char* kNetwork = "crio.network";
constexpr const char* kMetrics = "crio.metrics";
constexpr const char* kStats = "crio.stats";
constexpr const char* kHandlers = "crio.runtime.runtimes";
constexpr const char* kWorkloads = "crio.runtime.workloads";

using namespace checks;  // NOLINT: the table reads better with bare check names

// An annotation a handler or a workload may allow: one of CRI-O's. Those crio does not
// act on are allowed with a warning at start-up, and a pod or container carrying one
// where it is allowed is refused (see annotation_implemented).
std::string allowed_annotation(const std::string& name) {
  if (name.empty()) return "must not be empty";
  const auto& known = known_allowed_annotations();
  if (std::find(known.begin(), known.end(), name) != known.end()) return {};
  return fmt::format("{} is not an annotation crio can allow", quote(name));
}

// Start-up warnings for the allowed annotations crio does not act on.
void warn_unimplemented_annotations(const Config& c, std::vector<std::string>& warnings) {
  auto warn = [&](const std::string& where, const std::vector<std::string>& allowed) {
    for (const auto& a : allowed) {
      if (annotation_implemented(a)) continue;
      warnings.push_back(fmt::format("{}.allowed_annotations: {} is allowed, but crio does not act on it: a pod or "
                                     "container that carries it is refused",
                                     where, quote(a)));
    }
  };
  for (const auto& [name, h] : c.runtimes) warn("crio.runtime.runtimes." + name, h.allowed_annotations);
  for (const auto& [name, w] : c.workloads) warn("crio.runtime.workloads." + name, w.allowed_annotations);
}

const std::vector<Desc<Config>>& options() {
  using C = Config;
  static const std::vector<Desc<Config>> table = {
      // [crio]
      opt(kCrio, "root", "root,r", &C::root, abs_path,
          "Directory where images, layers and container file systems are stored."),
      opt(kCrio, "runroot", "runroot", &C::runroot, abs_path,
          "Directory for the storage state that does not survive a reboot (mounts, locks)."),
      opt(kCrio, "imagestore", "imagestore", &C::imagestore, abs_path_or_empty,
          "Directory where images and their layers are stored instead of under root; containers' "
          "file systems stay under root. Overlay driver only. Empty: images live under root."),
      opt(kCrio, "storage_driver", "storage-driver,s", &C::storage_driver, checks::storage_driver,
          "Storage driver for images and containers: overlay or vfs."),
      opt(kCrio, "storage_option", "storage-opt", &C::storage_option, checks::storage_option,
          "Options passed to the storage driver: overlay.mountopt=OPT[,OPT...] or overlay.mount_program=PATH (vfs "
          "takes none); others are refused."),
      opt(kCrio, "log_dir", "log-dir", &C::log_dir, abs_path,
          "Directory for container logs when the kubelet does not name one."),
      opt(kCrio, "version_file", "version-file", &C::version_file, abs_path,
          "File recording the daemon version since boot; when it is missing after a reboot, "
          "containers left from before are wiped."),
      opt(kCrio, "version_file_persist", "version-file-persist", &C::version_file_persist, abs_path_or_empty,
          "File recording the daemon version across reboots; when the version changes, images are "
          "wiped. Empty disables the check."),
      opt(kCrio, "clean_shutdown_file", "clean-shutdown-file", &C::clean_shutdown_file, abs_path_or_empty,
          "File written on a clean shutdown; missing at start while its .supported companion exists, "
          "the last run crashed: internal_repair then checks the storage, and crio wipe after a reboot "
          "empties it."),
      opt(kCrio, "internal_wipe", "internal-wipe", &C::internal_wipe,
          "Wipe stale containers after a reboot and images after an upgrade when the daemon starts; "
          "false leaves it to `crio wipe`."),
      opt(kCrio, "internal_repair", "internal-repair", &C::internal_repair,
          "After an unclean shutdown, check the storage when the daemon starts and remove what is "
          "damaged (as `crio check --repair --force`); wipe it when that fails."),

      // [crio.api]
      opt(kApi, "listen", "listen", &C::listen, abs_path,
          "Unix socket on which the CRI gRPC API and the HTTP status API are served."),
      opt(kApi, "stream_address", "stream-address", &C::stream_address, non_empty,
          "IP address on which the exec/attach/port-forward streaming server listens."),
      opt(kApi, "stream_port", "stream-port", &C::stream_port, port_string,
          "Port of the streaming server; \"0\" picks a free port."),
      opt(kApi, "stream_enable_tls", "stream-enable-tls", &C::stream_enable_tls,
          "Serve the streaming server over TLS (needs stream_tls_cert and stream_tls_key)."),
      opt(kApi, "stream_idle_timeout", "stream-idle-timeout", &C::stream_idle_timeout, duration_or_empty,
          "How long an idle stream stays open, as a duration (\"4h\"); empty means no limit."),
      opt(kApi, "stream_tls_cert", "stream-tls-cert", &C::stream_tls_cert, abs_path_or_empty,
          "x509 certificate of the streaming server."),
      opt(kApi, "stream_tls_key", "stream-tls-key", &C::stream_tls_key, abs_path_or_empty,
          "Private key of the streaming server."),
      opt(kApi, "stream_tls_ca", "stream-tls-ca", &C::stream_tls_ca, abs_path_or_empty,
          "CA bundle used to verify client certificates of the streaming server."),
      opt(kApi, "grpc_max_send_msg_size", "grpc-max-send-msg-size", &C::grpc_max_send_msg_size, positive,
          "Largest gRPC message the daemon sends, in bytes (0 selects 83886080)."),
      opt(kApi, "grpc_max_recv_msg_size", "grpc-max-recv-msg-size", &C::grpc_max_recv_msg_size, positive,
          "Largest gRPC message the daemon accepts, in bytes (0 selects 83886080)."),

      // [crio.runtime]
      opt(kRuntime, "default_runtime", "default-runtime", &C::default_runtime, non_empty,
          "Runtime handler used when a pod names none; must be one of [crio.runtime.runtimes]."),
      opt(kRuntime, "conmon", "conmon", &C::conmon, abs_path_or_empty,
          "Path of conmon, the monitor process that holds each container. Deprecated: when set, it "
          "replaces the monitor_path of every oci runtime handler; a handler without one looks up "
          "conmon in $PATH."),
      opt(kRuntime, "conmon_cgroup", "conmon-cgroup", &C::conmon_cgroup, checks::conmon_cgroup,
          "Cgroup for conmon: \"pod\" puts it in the pod's cgroup; with systemd a NAME.slice may be given. "
          "Deprecated: when set, it replaces the monitor_cgroup of every oci runtime handler."),
      opt(kRuntime, "conmon_env", "conmon-env", &C::conmon_env, key_value,
          "Environment of conmon and of the runtime it starts, as KEY=VALUE. Deprecated: when not "
          "empty, it replaces the monitor_env of every oci runtime handler."),
      opt(kRuntime, "default_env", "default-env", &C::default_env, key_value,
          "Environment variables (KEY=VALUE) added to every container; the image and the pod spec "
          "override them."),
      opt(kRuntime, "default_ulimits", "default-ulimits", &C::default_ulimits, checks::ulimit,
          "Resource limits for every container, as name=soft:hard (\"nofile=1024:2048\"); unset limits "
          "are inherited from the daemon."),
      opt(kRuntime, "no_pivot", "no-pivot", &C::no_pivot,
          "Make the runtime move the root file system with MS_MOVE instead of pivot_root."),
      opt(kRuntime, "selinux", "selinux", &C::selinux, "Label containers with SELinux."),
      opt(kRuntime, "seccomp_use_default_when_empty", "seccomp-use-default-when-empty",
          &C::seccomp_use_default_when_empty,
          "A container that names no seccomp profile gets the default one (seccomp_profile, else the built-in "
          "RuntimeDefault); false runs it unconfined."),
      opt(kRuntime, "seccomp_profile", "seccomp-profile", &C::seccomp_profile, nullptr,
          "seccomp profile (JSON) used for RuntimeDefault; empty, or a file that is not on disk (as in CRI-O, "
          "with an info line), uses the built-in profile. Read at start-up and at each reload."),
      opt(kRuntime, "decryption_keys_path", "decryption-keys-path", &C::decryption_keys_path, nullptr,
          "Directory of the private keys (PEM or DER; RSA or EC) that decrypt encrypted image layers "
          "(ocicrypt's JWE protocol), read at every pull as CRI-O does; a directory that does not exist "
          "holds no keys. Reloadable."),
      opt(kRuntime, "apparmor_profile", "apparmor-profile", &C::apparmor_profile, nullptr,
          "AppArmor profile for containers that do not name one. Where the host has no AppArmor, "
          "AppArmor is disabled (as in CRI-O) and the daemon logs so at start-up; on a host with "
          "AppArmor, a profile other than \"\" or \"unconfined\" is refused."),
      opt(kRuntime, "cgroup_manager", "cgroup-manager", &C::cgroup_manager, checks::cgroup_manager,
          "How container cgroups are made: \"cgroupfs\", directly in /sys/fs/cgroup, or \"systemd\", as scopes in "
          "slices through systemd (start-up fails where PID 1 is not systemd)."),
      opt(kRuntime, "default_capabilities", "default-capabilities", &C::default_capabilities, capability,
          "Capabilities every container gets unless its security context drops them."),
      opt(kRuntime, "add_inheritable_capabilities", "add-inheritable-capabilities",
          &C::add_inheritable_capabilities,
          "Make a container's capabilities inheritable too (as before CVE-2022-27652 was fixed); off by default."),
      opt(kRuntime, "default_sysctls", "default-sysctls", &C::default_sysctls, checks::sysctl,
          "Sysctls (name=value) set in every pod."),
      opt(kRuntime, "additional_devices", "additional-devices", &C::additional_devices, device,
          "Host devices added to every container, as /dev/host[:/dev/container[:rwm]]."),
      opt(kRuntime, "allowed_devices", "allowed-devices", &C::allowed_devices, abs_path,
          "Host devices a pod may request with the io.kubernetes.cri-o.Devices annotation."),
      opt(kRuntime, "hooks_dir", "hooks-dir", &C::hooks_dir, abs_path,
          "Directories of OCI hook definitions (*.json); later directories win. Missing ones are skipped."),
      opt(kRuntime, "default_mounts_file", "default-mounts-file", &C::default_mounts_file, abs_path_or_empty,
          "File listing SRC:DST bind mounts added to every container, one per line."),
      opt(kRuntime, "pids_limit", "pids-limit", &C::pids_limit, nullptr,
          "Most processes a container may have; zero or negative means no limit (the kubelet's "
          "pod-pids-limit is the better knob)."),
      opt(kRuntime, "log_size_max", "log-size-max", &C::log_size_max, log_size,
          "Largest container log file in bytes before it is truncated; negative means no limit, "
          "otherwise at least 8192."),
      opt(kRuntime, "log_to_journald", "log-journald", &C::log_to_journald, "Also send container output to journald."),
      opt(kRuntime, "container_exits_dir", "container-exits-dir", &C::container_exits_dir, abs_path,
          "Directory where conmon writes each container's exit code."),
      opt(kRuntime, "container_attach_socket_dir", "container-attach-socket-dir", &C::container_attach_socket_dir,
          abs_path, "Directory for the containers' attach sockets."),
      opt(kRuntime, "bind_mount_prefix", "bind-mount-prefix", &C::bind_mount_prefix, abs_path_or_empty,
          "Prefix added to the host side of every bind mount, for a daemon that itself runs in a "
          "container with the host's / mounted there."),
      opt(kRuntime, "read_only", "read-only", &C::read_only,
          "Run every unprivileged container with a read-only root file system."),
      opt(kRuntime, "log_level", "log-level,l", &C::log_level, checks::log_level,
          "Daemon log verbosity: fatal, panic, error, warn, info, debug or trace."),
      opt(kRuntime, "log_filter", "log-filter", &C::log_filter, checks::regex,
          "Only log messages matching this regular expression (\"request.*\" keeps the gRPC requests); "
          "reloaded on SIGHUP."),
      opt(kRuntime, "uid_mappings", "uid-mappings", &C::uid_mappings, id_mappings,
          "User namespace UID ranges for every container, as containerUID:hostUID:size[,...]."),
      opt(kRuntime, "gid_mappings", "gid-mappings", &C::gid_mappings, id_mappings,
          "User namespace GID ranges for every container, as containerGID:hostGID:size[,...]."),
      opt(kRuntime, "ctr_stop_timeout", "ctr-stop-timeout", &C::ctr_stop_timeout, non_negative,
          "How long, in seconds, StopContainer waits for a killed container to be gone before it fails "
          "(as CRI-O before 1.24); values below 30 are raised to 30."),
      opt(kRuntime, "drop_infra_ctr", "drop-infra-ctr", &C::drop_infra_ctr,
          "Create pods without an infra (pause) container when they do not share a PID namespace."),
      opt(kRuntime, "disable_hostport_mapping", "disable-hostport-mapping", &C::disable_hostport_mapping,
          "Do not map pods' host ports: crio then programs no iptables rules for them (CRI-O never hands "
          "them to the CNI plugins either)."),
      opt(kRuntime, "infra_ctr_cpuset", "infra-ctr-cpuset", &C::infra_ctr_cpuset, cpuset,
          "CPUs for infra containers, in Linux CPU list format; empty means all online CPUs."),
      opt(kRuntime, "namespaces_dir", "namespaces-dir", &C::namespaces_dir, abs_path,
          "Directory where pinned pod namespaces are bind-mounted."),
      opt(kRuntime, "pinns_path", "pinns-path", &C::pinns_path, abs_path_or_empty,
          "Path of the pinns helper that pins pod namespaces, run as CRI-O runs it; empty: crio pins them itself."),
      opt(kRuntime, "absent_mount_sources_to_reject", "absent-mount-sources-to-reject",
          &C::absent_mount_sources_to_reject, abs_path,
          "Host paths that make container creation fail when missing, instead of being created."),
      opt(kRuntime, "enable_pod_events", "enable-pod-events", &C::enable_pod_events,
          "Stream container events to GetContainerEvents clients (the kubelet's evented PLEG); when false, GetContainerEvents ends at once."),
      opt(kRuntime, "enable_criu_support", "enable-criu-support", &C::enable_criu_support,
          "Allow checkpoint and restore of containers with CRIU."),
      opt(kRuntime, "irqbalance_config_file", "irqbalance-config-file", &C::irqbalance_config_file, abs_path,
          "irqbalance's configuration file, whose IRQBALANCE_BANNED_CPUS the daemon restores at start-up "
          "(see irqbalance_config_restore_file)."),
      opt(kRuntime, "irqbalance_config_restore_file", "irqbalance-config-restore-file",
          &C::irqbalance_config_restore_file, checks::restore_file,
          "File keeping irqbalance's original banned CPU mask. At start-up after a reboot, it is created "
          "from irqbalance_config_file when missing, else its mask is written back there. \"disable\" "
          "turns the restore off."),

      // [crio.image]
      opt(kImage, "default_transport", "default-transport", &C::default_transport, non_empty,
          "Transport prefixed to image names that have none."),
      opt(kImage, "global_auth_file", "global-auth-file", &C::global_auth_file, abs_path_or_empty,
          "Registry credentials file (like /var/lib/kubelet/config.json) used for every pull."),
      opt(kImage, "pause_image", "pause-image", &C::pause_image, non_empty,
          "Image of the infra container, for pods that need one."),
      opt(kImage, "pause_image_auth_file", "pause-image-auth-file", &C::pause_image_auth_file, abs_path_or_empty,
          "Registry credentials file used only to pull pause_image."),
      opt(kImage, "pause_command", "pause-command", &C::pause_command, non_empty,
          "Command the infra container runs when pause_image has no entrypoint or command of its own."),
      opt(kImage, "pinned_images", "pinned-images", &C::pinned_images, nullptr,
          "Images the kubelet must never garbage-collect: exact names, \"prefix*\" globs or "
          "\"*keyword*\" patterns."),
      opt(kImage, "signature_policy", "signature-policy", &C::signature_policy, abs_path_or_empty,
          "Signature policy file (policy.json); empty uses /etc/containers/policy.json."),
      opt(kImage, "signature_policy_dir", "signature-policy-dir", &C::signature_policy_dir, abs_path,
          "Directory of per-namespace policies: NAMESPACE.json here applies to pulls for that pod "
          "namespace."),
      opt(kImage, "insecure_registries", "insecure-registry", &C::insecure_registries, non_empty,
          "Registries (or CIDR ranges) reached without TLS verification. For testing only."),
      opt(kImage, "registries", "registry", &C::registries, non_empty,
          "Registries tried, in order, for short image names before registries.conf's "
          "unqualified-search-registries. Deprecated in CRI-O; prefer registries.conf."),
      opt(kImage, "image_volumes", "image-volumes", &C::image_volumes, checks::image_volumes,
          "What to do with VOLUMEs declared by images: mkdir, bind or ignore."),
      opt(kImage, "big_files_temporary_dir", "big-files-temporary-dir", &C::big_files_temporary_dir, abs_path_or_empty,
          "Directory for large temporary files while pulling; empty uses $TMPDIR or /var/tmp."),
      opt(kImage, "pull_progress_timeout", "pull-progress-timeout", &C::pull_progress_timeout, duration,
          "A pull that makes no progress for this long is cancelled; \"0s\" disables the timeout."),
      opt(kImage, "max_parallel_downloads", "max-parallel-downloads", &C::max_parallel_downloads, positive,
          "Most layer downloads that run at once, across all pulls."),
      opt(kImage, "short_name_mode", "short-name-mode", &C::short_name_mode, checks::short_name_mode,
          "How short image names resolve when several search registries could provide them: enforcing "
          "(an ambiguous name is an error), permissive (each is tried in order) or disabled; overrides "
          "registries.conf."),

      // [crio.network]
      opt(kNetwork, "cni_default_network", "cni-default-network", &C::cni_default_network, nullptr,
          "Name of the CNI network for pods; empty picks the first network found in network_dir."),
      opt(kNetwork, "network_dir", "cni-config-dir", &C::network_dir, abs_path,
          "Directory of CNI network configurations."),
      opt(kNetwork, "plugin_dirs", "cni-plugin-dir", &C::plugin_dirs, abs_path,
          "Directories searched for CNI plugin binaries, in order."),

      // [crio.metrics]
      opt(kMetrics, "enable_metrics", "enable-metrics", &C::enable_metrics,
          "Serve Prometheus metrics on metrics_host:metrics_port (and metrics_socket)."),
      opt(kMetrics, "metrics_collectors", "metrics-collectors", &C::metrics_collectors, non_empty,
          "Metrics that are collected and served."),
      opt(kMetrics, "metrics_host", "metrics-host", &C::metrics_host, non_empty,
          "Address on which the metrics server listens."),
      opt(kMetrics, "metrics_port", "metrics-port", &C::metrics_port, checks::port,
          "Port on which the metrics server listens."),
      opt(kMetrics, "metrics_socket", "metrics-socket", &C::metrics_socket, abs_path_or_empty,
          "Unix socket on which the metrics server listens too, next to metrics_host:metrics_port."),
      opt(kMetrics, "metrics_cert", "metrics-cert", &C::metrics_cert, abs_path_or_empty,
          "Certificate for serving metrics over TLS; needs metrics_key."),
      opt(kMetrics, "metrics_key", "metrics-key", &C::metrics_key, abs_path_or_empty,
          "Private key for serving metrics over TLS; needs metrics_cert."),

      // [crio.stats]
      opt(kStats, "stats_collection_period", "stats-collection-period", &C::stats_collection_period, non_negative,
          "Seconds between background collections of pod and container stats; 0 collects them on "
          "request."),
      opt(kStats, "collection_period", "collection-period", &C::collection_period, non_negative,
          "Seconds between background collections of stats and metrics; 0 collects them on request."),
  };
  return table;
}

// [crio.runtime.runtimes.<name>]
const std::vector<Desc<RuntimeHandler>>& handler_options() {
  using H = RuntimeHandler;
  static const std::vector<Desc<RuntimeHandler>> table = {
      opt(kHandlers, "runtime_path", "", &H::runtime_path, abs_path_or_empty,
          "Path of the OCI runtime binary; empty looks up the handler's name in $PATH."),
      opt(kHandlers, "runtime_type", "", &H::runtime_type, checks::runtime_type,
          "Kind of runtime: oci (runc, crun), vm (a sandboxed runtime with a shim) or pod."),
      opt(kHandlers, "runtime_root", "", &H::runtime_root, abs_path_or_empty,
          "State directory given to the runtime as --root; empty means /run/<handler>."),
      opt(kHandlers, "runtime_config_path", "", &H::runtime_config_path, abs_path_or_empty,
          "Configuration file of a vm runtime."),
      opt(kHandlers, "monitor_path", "", &H::monitor_path, abs_path_or_empty,
          "conmon binary for this handler; empty looks up conmon in $PATH at start-up. [crio.runtime] "
          "conmon replaces it when set."),
      opt(kHandlers, "monitor_cgroup", "", &H::monitor_cgroup, checks::conmon_cgroup,
          "Cgroup for this handler's conmon; empty means \"pod\" (system.slice with the systemd cgroup "
          "manager). [crio.runtime] conmon_cgroup replaces it when set."),
      opt(kHandlers, "monitor_env", "", &H::monitor_env, key_value,
          "Environment of this handler's conmon, as KEY=VALUE. [crio.runtime] conmon_env replaces it when "
          "not empty."),
      opt(kHandlers, "allowed_annotations", "", &H::allowed_annotations, allowed_annotation,
          "Experimental annotations (io.kubernetes.cri-o.*) this handler acts on."),
      opt(kHandlers, "privileged_without_host_devices", "", &H::privileged_without_host_devices,
          "Do not give privileged containers of this handler the host's devices."),
  };
  return table;
}

template <typename S>
std::string flag_name(const Desc<S>& d) {
  std::string f = d.flag;
  auto comma = f.find(',');
  return comma == std::string::npos ? f : f.substr(0, comma);
}

// ---------------------------------------------------------------------------------
// Locations: where each option got its current value, "FILE:LINE" or "command line
// flag --x", so that a check made after all sources are merged can still point at it.
using Locations = std::map<std::string, std::string>;

std::string at(const Locations* locs, const std::string& dotted) {
  if (!locs) return {};
  auto it = locs->find(dotted);
  return it == locs->end() ? std::string() : it->second + ": ";
}

std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "nothing";
  }
}

// Handler names become directory names (/run/<name>), so they must be one path element.
bool usable_handler_name(const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos && name != "." && name != "..";
}

std::string where(std::string_view source, const toml::node& n) {
  return fmt::format("{}:{}", source, n.source().begin.line);
}

Status wrong_type(std::string_view source, const toml::node& n, const std::string& dotted, std::string_view want) {
  return error(Code::kInvalidArgument, "{}: {}: expected {}, found {}", where(source, n), dotted, want, type_name(n));
}

// Options CRI-O 1.29 reads that this daemon does not implement, with CRI-O's default.
// A value equal to that default asks for nothing this daemon lacks and is accepted with
// a note (a crio.conf copied from a CRI-O node carries them all); any other value is
// refused, naming the option, instead of being accepted and ignored. A wrong type is an
// error as in CRI-O.
enum class ForeignKind { kString, kBool, kInt, kStringList, kTable, kDuration };

struct ForeignOption {
  ForeignKind kind;
  std::string_view default_value;  // as CRI-O prints it: "false", "", "-1", "5s"; lists and tables: empty
  std::string_view why;            // why a non-default value cannot be honoured
};

constexpr std::string_view kNoUserns = "user-namespace mapping limits are not implemented";
constexpr std::string_view kNoNri = "NRI plugins are not supported";
constexpr std::string_view kNoTracing = "OpenTelemetry tracing is not supported";

const std::map<std::string, ForeignOption>& foreign_options() {
  using K = ForeignKind;
  static const std::map<std::string, ForeignOption> table = {
      {"crio.runtime.cdi_spec_dirs", {K::kStringList, "", "CDI devices are not supported"}},
      {"crio.runtime.device_ownership_from_security_context",
       {K::kBool, "false", "device ownership from the security context is not implemented"}},
      {"crio.runtime.blockio_config_file", {K::kString, "", "block I/O classes are not supported"}},
      {"crio.runtime.blockio_reload", {K::kBool, "false", "block I/O classes are not supported"}},
      {"crio.runtime.rdt_config_file", {K::kString, "", "RDT classes are not supported"}},
      {"crio.runtime.minimum_mappable_uid", {K::kInt, "-1", kNoUserns}},
      {"crio.runtime.minimum_mappable_gid", {K::kInt, "-1", kNoUserns}},
      {"crio.runtime.separate_pull_cgroup", {K::kString, "", "pulling in a separate cgroup is not implemented"}},
      {"crio.runtime.shared_cpuset", {K::kString, "", "shared CPU sets are not implemented"}},
      {"crio.runtime.hostnetwork_disable_selinux",
       {K::kBool, "true", "SELinux is not supported, so there is nothing to disable"}},
      {"crio.runtime.runtimes.*.monitor_exec_cgroup",
       {K::kString, "", "exec sessions are not placed in a separate cgroup"}},
      {"crio.runtime.runtimes.*.platform_runtime_paths",
       {K::kTable, "", "per-platform runtime paths are not supported"}},
      {"crio.runtime.runtimes.*.runtime_pull_image",
       {K::kBool, "false", "runtimes that pull images themselves are not supported"}},
      {"crio.runtime.runtimes.*.container_min_memory",
       {K::kString, "", "a per-handler minimum memory limit is not implemented"}},
      {"crio.network.plugin_dir", {K::kString, "", "use plugin_dirs"}},
      {"crio.tracing.enable_tracing", {K::kBool, "false", kNoTracing}},
      {"crio.tracing.tracing_endpoint", {K::kString, "0.0.0.0:4317", kNoTracing}},
      {"crio.tracing.tracing_sampling_rate_per_million", {K::kInt, "0", kNoTracing}},
      {"crio.nri.enable_nri", {K::kBool, "false", kNoNri}},
      {"crio.nri.nri_listen", {K::kString, "/var/run/nri/nri.sock", kNoNri}},
      {"crio.nri.nri_plugin_dir", {K::kString, "/opt/nri/plugins", kNoNri}},
      {"crio.nri.nri_plugin_config_dir", {K::kString, "/etc/nri/conf.d", kNoNri}},
      {"crio.nri.nri_plugin_registration_timeout", {K::kDuration, "5s", kNoNri}},
      {"crio.nri.nri_plugin_request_timeout", {K::kDuration, "2s", kNoNri}},
      {"crio.nri.nri_disable_connections", {K::kBool, "false", kNoNri}},
  };
  return table;
}

// Whether a TOML value equals the foreign option's CRI-O default.
bool is_foreign_default(const ForeignOption& o, const toml::node& n) {
  switch (o.kind) {
    case ForeignKind::kString:
      return n.as_string() && n.as_string()->get() == o.default_value;
    case ForeignKind::kBool:
      return n.as_boolean() && (n.as_boolean()->get() ? "true" : "false") == o.default_value;
    case ForeignKind::kInt:
      return n.as_integer() && std::to_string(n.as_integer()->get()) == o.default_value;
    case ForeignKind::kDuration: {
      auto want = parse_duration(o.default_value);
      if (auto* str = n.as_string()) {
        auto got = parse_duration(str->get());
        return got.ok() && want.ok() && *got == *want;
      }
      return false;
    }
    case ForeignKind::kStringList:
      return n.as_array() && n.as_array()->empty();
    case ForeignKind::kTable:
      return n.as_table() && n.as_table()->empty();
  }
  return false;
}

// Tables CRI-O has that hold only foreign options.
bool foreign_table(const std::string& dotted) { return dotted == "crio.tracing" || dotted == "crio.nri"; }

struct Reader {
  std::string_view source;
  std::vector<std::string>& warnings;
  Locations& locs;

  // Unknown keys, gathered with their lines: toml++ walks a table in key order, and
  // the warnings read better in file order.
  std::vector<std::pair<uint32_t, std::string>> unknown_keys = {};

  void unknown(const toml::node& n, const std::string& dotted) {
    unknown_keys.emplace_back(n.source().begin.line, fmt::format("{}: unknown key {}", where(source, n), dotted));
  }

  // A key this daemon does not implement: CRI-O's own are type-checked first. `lookup`
  // is the dotted name with a handler's name replaced by "*".
  Status not_implemented(const toml::node& n, const std::string& dotted, const std::string& lookup) {
    auto& foreign = foreign_options();
    auto it = foreign.find(lookup);
    if (it == foreign.end()) {
      unknown(n, dotted);
      return ok_status();
    }
    switch (it->second.kind) {
      case ForeignKind::kString:
        if (!n.is_string()) return wrong_type(source, n, dotted, "a string");
        break;
      case ForeignKind::kBool:
        if (!n.is_boolean()) return wrong_type(source, n, dotted, "a boolean");
        break;
      case ForeignKind::kInt:
        if (!n.is_integer()) return wrong_type(source, n, dotted, "an integer");
        break;
      case ForeignKind::kTable:
        if (!n.is_table()) return wrong_type(source, n, dotted, "a table");
        break;
      case ForeignKind::kDuration:
        if (!n.is_string() && !n.is_integer()) return wrong_type(source, n, dotted, "a duration");
        if (auto* str = n.as_string()) {
          if (auto d = parse_duration(str->get()); !d.ok()) {
            return error(Code::kInvalidArgument, "{}: {}: {}", where(source, n), dotted, d.status().message());
          }
        }
        break;
      case ForeignKind::kStringList: {
        auto* arr = n.as_array();
        if (!arr) return wrong_type(source, n, dotted, "an array of strings");
        for (size_t i = 0; i < arr->size(); ++i) {
          if (!arr->get(i)->is_string()) {
            return wrong_type(source, *arr->get(i), fmt::format("{}[{}]", dotted, i), "a string");
          }
        }
        break;
      }
    }
    if (!is_foreign_default(it->second, n)) {
      return error(Code::kInvalidArgument, "{}: {}: only CRI-O's default ({}) is accepted: {}", where(source, n),
                   dotted, it->second.default_value.empty() ? "empty" : it->second.default_value, it->second.why);
    }
    unknown_keys.emplace_back(n.source().begin.line,
                              fmt::format("{}: {} is CRI-O's default, and what this daemon does", where(source, n),
                                          dotted));
    return ok_status();
  }

  template <typename S>
  Status read(S& obj, const Desc<S>& d, const toml::node& n, const std::string& dotted) {
    Status st = std::visit(
        [&](auto member) -> Status {
          using T = std::remove_reference_t<decltype(obj.*member)>;
          if constexpr (std::is_same_v<T, std::string>) {
            auto* v = n.as_string();
            if (!v) return wrong_type(source, n, dotted, "a string");
            obj.*member = v->get();
          } else if constexpr (std::is_same_v<T, bool>) {
            auto* v = n.as_boolean();
            if (!v) return wrong_type(source, n, dotted, "a boolean");
            obj.*member = v->get();
          } else if constexpr (std::is_same_v<T, int64_t>) {
            auto* v = n.as_integer();
            if (!v) return wrong_type(source, n, dotted, "an integer");
            obj.*member = v->get();
          } else {
            auto* arr = n.as_array();
            if (!arr) return wrong_type(source, n, dotted, "an array of strings");
            std::vector<std::string> out;
            for (size_t i = 0; i < arr->size(); ++i) {
              const toml::node& e = *arr->get(i);
              auto* s = e.as_string();
              if (!s) return wrong_type(source, e, fmt::format("{}[{}]", dotted, i), "a string");
              out.push_back(s->get());
            }
            obj.*member = std::move(out);
          }
          return ok_status();
        },
        d.field);
    if (st.ok()) locs[dotted] = where(source, n);
    return st;
  }

  Status read_handler(Config& config, const std::string& name, const toml::node& n) {
    std::string prefix = std::string(kHandlers) + "." + name;
    auto* tbl = n.as_table();
    if (!tbl) return wrong_type(source, n, prefix, "a table");
    if (!usable_handler_name(name)) {
      return error(Code::kInvalidArgument, "{}: {}: {} is not a usable runtime handler name", where(source, n), prefix,
                   checks::quote(name));
    }
    RuntimeHandler& h = config.runtimes[name];
    for (auto&& [k, v] : *tbl) {
      std::string key(k.str());
      std::string dotted = prefix + "." + key;
      auto& hd = handler_options();
      auto it = std::find_if(hd.begin(), hd.end(), [&](auto& d) { return key == d.key; });
      if (it == hd.end()) {
        CRIO_RETURN_IF_ERROR(not_implemented(v, dotted, std::string(kRuntimeHandlerTable) + "." + key));
        continue;
      }
      CRIO_RETURN_IF_ERROR(read(h, *it, v, dotted));
    }
    locs[prefix] = where(source, n);
    return ok_status();
  }

  // [crio.runtime.workloads.<name>] and its .resources table: typed by hand, as they
  // are maps of structs the option table does not describe.
  Status read_workload(Config& config, const std::string& name, const toml::node& n) {
    std::string prefix = std::string(kWorkloads) + "." + name;
    auto* tbl = n.as_table();
    if (!tbl) return wrong_type(source, n, prefix, "a table");
    Workload& w = config.workloads[name];
    auto str = [&](const toml::node& v, const std::string& dotted, std::string& out) -> Status {
      auto* s = v.as_string();
      if (!s) return wrong_type(source, v, dotted, "a string");
      out = s->get();
      return ok_status();
    };
    auto num = [&](const toml::node& v, const std::string& dotted, int64_t& out) -> Status {
      auto* i = v.as_integer();
      if (!i) return wrong_type(source, v, dotted, "an integer");
      if (i->get() < 0) return error(Code::kInvalidArgument, "{}: {}: {} is negative", where(source, v), dotted, i->get());
      out = i->get();
      return ok_status();
    };
    for (auto&& [k, v] : *tbl) {
      std::string key(k.str());
      std::string dotted = prefix + "." + key;
      if (key == "activation_annotation") {
        CRIO_RETURN_IF_ERROR(str(v, dotted, w.activation_annotation));
      } else if (key == "annotation_prefix") {
        CRIO_RETURN_IF_ERROR(str(v, dotted, w.annotation_prefix));
      } else if (key == "allowed_annotations") {
        auto* arr = v.as_array();
        if (!arr) return wrong_type(source, v, dotted, "an array of strings");
        w.allowed_annotations.clear();
        for (size_t i = 0; i < arr->size(); ++i) {
          std::string a;
          CRIO_RETURN_IF_ERROR(str(*arr->get(i), fmt::format("{}[{}]", dotted, i), a));
          w.allowed_annotations.push_back(std::move(a));
        }
      } else if (key == "resources") {
        auto* res = v.as_table();
        if (!res) return wrong_type(source, v, dotted, "a table");
        WorkloadResources& r = w.resources;
        for (auto&& [rk, rv] : *res) {
          std::string rkey(rk.str());
          std::string rdotted = dotted + "." + rkey;
          if (rkey == "cpushares") CRIO_RETURN_IF_ERROR(num(rv, rdotted, r.cpushares));
          else if (rkey == "cpuquota") CRIO_RETURN_IF_ERROR(num(rv, rdotted, r.cpuquota));
          else if (rkey == "cpuperiod") CRIO_RETURN_IF_ERROR(num(rv, rdotted, r.cpuperiod));
          else if (rkey == "cpulimit") CRIO_RETURN_IF_ERROR(num(rv, rdotted, r.cpulimit));
          else if (rkey == "cpuset") CRIO_RETURN_IF_ERROR(str(rv, rdotted, r.cpuset));
          else unknown(rv, rdotted);
        }
      } else {
        unknown(v, dotted);
      }
    }
    locs[prefix] = where(source, n);
    return ok_status();
  }

  Status read_table(Config& config, const std::string& name, const toml::table& tbl) {
    static const std::set<std::string> kSubtables = {"crio.api",     "crio.runtime", "crio.image",
                                                     "crio.network", "crio.metrics", "crio.stats"};
    for (auto&& [k, v] : tbl) {
      std::string key(k.str());
      std::string dotted = name + "." + key;
      if (kSubtables.count(dotted)) {
        auto* sub = v.as_table();
        if (!sub) return wrong_type(source, v, dotted, "a table");
        CRIO_RETURN_IF_ERROR(read_table(config, dotted, *sub));
        continue;
      }
      if (foreign_table(dotted)) {
        auto* sub = v.as_table();
        if (!sub) return wrong_type(source, v, dotted, "a table");
        for (auto&& [fk, fv] : *sub) {
          std::string fdotted = dotted + "." + std::string(fk.str());
          CRIO_RETURN_IF_ERROR(not_implemented(fv, fdotted, fdotted));
        }
        continue;
      }
      if (dotted == kHandlers) {
        auto* sub = v.as_table();
        if (!sub) return wrong_type(source, v, dotted, "a table of runtime handlers");
        for (auto&& [hk, hv] : *sub) CRIO_RETURN_IF_ERROR(read_handler(config, std::string(hk.str()), hv));
        continue;
      }
      if (dotted == kWorkloads) {
        auto* sub = v.as_table();
        if (!sub) return wrong_type(source, v, dotted, "a table of workloads");
        for (auto&& [wk, wv] : *sub) CRIO_RETURN_IF_ERROR(read_workload(config, std::string(wk.str()), wv));
        continue;
      }
      auto& od = options();
      auto it = std::find_if(od.begin(), od.end(), [&](auto& d) { return name == d.table && key == d.key; });
      if (it == od.end()) {
        CRIO_RETURN_IF_ERROR(not_implemented(v, dotted, dotted));
        continue;
      }
      CRIO_RETURN_IF_ERROR(read(config, *it, v, dotted));
    }
    return ok_status();
  }

  Status read_document(Config& config, const toml::table& root) {
    for (auto&& [k, v] : root) {
      std::string key(k.str());
      if (key != "crio") {
        unknown(v, key);
        continue;
      }
      auto* crio = v.as_table();
      if (!crio) return wrong_type(source, v, "crio", "a table");
      CRIO_RETURN_IF_ERROR(read_table(config, "crio", *crio));
    }
    std::stable_sort(unknown_keys.begin(), unknown_keys.end(), [](auto& a, auto& b) { return a.first < b.first; });
    for (auto& [line, message] : unknown_keys) warnings.push_back(std::move(message));
    return ok_status();
  }
};

Result<toml::table> parse(std::string_view text, std::string_view source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return error(Code::kInvalidArgument, "unable to decode configuration {}:{}:{}: syntax error: {}", source,
                 e.source().begin.line, e.source().begin.column, e.description());
  }
}

// Values CRI-O documents as meaning "the default" are stored as that default, so the
// rest of the daemon sees one spelling.
//
// The deprecated [crio.runtime] conmon, conmon_cgroup and conmon_env are copied over the
// monitor fields of every oci handler when set, as CRI-O's TranslateMonitorFields does;
// `locs` then points those fields at where the [crio.runtime] value came from.
constexpr int64_t kMinCtrStopTimeout = 30;

void normalize(Config& c, Locations* locs = nullptr) {
  if (c.storage_driver.empty() || c.storage_driver == "overlay2") c.storage_driver = "overlay";
  if (c.grpc_max_send_msg_size == 0) c.grpc_max_send_msg_size = kDefaultGrpcMsgSize;
  if (c.grpc_max_recv_msg_size == 0) c.grpc_max_recv_msg_size = kDefaultGrpcMsgSize;
  auto carry = [&](const std::string& from, const std::string& to) {
    if (!locs) return;
    if (auto it = locs->find(from); it != locs->end()) (*locs)[to] = it->second;
  };
  for (auto& [name, h] : c.runtimes) {
    if (!h.runtime_type.empty() && h.runtime_type != "oci") continue;
    std::string prefix = std::string(kHandlers) + "." + name;
    if (!c.conmon_cgroup.empty()) {
      h.monitor_cgroup = c.conmon_cgroup;
      carry("crio.runtime.conmon_cgroup", prefix + ".monitor_cgroup");
    }
    if (!c.conmon.empty()) {
      h.monitor_path = c.conmon;
      carry("crio.runtime.conmon", prefix + ".monitor_path");
    }
    if (!c.conmon_env.empty()) {
      h.monitor_env = c.conmon_env;
      carry("crio.runtime.conmon_env", prefix + ".monitor_env");
    }
    if (h.monitor_cgroup.empty()) h.monitor_cgroup = c.cgroup_manager == "systemd" ? "system.slice" : "pod";
  }
}

// Checks each value against its option's check; with `only`, just the options set in
// one document. `prefix` is the dotted table for handler fields, empty for Config.
template <typename S>
Status check_values(const S& obj, const std::vector<Desc<S>>& table, const std::string& prefix, const Locations* locs,
                    const Locations* only) {
  for (auto& d : table) {
    std::string dotted = (prefix.empty() ? std::string(d.table) : prefix) + "." + d.key;
    if (only && !only->count(dotted)) continue;
    std::string reason = std::visit(
        [&](auto member) -> std::string {
          using T = std::remove_cvref_t<decltype(obj.*member)>;
          if constexpr (std::is_same_v<T, std::string>) {
            return d.str_check ? d.str_check(obj.*member) : std::string();
          } else if constexpr (std::is_same_v<T, int64_t>) {
            return d.int_check ? d.int_check(obj.*member) : std::string();
          } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            if (!d.str_check) return {};
            for (auto& e : obj.*member) {
              auto r = d.str_check(e);
              if (!r.empty()) return r;
            }
            return {};
          } else {
            return {};
          }
        },
        d.field);
    if (!reason.empty()) return error(Code::kInvalidArgument, "{}{}: {}", at(locs, dotted), dotted, reason);
  }
  return ok_status();
}

Status check_cgroup_pairing(const std::string& manager, const std::string& cgroup, const std::string& dotted,
                            const Locations* locs) {
  // As CRI-O: cgroupfs takes only "pod" (the value's own check allows a slice too).
  if (manager == "cgroupfs" && !cgroup.empty() && cgroup != "pod") {
    return error(Code::kInvalidArgument,
                 "{}{}: {} is a systemd slice, which needs cgroup_manager \"systemd\"; with cgroupfs use \"pod\"",
                 at(locs, dotted), dotted, checks::quote(cgroup));
  }
  return ok_status();
}

bool path_exists(const char* path) {
  std::error_code ec;
  return stdfs::exists(path, ec);
}

bool host_has_apparmor() {
  auto text = fs::read_file("/sys/module/apparmor/parameters/enabled");
  return text.ok() && !text->empty() && (*text)[0] == 'Y';
}

// Values CRI-O gives a meaning this daemon cannot provide (on this host, or at all yet)
// are refused here, naming the option and why, instead of being accepted and ignored.
// crio.conf(5) lists them.
Status check_supported(const Config& c, const Locations* locs) {
  auto refuse = [&](const std::string& dotted, std::string_view why) {
    return error(Code::kInvalidArgument, "{}{}: {}", at(locs, dotted), dotted, why);
  };
  const Config d;
  if (c.selinux) {
    return refuse("crio.runtime.selinux",
                  path_exists("/sys/fs/selinux/enforce")
                      ? "SELinux labelling of containers is not implemented; set it to false"
                      : "SELinux is not enabled on this host (and labelling is not implemented); set it to false");
  }
  for (const auto& option : c.storage_option) {
    // containers/storage refuses an option its driver does not know; so does this daemon,
    // at the key, for the ones its store does not implement.
    std::string key = option.substr(0, option.find('='));
    std::string value = option.substr(key.size() + (key.size() < option.size() ? 1 : 0));
    for (const char* prefix : {"overlay.", "overlay2.", "vfs.", "."}) {
      bool own = std::string_view(prefix) == "." || (c.storage_driver == "vfs") == (std::string_view(prefix) == "vfs.");
      if (own && key.rfind(prefix, 0) == 0) {
        key = key.substr(std::strlen(prefix));
        break;
      }
    }
    bool taken = c.storage_driver == "overlay" ? key == "mountopt" || key == "mount_program"
                                               : key == "ignore_chown_errors" && value == "false";
    if (!taken) {
      return refuse("crio.storage_option",
                    fmt::format("{} is not supported by the {} driver here (it takes {}); remove it",
                                checks::quote(option), c.storage_driver,
                                c.storage_driver == "overlay" ? "overlay.mountopt and overlay.mount_program"
                                                              : "only vfs.ignore_chown_errors=false, its default"));
    }
  }
  if (c.log_to_journald) {
    return refuse("crio.runtime.log_to_journald",
                  path_exists("/run/systemd/journal/socket")
                      ? "sending container output to journald is not implemented; set it to false"
                      : "this host has no journald socket (/run/systemd/journal/socket) and sending container "
                        "output to journald is not implemented; set it to false");
  }
  if (!c.uid_mappings.empty()) {
    return refuse("crio.runtime.uid_mappings", "user namespace mappings are not implemented yet; leave it empty");
  }
  if (!c.gid_mappings.empty()) {
    return refuse("crio.runtime.gid_mappings", "user namespace mappings are not implemented yet; leave it empty");
  }
  if (c.enable_criu_support) {
    return refuse("crio.runtime.enable_criu_support",
                  "checkpoint/restore is not implemented (CheckpointContainer answers Unimplemented), and CRIU "
                  "does not run on this host (`criu check` fails); set it to false");
  }
  if (!c.apparmor_profile.empty() && c.apparmor_profile != "unconfined" && host_has_apparmor()) {
    return refuse("crio.runtime.apparmor_profile",
                  "this host has AppArmor but the daemon does not apply AppArmor profiles; use \"unconfined\"");
  }
  if (c.default_transport != d.default_transport) {
    return refuse("crio.image.default_transport",
                  fmt::format("only {} is supported: images come from registries", checks::quote(d.default_transport)));
  }
  if (!c.big_files_temporary_dir.empty()) {
    return refuse("crio.image.big_files_temporary_dir",
                  "pulls stream each layer into a staging directory under the storage root and write no big "
                  "temporary files, so there is nothing to place there; leave it empty");
  }
  if (c.stats_collection_period != 0) {
    return refuse("crio.stats.stats_collection_period",
                  "stats are collected when asked for; periodic collection is not implemented, set it to 0");
  }
  if (c.collection_period != 0) {
    return refuse("crio.stats.collection_period",
                  "stats are collected when asked for; periodic collection is not implemented, set it to 0");
  }
  {
    const auto& known = metric_collector_names();
    for (const auto& name : c.metrics_collectors) {
      if (std::find(known.begin(), known.end(), strip_metric_collector_prefix(name)) == known.end()) {
        return refuse("crio.metrics.metrics_collectors",
                      fmt::format("{} is not a metrics collector; the collectors are {}", checks::quote(name),
                                  fmt::join(known, ", ")));
      }
    }
  }
  for (auto& [name, h] : c.runtimes) {
    std::string prefix = std::string(kHandlers) + "." + name;
    if (h.runtime_type == "vm" || h.runtime_type == "pod") {
      return refuse(prefix + ".runtime_type",
                    fmt::format("{} handlers are not supported; only \"oci\" runtimes (runc, crun) run here",
                                checks::quote(h.runtime_type)));
    }
    if (!h.runtime_config_path.empty()) {
      return refuse(prefix + ".runtime_config_path",
                    "only a runtime of type \"vm\" takes a configuration file, "
                    "and vm runtimes are not supported; leave it empty");
    }
  }
  return ok_status();
}

// CRI-O's rules for a workload: an activation annotation, allowed annotations it knows,
// a parseable cpuset, a quota not below the shares and a period of at least 1 ms.
Status check_workload(const std::string& name, const Workload& w, const Locations* locs) {
  std::string prefix = std::string(kWorkloads) + "." + name;
  std::string where = at(locs, prefix);
  if (w.activation_annotation.empty()) {
    return error(Code::kInvalidArgument, "{}{}.activation_annotation: must not be empty", where, prefix);
  }
  for (auto& a : w.allowed_annotations) {
    if (auto reason = allowed_annotation(a); !reason.empty()) {
      return error(Code::kInvalidArgument, "{}{}.allowed_annotations: {}", where, prefix, reason);
    }
  }
  const WorkloadResources& r = w.resources;
  if (auto reason = checks::cpuset(r.cpuset); !reason.empty()) {
    return error(Code::kInvalidArgument, "{}{}.resources.cpuset: {}", where, prefix, reason);
  }
  if (r.cpuquota != 0 && r.cpuquota < r.cpushares) {
    return error(Code::kInvalidArgument, "{}{}.resources.cpuquota: {} is less than cpushares {}", where, prefix,
                 r.cpuquota, r.cpushares);
  }
  if (r.cpuperiod != 0 && r.cpuperiod < 1000) {
    return error(Code::kInvalidArgument, "{}{}.resources.cpuperiod: {} is less than 1000 microseconds", where, prefix,
                 r.cpuperiod);
  }
  return ok_status();
}

Status validate_impl(const Config& c, const Locations* locs, const Locations* only) {
  CRIO_RETURN_IF_ERROR(check_values(c, options(), "", locs, only));
  for (auto& [name, w] : c.workloads) {
    if (only && !only->count(std::string(kWorkloads) + "." + name)) continue;
    CRIO_RETURN_IF_ERROR(check_workload(name, w, locs));
  }
  for (auto& [name, h] : c.runtimes) {
    if (!usable_handler_name(name)) {
      return error(Code::kInvalidArgument, "{}.{}: {} is not a usable runtime handler name", kHandlers, name,
                   checks::quote(name));
    }
    CRIO_RETURN_IF_ERROR(check_values(h, handler_options(), std::string(kHandlers) + "." + name, locs, only));
  }
  // Rules that tie options together hold only for a whole configuration, not for the
  // one document of a drop-in.
  if (only) return check_supported(c, locs);

  if (!c.runtimes.count(c.default_runtime)) {
    std::string names;
    for (auto& [name, h] : c.runtimes) names += (names.empty() ? "" : ", ") + name;
    return error(Code::kInvalidArgument, "{}crio.runtime.default_runtime: {} names no runtime handler ({})",
                 at(locs, "crio.runtime.default_runtime"), checks::quote(c.default_runtime),
                 names.empty() ? std::string("none is defined") : "defined: " + names);
  }
  CRIO_RETURN_IF_ERROR(check_cgroup_pairing(c.cgroup_manager, c.conmon_cgroup, "crio.runtime.conmon_cgroup", locs));
  for (auto& [name, h] : c.runtimes) {
    CRIO_RETURN_IF_ERROR(check_cgroup_pairing(c.cgroup_manager, h.monitor_cgroup,
                                              std::string(kHandlers) + "." + name + ".monitor_cgroup", locs));
  }
  if (c.stream_enable_tls && (c.stream_tls_cert.empty() || c.stream_tls_key.empty())) {
    return error(Code::kInvalidArgument,
                 "{}crio.api.stream_enable_tls: TLS needs both stream_tls_cert and stream_tls_key",
                 at(locs, "crio.api.stream_enable_tls"));
  }
  if (c.metrics_cert.empty() != c.metrics_key.empty()) {
    const char* set = c.metrics_cert.empty() ? "crio.metrics.metrics_key" : "crio.metrics.metrics_cert";
    return error(Code::kInvalidArgument, "{}{}: metrics_cert and metrics_key must be set together", at(locs, set), set);
  }
  return check_supported(c, locs);
}

// ---------------------------------------------------------------------------------
// Command-line values.

std::vector<std::string> split_list(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (auto& v : values) {
    size_t start = 0;
    for (;;) {
      size_t comma = v.find(',', start);
      std::string piece = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!piece.empty()) out.push_back(piece);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

std::optional<bool> parse_bool(std::string_view v) {
  // The spellings Go's strconv.ParseBool takes, which CRI-O's flags accept.
  for (auto t : {"1", "t", "T", "true", "TRUE", "True"}) {
    if (v == t) return true;
  }
  for (auto f : {"0", "f", "F", "false", "FALSE", "False"}) {
    if (v == f) return false;
  }
  return std::nullopt;
}

Status apply_flags(Config& c, const std::vector<std::pair<std::string, std::vector<std::string>>>& flags,
                   Locations& locs) {
  // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
  for (const auto& flag : flags) {
    const std::string& key = flag.first;
    const std::vector<std::string>& values = flag.second;
    auto& od = options();
    auto it = std::find_if(od.begin(), od.end(), [&](auto& d) { return key == d.key; });
    if (it == od.end()) return error(Code::kInvalidArgument, "command line: no option {} exists", checks::quote(key));
    const auto& d = *it;
    std::string label =
        *d.flag ? fmt::format("command line flag --{}", flag_name(d)) : fmt::format("command line option {}", key);
    std::string dotted = std::string(d.table) + "." + d.key;
    Status st = std::visit(
        [&](auto member) -> Status {
          using T = std::remove_reference_t<decltype(c.*member)>;
          if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            c.*member = split_list(values);
            return ok_status();
          } else {
            if (values.empty()) return error(Code::kInvalidArgument, "{}: needs a value", label);
            const std::string& v = values.back();
            if constexpr (std::is_same_v<T, std::string>) {
              c.*member = v;
            } else if constexpr (std::is_same_v<T, bool>) {
              auto b = parse_bool(v);
              if (!b) return error(Code::kInvalidArgument, "{}: {} is not true or false", label, checks::quote(v));
              c.*member = *b;
            } else {
              int64_t n = 0;
              auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
              if (v.empty() || ec != std::errc() || p != v.data() + v.size()) {
                return error(Code::kInvalidArgument, "{}: {} is not an integer", label, checks::quote(v));
              }
              c.*member = n;
            }
            return ok_status();
          }
        },
        d.field);
    CRIO_RETURN_IF_ERROR(st);
    locs[dotted] = label;
  }
  return ok_status();
}

// --runtimes (CONTAINER_RUNTIMES): "name:path:root[:type[:privileged_without_host_devices[:config_path]]]",
// each replacing the handler of that name entirely, as CRI-O does.
Status apply_runtimes_flag(Config& c, const std::vector<std::string>& values, Locations& locs) {
  for (auto& entry : split_list(values)) {
    std::vector<std::string> f;
    size_t start = 0;
    for (;;) {
      size_t colon = entry.find(':', start);
      f.push_back(entry.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    if (f.size() < 3 || f.size() > 7) {
      return error(Code::kInvalidArgument,
                   "command line flag --runtimes: {} is not of the form "
                   "name:path:root[:type[:privileged_without_host_devices[:config_path]]]",
                   checks::quote(entry));
    }
    if (f.size() == 7 && !f[6].empty()) {
      return error(Code::kInvalidArgument,
                   "command line flag --runtimes: {}: container_min_memory is not supported; leave the seventh "
                   "field out",
                   checks::quote(entry));
    }
    if (!usable_handler_name(f[0])) {
      return error(Code::kInvalidArgument, "command line flag --runtimes: {} is not a usable runtime handler name",
                   checks::quote(f[0]));
    }
    RuntimeHandler h;
    h.runtime_path = f[1];
    h.runtime_root = f[2];
    if (f.size() > 3 && !f[3].empty()) h.runtime_type = f[3];
    if (f.size() > 4) h.privileged_without_host_devices = f[4] == "true";
    if (f.size() > 5) h.runtime_config_path = f[5];
    c.runtimes[f[0]] = h;
    std::string prefix = std::string(kHandlers) + "." + f[0];
    locs[prefix] = "command line flag --runtimes";
    for (auto& hd : handler_options()) locs[prefix + "." + hd.key] = "command line flag --runtimes";
  }
  return ok_status();
}

// ---------------------------------------------------------------------------------
// Files.

// Reads a file; a missing one yields nullopt.
Result<std::optional<std::string>> read_optional(const std::string& path, std::string_view what) {
  auto text = fs::read_file(path);
  if (text.ok()) return std::optional<std::string>(std::move(text).value());
  if (text.status().code() == Code::kNotFound) return std::optional<std::string>();
  return text.status().wrap(fmt::format("reading {}", what));
}

Status apply_file(Config& c, const std::string& path, std::vector<std::string>& warnings, Locations& locs,
                  bool required = false) {
  CRIO_ASSIGN_OR_RETURN(auto text, read_optional(path, "crio.conf"));
  if (!text) {
    if (required) return error(Code::kInvalidArgument, "config file {}: no such file", path);
    return ok_status();
  }
  CRIO_ASSIGN_OR_RETURN(auto doc, parse(*text, path));
  Reader r{path, warnings, locs};
  return r.read_document(c, doc);
}

// containers-storage.conf(5): [storage] driver, graphroot, runroot, imagestore and the
// overlay mount options. Other keys belong to other tools and are ignored silently.
Status apply_storage_conf(Config& c, const std::string& path, Locations& locs) {
  CRIO_ASSIGN_OR_RETURN(auto text, read_optional(path, "storage.conf"));
  if (!text) return ok_status();
  CRIO_ASSIGN_OR_RETURN(auto doc, parse(*text, path));
  const toml::node* storage = doc.get("storage");
  if (!storage) return ok_status();
  if (!storage->is_table()) return wrong_type(path, *storage, "storage", "a table");
  const toml::table& st = *storage->as_table();

  auto take = [&](const toml::table& tbl, const char* key, const std::string& dotted, const char* crio_key,
                  std::string& out) -> Status {
    const toml::node* n = tbl.get(key);
    if (!n) return ok_status();
    if (!n->is_string()) return wrong_type(path, *n, dotted, "a string");
    out = n->as_string()->get();
    locs[std::string("crio.") + crio_key] = where(path, *n);
    return ok_status();
  };
  CRIO_RETURN_IF_ERROR(take(st, "driver", "storage.driver", "storage_driver", c.storage_driver));
  CRIO_RETURN_IF_ERROR(take(st, "graphroot", "storage.graphroot", "root", c.root));
  CRIO_RETURN_IF_ERROR(take(st, "runroot", "storage.runroot", "runroot", c.runroot));
  CRIO_RETURN_IF_ERROR(take(st, "imagestore", "storage.imagestore", "imagestore", c.imagestore));

  std::string mountopt;
  if (const toml::node* options = st.get("options")) {
    if (!options->is_table()) return wrong_type(path, *options, "storage.options", "a table");
    // The old place for mountopt is [storage.options]; [storage.options.overlay] wins.
    CRIO_RETURN_IF_ERROR(
        take(*options->as_table(), "mountopt", "storage.options.mountopt", "storage_option", mountopt));
    if (const toml::node* overlay = options->as_table()->get("overlay")) {
      if (!overlay->is_table()) return wrong_type(path, *overlay, "storage.options.overlay", "a table");
      CRIO_RETURN_IF_ERROR(
          take(*overlay->as_table(), "mountopt", "storage.options.overlay.mountopt", "storage_option", mountopt));
    }
  }
  // As containers/storage: the mount options go to the overlay driver only.
  bool overlay = c.storage_driver.empty() || c.storage_driver == "overlay" || c.storage_driver == "overlay2";
  if (!mountopt.empty() && overlay) c.storage_option = {"overlay.mountopt=" + mountopt};
  return ok_status();
}

// Every regular file under `dir`, whatever its name, depth first with each directory's
// entries in name order: the order in which CRI-O's filepath.Walk applies them.
Status walk_dropins(const std::string& dir, std::vector<std::string>& files) {
  std::error_code ec;
  std::vector<stdfs::directory_entry> entries;
  for (stdfs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(*it);
  if (ec) return error(Code::kInvalidArgument, "config dir {}: {}", dir, ec.message());
  std::sort(entries.begin(), entries.end(),
            [](auto& a, auto& b) { return a.path().filename().string() < b.path().filename().string(); });
  for (auto& e : entries) {
    std::error_code fec;
    if (e.is_directory(fec) && !e.is_symlink(fec)) {
      CRIO_RETURN_IF_ERROR(walk_dropins(e.path().string(), files));
    } else if (e.is_regular_file(fec)) {
      files.push_back(e.path().string());
    }
  }
  return ok_status();
}

Result<std::vector<std::string>> dropin_files(const std::string& dir) {
  std::error_code ec;
  auto status = stdfs::status(dir, ec);
  if (ec || status.type() == stdfs::file_type::not_found) {
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return error(Code::kInvalidArgument, "config dir {}: {}", dir, ec.message());
    }
    return std::vector<std::string>{};
  }
  if (!stdfs::is_directory(status)) return error(Code::kInvalidArgument, "config dir {}: not a directory", dir);
  std::vector<std::string> files;
  CRIO_RETURN_IF_ERROR(walk_dropins(dir, files));
  return files;
}

// ---------------------------------------------------------------------------------
// Writing TOML.

std::string render_key(std::string_view k) {
  bool bare = !k.empty() && std::all_of(k.begin(), k.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  return bare ? std::string(k) : checks::quote(k);
}

// `wrap_at`: the key's length when a long list may be spread over lines, 0 to keep one line.
std::string render(const std::string& v, size_t) { return checks::quote(v); }
std::string render(bool v, size_t) { return v ? "true" : "false"; }
std::string render(int64_t v, size_t) { return std::to_string(v); }
std::string render(const std::vector<std::string>& v, size_t key_len) {
  std::string line = "[";
  for (size_t i = 0; i < v.size(); ++i) line += (i ? ", " : "") + checks::quote(v[i]);
  line += "]";
  if (key_len == 0 || key_len + 3 + line.size() <= 100) return line;
  std::string out = "[\n";
  for (auto& e : v) out += "  " + checks::quote(e) + ",\n";
  return out + "]";
}

template <typename S>
std::string render_field(const S& obj, const Desc<S>& d, bool wrap = true) {
  return std::visit([&](auto member) { return render(obj.*member, wrap ? std::strlen(d.key) : 0); }, d.field);
}

void comment(std::string& out, std::string_view text) {
  std::string line;
  size_t start = 0;
  while (start < text.size()) {
    size_t sp = text.find(' ', start);
    std::string_view word = text.substr(start, sp == std::string_view::npos ? std::string_view::npos : sp - start);
    if (!line.empty() && line.size() + 1 + word.size() > 78) {
      out += "# " + line + "\n";
      line.clear();
    }
    if (!line.empty()) line += ' ';
    line += word;
    if (sp == std::string_view::npos) break;
    start = sp + 1;
  }
  if (!line.empty()) out += "# " + line + "\n";
}

template <typename S>
OptionInfo info(const Desc<S>& d, const S& defaults, std::string table) {
  OptionInfo i;
  i.table = std::move(table);
  i.key = d.key;
  i.flag = flag_name(d);
  std::string f = d.flag;
  if (auto comma = f.find(','); comma != std::string::npos && comma + 1 < f.size()) i.short_flag = f[comma + 1];
  i.help = d.help;
  i.env = env_for_flag(i.flag);
  i.type = std::visit(
      [](auto member) {
        using T = std::remove_reference_t<decltype(std::declval<S&>().*member)>;
        if constexpr (std::is_same_v<T, std::string>)
          return OptionType::kString;
        else if constexpr (std::is_same_v<T, bool>)
          return OptionType::kBool;
        else if constexpr (std::is_same_v<T, int64_t>)
          return OptionType::kInt;
        else
          return OptionType::kStringList;
      },
      d.field);
  i.default_value = render_field(defaults, d, false);
  return i;
}

}  // namespace

// ---------------------------------------------------------------------------------

Config default_config() {
  Config c;
  RuntimeHandler runc;
  runc.runtime_path = "/usr/sbin/runc";
  runc.runtime_root = "/run/runc";
  runc.monitor_cgroup = "pod";
  runc.monitor_env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  c.runtimes["runc"] = runc;
  RuntimeHandler crun = runc;
  crun.runtime_path = "/usr/bin/crun";
  crun.runtime_root = "/run/crun";
  c.runtimes["crun"] = crun;
  return c;
}

std::string storage_conf_path(const ConfigSources& sources) {
  if (!sources.storage_conf.empty()) return sources.storage_conf;
  if (const char* env = std::getenv("CONTAINERS_STORAGE_CONF"); env && *env) return env;
  return "/etc/containers/storage.conf";
}

Result<Config> defaults_for(const ConfigSources& sources) {
  Config c = default_config();
  Locations locs;
  CRIO_RETURN_IF_ERROR(apply_storage_conf(c, storage_conf_path(sources), locs));
  normalize(c);
  return c;
}

Result<Config> load_config(const ConfigSources& sources, std::vector<std::string>& warnings) {
  Config c = default_config();
  Locations locs;
  CRIO_RETURN_IF_ERROR(apply_storage_conf(c, storage_conf_path(sources), locs));
  if (!sources.config_file.empty()) {
    CRIO_RETURN_IF_ERROR(apply_file(c, sources.config_file, warnings, locs, sources.config_file_named));
  }
  if (!sources.config_dir.empty()) {
    CRIO_ASSIGN_OR_RETURN(auto files, dropin_files(sources.config_dir));
    for (auto& f : files) CRIO_RETURN_IF_ERROR(apply_file(c, f, warnings, locs));
  }
  CRIO_RETURN_IF_ERROR(apply_flags(c, sources.flags, locs));
  CRIO_RETURN_IF_ERROR(apply_runtimes_flag(c, sources.runtimes, locs));
  normalize(c, &locs);
  CRIO_RETURN_IF_ERROR(validate_impl(c, &locs, nullptr));
  warn_unimplemented_annotations(c, warnings);
  if (c.ctr_stop_timeout < kMinCtrStopTimeout) {
    // As CRI-O: lower values are raised, with a warning, not refused.
    warnings.push_back(fmt::format("{}crio.runtime.ctr_stop_timeout: {} is below the lowest possible value; using {}",
                                   at(&locs, "crio.runtime.ctr_stop_timeout"), c.ctr_stop_timeout,
                                   kMinCtrStopTimeout));
    c.ctr_stop_timeout = kMinCtrStopTimeout;
  }
  return c;
}

Status apply_toml(Config& config, std::string_view toml_text, std::string_view source,
                  std::vector<std::string>& warnings) {
  CRIO_ASSIGN_OR_RETURN(auto doc, parse(toml_text, source));
  Config next = config;
  Locations locs;
  std::vector<std::string> found;
  Reader r{source, found, locs};
  CRIO_RETURN_IF_ERROR(r.read_document(next, doc));
  normalize(next, &locs);
  CRIO_RETURN_IF_ERROR(validate_impl(next, &locs, &locs));
  config = std::move(next);
  warnings.insert(warnings.end(), found.begin(), found.end());
  return ok_status();
}

Status validate(const Config& config) { return validate_impl(config, nullptr, nullptr); }

namespace {

// "# " before every line of `text` when `commented`.
std::string maybe_commented(const std::string& text, bool commented) {
  if (!commented) return text;
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    size_t end = nl == std::string::npos ? text.size() : nl + 1;
    out += "# " + text.substr(start, end - start);
    start = end;
  }
  return out;
}

// The TOML writer of to_toml (defaults == nullptr: every value set) and
// to_commented_toml (values equal to *defaults commented out).
std::string write_toml(const Config& config, const Config* defaults) {
  std::string out = defaults
                        ? "# The configuration of crio, in the format described in crio.conf(5), as `crio config`\n"
                          "# prints it: options at their default value are commented out, so this file loads\n"
                          "# as a drop-in (/etc/crio/crio.conf.d/) that changes only the others.\n"
                        : "# The configuration of crio, in the format described in crio.conf(5).\n"
                          "# Every option is listed with its value; drop-in files in /etc/crio/crio.conf.d/\n"
                          "# override single options.\n";
  std::string table;
  auto& od = options();
  for (size_t i = 0; i < od.size(); ++i) {
    auto& d = od[i];
    if (table != d.table) {
      table = d.table;
      out += fmt::format("\n[{}]\n", table);
    }
    out += "\n";
    comment(out, d.help);
    bool is_default = defaults && render_field(config, d) == render_field(*defaults, d);
    out += maybe_commented(fmt::format("{} = {}\n", d.key, render_field(config, d)), is_default);
    bool table_ends = i + 1 == od.size() || table != od[i + 1].table;
    if (table_ends && table == kRuntime) {
      out += "\n";
      comment(out,
              "Runtime handlers, chosen by the runtime handler of a pod ([crio.runtime.runtimes.NAME]). "
              "A drop-in may add a handler or change single fields of one.");
      bool handlers_default = defaults && config.runtimes == defaults->runtimes;
      bool first = true;
      for (auto& [name, h] : config.runtimes) {
        out += "\n" + maybe_commented(fmt::format("[{}.{}]\n", kHandlers, render_key(name)), handlers_default);
        for (auto& hd : handler_options()) {
          if (first) comment(out, hd.help);
          out += maybe_commented(fmt::format("{} = {}\n", hd.key, render_field(h, hd)), handlers_default);
        }
        first = false;
      }
      for (auto& [name, w] : config.workloads) {
        out += fmt::format("\n[{}.{}]\n", kWorkloads, render_key(name));
        out += fmt::format("activation_annotation = {}\n", checks::quote(w.activation_annotation));
        out += fmt::format("annotation_prefix = {}\n", checks::quote(w.annotation_prefix));
        std::vector<std::string> quoted;
        for (auto& a : w.allowed_annotations) quoted.push_back(checks::quote(a));
        out += fmt::format("allowed_annotations = [{}]\n", fmt::join(quoted, ", "));
        const WorkloadResources& r = w.resources;
        out += fmt::format("\n[{}.{}.resources]\n", kWorkloads, render_key(name));
        out += fmt::format("cpushares = {}\ncpuquota = {}\ncpuperiod = {}\ncpuset = {}\ncpulimit = {}\n",
                           r.cpushares, r.cpuquota, r.cpuperiod, checks::quote(r.cpuset), r.cpulimit);
      }
    }
  }
  return out;
}


// CRI-O's environment variable for a flag: CONTAINER_ and the flag in upper case, but
// for the few it names otherwise or not at all (flags CRI-O does not have get none).
std::string env_for_flag(const std::string& flag) {
  static const std::map<std::string, std::string> kSpecial = {
      {"container-attach-socket-dir", "CONTAINER_ATTACH_SOCKET_DIR"},
      {"container-exits-dir", "CONTAINER_EXITS_DIR"},
      {"ctr-stop-timeout", "CONTAINER_STOP_TIMEOUT"},
      {"stream-enable-tls", "CONTAINER_ENABLE_TLS"},
      {"stream-tls-ca", "CONTAINER_TLS_CA"},
      {"stream-tls-cert", "CONTAINER_TLS_CERT"},
      {"stream-tls-key", "CONTAINER_TLS_KEY"},
      {"stream-idle-timeout", "STREAM_IDLE_TIMEOUT"},
      {"enable-pod-events", "ENABLE_POD_EVENTS"},
      {"disable-hostport-mapping", "DISABLE_HOSTPORT_MAPPING"},
      // Flags without an environment variable in CRI-O, or not CRI-O flags at all.
      {"irqbalance-config-file", ""},
      {"irqbalance-config-restore-file", ""},
      {"collection-period", ""},
      {"max-parallel-downloads", ""},
      {"pull-progress-timeout", ""},
      {"short-name-mode", ""},
      {"decryption-keys-path", ""},
  };
  if (flag.empty()) return {};
  if (auto it = kSpecial.find(flag); it != kSpecial.end()) return it->second;
  std::string env = "CONTAINER_";
  for (char ch : flag) env += ch == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return env;
}

}  // namespace

bool annotation_implemented(const std::string& name) {
  static const std::set<std::string> implemented = {"io.kubernetes.cri-o.ShmSize", "io.kubernetes.cri-o.Devices",
                                                    "io.kubernetes.cri-o.umask", "io.kubernetes.cri-o.LinkLogs"};
  return implemented.count(name) > 0;
}

std::string known_allowed_annotation_of(const std::string& name) {
  for (const auto& known : known_allowed_annotations()) {
    if (name == known || (name.size() > known.size() && name.starts_with(known) && name[known.size()] == '.')) {
      return known;
    }
  }
  return {};
}

const std::vector<std::string>& known_allowed_annotations() {
  static const std::vector<std::string> names = {
      "io.kubernetes.cri-o.userns-mode",
      "io.kubernetes.cri-o.cgroup2-mount-hierarchy-rw",
      "io.kubernetes.cri-o.UnifiedCgroup",
      "io.kubernetes.cri-o.ShmSize",
      "io.kubernetes.cri-o.Devices",
      "cpu-load-balancing.crio.io",
      "cpu-quota.crio.io",
      "irq-load-balancing.crio.io",
      "io.containers.trace-syscall",
      "io.kubernetes.cri.rdt-class",
      "io.kubernetes.cri-o.TrySkipVolumeSELinuxLabel",
      "cpu-c-states.crio.io",
      "cpu-freq-governor.crio.io",
      "io.kubernetes.cri-o.seccompNotifierAction",
      "io.kubernetes.cri-o.umask",
      "io.kubernetes.cri-o.PodLinuxOverhead",
      "io.kubernetes.cri-o.PodLinuxResources",
      "io.kubernetes.cri-o.LinkLogs",
      "cpu-shared.crio.io",
      "bundle",
      "org.systemd.property.",
      "org.criu.config",
      "module.wasm.image/variant",
      "io.kubernetes.cri.container-type",
      "run.oci.",
  };
  return names;
}

const std::vector<std::string>& metric_collector_names() {
  static const std::vector<std::string> names = {
      "operations",
      "operations_latency_microseconds_total",
      "operations_latency_microseconds",
      "operations_errors",
      "image_pulls_by_digest",
      "image_pulls_by_name",
      "image_pulls_by_name_skipped",
      "image_pulls_failures",
      "image_pulls_successes",
      "image_pulls_layer_size",
      "image_layer_reuse",
      "containers_events_dropped_total",
      "containers_oom_total",
      "containers_oom",
      "processes_defunct",
      "operations_total",
      "operations_latency_seconds",
      "operations_latency_seconds_total",
      "operations_errors_total",
      "image_pulls_bytes_total",
      "image_pulls_skipped_bytes_total",
      "image_pulls_failure_total",
      "image_pulls_success_total",
      "image_layer_reuse_total",
      "containers_oom_count_total",
      "containers_seccomp_notifier_count_total",
      "resources_stalled_at_stage",
      // CRI-O v1.36's; the rest of its collectors are v1.29's.
      "default_runtime",
      // crio's own: CRI-O has no pod sandbox or container counts.
      "pod_sandboxes",
      "containers",
  };
  return names;
}

std::string strip_metric_collector_prefix(std::string_view name) {
  for (std::string_view prefix : {"container_runtime_", "crio_"}) {
    if (name.substr(0, prefix.size()) == prefix) name.remove_prefix(prefix.size());
  }
  return std::string(name);
}

std::string to_toml(const Config& config) { return write_toml(config, nullptr); }

std::string to_commented_toml(const Config& config, const Config& defaults) { return write_toml(config, &defaults); }

const std::vector<OptionInfo>& config_options() {
  static const std::vector<OptionInfo> all = [] {
    std::vector<OptionInfo> v;
    Config defaults = default_config();
    for (auto& d : options()) v.push_back(info(d, defaults, d.table));
    RuntimeHandler handler;
    for (auto& d : handler_options()) v.push_back(info(d, handler, std::string(kRuntimeHandlerTable)));
    return v;
  }();
  return all;
}

}  // namespace crio::core
