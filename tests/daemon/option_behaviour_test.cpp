// crio.conf options set to values other than their defaults, each observed where it
// takes effect: in the container, in its cgroup, in what conmon and the runtime leave
// on the host. Several options share one daemon start to keep the suite fast.

#include "container_fixture.hpp"

#include <crio/core/fs.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <tuple>

namespace stdfs = std::filesystem;
using namespace crio::test::containers;

namespace {

// The pids controller's path of `pid` from /proc/PID/cgroup (cgroup v1 line "N:pids:/path").
std::string pids_cgroup_of(int pid) {
  for (const auto& line : lines_of(crio::test::read_file("/proc/" + std::to_string(pid) + "/cgroup"))) {
    auto first = line.find(':');
    auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    if (line.substr(first + 1, second - first - 1) == "pids") return line.substr(second + 1);
  }
  return {};
}

bool tree_mentions(const std::string& dir, const std::string& needle) {
  std::error_code ec;
  for (auto it = stdfs::recursive_directory_iterator(dir, ec); !ec && it != stdfs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->path().string().find(needle) != std::string::npos) return true;
  }
  return false;
}

// The "/" line of /proc/mounts as the container sees it ("overlay / overlay rw,nodev,...").
std::string root_mount_in(Client& client, const std::string& id) {
  for (const auto& line : lines_of(client.exec_ok(id, {"/bin/busybox", "cat", "/proc/mounts"}).stdout())) {
    std::istringstream in(line);
    std::string source, target;
    in >> source >> target;
    if (target == "/") return line;
  }
  return {};
}

// The runtime spec the daemon wrote for a container, from the bundle runc reports.
nlohmann::json runtime_spec_of(const std::string& runc_root, const std::string& id) {
  auto state = crio::test::run_command({"/usr/sbin/runc", "--root", runc_root, "state", id});
  INFO(state.err);
  REQUIRE(state.exit_code == 0);
  std::string bundle = nlohmann::json::parse(state.out)["bundle"];
  return nlohmann::json::parse(crio::test::read_file(bundle + "/config.json"));
}

grpc::Status pull_with(const crio::test::Daemon& daemon, const std::string& ref) {
  auto stub = daemon.image_stub();
  grpc::ClientContext context;
  crio::test::set_deadline(context, 60);
  v1::PullImageRequest request;
  request.mutable_image()->set_image(ref);
  v1::PullImageResponse response;
  return stub->PullImage(&context, request, &response);
}

// A CNI plugin in `dir` that records its call in dir/calls, then runs the real one.
void recording_plugin(const std::string& dir, const std::string& type) {
  const std::string path = dir + "/" + type;
  crio::test::write_file(path, "#!/bin/sh\necho \"$CNI_COMMAND " + type + "\" >> " + dir + "/calls\nexec /usr/lib/cni/" +
                                   type + "\n");
  ::chmod(path.c_str(), 0755);
}

}  // namespace

