// Containers through a real daemon, a real registry and real runtimes (runc and
// crun, through conmon): lifecycle, logs, exit codes, exec, stop, remove, errors and
// a daemon crash with containers running. Needs root, conmon, runc, crun,
// docker-registry, python3 and busybox-static.

#include "container_spec.hpp"
#include "container_fixture.hpp"

#include <fmt/format.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

using crio::test::Daemon;
using crio::test::set_deadline;
using crio::test::TestRegistry;
namespace v1 = runtime::v1;
namespace stdfs = std::filesystem;
using crio::test::containers::Client;
using crio::test::containers::Env;
using crio::test::containers::PodGuard;

namespace {

// A bridge network only this test uses (its own bridge, subnet and IPAM directory);
// the bridge is deleted when the test ends.
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

bool mounted(const std::string& part) {
  return crio::test::read_file("/proc/self/mountinfo").find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("A container logs and exits with its code and remove leaves no trace", "[daemon][container]") {
  const std::string handler = GENERATE(as<std::string>{}, "runc", "crun");
  INFO("runtime handler " << handler);
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("life-" + handler, handler)};

  auto config = Client::config("worker", env.image, {"/bin/sh", "-c", "echo out-line; echo err-line >&2; exit 3"});
  std::string id = client.create_ok(pod.id, config);
  auto created = client.status(id).status();
  CHECK(created.state() == v1::CONTAINER_CREATED);
  CHECK(created.metadata().name() == "worker");
  CHECK(created.created_at() > 0);
  CHECK(created.labels().at("app") == "worker");
  CHECK(created.image().image() == env.image);
  CHECK(created.image_ref().size() == 64);
  // The image's User is "1000:1000".
  CHECK(created.user().linux().uid() == 1000);
  CHECK(created.user().linux().gid() == 1000);
  const std::string log_path = created.log_path();
  CHECK(log_path == client.dir + "/logs/life-" + handler + "/worker/0.log");
  auto info = nlohmann::json::parse(client.status(id).info().at("info"));
  const std::string bundle = info["bundle"];
  CHECK(stdfs::exists(bundle + "/config.json"));

  // Starting a container twice is refused; a prefix of the ID works.
  REQUIRE(client.start(id.substr(0, 12)).ok());
  CHECK(client.start(id).error_code() == grpc::StatusCode::FAILED_PRECONDITION);

  auto exited = client.wait_state(id, v1::CONTAINER_EXITED);
  REQUIRE(exited.state() == v1::CONTAINER_EXITED);
  CHECK(exited.exit_code() == 3);
  CHECK(exited.reason() == "Error");
  CHECK(exited.started_at() >= exited.created_at());
  CHECK(exited.finished_at() >= exited.started_at());

  const std::string log = crio::test::read_file(log_path);
  std::regex out_line(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[+-Z][0-9:]* stdout F out-line\n)");
  std::regex err_line(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[+-Z][0-9:]* stderr F err-line\n)");
  CHECK(std::regex_search(log, out_line));
  CHECK(std::regex_search(log, err_line));

  // Exit code 0 is Completed; the image's entrypoint (/bin/sh -c) takes args.
  auto ok_config = Client::config("done", env.image, {});
  ok_config.add_args("exit 0");
  std::string ok_id = client.create_ok(pod.id, ok_config);
  REQUIRE(client.start(ok_id).ok());
  auto completed = client.wait_state(ok_id, v1::CONTAINER_EXITED);
  CHECK(completed.exit_code() == 0);
  CHECK(completed.reason() == "Completed");

  // List filters.
  v1::ContainerFilter by_label;
  (*by_label.mutable_label_selector())["app"] = "done";
  auto listed = client.list(by_label);
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].id() == ok_id);
  v1::ContainerFilter by_pod;
  by_pod.set_pod_sandbox_id(pod.id);
  CHECK(client.list(by_pod).size() == 2);
  v1::ContainerFilter by_state;
  by_state.mutable_state()->set_state(v1::CONTAINER_RUNNING);
  CHECK(client.list(by_state).empty());

  // Remove leaves no mount, bundle or state; the log stays; a second remove is fine.
  REQUIRE(client.remove(id).ok());
  CHECK_FALSE(stdfs::exists(bundle));
  CHECK_FALSE(stdfs::exists(client.dir + "/storage/crio/containers/" + id + ".json"));
  CHECK_FALSE(mounted(id));
  CHECK(stdfs::exists(log_path));
  CHECK(client.remove(id).ok());
  grpc::Status gone;
  client.status(id, &gone);
  CHECK(gone.error_code() == grpc::StatusCode::NOT_FOUND);

  // Removing the pod removes its remaining container.
  REQUIRE(client.remove_pod(pod.id).ok());
  pod.id.clear();
  CHECK(client.list().empty());
  CHECK_FALSE(mounted(ok_id));
}

