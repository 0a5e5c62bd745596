// Pod sandboxes through a real daemon with Debian's CNI plugins on a bridge of the
// test's own: IPs, reachability, host ports, host network, errors, restarts and
// leaks over many cycles.

#include "daemon_fixture.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

using crio::test::Daemon;
using crio::test::set_deadline;
namespace v1 = runtime::v1;
namespace stdfs = std::filesystem;

namespace {

// A bridge network only this test uses: its own bridge name, subnet and IPAM data
// directory. The bridge is deleted when the test ends.
class TestNetwork {
 public:
  explicit TestNetwork(const Daemon& daemon, bool with_portmap = true, const std::string& range_override = "") {
    std::random_device rd;
    unsigned n = rd();
    bridge_ = fmt::format("crt{:04x}", n & 0xffff);
    subnet_prefix_ = fmt::format("10.{}.{}.", 200 + (n >> 16) % 50, (n >> 24) % 250);
    name_ = "net-" + bridge_;
    nlohmann::json ipam = {{"type", "host-local"},
                           {"dataDir", daemon.dir() / "ipam"},
                           {"ranges", {{{{"subnet", subnet_prefix_ + "0/24"}}}}}};
    if (!range_override.empty()) ipam["ranges"] = nlohmann::json::parse(range_override);
    nlohmann::json plugins = {{{"type", "bridge"}, {"bridge", bridge_}, {"isGateway", true}, {"ipMasq", false},
                               {"hairpinMode", true}, {"ipam", ipam}}};
    if (with_portmap) plugins.push_back({{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}});
    nlohmann::json conf = {{"cniVersion", "1.0.0"}, {"name", name_}, {"plugins", plugins}};
    crio::test::write_file(daemon.dir() / "cni/10-test.conflist", conf.dump(2));
    ipam_dir_ = daemon.dir() / "ipam";
  }
  ~TestNetwork() { crio::test::run_command({"/usr/sbin/ip", "link", "del", bridge_}); }

  const std::string& subnet_prefix() const { return subnet_prefix_; }
  const std::string& bridge() const { return bridge_; }
  // IP addresses host-local still holds for this network.
  size_t allocations() const {
    size_t count = 0;
    std::error_code ec;
    for (const auto& e : stdfs::directory_iterator(ipam_dir_ + "/" + name_, ec)) {
      if (e.path().filename().string().find('.') != std::string::npos &&
          e.path().filename().string().rfind("last_reserved", 0) != 0) {
        ++count;
      }
    }
    return count;
  }

 private:
  std::string bridge_, subnet_prefix_, name_, ipam_dir_;
};

struct PodClient {
  explicit PodClient(const Daemon& daemon) : stub(daemon.runtime_stub()) {}

  static v1::PodSandboxConfig config(const std::string& name) {
    v1::PodSandboxConfig c;
    c.mutable_metadata()->set_name(name);
    c.mutable_metadata()->set_uid("uid-" + name);
    c.mutable_metadata()->set_namespace_("test-ns");
    c.set_hostname(name);
    (*c.mutable_labels())["app"] = name;
    c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
    return c;
  }
  grpc::Status run(const v1::PodSandboxConfig& c, std::string* id = nullptr, const std::string& handler = "") {
    grpc::ClientContext context;
    set_deadline(context, 60);
    v1::RunPodSandboxRequest request;
    *request.mutable_config() = c;
    request.set_runtime_handler(handler);
    v1::RunPodSandboxResponse response;
    grpc::Status s = stub->RunPodSandbox(&context, request, &response);
    if (id) *id = response.pod_sandbox_id();
    return s;
  }
  std::string run_ok(const std::string& name) {
    std::string id;
    grpc::Status s = run(config(name), &id);
    INFO(s.error_message());
    REQUIRE(s.ok());
    return id;
  }
  v1::PodSandboxStatusResponse status(const std::string& id, grpc::Status* out = nullptr) {
    grpc::ClientContext context;
    set_deadline(context);
    v1::PodSandboxStatusRequest request;
    request.set_pod_sandbox_id(id);
    request.set_verbose(true);
    v1::PodSandboxStatusResponse response;
    grpc::Status s = stub->PodSandboxStatus(&context, request, &response);
    if (out) *out = s;
    return response;
  }
  grpc::Status stop(const std::string& id) {
    grpc::ClientContext context;
    set_deadline(context, 30);
    v1::StopPodSandboxRequest request;
    request.set_pod_sandbox_id(id);
    v1::StopPodSandboxResponse response;
    return stub->StopPodSandbox(&context, request, &response);
  }
  grpc::Status remove(const std::string& id) {
    grpc::ClientContext context;
    set_deadline(context, 30);
    v1::RemovePodSandboxRequest request;
    request.set_pod_sandbox_id(id);
    v1::RemovePodSandboxResponse response;
    return stub->RemovePodSandbox(&context, request, &response);
  }
  std::vector<v1::PodSandbox> list(const v1::PodSandboxFilter& filter = {}) {
    grpc::ClientContext context;
    set_deadline(context);
    v1::ListPodSandboxRequest request;
    *request.mutable_filter() = filter;
    v1::ListPodSandboxResponse response;
    REQUIRE(stub->ListPodSandbox(&context, request, &response).ok());
    return {response.items().begin(), response.items().end()};
  }

