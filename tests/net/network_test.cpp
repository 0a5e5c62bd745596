// Network::attach/detach/check (real root) against Debian's CNI plugins and small
// script plugins that record what they are given or fail on purpose.

#include "net_fixture.hpp"

#include <crio/core/fs.hpp>
#include <crio/net/netns.hpp>
#include <crio/net/network.hpp>

#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <thread>

using namespace crio;
using namespace crio::net;
using namespace crio::nettest;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double ms(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// A plugin that records its stdin and CNI_* environment as NNN-COMMAND-TAG.{stdin,env}
// in `dir` and answers ADD with {"cniVersion": <asked>, BODY}.
std::string recorder(const std::string& dir, const std::string& tag, const std::string& body) {
  return fmt::format(R"SH(#!/bin/sh
d='{0}'
n=$(ls "$d" | wc -l)
f="$d/$(printf '%03d' "$n")-$CNI_COMMAND-{1}"
cat > "$f.stdin"
env | grep '^CNI_' | sort > "$f.env"
if [ "$CNI_COMMAND" = ADD ]; then
  v=$(sed -n 's/.*"cniVersion":"\([^"]*\)".*/\1/p' "$f.stdin")
  printf '{{"cniVersion":"%s",%s}}' "$v" '{2}'
fi
)SH",
                     dir, tag, body);
}

struct Call {
  std::string command;
  std::string tag;
  json in;
  std::map<std::string, std::string> env;
};

std::vector<Call> recorded(const std::string& dir) {
  std::vector<Call> calls;
  for (const auto& f : dir_entries(dir)) {
    if (f.size() < 6 || f.substr(f.size() - 6) != ".stdin") continue;
    const std::string stem = f.substr(0, f.size() - 6);
    Call c;
    auto first = stem.find('-'), second = stem.find('-', first + 1);
    c.command = stem.substr(first + 1, second - first - 1);
    c.tag = stem.substr(second + 1);
    c.in = json::parse(crio::test::read_file(dir + "/" + f));
    std::istringstream env(crio::test::read_file(dir + "/" + stem + ".env"));
    std::string line;
    while (std::getline(env, line)) {
      auto eq = line.find('=');
      if (eq != std::string::npos) c.env[line.substr(0, eq)] = line.substr(eq + 1);
    }
    calls.push_back(std::move(c));
  }
  return calls;
}

std::vector<std::string> sequence(const std::vector<Call>& calls) {
  std::vector<std::string> out;
  for (const auto& c : calls) out.push_back(c.command + ":" + c.tag);
  return out;
}

bool in_subnet(const std::string& ip, const std::string& prefix) { return ip.rfind(prefix + ".", 0) == 0; }

// Everything a failed or finished attachment must not leave behind (besides the pin,
// which its owner removes).
void require_nothing_left(const NetEnv& env, Network& net, const PodNetworkRequest& req) {
  CHECK(env.allocated_ips().empty());
  CHECK(env.bridge_ports().empty());
  CHECK_FALSE(fs::exists(net.cache_path(req.container_id, req.ifname)));
  if (fs::exists(req.netns_path)) {
    auto links = in_netns(req.netns_path, {"/usr/sbin/ip", "-o", "link", "show"});
    CHECK_THAT(links.out, !Catch::Contains(req.ifname + "@"));
  }
}

}  // namespace

