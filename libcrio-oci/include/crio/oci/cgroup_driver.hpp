#pragma once
// The two ways CRI-O makes cgroups (crio.conf's cgroup_manager), as one model the
// daemon asks for every cgroup decision: which pod cgroup parents are valid, the
// container's OCI cgroupsPath, where conmon goes, which flags runc/crun and conmon
// get, and where a container's cgroup lies in cgroupfs.
//
// cgroupfs: parents are cgroupfs paths ("/kubepods/burstable/pod<uid>"); a container
// is "<parent>/crio-<id>", conmon "<parent>/crio-conmon-<id>", made by us.
// systemd: parents are slices ("kubepods-burstable-pod<uid>.slice", systemd expands
// each dash into a level of the tree); a container is the scope "crio-<id>.scope" in
// it (cgroupsPath "<slice>:crio:<id>", made by the runtime through systemd), conmon
// the scope "crio-conmon-<id>.scope" in the pod's slice or in a configured slice.

#include <crio/core/status.hpp>
#include <crio/oci/cgroup_stats.hpp>
#include <crio/oci/export.hpp>
#include <crio/oci/spec.hpp>

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace crio::core {
struct Config;
}

namespace crio::oci {

// "a-b-c.slice" → "/a.slice/a-b.slice/a-b-c.slice", "-.slice" → "/", as systemd lays
// slices out in cgroupfs. InvalidArgument for a name that is no valid slice name.
CRIO_OCI_EXPORT Result<std::string> expand_slice(const std::string& slice);

// Where conmon runs: a cgroupfs path we create, or a systemd scope (made through
// systemd's D-Bus API) in a slice. Neither set: conmon stays in crio's cgroup.
struct ConmonCgroup {
  std::string cgroupfs_path;  // cgroupfs: "<parent>/crio-conmon-<id>"
  std::string scope;          // systemd: "crio-conmon-<id>.scope"
  std::string slice;          // systemd: the slice of the scope; empty: systemd's default
};

class CRIO_OCI_EXPORT CgroupDriver {
 public:
  enum class Kind { kCgroupfs, kSystemd };

  CgroupDriver() = default;  // cgroupfs
  explicit CgroupDriver(Kind kind) : kind_(kind) {}
  // "cgroupfs" or "systemd"; InvalidArgument otherwise.
  static Result<CgroupDriver> from_name(std::string_view name);
  // crio.conf's cgroup_manager (validated when the configuration was loaded).
  static CgroupDriver of(const core::Config& config);

  Kind kind() const { return kind_; }
  bool systemd() const { return kind_ == Kind::kSystemd; }
  bool operator==(const CgroupDriver&) const = default;
  std::string_view name() const { return systemd() ? "systemd" : "cgroupfs"; }

  // A pod's cgroup parent as kept for the pod. cgroupfs: as given. systemd: the slice
  // name (the last element of an expanded path, as CRI-O takes it); InvalidArgument,
  // naming the pod, when it is no slice. Empty stays empty.
  Result<std::string> pod_parent(const std::string& pod, const std::string& parent) const;

  // The OCI linux.cgroupsPath of container `id` under the pod's parent. cgroupfs:
  // "<parent or /crio>/crio-<id>"; systemd: "<parent or system.slice>:crio:<id>".
  std::string cgroups_path(const std::string& parent, const std::string& id) const;

  // The container's cgroup as a path under each hierarchy's root. systemd:
  // "<expanded slice>/crio-<id>.scope". cgroupfs: cgroups_path().
  Result<std::string> container_cgroup(const std::string& parent, const std::string& id) const;

  // The cgroup CRI-O makes for a pod whose infra container is dropped (so that the pod
  // has a cgroup of its own, which cAdvisor looks for): "<parent>/crio-<pod id>" (the
  // expanded slice with systemd). Empty with systemd and no parent: none is made.
  Result<std::string> dropped_infra_cgroup(const std::string& parent, const std::string& pod_id) const;

  // Where conmon of container `id` goes for the handler's monitor_cgroup ("pod", or
  // with systemd a NAME.slice). InvalidArgument for any other value, as CRI-O
  // refuses it: with cgroupfs only "pod" (or empty), with systemd "pod" or a slice.
  Result<ConmonCgroup> conmon_cgroup(const std::string& monitor_cgroup, const std::string& parent,
                                     const std::string& id) const;
  // The check of conmon_cgroup above alone: an empty string when `monitor_cgroup` is
  // valid for this driver, else why not.
  std::string check_monitor_cgroup(const std::string& monitor_cgroup) const;

  // Flags every runc/crun call gets, after --root ("--systemd-cgroup" with systemd).
  std::vector<std::string> runtime_args() const;
  // Flags conmon gets ("-s" with systemd: it passes --systemd-cgroup on to the runtime
  // and looks for the container's cgroup there).
  std::vector<std::string> conmon_args() const;

  // The container's resource usage. systemd: read from its scope's cgroupfs
  // directories (v1 or v2). cgroupfs: from /proc/<pid>/cgroup, since runc and crun
  // place a v1 container's cgroups relative to different roots.
  Result<CgroupStats> container_stats(const std::string& parent, const std::string& id, pid_t pid) const;

 private:
  Kind kind_ = Kind::kCgroupfs;
};

// The busctl command that asks systemd (StartTransientUnit, as CRI-O does over D-Bus)
// to put `pid` into the transient scope `c.scope` in `c.slice`, with systemd's kill
// signal SIGPIPE (conmon ignores it: on shutdown conmon waits for its container) and
// `cpu` (cpus, shares, quota/period) as the scope's properties.
CRIO_OCI_EXPORT std::vector<std::string> systemd_scope_command(pid_t pid, const ConmonCgroup& c,
                                                               const CpuResources& cpu);

// Runs systemd_scope_command() and waits until `pid` is in the scope (its
// /proc/<pid>/cgroup names it) or `timeout` passes.
CRIO_OCI_EXPORT Status move_to_systemd_scope(pid_t pid, const ConmonCgroup& c, const CpuResources& cpu,
                                             std::chrono::milliseconds timeout);

// Usage of the cgroup at `path` (under each hierarchy's root), v1 or v2.
CRIO_OCI_EXPORT Result<CgroupStats> cgroup_stats_at(const std::string& path);

}  // namespace crio::oci
