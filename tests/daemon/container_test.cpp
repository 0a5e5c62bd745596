// Containers through a real daemon, a real registry and real runtimes, through
// conmon. The lifecycle suite is templated over the two runtime handlers every Env
// configures (Runc, Crun; the pod's runtime_handler picks one): logs, exit codes,
// exec, stop, security settings, cgroups, OOM, a daemon crash, and 100 containers
// that must leave nothing behind. Needs root, conmon, runc, crun, docker-registry,
// python3 and busybox-static.

#include "container_fixture.hpp"

#include <fmt/format.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <fstream>
#include <filesystem>
#include <mutex>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

using crio::test::Daemon;
using crio::test::set_deadline;
using crio::test::TestRegistry;
namespace v1 = runtime::v1;
namespace stdfs = std::filesystem;
using crio::test::containers::cgroup_dirs_of;
using crio::test::containers::cgroups_naming;
using crio::test::containers::cgroups_of;
using crio::test::containers::Client;
using crio::test::containers::Crun;
using crio::test::containers::Env;
using crio::test::containers::log_entries;
using crio::test::containers::mounted;
using crio::test::containers::mounts_under;
using crio::test::containers::paths_naming;
using crio::test::containers::PodGuard;
using crio::test::containers::processes_mentioning;
using crio::test::containers::Runc;
using crio::test::containers::TestNetwork;

namespace {

int pid_of(Client& client, const std::string& id) {
  auto info = nlohmann::json::parse(client.info(id));
  return info.value("pid", 0);
}

// The container's root filesystem: "<storage>/overlay/<layer>/merged", mounted while
// the container exists.
std::string rootfs_of(Client& client, const std::string& id) {
  auto info = nlohmann::json::parse(client.info(id));
  return info.value("rootfs", "");
}

// The rootfs is gone: not mounted, and its layer directory removed.
bool rootfs_gone(const std::string& rootfs) {
  return !rootfs.empty() && !mounted(rootfs + " ") && !stdfs::exists(stdfs::path(rootfs).parent_path());
}

// The v1 memory cgroup directory of `pid` (the machine is cgroup v1 hybrid).
std::string memory_cgroup_dir(int pid) {
  auto cgroups = cgroups_of(pid);
  auto it = cgroups.find("memory");
  return it == cgroups.end() ? std::string() : "/sys/fs/cgroup/memory" + it->second;
}

std::string log_of(const std::string& path) { return stdfs::exists(path) ? crio::test::read_file(path) : ""; }

// Waits until the container's log mentions `text` (or 10 s pass).
bool log_mentions(const std::string& path, const std::string& text) {
  return crio::test::eventually([&] { return log_of(path).find(text) != std::string::npos; },
                                std::chrono::seconds(10));
}

// The bit of capability `number` in a hex mask of /proc/<pid>/status.
bool has_bit(const std::string& hex_mask, int number) {
  return (std::stoull(hex_mask, nullptr, 16) >> number) & 1;
}

// "CapEff" → "00000000a80425fb", from the text of /proc/<pid>/status.
std::map<std::string, std::string> status_fields(const std::string& status) {
  std::map<std::string, std::string> out;
  for (const auto& line : crio::test::containers::lines_of(status)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    out[line.substr(0, colon)] = value;
  }
  return out;
}

}  // namespace

TEMPLATE_TEST_CASE("A container logs both streams in the CRI format and exits with its code", "[daemon][container]",
                   Runc, Crun) {
  const std::string handler = TestType::kHandler;
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("life-" + handler, handler)};

  // The last write has no newline: the log keeps it as a partial ("P") entry.
  auto config = Client::config(
      "worker", env.image, {"/bin/sh", "-c", "echo out-line; echo err-line >&2; printf partial-line; exit 3"});
  std::string id = client.create_ok(pod.id, config);
  auto created = client.status(id).status();
  CHECK(created.state() == v1::CONTAINER_CREATED);
  CHECK(created.metadata().name() == "worker");
  CHECK(created.created_at() > 0);
  CHECK(created.labels().at("app") == "worker");
  CHECK(created.image().image() == env.image);
  // image_ref is the repo digest the image was pulled with, as CRI-O reports it.
  const std::string repo = env.image.substr(0, env.image.rfind(':'));
  CHECK_THAT(created.image_ref(), Catch::StartsWith(repo + "@sha256:"));
  CHECK(created.image_id().size() == 64);
  // The image's User is "1000:1000".
  CHECK(created.user().linux().uid() == 1000);
  CHECK(created.user().linux().gid() == 1000);
  const std::string log_path = created.log_path();
  CHECK(log_path == client.dir + "/logs/life-" + handler + "/worker/0.log");
  auto info = nlohmann::json::parse(client.info(id));
  const std::string bundle = info["bundle"];
  const std::string rootfs = info["rootfs"];
  // CRI-O's verbose keys: the sandbox, the init's pid, privilege and the OCI spec.
  CHECK(info["sandboxID"] == pod.id);
  CHECK(info["pid"].get<int>() > 0);
  CHECK(info["privileged"] == false);
  CHECK(info["runtimeSpec"]["process"]["args"][2] == "echo out-line; echo err-line >&2; printf partial-line; exit 3");
  CHECK(stdfs::exists(bundle + "/config.json"));
  CHECK(mounted(rootfs + " "));
  // The runtime named by the pod's handler holds the container, under its own root.
  CHECK(stdfs::exists(client.dir + "/" + handler + "-root/" + id));

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
  INFO("log:\n" << log);
  CHECK(log_entries(log, "stdout") == std::vector<std::string>{"F out-line", "P partial-line"});
  CHECK(log_entries(log, "stderr") == std::vector<std::string>{"F err-line"});

  // Exit code 0 is Completed; the image's entrypoint (/bin/sh -c) takes args.
  auto ok_config = Client::config("done", env.image, {});
  ok_config.add_args("exit 0");
  std::string ok_id = client.create_ok(pod.id, ok_config);
  const std::string ok_rootfs = rootfs_of(client, ok_id);
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

  // Remove leaves no mount, bundle, state or runtime state; the log stays; a second
  // remove is fine.
  REQUIRE(client.remove(id).ok());
  CHECK_FALSE(stdfs::exists(bundle));
  CHECK_FALSE(stdfs::exists(client.dir + "/storage/crio/containers/" + id + ".json"));
  CHECK_FALSE(stdfs::exists(client.dir + "/" + handler + "-root/" + id));
  CHECK(rootfs_gone(rootfs));
  CHECK(paths_naming(client.dir, {id}) == std::vector<std::string>{});
  CHECK(stdfs::exists(log_path));
  CHECK(client.remove(id).ok());
  grpc::Status gone;
  client.status(id, &gone);
  CHECK(gone.error_code() == grpc::StatusCode::NOT_FOUND);

  // Removing the pod removes its remaining container.
  REQUIRE(client.remove_pod(pod.id).ok());
  pod.id.clear();
  CHECK(client.list().empty());
  CHECK(rootfs_gone(ok_rootfs));
}

