#pragma once
// The fixtures of the container-level daemon tests: a daemon pointed at a test
// registry with test/multi:v1 pulled (Env), a CRI client with the calls those tests
// make (Client), a pod removed at the end of a test (PodGuard), the runtime tags the
// suite is templated over (Runc, Crun), and the probes that look for what a container
// leaves on the host (mounts, cgroups, processes, files).

#include "daemon_fixture.hpp"
#include "registry_fixture.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace crio::test::containers {

namespace v1 = runtime::v1;

// The runtime handlers the suite runs against, as TEMPLATE_TEST_CASE types: the pod's
// runtime_handler picks one of the two handlers every Env configures.
struct Runc {
  static constexpr const char* kHandler = "runc";
};
struct Crun {
  static constexpr const char* kHandler = "crun";
};

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A daemon whose runtimes keep their state under its own directory, pointed at the
// test registry, with test/multi:v1 pulled.
struct Env {
  TestRegistry registry;
  std::unique_ptr<Daemon> daemon;
  std::string image;

  // `extra_drop_in` becomes crio.conf.d/30-test.conf.
  explicit Env(const std::string& extra_drop_in = "")
      : Env([&](const std::string&) { return extra_drop_in; }) {}

  // `drop_in(dir)` is called with the daemon's directory before the start; what it
  // returns becomes crio.conf.d/30-test.conf.
  explicit Env(const std::function<std::string(const std::string&)>& drop_in) {
    registry.push_test_images("/nonexistent", "multi,pause");
    daemon = std::make_unique<Daemon>("", false);
    const std::string d = daemon->dir().path();
    crio::test::write_file(daemon->dir() / "registries.conf",
                           "[[registry]]\nlocation = \"" + registry.host() + "\"\ninsecure = true\n");
    crio::test::write_file(daemon->dir() / "crio.conf.d/20-runtimes.conf",
                           "[crio.runtime.runtimes.runc]\nruntime_root = \"" + d +
                               "/runc-root\"\n"
                               "[crio.runtime.runtimes.crun]\nruntime_root = \"" +
                               d + "/crun-root\"\n");
    // Pods that share their PID namespace get an infra container from this image.
    crio::test::write_file(daemon->dir() / "crio.conf.d/25-pause.conf",
                           "[crio.image]\npause_image = \"" + pause_image() + "\"\n");
    const std::string extra = drop_in(d);
    if (!extra.empty()) crio::test::write_file(daemon->dir() / "crio.conf.d/30-test.conf", extra);
    daemon->start();
    image = registry.host() + "/test/multi:v1";
    pull(image);
  }

  // Whatever the test left in the runtimes (a failure before its guards took over, an
  // object no caller was given) goes with it: no conmon or container outlives the test.
  ~Env() {
    if (!daemon) return;
    const std::string d = daemon->dir().path();
    daemon.reset();
    for (const auto& [runtime, root] : {std::pair{"/usr/sbin/runc", d + "/runc-root"},
                                        std::pair{"/usr/bin/crun", d + "/crun-root"}}) {
      if (!std::filesystem::exists(root)) continue;
      for (const auto& id : lines_of(crio::test::run_command({runtime, "--root", root, "list", "-q"}).out)) {
        if (!id.empty()) crio::test::run_command({runtime, "--root", root, "delete", "--force", id});
      }
    }
  }
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  // test/pause:v1 has no StopSignal (so SIGTERM) and the same busybox as test/multi.
  std::string pause_image() const { return registry.host() + "/test/pause:v1"; }

  void pull(const std::string& ref) {
    auto stub = daemon->image_stub();
    grpc::ClientContext context;
    set_deadline(context, 60);
    v1::PullImageRequest request;
    request.mutable_image()->set_image(ref);
    v1::PullImageResponse response;
    grpc::Status s = stub->PullImage(&context, request, &response);
    INFO("pulling " << ref << ": " << s.error_message());
    REQUIRE(s.ok());
  }
};

struct Client {
  explicit Client(const Daemon& daemon) : stub(daemon.runtime_stub()), dir(daemon.dir().path()) {}

