#pragma once
// An OCI runtime handler (runc, crun, ...) as the daemon configures it, and the
// checks that tell whether it can run containers on this host.

#include <crio/core/status.hpp>
#include <crio/oci/cgroup_driver.hpp>
#include <crio/oci/export.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace crio::oci {

struct RuntimeHandler {
  std::string name;          // the CRI runtime_handler that selects it
  std::string runtime_path;  // absolute path of the runtime binary
  std::string runtime_root;  // its private state directory (--root)
  std::string runtime_type = "oci";
  std::string monitor_path;  // conmon
  // conmon's whole environment (CRI-O's monitor_env), to which the sync pipe variables
  // and XDG_RUNTIME_DIR are added; unset: the caller's environment.
  std::optional<std::vector<std::string>> monitor_env;
  bool no_pivot = false;     // create with --no-pivot (a rootfs on a ramdisk cannot pivot_root)
  // How long stop() keeps killing a container that outlives SIGKILL (a runtime that
  // accepts the kill and does not deliver it, a process stuck in D state) before it
  // gives up: crio.conf's ctr_stop_timeout.
  std::chrono::seconds kill_timeout{std::chrono::minutes(5)};
  // crio.conf's cgroup_manager: with systemd every runtime call gets --systemd-cgroup
  // and conmon -s.
  CgroupDriver cgroup_driver;

  bool operator==(const RuntimeHandler&) const = default;
};

// Flags every call of the handler's runtime starts with: its private --root, then the
// cgroup driver's.
CRIO_OCI_EXPORT std::vector<std::string> runtime_global_args(const RuntimeHandler& handler);

// Runs `<runtime> --version` and returns its first line ("runc version 1.1.5").
CRIO_OCI_EXPORT Result<std::string> runtime_version(const std::string& runtime_path);

// The handler is usable: a supported type, an executable runtime and monitor.
// FailedPrecondition names the handler and what is missing.
CRIO_OCI_EXPORT Status check_handler(const RuntimeHandler& handler);

}  // namespace crio::oci