TEST_CASE("Runtime options set in crio.conf reach the container, its cgroup, conmon and the runtime",
          "[daemon][container][options]") {
  // A handler whose runtime is a wrapper that records how it is called, then runs runc.
  Env env([](const std::string& dir) {
    const std::string wrapper = dir + "/recording-runtime";
    crio::test::write_file(wrapper, "#!/bin/sh\necho \"$*\" >> " + dir + "/runtime-calls\nexec /usr/sbin/runc \"$@\"\n");
    ::chmod(wrapper.c_str(), 0755);
    return "[crio]\n"
           "version_file_persist = \"" + dir + "/lib/version\"\n"
           "[crio.runtime]\n"
           "default_env = [\"CONTRACT_ENV=from-crio-conf\"]\n"
           "default_capabilities = [\"CHOWN\", \"KILL\"]\n"
           "pids_limit = 321\n"
           "log_size_max = 8192\n"
           "[crio.runtime.runtimes.recording]\n"
           "runtime_path = \"" + wrapper + "\"\n"
           "runtime_root = \"" + dir + "/recording-root\"\n";
  });
  Client client(*env.daemon);
  const std::string d = client.dir;

  // version_file and version_file_persist (the fixture points version_file at run/version).
  CHECK(stdfs::is_regular_file(d + "/run/version"));
  CHECK(stdfs::is_regular_file(d + "/lib/version"));

  PodGuard pod{client, client.run_pod("options", "recording")};
  // namespaces_dir (run/ns in the fixture): the pod's IPC namespace is pinned there.
  CHECK(tree_mentions(d + "/run/ns", pod.id));

  std::string id = client.create_ok(pod.id, Client::config("sleeper", env.image, {"/bin/busybox", "sleep", "600"}));
  REQUIRE(client.start(id).ok());

  // runtime_path and runtime_root: the handler ran the wrapper with --root at runtime_root.
  const std::string calls = crio::test::read_file(d + "/runtime-calls");
  CHECK_THAT(calls, Catch::Contains("--root " + d + "/recording-root"));
  CHECK(stdfs::is_directory(d + "/recording-root/" + id));

  // container_attach_socket_dir (run in the fixture): conmon's attach socket is there.
  CHECK(stdfs::exists(d + "/run/" + id + "/attach"));

  // default_env
  auto env_out = client.exec_ok(id, {"/bin/busybox", "env"});
  CHECK_THAT(env_out.stdout(), Catch::Contains("CONTRACT_ENV=from-crio-conf"));

  // default_capabilities: the bounding set is CHOWN (bit 0) and KILL (bit 5) only (the
  // image may run as a non-root user, whose effective set is empty).
  auto status_out = client.exec_ok(id, {"/bin/busybox", "grep", "CapBnd", "/proc/1/status"});
  CHECK_THAT(status_out.stdout(), Catch::Contains("0000000000000021"));

  // pids_limit: the container's pids cgroup.
  auto info = nlohmann::json::parse(client.info(id));
  const int pid = info["pid"].get<int>();
  const std::string cgroup = pids_cgroup_of(pid);
  REQUIRE_FALSE(cgroup.empty());
  CHECK(crio::test::read_file("/sys/fs/cgroup/pids" + cgroup + "/pids.max") == "321\n");

  REQUIRE(client.stop(id, 0).ok());
  // container_exits_dir (run/exits in the fixture): conmon wrote the exit file there.
  CHECK(stdfs::exists(d + "/run/exits/" + id));

  // log_size_max: 100 kB of output leaves a log no larger than about the limit.
  std::string chatty = client.create_ok(
      pod.id, Client::config("chatty", env.image,
                             {"/bin/busybox", "sh", "-c", "/bin/busybox yes 0123456789 | /bin/busybox head -c 100000"}));
  REQUIRE(client.start(chatty).ok());
  client.wait_state(chatty, v1::CONTAINER_EXITED);
  const auto log_size = stdfs::file_size(d + "/logs/options/chatty/0.log");
  CHECK(log_size > 0);
  CHECK(log_size <= 8192 + 512);
  (void)client.remove(chatty);
  (void)client.remove(id);
}

TEST_CASE("drop_infra_ctr false gives a pod without a shared PID namespace an infra container",
          "[daemon][container][options]") {
  Env env("[crio.runtime]\ndrop_infra_ctr = false\n");
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("infra", "runc")};
  auto info = client.pod_info(pod.id);
  CHECK(info["image"] == env.pause_image());
  const int pid = info["pid"].get<int>();
  REQUIRE(pid > 0);
  CHECK(::kill(pid, 0) == 0);
}