TEMPLATE_TEST_CASE("ExecSync returns output and exit code, enforces its timeout, and stop ends the container",
                   "[daemon][container]", Runc, Crun) {
  const std::string handler = TestType::kHandler;
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("exec-" + handler, handler)};

  std::string id = client.create_ok(pod.id, Client::config("sleeper", env.image, {"/bin/busybox", "sleep", "1000"}));
  v1::ExecSyncResponse response;
  // As CRI-O: a created container's init already holds its namespaces, so exec works
  // before StartContainer; the container's own process is still waiting to start.
  REQUIRE(client.exec(id, {"/bin/busybox", "echo", "early"}, 5, &response).ok());
  CHECK(response.exit_code() == 0);
  CHECK(response.stdout() == "early\n");
  CHECK(client.status(id).status().state() == v1::CONTAINER_CREATED);
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

  // The timeout ends the exec (and its process) and says so; the container runs on.
  v1::ExecSyncResponse slow;
  auto exec_started = std::chrono::steady_clock::now();
  CHECK(client.exec(id, {"/bin/busybox", "sleep", "30"}, 1, &slow).error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  CHECK(std::chrono::steady_clock::now() - exec_started < std::chrono::seconds(10));
  CHECK(client.status(id).status().state() == v1::CONTAINER_RUNNING);
  CHECK(crio::test::eventually([&] {
    return client.exec_ok(id, {"/bin/busybox", "pgrep", "-f", "sleep 30"}).stdout().empty();
  }));

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

TEMPLATE_TEST_CASE("Stop sends SIGTERM, waits the grace period, then kills a process that ignores it",
                   "[daemon][container]", Runc, Crun) {
  const std::string handler = TestType::kHandler;
  Env env;
  // test/pause:v1 names no StopSignal, so the stop signal is SIGTERM.
  env.pull(env.pause_image());
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("term-" + handler, handler)};

  // A process with a SIGTERM handler ends on the first signal, with its own code.
  std::string graceful = client.create_ok(
      pod.id, Client::config("graceful", env.pause_image(),
                             {"/bin/sh", "-c",
                              "trap 'echo got-term; exit 42' TERM; echo ready; "
                              "while true; do /bin/busybox sleep 0.1; done"}));
  // One that ignores SIGTERM outlives the grace period and is killed.
  std::string stubborn = client.create_ok(
      pod.id, Client::config("stubborn", env.pause_image(),
                             {"/bin/sh", "-c", "trap '' TERM; echo ready; while true; do /bin/busybox sleep 0.1; done"}));
  REQUIRE(client.start(graceful).ok());
  REQUIRE(client.start(stubborn).ok());
  const std::string graceful_log = client.status(graceful).status().log_path();
  const std::string stubborn_log = client.status(stubborn).status().log_path();
  REQUIRE(log_mentions(graceful_log, "ready"));
  REQUIRE(log_mentions(stubborn_log, "ready"));

  auto before = std::chrono::steady_clock::now();
  REQUIRE(client.stop(graceful, 30).ok());
  CHECK(std::chrono::steady_clock::now() - before < std::chrono::seconds(5));
  auto ended = client.status(graceful).status();
  CHECK(ended.state() == v1::CONTAINER_EXITED);
  CHECK(ended.exit_code() == 42);
  CHECK(log_mentions(graceful_log, "stdout F got-term"));

  before = std::chrono::steady_clock::now();
  REQUIRE(client.stop(stubborn, 2).ok());
  const auto took = std::chrono::steady_clock::now() - before;
  CHECK(took >= std::chrono::milliseconds(1900));
  CHECK(took < std::chrono::seconds(10));
  auto killed = client.status(stubborn).status();
  CHECK(killed.state() == v1::CONTAINER_EXITED);
  CHECK(killed.exit_code() == 137);
  CHECK(killed.reason() == "Error");
  // Nothing of the killed container keeps running, not even its conmon.
  CHECK(crio::test::eventually([&] { return processes_mentioning(stubborn).empty(); }));
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
  // The image has an entrypoint, so this one works; a duplicate request gets the same
  // container, as from CRI-O.
  std::string first = client.create_ok(pod.id, no_command);
  s = client.create(pod.id, no_command, &id);
  CHECK(s.ok());
  CHECK(id == first);

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


TEMPLATE_TEST_CASE("After a kill -9 of the daemon running and exited containers keep their state and logs",
                   "[daemon][container][restore]", Runc, Crun) {
  const std::string handler = TestType::kHandler;
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("crash-" + handler, handler)};

  // Running through the crash; exiting while the daemon is down; exited before the
  // crash; created and never started.
  std::string sleeper = client.create_ok(
      pod.id, Client::config("sleeper", env.image, {"/bin/sh", "-c", "echo sleeper-up; exec /bin/busybox sleep 1000"}));
  std::string quitter = client.create_ok(
      pod.id, Client::config("quitter", env.image,
                             {"/bin/sh", "-c", "echo quitter-up; /bin/busybox sleep 2; echo quitter-down >&2; exit 7"}));
  std::string early =
      client.create_ok(pod.id, Client::config("early", env.image, {"/bin/sh", "-c", "echo early-out; exit 4"}));
  std::string fresh =
      client.create_ok(pod.id, Client::config("fresh", env.image, {"/bin/sh", "-c", "echo fresh-out; exit 9"}));
  REQUIRE(client.start(early).ok());
  auto early_before = client.wait_state(early, v1::CONTAINER_EXITED);
  REQUIRE(early_before.state() == v1::CONTAINER_EXITED);
  REQUIRE(client.start(sleeper).ok());
  REQUIRE(client.start(quitter).ok());
  const int sleeper_pid = pid_of(client, sleeper);
  REQUIRE(sleeper_pid > 0);
  const std::string sleeper_log = client.status(sleeper).status().log_path();
  const std::string quitter_log = client.status(quitter).status().log_path();
  REQUIRE(log_mentions(sleeper_log, "sleeper-up"));

  env.daemon->stop(SIGKILL);
  REQUIRE(env.daemon->exit_code() == 128 + SIGKILL);
  // The quitter exits while nobody watches: conmon writes its exit file and log.
  REQUIRE(log_mentions(quitter_log, "quitter-down"));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  env.daemon->start();
  client.stub = env.daemon->runtime_stub();

  grpc::Status found;
  auto running = client.status(sleeper, &found).status();
  if (!found.ok()) FAIL(found.error_message() << "\n" << env.daemon->log());
  CHECK(running.state() == v1::CONTAINER_RUNNING);
  CHECK(pid_of(client, sleeper) == sleeper_pid);

  auto quit = client.status(quitter).status();
  CHECK(quit.state() == v1::CONTAINER_EXITED);
  CHECK(quit.exit_code() == 7);
  CHECK(quit.reason() == "Error");
  CHECK(quit.finished_at() > quit.started_at());

  auto early_after = client.status(early).status();
  CHECK(early_after.state() == v1::CONTAINER_EXITED);
  CHECK(early_after.exit_code() == 4);
  CHECK(early_after.started_at() == early_before.started_at());
  CHECK(early_after.finished_at() == early_before.finished_at());

  CHECK(client.status(fresh).status().state() == v1::CONTAINER_CREATED);
  CHECK(client.list().size() == 4);

  // The logs are whole: nothing lost or doubled across the crash.
  CHECK(log_entries(log_of(quitter_log), "stdout") == std::vector<std::string>{"F quitter-up"});
  CHECK(log_entries(log_of(quitter_log), "stderr") == std::vector<std::string>{"F quitter-down"});
  CHECK(log_entries(log_of(sleeper_log), "stdout") == std::vector<std::string>{"F sleeper-up"});
  CHECK(log_entries(log_of(early_after.log_path()), "stdout") == std::vector<std::string>{"F early-out"});

  // The adopted containers are still under control: exec, stop, and a start of the
  // one created before the crash.
  CHECK(client.exec_ok(sleeper, {"/bin/sh", "-c", "echo alive"}).stdout() == "alive\n");
  REQUIRE(client.start(fresh).ok());
  auto fresh_done = client.wait_state(fresh, v1::CONTAINER_EXITED);
  CHECK(fresh_done.state() == v1::CONTAINER_EXITED);
  CHECK(fresh_done.exit_code() == 9);
  CHECK(log_entries(log_of(fresh_done.log_path()), "stdout") == std::vector<std::string>{"F fresh-out"});
  REQUIRE(client.stop(sleeper, 0).ok());
  auto stopped = client.status(sleeper).status();
  CHECK(stopped.state() == v1::CONTAINER_EXITED);
  CHECK(stopped.exit_code() == 137);

  // Remove works for all four and leaves nothing of them.
  const std::set<std::string> ids = {sleeper, quitter, early, fresh};
  std::vector<std::string> rootfs;
  for (const auto& id : ids) rootfs.push_back(rootfs_of(client, id));
  for (const auto& id : ids) {
    grpc::Status removed = client.remove(id);
    INFO(id << ": " << removed.error_message());
    CHECK(removed.ok());
  }
  CHECK(client.list().empty());
  INFO("sleeper " << sleeper << ", quitter " << quitter << ", early " << early << ", fresh " << fresh);
  CHECK(paths_naming(client.dir, ids) == std::vector<std::string>{});
  CHECK(crio::test::eventually([&] { return processes_mentioning(client.dir, env.daemon->child().pid()).empty(); }));
  CHECK(cgroups_naming(ids) == std::vector<std::string>{});
  for (const auto& r : rootfs) {
    INFO(r);
    CHECK(rootfs_gone(r));
  }
}

