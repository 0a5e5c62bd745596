// crio.conf options set to values other than their defaults, each observed where it
// takes effect: in the container, in its cgroup, in what conmon and the runtime leave
// on the host. Several options share one daemon start to keep the suite fast.

#include "container_fixture.hpp"

#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

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
  grpc::ClientContext context;
  crio::test::set_deadline(context);
  v1::PodSandboxStatusRequest request;
  request.set_pod_sandbox_id(pod.id);
  request.set_verbose(true);
  v1::PodSandboxStatusResponse response;
  REQUIRE(client.stub->PodSandboxStatus(&context, request, &response).ok());
  auto info = nlohmann::json::parse(response.info().at("info"));
  CHECK(info["image"] == env.pause_image());
  const int pid = info["pid"].get<int>();
  REQUIRE(pid > 0);
  CHECK(::kill(pid, 0) == 0);
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