TEST_CASE("plugins get name, version, env, prevResult and only their declared capabilities", "[net][cni][root]") {
  NetEnv env;
  const std::string rec = env.tmp() / "rec";
  std::filesystem::create_directories(rec);
  env.add_plugin(
      "rec-a",
      recorder(rec, "a",
               R"("interfaces":[{"name":"eth0","sandbox":"/x"}],"ips":[{"address":"10.77.0.2/24","interface":0}])"));
  env.add_plugin(
      "rec-b",
      recorder(rec, "b",
               R"("interfaces":[{"name":"eth0","sandbox":"/x"}],"ips":[{"address":"10.77.0.3/24","interface":0}])"));
  env.add_plugin(
      "rec-c",
      recorder(
          rec, "c",
          R"("interfaces":[{"name":"eth0","sandbox":"/x"}],"ips":[{"address":"10.77.0.4/24","interface":0},{"address":"fd77::4/64","interface":0}])"));
  const std::string conflist = fmt::format(R"({{"cniVersion": "1.0.0", "name": "{}", "plugins": [
      {{"type": "rec-a", "capabilities": {{"portMappings": true}}, "extra": 1}},
      {{"type": "rec-b", "capabilities": {{"bandwidth": true, "dns": true, "ipRanges": true, "portMappings": false,
                                             "io.kubernetes.cri.pod-annotations": true, "cgroupPath": true}}}},
      {{"type": "rec-c"}}]}})",
                                           env.name());
  Network& net = env.network(conflist);
  REQUIRE_OK(net.set_pod_cidr("10.99.0.0/16"));
  CHECK(net.pod_cidr() == "10.99.0.0/16");
  CHECK_FALSE(net.set_pod_cidr("nonsense").ok());

  auto ns = pin_new_namespace(NamespaceType::kNet, env.ns_dir(), "rec");
  REQUIRE_OK(ns);
  PodNetworkRequest req = env.request(ns->path());
  req.port_mappings = {{8080, 80, "TCP", ""}, {0, 81, "tcp", ""}, {5353, 53, "udp", "127.0.0.1"}};
  req.bandwidth = BandwidthLimits{1000000, 2000000, 0, 0};
  req.dns = DnsConfig{{"10.0.0.10"}, {"svc.cluster.local"}, {"ndots:5"}};
  req.pod_annotations = std::map<std::string, std::string>{{"team", "a"}, {"k8s.v1.cni.cncf.io/networks", "x"}};
  req.cgroup_path = "/kubepods/burstable/pod1";

  auto attached = net.attach(req);
  REQUIRE_OK(attached);
  // The final result is the last plugin's.
  CHECK(attached->ips == std::vector<std::string>{"10.77.0.4", "fd77::4"});
  CHECK(attached->network_name == env.name());
  // No loopback plugin in the list: attach set lo up itself.
  CHECK_THAT(in_netns(ns->path(), {"/usr/sbin/ip", "-o", "link", "show", "lo"}).out, Catch::Contains("LOOPBACK,UP"));

  auto calls = recorded(rec);
  REQUIRE(sequence(calls) == std::vector<std::string>{"ADD:a", "ADD:b", "ADD:c"});
  for (const auto& c : calls) {
    CHECK(c.in["name"] == env.name());
    CHECK(c.in["cniVersion"] == "1.0.0");
    CHECK(c.env.at("CNI_COMMAND") == "ADD");
    CHECK(c.env.at("CNI_CONTAINERID") == req.container_id);
    CHECK(c.env.at("CNI_NETNS") == ns->path());
    CHECK(c.env.at("CNI_IFNAME") == "eth0");
    CHECK(c.env.at("CNI_PATH") == env.plugin_dir() + ":" + kPluginDir);
    CHECK(c.env.at("CNI_ARGS") == fmt::format("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={};"
                                              "K8S_POD_INFRA_CONTAINER_ID={};K8S_POD_UID={}",
                                              req.pod_name, req.container_id, req.pod_uid));
  }
  // rec-a: only portMappings (host port 0 dropped, protocol lower-cased), no prevResult.
  CHECK(calls[0].in["extra"] == 1);
  CHECK_FALSE(calls[0].in.contains("prevResult"));
  CHECK(calls[0].in["runtimeConfig"] ==
        json::parse(R"({"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
                                          {"hostPort": 5353, "containerPort": 53, "protocol": "udp", "hostIP": "127.0.0.1"}]})"));
  // rec-b: bandwidth, dns, ipRanges, the pod's annotations and cgroup; its prevResult is rec-a's result.
  CHECK(calls[1].in["runtimeConfig"] == json::parse(R"({"bandwidth": {"ingressRate": 1000000, "ingressBurst": 2000000},
                        "dns": {"servers": ["10.0.0.10"], "searches": ["svc.cluster.local"], "options": ["ndots:5"]},
                        "ipRanges": [[{"subnet": "10.99.0.0/16"}]],
                        "io.kubernetes.cri.pod-annotations": {"team": "a", "k8s.v1.cni.cncf.io/networks": "x"},
                        "cgroupPath": "/kubepods/burstable/pod1"})"));
  CHECK(calls[1].in["prevResult"]["ips"][0]["address"] == "10.77.0.2/24");
  // rec-c: no capabilities, prevResult from rec-b.
  CHECK_FALSE(calls[2].in.contains("runtimeConfig"));
  CHECK(calls[2].in["prevResult"]["ips"][0]["address"] == "10.77.0.3/24");

  // CHECK runs in order against the cached (final) result.
  std::filesystem::remove_all(rec);
  std::filesystem::create_directories(rec);
  REQUIRE_OK(net.check(req));
  calls = recorded(rec);
  REQUIRE(sequence(calls) == std::vector<std::string>{"CHECK:a", "CHECK:b", "CHECK:c"});
  for (const auto& c : calls) CHECK(c.in["prevResult"]["ips"][0]["address"] == "10.77.0.4/24");

  // A "restarted" daemon: a new Network, and a request without the capability
  // arguments. DEL runs in reverse with the cached result and the cached arguments.
  std::filesystem::remove_all(rec);
  std::filesystem::create_directories(rec);
  Network& restarted = env.network(conflist);
  PodNetworkRequest bare = env.request(ns->path(), req.container_id);
  auto cached = restarted.cached_attachment(bare);
  REQUIRE_OK(cached);
  CHECK(cached->ips == attached->ips);
  REQUIRE_OK(restarted.detach(bare));
  calls = recorded(rec);
  REQUIRE(sequence(calls) == std::vector<std::string>{"DEL:c", "DEL:b", "DEL:a"});
  for (const auto& c : calls) {
    CHECK(c.env.at("CNI_COMMAND") == "DEL");
    CHECK(c.in["prevResult"]["ips"][0]["address"] == "10.77.0.4/24");
  }
  CHECK(calls[2].in["runtimeConfig"]["portMappings"].size() == 2);
  CHECK_FALSE(fs::exists(net.cache_path(req.container_id, "eth0")));
  CHECK(restarted.cached_attachment(bare).status().code() == Code::kNotFound);
  CHECK(restarted.check(bare).code() == Code::kFailedPrecondition);

  // DEL again: still fine, now without a prevResult.
  std::filesystem::remove_all(rec);
  std::filesystem::create_directories(rec);
  REQUIRE_OK(restarted.detach(bare));
  calls = recorded(rec);
  REQUIRE(calls.size() == 3);
  CHECK_FALSE(calls[0].in.contains("prevResult"));
}