TEMPLATE_TEST_CASE("The container spec honours the request, the image and the pod", "[daemon][container]", Runc,
                   Crun) {
  const std::string handler = TestType::kHandler;
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("spec", handler)};

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

  auto run = [&](const std::string& script) { return client.exec_ok(id, {"/bin/sh", "-c", script}); };
  CHECK(run("echo $GREETING").stdout() == "hello\n");
  CHECK(run("pwd").stdout() == "/data\n");  // the image's WorkingDir
  CHECK(run("cat /etc/hostname").stdout() == "spec\n");
  CHECK(run("/bin/busybox id -u").stdout() == "0\n");
  // CAP_NET_RAW is bit 13: the only one left after dropping ALL.
  CHECK(run("/bin/busybox grep CapEff /proc/self/status").stdout() == "CapEff:\t0000000000002000\n");
  // A read-only rootfs refuses writes, even from root; the pod's /dev/shm takes them.
  auto refused = run("/bin/busybox touch /rootfs-write");
  CHECK(refused.exit_code() != 0);
  CHECK_THAT(refused.stderr(), Catch::Contains("Read-only file system"));
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

TEMPLATE_TEST_CASE("Dropped capabilities, RuntimeDefault seccomp and a user from /etc/passwd hold inside",
                   "[daemon][container][security]", Runc, Crun) {
  const std::string handler = TestType::kHandler;
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("sec-" + handler, handler)};

  // Root with the default capabilities less CHOWN and KILL, under RuntimeDefault.
  auto confined_config = Client::config("confined", env.image, {"/bin/busybox", "sleep", "1000"});
  auto* sc = confined_config.mutable_linux()->mutable_security_context();
  sc->mutable_run_as_user()->set_value(0);
  sc->mutable_capabilities()->add_drop_capabilities("CHOWN");
  sc->mutable_capabilities()->add_drop_capabilities("CAP_KILL");
  sc->mutable_seccomp()->set_profile_type(v1::SecurityProfile::RuntimeDefault);
  // The same, with every default capability and no seccomp filter: the control.
  auto open_config = Client::config("open", env.image, {"/bin/busybox", "sleep", "1000"});
  open_config.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(0);
  open_config.mutable_linux()->mutable_security_context()->mutable_seccomp()->set_profile_type(
      v1::SecurityProfile::Unconfined);
  std::string confined = client.create_ok(pod.id, confined_config);
  std::string open = client.create_ok(pod.id, open_config);
  REQUIRE(client.start(confined).ok());
  REQUIRE(client.start(open).ok());

  constexpr int kChown = 0, kDacOverride = 1, kKill = 5, kSetuid = 7, kSysAdmin = 21;
  auto confined_status = status_fields(client.exec_ok(confined, {"/bin/busybox", "cat", "/proc/self/status"}).stdout());
  auto open_status = status_fields(client.exec_ok(open, {"/bin/busybox", "cat", "/proc/self/status"}).stdout());
  INFO("confined CapEff " << confined_status["CapEff"] << ", open CapEff " << open_status["CapEff"]);
  for (const char* set : {"CapEff", "CapPrm", "CapBnd"}) {
    INFO(set);
    REQUIRE_FALSE(confined_status[set].empty());
    CHECK_FALSE(has_bit(confined_status[set], kChown));
    CHECK_FALSE(has_bit(confined_status[set], kKill));
    CHECK(has_bit(confined_status[set], kDacOverride));
    CHECK(has_bit(confined_status[set], kSetuid));
    CHECK_FALSE(has_bit(confined_status[set], kSysAdmin));
    CHECK(has_bit(open_status[set], kChown));
    CHECK(has_bit(open_status[set], kKill));
    CHECK_FALSE(has_bit(open_status[set], kSysAdmin));
  }
  // Missing for real: chown fails without CAP_CHOWN, works with it.
  auto chown = [&](const std::string& id) {
    return client.exec_ok(id, {"/bin/sh", "-c", "/bin/busybox touch /tmp/f && /bin/busybox chown 1234 /tmp/f"});
  };
  auto denied = chown(confined);
  CHECK(denied.exit_code() != 0);
  CHECK_THAT(denied.stderr(), Catch::Contains("Operation not permitted"));
  CHECK(chown(open).exit_code() == 0);

  // RuntimeDefault filters (mode 2); creating a user namespace needs no capability,
  // so only the filter stops it.
  CHECK(confined_status["Seccomp"] == "2");
  CHECK(open_status["Seccomp"] == "0");
  auto userns = [&](const std::string& id) {
    return client.exec_ok(id, {"/bin/busybox", "unshare", "-U", "/bin/busybox", "true"});
  };
  auto allowed = userns(open);
  INFO("unconfined unshare: " << allowed.stderr());
  REQUIRE(allowed.exit_code() == 0);
  auto blocked = userns(confined);
  CHECK(blocked.exit_code() != 0);
  CHECK_THAT(blocked.stderr(), Catch::Contains("Operation not permitted"));
  // Ordinary syscalls still work under the filter.
  CHECK(client.exec_ok(confined, {"/bin/busybox", "echo", "fine"}).stdout() == "fine\n");

  // A user named in the request is looked up in the image's /etc/passwd
  // ("nobody:x:65534:65534:nobody:/nonexistent:/bin/false").
  auto named_config = Client::config("named", env.image, {"/bin/busybox", "sleep", "1000"});
  named_config.mutable_linux()->mutable_security_context()->set_run_as_username("nobody");
  std::string named = client.create_ok(pod.id, named_config);
  auto named_status = client.status(named).status();
  CHECK(named_status.user().linux().uid() == 65534);
  CHECK(named_status.user().linux().gid() == 65534);
  REQUIRE(client.start(named).ok());
  CHECK(client.exec_ok(named, {"/bin/busybox", "id", "-u"}).stdout() == "65534\n");
  CHECK(client.exec_ok(named, {"/bin/busybox", "id", "-g"}).stdout() == "65534\n");
  CHECK(client.exec_ok(named, {"/bin/sh", "-c", "echo $HOME"}).stdout() == "/nonexistent\n");
  // PID 1 runs as that user too, not only the exec.
  const int named_pid = pid_of(client, named);
  REQUIRE(named_pid > 0);
  auto host_view = status_fields(crio::test::read_file("/proc/" + std::to_string(named_pid) + "/status"));
  CHECK_THAT(host_view["Uid"], Catch::StartsWith("65534\t65534"));
  CHECK_THAT(host_view["Gid"], Catch::StartsWith("65534\t65534"));
}

