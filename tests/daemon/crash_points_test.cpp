// The crash-point matrix (docs/crash-points.md). For every step of the table in
// crio/core/fault.hpp, crio-fault armed through CRIO_FAULT_POINT dies by SIGKILL at that
// step of a real call. The restarted daemon must then leave the host as if the call had
// never been made, or (past the step that makes the object) with the whole object: no
// half image, no layer directory, mount, namespace pin, IP lease, runtime container,
// conmon or cgroup of its own. ListPodSandbox, ListContainers and ListImages must say
// what the state files and the store hold, and the same call made again must succeed.

#include "container_fixture.hpp"

#include <crio/core/fault.hpp>

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace stdfs = std::filesystem;
using namespace crio::test::containers;
using crio::test::Daemon;
using crio::test::set_deadline;

namespace {

// The armings of each call (CRIO_FAULT_POINT values): every name of the table must be
// in one of them ("Every crash point is in the matrix" below).
const std::vector<std::string> kPullArmings = {
    "pull.layer.download", "pull.layer.unpack",   "pull.layer.verify",  "pull.layer.install",
    "pull.layer.commit",   "pull.layer.commit:2", "pull.image.record",
};
const std::vector<std::string> kPodArmings = {"pod.netns", "pod.cni.add", "pod.state.write"};
const std::vector<std::string> kContainerArmings = {"container.rootfs", "container.bundle", "container.conmon",
                                                    "container.state.write"};
const std::vector<std::string> kRemoveContainerArmings = {"remove.container.runtime", "remove.container.layer"};
const std::vector<std::string> kRemovePodArmings = {"remove.pod.network", "remove.pod.stopped"};
const std::vector<std::string> kRemoveImageArmings = {"remove.image.record", "remove.image.layers"};

std::string point_of(const std::string& arming) { return arming.substr(0, arming.find(':')); }

// ---- What the daemon's calls leave on the host ----

std::set<std::string> names_in(const std::string& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : stdfs::directory_iterator(dir, ec)) out.insert(e.path().filename().string());
  return out;
}

std::set<std::string> json_ids(const std::string& file) {
  std::set<std::string> out;
  std::error_code ec;
  if (!stdfs::exists(file, ec)) return out;
  auto j = nlohmann::json::parse(crio::test::read_file(file), nullptr, false);
  if (!j.is_array()) return {"unreadable " + file};
  for (const auto& e : j) out.insert(e.value("id", "?"));
  return out;
}

// "netns/<id>", "<id>.json", "<id>.creating" → "<id>".
std::set<std::string> stems(const std::set<std::string>& names) {
  std::set<std::string> out;
  for (auto n : names) {
    if (auto slash = n.find('/'); slash != std::string::npos) n = n.substr(slash + 1);
    out.insert(n.substr(0, n.find('.')));
  }
  return out;
}

struct HostState {
  std::map<std::string, std::set<std::string>> parts;
};