TEST_CASE("ExecSync runs in a running container and stop ends it", "[daemon][container]") {
  const std::string handler = GENERATE(as<std::string>{}, "runc", "crun");
  INFO("runtime handler " << handler);
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("exec-" + handler, handler)};

  std::string id = client.create_ok(pod.id, Client::config("sleeper", env.image, {"/bin/busybox", "sleep", "1000"}));
  v1::ExecSyncResponse response;
  CHECK(client.exec(id, {"/bin/busybox", "true"}, 5, &response).error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  REQUIRE(client.start(id).ok());
  CHECK(client.status(id).status().state() == v1::CONTAINER_RUNNING);

  grpc::Status s = client.exec(id, {"/bin/sh", "-c", "echo hi; echo bad >&2; id -u; exit 5"}, 10, &response);
  INFO(s.error_message());
  REQUIRE(s.ok());
  CHECK(response.stdout() == "hi\n1000\n");
  CHECK(response.stderr() == "bad\n");
  CHECK(response.exit_code() == 5);

  {
    // Stats come from the container's own cgroups and its writable layer.
    grpc::ClientContext context;
    crio::test::set_deadline(context);
    v1::ContainerStatsRequest request;
    request.set_container_id(id);
    v1::ContainerStatsResponse stats;
    REQUIRE(client.stub->ContainerStats(&context, request, &stats).ok());
    CHECK(stats.stats().attributes().id() == id);
    CHECK(stats.stats().cpu().usage_core_nano_seconds().value() > 0);
    CHECK(stats.stats().memory().working_set_bytes().value() > 0);
    CHECK(stats.stats().writable_layer().inodes_used().value() > 0);
    grpc::ClientContext list_context;
    crio::test::set_deadline(list_context);
    v1::ListContainerStatsRequest list_request;
    list_request.mutable_filter()->set_pod_sandbox_id(pod.id);
    v1::ListContainerStatsResponse listed;
    REQUIRE(client.stub->ListContainerStats(&list_context, list_request, &listed).ok());
    REQUIRE(listed.stats_size() == 1);
    CHECK(listed.stats(0).attributes().id() == id);
  }

  v1::ExecSyncResponse slow;
  CHECK(client.exec(id, {"/bin/busybox", "sleep", "30"}, 1, &slow).error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);

  // PID 1 ignores the image's StopSignal (SIGINT) without a handler: SIGKILL follows.
  auto before = std::chrono::steady_clock::now();
  REQUIRE(client.stop(id, 1).ok());
  CHECK(std::chrono::steady_clock::now() - before < std::chrono::seconds(10));
  auto stopped = client.status(id).status();
  CHECK(stopped.state() == v1::CONTAINER_EXITED);
  CHECK(stopped.exit_code() == 137);
  CHECK(client.stop(id, 1).ok());
  CHECK(client.exec(id, {"/bin/busybox", "true"}, 5, &response).error_code() == grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_CASE("CreateContainer refuses bad requests and leaves nothing behind", "[daemon][container]") {
  Env env("[crio.runtime]\nabsent_mount_sources_to_reject = [\"/nonexistent/crio-test-reject\"]\n");
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("errors", "")};

  std::string id;
  grpc::Status s = client.create("0123456789abcdef", Client::config("c", env.image, {"/bin/true"}), &id);
  CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK_THAT(s.error_message(), Catch::Contains("0123456789abcdef"));

  s = client.create(pod.id, Client::config("c", env.registry.host() + "/test/absent:v1", {"/bin/true"}), &id);
  CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK_THAT(s.error_message(), Catch::Contains("test/absent:v1"));

  auto bad_user = Client::config("c", env.image, {"/bin/true"});
  bad_user.mutable_linux()->mutable_security_context()->set_run_as_username("nosuchuser");
  s = client.create(pod.id, bad_user, &id);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(s.error_message(), Catch::Contains("nosuchuser"));

  auto rejected = Client::config("c", env.image, {"/bin/true"});
  rejected.add_mounts()->set_host_path("/nonexistent/crio-test-reject");
  rejected.mutable_mounts(0)->set_container_path("/x");
  s = client.create(pod.id, rejected, &id);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(s.error_message(), Catch::Contains("/nonexistent/crio-test-reject"));
  CHECK_FALSE(stdfs::exists("/nonexistent/crio-test-reject"));

  auto no_command = Client::config("c", env.image, {});
  // The image has an entrypoint, so this one works; a duplicate name does not.
  std::string first = client.create_ok(pod.id, no_command);
  s = client.create(pod.id, no_command, &id);
  CHECK(s.error_code() == grpc::StatusCode::ALREADY_EXISTS);

  // Only the one good container exists: no state file, bundle or mount of the others.
  CHECK(client.list().size() == 1);
  size_t state_files = 0;
  for (const auto& e : stdfs::directory_iterator(client.dir + "/storage/crio/containers")) {
    (void)e;
    ++state_files;
  }
  CHECK(state_files == 1);
  size_t bundles = 0;
  for (const auto& e : stdfs::directory_iterator(client.dir + "/run/storage/crio/containers")) {
    (void)e;
    ++bundles;
  }
  CHECK(bundles == 1);
  REQUIRE(client.remove(first).ok());

  // The container's user comes from the image ("1000:1000") unless the request says.
  auto as_root = Client::config("root", env.image, {"/bin/busybox", "sleep", "100"});
  as_root.mutable_linux()->mutable_security_context()->set_run_as_username("root");
  std::string root_id = client.create_ok(pod.id, as_root);
  REQUIRE(client.start(root_id).ok());
  v1::ExecSyncResponse response;
  REQUIRE(client.exec(root_id, {"/bin/busybox", "id"}, 10, &response).ok());
  CHECK_THAT(response.stdout(), Catch::StartsWith("uid=0(root) gid=0"));
  REQUIRE(client.remove(root_id).ok());

  // A stopped pod takes no new containers.
  grpc::ClientContext stop_context;
  set_deadline(stop_context, 60);
  v1::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(pod.id);
  v1::StopPodSandboxResponse stopped;
  REQUIRE(client.stub->StopPodSandbox(&stop_context, stop, &stopped).ok());
  s = client.create(pod.id, Client::config("late", env.image, {"/bin/true"}), &id);
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK_THAT(s.error_message(), Catch::Contains(pod.id));
}

TEST_CASE("Containers outlive a daemon crash and exits during the downtime are seen", "[daemon][container]") {
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("crash", "")};

  std::string sleeper =
      client.create_ok(pod.id, Client::config("sleeper", env.image, {"/bin/busybox", "sleep", "1000"}));
  std::string quitter =
      client.create_ok(pod.id, Client::config("quitter", env.image, {"/bin/sh", "-c", "/bin/busybox sleep 2; exit 7"}));
  REQUIRE(client.start(sleeper).ok());
  REQUIRE(client.start(quitter).ok());

  env.daemon->stop(SIGKILL);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  env.daemon->start();
  client.stub = env.daemon->runtime_stub();

  grpc::Status found;
  auto running = client.status(sleeper, &found).status();
  INFO(found.error_message() << "\n" << env.daemon->log());
  REQUIRE(found.ok());
  CHECK(running.state() == v1::CONTAINER_RUNNING);
  auto quit = client.status(quitter).status();
  CHECK(quit.state() == v1::CONTAINER_EXITED);
  CHECK(quit.exit_code() == 7);
  CHECK(quit.reason() == "Error");
  CHECK(quit.finished_at() > quit.started_at());

  // The adopted container is still under control.
  v1::ExecSyncResponse response;
  REQUIRE(client.exec(sleeper, {"/bin/sh", "-c", "echo alive"}, 10, &response).ok());
  CHECK(response.stdout() == "alive\n");
  REQUIRE(client.stop(sleeper, 0).ok());
  CHECK(client.status(sleeper).status().state() == v1::CONTAINER_EXITED);
}