TEST_CASE("CHECK is skipped for 0.3.1 and disableCheck, and 0.3.1 DEL has no prevResult", "[net][cni][root]") {
  NetEnv env;
  const std::string rec = env.tmp() / "rec";
  std::filesystem::create_directories(rec);
  env.add_plugin("rec-a", recorder(rec, "a", R"("ips":[{"version":"4","address":"10.78.0.2/24"}])"));
  auto ns = pin_new_namespace(NamespaceType::kNet, env.ns_dir(), "rec");
  REQUIRE_OK(ns);
  for (const char* list :
       {R"({{"cniVersion": "0.3.1", "name": "{}", "plugins": [{{"type": "rec-a"}}]}})",
        R"({{"cniVersion": "1.0.0", "name": "{}", "disableCheck": true, "plugins": [{{"type": "rec-a"}}]}})"}) {
    const std::string conf = fmt::format(fmt::runtime(list), env.name());
    INFO(conf);
    std::filesystem::remove_all(rec);
    std::filesystem::create_directories(rec);
    Network& net = env.network(conf);
    PodNetworkRequest req = env.request(ns->path());
    auto attached = net.attach(req);
    REQUIRE_OK(attached);
    CHECK(attached->ips == std::vector<std::string>{"10.78.0.2"});
    REQUIRE_OK(net.check(req));
    REQUIRE_OK(net.detach(req));
    auto calls = recorded(rec);
    REQUIRE(sequence(calls) == std::vector<std::string>{"ADD:a", "DEL:a"});
    CHECK(calls[1].in.contains("prevResult") == (conf.find("0.3.1") == std::string::npos));
  }
}

TEST_CASE("two pods on a bridge get distinct addresses and reach each other", "[net][cni][root]") {
  const std::string version = GENERATE(as<std::string>{}, "1.0.0", "0.4.0", "0.3.1");
  INFO("cniVersion " << version);
  NetEnv env;
  Network& net = env.network(env.conflist(version, "", /*loopback=*/true, /*portmap=*/true));
  std::vector<PinnedNamespace> pins;
  std::vector<PodNetworkRequest> reqs;
  std::vector<std::string> ips;
  for (const char* name : {"a", "b"}) {
    auto ns = pin_new_namespace(NamespaceType::kNet, env.ns_dir(), name);
    REQUIRE_OK(ns);
    PodNetworkRequest req = env.request(ns->path());
    auto attached = net.attach(req);
    REQUIRE_OK(attached);
    env.track(net, req);
    REQUIRE(attached->ips.size() == 1);
    CHECK(in_subnet(attached->ips[0], env.prefix()));
    CHECK(attached->result.cni_version == version);
    ips.push_back(attached->ips[0]);
    reqs.push_back(req);
    pins.push_back(std::move(*ns));
  }
  CHECK(ips[0] != ips[1]);
  // ADD again for an attached pod is refused and leaves it working.
  auto twice = net.attach(reqs[0]);
  CHECK(twice.status().code() == Code::kAlreadyExists);
  CHECK(env.allocated_ips().size() == 2);
  CHECK(env.bridge_ports().size() == 2);
  // lo is up (loopback plugin) and eth0 carries the address.
  auto addr = in_netns(pins[0].path(), {"/usr/sbin/ip", "-o", "addr", "show"});
  CHECK_THAT(addr.out, Catch::Contains("lo    inet 127.0.0.1/8"));
  CHECK_THAT(addr.out, Catch::Contains("eth0    inet " + ips[0] + "/24"));

  auto ping_ab = in_netns(pins[0].path(), {"/bin/busybox", "ping", "-c1", "-W1", ips[1]});
  CHECK(ping_ab.exit_code == 0);
  auto ping_ba = in_netns(pins[1].path(), {"/bin/busybox", "ping", "-c1", "-W1", ips[0]});
  CHECK(ping_ba.exit_code == 0);

  REQUIRE_OK(net.check(reqs[0]));
  REQUIRE_OK(net.check(reqs[1]));

  // Teardown, one in each order.
  REQUIRE_OK(net.detach(reqs[0]));
  env.untrack(reqs[0]);
  REQUIRE_OK(pins[0].remove());
  REQUIRE_OK(pins[1].remove());
  REQUIRE_OK(net.detach(reqs[1]));
  env.untrack(reqs[1]);
  CHECK(env.allocated_ips().empty());
  CHECK(crio::test::eventually([&] { return env.bridge_ports().empty(); }, std::chrono::seconds(5)));
  CHECK(dir_entries(env.cache_dir() + "/results").empty());
  CHECK(mounts_under(env.tmp().path()).empty());
}

