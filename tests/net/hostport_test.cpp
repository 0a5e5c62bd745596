// The hostport manager against the real iptables, each case in a network namespace of
// its own (CTest runs every case in its own process), so the nat table starts empty.

#include <crio/core/process.hpp>
#include <crio/net/hostport.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

using crio::net::HostportManager;
using crio::net::PortMapping;

namespace {

// Moves the calling thread into a new network namespace, and back when it goes (the
// whole binary may run in one process).
class PrivateNetworkNamespace {
 public:
  PrivateNetworkNamespace() : original_(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) {
    REQUIRE(original_ >= 0);
    REQUIRE(::unshare(CLONE_NEWNET) == 0);
    REQUIRE(crio::process::run({"ip", "link", "set", "lo", "up"})->exit_code == 0);
  }
  ~PrivateNetworkNamespace() {
    ::setns(original_, CLONE_NEWNET);
    ::close(original_);
  }

 private:
  int original_;
};

std::vector<std::string> nat_rules(const std::string& tool = "iptables") {
  auto out = crio::process::run({tool, "-w", "-t", "nat", "-S"});
  REQUIRE(out.ok());
  std::vector<std::string> lines;
  std::istringstream in(out->out);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("-P ")) lines.push_back(line);
  }
  return lines;
}

bool can_bind(int port, int type = SOCK_STREAM) {
  int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

TEST_CASE("Chain names are CRI-O's: base32 SHA-256 of id, port, protocol and host IP", "[net][unit]") {
  // Values computed independently (Python hashlib + base64.b32encode).
  CHECK(HostportManager::chain_name("KUBE-HP-", "abc123", PortMapping{8080, 80, "tcp", ""}) ==
        "KUBE-HP-62ESVQR7OOVHFKVK");
  CHECK(HostportManager::chain_name("CRIO-MASQ-", "abc123", PortMapping{53, 53, "udp", "127.0.0.1"}) ==
        "CRIO-MASQ-DAXZI2LG7DVCQ7OZ");
}

TEST_CASE("add writes CRI-O's rules once, holds the ports, and remove takes all back", "[net][root]") {
  PrivateNetworkNamespace netns;
  HostportManager manager;
  std::vector<PortMapping> mappings = {{4888, 80, "tcp", ""}, {4889, 53, "udp", ""}, {4890, 90, "tcp", "::1"}};
  REQUIRE(manager.add("pod1", "k8s_web_ns_uid_0", mappings, "10.1.2.3").ok());
  auto rules = nat_rules();
  INFO(fmt::format("{}", fmt::join(rules, "\n")));
  const std::string hp = HostportManager::chain_name("KUBE-HP-", "pod1", mappings[0]);
  const std::string masq = HostportManager::chain_name("CRIO-MASQ-", "pod1", mappings[0]);
  auto has = [&](const std::string& rule) { return std::count(rules.begin(), rules.end(), rule); };
  CHECK(has("-A PREROUTING -m comment --comment \"kube hostport portals\" -m addrtype --dst-type LOCAL -j "
            "KUBE-HOSTPORTS") == 1);
  CHECK(has("-A OUTPUT -m comment --comment \"kube hostport portals\" -m addrtype --dst-type LOCAL -j "
            "KUBE-HOSTPORTS") == 1);
  CHECK(has("-A POSTROUTING -m comment --comment \"kube hostport masquerading\" -m conntrack --ctstate DNAT -j "
            "CRIO-HOSTPORTS-MASQ") == 1);
  CHECK(has(fmt::format("-A KUBE-HOSTPORTS -p tcp -m comment --comment \"k8s_web_ns_uid_0_ hostport 4888\" -m tcp "
                        "--dport 4888 -j {}",
                        hp)) == 1);
  CHECK(has(fmt::format("-A {} -p tcp -m comment --comment \"k8s_web_ns_uid_0_ hostport 4888\" -m tcp -j DNAT "
                        "--to-destination 10.1.2.3:80",
                        hp)) == 1);
  CHECK(has(fmt::format("-A CRIO-HOSTPORTS-MASQ -m comment --comment \"k8s_web_ns_uid_0_ hostport 4888\" -j {}",
                        masq)) == 1);
  CHECK(has(fmt::format("-A {} -s 10.1.2.3/32 -d 10.1.2.3/32 -p tcp -m comment --comment \"k8s_web_ns_uid_0_ "
                        "hostport 4888\" -m conntrack --ctorigdstport 4888 -m tcp --dport 80 -j MASQUERADE",
                        masq)) == 1);
  // The IPv6 host IP is not this family's: nothing for port 4890 here.
  CHECK(std::none_of(rules.begin(), rules.end(), [](const auto& r) { return r.find("4890") != std::string::npos; }));
  // Held while mapped, TCP and UDP.
  CHECK_FALSE(can_bind(4888));
  CHECK_FALSE(can_bind(4889, SOCK_DGRAM));

  // A second add (a restart) replaces the pod's rules instead of doubling them.
  REQUIRE(manager.add("pod1", "k8s_web_ns_uid_0", mappings, "10.1.2.3").ok());
  CHECK(nat_rules() == rules);
  HostportManager restarted;  // another holder (a second daemon) cannot take them
  CHECK_FALSE(restarted.add("pod1", "k8s_web_ns_uid_0", mappings, "10.1.2.3").ok());
  CHECK(nat_rules() == rules);

  // Another pod's port mapping on a held port fails and adds nothing.
  auto before = nat_rules();
  auto taken = manager.add("pod2", "k8s_other_ns_uid_0", {{4888, 81, "tcp", ""}}, "10.1.2.4");
  CHECK(taken.code() == crio::Code::kFailedPrecondition);
  CHECK_THAT(taken.message(), Catch::Contains("4888"));
  CHECK(nat_rules() == before);

  REQUIRE(manager.remove("pod1", mappings).ok());
  rules = nat_rules();
  INFO(fmt::format("{}", fmt::join(rules, "\n")));
  CHECK(std::none_of(rules.begin(), rules.end(), [](const auto& r) {
    return r.find("KUBE-HP-") != std::string::npos || r.find("CRIO-MASQ-") != std::string::npos;
  }));
  CHECK(can_bind(4888));
  CHECK(can_bind(4889, SOCK_DGRAM));
  CHECK(manager.remove("pod1", mappings).ok());  // idempotent

  // After a restart: a new manager removes what an old one mapped (no IP needed).
  REQUIRE(restarted.add("pod3", "k8s_third_ns_uid_0", {{5000, 80, "tcp", ""}}, "10.1.2.5").ok());
  HostportManager later;
  REQUIRE(later.remove("pod3", {{5000, 80, "tcp", ""}}).ok());
  rules = nat_rules();
  CHECK(std::none_of(rules.begin(), rules.end(), [](const auto& r) { return r.find("KUBE-HP-") != std::string::npos; }));
}

TEST_CASE("IPv6 mappings go to ip6tables with the address in brackets", "[net][root]") {
  PrivateNetworkNamespace netns;
  HostportManager manager;
  std::vector<PortMapping> mappings = {{4888, 80, "tcp", ""}};
  REQUIRE(manager.add("pod6", "k8s_v6_ns_uid_0", mappings, "fd00::5").ok());
  auto rules = nat_rules("ip6tables");
  INFO(fmt::format("{}", fmt::join(rules, "\n")));
  CHECK(std::count_if(rules.begin(), rules.end(), [](const auto& r) {
          return r.find("-j DNAT --to-destination [fd00::5]:80") != std::string::npos;
        }) == 1);
  auto v4 = nat_rules();
  CHECK(std::none_of(v4.begin(), v4.end(), [](const auto& r) { return r.find("KUBE-HP-") != std::string::npos; }));
  REQUIRE(manager.remove("pod6", mappings).ok());
  rules = nat_rules("ip6tables");
  CHECK(std::none_of(rules.begin(), rules.end(), [](const auto& r) { return r.find("KUBE-HP-") != std::string::npos; }));
}