TEMPLATE_TEST_CASE("A container joins its pod's network namespace", "[daemon][container]", Runc, Crun) {
  const std::string handler = TestType::kHandler;
  Env env;
  TestNetwork network(*env.daemon);
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("net-" + handler, handler, false)};
  const std::string ip = client.pod_status(pod.id).status().network().ip();
  REQUIRE(ip.rfind(network.subnet_prefix(), 0) == 0);

  std::string id = client.create_ok(pod.id, Client::config("net", env.image, {"/bin/busybox", "sleep", "1000"}));
  REQUIRE(client.start(id).ok());
  // /proc/net rather than `ip`: it needs no socket, so it works under any seccomp profile.
  CHECK_THAT(client.exec_ok(id, {"/bin/busybox", "cat", "/proc/net/fib_trie"}).stdout(),
             Catch::Contains("|-- " + ip + "\n"));
  CHECK(client.exec_ok(id, {"/bin/busybox", "hostname"}).stdout() == "net-" + handler + "\n");

  // Stopping the pod stops its container first.
  REQUIRE(client.stop_pod(pod.id).ok());
  CHECK(client.status(id).status().state() == v1::CONTAINER_EXITED);
}

TEMPLATE_TEST_CASE("UpdateContainerResources and ReopenContainerLog act on a running container",
                   "[daemon][container]", Runc, Crun) {
  const std::string handler = TestType::kHandler;
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("update-" + handler, handler)};
  std::string id = client.create_ok(
      pod.id,
      Client::config("ticker", env.image, {"/bin/sh", "-c", "while true; do echo tick; /bin/busybox sleep 0.1; done"}));
  REQUIRE(client.start(id).ok());
  const int pid = pid_of(client, id);
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
  const std::string memory_dir = memory_cgroup_dir(pid);
  REQUIRE_FALSE(memory_dir.empty());
  CHECK(crio::test::read_file(memory_dir + "/memory.limit_in_bytes") == std::to_string(64 << 20) + "\n");
  // No swap asked for: none beyond the memory limit, as CRI-O does.
  if (stdfs::exists(memory_dir + "/memory.memsw.limit_in_bytes")) {
    CHECK(crio::test::read_file(memory_dir + "/memory.memsw.limit_in_bytes") == std::to_string(64 << 20) + "\n");
  }

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
  CHECK(log_mentions(log_path, "stdout F tick"));
  // Both files are whole CRI logs: every line of each is a full "tick" entry.
  for (const auto& path : {log_path, log_path + ".1"}) {
    auto entries = log_entries(log_of(path), "stdout");
    INFO(path);
    REQUIRE_FALSE(entries.empty());
    for (const auto& e : entries) {
      if (e != "F tick") CHECK(e == "F tick");
    }
  }

  REQUIRE(client.stop(id, 0).ok());
  grpc::ClientContext late_context;
  set_deadline(late_context, 30);
  CHECK(client.stub->ReopenContainerLog(&late_context, reopen, &reopened).error_code() ==
        grpc::StatusCode::FAILED_PRECONDITION);
}

