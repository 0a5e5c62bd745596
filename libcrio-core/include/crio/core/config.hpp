#pragma once
// The daemon's configuration: crio.conf (TOML) with drop-ins, storage.conf, and
// command-line flags, with the option names and defaults of CRI-O's crio.conf(5).
// Every option is described once in a table (config.cpp) that drives the TOML
// reader, the TOML writer and the command-line flags, so they cannot drift apart.

#include <crio/core/export.hpp>
#include <crio/core/status.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crio::core {

// [crio.runtime.runtimes.<name>]
struct RuntimeHandler {
  std::string runtime_path;          // empty → looked up as <name> in $PATH
  std::string runtime_type = "oci";  // "oci", "vm" or "pod"
  std::string runtime_root;          // empty → /run/<name>
  std::string runtime_config_path;   // only for runtime_type "vm"
  // The monitor (conmon) of this handler's containers. Loading copies [crio.runtime]
  // conmon, conmon_cgroup and conmon_env over these when those are set, as CRI-O does.
  std::string monitor_path;  // empty → "conmon" looked up in $PATH when the daemon starts
  std::string monitor_cgroup;
  std::vector<std::string> monitor_env;
  std::vector<std::string> allowed_annotations;
  bool privileged_without_host_devices = false;

  bool operator==(const RuntimeHandler&) const = default;
};

// [crio.runtime.workloads.<name>.resources]: what the containers of an activated
// workload get unless their own annotation says otherwise. Zero or empty: not set.
struct WorkloadResources {
  int64_t cpushares = 0;
  int64_t cpuquota = 0;   // microseconds per period
  int64_t cpuperiod = 0;  // microseconds
  std::string cpuset;     // "0-1"
  int64_t cpulimit = 0;   // millicores; turned into cpuquota over cpuperiod

  bool operator==(const WorkloadResources&) const = default;
};

// [crio.runtime.workloads.<name>]: a pod carrying activation_annotation gets these
// settings; "<annotation_prefix>/<container name>" = '{"cpuset": "0-1", ...}' on the pod
// (for conmon: on the container, with the name "POD") overrides the defaults.
struct Workload {
  std::string activation_annotation;
  std::string annotation_prefix;
  std::vector<std::string> allowed_annotations;
  WorkloadResources resources;

  bool operator==(const Workload&) const = default;
};

// The annotations a runtime handler's or a workload's allowed_annotations may name
// (CRI-O v1.29's list); a name ending in "." allows every annotation it prefixes.
CRIO_CORE_EXPORT const std::vector<std::string>& known_allowed_annotations();
// True for the allowable annotations crio acts on (ShmSize, Devices, umask, LinkLogs).
// The others may be allowed, as CRI-O's configurations do, but a pod or container that
// carries one where it is allowed is refused rather than run without it.
CRIO_CORE_EXPORT bool annotation_implemented(const std::string& name);
// The known allowable annotation `name` is, or starts with (for those CRI-O reads per
// container, "<annotation>.<container>"); empty when none.
CRIO_CORE_EXPORT std::string known_allowed_annotation_of(const std::string& name);

// The names metrics_collectors takes: CRI-O v1.29's collectors, without the
// "container_runtime_" and "crio_" prefixes (which a configured name may carry),
// v1.36's default_runtime, and crio's own pod_sandboxes and containers.
CRIO_CORE_EXPORT const std::vector<std::string>& metric_collector_names();
// A configured collector name without those prefixes.
CRIO_CORE_EXPORT std::string strip_metric_collector_prefix(std::string_view name);

struct Config {
  // [crio]
  std::string root = "/var/lib/containers/storage";
  std::string runroot = "/run/containers/storage";
  std::string imagestore;  // images and their layers apart from root; "" for none
  std::string storage_driver = "overlay";
  std::vector<std::string> storage_option;
  std::string log_dir = "/var/log/crio/pods";
  std::string version_file = "/var/run/crio/version";
  std::string version_file_persist = "";
  std::string clean_shutdown_file = "/var/lib/crio/clean.shutdown";
  bool internal_wipe = true;
  bool internal_repair = false;

  // [crio.api]
  std::string listen = "/var/run/crio/crio.sock";
  std::string stream_address = "127.0.0.1";
  std::string stream_port = "0";
  bool stream_enable_tls = false;
  std::string stream_idle_timeout = "";
  std::string stream_tls_cert = "";
  std::string stream_tls_key = "";
  std::string stream_tls_ca = "";
  int64_t grpc_max_send_msg_size = 80 * 1024 * 1024;
  int64_t grpc_max_recv_msg_size = 80 * 1024 * 1024;

