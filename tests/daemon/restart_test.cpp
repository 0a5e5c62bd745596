// Restart semantics, as CRI-O's: the version file in the run directory (gone after a
// reboot) and the persistent one (another release made the images), internal_wipe and
// `crio wipe`, internal_repair and `crio check` against a real daemon's storage.

#include "container_fixture.hpp"

#include <crio/core/fs.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>

namespace stdfs = std::filesystem;
using namespace crio::test::containers;
using crio::test::Daemon;
using crio::test::set_deadline;

namespace {

bool has_image(const Daemon& daemon, const std::string& ref) {
  auto stub = daemon.image_stub();
  grpc::ClientContext context;
  set_deadline(context);
  v1::ImageStatusRequest request;
  request.mutable_image()->set_image(ref);
  v1::ImageStatusResponse response;
  REQUIRE(stub->ImageStatus(&context, request, &response).ok());
  return response.has_image();
}

bool tree_mentions(const std::string& dir, const std::string& needle) {
  std::error_code ec;
  for (auto it = stdfs::recursive_directory_iterator(dir, ec); !ec && it != stdfs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->path().string().find(needle) != std::string::npos) return true;
  }
  return false;
}

bool mounts_mention(const std::string& needle) {
  return crio::test::read_file("/proc/self/mountinfo").find(needle) != std::string::npos;
}

// A pod with its own network and PID namespace (so an infra container), and one
// running container in it.
struct Workload {
  std::string pod, container;
};
Workload run_workload(Client& client, const Env& env, const std::string& name) {
  Workload w;
  w.pod = client.run_pod(name, "runc", false, true);
  w.container = client.create_ok(w.pod, Client::config("sleeper", env.image, {"/bin/busybox", "sleep", "600"}));
  REQUIRE(client.start(w.container).ok());
  return w;
}

crio::test::CommandResult crio_cli(const Daemon& daemon, const std::vector<std::string>& args) {
  auto argv = daemon.argv();
  argv.insert(argv.end(), args.begin(), args.end());
  return crio::test::run_command(argv, daemon.env());
}

std::string persist_drop_in(const std::string& dir) {
  return "[crio]\nversion_file_persist = \"" + dir + "/lib/version\"\n";
}

}  // namespace

TEST_CASE("internal_wipe: after a reboot the start removes pods and containers, after an upgrade their images",
          "[daemon][wipe]") {
  Env env(persist_drop_in);
  TestNetwork network(*env.daemon);
  Client client(*env.daemon);
  const std::string d = client.dir;
  Workload w = run_workload(client, env, "rebooted");
  CHECK(tree_mentions(d + "/run/ns", w.pod));
  // The container's root file system, the pod's shm and its pinned namespaces.
  CHECK(mounts_mention(d + "/"));
  CHECK_FALSE(cgroups_naming({w.container}).empty());
  // Version files record this release, as CRI-O writes them (a JSON string).
  CHECK(crio::test::read_file(d + "/run/version").front() == '"');
  CHECK(stdfs::exists(d + "/lib/clean.shutdown.supported"));

  env.daemon->stop(SIGTERM);
  // A daemon restart alone keeps everything.
  env.daemon->start();
  CHECK(client.pod_count() == 1);
  CHECK(client.list().size() == 1);

  env.daemon->stop(SIGTERM);
  bool upgrade = false;
  SECTION("reboot") { stdfs::remove(d + "/run/version"); }
  SECTION("upgrade") {
    upgrade = true;
    crio::test::write_file(d + "/lib/version", "\"0.0.1\"");
  }
  env.daemon->start();
  CHECK_THAT(env.daemon->log(), Catch::Contains("wiping the containers left from before"));
  CHECK(client.pod_count() == 0);
  CHECK(client.list().empty());
  CHECK_FALSE(tree_mentions(d + "/run/ns", w.pod));
  CHECK_FALSE(mounts_mention(d + "/"));
  CHECK(cgroups_naming({w.container, w.pod}).empty());
  CHECK(has_image(*env.daemon, env.image) == !upgrade);
  CHECK(has_image(*env.daemon, env.pause_image()) == !upgrade);
  // The files now say this release again: the next start keeps what is made now.
  CHECK(stdfs::exists(d + "/run/version"));
}

// `crio wipe` removes containers after a reboot, their images too after an upgrade,
// nothing otherwise.
TEST_CASE("internal_wipe = false leaves the wipe to crio wipe", "[daemon][wipe]") {
  Env env([](const std::string& dir) { return persist_drop_in(dir) + "internal_wipe = false\n"; });
  TestNetwork network(*env.daemon);
  Client client(*env.daemon);
  const std::string d = client.dir;
  Workload w = run_workload(client, env, "kept");
  REQUIRE(client.stop_pod(w.pod).ok());
  env.daemon->stop(SIGTERM);

  // The persistent file alone: containers stay (CRI-O never wipes images without them).
  stdfs::remove(d + "/lib/version");
  auto wiped = crio_cli(*env.daemon, {"wipe"});
  INFO(wiped.err);
  CHECK(wiped.exit_code == 0);
  stdfs::remove(d + "/run/version");
  env.daemon->start();
  CHECK(client.pod_count() == 1);  // internal_wipe = false: the start leaves them
  env.daemon->stop(SIGTERM);

  stdfs::remove(d + "/run/version");
  stdfs::remove(d + "/lib/version");
  wiped = crio_cli(*env.daemon, {"wipe"});
  INFO(wiped.err);
  CHECK(wiped.exit_code == 0);
  env.daemon->start();
  CHECK(client.pod_count() == 0);
  CHECK(client.list().empty());
  CHECK_FALSE(has_image(*env.daemon, env.image));
  CHECK(crio_cli(*env.daemon, {"wipe", "--bogus"}).exit_code == 2);
}