// Each piece by name, so that a difference says what it is.
HostState snapshot(Daemon& daemon) {
  const std::string d = daemon.dir().path();
  HostState s;
  auto& p = s.parts;
  for (const auto& m : mounts_under(d)) p["mounts"].insert(m);
  for (const char* type : {"netns", "ipcns", "utsns"}) {
    for (const auto& n : names_in(d + "/run/ns/" + type)) p["namespace pins"].insert(std::string(type) + "/" + n);
  }
  // host-local keeps one file per leased address, named by the address.
  for (const auto& net : names_in(d + "/ipam")) {
    for (const auto& n : names_in(d + "/ipam/" + net)) {
      if (n != "lock" && n.rfind("last_reserved_ip", 0) != 0) p["IP leases"].insert(net + "/" + n);
    }
  }
  auto layer_dirs = names_in(d + "/storage/overlay");
  layer_dirs.erase("l");
  p["layer directories"] = layer_dirs;
  p["layers.json"] = json_ids(d + "/storage/overlay-layers/layers.json");
  p["images.json"] = json_ids(d + "/storage/overlay-images/images.json");
  p["containers.json"] = json_ids(d + "/storage/overlay-containers/containers.json");
  for (const auto& n : names_in(d + "/storage/overlay-images")) {
    if (n.find('.') == std::string::npos) p["image directories"].insert(n);
  }
  for (const char* staging : {"/storage/overlay-staging", "/storage/overlay-layers", "/storage/overlay-images",
                              "/storage/overlay-containers"}) {
    for (const auto& n : names_in(d + staging)) {
      if (std::string(staging).ends_with("staging") || n.find(".tmp-") != std::string::npos) {
        p["staging and temp files"].insert(staging + ("/" + n));
      }
    }
  }
  p["bundles"] = names_in(d + "/run/storage/crio/containers");
  p["pod run directories"] = names_in(d + "/run/storage/crio/pods");
  p["pod state files"] = names_in(d + "/storage/crio/pods");
  p["container state files"] = names_in(d + "/storage/crio/containers");
  for (const auto& id : lines_of(crio::test::run_command({"/usr/sbin/runc", "--root", d + "/runc-root", "list", "-q"}).out)) {
    if (!id.empty()) p["runtime containers"].insert(id);
  }
  const pid_t daemon_pid = daemon.child().running() ? daemon.child().pid() : 0;
  for (const auto& proc : processes_mentioning(d + "/", daemon_pid)) {
    if (proc.find("conmon") != std::string::npos) p["conmon processes"].insert(proc);
  }
  for (auto it = p.begin(); it != p.end();) it = it->second.empty() ? p.erase(it) : std::next(it);
  return s;
}

// "" when equal, otherwise what is extra and what is missing in `now`.
std::string difference(const HostState& before, const HostState& now) {
  std::string out;
  std::set<std::string> keys;
  for (const auto& [k, _] : before.parts) keys.insert(k);
  for (const auto& [k, _] : now.parts) keys.insert(k);
  for (const auto& k : keys) {
    auto b = before.parts.count(k) ? before.parts.at(k) : std::set<std::string>{};
    auto n = now.parts.count(k) ? now.parts.at(k) : std::set<std::string>{};
    for (const auto& x : n) {
      if (!b.count(x)) out += k + ": extra " + x + "\n";
    }
    for (const auto& x : b) {
      if (!n.count(x)) out += k + ": missing " + x + "\n";
    }
  }
  return out;
}

// The IDs of pods and containers that appeared between two snapshots (state files,
// creation records, bundles, pins, runtime containers), for the cgroup and CNI checks.
std::set<std::string> new_ids(const HostState& before, const HostState& now) {
  std::set<std::string> out;
  for (const char* part : {"pod state files", "container state files", "bundles", "pod run directories",
                           "runtime containers", "containers.json", "namespace pins"}) {
    auto b = before.parts.count(part) ? stems(before.parts.at(part)) : std::set<std::string>{};
    if (!now.parts.count(part)) continue;
    for (const auto& id : stems(now.parts.at(part))) {
      if (!b.count(id) && id.size() >= 12) out.insert(id);
    }
  }
  return out;
}

// ---- Calls ----

grpc::Status pull(const Daemon& daemon, const std::string& image) {
  auto stub = daemon.image_stub();
  grpc::ClientContext context;
  set_deadline(context, 60);
  v1::PullImageRequest request;
  request.mutable_image()->set_image(image);
  v1::PullImageResponse response;
  return stub->PullImage(&context, request, &response);
}

grpc::Status remove_image(const Daemon& daemon, const std::string& image) {
  auto stub = daemon.image_stub();
  grpc::ClientContext context;
  set_deadline(context, 60);
  v1::RemoveImageRequest request;
  request.mutable_image()->set_image(image);
  v1::RemoveImageResponse response;
  return stub->RemoveImage(&context, request, &response);
}

std::set<std::string> listed_images(const Daemon& daemon) {
  auto stub = daemon.image_stub();
  grpc::ClientContext context;
  set_deadline(context);
  v1::ListImagesResponse response;
  REQUIRE(stub->ListImages(&context, v1::ListImagesRequest{}, &response).ok());
  std::set<std::string> out;
  for (const auto& i : response.images()) out.insert(i.id().substr(i.id().find(':') + 1));
  return out;
}