  // [crio.runtime]
  std::string default_runtime = "runc";
  std::map<std::string, RuntimeHandler> runtimes;  // filled with runc and crun by default
  // Deprecated in CRI-O in favour of the handlers' monitor_* fields; when set, they
  // override those of every "oci" handler (see RuntimeHandler).
  std::string conmon;
  std::string conmon_cgroup;
  std::vector<std::string> conmon_env;
  std::vector<std::string> default_env;
  std::vector<std::string> default_ulimits;
  bool no_pivot = false;
  bool selinux = false;
  std::string seccomp_profile = "";
  std::string decryption_keys_path = "/etc/crio/keys/";
  bool seccomp_use_default_when_empty = true;
  std::string apparmor_profile = "crio-default";
  std::string cgroup_manager = "cgroupfs";
  std::vector<std::string> default_capabilities = {"CHOWN",  "DAC_OVERRIDE", "FSETID",           "FOWNER", "SETGID",
                                                   "SETUID", "SETPCAP",      "NET_BIND_SERVICE", "KILL"};
  bool add_inheritable_capabilities = false;
  std::vector<std::string> default_sysctls;
  std::vector<std::string> additional_devices;
  std::vector<std::string> allowed_devices = {"/dev/fuse"};
  std::vector<std::string> hooks_dir = {"/usr/share/containers/oci/hooks.d"};
  std::string default_mounts_file = "";
  int64_t pids_limit = -1;
  int64_t log_size_max = -1;
  bool log_to_journald = false;
  std::string container_exits_dir = "/var/run/crio/exits";
  std::string container_attach_socket_dir = "/var/run/crio";
  std::string bind_mount_prefix = "";
  bool read_only = false;
  std::string log_level = "info";
  std::string log_filter = "";
  std::string uid_mappings = "";
  std::string gid_mappings = "";
  int64_t ctr_stop_timeout = 30;
  bool drop_infra_ctr = true;
  bool disable_hostport_mapping = false;
  std::string infra_ctr_cpuset = "";
  std::string namespaces_dir = "/var/run";
  std::string pinns_path = "";
  std::vector<std::string> absent_mount_sources_to_reject;
  bool enable_criu_support = false;
  bool enable_pod_events = false;
  std::string irqbalance_config_file = "/etc/sysconfig/irqbalance";
  std::string irqbalance_config_restore_file = "/etc/sysconfig/orig_irq_banned_cpus";  // "disable": no restore
  std::map<std::string, Workload> workloads;  // [crio.runtime.workloads.<name>]

  // [crio.image]
  std::string default_transport = "docker://";
  std::string global_auth_file = "";
  std::string pause_image = "registry.k8s.io/pause:3.9";
  std::string pause_image_auth_file = "";
  std::string pause_command = "/pause";
  std::vector<std::string> pinned_images;
  std::string signature_policy = "";
  std::string signature_policy_dir = "/etc/crio/policies";
  std::vector<std::string> insecure_registries;
  // Registries tried for short image names before registries.conf's
  // unqualified-search-registries (CRI-O's deprecated --registry).
  std::vector<std::string> registries;
  std::string image_volumes = "mkdir";
  std::string big_files_temporary_dir = "";
  std::string pull_progress_timeout = "0s";
  int64_t max_parallel_downloads = 6;
  std::string short_name_mode = "enforcing";

  // [crio.network]
  std::string cni_default_network = "";
  std::string network_dir = "/etc/cni/net.d/";
  std::vector<std::string> plugin_dirs = {"/opt/cni/bin/", "/usr/lib/cni/"};

  // [crio.metrics]
  bool enable_metrics = false;
  // Every collector (metric_collector_names()), as CRI-O v1.29 enables all of its own.
  std::vector<std::string> metrics_collectors = metric_collector_names();
  std::string metrics_host = "127.0.0.1";
  int64_t metrics_port = 9090;
  std::string metrics_socket = "";
  std::string metrics_cert = "";
  std::string metrics_key = "";

  // [crio.stats]
  int64_t stats_collection_period = 0;
  int64_t collection_period = 0;

  bool operator==(const Config&) const = default;
};

// The built-in defaults: Config{} plus the runc and crun handlers.
CRIO_CORE_EXPORT Config default_config();

// Where configuration comes from, in increasing precedence:
// defaults < storage.conf < config_file < config_dir/*.conf (name order) < flags.
struct ConfigSources {
  std::string config_file = "/etc/crio/crio.conf";  // empty: no configuration file
  std::string config_dir = "/etc/crio/crio.conf.d";  // empty: no drop-ins
  // Set when the file was named (-c, $CONTAINER_CONFIG): then a missing file is an error.
  bool config_file_named = false;
  // Empty: $CONTAINERS_STORAGE_CONF, else /etc/containers/storage.conf.
  std::string storage_conf;
  // Values given on the command line, by option key ("log_level", "root", ...);
  // a list-valued option may carry several values.
  std::vector<std::pair<std::string, std::vector<std::string>>> flags;
  // --runtimes entries, "name:path:root[:type[:privileged_without_host_devices[:config_path]]]";
  // each replaces the handler of that name. Applied with the flags.
  std::vector<std::string> runtimes;
};