TEST_CASE("The container spec honours the request, the image and the pod", "[daemon][container]") {
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("spec", "")};

  const std::string host_dir = client.dir + "/volumes/created-by-crio";
  auto config = Client::config("spec", env.image, {"/bin/busybox", "sleep", "1000"});
  auto* env_var = config.add_envs();
  env_var->set_key("GREETING");
  env_var->set_value("hello");
  auto* mount = config.add_mounts();
  mount->set_host_path(host_dir);
  mount->set_container_path("/vol");
  mount->set_readonly(true);
  auto* sc = config.mutable_linux()->mutable_security_context();
  sc->set_readonly_rootfs(true);
  sc->mutable_capabilities()->add_drop_capabilities("ALL");
  sc->mutable_capabilities()->add_add_capabilities("NET_RAW");
  sc->mutable_run_as_user()->set_value(0);
  std::string id = client.create_ok(pod.id, config);
  CHECK(stdfs::is_directory(host_dir));
  REQUIRE(client.start(id).ok());

  auto run = [&](const std::string& script) {
    v1::ExecSyncResponse response;
    grpc::Status s = client.exec(id, {"/bin/sh", "-c", script}, 10, &response);
    INFO(s.error_message());
    REQUIRE(s.ok());
    return response;
  };
  CHECK(run("echo $GREETING").stdout() == "hello\n");
  CHECK(run("pwd").stdout() == "/data\n");  // the image's WorkingDir
  CHECK(run("cat /etc/hostname").stdout() == "spec\n");
  CHECK(run("/bin/busybox id -u").stdout() == "0\n");
  // CAP_NET_RAW is bit 13: the only one left after dropping ALL.
  CHECK(run("/bin/busybox grep CapEff /proc/self/status").stdout() == "CapEff:\t0000000000002000\n");
  CHECK(run("/bin/busybox touch /rootfs-write").exit_code() != 0);
  CHECK(run("/bin/busybox touch /vol/x").exit_code() != 0);
  CHECK(run("/bin/busybox touch /dev/shm/x").exit_code() == 0);
  auto mounts = client.status(id).status().mounts();
  REQUIRE(mounts.size() == 1);
  CHECK(mounts[0].host_path() == host_dir);
  CHECK(mounts[0].readonly());

  // The HTTP status API knows the container.
  auto http = crio::test::http_request(env.daemon->socket(), "GET", "/containers/" + id);
  REQUIRE(http.status == 200);
  auto body = nlohmann::json::parse(http.body);
  CHECK(body["sandbox"] == pod.id);
  CHECK(body["pid"].get<int>() > 0);

  REQUIRE(client.remove(id).ok());
}