std::map<std::string, v1::PodSandboxState> listed_pods(Client& client) {
  grpc::ClientContext context;
  set_deadline(context);
  v1::ListPodSandboxResponse response;
  REQUIRE(client.stub->ListPodSandbox(&context, v1::ListPodSandboxRequest{}, &response).ok());
  std::map<std::string, v1::PodSandboxState> out;
  for (const auto& p : response.items()) out[p.id()] = p.state();
  return out;
}

std::map<std::string, v1::ContainerState> listed_containers(Client& client) {
  std::map<std::string, v1::ContainerState> out;
  for (const auto& c : client.list()) out[c.id()] = c.state();
  return out;
}

grpc::Status run_pod(Client& client, const v1::RunPodSandboxRequest& request, std::string* id) {
  grpc::ClientContext context;
  set_deadline(context, 60);
  v1::RunPodSandboxResponse response;
  grpc::Status s = client.stub->RunPodSandbox(&context, request, &response);
  *id = response.pod_sandbox_id();
  return s;
}

// The lists tell the truth: exactly the objects whose state the daemon keeps, each
// with what its state says it has.
void check_lists(Daemon& daemon) {
  const HostState s = snapshot(daemon);
  auto part = [&](const char* name) { return s.parts.count(name) ? s.parts.at(name) : std::set<std::string>{}; };
  Client client(daemon);
  std::set<std::string> pod_files, container_files;
  for (const auto& f : part("pod state files")) {
    if (f.ends_with(".json")) pod_files.insert(f.substr(0, f.size() - 5));
  }
  for (const auto& f : part("container state files")) {
    if (f.ends_with(".json")) container_files.insert(f.substr(0, f.size() - 5));
  }
  std::set<std::string> pods, containers;
  for (const auto& [id, state] : listed_pods(client)) {
    pods.insert(id);
    const auto pod = client.pod_status(id);
    // A ready pod on a pod network has its namespace and its address.
    if (state == v1::SANDBOX_READY && !pod.status().network().ip().empty()) {
      CHECK(part("namespace pins").count("netns/" + id) == 1);
      bool leased = false;
      for (const auto& l : part("IP leases")) leased = leased || l.ends_with("/" + pod.status().network().ip());
      CHECK(leased);
    }
  }
  for (const auto& [id, state] : listed_containers(client)) {
    containers.insert(id);
    if (state == v1::CONTAINER_RUNNING || state == v1::CONTAINER_CREATED) CHECK(part("runtime containers").count(id) == 1);
    CHECK(part("containers.json").count(id) == 1);
  }
  CHECK(pods == pod_files);
  CHECK(containers == container_files);
  CHECK(listed_images(daemon) == part("images.json"));
}

// Restarts the daemon armed at `arming`, makes the call, and checks that the daemon died
// there by SIGKILL. The daemon is down afterwards.
void crash_at(Daemon& daemon, const std::string& arming, const std::function<grpc::Status()>& call) {
  daemon.stop(SIGTERM);
  REQUIRE(daemon.exit_code() == 0);
  daemon.add_env("CRIO_FAULT_POINT=" + arming);
  daemon.start();
  grpc::Status s = call();
  const int code = daemon.child().wait(std::chrono::seconds(20));
  daemon.remove_env("CRIO_FAULT_POINT");
  INFO("the call: " << s.error_message() << "\ndaemon log:\n" << daemon.log());
  CHECK_FALSE(s.ok());
  REQUIRE(code == 128 + SIGKILL);
  REQUIRE_THAT(daemon.log(), Catch::Contains("crash point " + point_of(arming) + " reached: SIGKILL"));
}

// An Env whose daemon is crio-fault (crio itself as long as no point is armed).
void use_crio_fault(Env& env) {
  env.daemon->stop(SIGTERM);
  env.daemon->use_binary("tests/daemon/crio-fault");
  env.daemon->start();
}

void check_gone(const std::set<std::string>& ids) {
  INFO("the IDs the crash left: " << Catch::Detail::stringify(ids));
  CHECK(cgroups_naming(ids).empty());
  CHECK(paths_naming("/var/lib/cni", ids).empty());
  for (const auto& id : ids) CHECK(processes_mentioning(id).empty());
}

}  // namespace