TEMPLATE_TEST_CASE("A memory limit is set in the cgroup and a container killed for memory is reported OOMKilled",
                   "[daemon][container][cgroup]", Runc, Crun) {
  const std::string handler = TestType::kHandler;
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("oom-" + handler, handler)};
  auto config = Client::config(
      "hog", env.image,
      {"/bin/sh", "-c", "x=$(/bin/busybox head -c 200000000 /dev/zero | /bin/busybox tr '\\0' a); echo survived"});
  config.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(16 << 20);
  std::string id = client.create_ok(pod.id, config);
  // The limit is in place before the process runs: the created container's init is
  // already in its cgroup.
  const int pid = pid_of(client, id);
  REQUIRE(pid > 0);
  const std::string memory_dir = memory_cgroup_dir(pid);
  INFO("memory cgroup " << memory_dir);
  REQUIRE_FALSE(memory_dir.empty());
  CHECK_THAT(memory_dir, Catch::Contains(id));
  CHECK(crio::test::read_file(memory_dir + "/memory.limit_in_bytes") == std::to_string(16 << 20) + "\n");

  REQUIRE(client.start(id).ok());
  auto exited = client.wait_state(id, v1::CONTAINER_EXITED);
  REQUIRE(exited.state() == v1::CONTAINER_EXITED);
  CHECK(exited.exit_code() == 137);
  CHECK(exited.reason() == "OOMKilled");
  CHECK(log_of(exited.log_path()).find("survived") == std::string::npos);

  // An exit for another reason is not OOMKilled, even under a limit.
  auto calm = Client::config("calm", env.image, {"/bin/sh", "-c", "exit 137"});
  calm.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(16 << 20);
  std::string calm_id = client.create_ok(pod.id, calm);
  REQUIRE(client.start(calm_id).ok());
  auto calm_exit = client.wait_state(calm_id, v1::CONTAINER_EXITED);
  CHECK(calm_exit.exit_code() == 137);
  CHECK(calm_exit.reason() == "Error");

  // Removing the containers removes their cgroups.
  REQUIRE(client.remove(id).ok());
  REQUIRE(client.remove(calm_id).ok());
  CHECK_FALSE(stdfs::exists(memory_dir));
  CHECK(cgroups_naming({id, calm_id}).empty());
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
  // The kubelet's retries with short deadlines: one that finds the first creation still
  // running fails when its deadline passes (never "name is reserved"); the next one
  // after the creation finished gets the container.
  std::string id;
  grpc::Status s;
  for (int attempt = 0; attempt < 30; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    v1::CreateContainerRequest request;
    request.set_pod_sandbox_id(pod.id);
    *request.mutable_config() = config;
    v1::CreateContainerResponse response;
    s = client.stub->CreateContainer(&context, request, &response);
    if (s.ok()) {
      id = response.container_id();
      break;
    }
    CHECK(s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  INFO(s.error_message());
  REQUIRE(s.ok());
  auto all = client.list();
  REQUIRE(all.size() == 1);
  CHECK(all[0].id() == id);
  // Once delivered, a duplicate request still gets the same container, never a second.
  std::string again;
  CHECK(client.create(pod.id, config, &again).ok());
  CHECK(again == id);
  CHECK(client.list().size() == 1);
}


TEMPLATE_TEST_CASE("A debug container sees its target's processes and pause freezes a container",
                   "[daemon][container]", Runc, Crun) {
  const std::string handler = TestType::kHandler;
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("target", handler)};
  std::string app = client.create_ok(pod.id, Client::config("app", env.image, {"/bin/busybox", "sleep", "4242"}));
  REQUIRE(client.start(app).ok());
  auto debug = Client::config("debug", env.image, {"/bin/busybox", "sleep", "1000"});
  auto* ns = debug.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  ns->set_pid(v1::TARGET);
  ns->set_target_id(app);
  std::string debugger = client.create_ok(pod.id, debug);
  REQUIRE(client.start(debugger).ok());
  CHECK_THAT(client.exec_ok(debugger, {"/bin/busybox", "ps"}).stdout(), Catch::Contains("sleep 4242"));

  ns->set_target_id("0000000000000000000000000000000000000000000000000000000000000000");
  debug.mutable_metadata()->set_name("debug2");
  CHECK(client.create(pod.id, debug).error_code() == grpc::StatusCode::NOT_FOUND);

  // /pause/:id and /unpause/:id on the status API freeze and thaw the container.
  const int pid = pid_of(client, app);
  auto freezer_state = [&] {
    auto cgroups = cgroups_of(pid);
    auto it = cgroups.find("freezer");
    if (it == cgroups.end()) return std::string("no freezer cgroup");
    return crio::test::read_file("/sys/fs/cgroup/freezer" + it->second + "/freezer.state");
  };
  REQUIRE(crio::test::http_request(env.daemon->socket(), "GET", "/pause/" + app).status == 200);
  CHECK(freezer_state() == "FROZEN\n");
  REQUIRE(crio::test::http_request(env.daemon->socket(), "GET", "/unpause/" + app).status == 200);
  CHECK(freezer_state() == "THAWED\n");
  CHECK(crio::test::http_request(env.daemon->socket(), "GET", "/pause/nosuch").status == 404);
}