TEST_CASE("Container spec helpers: argv, image config, signals and users", "[container][unit]") {
  using namespace crio::daemon;
  ImageConfig image;
  image.entrypoint = {"/entry"};
  image.cmd = {"default"};
  ContainerSpec spec;
  spec.name = "c";
  CHECK(container_argv(spec, image).value() == std::vector<std::string>{"/entry", "default"});
  spec.args = {"a"};
  CHECK(container_argv(spec, image).value() == std::vector<std::string>{"/entry", "a"});
  spec.command = {"/cmd"};
  CHECK(container_argv(spec, image).value() == std::vector<std::string>{"/cmd", "a"});
  spec.args.clear();
  CHECK(container_argv(spec, image).value() == std::vector<std::string>{"/cmd"});
  CHECK(container_argv(ContainerSpec{}, ImageConfig{}).status().code() == crio::Code::kInvalidArgument);

  auto parsed = parse_image_config(
      R"({"config": {"User": "app:staff", "Env": ["A=1"], "Entrypoint": ["/e"], "Cmd": null, "StopSignal": "SIGINT"}})");
  REQUIRE(parsed.ok());
  CHECK(parsed->user == "app:staff");
  CHECK(parsed->env == std::vector<std::string>{"A=1"});
  CHECK(parsed->cmd.empty());
  CHECK(parse_image_config("[1]").status().code() == crio::Code::kInvalidArgument);

  CHECK(parse_signal("SIGINT").value() == SIGINT);
  CHECK(parse_signal("KILL").value() == SIGKILL);
  CHECK(parse_signal("15").value() == SIGTERM);
  CHECK(parse_signal("").value() == SIGTERM);
  CHECK(parse_signal("SIGNOPE").status().code() == crio::Code::kInvalidArgument);

  crio::test::TempDir root("crio-rootfs");
  crio::test::write_file(root / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1001:1002:app:/home/app:/bin/sh\n");
  crio::test::write_file(root / "etc/group", "root:x:0:\nstaff:x:50:\nextra:x:60:app,other\n");
  std::string home;
  ContainerSpec by_image;
  by_image.name = "c";
  ImageConfig user_image;
  user_image.user = "app:staff";
  auto user = resolve_user(root.path(), by_image, user_image, &home);
  REQUIRE(user.ok());
  CHECK(user->uid == 1001);
  CHECK(user->gid == 50);
  CHECK(user->additional_gids == std::vector<uint32_t>{60});
  CHECK(home == "/home/app");
  user_image.user = "1001";
  CHECK(resolve_user(root.path(), by_image, user_image, &home)->gid == 1002);
  user_image.user = "4242:7";
  user = resolve_user(root.path(), by_image, user_image, &home);
  CHECK(user->uid == 4242);
  CHECK(user->gid == 7);
  CHECK(home == "/");
  user_image.user = "ghost";
  CHECK(resolve_user(root.path(), by_image, user_image, &home).status().code() == crio::Code::kInvalidArgument);
  user_image.user = "app:nogroup";
  CHECK(resolve_user(root.path(), by_image, user_image, &home).status().code() == crio::Code::kInvalidArgument);
  ContainerSpec by_request;
  by_request.run_as_user = 0;
  by_request.run_as_group = 9;
  by_request.supplemental_groups = {77};
  user = resolve_user(root.path(), by_request, user_image, &home);
  CHECK(user->uid == 0);
  CHECK(user->gid == 9);
  CHECK(user->additional_gids == std::vector<uint32_t>{77});

  // /etc/passwd as a symlink to a host file is read inside the rootfs, not on the host.
  crio::test::TempDir evil("crio-rootfs");
  stdfs::create_directories(evil / "etc");
  stdfs::create_symlink("/etc/passwd", evil / "etc/passwd");
  ContainerSpec as_name;
  as_name.run_as_username = "root";
  auto resolved = resolve_user(evil.path(), as_name, ImageConfig{}, &home);
  // The link resolves to <rootfs>/etc/passwd, itself: a loop, or absent, never the host's root entry.
  CHECK_FALSE(resolved.ok());
}

TEST_CASE("A container joins its pod's network namespace", "[daemon][container]") {
  const std::string handler = GENERATE(as<std::string>{}, "runc", "crun");
  INFO("runtime handler " << handler);
  Env env;
  TestNetwork network(*env.daemon);
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("net-" + handler, handler, false)};
  grpc::ClientContext context;
  set_deadline(context);
  v1::PodSandboxStatusRequest request;
  request.set_pod_sandbox_id(pod.id);
  v1::PodSandboxStatusResponse pod_status;
  REQUIRE(client.stub->PodSandboxStatus(&context, request, &pod_status).ok());
  const std::string ip = pod_status.status().network().ip();
  REQUIRE(ip.rfind(network.subnet_prefix(), 0) == 0);

  std::string id = client.create_ok(pod.id, Client::config("net", env.image, {"/bin/busybox", "sleep", "1000"}));
  REQUIRE(client.start(id).ok());
  v1::ExecSyncResponse response;
  // /proc/net rather than `ip`: it needs no socket, so it works under any seccomp profile.
  REQUIRE(client.exec(id, {"/bin/busybox", "cat", "/proc/net/fib_trie"}, 10, &response).ok());
  CHECK_THAT(response.stdout(), Catch::Contains("|-- " + ip + "\n"));
  REQUIRE(client.exec(id, {"/bin/busybox", "hostname"}, 10, &response).ok());
  CHECK(response.stdout() == "net-" + handler + "\n");

  // Stopping the pod stops its container first.
  grpc::ClientContext stop_context;
  set_deadline(stop_context, 60);
  v1::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(pod.id);
  v1::StopPodSandboxResponse stopped;
  REQUIRE(client.stub->StopPodSandbox(&stop_context, stop, &stopped).ok());
  CHECK(client.status(id).status().state() == v1::CONTAINER_EXITED);
}