TEST_CASE("Every crash point is in the matrix", "[daemon][crash]") {
  std::set<std::string> tested;
  for (const auto* list : {&kPullArmings, &kPodArmings, &kContainerArmings, &kRemoveContainerArmings,
                           &kRemovePodArmings, &kRemoveImageArmings}) {
    for (const auto& a : *list) tested.insert(point_of(a));
  }
  std::set<std::string> table;
  for (const auto& p : crio::core::kFaultPoints) table.insert(std::string(p.name));
  CHECK(tested == table);
}

TEST_CASE("A crash at any step of PullImage leaves no trace of it and the pull can be repeated",
          "[daemon][crash][image]") {
  Env env;
  use_crio_fault(env);
  Daemon& daemon = *env.daemon;
  // The image out, so that every pull downloads all its layers.
  REQUIRE(remove_image(daemon, env.image).ok());
  const HostState base = snapshot(daemon);
  for (const auto& arming : kPullArmings) {
    INFO("crash point " << arming);
    crash_at(daemon, arming, [&] { return pull(daemon, env.image); });
    daemon.start();
    CHECK(difference(base, snapshot(daemon)) == "");
    check_lists(daemon);
    grpc::Status again = pull(daemon, env.image);
    INFO(again.error_message());
    REQUIRE(again.ok());
    CHECK(listed_images(daemon).size() == 1);
    check_lists(daemon);
    REQUIRE(remove_image(daemon, env.image).ok());
    CHECK(difference(base, snapshot(daemon)) == "");
  }
}

TEST_CASE("A crash at any step of RunPodSandbox is undone at the restart and the pod can be run again",
          "[daemon][crash][pod]") {
  Env env;
  TestNetwork network(*env.daemon);
  use_crio_fault(env);
  Daemon& daemon = *env.daemon;
  env.pull(env.pause_image());  // every pod mounts it: in the baseline, not a leftover
  const HostState base = snapshot(daemon);
  for (const auto& arming : kPodArmings) {
    INFO("crash point " << arming);
    const auto request = Client(daemon).pod_request("crash-" + point_of(arming), "runc", /*host_network=*/false);
    crash_at(daemon, arming, [&] {
      Client client(daemon);
      std::string id;
      return run_pod(client, request, &id);
    });
    const std::set<std::string> ids = new_ids(base, snapshot(daemon));
    daemon.start();
    check_lists(daemon);
    Client client(daemon);
    const bool made = arming == "pod.state.write";  // the state file is what makes the pod
    if (made) {
      CHECK(listed_pods(client).size() == 1);
    } else {
      CHECK(listed_pods(client).empty());
      CHECK(difference(base, snapshot(daemon)) == "");
      check_gone(ids);
    }
    std::string id;
    grpc::Status again = run_pod(client, request, &id);
    INFO(again.error_message());
    REQUIRE(again.ok());
    // The retry gets the pod the crash left when it was whole.
    if (made) CHECK(listed_pods(client).count(id) == 1);
    CHECK(client.pod_status(id).status().state() == v1::SANDBOX_READY);
    check_lists(daemon);
    REQUIRE(client.stop_pod(id).ok());
    REQUIRE(client.remove_pod(id).ok());
    CHECK(difference(base, snapshot(daemon)) == "");
    check_gone(ids);
  }
}

TEST_CASE("A crash at any step of CreateContainer is undone at the restart and the container can be created again",
          "[daemon][crash][container]") {
  Env env;
  use_crio_fault(env);
  Daemon& daemon = *env.daemon;
  Client setup(daemon);
  const std::string pod = setup.run_pod("crash-containers", "runc");
  const HostState base = snapshot(daemon);
  for (const auto& arming : kContainerArmings) {
    INFO("crash point " << arming);
    const auto config = Client::config("c-" + point_of(arming), env.image, {"/bin/busybox", "sleep", "600"});
    crash_at(daemon, arming, [&] { return Client(daemon).create(pod, config); });
    const std::set<std::string> ids = new_ids(base, snapshot(daemon));
    daemon.start();
    check_lists(daemon);
    Client client(daemon);
    const bool made = arming == "container.state.write";
    if (made) {
      CHECK(listed_containers(client).size() == 1);
    } else {
      CHECK(listed_containers(client).empty());
      CHECK(difference(base, snapshot(daemon)) == "");
      check_gone(ids);
    }
    const std::string id = client.create_ok(pod, config);
    if (made) CHECK(ids.count(id) == 1);
    REQUIRE(client.start(id).ok());
    CHECK(client.wait_state(id, v1::CONTAINER_RUNNING).state() == v1::CONTAINER_RUNNING);
    check_lists(daemon);
    REQUIRE(client.remove(id).ok());
    CHECK(difference(base, snapshot(daemon)) == "");
    check_gone(ids);
  }
  REQUIRE(Client(daemon).remove_pod(pod).ok());
}