TEST_CASE("a hostPort mapped by portmap reaches a listener in the pod from 127.0.0.1", "[net][cni][root]") {
  NetEnv env;
  Network& net = env.network(env.conflist("1.0.0", "", true, /*portmap=*/true));
  auto ns = pin_new_namespace(NamespaceType::kNet, env.ns_dir(), "web");
  REQUIRE_OK(ns);
  PodNetworkRequest req = env.request(ns->path());
  const int host_port = 20000 + static_cast<int>(random_u32() % 20000);
  req.port_mappings = {{host_port, 8080, "tcp", ""}};
  auto t0 = Clock::now();
  auto attached = net.attach(req);
  const double add_ms = ms(t0);
  REQUIRE_OK(attached);
  env.track(net, req);

  const std::string log = env.tmp() / "nc.log";
  crio::test::Child listener({"/usr/bin/nsenter", "--net=" + ns->path(), "/bin/busybox", "nc", "-l", "-p", "8080"},
                             log);
  bool sent = crio::test::eventually(
      [&] {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(static_cast<uint16_t>(host_port));
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
        if (ok) ok = ::write(fd, "hello-portmap\n", 14) == 14;
        ::close(fd);
        return ok;
      },
      std::chrono::seconds(5));
  REQUIRE(sent);
  CHECK(listener.wait(std::chrono::seconds(5)) == 0);
  CHECK_THAT(crio::test::read_file(log), Catch::Contains("hello-portmap"));

  // The network namespace goes first (the fast order), then DEL; the per-pod
  // iptables rules go with it.
  REQUIRE_OK(ns->remove());
  t0 = Clock::now();
  REQUIRE_OK(net.detach(req));
  const double del_ms = ms(t0);
  env.untrack(req);
  auto rules = crio::test::run_command({"/usr/sbin/iptables-save", "-t", "nat"});
  CHECK_THAT(rules.out, !Catch::Contains(req.container_id));
  CHECK(env.allocated_ips().empty());
  CHECK(crio::test::eventually([&] { return env.bridge_ports().empty(); }, std::chrono::seconds(5)));
  std::fprintf(stderr, "portmap: ADD %.1f ms, DEL (netns removed first) %.1f ms\n", add_ms, del_ms);
}

TEST_CASE("bandwidth annotations reach the bandwidth plugin", "[net][cni][root]") {
  NetEnv env;
  Network& net = env.network(
      env.conflist("1.0.0", "", true, false, {R"({"type": "bandwidth", "capabilities": {"bandwidth": true}})"}));
  auto ns = pin_new_namespace(NamespaceType::kNet, env.ns_dir(), "bw");
  REQUIRE_OK(ns);
  PodNetworkRequest req = env.request(ns->path());
  auto limits = bandwidth_from_annotations(
      {{"kubernetes.io/ingress-bandwidth", "10M"}, {"kubernetes.io/egress-bandwidth", "20M"}});
  REQUIRE_OK(limits);
  req.bandwidth = **limits;
  auto ifb_before = crio::test::run_command({"/usr/sbin/ip", "-o", "link", "show", "type", "ifb"}).out;
  auto attached = net.attach(req);
  REQUIRE_OK(attached);
  env.track(net, req);
  std::string host_veth;
  for (const auto& i : attached->result.interfaces) {
    if (i.sandbox.empty() && i.name != env.bridge()) host_veth = i.name;
  }
  REQUIRE_FALSE(host_veth.empty());
  // One rate shapes the host veth, the other an ifb device the plugin mirrors the
  // veth's ingress into (which direction lands where is the plugin's business).
  auto qdisc = crio::test::run_command({"/usr/sbin/tc", "qdisc", "show", "dev", host_veth});
  CHECK_THAT(qdisc.out, Catch::Contains("tbf"));
  auto all = crio::test::run_command({"/usr/sbin/tc", "qdisc", "show"});
  CHECK_THAT(all.out, Catch::Contains("rate 10Mbit") && Catch::Contains("rate 20Mbit"));
  CHECK(crio::test::run_command({"/usr/sbin/ip", "-o", "link", "show", "type", "ifb"}).out != ifb_before);
  REQUIRE_OK(net.detach(req));
  env.untrack(req);
  CHECK(crio::test::run_command({"/usr/sbin/ip", "-o", "link", "show", "type", "ifb"}).out == ifb_before);
}