TEST_CASE("UpdateContainerResources and ReopenContainerLog act on a running container", "[daemon][container]") {
  const std::string handler = GENERATE(as<std::string>{}, "runc", "crun");
  INFO("runtime handler " << handler);
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("update-" + handler, handler)};
  std::string id = client.create_ok(
      pod.id,
      Client::config("ticker", env.image, {"/bin/sh", "-c", "while true; do echo tick; /bin/busybox sleep 0.1; done"}));
  REQUIRE(client.start(id).ok());
  auto info = nlohmann::json::parse(client.status(id).info().at("info"));
  const int pid = info["pid"];
  REQUIRE(pid > 0);

  grpc::ClientContext context;
  set_deadline(context, 30);
  v1::UpdateContainerResourcesRequest update;
  update.set_container_id(id);
  update.mutable_linux()->set_memory_limit_in_bytes(64 << 20);
  v1::UpdateContainerResourcesResponse updated;
  grpc::Status s = client.stub->UpdateContainerResources(&context, update, &updated);
  INFO(s.error_message());
  REQUIRE(s.ok());
  // The memory cgroup the container's init is in now has the limit.
  std::string memory_path;
  std::istringstream cgroups(crio::test::read_file("/proc/" + std::to_string(pid) + "/cgroup"));
  for (std::string line; std::getline(cgroups, line);) {
    auto first = line.find(':'), second = line.find(':', first + 1);
    std::string controllers = line.substr(first + 1, second - first - 1);
    if (controllers == "memory") memory_path = line.substr(second + 1);
  }
  REQUIRE_FALSE(memory_path.empty());
  CHECK(crio::test::read_file("/sys/fs/cgroup/memory" + memory_path + "/memory.limit_in_bytes") ==
        std::to_string(64 << 20) + "\n");

  // Log rotation: the kubelet renames the file, then asks for a new one.
  const std::string log_path = client.status(id).status().log_path();
  stdfs::rename(log_path, log_path + ".1");
  grpc::ClientContext reopen_context;
  set_deadline(reopen_context, 30);
  v1::ReopenContainerLogRequest reopen;
  reopen.set_container_id(id);
  v1::ReopenContainerLogResponse reopened;
  s = client.stub->ReopenContainerLog(&reopen_context, reopen, &reopened);
  INFO(s.error_message());
  REQUIRE(s.ok());
  std::string fresh;
  for (int i = 0; i < 50 && fresh.find("stdout F tick") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (stdfs::exists(log_path)) fresh = crio::test::read_file(log_path);
  }
  CHECK_THAT(fresh, Catch::Contains("stdout F tick"));
  CHECK_THAT(crio::test::read_file(log_path + ".1"), Catch::Contains("stdout F tick"));

  REQUIRE(client.stop(id, 0).ok());
  grpc::ClientContext late_context;
  set_deadline(late_context, 30);
  CHECK(client.stub->ReopenContainerLog(&late_context, reopen, &reopened).error_code() ==
        grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_CASE("A container killed for memory is reported OOMKilled", "[daemon][container]") {
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("oom", "")};
  auto config = Client::config(
      "hog", env.image,
      {"/bin/sh", "-c", "x=$(/bin/busybox head -c 200000000 /dev/zero | /bin/busybox tr '\\0' a); echo survived"});
  config.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(16 << 20);
  std::string id = client.create_ok(pod.id, config);
  REQUIRE(client.start(id).ok());
  auto exited = client.wait_state(id, v1::CONTAINER_EXITED);
  REQUIRE(exited.state() == v1::CONTAINER_EXITED);
  CHECK(exited.exit_code() == 137);
  CHECK(exited.reason() == "OOMKilled");
}

