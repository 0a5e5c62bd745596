// The kubelet's deadlines through a real daemon whose conmon is slow on demand: a pod
// or container whose caller left is made but not shown, survives a crash of the
// daemon, goes to the retry, and is removed when no retry comes. Needs root, conmon,
// runc, docker-registry, python3 and busybox-static.

#include "container_fixture.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <thread>

using crio::test::Daemon;
using crio::test::set_deadline;
namespace v1 = runtime::v1;
namespace stdfs = std::filesystem;
using crio::test::containers::Client;
using crio::test::containers::Env;
using crio::test::containers::PodGuard;

namespace {

// conmon, after a pause of `seconds` while the file `slow` is in the daemon's directory.
std::string slow_conmon_drop_in(const std::string& dir, int seconds = 3) {
  const std::string wrapper = dir + "/slow-conmon";
  crio::test::write_file(wrapper, fmt::format("#!/bin/sh\n"
                                              "[ \"$1\" != --version ] && [ -e {0}/slow ] && sleep {1}\n"
                                              "exec /usr/bin/conmon \"$@\"\n",
                                              dir, seconds));
  ::chmod(wrapper.c_str(), 0755);
  return fmt::format("[crio.runtime]\nconmon = \"{}\"\n", wrapper);
}

void set_slow(const Client& client, bool slow) {
  const std::string flag = client.dir + "/slow";
  if (slow) {
    crio::test::write_file(flag, "");
  } else {
    std::error_code ec;
    stdfs::remove(flag, ec);
  }
}

// The IDs the daemon keeps for callers that left (their markers beside the state files).
std::vector<std::string> unclaimed_ids(const Client& client, const std::string& table) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : stdfs::directory_iterator(client.dir + "/storage/crio/" + table, ec)) {
    if (entry.path().extension() == ".unclaimed") out.push_back(entry.path().stem().string());
  }
  return out;
}

// Waits until the creation that outlived its caller finished.
std::string wait_unclaimed(const Client& client, const std::string& table) {
  for (int i = 0; i < 200; ++i) {
    auto ids = unclaimed_ids(client, table);
    if (!ids.empty()) return ids.front();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL("no unclaimed " << table << " appeared");
  return "";
}

grpc::Status run_pod_within(Client& client, const v1::RunPodSandboxRequest& request, std::chrono::milliseconds limit,
                            std::string* id = nullptr) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + limit);
  v1::RunPodSandboxResponse response;
  grpc::Status s = client.stub->RunPodSandbox(&context, request, &response);
  if (id) *id = response.pod_sandbox_id();
  return s;
}

grpc::Status create_within(Client& client, const std::string& pod, const v1::ContainerConfig& config,
                           std::chrono::milliseconds limit, std::string* id = nullptr) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + limit);
  v1::CreateContainerRequest request;
  request.set_pod_sandbox_id(pod);
  *request.mutable_config() = config;
  v1::CreateContainerResponse response;
  grpc::Status s = client.stub->CreateContainer(&context, request, &response);
  if (id) *id = response.container_id();
  return s;
}

grpc::Status pod_status(Client& client, const std::string& id) {
  grpc::ClientContext context;
  set_deadline(context);
  v1::PodSandboxStatusRequest request;
  request.set_pod_sandbox_id(id);
  v1::PodSandboxStatusResponse response;
  return client.stub->PodSandboxStatus(&context, request, &response);
}

bool runc_knows(const Client& client, const std::string& id) {
  return stdfs::exists(client.dir + "/runc-root/" + id + "/state.json");
}

}  // namespace

