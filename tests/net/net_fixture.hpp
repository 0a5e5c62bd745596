#pragma once
// Shared pieces of the libcrio-net tests: a private bridge, subnet, namespace dir and
// cache dir per test, torn down at the end whatever happened.

#include <crio/net/netns.hpp>
#include <crio/net/network.hpp>

#include "process.hpp"
#include "temp_dir.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace crio::nettest {

using namespace crio::net;

inline const std::string kPluginDir = "/usr/lib/cni";

inline uint32_t random_u32() {
  static thread_local std::mt19937 rng{std::random_device{}()};
  return rng();
}

inline std::string hex4() { return fmt::format("{:04x}", random_u32() & 0xffff); }

// Lines of `ip route` / addresses already on the host, to avoid a subnet in use.
inline bool subnet_in_use(const std::string& prefix) {
  auto r = crio::test::run_command({"/usr/sbin/ip", "-4", "route", "show"});
  return r.out.find(prefix + ".") != std::string::npos;
}

inline std::vector<std::string> dir_entries(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    out.push_back(it->path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline std::vector<std::string> mounts_under(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, target;
    fields >> id >> parent >> devno >> root >> target;
    if (target.rfind(dir + "/", 0) == 0) out.push_back(target);
  }
  return out;
}

// One test's private network world.
class NetEnv {
 public:
  NetEnv() : tmp_("crio-net") {
    bridge_ = "crt" + hex4();
    do {
      uint32_t r = random_u32();
      prefix_ = fmt::format("10.{}.{}", 200 + r % 56, (r >> 8) % 256);
    } while (subnet_in_use(prefix_));
    name_ = "crio-test-" + bridge_;
    ns_dir_ = tmp_ / "ns";
    cache_dir_ = tmp_ / "cache";
    ipam_dir_ = tmp_ / "ipam";
    plugin_dir_ = tmp_ / "plugins";
    std::filesystem::create_directories(plugin_dir_);
  }
  ~NetEnv() {
    // Detach what is still attached (so portmap rules and IPs go), then the pins,
    // then the bridge, which DEL never removes.
    for (auto it = attached_.rbegin(); it != attached_.rend(); ++it) (void)it->first->detach(it->second);
    for (const auto& sub : {"netns", "utsns", "ipcns"}) {
      for (const auto& f : dir_entries(ns_dir_ + "/" + sub))
        (void)remove_pinned_namespace(ns_dir_ + "/" + sub + "/" + f);
    }
    crio::test::run_command({"/usr/sbin/ip", "link", "del", bridge_});
  }
  NetEnv(const NetEnv&) = delete;
  NetEnv& operator=(const NetEnv&) = delete;

  const std::string& bridge() const { return bridge_; }
  const std::string& prefix() const { return prefix_; }  // "10.2xx.yy"
  const std::string& name() const { return name_; }      // the network name
  const std::string& ns_dir() const { return ns_dir_; }
  const std::string& cache_dir() const { return cache_dir_; }
  const std::string& plugin_dir() const { return plugin_dir_; }
  std::string subnet() const { return prefix_ + ".0/24"; }
  const crio::test::TempDir& tmp() const { return tmp_; }

  // bridge + host-local (dataDir in the temp dir), optionally loopback first and
  // portmap / extra plugin objects after it.
  std::string conflist(const std::string& version, const std::string& ipam_extra = "", bool loopback = true,
                       bool portmap = false, const std::vector<std::string>& extra_plugins = {},
                       const std::string& subnet = "") const {
    std::string plugins;
    if (loopback) plugins += R"({"type": "loopback"},)";
    plugins += fmt::format(
        R"({{"type": "bridge", "bridge": "{}", "isGateway": true, "ipMasq": false, "hairpinMode": true,
             "ipam": {{"type": "host-local", "dataDir": "{}", "subnet": "{}"{}, "routes": [{{"dst": "0.0.0.0/0"}}]}}}})",
        bridge_, ipam_dir_, subnet.empty() ? this->subnet() : subnet, ipam_extra);
    if (portmap) plugins += R"(, {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true})";
    for (const auto& p : extra_plugins) plugins += ", " + p;
    return fmt::format(R"({{"cniVersion": "{}", "name": "{}", "plugins": [{}]}})", version, name_, plugins);
  }

  NetworkOptions options(std::chrono::milliseconds timeout = std::chrono::seconds(20)) const {
    NetworkOptions o;
    o.plugin_dirs = {plugin_dir_, kPluginDir};
    o.cache_dir = cache_dir_;
    o.plugin_timeout = timeout;
    return o;
  }

  // A Network over `conflist`; the env keeps it alive until after its cleanup.
  Network& network(const std::string& conflist_json, NetworkOptions opts) {
    auto parsed = parse_network_config(tmp_ / "net.conflist", conflist_json);
    if (!parsed.ok()) throw std::runtime_error(parsed.status().to_string());
    networks_.push_back(std::make_unique<Network>(std::move(*parsed), std::move(opts)));
    return *networks_.back();
  }
  Network& network(const std::string& conflist_json) { return network(conflist_json, options()); }

  PodNetworkRequest request(const std::string& netns_path, const std::string& id = "") const {
    PodNetworkRequest r;
    r.container_id = id.empty() ? fmt::format("{:08x}{:08x}", random_u32(), random_u32()) : id;
    r.netns_path = netns_path;
    r.pod_name = "pod-" + r.container_id.substr(0, 6);
    r.pod_namespace = "default";
    r.pod_uid = "uid-" + r.container_id;
    return r;
  }

  // Records an attachment so the destructor detaches it if the test did not.
  void track(Network& n, const PodNetworkRequest& r) { attached_.emplace_back(&n, r); }
  void untrack(const PodNetworkRequest& r) {
    std::erase_if(attached_, [&](const auto& a) { return a.second.container_id == r.container_id; });
  }

  // IP addresses host-local has handed out in this network.
  std::vector<std::string> allocated_ips() const {
    std::vector<std::string> out;
    for (const auto& f : dir_entries(ipam_dir_ + "/" + name_)) {
      if (f.rfind(prefix_, 0) == 0) out.push_back(f);
    }
    return out;
  }

  // Interfaces enslaved to the bridge (the host ends of pod veths).
  std::vector<std::string> bridge_ports() const { return dir_entries("/sys/class/net/" + bridge_ + "/brif"); }

  // Writes an executable script into the test's plugin dir.
  void add_plugin(const std::string& name, const std::string& script) const {
    const std::string path = plugin_dir_ + "/" + name;
    crio::test::write_file(path, script);
    ::chmod(path.c_str(), 0755);
  }

 private:
  crio::test::TempDir tmp_;
  std::string bridge_, prefix_, name_, ns_dir_, cache_dir_, ipam_dir_, plugin_dir_;
  std::vector<std::unique_ptr<Network>> networks_;
  std::vector<std::pair<Network*, PodNetworkRequest>> attached_;
};

inline std::string status_text(const Status& s) { return s.to_string(); }
template <typename T>
std::string status_text(const Result<T>& r) {
  return r.status().to_string();
}

// Runs argv inside the network namespace pinned at `netns`.
inline crio::test::CommandResult in_netns(const std::string& netns, std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"/usr/bin/nsenter", "--net=" + netns});
  return crio::test::run_command(argv);
}

}  // namespace crio::nettest

// REQUIRE that a Status or Result is OK, showing its message when it is not.
#define REQUIRE_OK(expr)                           \
  do {                                             \
    const auto& crio_ok__ = (expr);                \
    INFO(::crio::nettest::status_text(crio_ok__)); \
    REQUIRE(crio_ok__.ok());                       \
  } while (0)