TEST_CASE("pinns_path: the named helper pins the pod's namespaces, and its failure fails the pod cleanly",
          "[daemon][pod][options]") {
  // A pinns with CRI-O's command line, made of util-linux's unshare, that records its
  // arguments; it fails while the file `broken` exists.
  Env env([](const std::string& dir) {
    const std::string helper = dir + "/pinns";
    crio::test::write_file(helper, "#!/bin/bash\n"
                                   "echo \"$*\" >> " + dir + "/pinns-calls\n"
                                   "[ -e " + dir + "/broken ] && { echo 'pinns: cannot unshare' >&2; exit 1; }\n"
                                   "while [ $# -gt 0 ]; do case $1 in\n"
                                   "  -d) d=$2; shift 2 ;; -f) f=$2; shift 2 ;;\n"
                                   "  --net) args+=(--net=$d/netns/$f); mkdir -p $d/netns; touch $d/netns/$f; shift ;;\n"
                                   "  --uts) args+=(--uts=$d/utsns/$f); mkdir -p $d/utsns; touch $d/utsns/$f; shift ;;\n"
                                   "  --ipc) args+=(--ipc=$d/ipcns/$f); mkdir -p $d/ipcns; touch $d/ipcns/$f; shift ;;\n"
                                   "  *) shift ;; esac; done\n"
                                   "exec /usr/bin/unshare \"${args[@]}\" /bin/true\n");
    ::chmod(helper.c_str(), 0755);
    return "[crio.runtime]\npinns_path = \"" + helper + "\"\n";
  });
  TestNetwork network(*env.daemon);
  Client client(*env.daemon);
  const std::string ns_dir = client.dir + "/run/ns";
  PodGuard pod{client, client.run_pod("pinned", "runc", /*host_network=*/false)};
  CHECK(crio::test::read_file(client.dir + "/pinns-calls") ==
        "-d " + ns_dir + " -f " + pod.id + " --net --uts --ipc\n");
  // The helper's pins are the pod's: its hostname is set in them and its network is up.
  auto hostname = crio::test::run_command({"/usr/bin/nsenter", "--uts=" + ns_dir + "/utsns/" + pod.id, "hostname"});
  CHECK(hostname.out == "pinned\n");
  std::string id = client.create_ok(pod.id, Client::config("pinned", env.image, {"/bin/busybox", "sleep", "60"}));
  REQUIRE(client.start(id).ok());
  CHECK_THAT(client.exec_ok(id, {"/bin/busybox", "ip", "-4", "addr"}).stdout(),
             Catch::Contains(network.subnet_prefix()));
  CHECK(client.exec_ok(id, {"/bin/busybox", "hostname"}).stdout() == "pinned\n");

  crio::test::write_file(client.dir + "/broken", "");
  grpc::ClientContext context;
  crio::test::set_deadline(context, 60);
  v1::RunPodSandboxResponse response;
  grpc::Status failed = client.stub->RunPodSandbox(&context, client.pod_request("unpinned", "runc", false), &response);
  CHECK(failed.error_code() == grpc::StatusCode::INTERNAL);
  CHECK_THAT(failed.error_message(), Catch::Contains("pinns: cannot unshare"));
  // Nothing of the failed pod stays: one pod listed, only its pins on disk.
  for (const char* type : {"netns", "utsns", "ipcns"}) {
    std::vector<std::string> pins;
    std::error_code ec;
    for (const auto& entry : stdfs::directory_iterator(ns_dir + "/" + type, ec)) pins.push_back(entry.path().filename());
    CHECK(pins == std::vector<std::string>{pod.id});
  }
}

