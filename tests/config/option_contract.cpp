// One line per crio.conf option: how its contract is kept (see option_contract.hpp).
// At a merge, a kPending line becomes {option, kTest, "name of the behaviour test"}.

#include "option_contract.hpp"

namespace crio::test {

const std::vector<OptionContract>& option_contracts() {
  using C = OptionContract;
  static const std::vector<OptionContract> table = {
      // [crio]
      {"crio.root", C::kTest, "Pulled images survive a graceful restart and a kill -9"},
      {"crio.runroot", C::kTest, "Pulled images survive a graceful restart and a kill -9"},
      {"crio.storage_driver", C::kUntested, "passed to the store; no test runs the daemon on vfs"},
      {"crio.storage_option", C::kUntested, "passed to the store"},
      {"crio.log_dir", C::kUntested, "used for container logs when the kubelet names no directory"},
      {"crio.version_file", C::kUntested, "written at start-up"},
      {"crio.version_file_persist", C::kUntested, "written at start-up"},
      {"crio.clean_shutdown_file", C::kTest, "SIGTERM stops gracefully: socket removed, clean-shutdown marker written"},
      {"crio.internal_wipe", C::kRefused, "false"},

      // [crio.api]
      {"crio.api.listen", C::kTest, "The socket is created 0660 in a created directory"},
      {"crio.api.stream_address", C::kUntested, "the streaming server's address"},
      {"crio.api.stream_port", C::kUntested, "the streaming server's port"},
      {"crio.api.stream_enable_tls", C::kTest, "TLS: crio.conf's stream_tls_* settings reach the server options"},
      {"crio.api.stream_idle_timeout", C::kUntested, "the streaming server's idle timeout"},
      {"crio.api.stream_tls_cert", C::kTest, "TLS: crio.conf's stream_tls_* settings reach the server options"},
      {"crio.api.stream_tls_key", C::kTest, "TLS: crio.conf's stream_tls_* settings reach the server options"},
      {"crio.api.stream_tls_ca", C::kTest,
       "TLS: with stream_tls_ca only clients with a certificate signed by that CA are served"},
      {"crio.api.grpc_max_send_msg_size", C::kUntested, "set on the gRPC server"},
      {"crio.api.grpc_max_recv_msg_size", C::kTest,
       "Garbage bytes and oversized messages get errors, the daemon keeps serving"},

      // [crio.runtime]
      {"crio.runtime.default_runtime", C::kTest, "Version, Status and RuntimeConfig answer per the CRI"},
      {"crio.runtime.conmon", C::kTest,
       "conmon, conmon_cgroup and conmon_env are copied over the oci handlers' monitor fields"},
      {"crio.runtime.conmon_cgroup", C::kPending, "daemon helper (conmon cgroup placement)"},
      {"crio.runtime.conmon_env", C::kPending, "daemon helper (conmon environment)"},
      {"crio.runtime.default_env", C::kUntested, "added to every container's environment"},
      {"crio.runtime.default_ulimits", C::kTest,
       "hooks_dir hooks run at prestart and poststop for the containers they match and default_ulimits apply"},
      {"crio.runtime.no_pivot", C::kPending, "spec helper"},
      {"crio.runtime.selinux", C::kRefused, "true"},
      {"crio.runtime.seccomp_use_default_when_empty", C::kTest,
       "seccomp_use_default_when_empty = false runs a container that names no profile unconfined"},
      {"crio.runtime.add_inheritable_capabilities", C::kTest,
       "add_inheritable_capabilities makes the capabilities inheritable too"},
      {"crio.runtime.seccomp_profile", C::kUntested, "the RuntimeDefault profile"},
      {"crio.runtime.apparmor_profile", C::kTest,
       "prepare_for_execution: conmon from $PATH, pinns_path checked, AppArmor disabled where the host has none"},
      {"crio.runtime.cgroup_manager", C::kUntested, "cgroupfs is the only manager this host has"},
      {"crio.runtime.default_capabilities", C::kUntested, "the capabilities of every container"},
      {"crio.runtime.default_sysctls", C::kPending, "spec helper"},
      {"crio.runtime.additional_devices", C::kPending, "spec helper"},
      {"crio.runtime.allowed_devices", C::kPending, "spec helper"},
      {"crio.runtime.hooks_dir", C::kTest,
       "hooks_dir hooks run at prestart and poststop for the containers they match and default_ulimits apply"},
      {"crio.runtime.default_mounts_file", C::kPending, "spec helper"},
      {"crio.runtime.pids_limit", C::kUntested, "the pids limit of every container"},
      {"crio.runtime.log_size_max", C::kUntested, "passed to conmon"},
      {"crio.runtime.log_to_journald", C::kRefused, "true"},
      {"crio.runtime.container_exits_dir", C::kUntested, "conmon's --exit-dir"},
      {"crio.runtime.container_attach_socket_dir", C::kUntested, "conmon's --socket-dir-path"},
      {"crio.runtime.bind_mount_prefix", C::kPending, "spec helper"},
      {"crio.runtime.read_only", C::kPending, "spec helper"},
      {"crio.runtime.log_level", C::kTest, "SIGHUP reloads the log level, gRPC calls are logged at debug"},
      {"crio.runtime.log_filter", C::kTest, "log_filter keeps only the messages that match and is replaced on reload"},
      {"crio.runtime.uid_mappings", C::kRefused, "\"0:100000:65536\""},
      {"crio.runtime.gid_mappings", C::kRefused, "\"0:100000:65536\""},
      {"crio.runtime.ctr_stop_timeout", C::kPending, "daemon helper"},
      {"crio.runtime.drop_infra_ctr", C::kUntested, "pods without a shared PID namespace get no infra container"},
      {"crio.runtime.infra_ctr_cpuset", C::kPending, "daemon helper"},
      {"crio.runtime.namespaces_dir", C::kUntested, "where pod namespaces are pinned"},
      {"crio.runtime.pinns_path", C::kTest,
       "prepare_for_execution: conmon from $PATH, pinns_path checked, AppArmor disabled where the host has none"},
      {"crio.runtime.absent_mount_sources_to_reject", C::kUntested, "checked on container creation"},
      {"crio.runtime.enable_pod_events", C::kTest, "Pod sandbox stats sum the running containers and filter pods"},
      {"crio.runtime.enable_criu_support", C::kRefused, "true"},
      {"crio.runtime.irqbalance_config_file", C::kTest,
       "irqbalance restore: the banned CPUs are saved after a boot and written back when they changed"},
      {"crio.runtime.irqbalance_config_restore_file", C::kTest,
       "irqbalance restore: the banned CPUs are saved after a boot and written back when they changed"},

      // [crio.runtime.runtimes.NAME]
      {"crio.runtime.runtimes.*.runtime_path", C::kUntested, "the OCI runtime binary"},
      {"crio.runtime.runtimes.*.runtime_type", C::kRefused, "\"vm\""},
      {"crio.runtime.runtimes.*.runtime_root", C::kUntested, "the runtime's --root"},
      {"crio.runtime.runtimes.*.runtime_config_path", C::kRefused, "\"/etc/kata/configuration.toml\""},
      {"crio.runtime.runtimes.*.monitor_path", C::kTest,
       "conmon, conmon_cgroup and conmon_env are copied over the oci handlers' monitor fields"},
      {"crio.runtime.runtimes.*.monitor_cgroup", C::kPending, "daemon helper"},
      {"crio.runtime.runtimes.*.monitor_env", C::kPending, "daemon helper"},
      {"crio.runtime.runtimes.*.allowed_annotations", C::kPending, "spec helper"},
      {"crio.runtime.runtimes.*.privileged_without_host_devices", C::kPending, "spec helper"},

      // [crio.image]
      {"crio.image.default_transport", C::kRefused, "\"oci:\""},
      {"crio.image.global_auth_file", C::kUntested, "credentials for every pull"},
      {"crio.image.pause_image", C::kUntested, "the infra container's image"},
      {"crio.image.pause_image_auth_file", C::kPending, "daemon helper"},
      {"crio.image.pause_command", C::kUntested, "the infra container's command"},
      {"crio.image.pinned_images", C::kTest, "pinned_images marks images by exact name and by glob"},
      {"crio.image.signature_policy", C::kTest,
       "policy.json decides: reject, per-namespace policies and cosign signatures"},
      {"crio.image.signature_policy_dir", C::kTest,
       "policy.json decides: reject, per-namespace policies and cosign signatures"},
      {"crio.image.insecure_registries", C::kTest,
       "registries: drop-ins override in name order and crio.conf insecure list merges"},
      {"crio.image.registries", C::kTest,
       "crio.image.registries (--registry) is searched for short names before registries.conf's list"},
      {"crio.image.image_volumes", C::kPending, "spec helper"},
      {"crio.image.big_files_temporary_dir", C::kRefused, "\"/var/tmp/big\""},
      {"crio.image.pull_progress_timeout", C::kUntested, "the pull stall timeout"},
      {"crio.image.max_parallel_downloads", C::kTest, "pull: concurrent pulls share layer downloads"},
      {"crio.image.short_name_mode", C::kTest,
       "An ambiguous short name is refused in enforcing mode and tried in order in permissive mode"},

      // [crio.network]
      {"crio.network.cni_default_network", C::kUntested, "the CNI network pods join"},
      {"crio.network.network_dir", C::kTest, "NetworkReady turns true when a CNI config appears, without a restart"},
      {"crio.network.plugin_dirs", C::kUntested, "where CNI plugins are looked up"},

      // [crio.metrics]
      {"crio.metrics.enable_metrics", C::kRefused, "true"},
      {"crio.metrics.metrics_collectors", C::kTest,
       "the metrics options are unused while enable_metrics is false, as in CRI-O, and enable_metrics is refused"},
      {"crio.metrics.metrics_host", C::kTest,
       "the metrics options are unused while enable_metrics is false, as in CRI-O, and enable_metrics is refused"},
      {"crio.metrics.metrics_port", C::kTest,
       "the metrics options are unused while enable_metrics is false, as in CRI-O, and enable_metrics is refused"},
      {"crio.metrics.metrics_socket", C::kTest,
       "the metrics options are unused while enable_metrics is false, as in CRI-O, and enable_metrics is refused"},
      {"crio.metrics.metrics_cert", C::kTest,
       "the metrics options are unused while enable_metrics is false, as in CRI-O, and enable_metrics is refused"},
      {"crio.metrics.metrics_key", C::kTest,
       "the metrics options are unused while enable_metrics is false, as in CRI-O, and enable_metrics is refused"},

      // [crio.stats]
      {"crio.stats.stats_collection_period", C::kRefused, "10"},
      {"crio.stats.collection_period", C::kRefused, "5"},
  };
  return table;
}

}  // namespace crio::test