  // `share_pid`: namespace_options.pid = POD (an infra container holds it); otherwise
  // CONTAINER, as the kubelet sends for pods without shareProcessNamespace.
  v1::RunPodSandboxRequest pod_request(const std::string& name, const std::string& handler, bool host_network = true,
                                       bool share_pid = false) const {
    v1::RunPodSandboxRequest request;
    auto* c = request.mutable_config();
    c->mutable_metadata()->set_name(name);
    c->mutable_metadata()->set_uid("uid-" + name);
    c->mutable_metadata()->set_namespace_("test-ns");
    c->set_hostname(name);
    c->set_log_directory(dir + "/logs/" + name);
    if (host_network) {
      c->mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(v1::NODE);
    }
    if (!share_pid) c->mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
    request.set_runtime_handler(handler);
    return request;
  }
  std::string run_pod(const v1::RunPodSandboxRequest& request) {
    grpc::ClientContext context;
    set_deadline(context, 60);
    v1::RunPodSandboxResponse response;
    grpc::Status s = stub->RunPodSandbox(&context, request, &response);
    INFO(s.error_message());
    REQUIRE(s.ok());
    return response.pod_sandbox_id();
  }
  std::string run_pod(const std::string& name, const std::string& handler, bool host_network = true,
                      bool share_pid = false) {
    return run_pod(pod_request(name, handler, host_network, share_pid));
  }
  grpc::Status stop_pod(const std::string& id) {
    grpc::ClientContext context;
    set_deadline(context, 60);
    v1::StopPodSandboxRequest request;
    request.set_pod_sandbox_id(id);
    v1::StopPodSandboxResponse response;
    return stub->StopPodSandbox(&context, request, &response);
  }
  grpc::Status remove_pod(const std::string& id) {
    grpc::ClientContext context;
    set_deadline(context, 60);
    v1::RemovePodSandboxRequest request;
    request.set_pod_sandbox_id(id);
    v1::RemovePodSandboxResponse response;
    return stub->RemovePodSandbox(&context, request, &response);
  }
  static v1::ContainerConfig config(const std::string& name, const std::string& image,
                                    const std::vector<std::string>& command) {
    v1::ContainerConfig c;
    c.mutable_metadata()->set_name(name);
    c.mutable_image()->set_image(image);
    for (const auto& a : command) c.add_command(a);
    c.set_log_path(name + "/0.log");
    (*c.mutable_labels())["app"] = name;
    return c;
  }
  // The calls below return a status and never assert, so worker threads may use them.
  grpc::Status create(const std::string& pod, const v1::ContainerConfig& config, std::string* id = nullptr) {
    grpc::ClientContext context;
    set_deadline(context, 60);
    v1::CreateContainerRequest request;
    request.set_pod_sandbox_id(pod);
    *request.mutable_config() = config;
    v1::CreateContainerResponse response;
    grpc::Status s = stub->CreateContainer(&context, request, &response);
    if (id) *id = response.container_id();
    return s;
  }
  std::string create_ok(const std::string& pod, const v1::ContainerConfig& config) {
    std::string id;
    grpc::Status s = create(pod, config, &id);
    INFO(s.error_message());
    REQUIRE(s.ok());
    REQUIRE(id.size() == 64);
    return id;
  }
  grpc::Status start(const std::string& id) {
    grpc::ClientContext context;
    set_deadline(context, 60);
    v1::StartContainerRequest request;
    request.set_container_id(id);
    v1::StartContainerResponse response;
    return stub->StartContainer(&context, request, &response);
  }
  grpc::Status stop(const std::string& id, int64_t timeout) {
    grpc::ClientContext context;
    set_deadline(context, 60);
    v1::StopContainerRequest request;
    request.set_container_id(id);
    request.set_timeout(timeout);
    v1::StopContainerResponse response;
    return stub->StopContainer(&context, request, &response);
  }
  grpc::Status remove(const std::string& id) {
    grpc::ClientContext context;
    set_deadline(context, 60);
    v1::RemoveContainerRequest request;
    request.set_container_id(id);
    v1::RemoveContainerResponse response;
    return stub->RemoveContainer(&context, request, &response);
  }
  v1::ContainerStatusResponse status(const std::string& id, grpc::Status* out = nullptr) {
    grpc::ClientContext context;
    set_deadline(context);
    v1::ContainerStatusRequest request;
    request.set_container_id(id);
    request.set_verbose(true);
    v1::ContainerStatusResponse response;
    grpc::Status s = stub->ContainerStatus(&context, request, &response);
    if (out) *out = s;
    return response;
  }
  // The JSON text under "info" in the verbose status (bundle, rootfs, pid…).
  std::string info(const std::string& id) {
    auto response = status(id);
    auto it = response.info().find("info");
    return it == response.info().end() ? std::string() : it->second;
  }
  // The pod's verbose PodSandboxStatus: status and the JSON under "info".
  v1::PodSandboxStatusResponse pod_status(const std::string& id) {
    grpc::ClientContext context;
    set_deadline(context);
    v1::PodSandboxStatusRequest request;
    request.set_pod_sandbox_id(id);
    request.set_verbose(true);
    v1::PodSandboxStatusResponse response;
    grpc::Status s = stub->PodSandboxStatus(&context, request, &response);
    INFO("status of pod " << id << ": " << s.error_message());
    REQUIRE(s.ok());
    return response;
  }
  nlohmann::json pod_info(const std::string& id) { return nlohmann::json::parse(pod_status(id).info().at("info")); }
  size_t pod_count() {
    grpc::ClientContext context;
    set_deadline(context);
    v1::ListPodSandboxResponse response;
    REQUIRE(stub->ListPodSandbox(&context, v1::ListPodSandboxRequest{}, &response).ok());
    return static_cast<size_t>(response.items_size());
  }
  std::vector<v1::Container> list(const v1::ContainerFilter& filter = {}) {
    grpc::ClientContext context;
    set_deadline(context);
    v1::ListContainersRequest request;
    *request.mutable_filter() = filter;
    v1::ListContainersResponse response;
    REQUIRE(stub->ListContainers(&context, request, &response).ok());
    return {response.containers().begin(), response.containers().end()};
  }
  grpc::Status exec(const std::string& id, const std::vector<std::string>& cmd, int64_t timeout,
                    v1::ExecSyncResponse* response) {
    grpc::ClientContext context;
    set_deadline(context, 60);
    v1::ExecSyncRequest request;
    request.set_container_id(id);
    for (const auto& a : cmd) request.add_cmd(a);
    request.set_timeout(timeout);
    return stub->ExecSync(&context, request, response);
  }
  // ExecSync that must succeed (the command's own exit code is in the response).
  v1::ExecSyncResponse exec_ok(const std::string& id, const std::vector<std::string>& cmd, int64_t timeout = 10) {
    v1::ExecSyncResponse response;
    grpc::Status s = exec(id, cmd, timeout, &response);
    INFO("exec in " << id << ": " << s.error_message());
    REQUIRE(s.ok());
    return response;
  }
  // Polls ContainerStatus until the state is `state` (or 15 s pass).
  v1::ContainerStatus wait_state(const std::string& id, v1::ContainerState state) {
    v1::ContainerStatus last;
    for (int i = 0; i < 150; ++i) {
      last = status(id).status();
      if (last.state() == state) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return last;
  }

  std::unique_ptr<v1::RuntimeService::Stub> stub;
  std::string dir;
};

// A bridge network of its own (random bridge name and subnet) for pods that are not
// on the host network; the bridge is deleted at the end.
class TestNetwork {
 public:
  explicit TestNetwork(const Daemon& daemon) {
    unsigned n = std::random_device{}();
    bridge_ = fmt::format("cct{:04x}", n & 0xffff);
    subnet_prefix_ = fmt::format("10.{}.{}.", 200 + (n >> 16) % 50, (n >> 24) % 250);
    nlohmann::json ipam = {{"type", "host-local"},
                           {"dataDir", daemon.dir() / "ipam"},
                           {"ranges", {{{{"subnet", subnet_prefix_ + "0/24"}}}}}};
    nlohmann::json conf = {
        {"cniVersion", "1.0.0"},
        {"name", "net-" + bridge_},
        {"plugins",
         {{{"type", "bridge"}, {"bridge", bridge_}, {"isGateway", true}, {"ipMasq", false}, {"ipam", ipam}}}}};
    crio::test::write_file(daemon.dir() / "cni/10-test.conflist", conf.dump(2));
  }
  ~TestNetwork() { crio::test::run_command({"/usr/sbin/ip", "link", "del", bridge_}); }
  const std::string& subnet_prefix() const { return subnet_prefix_; }