TEST_CASE("log_dir, the stream and gRPC limits, seccomp_profile, cni_default_network and plugin_dirs take effect",
          "[daemon][container][options]") {
  const int stream_port = crio::test::free_port();
  unsigned n = std::random_device{}();
  const std::string first_bridge = fmt::format("cof{:04x}", n & 0xffff), second_bridge = fmt::format("cos{:04x}", n & 0xffff);
  const std::string first_prefix = fmt::format("10.{}.{}.", 150 + (n >> 16) % 40, (n >> 24) % 250);
  const std::string second_prefix = fmt::format("10.{}.{}.", 150 + (n >> 16) % 40, ((n >> 24) + 1) % 250);
  Env env([&](const std::string& dir) {
    // Two networks; the second, named, is the one pods join.
    for (auto [file, bridge, prefix] : {std::tuple{"10-first.conflist", first_bridge, first_prefix},
                                        std::tuple{"20-second.conflist", second_bridge, second_prefix}}) {
      nlohmann::json ipam = {{"type", "host-local"},
                             {"dataDir", dir + "/ipam"},
                             {"ranges", {{{{"subnet", prefix + "0/24"}}}}}};
      nlohmann::json conf = {{"cniVersion", "1.0.0"},
                             {"name", "net-" + bridge},
                             {"plugins", {{{"type", "bridge"}, {"bridge", bridge}, {"isGateway", true}, {"ipMasq", false},
                                           {"ipam", ipam}}}}};
      crio::test::write_file(dir + "/cni/" + file, conf.dump(2));
    }
    // Plugins only here.
    stdfs::create_directories(dir + "/plugins");
    for (const char* type : {"bridge", "host-local", "loopback"}) recording_plugin(dir + "/plugins", type);
    // The RuntimeDefault profile: everything but mkdir.
    crio::test::write_file(dir + "/seccomp.json",
                           R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"],)"
                           R"( "action": "SCMP_ACT_ERRNO"}]})");
    return "[crio]\n"
           "log_dir = \"" + dir + "/pod-logs\"\n"
           "[crio.api]\n"
           "stream_address = \"127.0.0.2\"\n"
           "stream_port = \"" + std::to_string(stream_port) + "\"\n"
           "stream_idle_timeout = \"2s\"\n"
           "grpc_max_send_msg_size = 16384\n"
           "[crio.runtime]\n"
           "seccomp_profile = \"" + dir + "/seccomp.json\"\n"
           "[crio.network]\n"
           "cni_default_network = \"net-" + second_bridge + "\"\n"
           "plugin_dirs = [\"" + dir + "/plugins\"]\n";
  });
  Client client(*env.daemon);
  const std::string d = client.dir;
  struct Bridges {
    std::vector<std::string> names;
    ~Bridges() {
      for (auto& b : names) crio::test::run_command({"/usr/sbin/ip", "link", "del", b});
    }
  } bridges{{first_bridge, second_bridge}};

  // A pod whose kubelet names no log directory.
  auto request = client.pod_request("options-wide", "runc", /*host_network=*/false);
  request.mutable_config()->clear_log_directory();
  PodGuard pod{client, client.run_pod(request)};

  // cni_default_network and plugin_dirs: the pod is on the named network, through the
  // plugins found in plugin_dirs.
  auto sleeper_config = Client::config("sleeper", env.image, {"/bin/busybox", "sleep", "600"});
  sleeper_config.mutable_linux()->mutable_security_context()->mutable_seccomp()->set_profile_type(
      v1::SecurityProfile::RuntimeDefault);
  std::string id = client.create_ok(pod.id, sleeper_config);
  REQUIRE(client.start(id).ok());
  const std::string addresses = client.exec_ok(id, {"/bin/busybox", "ip", "-4", "addr"}).stdout();
  CHECK_THAT(addresses, Catch::Contains(second_prefix));
  CHECK_THAT(addresses, !Catch::Contains(first_prefix));
  CHECK_THAT(crio::test::read_file(d + "/plugins/calls"), Catch::Contains("ADD bridge"));

  // seccomp_profile: the file is the container's RuntimeDefault, in its spec and in force.
  auto spec = runtime_spec_of(d + "/runc-root", id);
  CHECK(spec["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ALLOW");
  CHECK(spec["linux"]["seccomp"]["syscalls"][0]["names"] == nlohmann::json::array({"mkdir", "mkdirat"}));
  v1::ExecSyncResponse denied;
  REQUIRE(client.exec(id, {"/bin/busybox", "mkdir", "/tmp/denied"}, 10, &denied).ok());
  CHECK(denied.exit_code() != 0);
  CHECK_THAT(denied.stderr(), Catch::Contains("Operation not permitted"));
  CHECK(client.exec_ok(id, {"/bin/busybox", "touch", "/tmp/allowed"}).exit_code() == 0);

  // log_dir: with no log directory from the kubelet and no log path, the log is
  // log_dir/POD/CONTAINER.log.
  auto logger_config = Client::config("logger", env.image, {"/bin/busybox", "echo", "into-log-dir"});
  logger_config.clear_log_path();
  std::string logger = client.create_ok(pod.id, logger_config);
  REQUIRE(client.start(logger).ok());
  const std::string log_file = d + "/pod-logs/" + pod.id + "/" + logger + ".log";
  CHECK(crio::test::eventually([&] {
    return stdfs::exists(log_file) && crio::test::read_file(log_file).find("into-log-dir") != std::string::npos;
  }));

  // stream_address and stream_port: the Exec URL is theirs.
  grpc::ClientContext exec_context;
  crio::test::set_deadline(exec_context);
  v1::ExecRequest exec;
  exec.set_container_id(id);
  exec.add_cmd("/bin/busybox");
  exec.add_cmd("true");
  exec.set_stdout(true);
  v1::ExecResponse exec_response;
  REQUIRE(client.stub->Exec(&exec_context, exec, &exec_response).ok());
  const std::string prefix = "http://127.0.0.2:" + std::to_string(stream_port) + "/";
  CHECK(exec_response.url().rfind(prefix, 0) == 0);

  // stream_idle_timeout: a port-forward session that carries nothing is closed after 2s.
  grpc::ClientContext pf_context;
  crio::test::set_deadline(pf_context);
  v1::PortForwardRequest pf;
  pf.set_pod_sandbox_id(pod.id);
  pf.add_port(80);
  v1::PortForwardResponse pf_response;
  REQUIRE(client.stub->PortForward(&pf_context, pf, &pf_response).ok());
  REQUIRE(pf_response.url().rfind(prefix, 0) == 0);
  {
    crio::fs::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(stream_port));
    ::inet_pton(AF_INET, "127.0.0.2", &a.sin_addr);
    REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    const std::string path = pf_response.url().substr(prefix.size() - 1);
    const std::string upgrade = "POST " + path +
                                " HTTP/1.1\r\nHost: 127.0.0.2\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                                "X-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n";
    REQUIRE(::send(fd.get(), upgrade.data(), upgrade.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(upgrade.size()));
    const auto upgraded = std::chrono::steady_clock::now();
    std::string reply;
    bool closed = false;
    while (!closed && std::chrono::steady_clock::now() - upgraded < std::chrono::seconds(20)) {
      pollfd p{fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 500) <= 0) continue;
      char buf[4096];
      ssize_t got = ::read(fd.get(), buf, sizeof buf);
      if (got <= 0) closed = true;
      else reply.append(buf, static_cast<size_t>(got));
    }
    const auto idle = std::chrono::steady_clock::now() - upgraded;
    INFO(reply);
    CHECK(reply.rfind("HTTP/1.1 101", 0) == 0);
    CHECK(closed);
    CHECK(idle >= std::chrono::milliseconds(1500));
    CHECK(idle < std::chrono::seconds(10));
  }

  // grpc_max_send_msg_size: a response over 16 KiB fails, smaller ones pass.
  auto big_config = Client::config("big", env.image, {"/bin/busybox", "sleep", "600"});
  (*big_config.mutable_annotations())["big"] = std::string(20000, 'x');
  std::string big = client.create_ok(pod.id, big_config);
  {
    grpc::ClientContext context;
    crio::test::set_deadline(context);
    v1::ListContainersResponse response;
    grpc::Status listed = client.stub->ListContainers(&context, v1::ListContainersRequest(), &response);
    CHECK(listed.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  {
    grpc::ClientContext context;
    crio::test::set_deadline(context);
    v1::ListContainersRequest request;
    request.mutable_filter()->set_id(id);
    v1::ListContainersResponse response;
    CHECK(client.stub->ListContainers(&context, request, &response).ok());
    CHECK(response.containers_size() == 1);
  }
  (void)client.remove(big);
  (void)client.remove(logger);
  REQUIRE(client.stop(id, 0).ok());
  (void)client.remove(id);
}

TEST_CASE("global_auth_file authenticates every pull and pull_progress_timeout cancels a stalled one",
          "[daemon][image][options]") {
  crio::test::TestRegistry registry({.user = "puller", .password = "pw"});
  registry.push_test_images("/nonexistent", "multi");
  // The stalling proxy passes no authentication challenge on: it fronts an open registry.
  crio::test::TestRegistry open_registry;
  open_registry.push_test_images("/nonexistent", "multi");
  const int proxy_port = crio::test::free_port();
  crio::test::TempDir proxy_dir("crio-proxy");
  crio::test::Child proxy({"/usr/bin/python3", std::string(CRIO_SOURCE_DIR) + "/tests/daemon/stalling_proxy.py",
                           std::to_string(proxy_port), open_registry.host(), proxy_dir / "stalled"},
                          proxy_dir / "proxy.log");
  const std::string proxy_host = "127.0.0.1:" + std::to_string(proxy_port);
  REQUIRE(crio::test::eventually([&] {
    return crio::test::run_command({"/usr/bin/curl", "-s", "-o", "/dev/null", "http://" + proxy_host + "/v2/"})
               .exit_code == 0;
  }));

  crio::test::Daemon daemon("", false);
  const std::string d = daemon.dir().path();
  crio::test::write_file(daemon.dir() / "registries.conf", "[[registry]]\nlocation = \"" + registry.host() +
                                                               "\"\ninsecure = true\n[[registry]]\nlocation = \"" +
                                                               proxy_host + "\"\ninsecure = true\n");
  crio::test::write_file(daemon.dir() / "crio.conf.d/30-test.conf", "[crio.image]\nglobal_auth_file = \"" + d +
                                                                        "/auth.json\"\npull_progress_timeout = \"3s\"\n");
  daemon.start();

  // Through the proxy, a layer stops half-way (first, while the store holds none of its
  // layers): the pull is cancelled after 3s without data.
  const auto started = std::chrono::steady_clock::now();
  grpc::Status stalled = pull_with(daemon, proxy_host + "/test/multi:v1");
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(stdfs::exists(proxy_dir / "stalled"));
  CHECK(stalled.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  CHECK_THAT(stalled.error_message(), Catch::Contains("no data received for 3s"));
  CHECK(took >= std::chrono::seconds(3));
  CHECK(took < std::chrono::seconds(30));

  // No credentials yet (the file is missing): the registry refuses the pull.
  grpc::Status anonymous = pull_with(daemon, registry.host() + "/test/multi:v1");
  CHECK(anonymous.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  // The kubelet's credentials file, read at each pull: "puller:pw".
  crio::test::write_file(d + "/auth.json",
                         "{\"auths\": {\"" + registry.host() + "\": {\"auth\": \"cHVsbGVyOnB3\"}}}");
  grpc::Status authenticated = pull_with(daemon, registry.host() + "/test/multi:v1");
  INFO(authenticated.error_message());
  CHECK(authenticated.ok());
}

TEST_CASE("storage_driver vfs and overlay with storage_option mountopt: the container's root file system",
          "[daemon][container][options]") {
  SECTION("vfs: a plain directory, no overlay mount") {
    Env env("[crio]\nstorage_driver = \"vfs\"\nstorage_option = [\"vfs.ignore_chown_errors=false\"]\n");
    Client client(*env.daemon);
    PodGuard pod{client, client.run_pod("on-vfs", "runc")};
    std::string id = client.create_ok(pod.id, Client::config("vfs", env.image, {"/bin/busybox", "sleep", "600"}));
    REQUIRE(client.start(id).ok());
    const std::string root = root_mount_in(client, id);
    CHECK_THAT(root, !Catch::Contains(" overlay "));
    CHECK(stdfs::is_directory(client.dir + "/storage/vfs-containers"));
    CHECK_FALSE(stdfs::exists(client.dir + "/storage/overlay-containers"));
    CHECK(client.exec_ok(id, {"/bin/busybox", "cat", "/hello.txt"}).stdout() == "hello from an uncompressed layer\n");
    REQUIRE(client.stop(id, 0).ok());
    (void)client.remove(id);
  }
  SECTION("overlay: mountopt reaches the container's root mount") {
    Env env("[crio]\nstorage_driver = \"overlay\"\nstorage_option = [\"overlay.mountopt=nodev\"]\n");
    Client client(*env.daemon);
    PodGuard pod{client, client.run_pod("on-overlay", "runc")};
    std::string id = client.create_ok(pod.id, Client::config("overlay", env.image, {"/bin/busybox", "sleep", "600"}));
    REQUIRE(client.start(id).ok());
    const std::string root = root_mount_in(client, id);
    CHECK_THAT(root, Catch::Contains(" overlay "));
    CHECK_THAT(root, Catch::Contains("nodev"));
    REQUIRE(client.stop(id, 0).ok());
    (void)client.remove(id);
  }
}

TEST_CASE("pause_command is what the infra container runs when the pause image has no entrypoint or command",
          "[daemon][pod][options]") {
  crio::test::TestRegistry registry;
  registry.push_test_images("/nonexistent", "barepause");
  crio::test::Daemon daemon("", false);
  crio::test::write_file(daemon.dir() / "registries.conf",
                         "[[registry]]\nlocation = \"" + registry.host() + "\"\ninsecure = true\n");
  crio::test::write_file(daemon.dir() / "crio.conf.d/30-test.conf",
                         "[crio.runtime]\ndrop_infra_ctr = false\n"
                         "[crio.runtime.runtimes.runc]\nruntime_root = \"" + (daemon.dir() / "runc-root") + "\"\n"
                         "[crio.image]\npause_image = \"" + registry.host() + "/test/barepause:v1\"\n"
                         "pause_command = \"/pause\"\n");
  daemon.start();
  Client client(daemon);
  PodGuard pod{client, client.run_pod("bare-pause", "runc")};
  auto info = client.pod_info(pod.id);
  const int pid = info["pid"].get<int>();
  REQUIRE(pid > 0);
  // /pause ran: it replaced itself with the sleep.
  std::string cmdline = crio::test::read_file("/proc/" + std::to_string(pid) + "/cmdline");
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  CHECK(cmdline == "/bin/busybox sleep 2147483647 ");
}

TEST_CASE("ctr_stop_timeout bounds how long StopContainer waits for a killed container that does not die",
          "[daemon][container][options]") {
  // A runtime whose `kill` does nothing while the file `deaf` exists.
  Env env([](const std::string& dir) {
    const std::string wrapper = dir + "/deaf-runtime";
    crio::test::write_file(wrapper, "#!/bin/sh\ncase \" $* \" in *\" kill \"*) [ -e " + dir +
                                        "/deaf ] && exit 0 ;; esac\nexec /usr/sbin/runc \"$@\"\n");
    ::chmod(wrapper.c_str(), 0755);
    return "[crio.runtime]\nctr_stop_timeout = 32\n"
           "[crio.runtime.runtimes.deaf]\n"
           "runtime_path = \"" + wrapper + "\"\n"
           "runtime_root = \"" + dir + "/deaf-root\"\n";
  });
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("deaf", "deaf")};
  std::string id = client.create_ok(pod.id, Client::config("deaf", env.image, {"/bin/busybox", "sleep", "600"}));
  REQUIRE(client.start(id).ok());
  crio::test::write_file(client.dir + "/deaf", "");
  const auto started = std::chrono::steady_clock::now();
  grpc::Status stopped = client.stop(id, 0);
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(stopped.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  CHECK_THAT(stopped.error_message(), Catch::Contains("still running after"));
  CHECK_THAT(stopped.error_message(), Catch::Contains("over 32s"));
  CHECK(took >= std::chrono::seconds(32));
  CHECK(took < std::chrono::seconds(50));
  CHECK(client.status(id).status().state() == v1::CONTAINER_RUNNING);

  stdfs::remove(client.dir + "/deaf");
  CHECK(client.stop(id, 0).ok());
  CHECK(client.status(id).status().state() == v1::CONTAINER_EXITED);
}

TEST_CASE("default_mounts_file: each source is copied into the container's run directory, symlinks followed",
          "[daemon][container][options]") {
  Env env([](const std::string& dir) {
    crio::test::write_file(dir + "/secrets/test.txt", "I am mounted\n");
    crio::test::write_file(dir + "/symlink-target/key.pem", "pem\n");
    stdfs::create_symlink(dir + "/symlink-target", dir + "/secrets/mysymlink");
    crio::test::write_file(dir + "/single.txt", "single\n");
    crio::test::write_file(dir + "/mounts.conf",
                           dir + "/secrets:/run/secrets\n" + dir + "/single.txt:/container/single\n");
    return "[crio.runtime]\ndefault_mounts_file = \"" + dir + "/mounts.conf\"\n";
  });
  Client client(*env.daemon);
  const std::string d = client.dir;
  PodGuard pod{client, client.run_pod("secrets", "runc")};
  auto config = Client::config("reader", env.image, {"/bin/busybox", "sleep", "600"});
  config.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(0);
  std::string id = client.create_ok(pod.id, config);
  REQUIRE(client.start(id).ok());

  CHECK(client.exec_ok(id, {"/bin/busybox", "cat", "/run/secrets/test.txt"}).stdout() == "I am mounted\n");
  // The host's symlink points outside the container: the copy holds what it points to.
  CHECK(client.exec_ok(id, {"/bin/busybox", "ls", "/run/secrets/mysymlink"}).stdout() == "key.pem\n");
  CHECK(client.exec_ok(id, {"/bin/busybox", "cat", "/container/single"}).stdout() == "single\n");
  // The container writes its copy, not the host's directory.
  CHECK(client.exec_ok(id, {"/bin/busybox", "touch", "/run/secrets/new"}).exit_code() == 0);
  CHECK_FALSE(stdfs::exists(d + "/secrets/new"));
  CHECK(client.exec_ok(id, {"/bin/busybox", "grep", " /run/secrets ", "/proc/mounts"}).exit_code() == 0);
  (void)client.stop(id, 0);
  (void)client.remove(id);
}

TEST_CASE("The status API describes a pod by its ID, through its infra container or its first running container",
          "[daemon][container][status]") {
  Env env("[crio.runtime]\ndrop_infra_ctr = true\n");
  Client client(*env.daemon);
  auto inspect = [&](const std::string& id) {
    auto answer = crio::test::http_request(env.daemon->socket(), "GET", "/containers/" + id);
    INFO(answer.body);
    REQUIRE(answer.status == 200);
    return nlohmann::json::parse(answer.body);
  };

  // A dropped infra container: pid 0 until a container runs, then that container's.
  PodGuard dropped{client, client.run_pod("dropped", "runc")};
  auto before = inspect(dropped.id);
  CHECK(before["sandbox"] == dropped.id);
  CHECK(before["pid"] == 0);
  CHECK(before["name"] == "k8s_POD_dropped_test-ns_uid-dropped_0");
  const std::string ctr = client.create_ok(dropped.id, Client::config("sleeper", env.image, {"/bin/busybox", "sleep", "600"}));
  REQUIRE(client.start(ctr).ok());
  const int ctr_pid = nlohmann::json::parse(client.info(ctr))["pid"].get<int>();
  REQUIRE(ctr_pid > 0);
  CHECK(inspect(dropped.id)["pid"] == ctr_pid);
  auto by_ctr = inspect(ctr);
  CHECK(by_ctr["sandbox"] == dropped.id);
  CHECK(by_ctr["pid"] == ctr_pid);
  CHECK(by_ctr["image"] == env.image);
  CHECK(by_ctr["image_ref"] == client.status(ctr).status().image_ref());
  CHECK(by_ctr["labels"]["app"] == "sleeper");

  // A pod with an infra container (a shared PID namespace) is its infra container.
  PodGuard shared{client, client.run_pod("shared", "runc", /*host_network=*/true, /*share_pid=*/true)};
  auto infra = inspect(shared.id);
  CHECK(infra["sandbox"] == shared.id);
  CHECK(infra["image"] == env.pause_image());
  CHECK(infra["pid"] == client.pod_info(shared.id)["pid"]);
  CHECK(infra["pid"].get<int>() > 0);
  CHECK(infra["root"].get<std::string>().find("/merged") != std::string::npos);

  // crio-status prints the pod's line as CRI-O's client does.
  auto printed = crio::test::run_command(
      {crio::test::built_binary("crio/crio"), "status", "--socket", env.daemon->socket(), "containers", "--id", ctr});
  CHECK(printed.exit_code == 0);
  CHECK_THAT(printed.out, Catch::Contains("sandbox: " + dropped.id + "\n"));
  CHECK_THAT(printed.out, Catch::Contains("pid: " + std::to_string(ctr_pid) + "\n"));

  auto missing = crio::test::http_request(env.daemon->socket(), "GET", "/containers/notexists");
  CHECK(missing.status == 404);
  CHECK_THAT(missing.body, Catch::Contains("can't find the container with id notexists"));
  (void)client.stop(ctr, 0);
  (void)client.remove(ctr);
}

TEST_CASE("A pod without infra container runs on the pause image's file system, mounted until it stops",
          "[daemon][pod][status]") {
  Env env("[crio.runtime]\ndrop_infra_ctr = true\n");
  Client client(*env.daemon);
  auto root_of = [&](const std::string& id) {
    auto answer = crio::test::http_request(env.daemon->socket(), "GET", "/containers/" + id);
    INFO(answer.body);
    REQUIRE(answer.status == 200);
    return nlohmann::json::parse(answer.body)["root"].get<std::string>();
  };
  auto remove_pause_image = [&] {
    auto stub = env.daemon->image_stub();
    grpc::ClientContext context;
    v1::RemoveImageRequest request;
    request.mutable_image()->set_image(env.pause_image());
    v1::RemoveImageResponse response;
    return stub->RemoveImage(&context, request, &response);
  };

  const std::string id = client.run_pod("storage", "runc");
  const std::string root = root_of(id);
  INFO(root);
  CHECK(root.rfind(env.daemon->dir() / "storage/overlay/", 0) == 0);
  CHECK(mounted(" " + root + " "));
  CHECK(stdfs::exists(root + "/bin/busybox"));  // the pause image's files
  // The pause image is in use while the pod exists.
  grpc::Status refused = remove_pause_image();
  CHECK(refused.error_code() == grpc::StatusCode::FAILED_PRECONDITION);

  // A crash keeps the storage: the restart's sweep of orphaned layers leaves a pod's own.
  env.daemon->stop(SIGKILL);
  env.daemon->start();
  Client after(*env.daemon);
  CHECK(root_of(id) == root);
  CHECK(mounted(" " + root + " "));

  REQUIRE(after.stop_pod(id).ok());
  CHECK_FALSE(mounted(" " + root + " "));
  CHECK(root_of(id) == root);
  CHECK(stdfs::exists(stdfs::path(root).parent_path()));
  REQUIRE(after.remove_pod(id).ok());
  CHECK_FALSE(stdfs::exists(stdfs::path(root).parent_path()));
  grpc::Status removed = remove_pause_image();
  INFO(removed.error_message());
  CHECK(removed.ok());
}
