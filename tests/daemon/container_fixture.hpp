#pragma once
// The fixtures of the container-level daemon tests: a daemon pointed at a test
// registry with test/multi:v1 pulled (Env), a CRI client with the calls those tests
// make (Client), and a pod removed at the end of a test (PodGuard).

#include "daemon_fixture.hpp"
#include "registry_fixture.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace crio::test::containers {

namespace v1 = runtime::v1;

// A daemon whose runtimes keep their state under its own directory, pointed at the
// test registry, with test/multi:v1 pulled.
struct Env {
  TestRegistry registry;
  std::unique_ptr<Daemon> daemon;
  std::string image;

  explicit Env(const std::string& extra_drop_in = "") {
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
                           "[crio.image]\npause_image = \"" + registry.host() + "/test/pause:v1\"\n");
    if (!extra_drop_in.empty()) crio::test::write_file(daemon->dir() / "crio.conf.d/30-test.conf", extra_drop_in);
    daemon->start();
    image = registry.host() + "/test/multi:v1";
    auto stub = daemon->image_stub();
    grpc::ClientContext context;
    set_deadline(context, 60);
    v1::PullImageRequest request;
    request.mutable_image()->set_image(image);
    v1::PullImageResponse response;
    grpc::Status s = stub->PullImage(&context, request, &response);
    INFO(s.error_message());
    REQUIRE(s.ok());
  }
};

struct Client {
  explicit Client(const Daemon& daemon) : stub(daemon.runtime_stub()), dir(daemon.dir().path()) {}

  // `share_pid`: namespace_options.pid = POD (an infra container holds it); otherwise
  // CONTAINER, as the kubelet sends for pods without shareProcessNamespace.
  std::string run_pod(const std::string& name, const std::string& handler, bool host_network = true,
                      bool share_pid = false) {
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
    grpc::ClientContext context;
    set_deadline(context, 60);
    v1::RunPodSandboxResponse response;
    grpc::Status s = stub->RunPodSandbox(&context, request, &response);
    INFO(s.error_message());
    REQUIRE(s.ok());
    return response.pod_sandbox_id();
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

// Removes the pod (and so its containers) when the test ends, pass or fail, so no
// conmon or mount outlives the test's directory.
struct PodGuard {
  Client& client;
  std::string id;
  ~PodGuard() {
    if (!id.empty()) (void)client.remove_pod(id);
  }
};


}  // namespace crio::test::containers