TEST_CASE("the pod CIDR reaches host-local through the ipRanges capability", "[net][cni][root]") {
  NetEnv env;
  // No range in the file: host-local puts the runtime ipRanges before any configured
  // range, so a configured one would hand out a second address.
  std::string conf = env.conflist("1.0.0", "", false);
  const std::string subnet = fmt::format(R"("subnet": "{}",)", env.subnet());
  conf.erase(conf.find(subnet), subnet.size());
  const std::string bridge_type = R"("type": "bridge",)";
  conf.replace(conf.find(bridge_type), bridge_type.size(), bridge_type + R"( "capabilities": {"ipRanges": true},)");
  INFO(conf);
  Network& net = env.network(conf);
  auto ns = pin_new_namespace(NamespaceType::kNet, env.ns_dir(), "cidr");
  REQUIRE_OK(ns);
  PodNetworkRequest req = env.request(ns->path());
  REQUIRE_OK(net.set_pod_cidr(env.subnet()));
  auto attached = net.attach(req);
  REQUIRE_OK(attached);
  env.track(net, req);
  REQUIRE(attached->ips.size() == 1);
  CHECK(in_subnet(attached->ips[0], env.prefix()));
  REQUIRE_OK(ns->remove());
  REQUIRE_OK(net.detach(req));
  env.untrack(req);
  CHECK(env.allocated_ips().empty());
}

TEST_CASE("a missing plugin fails before anything runs", "[net][cni][root]") {
  NetEnv env;
  Network& net = env.network(env.conflist("1.0.0", "", true, false, {R"({"type": "crt-no-such-plugin"})"}));
  PodNetworkRequest req;
  {
    auto ns = pin_new_namespace(NamespaceType::kNet, env.ns_dir(), "p");
    REQUIRE_OK(ns);
    req = env.request(ns->path());
    auto attached = net.attach(req);
    REQUIRE_FALSE(attached.ok());
    CHECK(attached.status().code() == Code::kFailedPrecondition);
    CHECK_THAT(attached.status().message(),
               Catch::Contains(env.name()) && Catch::Contains("crt-no-such-plugin") && Catch::Contains("not found"));
    require_nothing_left(env, net, req);
  }
  CHECK_FALSE(fs::exists(req.netns_path));
}

TEST_CASE("a plugin's CNI error is reported and the plugins before it are undone", "[net][cni][root]") {
  NetEnv env;
  env.add_plugin("broken", R"(#!/bin/sh
cat >/dev/null
if [ "$CNI_COMMAND" = ADD ]; then
  echo '{"cniVersion":"1.0.0","code":100,"msg":"broken on purpose","details":"the test asked for it"}'
  exit 1
fi
)");
  Network& net = env.network(env.conflist("1.0.0", "", true, false, {R"({"type": "broken"})"}));
  PodNetworkRequest req;
  {
    auto ns = pin_new_namespace(NamespaceType::kNet, env.ns_dir(), "p");
    REQUIRE_OK(ns);
    req = env.request(ns->path());
    auto attached = net.attach(req);
    REQUIRE_FALSE(attached.ok());
    CHECK(attached.status().code() == Code::kUnknown);
    const std::string& msg = attached.status().message();
    CHECK_THAT(msg, Catch::Contains("CNI network \"" + env.name() + "\"") && Catch::Contains("plugin \"broken\" ADD") &&
                        Catch::Contains("broken on purpose") && Catch::Contains("the test asked for it") &&
                        Catch::Contains("code 100"));
    // The bridge plugin's veth and IP are gone although the netns still exists.
    require_nothing_left(env, net, req);
  }
  CHECK_FALSE(fs::exists(req.netns_path));
  CHECK(mounts_under(env.tmp().path()).empty());
}

