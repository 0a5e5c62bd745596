// Daemon behaviours CRI-O's own suite checks, through a real daemon, registry and
// runtimes: workloads and conmon's cgroup and environment, verbose status, exec into a
// created container, concurrent stops and the kill retry loop, PID namespaces across
// pods, linked pod logs and KUBENSMNT. Needs root, conmon, runc, crun,
// docker-registry, python3 and busybox-static.

#include "container_fixture.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <thread>

using crio::test::Daemon;
using crio::test::set_deadline;
namespace v1 = runtime::v1;
namespace stdfs = std::filesystem;
using crio::test::containers::Client;
using crio::test::containers::Crun;
using crio::test::containers::Env;
using crio::test::containers::PodGuard;
using crio::test::containers::Runc;

namespace {

std::string random_suffix() {
  static std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:08x}", static_cast<uint32_t>(rng()));
}

std::string trimmed(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

nlohmann::json spec_of(Client& client, const std::string& id) {
  return nlohmann::json::parse(client.info(id))["runtimeSpec"];
}

// Every v1 hierarchy's copy of a cgroupfs path, deepest first, for clean-up.
void remove_cgroup_tree(const std::string& path) {
  for (const auto& h : {"cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "devices", "freezer", "hugetlb",
                        "perf_event", "net_cls", "net_prio", "systemd", "rdma", "misc"}) {
    std::error_code ec;
    std::string dir = std::string("/sys/fs/cgroup/") + h + path;
    if (!stdfs::exists(dir, ec)) continue;
    std::vector<std::string> dirs;
    for (auto it = stdfs::recursive_directory_iterator(dir, ec); !ec && it != stdfs::recursive_directory_iterator();
         it.increment(ec)) {
      if (it->is_directory(ec)) dirs.push_back(it->path().string());
    }
    std::sort(dirs.rbegin(), dirs.rend());
    for (const auto& d : dirs) ::rmdir(d.c_str());
    ::rmdir(dir.c_str());
  }
}

std::vector<std::string> environ_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::vector<std::string> out;
  std::string entry;
  while (std::getline(in, entry, '\0')) out.push_back(entry);
  return out;
}

}  // namespace