TEST_CASE("A pod whose RunPodSandbox timed out stays hidden, survives a daemon crash and goes to the retry",
          "[daemon][pod][timeout]") {
  Env env([](const std::string& dir) { return slow_conmon_drop_in(dir) + "drop_infra_ctr = false\n"; });
  Client client(*env.daemon);
  auto request = client.pod_request("late", "runc");
  set_slow(client, true);
  grpc::Status late = run_pod_within(client, request, std::chrono::milliseconds(1500));
  CHECK(late.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  const std::string id = wait_unclaimed(client, "pods");

  // Made, with its infra container running under the pod's ID, but not shown.
  CHECK(runc_knows(client, id));
  CHECK(client.pod_count() == 0);
  grpc::Status status = pod_status(client, id);
  CHECK(status.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK_THAT(status.error_message(), Catch::Contains("not created"));
  CHECK(client.stop_pod(id).error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  std::string ctr;
  CHECK(client.create(id, Client::config("inside", env.image, {"/bin/busybox", "true"}), &ctr).error_code() ==
        grpc::StatusCode::FAILED_PRECONDITION);

  // A crash does not publish it, nor lose it.
  env.daemon->stop(SIGKILL);
  env.daemon->start();
  Client after(*env.daemon);  // a new channel: the old one backs off after the crash
  CHECK(after.pod_count() == 0);

  set_slow(after, false);
  std::string claimed;
  grpc::Status retry = run_pod_within(after, request, std::chrono::seconds(30), &claimed);
  INFO(retry.error_message());
  REQUIRE(retry.ok());
  PodGuard claimed_guard{after, claimed};
  CHECK(claimed == id);
  CHECK(after.pod_count() == 1);
  CHECK(pod_status(after, id).ok());
  CHECK(unclaimed_ids(after, "pods").empty());

  // A pod of another attempt is a new pod.
  auto next = request;
  next.mutable_config()->mutable_metadata()->set_attempt(1);
  PodGuard second{after, after.run_pod(next)};
  CHECK(second.id != id);
}

TEST_CASE("A container whose CreateContainer timed out is hidden, a concurrent retry waits, and a later retry gets it",
          "[daemon][container][timeout]") {
  Env env([](const std::string& dir) { return slow_conmon_drop_in(dir, 4); });
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("patient", "runc")};
  auto config = Client::config("late", env.image, {"/bin/busybox", "sleep", "600"});
  set_slow(client, true);
  CHECK(create_within(client, pod.id, config, std::chrono::milliseconds(1000)).error_code() ==
        grpc::StatusCode::DEADLINE_EXCEEDED);
  // The kubelet's retry while the first creation is still at the runtime.
  CHECK(create_within(client, pod.id, config, std::chrono::milliseconds(1000)).error_code() ==
        grpc::StatusCode::DEADLINE_EXCEEDED);
  const std::string id = wait_unclaimed(client, "containers");
  CHECK_THAT(env.daemon->log(), Catch::Contains("container runtime creation"));

  CHECK(runc_knows(client, id));
  CHECK(client.list().empty());
  grpc::Status status;
  client.status(id, &status);
  CHECK(status.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(client.start(id).error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(client.remove(id).error_code() == grpc::StatusCode::FAILED_PRECONDITION);

  set_slow(client, false);
  std::string claimed;
  REQUIRE(client.create(pod.id, config, &claimed).ok());
  CHECK(claimed == id);
  REQUIRE(client.list().size() == 1);
  REQUIRE(client.start(id).ok());
  CHECK(client.status(id).status().state() == v1::CONTAINER_RUNNING);
}

TEST_CASE("A container no retry claims is removed after a minute, and its name is free again",
          "[daemon][container][timeout]") {
  Env env([](const std::string& dir) { return slow_conmon_drop_in(dir); });
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("forgotten", "runc")};
  auto config = Client::config("orphan", env.image, {"/bin/busybox", "sleep", "600"});
  set_slow(client, true);
  CHECK(create_within(client, pod.id, config, std::chrono::milliseconds(1000)).error_code() ==
        grpc::StatusCode::DEADLINE_EXCEEDED);
  const std::string id = wait_unclaimed(client, "containers");
  set_slow(client, false);
  REQUIRE(runc_knows(client, id));

  // Checked every 20 s, removed once a minute old.
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (runc_knows(client, id) && std::chrono::steady_clock::now() < limit) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  CHECK_FALSE(runc_knows(client, id));
  CHECK(unclaimed_ids(client, "containers").empty());
  CHECK_FALSE(stdfs::exists(client.dir + "/storage/crio/containers/" + id + ".json"));
  CHECK_THAT(env.daemon->log(), Catch::Contains("removing a container no retry claimed"));

  std::string fresh;
  REQUIRE(client.create(pod.id, config, &fresh).ok());
  CHECK(fresh != id);
}

TEST_CASE("Removing a pod removes the containers no retry claimed yet", "[daemon][container][timeout]") {
  Env env([](const std::string& dir) { return slow_conmon_drop_in(dir); });
  Client client(*env.daemon);
  const std::string pod = client.run_pod("short-lived", "runc");
  auto config = Client::config("late", env.image, {"/bin/busybox", "sleep", "600"});
  set_slow(client, true);
  CHECK(create_within(client, pod, config, std::chrono::milliseconds(1000)).error_code() ==
        grpc::StatusCode::DEADLINE_EXCEEDED);
  const std::string id = wait_unclaimed(client, "containers");
  REQUIRE(runc_knows(client, id));

  REQUIRE(client.stop_pod(pod).ok());
  REQUIRE(client.remove_pod(pod).ok());
  CHECK_FALSE(runc_knows(client, id));
  CHECK(unclaimed_ids(client, "containers").empty());
  CHECK_FALSE(stdfs::exists(client.dir + "/storage/crio/containers/" + id + ".json"));
}