  std::unique_ptr<v1::RuntimeService::Stub> stub;
};

std::string netns_of(PodClient& pods, const std::string& id) {
  auto info = nlohmann::json::parse(pods.status(id).info().at("info"));
  return info["netns"];
}

size_t count_entries(const std::string& dir) {
  std::error_code ec;
  size_t n = 0;
  for (auto it = stdfs::directory_iterator(dir, ec); !ec && it != stdfs::directory_iterator(); it.increment(ec)) ++n;
  return n;
}

size_t mounts_under(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    if (line.find(" " + dir + "/") != std::string::npos) ++n;
  }
  return n;
}

// The lines of `iptables -t nat -S` (IPv4) that contain `text`.
std::vector<std::string> nat_rules_with(const std::string& text) {
  auto out = crio::test::run_command({"/usr/sbin/iptables", "-w", "-t", "nat", "-S"});
  std::vector<std::string> lines;
  std::istringstream in(out.out);
  for (std::string line; std::getline(in, line);) {
    if (line.find(text) != std::string::npos) lines.push_back(line);
  }
  return lines;
}

size_t count_matching(const std::vector<std::string>& lines, const std::string& text) {
  return static_cast<size_t>(
      std::count_if(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(text) != std::string::npos; }));
}

// Cached CNI results (in libcni's shared /var/lib/cni, as CRI-O) of these pods.
size_t cni_results_of(const std::vector<std::string>& ids) {
  std::error_code ec;
  size_t n = 0;
  for (auto it = stdfs::directory_iterator("/var/lib/cni/results", ec); !ec && it != stdfs::directory_iterator();
       it.increment(ec)) {
    for (const auto& id : ids) n += it->path().filename().string().find(id) != std::string::npos;
  }
  return n;
}

size_t veths_on(const std::string& bridge) {
  auto out = crio::test::run_command({"/usr/sbin/ip", "-o", "link", "show", "master", bridge});
  return static_cast<size_t>(std::count(out.out.begin(), out.out.end(), '\n'));
}

}  // namespace

TEST_CASE("Two pods get distinct IPs in the subnet and reach each other", "[daemon][pod]") {
  Daemon daemon("", false);
  TestNetwork network(daemon);
  daemon.start();
  PodClient pods(daemon);

  std::string a = pods.run_ok("pod-a");
  std::string b = pods.run_ok("pod-b");
  REQUIRE(a.size() == 64);
  auto status_a = pods.status(a).status();
  auto status_b = pods.status(b).status();
  CHECK(status_a.state() == v1::SANDBOX_READY);
  CHECK(status_a.metadata().name() == "pod-a");
  CHECK(status_a.labels().at("app") == "pod-a");
  CHECK_THAT(status_a.network().ip(), Catch::StartsWith(network.subnet_prefix()));
  CHECK_THAT(status_b.network().ip(), Catch::StartsWith(network.subnet_prefix()));
  CHECK(status_a.network().ip() != status_b.network().ip());
  CHECK(status_a.linux().namespaces().options().pid() == v1::CONTAINER);

  auto ping = crio::test::run_command({"/usr/bin/nsenter", "--net=" + netns_of(pods, a), "/bin/busybox", "ping",
                                       "-c", "1", "-W", "2", status_b.network().ip()});
  INFO(ping.out << ping.err);
  CHECK(ping.exit_code == 0);

  // Hostname and resolv.conf of the pod.
  auto info = nlohmann::json::parse(pods.status(a).info().at("info"));
  CHECK(crio::test::read_file(info["hostname"]) == "pod-a\n");
  CHECK_FALSE(crio::test::read_file(info["resolvConf"]).empty());
  CHECK_THAT(crio::test::read_file(info["hosts"]), Catch::Contains(status_a.network().ip() + "\tpod-a"));

  for (const auto& id : {a, b}) {
    CHECK(pods.stop(id).ok());
    CHECK(pods.remove(id).ok());
  }
  CHECK(network.allocations() == 0);
}