TEST_CASE("a hanging plugin is killed after the timeout and undone", "[net][cni][root]") {
  NetEnv env;
  env.add_plugin("hang", R"(#!/bin/sh
cat >/dev/null
[ "$CNI_COMMAND" = ADD ] && exec sleep 30
exit 0
)");
  Network& net = env.network(env.conflist("1.0.0", "", true, false, {R"({"type": "hang"})"}),
                             env.options(std::chrono::milliseconds(300)));
  PodNetworkRequest req;
  {
    auto ns = pin_new_namespace(NamespaceType::kNet, env.ns_dir(), "p");
    REQUIRE_OK(ns);
    req = env.request(ns->path());
    const auto t0 = Clock::now();
    auto attached = net.attach(req);
    const double took = ms(t0);
    REQUIRE_FALSE(attached.ok());
    CHECK(attached.status().code() == Code::kDeadlineExceeded);
    CHECK_THAT(attached.status().message(), Catch::Contains("plugin \"hang\" ADD") && Catch::Contains("300 ms"));
    CHECK(took < 5000);
    require_nothing_left(env, net, req);
  }
  CHECK_FALSE(fs::exists(req.netns_path));
}

TEST_CASE("malformed configurations give clear errors and leave nothing behind", "[net][cni][root]") {
  NetEnv env;
  for (const char* bad : {"{not json", R"({"cniVersion": "1.0.0", "name": "x", "plugins": [{"bridge": "b"}]})",
                          R"({"cniVersion": "1.0.0", "plugins": [{"type": "bridge"}]})"}) {
    INFO(bad);
    auto parsed = parse_network_config("/etc/cni/net.d/10-bad.conflist", bad);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().code() == Code::kInvalidArgument);
    CHECK_THAT(parsed.status().message(), Catch::Contains("10-bad.conflist"));
  }
  // Well-formed JSON that the plugins refuse: an impossible subnet.
  Network& net = env.network(env.conflist("1.0.0", "", true, false, {}, "10.300.0.0/24"));
  PodNetworkRequest req;
  {
    auto ns = pin_new_namespace(NamespaceType::kNet, env.ns_dir(), "p");
    REQUIRE_OK(ns);
    req = env.request(ns->path());
    auto attached = net.attach(req);
    REQUIRE_FALSE(attached.ok());
    CHECK_THAT(attached.status().message(), Catch::Contains(env.name()) && Catch::Contains("plugin \"bridge\" ADD") &&
                                                Catch::Contains("10.300.0.0"));
    require_nothing_left(env, net, req);
  }
  CHECK_FALSE(fs::exists(req.netns_path));
  // A request the library refuses outright.
  PodNetworkRequest bad_id = env.request("/nonexistent", "../x");
  CHECK(net.attach(bad_id).status().code() == Code::kInvalidArgument);
  PodNetworkRequest bad_port = env.request("/nonexistent");
  bad_port.port_mappings = {{70000, 80, "tcp", ""}};
  CHECK(net.attach(bad_port).status().code() == Code::kInvalidArgument);
}

TEST_CASE("validate() asks each plugin for its versions", "[net][cni][root]") {
  NetEnv env;
  CHECK(env.network(env.conflist("1.0.0", "", true, true)).validate().ok());
  CHECK(env.network(env.conflist("0.4.0")).validate().ok());
  auto too_new = env.network(env.conflist("9.9.9")).validate();
  CHECK(too_new.code() == Code::kFailedPrecondition);
  CHECK_THAT(too_new.message(),
             Catch::Contains("plugin \"loopback\"") && Catch::Contains("9.9.9") && Catch::Contains("1.0.0"));
  env.add_plugin("mute", "#!/bin/sh\ncat >/dev/null\n");
  auto mute = env.network(fmt::format(R"({{"cniVersion": "1.0.0", "name": "{}", "plugins": [{{"type": "mute"}}]}})",
                                      env.name()))
                  .validate();
  CHECK(mute.code() == Code::kFailedPrecondition);
  CHECK_THAT(mute.message(), Catch::Contains("plugin \"mute\""));
}

TEST_CASE("a plugin that exits without reading a large config does not kill the caller", "[net][cni][root]") {
  NetEnv env;
  // More than a pipe buffer of config, so the write is still going when the plugin exits.
  env.add_plugin("quitter", "#!/bin/sh\necho '{\"code\": 7, \"msg\": \"refused early\"}'\nexit 1\n");
  const std::string padding(1 << 20, 'x');
  Network& net = env.network(
      fmt::format(R"({{"cniVersion": "1.0.0", "name": "{}", "plugins": [{{"type": "quitter", "padding": "{}"}}]}})",
                  env.name(), padding));
  auto ns = pin_new_namespace(NamespaceType::kNet, env.ns_dir(), "p");
  REQUIRE_OK(ns);
  auto attached = net.attach(env.request(ns->path()));
  REQUIRE_FALSE(attached.ok());
  CHECK(attached.status().code() == Code::kInvalidArgument);  // CNI code 7: invalid network config
  CHECK_THAT(attached.status().message(), Catch::Contains("refused early"));
}