 private:
  std::string bridge_, subnet_prefix_;
};

// Removes the pod (and so its containers) when the test ends, pass or fail, so no
// conmon or mount outlives the test's directory.
struct PodGuard {
  Client& client;
  std::string id;
  ~PodGuard() {
    if (!id.empty()) (void)client.remove_pod(id);
  }
};

// ---- Reading what a container left on the host ----


// The entries of one stream of a CRI log, tag kept: "F out", "P part". A line that is
// not in the CRI format ("<RFC 3339 nano time> <stream> <P|F> <text>") is returned as
// "malformed: <line>" so the comparison shows it.
inline std::vector<std::string> log_entries(const std::string& log, const std::string& stream) {
  static const std::regex re(
      R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) (stdout|stderr) ([PF]) (.*)$)");
  std::vector<std::string> out;
  for (const auto& line : lines_of(log)) {
    std::smatch m;
    if (!std::regex_match(line, m, re)) {
      out.push_back("malformed: " + line);
    } else if (m[2] == stream) {
      out.push_back(m[3].str() + " " + m[4].str());
    }
  }
  return out;
}

// Mount points under `dir`, from /proc/self/mountinfo (the daemon shares our mount namespace).
inline std::vector<std::string> mounts_under(const std::string& dir) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream s(line);
    std::string id, parent, dev, root, mount_point;
    s >> id >> parent >> dev >> root >> mount_point;
    if (mount_point.rfind(dir + "/", 0) == 0) out.push_back(mount_point);
  }
  return out;
}

