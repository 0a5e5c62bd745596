#pragma once
// A pod's host ports, mapped by the runtime itself as CRI-O does (its hostport
// manager), not by a CNI plugin: iptables rules in the nat table that DNAT traffic
// for a host port (from outside and generated on the node itself, to any local
// address) to the pod's address, and masquerade a pod reaching itself through its own
// host port (hairpin). While mapped, the manager also holds each host port open, so
// another process cannot take it unnoticed and two pods cannot claim one port.
//
// The chains carry CRI-O's names, so an operator (or a CRI-O that takes over the
// node) finds them: KUBE-HOSTPORTS (from PREROUTING and OUTPUT, for local
// destinations) jumps to one KUBE-HP-<hash> chain per mapping; CRIO-HOSTPORTS-MASQ
// (from POSTROUTING, for DNATed connections) jumps to one CRIO-MASQ-<hash> chain.
// The hash covers the pod ID, host port, protocol and host IP, so removal needs no
// pod IP and a second add() of the same pod replaces its rules instead of adding more.

#include <crio/core/status.hpp>
#include <crio/net/cni_types.hpp>
#include <crio/net/export.hpp>

#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace crio::net {

struct HostportOptions {
  // The iptables front ends per family ("-save" and "-restore" are appended for the
  // batch tools); names are looked up in $PATH.
  std::string iptables = "iptables";
  std::string ip6tables = "ip6tables";
};

class CRIO_NET_EXPORT HostportManager {
 public:
  explicit HostportManager(HostportOptions options = {});
  ~HostportManager();
  HostportManager(const HostportManager&) = delete;
  HostportManager& operator=(const HostportManager&) = delete;

  // Maps the mappings of pod `id` (with a host port, and a host IP of `pod_ip`'s
  // family or none) to `pod_ip`. `pod_name` only labels the rules. Replaces rules an
  // earlier add() of the same pod left (after a restart: no duplicates). A host port
  // another process holds fails the call (FailedPrecondition naming it) and leaves
  // nothing behind.
  Status add(const std::string& id, const std::string& pod_name, const std::vector<PortMapping>& mappings,
             const std::string& pod_ip);

  // Removes the rules and releases the ports of pod `id`'s mappings in both families.
  // Idempotent; needs no pod IP.
  Status remove(const std::string& id, const std::vector<PortMapping>& mappings);

  // CRI-O's chain name for one mapping of pod `id`: `prefix` ("KUBE-HP-" or
  // "CRIO-MASQ-") and 16 characters of the base32 SHA-256 of id, host port, protocol
  // (upper case, as Kubernetes spells it) and host IP.
  static std::string chain_name(const std::string& prefix, const std::string& id, const PortMapping& mapping);

 private:
  struct Family;
  using PortKey = std::tuple<bool, std::string, int, std::string>;  // ipv6, host ip, port, protocol

  Status add_family(const Family& family, const std::string& id, const std::string& pod_name,
                    const std::vector<PortMapping>& mappings, const std::string& pod_ip);
  Status remove_family(const Family& family, const std::string& id, const std::vector<PortMapping>& mappings);
  Status ensure_base_chains(const Family& family);
  Status open_port(const PortKey& key, const std::string& owner);
  void close_port(const PortKey& key, const std::string& owner);

  HostportOptions options_;
  std::mutex mu_;
  struct HeldPort {
    int fd = -1;
    std::string owner;  // the pod ID
  };
  std::map<PortKey, HeldPort> open_ports_;  // guarded by mu_
};

}  // namespace crio::net