TEST_CASE("an exhausted IP range fails the second pod and keeps the first", "[net][cni][root]") {
  NetEnv env;
  const std::string p = env.prefix();
  Network& net = env.network(env.conflist("1.0.0", fmt::format(R"(, "rangeStart": "{0}.2", "rangeEnd": "{0}.2")", p),
                                          true, false, {}, p + ".0/30"));
  auto first_ns = pin_new_namespace(NamespaceType::kNet, env.ns_dir(), "first");
  REQUIRE_OK(first_ns);
  PodNetworkRequest first = env.request(first_ns->path());
  auto a = net.attach(first);
  REQUIRE_OK(a);
  env.track(net, first);
  CHECK(a->ips == std::vector<std::string>{p + ".2"});
  PodNetworkRequest second;
  {
    auto ns = pin_new_namespace(NamespaceType::kNet, env.ns_dir(), "second");
    REQUIRE_OK(ns);
    second = env.request(ns->path());
    auto b = net.attach(second);
    REQUIRE_FALSE(b.ok());
    CHECK_THAT(b.status().message(), Catch::Contains(env.name()) && Catch::Contains("no IP addresses available"));
    auto links = in_netns(second.netns_path, {"/usr/sbin/ip", "-o", "link", "show"});
    CHECK_THAT(links.out, !Catch::Contains("eth0@"));
    CHECK_FALSE(fs::exists(net.cache_path(second.container_id, "eth0")));
  }
  CHECK_FALSE(fs::exists(second.netns_path));
  CHECK(env.allocated_ips() == std::vector<std::string>{p + ".2"});
  CHECK(env.bridge_ports().size() == 1);
  REQUIRE_OK(net.detach(first));
  env.untrack(first);
  CHECK(env.allocated_ips().empty());
}

TEST_CASE("DEL works from the cache after a restart and is idempotent", "[net][cni][root]") {
  NetEnv env;
  const std::string conf = env.conflist("0.4.0", "", true, true);
  auto ns = pin_new_namespace(NamespaceType::kNet, env.ns_dir(), "p");
  REQUIRE_OK(ns);
  PodNetworkRequest req = env.request(ns->path());
  req.port_mappings = {{20000 + static_cast<int>(random_u32() % 20000), 80, "tcp", ""}};
  std::vector<std::string> ips;
  {
    Network& before = env.network(conf);
    auto attached = before.attach(req);
    REQUIRE_OK(attached);
    ips = attached->ips;
    env.track(before, req);
  }
  CHECK(env.allocated_ips() == ips);
  CHECK_THAT(crio::test::run_command({"/usr/sbin/iptables-save", "-t", "nat"}).out, Catch::Contains(req.container_id));

  // A new daemon knows only the IDs and the netns path.
  Network& after = env.network(conf);
  PodNetworkRequest bare = env.request(ns->path(), req.container_id);
  auto cached = after.cached_attachment(bare);
  REQUIRE_OK(cached);
  CHECK(cached->ips == ips);
  REQUIRE_OK(after.detach(bare));
  env.untrack(req);
  CHECK(env.allocated_ips().empty());
  CHECK(env.bridge_ports().empty());
  CHECK_THAT(crio::test::run_command({"/usr/sbin/iptables-save", "-t", "nat"}).out, !Catch::Contains(req.container_id));
  CHECK_FALSE(fs::exists(after.cache_path(req.container_id, "eth0")));
  // Again, with and without the netns.
  REQUIRE_OK(after.detach(bare));
  REQUIRE_OK(ns->remove());
  REQUIRE_OK(after.detach(bare));

  // The configuration is gone altogether: a cache-only Network (just the name)
  // still undoes an attachment from what the cache recorded.
  auto ns2 = pin_new_namespace(NamespaceType::kNet, env.ns_dir(), "p2");
  REQUIRE_OK(ns2);
  PodNetworkRequest req2 = env.request(ns2->path());
  req2.port_mappings = req.port_mappings;
  REQUIRE_OK(after.attach(req2));
  env.track(after, req2);
  REQUIRE_OK(ns2->remove());
  NetworkConfigList name_only;
  name_only.name = env.name();
  Network cache_only(name_only, env.options());
  PodNetworkRequest bare2 = env.request("", req2.container_id);
  REQUIRE_OK(cache_only.detach(bare2));
  env.untrack(req2);
  CHECK(env.allocated_ips().empty());
  CHECK_THAT(crio::test::run_command({"/usr/sbin/iptables-save", "-t", "nat"}).out, !Catch::Contains(req2.container_id));
  CHECK_FALSE(fs::exists(after.cache_path(req2.container_id, "eth0")));
  REQUIRE_OK(cache_only.detach(bare2));  // nothing cached, nothing configured: nothing to do
  CHECK_FALSE(cache_only.attach(env.request("/nonexistent")).ok());
}