inline bool mounted(const std::string& part) {
  return crio::test::read_file("/proc/self/mountinfo").find(part) != std::string::npos;
}

// The processes, other than `except`, whose command line mentions `needle`.
inline std::vector<std::string> processes_mentioning(const std::string& needle, pid_t except = 0) {
  std::vector<std::string> found;
  DIR* d = ::opendir("/proc");
  if (!d) return found;
  while (dirent* e = ::readdir(d)) {
    const int pid = std::atoi(e->d_name);
    if (pid <= 0 || pid == ::getpid() || pid == except) continue;
    std::string cmd;
    try {
      std::ifstream in("/proc/" + std::string(e->d_name) + "/cmdline");
      cmd.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } catch (const std::exception&) {
      continue;  // the process exited while we read it (ESRCH)
    }
    if (cmd.find(needle) == std::string::npos) continue;
    for (auto& ch : cmd) {
      if (ch == '\0') ch = ' ';
    }
    found.push_back(std::to_string(pid) + ": " + cmd);
  }
  ::closedir(d);
  return found;
}

// "controllers" → path, from /proc/<pid>/cgroup ("" is the v2 entry).
inline std::map<std::string, std::string> cgroups_of(int pid) {
  std::map<std::string, std::string> out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  for (std::string line; std::getline(in, line);) {
    auto first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    out[line.substr(first + 1, second - first - 1)] = line.substr(second + 1);
  }
  return out;
}

// The directories of the cgroup hierarchies (/sys/fs/cgroup/<controllers> for v1,
// the v2 tree) that `pid` is in, as paths on the host.
inline std::vector<std::string> cgroup_dirs_of(int pid) {
  std::vector<std::string> out;
  for (const auto& [controllers, path] : cgroups_of(pid)) {
    if (path == "/") continue;
    std::string mount;
    if (controllers.empty()) {
      mount = std::filesystem::exists("/sys/fs/cgroup/unified") ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup";
    } else if (controllers.rfind("name=", 0) == 0) {
      mount = "/sys/fs/cgroup/" + controllers.substr(5);
    } else {
      mount = "/sys/fs/cgroup/" + controllers;
    }
    if (std::filesystem::is_directory(mount + path)) out.push_back(mount + path);
  }
  return out;
}

// Calls `f(path, name, is_dir)` for everything under `dir`, depth first, without
// following links. Entries that vanish while we look (other tests run beside this one)
// are skipped rather than ending the walk.
inline void walk_tree(const std::string& dir,
                      const std::function<void(const std::string&, const std::string&, bool)>& f) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> subdirs;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string path = dir + "/" + name;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st {};
      is_dir = ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }
    f(path, name, is_dir);
    if (is_dir) subdirs.push_back(path);
  }
  ::closedir(d);
  for (const auto& sub : subdirs) walk_tree(sub, f);
}

inline bool names_one_of(const std::string& name, const std::set<std::string>& ids) {
  for (const auto& id : ids) {
    if (name.find(id) != std::string::npos) return true;
  }
  return false;
}

// Every cgroup directory on the host (each v1 hierarchy and the v2 tree) whose name
// contains one of `ids`. Symlinked hierarchies (cpu → cpu,cpuacct) are walked once.
inline std::vector<std::string> cgroups_naming(const std::set<std::string>& ids) {
  std::vector<std::string> found;
  walk_tree("/sys/fs/cgroup", [&](const std::string& path, const std::string& name, bool is_dir) {
    if (is_dir && names_one_of(name, ids)) found.push_back(path);
  });
  return found;
}

// Every file, directory or link under `root` whose name contains one of `ids`.
inline std::vector<std::string> paths_naming(const std::string& root, const std::set<std::string>& ids) {
  std::vector<std::string> found;
  walk_tree(root, [&](const std::string& path, const std::string& name, bool) {
    if (names_one_of(name, ids)) found.push_back(path);
  });
  return found;
}

}  // namespace crio::test::containers