TEST_CASE("A CreateContainer retried after the client's deadline gets the first container", "[daemon][container]") {
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("retry", "")};
  auto config = Client::config("slowpoke", env.image, {"/bin/busybox", "true"});
  for (int attempt = 0; attempt < 3; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(5));
    v1::CreateContainerRequest request;
    request.set_pod_sandbox_id(pod.id);
    *request.mutable_config() = config;
    v1::CreateContainerResponse response;
    grpc::Status early = client.stub->CreateContainer(&context, request, &response);
    UNSCOPED_INFO("attempt " << attempt << ": " << early.error_code() << " " << early.error_message());
    if (early.ok()) return;  // answered in time: nothing to retry
  }
  // The kubelet's retry with a normal deadline: the container, never "name is reserved".
  std::string id;
  grpc::Status s = client.create(pod.id, config, &id);
  INFO(s.error_message());
  REQUIRE(s.ok());
  auto all = client.list();
  REQUIRE(all.size() == 1);
  CHECK(all[0].id() == id);
  // Once delivered, the name is reserved again.
  CHECK(client.create(pod.id, config).error_code() == grpc::StatusCode::ALREADY_EXISTS);
}

TEST_CASE("A debug container sees its target's processes and pause freezes a container", "[daemon][container]") {
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("target", "")};
  std::string app = client.create_ok(pod.id, Client::config("app", env.image, {"/bin/busybox", "sleep", "4242"}));
  REQUIRE(client.start(app).ok());
  auto debug = Client::config("debug", env.image, {"/bin/busybox", "sleep", "1000"});
  auto* ns = debug.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  ns->set_pid(v1::TARGET);
  ns->set_target_id(app);
  std::string debugger = client.create_ok(pod.id, debug);
  REQUIRE(client.start(debugger).ok());
  v1::ExecSyncResponse response;
  REQUIRE(client.exec(debugger, {"/bin/busybox", "ps"}, 10, &response).ok());
  CHECK_THAT(response.stdout(), Catch::Contains("sleep 4242"));

  ns->set_target_id("0000000000000000000000000000000000000000000000000000000000000000");
  debug.mutable_metadata()->set_name("debug2");
  CHECK(client.create(pod.id, debug).error_code() == grpc::StatusCode::NOT_FOUND);

  // /pause/:id and /unpause/:id on the status API freeze and thaw the container.
  const int pid = nlohmann::json::parse(client.status(app).info().at("info"))["pid"];
  auto freezer_state = [&] {
    std::istringstream cgroups(crio::test::read_file("/proc/" + std::to_string(pid) + "/cgroup"));
    for (std::string line; std::getline(cgroups, line);) {
      auto first = line.find(':'), second = line.find(':', first + 1);
      if (line.substr(first + 1, second - first - 1) == "freezer") {
        return crio::test::read_file("/sys/fs/cgroup/freezer" + line.substr(second + 1) + "/freezer.state");
      }
    }
    return std::string("no freezer cgroup");
  };
  REQUIRE(crio::test::http_request(env.daemon->socket(), "GET", "/pause/" + app).status == 200);
  CHECK(freezer_state() == "FROZEN\n");
  REQUIRE(crio::test::http_request(env.daemon->socket(), "GET", "/unpause/" + app).status == 200);
  CHECK(freezer_state() == "THAWED\n");
  CHECK(crio::test::http_request(env.daemon->socket(), "GET", "/pause/nosuch").status == 404);
}