TEST_CASE("concurrent attaches on one network get distinct addresses", "[net][cni][root]") {
  NetEnv env;
  Network& net = env.network(env.conflist("1.0.0"));
  constexpr int kPods = 4;
  std::vector<PinnedNamespace> pins;
  std::vector<PodNetworkRequest> reqs;
  for (int i = 0; i < kPods; ++i) {
    auto ns = pin_new_namespace(NamespaceType::kNet, env.ns_dir(), "c" + std::to_string(i));
    REQUIRE_OK(ns);
    reqs.push_back(env.request(ns->path()));
    pins.push_back(std::move(*ns));
  }
  std::vector<Result<AttachResult>> results(kPods, Result<AttachResult>(Status(Code::kUnknown, "not run")));
  std::vector<std::thread> threads;
  for (int i = 0; i < kPods; ++i) threads.emplace_back([&, i] { results[i] = net.attach(reqs[i]); });
  for (auto& t : threads) t.join();
  std::vector<std::string> ips;
  for (int i = 0; i < kPods; ++i) {
    REQUIRE_OK(results[i]);
    env.track(net, reqs[i]);
    ips.push_back(results[i]->ips.at(0));
  }
  std::sort(ips.begin(), ips.end());
  CHECK(std::unique(ips.begin(), ips.end()) == ips.end());
  threads.clear();
  std::atomic<int> failures{0};
  for (int i = 0; i < kPods; ++i) {
    threads.emplace_back([&, i] {
      (void)pins[i].remove();
      if (!net.detach(reqs[i]).ok()) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  for (const auto& r : reqs) env.untrack(r);
  CHECK(env.allocated_ips().empty());
}

TEST_CASE("20 create/attach/detach/remove cycles leave nothing behind", "[net][cni][root]") {
  // With the loopback plugin in the list, or with attach() setting lo up itself.
  const bool loopback_plugin = GENERATE(true, false);
  NetEnv env;
  Network& net = env.network(env.conflist("1.0.0", "", loopback_plugin));
  std::vector<double> pin, add, del_after_ns, del_before_ns;
  for (int i = 0; i < 20; ++i) {
    INFO("cycle " << i);
    auto t0 = Clock::now();
    auto ns = pin_new_namespace(NamespaceType::kNet, env.ns_dir(), "cycle");
    pin.push_back(ms(t0));
    REQUIRE_OK(ns);
    PodNetworkRequest req = env.request(ns->path());
    t0 = Clock::now();
    auto attached = net.attach(req);
    add.push_back(ms(t0));
    REQUIRE_OK(attached);
    env.track(net, req);
    REQUIRE(attached->ips.size() == 1);
    if (i == 0) {
      auto lo = in_netns(ns->path(), {"/usr/sbin/ip", "-o", "link", "show", "lo"});
      CHECK_THAT(lo.out, Catch::Contains("LOOPBACK,UP"));
    }
    if (i % 2 == 0) {
      REQUIRE_OK(ns->remove());  // the fast order
      t0 = Clock::now();
      REQUIRE_OK(net.detach(req));
      del_after_ns.push_back(ms(t0));
    } else {
      t0 = Clock::now();
      REQUIRE_OK(net.detach(req));
      del_before_ns.push_back(ms(t0));
      REQUIRE_OK(ns->remove());
    }
    env.untrack(req);
  }
  CHECK(dir_entries(env.ns_dir() + "/netns").empty());
  CHECK(mounts_under(env.tmp().path()).empty());
  CHECK(env.allocated_ips().empty());
  CHECK(dir_entries(env.cache_dir() + "/results").empty());
  CHECK(crio::test::eventually([&] { return env.bridge_ports().empty(); }, std::chrono::seconds(5)));
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::fprintf(stderr,
               "%s (1.0.0): netns pin median %.2f ms; ADD median %.1f ms; DEL median %.1f ms after netns removal, "
               "%.1f ms before\n",
               loopback_plugin ? "loopback plugin + bridge" : "bridge, lo set up by attach()", median(pin), median(add),
               median(del_after_ns), median(del_before_ns));
}
