#pragma once
// The data that crosses the CNI boundary: capability arguments a runtime hands to
// plugins through `runtimeConfig`, and the results plugins print. Results of every
// spec version (0.1.0 … 1.0.0) are read into one shape.

#include <crio/core/status.hpp>
#include <crio/net/export.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crio::net {

// Capability "portMappings" (the portmap plugin).
struct PortMapping {
  int host_port = 0;
  int container_port = 0;
  std::string protocol = "tcp";  // tcp, udp or sctp (lower case on the wire)
  std::string host_ip;           // empty: every host address
};

// Capability "bandwidth": rates in bits per second, bursts in bits; 0 = no limit.
struct BandwidthLimits {
  uint64_t ingress_rate = 0;
  uint64_t ingress_burst = 0;
  uint64_t egress_rate = 0;
  uint64_t egress_burst = 0;
};

// Capability "dns".
struct DnsConfig {
  std::vector<std::string> servers;
  std::vector<std::string> searches;
  std::vector<std::string> options;
};

// A Kubernetes resource quantity ("10M", "1Gi", "500k", "1e6", "2500m" rounds up)
// as an integer. InvalidArgument for anything else, negatives and overflow.
CRIO_NET_EXPORT Result<uint64_t> parse_quantity(std::string_view text);

// Reads `kubernetes.io/ingress-bandwidth` and `kubernetes.io/egress-bandwidth` as the
// kubelet defines them (1k … 1P bits/s); bursts are left unlimited. nullopt when
// neither annotation is present; InvalidArgument naming the annotation otherwise.
CRIO_NET_EXPORT Result<std::optional<BandwidthLimits>> bandwidth_from_annotations(
    const std::map<std::string, std::string>& annotations);

struct CniInterface {
  std::string name;
  std::string mac;
  std::string sandbox;  // the netns path for an interface inside the container
};

struct CniIp {
  std::string address;  // CIDR form, "10.88.0.5/16"
  std::string gateway;
  int interface = -1;  // index into CniResult::interfaces, -1 when not given
  bool ipv6 = false;
  // The address without its prefix length.
  std::string ip() const { return address.substr(0, address.find('/')); }
};

struct CniRoute {
  std::string dst;
  std::string gw;
};

struct CniDns {
  std::vector<std::string> nameservers;
  std::string domain;
  std::vector<std::string> search;
  std::vector<std::string> options;
};

struct CniResult {
  std::string cni_version;  // the version the plugin answered in
  std::vector<CniInterface> interfaces;
  std::vector<CniIp> ips;
  std::vector<CniRoute> routes;
  CniDns dns;
  std::string json;  // the result exactly as printed: what the next plugin gets as prevResult
};

// Parses a plugin's success output. 0.3.x/0.4.0 `version` fields are dropped (the
// family comes from the address); 0.1.0/0.2.0 `ip4`/`ip6` objects become `ips`.
CRIO_NET_EXPORT Result<CniResult> parse_cni_result(std::string_view json);

// The pod's addresses from a result, without prefix lengths: those on `ifname`
// inside the sandbox first (in result order), then any other non-loopback ones.
CRIO_NET_EXPORT std::vector<std::string> pod_ips(const CniResult& result, const std::string& ifname);

// <0, 0, >0 like strcmp, comparing "major.minor.patch" numerically; "" counts as 0.1.0.
CRIO_NET_EXPORT int compare_cni_versions(std::string_view a, std::string_view b);

}  // namespace crio::net