TEST_CASE("A privileged container gets every capability and the host's devices", "[daemon][container]") {
  const std::string handler = GENERATE(as<std::string>{}, "runc", "crun");
  INFO("runtime handler " << handler);
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("priv-" + handler, handler)};
  auto config = Client::config("priv", env.image, {"/bin/busybox", "sleep", "1000"});
  config.mutable_linux()->mutable_security_context()->set_privileged(true);
  config.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(0);
  std::string id = client.create_ok(pod.id, config);
  REQUIRE(client.start(id).ok());
  v1::ExecSyncResponse response;
  REQUIRE(client.exec(id, {"/bin/busybox", "grep", "CapEff", "/proc/self/status"}, 10, &response).ok());
  // Every capability the daemon (like this test, root without CAP_SYS_RESOURCE here) holds.
  const std::string self = crio::test::read_file("/proc/self/status");
  const std::string bounding = self.substr(self.find("CapBnd:\t") + 8, 16);
  CHECK(response.stdout() == "CapEff:\t" + bounding + "\n");
  if (stdfs::exists("/dev/kmsg")) {
    REQUIRE(client.exec(id, {"/bin/busybox", "test", "-c", "/dev/kmsg"}, 10, &response).ok());
    CHECK(response.exit_code() == 0);
  }
  // No seccomp filter and no masked paths.
  REQUIRE(client.exec(id, {"/bin/busybox", "grep", "Seccomp:", "/proc/self/status"}, 10, &response).ok());
  CHECK(response.stdout() == "Seccomp:\t0\n");
  REQUIRE(client.exec(id, {"/bin/busybox", "cat", "/proc/sys/kernel/ostype"}, 10, &response).ok());
  CHECK(response.stdout() == "Linux\n");
}