TEST_CASE("crio wipe after an unclean shutdown and a reboot removes the whole storage", "[daemon][wipe]") {
  Env env(persist_drop_in);
  TestNetwork network(*env.daemon);
  Client client(*env.daemon);
  const std::string d = client.dir;
  Workload w = run_workload(client, env, "crashed");
  REQUIRE(client.stop_pod(w.pod).ok());
  env.daemon->stop(SIGKILL);
  stdfs::remove(d + "/run/version");
  auto wiped = crio_cli(*env.daemon, {"wipe"});
  INFO(wiped.err);
  CHECK(wiped.exit_code == 0);
  CHECK(stdfs::is_empty(d + "/storage"));
  CHECK_FALSE(mounts_mention(d + "/storage"));
}

// `crio check` reports a damaged image's layer (exit 1); --repair, and internal_repair
// after a crash, remove it and keep the intact images.
TEST_CASE("crio check and internal_repair remove a damaged image and keep intact ones", "[daemon][check]") {
  Env env(persist_drop_in);
  TestNetwork network(*env.daemon);
  Client client(*env.daemon);
  const std::string d = client.dir;
  // test/pause:v1 pulled too; only test/multi:v1 gets damaged.
  env.pull(env.pause_image());
  env.daemon->stop(SIGTERM);

  auto clean = crio_cli(*env.daemon, {"check"});
  INFO(clean.out << clean.err);
  CHECK(clean.exit_code == 0);

  // The top layer of test/multi:v1 loses a file's bytes: truncate its largest file.
  auto images = nlohmann::json::parse(crio::test::read_file(d + "/storage/overlay-images/images.json"));
  std::string top;
  for (const auto& img : images) {
    for (const auto& n : img["names"]) {
      if (n.get<std::string>() == env.image) top = img["layer"].get<std::string>();
    }
  }
  REQUIRE_FALSE(top.empty());
  const std::string diff = d + "/storage/overlay/" + top.substr(7) + "/diff";
  std::string victim;
  uintmax_t largest = 0;
  for (auto it = stdfs::recursive_directory_iterator(diff); it != stdfs::recursive_directory_iterator(); ++it) {
    if (it->is_regular_file() && !it->is_symlink() && it->file_size() > largest) {
      largest = it->file_size();
      victim = it->path();
    }
  }
  REQUIRE_FALSE(victim.empty());
  REQUIRE(::truncate(victim.c_str(), 1) == 0);

  auto found = crio_cli(*env.daemon, {"check"});
  CHECK(found.exit_code == 1);
  CHECK_THAT(found.out, Catch::Contains("layer: " + top));
  CHECK_THAT(found.err, Catch::Contains("1 image errors"));

  SECTION("crio check --repair") {
    auto repaired = crio_cli(*env.daemon, {"check", "--repair"});
    INFO(repaired.out << repaired.err);
    CHECK(repaired.exit_code == 0);
    CHECK(crio_cli(*env.daemon, {"check"}).exit_code == 0);
  }
  SECTION("internal_repair after a crash") {
    env.daemon->add_env("CONTAINER_INTERNAL_REPAIR=true");
    env.daemon->start();
    env.daemon->stop(SIGKILL);  // no clean-shutdown marker
    env.daemon->start();
    CHECK_THAT(env.daemon->log(), Catch::Contains("checking the storage after an unclean shutdown"));
    env.daemon->stop(SIGTERM);
  }
  env.daemon->start();
  CHECK_FALSE(has_image(*env.daemon, env.image));
  CHECK(has_image(*env.daemon, env.pause_image()));
  // The intact image still runs a pod.
  std::string pod = client.run_pod("after-repair", "runc", false, true);
  CHECK(client.remove_pod(pod).ok());
}

// What a reboot without the version-file wipe leaves behind: the runtime forgot the
// infra container, and the container's bundle lost its config.json.
TEST_CASE("restore drops a container whose bundle is gone and a pod without its infra container is not ready",
          "[daemon][restore]") {
  Env env;
  TestNetwork network(*env.daemon);
  Client client(*env.daemon);
  const std::string d = client.dir;
  Workload w = run_workload(client, env, "bad-state");
  env.daemon->stop(SIGTERM);

  // What a reboot without the version-file wipe leaves: the runtime forgot the infra
  // container, and the container's bundle lost its config.json.
  std::string infra;
  for (const auto& id : lines_of(crio::test::run_command({"/usr/sbin/runc", "--root", d + "/runc-root", "list", "-q"}).out)) {
    if (!id.empty() && id != w.container) infra = id;
  }
  REQUIRE_FALSE(infra.empty());
  crio::test::run_command({"/usr/sbin/runc", "--root", d + "/runc-root", "delete", "--force", infra});
  const std::string bundle = d + "/run/storage/crio/containers/" + w.container;
  REQUIRE(stdfs::exists(bundle + "/config.json"));
  stdfs::remove(bundle + "/config.json");

  env.daemon->start();
  CHECK(client.list().empty());
  CHECK(client.pod_status(w.pod).status().state() == v1::SANDBOX_NOTREADY);
  CHECK(client.remove_pod(w.pod).ok());
  CHECK(client.pod_count() == 0);
  CHECK_FALSE(stdfs::exists(bundle));
}