TEMPLATE_TEST_CASE("A privileged container gets every capability and the host's devices", "[daemon][container]",
                   Runc, Crun) {
  const std::string handler = TestType::kHandler;
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("priv-" + handler, handler)};
  auto config = Client::config("priv", env.image, {"/bin/busybox", "sleep", "1000"});
  config.mutable_linux()->mutable_security_context()->set_privileged(true);
  config.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(0);
  std::string id = client.create_ok(pod.id, config);
  REQUIRE(client.start(id).ok());
  // Every capability the daemon (like this test, root without CAP_SYS_RESOURCE here) holds.
  const std::string self = crio::test::read_file("/proc/self/status");
  const std::string bounding = self.substr(self.find("CapBnd:\t") + 8, 16);
  CHECK(client.exec_ok(id, {"/bin/busybox", "grep", "CapEff", "/proc/self/status"}).stdout() ==
        "CapEff:\t" + bounding + "\n");
  if (stdfs::exists("/dev/kmsg")) {
    CHECK(client.exec_ok(id, {"/bin/busybox", "test", "-c", "/dev/kmsg"}).exit_code() == 0);
  }
  // No seccomp filter and no masked paths.
  CHECK(client.exec_ok(id, {"/bin/busybox", "grep", "Seccomp:", "/proc/self/status"}).stdout() == "Seccomp:\t0\n");
  CHECK(client.exec_ok(id, {"/bin/busybox", "cat", "/proc/sys/kernel/ostype"}).stdout() == "Linux\n");
}

TEMPLATE_TEST_CASE("A pod sharing its PID namespace gets a hidden infra container that its containers join",
                   "[daemon][container]", Runc, Crun) {
  const std::string handler = TestType::kHandler;
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("shared-pid", handler, true, true)};
  std::string id = client.create_ok(pod.id, Client::config("worker", env.image, {"/bin/busybox", "sleep", "1000"}));
  REQUIRE(client.start(id).ok());

  // PID 1 of the container's namespace is the infra container's process.
  CHECK_THAT(client.exec_ok(id, {"/bin/busybox", "cat", "/proc/1/cmdline"}).stdout(), Catch::Contains("2147483647"));

  // The runtime knows the infra container by the pod's ID, as with CRI-O.
  CHECK(stdfs::exists(client.dir + "/" + handler + "-root/" + pod.id));

  // The kubelet never sees the infra container.
  auto listed = client.list();
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].id() == id);

  // Removing the pod takes the infra container with it: no conmon of this daemon left.
  REQUIRE(client.remove_pod(pod.id).ok());
  pod.id.clear();
  CHECK(crio::test::eventually(
      [&] { return processes_mentioning(env.daemon->dir().path(), env.daemon->child().pid()).empty(); }));
}

TEST_CASE("A pod whose infra container is killed turns NOTREADY and is removed cleanly", "[daemon][container]") {
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("killed-infra", "runc", true, true)};
  REQUIRE(client.pod_status(pod.id).status().state() == v1::SANDBOX_READY);
  // What CRI-O's suite does: the runtime kills the infra container behind the daemon's back.
  auto killed = crio::test::run_command({"/usr/sbin/runc", "--root", client.dir + "/runc-root", "kill", pod.id, "KILL"});
  INFO(killed.err);
  REQUIRE(killed.exit_code == 0);
  CHECK(crio::test::eventually(
      [&] { return client.pod_status(pod.id).status().state() == v1::SANDBOX_NOTREADY; }, std::chrono::seconds(15)));
  // Listed as NOTREADY too.
  grpc::ClientContext context;
  crio::test::set_deadline(context);
  v1::ListPodSandboxResponse listed;
  REQUIRE(client.stub->ListPodSandbox(&context, v1::ListPodSandboxRequest(), &listed).ok());
  REQUIRE(listed.items_size() == 1);
  CHECK(listed.items(0).state() == v1::SANDBOX_NOTREADY);
  REQUIRE(client.remove_pod(pod.id).ok());
  pod.id.clear();
}

namespace {

// What one container of the leak test left to look for once it is gone.
struct Footprint {
  std::string id;
  std::vector<std::string> cgroup_dirs;  // from /proc/<pid>/cgroup while it ran
  std::string rootfs;
  std::string error;                     // the first failed call, if any
};

// Create, start, (wait for the exit of the short-lived ones,) stop and remove one
// container. Only status-returning calls: this runs on worker threads, where Catch
// assertions must not be used.
Footprint cycle(Client& client, const std::string& pod, const std::string& image, int n) {
  Footprint f;
  const bool short_lived = n % 4 == 3;
  auto config = Client::config(
      "c" + std::to_string(n), image,
      short_lived ? std::vector<std::string>{"/bin/sh", "-c", "echo bye"}
                  : std::vector<std::string>{"/bin/busybox", "sleep", "1000"});
  auto fail = [&](const std::string& step, const grpc::Status& s) {
    f.error = "container " + std::to_string(n) + " " + f.id + ": " + step + ": " + s.error_message();
    return f;
  };
  grpc::Status s = client.create(pod, config, &f.id);
  if (!s.ok()) return fail("create", s);
  f.rootfs = rootfs_of(client, f.id);
  if (s = client.start(f.id); !s.ok()) return fail("start", s);
  if (short_lived) {
    if (client.wait_state(f.id, v1::CONTAINER_EXITED).state() != v1::CONTAINER_EXITED) {
      return fail("exit", grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "never exited"));
    }
  } else {
    const int pid = pid_of(client, f.id);
    if (pid <= 0) return fail("pid", grpc::Status(grpc::StatusCode::INTERNAL, "no pid"));
    f.cgroup_dirs = cgroup_dirs_of(pid);
  }
  if (s = client.stop(f.id, 0); !s.ok()) return fail("stop", s);
  if (s = client.remove(f.id); !s.ok()) return fail("remove", s);
  return f;
}

}  // namespace

