#pragma once
// Pod sandboxes: their namespaces, network, hostname, DNS and /dev/shm, from
// RunPodSandbox to RemovePodSandbox; persisted so they survive a daemon restart or
// crash, and answered from memory for the kubelet's polling.

#include "cni_manager.hpp"
#include "creations.hpp"
#include "live_config.hpp"

#include <crio/core/config.hpp>
#include <crio/net/cni_types.hpp>
#include <crio/net/hostport.hpp>
#include <crio/oci/container_spec.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

namespace crio::daemon {

using NamespaceMode = oci::NamespaceMode;
enum class PodState { kReady = 0, kNotReady = 1 };

struct PodSpec {
  std::string name;
  std::string uid;
  std::string pod_namespace;
  uint32_t attempt = 0;
  std::string hostname;
  std::string log_directory;
  std::vector<std::string> dns_servers;
  std::vector<std::string> dns_searches;
  std::vector<std::string> dns_options;
  std::vector<net::PortMapping> port_mappings;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::map<std::string, std::string> sysctls;
  std::string runtime_handler;
  std::string cgroup_parent;
  NamespaceMode network = NamespaceMode::kPod;
  NamespaceMode pid = NamespaceMode::kPod;
  NamespaceMode ipc = NamespaceMode::kPod;
  std::string target_id;
  bool privileged = false;
};

struct Pod {
  std::string id;
  PodSpec spec;
  PodState state = PodState::kReady;
  int64_t created_at = 0;  // ns since the epoch
  std::string netns_path;  // empty with the host network
  std::string ipcns_path;  // empty with the host IPC namespace
  std::string utsns_path;  // empty with the host network
  std::string network_name;
  std::vector<std::string> ips;  // primary first
  std::string run_dir;           // hostname, resolv.conf, hosts, shm
  std::string shm_path;
  std::string resolv_path;
  std::string hostname_path;
  std::string hosts_path;
  std::string rootfs;  // the pause image's file system of a pod without infra container
};

struct PodFilter {
  std::string id;  // exact or unique prefix
  std::optional<PodState> state;
  std::map<std::string, std::string> label_selector;
};

// Checks that a sysctl may be set for a pod: only namespaced ones (net.*,
// kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*), with a one-line value.
Status validate_sysctl(const std::string& name, const std::string& value, const PodSpec& spec);
// True for a sysctl of a namespace the pod shares with the host (net.* on the host
// network, IPC ones in the host IPC namespace): CRI-O skips those rather than refuse.
bool sysctl_skipped(const std::string& name, const PodSpec& spec);
// What the pod's namespaces get: [crio.runtime] default_sysctls (KEY=VALUE), then the
// pod's own, without the skipped ones.
std::map<std::string, std::string> pod_sysctls(const core::Config& config, const PodSpec& spec);

class Pods : private CreationTable {
 public:
  Pods(const core::Config& config, const LiveConfig& live, CniManager& cni);
  ~Pods() override;

  // Reads every persisted pod, in the state it was recorded in.
  Status restore();

  // Makes the pod; `finish` (the infra container, when the pod has one, else the pod's
  // storage) runs as the last step of its creation, may fill in the pod's fields, and
  // its failure undoes the pod. `client_gone` tells
  // whether the caller stopped waiting (its deadline passed): the pod is then kept
  // unpublished for the retry the kubelet makes with the same name (see Creations).
  // A shared PID namespace needs a process to hold it; so does drop_infra_ctr = false,
  // which keeps an infra container for every pod.
  bool runs_infra(const PodSpec& spec) const { return spec.pid == NamespaceMode::kPod || !config_.drop_infra_ctr; }
  Result<std::string> run(const PodSpec& spec, const std::function<bool()>& client_gone = {},
                          const std::function<Status(Pod&)>& finish = {});
  // The emptyDir volume named by the pod's io.kubernetes.cri-o.LinkLogs annotation,
  // when its handler or workload allows the annotation.
  std::optional<std::string> link_logs_volume(const PodSpec& spec) const;
  // These three refuse a pod not yet published (FailedPrecondition), as list() omits it.
  Status stop(const std::string& id);
  Status remove(const std::string& id);
  Result<Pod> get(const std::string& id) const;
  // The pod's infra container exited: NOTREADY from now on (its network stays until
  // StopPodSandbox).
  void mark_not_ready(const std::string& id);
  std::vector<Pod> list(const PodFilter& filter = {}) const;

  // For the removal of pods no retry claimed (take_expired(), then discard()) and for
  // the stall metric.
  Creations& creations() { return creations_; }
  // Stops and removes a pod, published or not.
  Status discard(const std::string& id);
  // The pod's infra container exited (also while the daemon was down): as CRI-O, the
  // pod is NOTREADY from then on.
  void infra_exited(const std::string& id);

  // By full ID, published or not (restore's sweep of storage no pod owns).
  Result<Pod> lookup(const std::string& id) const;

  // "k8s_<name>_<namespace>_<uid>_<attempt>", the name a pod is reserved under.
  static std::string full_name(const PodSpec& spec);

 private:
  // CreationTable
  std::optional<std::string> published_holder(const std::string& name) const override;
  void publish(const std::string& id) override;
  void keep_unclaimed(const std::string& id) override;

  Result<std::string> create(const PodSpec& spec, const std::function<Status(Pod&)>& finish);
  Result<std::string> resolve_id(const std::string& id_or_prefix) const;
  // A published pod's full ID.
  Result<std::string> resolve_published(const std::string& id_or_prefix) const;
  Status stop_resolved(const std::string& id);
  Status remove_resolved(const std::string& id);
  Status persist(const Pod& pod) const;
  std::string state_file(const std::string& id) const;
  // `<state_dir>/<id>.creating`: the pod as its creation plans it, written before the
  // first thing on the host and removed once the state file is written or the creation
  // undone. A restart finds it only after a crash mid-creation, and undoes what it names.
  std::string intent_file(const std::string& id) const;
  void undo_interrupted_creation(Pod& pod);
  std::shared_ptr<std::mutex> lock_for(const std::string& id);
  Status teardown_network(Pod& pod);
  // The pod's host ports to its first address of each family (CRI-O's hostport
  // manager), unless disable_hostport_mapping; unmap_host_ports() only warns.
  Status map_host_ports(const Pod& pod);
  void unmap_host_ports(const Pod& pod);

  const core::Config& config_;
  const LiveConfig& live_;
  CniManager& cni_;
  std::unique_ptr<net::HostportManager> hostports_;  // null with disable_hostport_mapping
  std::string state_dir_;
  std::string run_root_;

  Creations creations_{*this, "sandbox"};
  Unpublished unpublished_{state_dir_};
  mutable std::shared_mutex mutex_;
  // Guarded by mutex_:
  std::map<std::string, Pod> pods_;                            // by ID
  std::map<std::string, std::string> names_;                   // full name → ID
  std::map<std::string, std::shared_ptr<std::mutex>> pod_locks_;
};

}  // namespace crio::daemon