// A missing config file or drop-in directory is not an error (unless the file was named).
// Drop-ins are every regular file under config_dir, recursively, in lexical path order
// (as CRI-O walks it). Keys the project does
// not know are reported in `warnings` ("FILE:LINE: unknown key crio.runtime.foo")
// and otherwise ignored; a syntax error, a wrong type or an invalid value is an
// InvalidArgument error naming the file, line and key. Values are checked once all
// sources are merged (a drop-in may correct an earlier file); the error then names
// the source that set the value last ("FILE:LINE" or "command line flag --x").
CRIO_CORE_EXPORT Result<Config> load_config(const ConfigSources& sources, std::vector<std::string>& warnings);

// Parses one TOML document over `config` (what a drop-in does). `source` names it in
// errors. The options the document sets are type- and value-checked; rules across
// options are left to validate(). On error `config` is unchanged.
CRIO_CORE_EXPORT Status apply_toml(Config& config, std::string_view toml_text, std::string_view source,
                                   std::vector<std::string>& warnings);

// Checks every value and the cross-field rules: the default runtime names a handler,
// paths are absolute, the cgroup manager and storage driver are known, sizes are
// positive, TLS files come in pairs.
CRIO_CORE_EXPORT Status validate(const Config& config);

// The configuration as TOML, every implemented option present, that load_config reads
// back to an equal Config.
CRIO_CORE_EXPORT std::string to_toml(const Config& config);

// What `crio config` prints, in CRI-O's manner: each option with its description, those
// equal to `defaults` commented out ("# key = value"), so the output loads as a drop-in
// that changes only what differs. The runtime handler tables are commented out when
// all of them equal the defaults' handlers.
CRIO_CORE_EXPORT std::string to_commented_toml(const Config& config, const Config& defaults);

// The defaults as load_config starts from them for `sources`: default_config() with
// storage.conf applied (CRI-O takes its storage defaults from there too).
CRIO_CORE_EXPORT Result<Config> defaults_for(const ConfigSources& sources);

// Checks made only when the daemon is about to serve, as CRI-O's validation "on
// execution": a handler without monitor_path gets conmon from $PATH, pinns_path (when
// set) must be an executable file. `notes` receives what is worth logging (AppArmor
// disabled because the host has none, ...).
CRIO_CORE_EXPORT Status prepare_for_execution(Config& config, std::vector<std::string>& notes);

// CRI-O's irqbalance restore at start-up (see irqbalance_config_restore_file in
// crio.conf(5)). `smp_affinity_file` is /proc/irq/default_smp_affinity outside tests.
// Returns what was done, for the log.
CRIO_CORE_EXPORT Result<std::string> restore_irqbalance_config(const std::string& config_file,
                                                               const std::string& restore_file,
                                                               const std::string& smp_affinity_file);

// One entry per option, for flags, docs checks and `crio config`.
enum class OptionType { kString, kBool, kInt, kStringList };

struct OptionInfo {
  std::string table;  // "crio.runtime"; "crio.runtime.runtimes.*" for runtime handler fields
  std::string key;    // "log_level"
  std::string flag;   // "log-level", or empty when the option has no flag
  std::string help;
  OptionType type = OptionType::kString;
  char short_flag = 0;        // 'l' for -l, 0 when there is none
  std::string env;            // CRI-O's environment variable for the flag ("CONTAINER_LOG_LEVEL"), or empty
  std::string default_value;  // the built-in default, written as TOML ("\"info\"", "true", "[]")
  std::string dotted() const { return table + "." + key; }
};
CRIO_CORE_EXPORT const std::vector<OptionInfo>& config_options();

// Key names under [crio.runtime.runtimes.<handler>] are listed in config_options() with
// table "crio.runtime.runtimes.*"; this is that table name.
inline constexpr std::string_view kRuntimeHandlerTable = "crio.runtime.runtimes.*";

// Parses a Go-style duration as CRI-O's options take it ("0s", "1m30s", "500ms", "1.5h").
// An empty string is zero.
CRIO_CORE_EXPORT Result<std::chrono::nanoseconds> parse_duration(std::string_view text);

// The storage.conf path load_config uses for `sources`: sources.storage_conf, else
// $CONTAINERS_STORAGE_CONF, else /etc/containers/storage.conf.
CRIO_CORE_EXPORT std::string storage_conf_path(const ConfigSources& sources);

}  // namespace crio::core