TEST_CASE("crio maps a hostPort itself (CRI-O's chains), holds the port, keeps it across kill -9, unmaps at stop",
          "[daemon][pod][hostport]") {
  Daemon daemon("", false);
  TestNetwork network(daemon);  // with portmap in the list: as with CRI-O it gets no mappings
  daemon.start();
  PodClient pods(daemon);
  int host_port = 20000 + static_cast<int>(std::random_device{}() % 20000);
  auto config = PodClient::config("web");
  auto* mapping = config.add_port_mappings();
  mapping->set_container_port(8080);
  mapping->set_host_port(host_port);
  std::string id;
  REQUIRE(pods.run(config, &id).ok());
  const std::string pod_ip = pods.status(id).status().network().ip();
  const std::string comment = fmt::format("k8s_web_test-ns_uid-web_0_ hostport {}", host_port);

  auto rules = nat_rules_with(comment);
  INFO(fmt::format("{}", fmt::join(rules, "\n")));
  // KUBE-HOSTPORTS → KUBE-HP-…, CRIO-HOSTPORTS-MASQ → CRIO-MASQ-…, the DNAT and the hairpin masquerade.
  CHECK(rules.size() == 4);
  CHECK(count_matching(rules, "-A KUBE-HOSTPORTS ") == 1);
  CHECK(count_matching(rules, "-A CRIO-HOSTPORTS-MASQ ") == 1);
  CHECK(count_matching(rules, fmt::format("-j DNAT --to-destination {}:8080", pod_ip)) == 1);
  CHECK(count_matching(rules, "-j MASQUERADE") == 1);
  // The portmap plugin got no mappings: no rule of its own names the pod.
  CHECK(nat_rules_with(id).empty());
  // The shared chains are reached for local destinations from outside and from the node.
  CHECK(nat_rules_with("kube hostport portals").size() >= 2);

  // A listener in the pod, reached from the node through one of the node's own addresses.
  crio::test::Child server({"/usr/bin/nsenter", "--net=" + netns_of(pods, id), "/bin/busybox", "nc", "-ll", "-p",
                            "8080", "-e", "/bin/busybox", "echo", "hello-from-pod"},
                           daemon.dir() / "nc.log");
  auto reach = [&] {
    return crio::test::eventually(
        [&] {
          auto out = crio::test::run_command(
              {"/bin/busybox", "nc", "-w", "1", network.subnet_prefix() + "1", std::to_string(host_port)});
          return out.out.find("hello-from-pod") != std::string::npos;
        },
        std::chrono::seconds(10));
  };
  CHECK(reach());

  // The port is held: a second pod asking for it fails and leaves no rule behind.
  auto other = PodClient::config("other");
  *other.add_port_mappings() = *mapping;
  grpc::Status refused = pods.run(other);
  CHECK(refused.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK_THAT(refused.error_message(), Catch::Contains(std::to_string(host_port)));
  CHECK(nat_rules_with(fmt::format("k8s_other_test-ns_uid-other_0_ hostport {}", host_port)).empty());

  // kill -9 and a new daemon: the same rules, not twice, and the port held again.
  daemon.stop(SIGKILL);
  daemon.start();
  PodClient after(daemon);
  CHECK(nat_rules_with(comment) == rules);
  CHECK(reach());
  CHECK(after.run(other).error_code() == grpc::StatusCode::FAILED_PRECONDITION);

  CHECK(after.stop(id).ok());
  CHECK(nat_rules_with(comment).empty());
  CHECK(after.remove(id).ok());
  // Released: a new pod may take the port.
  std::string second;
  REQUIRE(after.run(other, &second).ok());
  CHECK(nat_rules_with(fmt::format("k8s_other_test-ns_uid-other_0_ hostport {}", host_port)).size() == 4);
  CHECK(after.remove(second).ok());
  CHECK(nat_rules_with(fmt::format("k8s_other_test-ns_uid-other_0_ hostport {}", host_port)).empty());
}

TEST_CASE("disable_hostport_mapping: no rules and no held port for a pod's hostPort", "[daemon][pod][hostport]") {
  Daemon daemon("", false);
  TestNetwork network(daemon);
  // CRI-O's variable for --disable-hostport-mapping, which sets the crio.conf key.
  daemon.add_env("DISABLE_HOSTPORT_MAPPING=true");
  daemon.start();
  PodClient pods(daemon);
  int host_port = 20000 + static_cast<int>(std::random_device{}() % 20000);
  auto config = PodClient::config("unmapped");
  auto* mapping = config.add_port_mappings();
  mapping->set_container_port(8080);
  mapping->set_host_port(host_port);
  std::string id;
  REQUIRE(pods.run(config, &id).ok());
  CHECK(nat_rules_with(fmt::format("hostport {}", host_port)).empty());
  CHECK(nat_rules_with(id).empty());  // nor by the portmap plugin, as with CRI-O
  // Not held either: a second pod with the same host port is fine.
  auto other = PodClient::config("unmapped-2");
  *other.add_port_mappings() = *mapping;
  std::string second;
  CHECK(pods.run(other, &second).ok());
  CHECK(pods.remove(id).ok());
  CHECK(pods.remove(second).ok());
}

TEST_CASE("The CNI result is cached in libcni's place and format and goes with the pod", "[daemon][pod]") {
  Daemon daemon("", false);
  TestNetwork network(daemon, false);
  daemon.start();
  PodClient pods(daemon);
  std::string id = pods.run_ok("cached");
  const std::string file = "/var/lib/cni/results/net-" + network.bridge() + "-" + id + "-eth0";
  REQUIRE(stdfs::exists(file));
  auto entry = nlohmann::json::parse(crio::test::read_file(file));
  CHECK(entry["kind"] == "cniCacheV1");
  CHECK(entry["containerId"] == id);
  CHECK(entry["ifName"] == "eth0");
  CHECK(entry["networkName"] == "net-" + network.bridge());
  CHECK(entry["result"]["ips"][0]["address"].get<std::string>().starts_with(network.subnet_prefix()));
  // libcni keeps the configuration as bytes (base64) and the arguments as pairs.
  REQUIRE(entry["config"].is_string());
  auto decoded = crio::test::run_command({"/bin/sh", "-c", "echo " + entry["config"].get<std::string>() + " | base64 -d"});
  CHECK(nlohmann::json::parse(decoded.out)["name"] == "net-" + network.bridge());
  CHECK(entry["cniArgs"].dump().find(R"(["K8S_POD_NAME","cached"])") != std::string::npos);
  CHECK(pods.stop(id).ok());
  CHECK_FALSE(stdfs::exists(file));
  CHECK(pods.remove(id).ok());
}

TEST_CASE("A pod whose netns was deleted and replaced by a plain file is removed, and the file with it",
          "[daemon][pod]") {
  Daemon daemon("", false);
  TestNetwork network(daemon, false);
  daemon.start();
  PodClient pods(daemon);
  std::string id = pods.run_ok("netns-gone");
  auto info = nlohmann::json::parse(pods.status(id).info().at("info"));
  // The dropped infra container's spec, as CRI-O shows it, names the pod's netns.
  std::string netns;
  for (const auto& ns : info["runtimeSpec"]["linux"]["namespaces"]) {
    if (ns["type"] == "network") netns = ns["path"];
  }
  REQUIRE(netns == info["netns"]);
  while (::umount2(netns.c_str(), MNT_DETACH) == 0) {
  }
  stdfs::remove(netns);
  crio::test::write_file(netns, "");
  CHECK(pods.remove(id).ok());
  CHECK_FALSE(stdfs::exists(netns));
  CHECK_THAT(daemon.log(), Catch::Contains("Removed invalid netns path " + netns + " from pod sandbox"));
  CHECK(network.allocations() == 0);
}

TEST_CASE("A host-network pod gets no namespace of its own and no CNI call", "[daemon][pod]") {
  Daemon daemon("", false);
  TestNetwork network(daemon);
  daemon.start();
  PodClient pods(daemon);
  auto config = PodClient::config("hostnet");
  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(v1::NODE);
  std::string id;
  REQUIRE(pods.run(config, &id).ok());
  auto status = pods.status(id);
  CHECK(status.status().network().ip().empty());
  CHECK(nlohmann::json::parse(status.info().at("info"))["netns"] == "");
  CHECK(network.allocations() == 0);
  CHECK(veths_on(network.bridge()) == 0);
  CHECK(pods.remove(id).ok());
}

TEST_CASE("Pod status, list filters, ID prefixes and idempotent stop and remove", "[daemon][pod]") {
  Daemon daemon("", false);
  TestNetwork network(daemon);
  daemon.start();
  PodClient pods(daemon);
  std::string a = pods.run_ok("alpha");
  std::string b = pods.run_ok("beta");

  CHECK(pods.list().size() == 2);
  v1::PodSandboxFilter by_label;
  (*by_label.mutable_label_selector())["app"] = "beta";
  auto labelled = pods.list(by_label);
  REQUIRE(labelled.size() == 1);
  CHECK(labelled[0].id() == b);
  v1::PodSandboxFilter by_prefix;
  by_prefix.set_id(a.substr(0, 10));
  REQUIRE(pods.list(by_prefix).size() == 1);
  CHECK(pods.status(a.substr(0, 12)).status().id() == a);

  REQUIRE(pods.stop(a).ok());
  CHECK(pods.stop(a).ok());
  CHECK(pods.status(a).status().state() == v1::SANDBOX_NOTREADY);
  v1::PodSandboxFilter ready;
  ready.mutable_state()->set_state(v1::SANDBOX_READY);
  auto ready_pods = pods.list(ready);
  REQUIRE(ready_pods.size() == 1);
  CHECK(ready_pods[0].id() == b);

  grpc::Status missing;
  pods.status(std::string(64, 'f'), &missing);
  CHECK(missing.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(pods.remove(a).ok());
  CHECK(pods.remove(a).ok());
  CHECK(pods.stop(std::string(64, 'e')).ok());
  CHECK(pods.remove(b).ok());
  CHECK(pods.list().empty());
}

TEST_CASE("A pod without infra container gets the cgroup crio-<id> under its parent until removed",
          "[daemon][pod][cgroup]") {
  Daemon daemon("", false);
  TestNetwork network(daemon);
  daemon.start();
  PodClient pods(daemon);
  // A parent of the test's own, removed at the end (the kubelet makes it on a node).
  std::string parent = "/crio-pod-test-" + std::filesystem::path(daemon.dir().path()).filename().string();
  auto c = PodClient::config("cgrouped");
  c.mutable_linux()->set_cgroup_parent(parent);
  std::string id;
  grpc::Status s = pods.run(c, &id);
  INFO(s.error_message());
  REQUIRE(s.ok());
  const std::string memory = "/sys/fs/cgroup/memory" + parent;
  CHECK(std::filesystem::is_directory(memory + "/crio-" + id));
  CHECK(crio::test::read_file("/sys/fs/cgroup/cpuset" + parent + "/crio-" + id + "/cpuset.sched_load_balance") ==
        "0\n");
  REQUIRE(pods.stop(id).ok());
  CHECK(std::filesystem::is_directory(memory + "/crio-" + id));
  REQUIRE(pods.remove(id).ok());
  CHECK_FALSE(std::filesystem::exists(memory + "/crio-" + id));
  for (const auto& entry : std::filesystem::directory_iterator("/sys/fs/cgroup")) {
    ::rmdir((entry.path().string() + parent).c_str());
  }
}

TEST_CASE("Bad pod requests get clear errors and leave nothing behind", "[daemon][pod]") {
  Daemon daemon("", false);
  crio::test::write_file(daemon.dir() / "crio.conf.d/30-shm.conf",
                         "[crio.runtime.runtimes.runc]\nallowed_annotations = [\"io.kubernetes.cri-o.ShmSize\"]\n");
  TestNetwork network(daemon);
  daemon.start();
  PodClient pods(daemon);

  auto no_name = PodClient::config("");
  CHECK(pods.run(no_name).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  grpc::Status handler = pods.run(PodClient::config("h"), nullptr, "no-such-handler");
  CHECK(handler.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(handler.error_message(), Catch::Contains("no-such-handler"));
  auto bad_sysctl = PodClient::config("sysctl");
  (*bad_sysctl.mutable_linux()->mutable_sysctls())["vm.swappiness"] = "10";
  grpc::Status sysctl = pods.run(bad_sysctl);
  CHECK(sysctl.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(sysctl.error_message(), Catch::Contains("vm.swappiness"));

  auto bad_shm = PodClient::config("shm");
  (*bad_shm.mutable_annotations())["io.kubernetes.cri-o.ShmSize"] = "huge";
  grpc::Status shm = pods.run(bad_shm);
  CHECK(shm.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(shm.error_message(), Catch::Contains("ShmSize"));

  auto bad_bandwidth = PodClient::config("bandwidth");
  (*bad_bandwidth.mutable_annotations())["kubernetes.io/ingress-bandwidth"] = "lots";
  grpc::Status bandwidth = pods.run(bad_bandwidth);
  CHECK(bandwidth.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(bandwidth.error_message(), Catch::Contains("ingress-bandwidth"));

  // A duplicate request gets the pod made by the first, as from CRI-O.
  std::string first = pods.run_ok("twice");
  std::string second;
  CHECK(pods.run(PodClient::config("twice"), &second).ok());
  CHECK(second == first);
  CHECK(pods.remove(first).ok());

  // A plugin that does not exist: the ADD fails and everything is undone.
  crio::test::write_file(daemon.dir() / "cni/10-test.conflist",
                         R"({"cniVersion": "1.0.0", "name": "broken", "plugins": [{"type": "no-such-plugin"}]})");
  grpc::Status missing_plugin = pods.run(PodClient::config("nope"));
  CHECK(missing_plugin.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK_THAT(missing_plugin.error_message(), Catch::Contains("no-such-plugin"));
  crio::test::write_file(daemon.dir() / "cni/10-test.conflist", "{ this is not json");
  CHECK(pods.run(PodClient::config("nope")).error_code() == grpc::StatusCode::FAILED_PRECONDITION);

  CHECK(pods.list().empty());
  CHECK(count_entries(daemon.dir() / "run/ns/netns") == 0);
  CHECK(count_entries(daemon.dir() / "run/ns/ipcns") == 0);
  CHECK(count_entries(daemon.dir() / "run/storage/crio/pods") == 0);
  CHECK(mounts_under(daemon.dir().path()) == 0);
}

TEST_CASE("An exhausted IP range is a clear error that leaves nothing behind", "[daemon][pod]") {
  Daemon daemon("", false);
  TestNetwork network(daemon, false, "");
  // One address in the range: the second pod cannot get one.
  crio::test::write_file(daemon.dir() / "cni/10-test.conflist",
                         nlohmann::json{{"cniVersion", "1.0.0"},
                                        {"name", "tiny"},
                                        {"plugins",
                                         {{{"type", "bridge"},
                                           {"bridge", network.bridge()},
                                           {"ipam",
                                            {{"type", "host-local"},
                                             {"dataDir", daemon.dir() / "ipam"},
                                             {"ranges",
                                              {{{{"subnet", network.subnet_prefix() + "0/24"},
                                                 {"rangeStart", network.subnet_prefix() + "10"},
                                                 {"rangeEnd", network.subnet_prefix() + "10"}}}}}}}}}}}
                             .dump());
  daemon.start();
  PodClient pods(daemon);
  std::string first = pods.run_ok("only");
  grpc::Status exhausted = pods.run(PodClient::config("second"));
  CHECK_FALSE(exhausted.ok());
  CHECK_THAT(exhausted.error_message(), Catch::Contains("second"));
  CHECK(pods.list().size() == 1);
  CHECK(count_entries(daemon.dir() / "run/ns/netns") == 1);
  CHECK(veths_on(network.bridge()) == 1);
  CHECK(pods.remove(first).ok());
}

TEST_CASE("Pods survive a restart and a kill -9 with the same IPs, and stop and remove after", "[daemon][pod]") {
  Daemon daemon("", false);
  TestNetwork network(daemon);
  daemon.start();
  std::vector<std::pair<std::string, std::string>> before;
  {
    PodClient pods(daemon);
    for (const char* name : {"r1", "r2", "r3"}) {
      std::string id = pods.run_ok(name);
      before.emplace_back(id, pods.status(id).status().network().ip());
    }
  }
  daemon.stop(SIGTERM);
  daemon.start();
  daemon.stop(SIGKILL);
  daemon.start();
  PodClient pods(daemon);
  CHECK(pods.list().size() == 3);
  for (const auto& [id, ip] : before) {
    auto status = pods.status(id).status();
    CHECK(status.state() == v1::SANDBOX_READY);
    CHECK(status.network().ip() == ip);
  }
  for (const auto& [id, ip] : before) {
    CHECK(pods.stop(id).ok());
    CHECK(pods.remove(id).ok());
  }
  CHECK(network.allocations() == 0);
  // The kernel destroys a network namespace (and the veth in it) asynchronously.
  CHECK(crio::test::eventually([&] { return veths_on(network.bridge()) == 0; }));
}

TEST_CASE("Namespaced sysctls and DNS settings reach the pod", "[daemon][pod]") {
  Daemon daemon("", false);
  // Defaults go first; the pod's own value wins.
  crio::test::write_file(daemon.dir() / "crio.conf.d/30-sysctls.conf",
                         "[crio.runtime]\ndefault_sysctls = [\"net.ipv4.tcp_fin_timeout=33\", "
                         "\"net.ipv4.ip_unprivileged_port_start=900\"]\n");
  TestNetwork network(daemon);
  daemon.start();
  PodClient pods(daemon);
  auto config = PodClient::config("tuned");
  (*config.mutable_linux()->mutable_sysctls())["net.ipv4.ip_unprivileged_port_start"] = "1000";
  (*config.mutable_linux()->mutable_sysctls())["kernel.shmmni"] = "2048";
  config.mutable_dns_config()->add_servers("10.96.0.10");
  config.mutable_dns_config()->add_searches("test-ns.svc.cluster.local");
  config.mutable_dns_config()->add_options("ndots:5");
  std::string id;
  grpc::Status s = pods.run(config, &id);
  INFO(s.error_message());
  REQUIRE(s.ok());
  auto info = nlohmann::json::parse(pods.status(id).info().at("info"));
  auto port_start = crio::test::run_command({"/usr/bin/nsenter", "--net=" + info["netns"].get<std::string>(),
                                             "/bin/cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"});
  CHECK(port_start.out == "1000\n");
  auto fin_timeout = crio::test::run_command({"/usr/bin/nsenter", "--net=" + info["netns"].get<std::string>(),
                                              "/bin/cat", "/proc/sys/net/ipv4/tcp_fin_timeout"});
  CHECK(fin_timeout.out == "33\n");
  auto shmmni = crio::test::run_command({"/usr/bin/nsenter", "--ipc=" + info["ipcns"].get<std::string>(), "/bin/cat",
                                         "/proc/sys/kernel/shmmni"});
  CHECK(shmmni.out == "2048\n");
  CHECK(crio::test::read_file(info["resolvConf"]) ==
        "search test-ns.svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n");
  // /dev/shm: 64 MiB by default.
  auto shm = crio::test::run_command({"/usr/bin/findmnt", "-n", "-o", "OPTIONS", info["shm"].get<std::string>()});
  CHECK_THAT(shm.out, Catch::Contains("size=65536k"));
  CHECK(pods.remove(id).ok());
}

TEST_CASE("A pod in the host's network and IPC namespaces skips their sysctls", "[daemon][pod]") {
  Daemon daemon("", false);
  crio::test::write_file(daemon.dir() / "crio.conf.d/30-sysctls.conf",
                         "[crio.runtime]\ndefault_sysctls = [\"net.ipv4.tcp_fin_timeout=33\"]\n");
  TestNetwork network(daemon);
  daemon.start();
  PodClient pods(daemon);
  const std::string host_fin = crio::test::read_file("/proc/sys/net/ipv4/tcp_fin_timeout");
  const std::string host_msgmax = crio::test::read_file("/proc/sys/kernel/msgmax");
  auto config = PodClient::config("hostns");
  auto* ns = config.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  ns->set_network(v1::NODE);
  ns->set_ipc(v1::NODE);
  (*config.mutable_linux()->mutable_sysctls())["net.ipv4.tcp_fin_timeout"] = "44";
  (*config.mutable_linux()->mutable_sysctls())["kernel.msgmax"] = "16385";
  std::string id;
  grpc::Status s = pods.run(config, &id);
  INFO(s.error_message());
  REQUIRE(s.ok());
  CHECK(crio::test::read_file("/proc/sys/net/ipv4/tcp_fin_timeout") == host_fin);
  CHECK(crio::test::read_file("/proc/sys/kernel/msgmax") == host_msgmax);
  CHECK(pods.remove(id).ok());
}

TEST_CASE("default_sysctls reach every pod under its own, and one a pod may not set is skipped", "[daemon][pod]") {
  Daemon daemon("", false);
  crio::test::write_file(daemon.dir() / "crio.conf.d/30-sysctls.conf",
                         "[crio.runtime]\ndefault_sysctls = [\"net.ipv4.ip_unprivileged_port_start=900\", "
                         "\"kernel.shmmni=3000\", \"net.ipv4.ping_group_range=0 1000\"]\n");
  TestNetwork network(daemon);
  daemon.start();
  PodClient pods(daemon);
  auto config = PodClient::config("defaults");
  (*config.mutable_linux()->mutable_sysctls())["kernel.shmmni"] = "2048";  // the pod's wins
  std::string id;
  grpc::Status s = pods.run(config, &id);
  INFO(s.error_message());
  REQUIRE(s.ok());
  auto info = nlohmann::json::parse(pods.status(id).info().at("info"));
  auto in_net = [&](const std::string& file) {
    return crio::test::run_command({"/usr/bin/nsenter", "--net=" + info["netns"].get<std::string>(), "/bin/cat", file})
        .out;
  };
  CHECK(in_net("/proc/sys/net/ipv4/ip_unprivileged_port_start") == "900\n");
  CHECK(in_net("/proc/sys/net/ipv4/ping_group_range") == "0\t1000\n");
  auto shmmni = crio::test::run_command(
      {"/usr/bin/nsenter", "--ipc=" + info["ipcns"].get<std::string>(), "/bin/cat", "/proc/sys/kernel/shmmni"});
  CHECK(shmmni.out == "2048\n");
  CHECK(pods.remove(id).ok());

  // A host-network pod cannot take net.* sysctls: the defaults' are skipped, not fatal.
  std::string host;
  auto host_config = PodClient::config("defaults-host");
  host_config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(v1::NODE);
  s = pods.run(host_config, &host);
  INFO(s.error_message());
  REQUIRE(s.ok());
  CHECK(pods.remove(host).ok());
}

TEST_CASE("100 create, stop and remove cycles leave nothing behind", "[daemon][pod][slow]") {
  Daemon daemon("", false);
  TestNetwork network(daemon, false);
  daemon.start();
  PodClient pods(daemon);
  std::vector<std::string> pods_seen;
  for (int i = 0; i < 100; ++i) {
    std::string id = pods.run_ok("cycle-" + std::to_string(i));
    pods_seen.push_back(id);
    REQUIRE(pods.stop(id).ok());
    REQUIRE(pods.remove(id).ok());
  }
  CHECK(pods.list().empty());
  CHECK(count_entries(daemon.dir() / "run/ns/netns") == 0);
  CHECK(count_entries(daemon.dir() / "run/ns/utsns") == 0);
  CHECK(count_entries(daemon.dir() / "run/ns/ipcns") == 0);
  CHECK(count_entries(daemon.dir() / "storage/crio/pods") == 0);
  CHECK(count_entries(daemon.dir() / "run/storage/crio/pods") == 0);
  CHECK(cni_results_of(pods_seen) == 0);
  CHECK(mounts_under(daemon.dir().path()) == 0);
  CHECK(network.allocations() == 0);
  CHECK(crio::test::eventually([&] { return veths_on(network.bridge()) == 0; }));
}

TEST_CASE("A RunPodSandbox whose client gave up hands its pod to the retry with the same name", "[daemon][pod]") {
  Daemon daemon("", false);
  TestNetwork network(daemon);
  daemon.start();
  PodClient pods(daemon);
  auto config = PodClient::config("impatient");
  {
    grpc::ClientContext context;
    // Far shorter than a pod takes to start: the call fails here, the daemon goes on.
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(2));
    v1::RunPodSandboxRequest request;
    *request.mutable_config() = config;
    v1::RunPodSandboxResponse response;
    grpc::Status s = pods.stub->RunPodSandbox(&context, request, &response);
    REQUIRE(s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  // The kubelet's retries, each with a short deadline: one that finds the first
  // creation still running fails when its deadline passes; the next one after the
  // creation finished gets the pod.
  std::string id;
  grpc::Status retry;
  for (int attempt = 0; attempt < 30; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    v1::RunPodSandboxRequest request;
    *request.mutable_config() = config;
    v1::RunPodSandboxResponse response;
    retry = pods.stub->RunPodSandbox(&context, request, &response);
    if (retry.ok()) {
      id = response.pod_sandbox_id();
      break;
    }
    CHECK(retry.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  INFO(retry.error_message());
  REQUIRE(retry.ok());
  CHECK(pods.list().size() == 1);
  CHECK(pods.list()[0].id() == id);
  // Once handed over, a duplicate request still gets the same pod, never a second.
  std::string again;
  CHECK(pods.run(config, &again).ok());
  CHECK(again == id);
  CHECK(pods.list().size() == 1);
  CHECK(pods.remove(id).ok());
}

TEST_CASE("A pod whose namespace pins vanished keeps its recorded state and is stopped and removed cleanly",
          "[daemon][pod]") {
  Daemon daemon("", false);
  TestNetwork network(daemon);
  daemon.start();
  PodClient pods(daemon);
  std::string id = pods.run_ok("rebooted");
  auto info = nlohmann::json::parse(pods.status(id).info().at("info"));
  daemon.stop(SIGKILL);
  // The pins unmounted behind the daemon's back (or out of its sight, in a mount
  // namespace it does not share): the mounts are gone, the files may stay.
  for (const char* key : {"netns", "utsns", "ipcns"}) {
    const std::string pin = info[key];
    while (::umount2(pin.c_str(), MNT_DETACH) == 0) {
    }
    auto mounted = crio::test::run_command({"/usr/bin/findmnt", "-n", pin});
    INFO(mounted.out);
    REQUIRE(mounted.exit_code != 0);
  }
  ::umount2(info["shm"].get<std::string>().c_str(), MNT_DETACH);
  daemon.start();
  PodClient after(daemon);
  grpc::Status asked;
  auto restored = after.status(id, &asked);
  INFO(asked.error_message());
  REQUIRE(asked.ok());
  CHECK(restored.status().state() == v1::SANDBOX_READY);
  CHECK(after.stop(id).ok());
  CHECK(after.status(id).status().state() == v1::SANDBOX_NOTREADY);
  CHECK(after.remove(id).ok());
  CHECK(after.list().empty());
  CHECK(network.allocations() == 0);
  CHECK(count_entries(daemon.dir() / "run/ns/netns") == 0);
  CHECK(cni_results_of({id}) == 0);
}

namespace {

std::string shm_options_of(PodClient& pods, const std::string& id) {
  auto info = nlohmann::json::parse(pods.status(id).info().at("info"));
  return crio::test::run_command({"/usr/bin/findmnt", "-n", "-o", "OPTIONS", info["shm"].get<std::string>()}).out;
}

}  // namespace

TEST_CASE("The io.kubernetes.cri-o.ShmSize annotation sizes the pod's /dev/shm where the handler allows it",
          "[daemon][pod]") {
  Daemon daemon("", false);
  crio::test::write_file(daemon.dir() / "crio.conf.d/30-shm.conf",
                         "[crio.runtime.runtimes.runc]\nallowed_annotations = [\"io.kubernetes.cri-o.ShmSize\"]\n");
  TestNetwork network(daemon);
  daemon.start();
  PodClient pods(daemon);
  auto config = PodClient::config("bigshm");
  (*config.mutable_annotations())["io.kubernetes.cri-o.ShmSize"] = "128Mi";
  std::string id;
  REQUIRE(pods.run(config, &id).ok());
  CHECK_THAT(shm_options_of(pods, id), Catch::Contains("size=131072k"));
  CHECK(pods.remove(id).ok());
}

TEST_CASE("A ShmSize annotation the handler does not allow is dropped, and a workload can allow it", "[daemon][pod]") {
  Daemon daemon("", false);
  crio::test::write_file(daemon.dir() / "crio.conf.d/30-workload.conf",
                         "[crio.runtime.workloads.shm]\nactivation_annotation = \"example.com/shm\"\n"
                         "allowed_annotations = [\"io.kubernetes.cri-o.ShmSize\"]\n");
  TestNetwork network(daemon);
  daemon.start();
  PodClient pods(daemon);

  auto plain = PodClient::config("plainshm");
  (*plain.mutable_annotations())["io.kubernetes.cri-o.ShmSize"] = "16Mi";
  std::string plain_id;
  REQUIRE(pods.run(plain, &plain_id).ok());
  CHECK_THAT(shm_options_of(pods, plain_id), Catch::Contains("size=65536k"));

  // Not allowed, so not even read: a bad value is no error either.
  auto bad = PodClient::config("badshm");
  (*bad.mutable_annotations())["io.kubernetes.cri-o.ShmSize"] = "huge";
  std::string bad_id;
  CHECK(pods.run(bad, &bad_id).ok());

  auto activated = PodClient::config("workloadshm");
  (*activated.mutable_annotations())["io.kubernetes.cri-o.ShmSize"] = "16Mi";
  (*activated.mutable_annotations())["example.com/shm"] = "";
  std::string activated_id;
  REQUIRE(pods.run(activated, &activated_id).ok());
  CHECK_THAT(shm_options_of(pods, activated_id), Catch::Contains("size=16384k"));

  for (const auto& id : {plain_id, bad_id, activated_id}) CHECK(pods.remove(id).ok());
}
