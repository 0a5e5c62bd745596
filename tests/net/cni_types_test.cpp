// Unprivileged tests of the CNI data handling: quantities, bandwidth annotations,
// results of every spec version, config names.

#include <crio/net/cni_config.hpp>
#include <crio/net/cni_types.hpp>

#include <catch2/catch.hpp>

using namespace crio;
using namespace crio::net;

TEST_CASE("parse_quantity reads Kubernetes quantities", "[net][unit]") {
  CHECK(*parse_quantity("10M") == 10'000'000u);
  CHECK(*parse_quantity("1k") == 1000u);
  CHECK(*parse_quantity("1Ki") == 1024u);
  CHECK(*parse_quantity("1Gi") == 1073741824u);
  CHECK(*parse_quantity("1.5M") == 1'500'000u);
  CHECK(*parse_quantity("1e6") == 1'000'000u);
  CHECK(*parse_quantity("2E3") == 2000u);
  CHECK(*parse_quantity("2500m") == 3u);  // rounds up like Quantity.Value()
  CHECK(*parse_quantity("100") == 100u);
  CHECK(*parse_quantity("1P") == 1'000'000'000'000'000u);
  for (const char* bad : {"", "M", "10MB", "-1M", "1.2.3", "10 M", "1Zi", "99999999999999999999E"}) {
    INFO(bad);
    auto r = parse_quantity(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("bandwidth_from_annotations follows the kubelet's annotations", "[net][unit]") {
  auto none = bandwidth_from_annotations({{"other", "1"}});
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());

  auto both = bandwidth_from_annotations(
      {{"kubernetes.io/ingress-bandwidth", "10M"}, {"kubernetes.io/egress-bandwidth", "1Gi"}});
  REQUIRE(both.ok());
  REQUIRE(both->has_value());
  CHECK((*both)->ingress_rate == 10'000'000u);
  CHECK((*both)->egress_rate == 1073741824u);
  CHECK((*both)->ingress_burst > 0);
  CHECK((*both)->egress_burst > 0);

  auto ingress_only = bandwidth_from_annotations({{"kubernetes.io/ingress-bandwidth", "5k"}});
  REQUIRE(ingress_only.ok());
  CHECK((*ingress_only)->ingress_rate == 5000u);
  CHECK((*ingress_only)->egress_rate == 0u);
  CHECK((*ingress_only)->egress_burst == 0u);

  auto bad = bandwidth_from_annotations({{"kubernetes.io/egress-bandwidth", "lots"}});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == Code::kInvalidArgument);
  CHECK_THAT(bad.status().message(), Catch::Contains("kubernetes.io/egress-bandwidth"));

  auto tiny = bandwidth_from_annotations({{"kubernetes.io/ingress-bandwidth", "10"}});
  REQUIRE_FALSE(tiny.ok());
  CHECK_THAT(tiny.status().message(), Catch::Contains("below 1k"));
  auto huge = bandwidth_from_annotations({{"kubernetes.io/ingress-bandwidth", "2P"}});
  REQUIRE_FALSE(huge.ok());
  CHECK_THAT(huge.status().message(), Catch::Contains("above 1P"));
}

TEST_CASE("parse_cni_result reads 1.0.0 results", "[net][unit]") {
  auto r = parse_cni_result(R"({
    "cniVersion": "1.0.0",
    "interfaces": [{"name": "cni0", "mac": "aa:bb:cc:dd:ee:01"},
                   {"name": "veth1", "mac": "aa:bb:cc:dd:ee:02"},
                   {"name": "eth0", "mac": "aa:bb:cc:dd:ee:03", "sandbox": "/run/netns/x"}],
    "ips": [{"address": "fd00::5/64", "gateway": "fd00::1", "interface": 2},
            {"address": "10.1.2.5/24", "gateway": "10.1.2.1", "interface": 2},
            {"address": "10.9.9.9/24", "interface": 0}],
    "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.2.1"}],
    "dns": {"nameservers": ["10.0.0.10"], "domain": "cluster.local", "search": ["svc"], "options": ["ndots:5"]}})");
  REQUIRE(r.ok());
  CHECK(r->cni_version == "1.0.0");
  REQUIRE(r->interfaces.size() == 3);
  CHECK(r->interfaces[2].sandbox == "/run/netns/x");
  REQUIRE(r->ips.size() == 3);
  CHECK(r->ips[0].ipv6);
  CHECK_FALSE(r->ips[1].ipv6);
  CHECK(r->ips[1].ip() == "10.1.2.5");
  CHECK(r->ips[1].gateway == "10.1.2.1");
  CHECK(r->routes.size() == 1);
  CHECK(r->dns.nameservers == std::vector<std::string>{"10.0.0.10"});
  CHECK(r->dns.domain == "cluster.local");
  // Addresses on eth0 in the sandbox first, in result order; the bridge's address after.
  CHECK(pod_ips(*r, "eth0") == std::vector<std::string>{"fd00::5", "10.1.2.5", "10.9.9.9"});
}