TEMPLATE_TEST_CASE("100 containers created, started, stopped and removed leave nothing behind",
                   "[daemon][container][leak]", Runc, Crun) {
  const std::string handler = TestType::kHandler;
  constexpr int kContainers = 100, kPods = 4;
  Env env;
  Client client(*env.daemon);
  const std::string dir = env.daemon->dir().path();
  const pid_t daemon_pid = env.daemon->child().pid();
  std::vector<std::unique_ptr<PodGuard>> pods;
  for (int p = 0; p < kPods; ++p) {
    pods.push_back(std::unique_ptr<PodGuard>(new PodGuard{client, client.run_pod("leak" + std::to_string(p) + "-" + handler, handler)}));
  }

  // The probes first find what a live container has, so an empty answer later means
  // something: its cgroups, its conmon, its rootfs mount, its files, its exit file.
  std::string probe = client.create_ok(pods[0]->id, Client::config("probe", env.image, {"/bin/busybox", "sleep", "1000"}));
  REQUIRE(client.start(probe).ok());
  const int probe_pid = pid_of(client, probe);
  REQUIRE(probe_pid > 0);
  const auto probe_cgroups = cgroup_dirs_of(probe_pid);
  INFO("probe cgroups: " << ::Catch::Detail::stringify(probe_cgroups));
  CHECK(probe_cgroups.size() >= 5);
  CHECK(cgroups_naming({probe}).size() >= probe_cgroups.size());
  CHECK(processes_mentioning(probe).size() >= 1);  // conmon
  INFO("mounts under the daemon's directory: " << ::Catch::Detail::stringify(mounts_under(dir)));
  INFO("paths naming the probe: " << ::Catch::Detail::stringify(paths_naming(dir, {probe})));
  // The container's layer is named by a layer ID of its own, so it is found by its rootfs.
  const std::string probe_rootfs = rootfs_of(client, probe);
  CHECK(mounted(probe_rootfs));
  // The state file, bundle, runtime state and attach socket link.
  CHECK(paths_naming(dir, {probe}).size() >= 4);
  REQUIRE(client.stop(probe, 0).ok());
  CHECK(stdfs::exists(dir + "/run/exits/" + probe));
  REQUIRE(client.remove(probe).ok());

  // kPods workers, one pod each, one container after another.
  std::vector<Footprint> footprints(kContainers);
  std::vector<std::thread> workers;
  const auto started = std::chrono::steady_clock::now();
  for (int p = 0; p < kPods; ++p) {
    workers.emplace_back([&, p] {
      Client own(*env.daemon);
      for (int n = p; n < kContainers; n += kPods) footprints[n] = cycle(own, pods[p]->id, env.image, n);
    });
  }
  for (auto& t : workers) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(stderr, "%s: %d containers created, started, stopped and removed in %.1f s (%d at a time)\n",
               handler.c_str(), kContainers, seconds, kPods);

  std::set<std::string> ids = {probe};
  std::vector<std::string> cgroup_dirs = probe_cgroups;
  std::vector<std::string> rootfs_left;
  if (!rootfs_gone(probe_rootfs)) rootfs_left.push_back(probe_rootfs);
  for (const auto& f : footprints) {
    if (!f.error.empty()) FAIL_CHECK(f.error);
    if (!f.id.empty()) ids.insert(f.id);
    if (!rootfs_gone(f.rootfs)) rootfs_left.push_back(f.id + ": " + f.rootfs);
    cgroup_dirs.insert(cgroup_dirs.end(), f.cgroup_dirs.begin(), f.cgroup_dirs.end());
  }
  CHECK(ids.size() == kContainers + 1);
  CHECK(client.list().empty());
  for (auto& pod : pods) {
    REQUIRE(client.remove_pod(pod->id).ok());
    pod->id.clear();
  }

  // No mount under the daemon's root and runroot (its whole directory), and no
  // container layer.
  CHECK(mounts_under(dir) == std::vector<std::string>{});
  CHECK(rootfs_left == std::vector<std::string>{});
  // No cgroup: neither those the containers were seen in nor any other naming them.
  std::vector<std::string> cgroups_left;
  for (const auto& d : cgroup_dirs) {
    if (stdfs::exists(d)) cgroups_left.push_back(d);
  }
  CHECK(cgroups_left == std::vector<std::string>{});
  CHECK(cgroups_naming(ids) == std::vector<std::string>{});
  // No conmon (nor runtime) process naming the test's directory, the daemon aside.
  CHECK(crio::test::eventually([&] { return processes_mentioning(dir, daemon_pid).empty(); }));
  CHECK(processes_mentioning(dir, daemon_pid) == std::vector<std::string>{});
  // No exit file, state file, bundle, runtime state, container layer or attach socket
  // link: nothing under the daemon's directory is named after a container.
  CHECK(paths_naming(dir + "/run/exits", ids) == std::vector<std::string>{});
  CHECK(paths_naming(dir + "/run", ids) == std::vector<std::string>{});
  CHECK(paths_naming(dir + "/storage", ids) == std::vector<std::string>{});
  CHECK(paths_naming(dir + "/" + handler + "-root", ids) == std::vector<std::string>{});
  CHECK(paths_naming(dir, ids) == std::vector<std::string>{});
  CHECK(log_entries(log_of(client.dir + "/logs/leak3-" + handler + "/c3/0.log"), "stdout") ==
        std::vector<std::string>{"F bye"});
}