TEST_CASE("A crash at any step of RemoveContainer, RemovePodSandbox or RemoveImage is finished by its retry",
          "[daemon][crash][remove]") {
  Env env;
  TestNetwork network(*env.daemon);
  use_crio_fault(env);
  Daemon& daemon = *env.daemon;
  env.pull(env.pause_image());  // every pod mounts it: in the baseline, not a leftover
  const HostState base = snapshot(daemon);

  SECTION("RemoveContainer") {
    for (const auto& arming : kRemoveContainerArmings) {
      INFO("crash point " << arming);
      Client client(daemon);
      const std::string pod = client.run_pod("crash-rm-" + point_of(arming), "runc");
      const std::string id = client.create_ok(pod, Client::config("doomed", env.image, {"/bin/busybox", "sleep", "600"}));
      REQUIRE(client.start(id).ok());
      crash_at(daemon, arming, [&] { return Client(daemon).remove(id); });
      daemon.start();
      check_lists(daemon);
      Client after(daemon);
      // Still listed until the retry removes it; what is listed answers.
      for (const auto& [listed, _] : listed_containers(after)) {
        grpc::Status s;
        after.status(listed, &s);
        CHECK(s.ok());
      }
      REQUIRE(after.remove(id).ok());
      CHECK(listed_containers(after).empty());
      check_lists(daemon);
      REQUIRE(after.remove_pod(pod).ok());
      CHECK(difference(base, snapshot(daemon)) == "");
      check_gone({id, pod});
    }
  }
  SECTION("RemovePodSandbox") {
    for (const auto& arming : kRemovePodArmings) {
      INFO("crash point " << arming);
      Client client(daemon);
      const std::string pod = client.run_pod("crash-rm-" + point_of(arming), "runc", /*host_network=*/false);
      const std::string id = client.create_ok(pod, Client::config("doomed", env.image, {"/bin/busybox", "sleep", "600"}));
      REQUIRE(client.start(id).ok());
      crash_at(daemon, arming, [&] { return Client(daemon).remove_pod(pod); });
      daemon.start();
      check_lists(daemon);
      Client after(daemon);
      for (const auto& [listed, state] : listed_pods(after)) CHECK(state == v1::SANDBOX_NOTREADY);
      REQUIRE(after.remove_pod(pod).ok());
      CHECK(listed_pods(after).empty());
      CHECK(listed_containers(after).empty());
      check_lists(daemon);
      CHECK(difference(base, snapshot(daemon)) == "");
      check_gone({id, pod});
    }
  }
  SECTION("RemoveImage") {
    REQUIRE(remove_image(daemon, env.pause_image()).ok());  // only the test's image left
    const HostState one_image = snapshot(daemon);
    for (const auto& arming : kRemoveImageArmings) {
      INFO("crash point " << arming);
      crash_at(daemon, arming, [&] { return remove_image(daemon, env.image); });
      daemon.start();
      check_lists(daemon);
      CHECK(listed_images(daemon).empty());
      REQUIRE(remove_image(daemon, env.image).ok());
      HostState removed = snapshot(daemon);
      for (const char* part : {"layer directories", "layers.json", "images.json", "image directories"}) {
        CHECK(removed.parts.count(part) == 0);
      }
      REQUIRE(pull(daemon, env.image).ok());
      CHECK(difference(one_image, snapshot(daemon)) == "");
    }
  }
}