TEST_CASE("parse_cni_result reads 0.4.0 and 0.3.1 results with version fields", "[net][unit]") {
  for (const char* version : {"0.4.0", "0.3.1", "0.3.0"}) {
    INFO(version);
    auto r = parse_cni_result(fmt::format(R"({{
      "cniVersion": "{}",
      "interfaces": [{{"name": "lo", "sandbox": "/ns"}}, {{"name": "eth0", "sandbox": "/ns"}}],
      "ips": [{{"version": "4", "address": "127.0.0.1/8", "interface": 0}},
              {{"version": "4", "address": "10.22.0.7/16", "gateway": "10.22.0.1", "interface": 1}},
              {{"version": "6", "address": "fd01::7/64", "interface": 1}}]}})",
                                          version));
    REQUIRE(r.ok());
    REQUIRE(r->ips.size() == 3);
    CHECK_FALSE(r->ips[1].ipv6);
    CHECK(r->ips[2].ipv6);
    // Loopback addresses are never pod IPs.
    CHECK(pod_ips(*r, "eth0") == std::vector<std::string>{"10.22.0.7", "fd01::7"});
  }
}

TEST_CASE("parse_cni_result converts 0.2.0 and 0.1.0 ip4/ip6 results", "[net][unit]") {
  auto r = parse_cni_result(R"({"cniVersion": "0.2.0",
    "ip4": {"ip": "10.3.0.4/24", "gateway": "10.3.0.1", "routes": [{"dst": "0.0.0.0/0"}]},
    "ip6": {"ip": "fd02::4/64"},
    "dns": {"nameservers": ["1.1.1.1"]}})");
  REQUIRE(r.ok());
  REQUIRE(r->ips.size() == 2);
  CHECK(r->ips[0].address == "10.3.0.4/24");
  CHECK(r->ips[0].gateway == "10.3.0.1");
  CHECK(r->ips[1].ipv6);
  CHECK(r->routes.size() == 1);
  CHECK(pod_ips(*r, "eth0") == std::vector<std::string>{"10.3.0.4", "fd02::4"});

  // No cniVersion at all means 0.1.0.
  auto old = parse_cni_result(R"({"ip4": {"ip": "10.4.0.4/24"}})");
  REQUIRE(old.ok());
  REQUIRE(old->ips.size() == 1);

  CHECK_FALSE(parse_cni_result("not json").ok());
  CHECK_FALSE(parse_cni_result(R"({"cniVersion": "1.0.0", "ips": [{"gateway": "10.0.0.1"}]})").ok());
}

TEST_CASE("compare_cni_versions orders versions numerically", "[net][unit]") {
  CHECK(compare_cni_versions("0.4.0", "1.0.0") < 0);
  CHECK(compare_cni_versions("1.0.0", "0.4.0") > 0);
  CHECK(compare_cni_versions("0.10.0", "0.4.0") > 0);
  CHECK(compare_cni_versions("0.3.1", "0.3.1") == 0);
  CHECK(compare_cni_versions("", "0.1.0") == 0);
  CHECK(compare_cni_versions("0.3.1", "0.4.0") < 0);
}

TEST_CASE("parse_network_config rejects names the spec does not allow", "[net][unit]") {
  auto ok = parse_network_config("/x/10-a.conflist",
                                 R"({"cniVersion": "1.0.0", "name": "a-b_c.d", "plugins": [{"type": "bridge"}]})");
  REQUIRE(ok.ok());
  for (const char* name : {"../evil", "a/b", "-lead", "sp ace"}) {
    INFO(name);
    auto bad = parse_network_config(
        "/x/10-a.conflist",
        fmt::format(R"({{"cniVersion": "1.0.0", "name": "{}", "plugins": [{{"type": "bridge"}}]}})", name));
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == Code::kInvalidArgument);
    CHECK_THAT(bad.status().message(), Catch::Contains("/x/10-a.conflist"));
  }
}