TEMPLATE_TEST_CASE(
    "Devices from the request, additional_devices and the allowed Devices annotation reach the container",
    "[daemon][container][devices]", Runc, Crun) {
  const std::string handler = TestType::kHandler;
  Env env(
      "[crio.runtime]\n"
      "additional_devices = [\"/dev/null:/dev/qifoo:rwm\", \"/dev/kmsg:/dev/wonly:w\"]\n"
      "allowed_devices = [\"/dev/zero\"]\n"
      "[crio.runtime.runtimes." +
      handler +
      "]\n"
      "allowed_annotations = [\"io.kubernetes.cri-o.Devices\"]\n");
  Client client(*env.daemon);
  auto request = client.pod_request("devices-" + handler, handler);
  (*request.mutable_config()->mutable_annotations())["io.kubernetes.cri-o.Devices"] = "/dev/zero:/dev/peterfoo:rw";
  PodGuard pod{client, client.run_pod(request)};

  auto config = Client::config("dev", env.image, {"/bin/busybox", "sleep", "1000"});
  // Root, as the host's /dev/kmsg is root's to write (0644).
  config.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(0);
  auto* device = config.add_devices();
  device->set_host_path("/dev/null");
  device->set_container_path("/dev/mynull");
  device->set_permissions("rwm");
  std::string id = client.create_ok(pod.id, config);
  REQUIRE(client.start(id).ok());
  CHECK(client.exec_ok(id, {"/bin/busybox", "ls", "/dev/qifoo", "/dev/mynull", "/dev/peterfoo"}).exit_code() == 0);
  CHECK(client.exec_ok(id, {"/bin/sh", "-c", "/bin/busybox head -c 4 /dev/peterfoo | /bin/busybox wc -c"}).stdout() ==
        "4\n");
  // w only (on a device outside the default allow-list): the cgroup lets the write
  // through and refuses the read.
  auto write = client.exec_ok(id, {"/bin/sh", "-c", "echo crio-devices-test > /dev/wonly"});
  INFO(write.stderr());
  CHECK(write.exit_code() == 0);
  auto read = client.exec_ok(id, {"/bin/busybox", "cat", "/dev/wonly"});
  CHECK(read.exit_code() != 0);
  CHECK_THAT(read.stderr(), Catch::Contains("Operation not permitted"));

  auto missing = Client::config("missing", env.image, {"/bin/busybox", "sleep", "1000"});
  auto* gone = missing.add_devices();
  gone->set_host_path("/dev/crio-test-no-such-device");
  gone->set_container_path("/dev/gone");
  grpc::Status refused = client.create(pod.id, missing);
  CHECK(refused.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(refused.error_message(), Catch::Contains("/dev/crio-test-no-such-device"));
}

TEMPLATE_TEST_CASE("no_pivot reaches the runtime and read_only gives a read-only rootfs with tmpfs scratch space",
                   "[daemon][container]", Runc, Crun) {
  const std::string handler = TestType::kHandler;
  Env env("[crio.runtime]\nno_pivot = true\nread_only = true\n");
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("ro-" + handler, handler)};
  auto config = Client::config("ro", env.image, {"/bin/busybox", "sleep", "1000"});
  config.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(0);
  std::string id = client.create_ok(pod.id, config);
  REQUIRE(client.start(id).ok());

  bool conmon_no_pivot = false;
  for (const auto& p : processes_mentioning(id)) {
    if (p.find("conmon") != std::string::npos && p.find(" --no-pivot") != std::string::npos) conmon_no_pivot = true;
  }
  CHECK(conmon_no_pivot);

  CHECK(client.exec_ok(id, {"/bin/busybox", "touch", "/rootfs-file"}).exit_code() != 0);
  for (const char* dir : {"/run", "/tmp", "/var/tmp"}) {
    INFO(dir);
    CHECK(client.exec_ok(id, {"/bin/busybox", "touch", std::string(dir) + "/scratch"}).exit_code() == 0);
  }
  CHECK_THAT(client.exec_ok(id, {"/bin/busybox", "cat", "/proc/mounts"}).stdout(),
             Catch::Contains(" /tmp tmpfs ") && Catch::Contains(" /var/tmp tmpfs "));
}

TEMPLATE_TEST_CASE("A uid and gid the image lacks get entries in the container's /etc/passwd and /etc/group",
                   "[daemon][container][security]", Runc, Crun) {
  const std::string handler = TestType::kHandler;
  Env env;
  Client client(*env.daemon);
  env.registry.push_test_images("/nonexistent", "users");
  const std::string image = env.registry.host() + "/test/users:v1";
  env.pull(image);
  PodGuard pod{client, client.run_pod("ids-" + handler, handler)};
  auto config = Client::config("stranger", image, {"/bin/busybox", "sleep", "1000"});
  auto* sc = config.mutable_linux()->mutable_security_context();
  sc->mutable_run_as_user()->set_value(4321);
  sc->mutable_run_as_group()->set_value(4322);
  sc->add_supplemental_groups(4323);
  std::string id = client.create_ok(pod.id, config);
  REQUIRE(client.start(id).ok());

  CHECK_THAT(client.exec_ok(id, {"/bin/busybox", "cat", "/etc/group"}).stdout(), Catch::Contains("\n4322:x:4322:\n"));
  CHECK_THAT(client.exec_ok(id, {"/bin/busybox", "cat", "/etc/passwd"}).stdout(),
             Catch::Contains("\n4321:x:4321:0:4321 user:/:/sbin/nologin\n"));
  // Tools that look the ids up find them.
  CHECK(client.exec_ok(id, {"/bin/busybox", "whoami"}).stdout() == "4321\n");
  CHECK(client.exec_ok(id, {"/bin/busybox", "id", "-gn"}).stdout() == "4322\n");
  // The primary gid is among the process's groups, as CRI-O sets them.
  const int pid = pid_of(client, id);
  REQUIRE(pid > 0);
  auto status = status_fields(crio::test::read_file("/proc/" + std::to_string(pid) + "/status"));
  CHECK_THAT(status["Gid"], Catch::StartsWith("4322\t4322"));
  CHECK_THAT(status["Groups"], Catch::Contains("4322") && Catch::Contains("4323"));

  // A known user keeps the image's files: no bind mount over them.
  auto known = Client::config("known", image, {"/bin/busybox", "sleep", "1000"});
  known.mutable_linux()->mutable_security_context()->set_run_as_username("nobody");
  std::string known_id = client.create_ok(pod.id, known);
  REQUIRE(client.start(known_id).ok());
  CHECK_THAT(client.exec_ok(known_id, {"/bin/busybox", "grep", "/etc/passwd", "/proc/mounts"}).stdout(),
             !Catch::Contains("/etc/passwd"));
}

TEMPLATE_TEST_CASE("A container in the node's PID namespace leaves no children behind when its init dies",
                   "[daemon][container]", Runc, Crun) {
  const std::string handler = TestType::kHandler;
  Env env;
  Client client(*env.daemon);
  auto request = client.pod_request("node-pid-" + handler, handler);
  request.mutable_config()->mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::NODE);
  PodGuard pod{client, client.run_pod(request)};
  auto config = Client::config("parent", env.image,
                               {"/bin/busybox", "sh", "-c", "/bin/busybox sleep 1001 & exec /bin/busybox sleep 1002"});
  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::NODE);
  std::string id = client.create_ok(pod.id, config);
  REQUIRE(client.start(id).ok());
  const int pid = pid_of(client, id);
  REQUIRE(pid > 0);
  // The backgrounded sleep: the init's child, in the host's PID namespace.
  std::string children;
  REQUIRE(crio::test::eventually([&] {
    children = crio::test::read_file(fmt::format("/proc/{}/task/{}/children", pid, pid));
    return !children.empty();
  }));
  const int child = std::stoi(children);
  REQUIRE(::kill(pid, SIGKILL) == 0);
  auto exited = client.wait_state(id, v1::CONTAINER_EXITED);
  CHECK(exited.exit_code() == 137);
  // Gone, or a zombie waiting for its new parent.
  auto alive = [&] {
    std::ifstream in(fmt::format("/proc/{}/stat", child));
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto paren = stat.rfind(')');
    return paren != std::string::npos && stat.size() > paren + 2 && stat[paren + 2] != 'Z';
  };
  CHECK(crio::test::eventually([&] { return !alive(); }));
}