TEST_CASE("A pod sharing its PID namespace gets a hidden infra container that its containers join",
          "[daemon][container]") {
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("shared-pid", "runc", true, true)};
  std::string id = client.create_ok(pod.id, Client::config("worker", env.image, {"/bin/busybox", "sleep", "1000"}));
  REQUIRE(client.start(id).ok());

  // PID 1 of the container's namespace is the infra container's process.
  v1::ExecSyncResponse init;
  REQUIRE(client.exec(id, {"/bin/busybox", "cat", "/proc/1/cmdline"}, 10, &init).ok());
  CHECK_THAT(init.stdout(), Catch::Contains("2147483647"));

  // The kubelet never sees the infra container.
  grpc::ClientContext context;
  set_deadline(context);
  v1::ListContainersResponse listed;
  REQUIRE(client.stub->ListContainers(&context, v1::ListContainersRequest(), &listed).ok());
  REQUIRE(listed.containers_size() == 1);
  CHECK(listed.containers(0).id() == id);

  // Removing the pod takes the infra container with it: no conmon of this daemon left.
  REQUIRE(client.remove_pod(pod.id).ok());
  pod.id.clear();
  auto conmons = crio::test::run_command({"/usr/bin/pgrep", "-f", "conmon.*" + env.daemon->dir().path()});
  CHECK(conmons.out.empty());
}
