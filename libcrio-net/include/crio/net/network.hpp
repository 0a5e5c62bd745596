#pragma once
// Attaching pods to a CNI network: runs the plugins of one network configuration
// list the way the CNI spec (0.1.0 … 1.0.0) describes, and caches each ADD result on
// disk so DEL works after a restart. No daemon types: usable from any tool.

#include <crio/core/status.hpp>
#include <crio/net/cni_config.hpp>
#include <crio/net/cni_types.hpp>
#include <crio/net/export.hpp>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace crio::net {

struct NetworkOptions {
  std::vector<std::string> plugin_dirs = {"/opt/cni/bin", "/usr/lib/cni"};
  // Holds `results/<network>-<container-id>-<ifname>`; must survive a daemon restart.
  std::string cache_dir = "/var/lib/cni";
  // A plugin still running after this long is killed and the call fails.
  std::chrono::milliseconds plugin_timeout{std::chrono::seconds(60)};
  // When the list has no "loopback" plugin, attach() sets `lo` up itself (an ioctl
  // from a throwaway thread; no exec).
  bool ensure_loopback = true;
};

// One pod's attachment. netns_path is a pin from pin_new_namespace() (or any netns file).
struct PodNetworkRequest {
  std::string container_id;  // the sandbox ID: CNI_CONTAINERID and K8S_POD_INFRA_CONTAINER_ID
  std::string netns_path;    // CNI_NETNS
  std::string ifname = "eth0";
  std::string pod_name;
  std::string pod_namespace;
  std::string pod_uid;
  // Capability arguments; each is only given to plugins whose "capabilities" declare it.
  std::vector<PortMapping> port_mappings;  // entries with host_port 0 are skipped, as the kubelet does
  std::optional<BandwidthLimits> bandwidth;
  std::optional<DnsConfig> dns;
  // "io.kubernetes.cri.pod-annotations": the pod's annotations, for plugins (such as
  // Multus or a policy plugin) that act on them. Set for every pod, even with none.
  std::optional<std::map<std::string, std::string>> pod_annotations;
  // "cgroupPath": the pod's cgroup parent, for plugins that account traffic per cgroup.
  std::string cgroup_path;
};

struct AttachResult {
  std::string network_name;
  std::string ifname;
  std::vector<std::string> ips;  // without prefix length, primary first (see pod_ips())
  CniResult result;              // the final result of the list
};

class CRIO_NET_EXPORT Network {
 public:
  Network(NetworkConfigList config, NetworkOptions options);
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  const NetworkConfigList& config() const { return config_; }
  const NetworkOptions& options() const { return options_; }

  // ADD: every plugin in order, each given the previous one's result as prevResult.
  // AlreadyExists when the attachment has a cached result (detach it first).
  // If plugin k fails (or times out, or the cache cannot be written), plugins k…0
  // get DEL in reverse order, so nothing is left behind, and the error names the
  // network, the plugin and its message.
  Result<AttachResult> attach(const PodNetworkRequest& request);

  // DEL: every plugin in reverse order with the cached ADD result as prevResult (spec
  // 0.4.0+) and the capability arguments used at ADD time; the cache entry goes once
  // all succeeded. Idempotent, and works from the cache after a restart with a new
  // Network object (the cached configuration is used when there is one).
  //
  // Speed: removing the netns pin (remove_pinned_namespace) BEFORE detach() makes the
  // kernel drop the pod's veth with the namespace, and the plugins then skip the
  // per-interface work (measured: bridge DEL 39 ms → 11 ms). detach() does not need
  // the netns to exist; with an empty netns_path the cached one is passed on.
  //
  // A Network built from a NetworkConfigList holding only a `name` (no json) is
  // "cache-only": it detaches from the cached configuration, and returns OK when
  // there is no cache entry (nothing is known, nothing to undo). Use it when the
  // pod's network is no longer the configured one.
  Status detach(const PodNetworkRequest& request);

  // CHECK, in order, against the cached result. OK without running anything when the
  // list sets disableCheck or its version predates CHECK (< 0.4.0). FailedPrecondition
  // when there is no cached result for the attachment.
  Status check(const PodNetworkRequest& request);

  // Asks every plugin of the list (CNI VERSION) whether it supports the list's
  // cniVersion; FailedPrecondition naming the plugin otherwise. One exec per plugin:
  // for loading a configuration, not for every pod.
  Status validate() const;

  // The cached ADD result of an attachment (e.g. to report pod IPs after a restart).
  // NotFound when there is none.
  Result<AttachResult> cached_attachment(const PodNetworkRequest& request) const;

  // The node's pod CIDR (UpdateRuntimeConfig). When set, plugins declaring the
  // "ipRanges" capability (host-local) allocate from it. Empty clears it.
  Status set_pod_cidr(const std::string& cidr);
  std::string pod_cidr() const;

  // Where the ADD result of (container_id, ifname) is cached.
  std::string cache_path(const std::string& container_id, const std::string& ifname) const;

 private:
  class KeyLock;

  NetworkConfigList config_;
  NetworkOptions options_;

  mutable std::mutex mu_;
  std::string pod_cidr_;        // guarded by mu_
  std::set<std::string> busy_;  // attachments with a call in flight; guarded by mu_
  std::condition_variable busy_cv_;
};

}  // namespace crio::net