TEMPLATE_TEST_CASE("A workload sets its containers' CPU settings and conmon gets its own cgroup under the pod's",
                   "[daemon][container][workload]", Runc, Crun) {
  const std::string handler = TestType::kHandler;
  Env env(
      "[crio.runtime]\n"
      "infra_ctr_cpuset = \"0\"\n"
      "conmon_env = [\"PATH=/usr/bin:/bin\", \"CRIO_TEST_MARK=conmon-env\"]\n"
      "[crio.runtime.workloads.mgmt]\n"
      "activation_annotation = \"example.com/mgmt\"\n"
      "annotation_prefix = \"example.com.mgmt\"\n"
      "[crio.runtime.workloads.mgmt.resources]\n"
      "cpushares = 200\n"
      "cpuset = \"1\"\n");
  Client client(*env.daemon);
  const std::string parent = "/crio-test-" + random_suffix();
  struct CgroupCleanup {
    std::string path;
    ~CgroupCleanup() { remove_cgroup_tree(path); }
  } cleanup{parent};

  auto pod_request = client.pod_request("wl-" + handler, handler);
  auto* pod_config = pod_request.mutable_config();
  pod_config->mutable_linux()->set_cgroup_parent(parent);
  (*pod_config->mutable_annotations())["example.com/mgmt"] = "";
  (*pod_config->mutable_annotations())["example.com.mgmt/worker"] = R"({"cpuset": "0-1"})";
  PodGuard pod{client, client.run_pod(pod_request)};

  // worker: the pod's override for it on top of the defaults; its own annotations
  // activate the workload for its conmon too, with the override keyed "POD".
  auto worker_config = Client::config("worker", env.image, {"/bin/busybox", "sleep", "600"});
  (*worker_config.mutable_annotations())["example.com/mgmt"] = "";
  (*worker_config.mutable_annotations())["example.com.mgmt/POD"] = R"({"cpushares": 300})";
  std::string worker = client.create_ok(pod.id, worker_config);
  auto worker_cpu = spec_of(client, worker)["linux"]["resources"]["cpu"];
  CHECK(worker_cpu["shares"] == 200);
  CHECK(worker_cpu["cpus"] == "0-1");
  const std::string worker_conmon = parent + "/crio-conmon-" + worker;
  CHECK(trimmed("/sys/fs/cgroup/cpu" + worker_conmon + "/cpu.shares") == "300");
  CHECK(trimmed("/sys/fs/cgroup/cpuset" + worker_conmon + "/cpuset.cpus") == "1");

  // conmon's environment is conmon_env, not the daemon's.
  pid_t conmon = std::stoi(trimmed("/sys/fs/cgroup/cpu" + worker_conmon + "/cgroup.procs"));
  auto environ = environ_of(conmon);
  CHECK(std::find(environ.begin(), environ.end(), "CRIO_TEST_MARK=conmon-env") != environ.end());
  for (const auto& e : environ) {
    INFO(e);
    CHECK((e.starts_with("PATH=") || e.starts_with("CRIO_TEST_MARK=") || e.starts_with("_OCI_") ||
           e.starts_with("XDG_RUNTIME_DIR=")));
  }

  // plain: no annotations of its own, so the pod's workload defaults for its spec and
  // infra_ctr_cpuset for its conmon.
  std::string plain = client.create_ok(pod.id, Client::config("plain", env.image, {"/bin/busybox", "sleep", "600"}));
  auto plain_cpu = spec_of(client, plain)["linux"]["resources"]["cpu"];
  CHECK(plain_cpu["shares"] == 200);
  CHECK(plain_cpu["cpus"] == "1");
  const std::string plain_conmon = parent + "/crio-conmon-" + plain;
  CHECK(trimmed("/sys/fs/cgroup/cpuset" + plain_conmon + "/cpuset.cpus") == "0");
  CHECK(trimmed("/sys/fs/cgroup/cpu" + plain_conmon + "/cpu.shares") == trimmed("/sys/fs/cgroup/cpu" + parent + "/cpu.shares"));
  REQUIRE(client.start(plain).ok());
  CHECK(client.exec_ok(plain, {"/bin/busybox", "true"}).exit_code() == 0);

  // An override that is not JSON: refused with the annotation named, nothing left.
  auto bad_config = Client::config("bad", env.image, {"/bin/busybox", "sleep", "600"});
  (*bad_config.mutable_annotations())["example.com/mgmt"] = "";
  (*bad_config.mutable_annotations())["example.com.mgmt/POD"] = "invalid & unparsable";
  std::string bad_id;
  grpc::Status bad = client.create(pod.id, bad_config, &bad_id);
  CHECK(bad.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(bad.error_message(), Catch::Contains("example.com.mgmt/POD"));
  CHECK(client.list().size() == 2);

  // Removing a container removes conmon's cgroup.
  REQUIRE(client.remove(worker).ok());
  REQUIRE(client.remove(plain).ok());
  CHECK_FALSE(stdfs::exists("/sys/fs/cgroup/cpu" + worker_conmon));
  CHECK_FALSE(stdfs::exists("/sys/fs/cgroup/cpuset" + plain_conmon));
}

TEMPLATE_TEST_CASE("Exec and ExecSync reach a created container, and ExecSync gets a terminal in a tty container",
                   "[daemon][container][exec]", Runc, Crun) {
  const std::string handler = TestType::kHandler;
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("exec-" + handler, handler)};

  std::string created = client.create_ok(pod.id, Client::config("created", env.image, {"/bin/busybox", "sleep", "600"}));
  auto out = client.exec_ok(created, {"/bin/busybox", "echo", "in-created"});
  CHECK(out.exit_code() == 0);
  CHECK(out.stdout() == "in-created\n");
  CHECK(client.status(created).status().state() == v1::CONTAINER_CREATED);

  auto tty_config = Client::config("tty", env.image, {"/bin/busybox", "sleep", "600"});
  tty_config.set_tty(true);
  std::string tty = client.create_ok(pod.id, tty_config);
  REQUIRE(client.start(tty).ok());
  auto on_tty = client.exec_ok(tty, {"/bin/sh", "-c", "[ -t 1 ] && echo has-tty"});
  CHECK(on_tty.exit_code() == 0);
  CHECK_THAT(on_tty.stdout(), Catch::Contains("has-tty"));

  // Environment names with '=' and a HOME with a line break are refused, as CRI-O does.
  auto bad_home = Client::config("badhome", env.image, {"/bin/busybox", "true"});
  auto* home = bad_home.add_envs();
  home->set_key("HOME");
  home->set_value("/root:/sbin/nologin\ntest::0:0::/:/bin/bash");
  grpc::Status refused = client.create(pod.id, bad_home);
  CHECK(refused.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(refused.error_message(), Catch::Contains("HOME"));
  bad_home.mutable_envs(0)->set_key("HOME=");
  bad_home.mutable_envs(0)->set_value("/root");
  refused = client.create(pod.id, bad_home);
  CHECK(refused.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(refused.error_message(), Catch::Contains("\"HOME=\""));

  // An exited container refuses, naming itself.
  REQUIRE(client.stop(tty, 0).ok());
  v1::ExecSyncResponse response;
  grpc::Status s = client.exec(tty, {"/bin/busybox", "true"}, 10, &response);
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK_THAT(s.error_message(), Catch::Contains(tty));
}

TEST_CASE("A second StopContainer brings the kill forward instead of waiting behind the first",
          "[daemon][container][stop]") {
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("stops", "runc")};
  // PID 1 without a handler: SIGTERM does nothing.
  std::string id = client.create_ok(pod.id, Client::config("stubborn", env.image, {"/bin/busybox", "sleep", "600"}));
  REQUIRE(client.start(id).ok());

  auto first = std::async(std::launch::async, [&] {
    Client other(*env.daemon);
    return other.stop(id, 3600).error_code();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(client.stop(id, 0).ok());
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  REQUIRE(first.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(first.get() == grpc::StatusCode::OK);
  auto status = client.status(id).status();
  CHECK(status.state() == v1::CONTAINER_EXITED);
  CHECK(status.exit_code() == 137);
}

TEST_CASE("A kill the runtime accepts but does not deliver is retried with back-off until the container is gone",
          "[daemon][container][stop]") {
  // A runtime that pretends to kill the first four times it is asked.
  Env env([](const std::string& dir) {
    const std::string fake = dir + "/fake-runtime";
    crio::test::write_file(fake, fmt::format("#!/bin/sh\n"
                                             "case \" $* \" in *\" kill \"*)\n"
                                             "  n=$(cat {0}/kills 2>/dev/null | wc -l); echo x >> {0}/kills\n"
                                             "  [ \"$n\" -lt 4 ] && exit 0 ;;\n"
                                             "esac\n"
                                             "exec /usr/sbin/runc \"$@\"\n",
                                             dir));
    ::chmod(fake.c_str(), 0755);
    return fmt::format("[crio.runtime.runtimes.fake]\nruntime_path = \"{0}\"\nruntime_root = \"{1}/fake-root\"\n",
                       fake, dir);
  });
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("killretry", "fake")};
  std::string id = client.create_ok(pod.id, Client::config("stubborn", env.image, {"/bin/busybox", "sleep", "600"}));
  REQUIRE(client.start(id).ok());
  REQUIRE(client.stop(id, 0).ok());
  CHECK(client.status(id).status().state() == v1::CONTAINER_EXITED);
  const std::string kills = crio::test::read_file(client.dir + "/kills");
  CHECK(std::count(kills.begin(), kills.end(), '\n') >= 5);
  CHECK_THAT(env.daemon->log(), Catch::Contains("Stopping container " + id + " with stop signal timed out"));
}

TEST_CASE("A container joins the PID namespace of a container in another pod, and a pod's verbose status shows its infra",
          "[daemon][container][pid]") {
  Env env;
  Client client(*env.daemon);
  PodGuard first{client, client.run_pod("pid-target", "runc", true, true)};
  std::string target = client.create_ok(first.id, Client::config("target", env.image, {"/bin/busybox", "sleep", "601"}));
  REQUIRE(client.start(target).ok());

  // The pod's verbose info, as CRI-O's: the pause image as configured, the infra's
  // pid and spec.
  {
    auto info = client.pod_info(first.id);
    CHECK(info["image"] == env.pause_image());
    CHECK(info["pid"].get<int>() > 0);
    CHECK(info["runtimeSpec"]["process"].is_object());
  }

  auto second_request = client.pod_request("pid-joiner", "runc");
  auto* ns = second_request.mutable_config()->mutable_linux()->mutable_security_context()->mutable_namespace_options();
  ns->set_pid(v1::TARGET);
  ns->set_target_id(target);
  PodGuard second{client, client.run_pod(second_request)};
  auto joiner_config = Client::config("joiner", env.image, {"/bin/busybox", "sleep", "602"});
  auto* cns = joiner_config.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  cns->set_pid(v1::TARGET);
  cns->set_target_id(target);
  std::string joiner = client.create_ok(second.id, joiner_config);
  REQUIRE(client.start(joiner).ok());
  auto ps = client.exec_ok(joiner, {"/bin/busybox", "ps"});
  CHECK_THAT(ps.stdout(), Catch::Contains("sleep 601"));

  // A target that does not exist is named in the error.
  cns->set_target_id(std::string(64, '0'));
  joiner_config.mutable_metadata()->set_name("orphan");
  grpc::Status missing = client.create(second.id, joiner_config);
  CHECK(missing.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK_THAT(missing.error_message(), Catch::Contains(std::string(64, '0')));
}

TEST_CASE("io.kubernetes.cri-o.LinkLogs mounts the pod's logs on its emptyDir volume with a link per container",
          "[daemon][container][logs]") {
  Env env("[crio.runtime.runtimes.runc]\nallowed_annotations = [\"io.kubernetes.cri-o.LinkLogs\"]\n");
  Client client(*env.daemon);
  const std::string uid = "crio-test-" + random_suffix();
  auto request = client.pod_request("linklogs", "runc");
  auto* config = request.mutable_config();
  config->mutable_metadata()->set_uid(uid);
  const std::string log_dir = fmt::format("/var/log/pods/test-ns_linklogs_{}", uid);
  const std::string volume = fmt::format("/var/lib/kubelet/pods/{}/volumes/kubernetes.io~empty-dir/logvol", uid);
  stdfs::create_directories(log_dir);
  stdfs::create_directories(volume);
  struct Cleanup {
    std::string log_dir, volume, uid;
    ~Cleanup() {
      ::umount2(volume.c_str(), MNT_DETACH);
      std::error_code ec;
      stdfs::remove_all(log_dir, ec);
      stdfs::remove_all("/var/lib/kubelet/pods/" + uid, ec);
    }
  } cleanup{log_dir, volume, uid};
  config->set_log_directory(log_dir);
  (*config->mutable_annotations())["io.kubernetes.cri-o.LinkLogs"] = "logvol";
  PodGuard pod{client, client.run_pod(request)};

  auto c = Client::config("talker", env.image, {"/bin/sh", "-c", "echo hello-linked; sleep 600"});
  std::string id = client.create_ok(pod.id, c);
  CHECK(stdfs::is_symlink(volume + "/" + id + ".log"));
  REQUIRE(client.start(id).ok());
  CHECK(crio::test::eventually(
      [&] {
        return stdfs::exists(volume + "/" + id + ".log") &&
               crio::test::read_file(volume + "/" + id + ".log").find("hello-linked") != std::string::npos;
      },
      std::chrono::seconds(10)));
  CHECK(stdfs::exists(volume + "/talker/0.log"));

  REQUIRE(client.stop_pod(pod.id).ok());
  CHECK_FALSE(stdfs::exists(volume + "/talker/0.log"));
  CHECK_FALSE(stdfs::exists(volume + "/" + id + ".log"));
}

TEST_CASE("KUBENSMNT names a mount namespace the daemon joins, and anything else leaves it where it was",
          "[daemon][kubensmnt]") {
  crio::test::TempDir dir("kubensmnt");
  const std::string pin_dir = dir / "pin";
  stdfs::create_directories(pin_dir);
  // A private mount to hold the namespace's bind mount, as pinns makes one.
  REQUIRE(::mount(pin_dir.c_str(), pin_dir.c_str(), nullptr, MS_BIND, nullptr) == 0);
  REQUIRE(::mount(nullptr, pin_dir.c_str(), nullptr, MS_PRIVATE, nullptr) == 0);
  struct Unmount {
    std::string path;
    ~Unmount() {
      ::umount2((path + "/mnt").c_str(), MNT_DETACH);
      ::umount2(path.c_str(), MNT_DETACH);
    }
  } unmount{pin_dir};
  crio::test::write_file(pin_dir + "/mnt", "");
  auto pinned = crio::test::run_command({"/usr/bin/unshare", "--mount=" + pin_dir + "/mnt", "/bin/true"});
  REQUIRE(pinned.exit_code == 0);
  auto ns_of = [](pid_t pid) { return stdfs::read_symlink("/proc/" + std::to_string(pid) + "/ns/mnt").string(); };
  const std::string own = ns_of(::getpid());

  {
    Daemon daemon("", false);
    daemon.add_env("KUBENSMNT=" + pin_dir + "/mnt");
    daemon.start();
    const std::string joined = ns_of(daemon.child().pid());
    CHECK(joined != own);
    auto expected = crio::test::run_command(
        {"/usr/bin/nsenter", "--mount=" + pin_dir + "/mnt", "/bin/readlink", "/proc/self/ns/mnt"});
    CHECK(expected.out == joined + "\n");
  }
  for (const std::string& bad : {pin_dir + "/missing", dir / "plain-file", std::string("/proc/self/ns/net")}) {
    if (bad.ends_with("plain-file")) crio::test::write_file(bad, "");
    Daemon daemon("", false);
    daemon.add_env("KUBENSMNT=" + bad);
    daemon.start();
    INFO(bad);
    CHECK(ns_of(daemon.child().pid()) == own);
    CHECK_THAT(daemon.log(), Catch::Contains("KUBENSMNT"));
  }
}

TEST_CASE("pause_image_auth_file holds the credentials for pulling the pause image", "[daemon][container][pause]") {
  crio::test::TestRegistry registry({.tls = true, .user = "pauser", .password = "pw"});
  registry.push_test_images("/nonexistent", "pause");
  Daemon daemon("", false);
  const std::string d = daemon.dir().path();
  const std::string auth_file = d + "/pause-auth.json";
  crio::test::write_file(daemon.dir() / "registries.conf",
                         "[[registry]]\nlocation = \"" + registry.host() + "\"\ninsecure = true\n");
  crio::test::write_file(daemon.dir() / "crio.conf.d/20-runtimes.conf",
                         "[crio.runtime.runtimes.runc]\nruntime_root = \"" + d + "/runc-root\"\n");
  crio::test::write_file(daemon.dir() / "crio.conf.d/25-pause.conf",
                         "[crio.image]\npause_image = \"" + registry.host() + "/test/pause:v1\"\n"
                         "pause_image_auth_file = \"" + auth_file + "\"\n");
  daemon.start();
  Client client(daemon);

  // No credentials yet: the registry refuses the pull, and the pod with it.
  grpc::ClientContext context;
  set_deadline(context, 60);
  v1::RunPodSandboxResponse response;
  grpc::Status refused = client.stub->RunPodSandbox(&context, client.pod_request("paused-1", "runc", true, true), &response);
  CHECK_FALSE(refused.ok());
  CHECK_THAT(refused.error_message(), Catch::Contains("pause"));

  crio::test::write_file(auth_file, "{\"auths\": {\"" + registry.host() + "\": {\"auth\": \"cGF1c2VyOnB3\"}}}");
  PodGuard pod{client, client.run_pod("paused-2", "runc", true, true)};
  CHECK_FALSE(pod.id.empty());
}

TEST_CASE("An allowed annotation crio does not act on refuses the pod or container that carries it",
          "[daemon][container][workload]") {
  // CRI-O's configuration for user namespaces by annotation: it loads, and a pod asking
  // for one is refused instead of running without it.
  Env env(
      "[crio.runtime.workloads.userns]\n"
      "activation_annotation = \"io.kubernetes.cri-o.userns-mode\"\n"
      "allowed_annotations = [\"io.kubernetes.cri-o.userns-mode\"]\n"
      "[crio.runtime.runtimes.runc]\n"
      "allowed_annotations = [\"io.kubernetes.cri-o.ShmSize\", \"cpu-quota.crio.io\"]\n");
  Client client(*env.daemon);
  CHECK_THAT(env.daemon->log(), Catch::Contains("\\\"io.kubernetes.cri-o.userns-mode\\\" is allowed, but crio does "
                                                "not act on it"));

  auto userns = client.pod_request("userns", "runc");
  (*userns.mutable_config()->mutable_annotations())["io.kubernetes.cri-o.userns-mode"] = "auto";
  grpc::ClientContext context;
  set_deadline(context, 60);
  v1::RunPodSandboxResponse response;
  grpc::Status refused = client.stub->RunPodSandbox(&context, userns, &response);
  CHECK(refused.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(refused.error_message(), Catch::Contains("pod sandbox userns: annotation io.kubernetes.cri-o.userns-mode"));

  // Where nothing allows it, the annotation is dropped, as CRI-O drops it.
  auto plain = client.pod_request("plain", "crun");
  (*plain.mutable_config()->mutable_annotations())["cpu-quota.crio.io"] = "disable";
  PodGuard plain_pod{client, client.run_pod(plain)};

  // A container of a handler that allows it is refused; the pod stays as it was.
  PodGuard pod{client, client.run_pod("quota", "runc")};
  auto config = Client::config("quota", env.image, {"/bin/busybox", "sleep", "60"});
  (*config.mutable_annotations())["cpu-quota.crio.io"] = "disable";
  std::string id;
  grpc::Status container = client.create(pod.id, config, &id);
  CHECK(container.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(container.error_message(), Catch::Contains("container quota: annotation cpu-quota.crio.io"));
  CHECK(client.list().empty());
}
