// GetContainerEvents and the pod sandbox stats through a real daemon, a real registry
// and runc or crun under conmon. Needs root, conmon, runc, crun, docker-registry,
// python3 and busybox-static.

#include "container_fixture.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

using crio::test::Daemon;
using crio::test::set_deadline;
using crio::test::TestRegistry;
namespace v1 = runtime::v1;
using crio::test::containers::Client;
using crio::test::containers::Crun;
using crio::test::containers::Env;
using crio::test::containers::PodGuard;
using crio::test::containers::Runc;

namespace {

// Reads one GetContainerEvents stream on its own thread until it ends or is cancelled.
class EventReader {
 public:
  explicit EventReader(v1::RuntimeService::Stub& stub) {
    thread_ = std::thread([this, &stub] {
      v1::GetEventsRequest request;
      auto reader = stub.GetContainerEvents(&context_, request);
      v1::ContainerEventResponse event;
      while (reader->Read(&event)) {
        std::lock_guard lock(mutex_);
        events_.push_back(event);
        cv_.notify_all();
      }
      grpc::Status s = reader->Finish();
      std::lock_guard lock(mutex_);
      finished_ = true;
      final_code_ = s.error_code();
      cv_.notify_all();
    });
  }
  ~EventReader() {
    context_.TryCancel();
    thread_.join();
  }
  void cancel() { context_.TryCancel(); }

  // The event types seen for `id`, in order, once there are `count` of them (or 15 s pass).
  std::vector<v1::ContainerEventType> types_for(const std::string& id, size_t count) {
    std::unique_lock lock(mutex_);
    std::vector<v1::ContainerEventType> out;
    cv_.wait_for(lock, std::chrono::seconds(15), [&] {
      out.clear();
      for (const auto& e : events_) {
        if (e.container_id() == id) out.push_back(e.container_event_type());
      }
      return out.size() >= count || finished_;
    });
    return out;
  }
  std::vector<v1::ContainerEventResponse> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  bool seen_any() {
    std::lock_guard lock(mutex_);
    return !events_.empty();
  }
  // Whether the stream ended within `timeout`, and with which code.
  bool wait_finished(std::chrono::seconds timeout, grpc::StatusCode* code = nullptr) {
    std::unique_lock lock(mutex_);
    bool done = cv_.wait_for(lock, timeout, [&] { return finished_; });
    if (code) *code = final_code_;
    return done;
  }

 private:
  grpc::ClientContext context_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<v1::ContainerEventResponse> events_;
  bool finished_ = false;
  grpc::StatusCode final_code_ = grpc::StatusCode::OK;
  std::thread thread_;
};

// A stream is subscribed only once its call reaches the daemon: creates and removes
// probe containers until every reader has seen an event.
void wait_subscribed(Client& client, const std::string& pod, const std::string& image,
                     std::vector<EventReader*> readers) {
  for (int i = 0; i < 50; ++i) {
    std::string probe = client.create_ok(pod, Client::config("probe" + std::to_string(i), image, {"/bin/busybox", "true"}));
    REQUIRE(client.remove(probe).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (std::all_of(readers.begin(), readers.end(), [](EventReader* r) { return r->seen_any(); })) return;
  }
  FAIL("the event streams never started");
}

// Events stream only where the operator turned them on, as in CRI-O.
const char* const kPodEvents = "[crio.runtime]\nenable_pod_events = true\n";

const std::vector<v1::ContainerEventType> kLifecycle = {v1::CONTAINER_CREATED_EVENT, v1::CONTAINER_STARTED_EVENT,
                                                        v1::CONTAINER_STOPPED_EVENT, v1::CONTAINER_DELETED_EVENT};

v1::PodSandboxStatsResponse pod_stats(Client& client, const std::string& id, grpc::Status* out = nullptr) {
  grpc::ClientContext context;
  set_deadline(context);
  v1::PodSandboxStatsRequest request;
  request.set_pod_sandbox_id(id);
  v1::PodSandboxStatsResponse response;
  grpc::Status s = client.stub->PodSandboxStats(&context, request, &response);
  if (out) *out = s;
  return response;
}

std::vector<v1::PodSandboxStats> list_pod_stats(Client& client, const v1::PodSandboxStatsFilter& filter) {
  grpc::ClientContext context;
  set_deadline(context);
  v1::ListPodSandboxStatsRequest request;
  *request.mutable_filter() = filter;
  v1::ListPodSandboxStatsResponse response;
  grpc::Status s = client.stub->ListPodSandboxStats(&context, request, &response);
  INFO(s.error_message());
  REQUIRE(s.ok());
  return {response.stats().begin(), response.stats().end()};
}

}  // namespace

TEMPLATE_TEST_CASE("Two event subscribers both see a container's lifecycle in order", "[daemon][events]", Runc, Crun) {
  Env env(kPodEvents);
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("events", TestType::kHandler)};
  EventReader first(*client.stub), second(*client.stub);
  wait_subscribed(client, pod.id, env.image, {&first, &second});

  std::string id = client.create_ok(pod.id, Client::config("worker", env.image, {"/bin/busybox", "sleep", "1000"}));
  REQUIRE(client.start(id).ok());
  REQUIRE(client.stop(id, 0).ok());
  REQUIRE(client.remove(id).ok());

  CHECK(first.types_for(id, 4) == kLifecycle);
  CHECK(second.types_for(id, 4) == kLifecycle);

  // Each event names its pod and carries the statuses read when it was sent.
  for (const auto& e : first.events()) {
    if (e.container_id() != id) continue;
    CHECK(e.created_at() > 0);
    CHECK(e.pod_sandbox_status().id() == pod.id);
    CHECK(e.pod_sandbox_status().metadata().name() == "events");
    if (e.container_event_type() == v1::CONTAINER_STARTED_EVENT) {
      auto statuses = e.containers_statuses();
      auto it = std::find_if(statuses.begin(), statuses.end(), [&](const auto& s) { return s.id() == id; });
      REQUIRE(it != statuses.end());
      CHECK(it->metadata().name() == "worker");
    }
  }

  // A container that exits on its own is reported stopped by the exit watcher.
  std::string short_id = client.create_ok(pod.id, Client::config("short", env.image, {"/bin/busybox", "true"}));
  REQUIRE(client.start(short_id).ok());
  CHECK(first.types_for(short_id, 3) ==
        std::vector<v1::ContainerEventType>{v1::CONTAINER_CREATED_EVENT, v1::CONTAINER_STARTED_EVENT,
                                            v1::CONTAINER_STOPPED_EVENT});
}

TEST_CASE("A cancelled event subscriber does not hold up the daemon and shutdown ends the streams",
          "[daemon][events]") {
  Env env(kPodEvents);
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("cancel", "runc")};
  auto gone = std::make_unique<EventReader>(*client.stub);
  EventReader live(*client.stub);
  wait_subscribed(client, pod.id, env.image, {gone.get(), &live});

  gone->cancel();
  grpc::StatusCode code{};
  REQUIRE(gone->wait_finished(std::chrono::seconds(5), &code));
  CHECK(code == grpc::StatusCode::CANCELLED);

  // Lifecycle calls go on, quickly, and the other subscriber still gets everything.
  auto before = std::chrono::steady_clock::now();
  std::string id = client.create_ok(pod.id, Client::config("after", env.image, {"/bin/busybox", "sleep", "1000"}));
  REQUIRE(client.start(id).ok());
  REQUIRE(client.stop(id, 0).ok());
  REQUIRE(client.remove(id).ok());
  CHECK(std::chrono::steady_clock::now() - before < std::chrono::seconds(20));
  CHECK(live.types_for(id, 4) == kLifecycle);

  // SIGTERM ends an open stream well before the shutdown grace (10 s) runs out.
  REQUIRE(client.remove_pod(pod.id).ok());
  pod.id.clear();
  auto stop_started = std::chrono::steady_clock::now();
  env.daemon->stop();
  CHECK(live.wait_finished(std::chrono::seconds(1)));
  CHECK(std::chrono::steady_clock::now() - stop_started < std::chrono::seconds(8));
  CHECK(env.daemon->exit_code() == 0);
}

TEMPLATE_TEST_CASE("Pod sandbox stats sum the running containers and filter pods", "[daemon][events][stats]", Runc,
                   Crun) {
  Env env;
  {
    // enable_pod_events is false by default: GetContainerEvents ends at once, with OK.
    Client client(*env.daemon);
    EventReader reader(*client.stub);
    grpc::StatusCode code{};
    REQUIRE(reader.wait_finished(std::chrono::seconds(5), &code));
    CHECK(code == grpc::StatusCode::OK);
    CHECK_FALSE(reader.seen_any());
  }
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("stats", TestType::kHandler)};
  PodGuard other{client, client.run_pod("idle", TestType::kHandler)};

  std::string id = client.create_ok(pod.id, Client::config("sleeper", env.image, {"/bin/busybox", "sleep", "1000"}));
  REQUIRE(client.start(id).ok());
  REQUIRE(client.wait_state(id, v1::CONTAINER_RUNNING).state() == v1::CONTAINER_RUNNING);

  auto stats = pod_stats(client, pod.id).stats();
  CHECK(stats.attributes().id() == pod.id);
  CHECK(stats.attributes().metadata().name() == "stats");
  CHECK(stats.attributes().metadata().namespace_() == "test-ns");
  CHECK(stats.linux().memory().working_set_bytes().value() > 0);
  CHECK(stats.linux().cpu().timestamp() > 0);
  CHECK(stats.linux().process().process_count().value() >= 1);
  REQUIRE(stats.linux().containers_size() == 1);
  CHECK(stats.linux().containers(0).attributes().id() == id);
  CHECK(stats.linux().containers(0).memory().working_set_bytes().value() > 0);

  // A pod without containers reports zero usage.
  auto idle = pod_stats(client, other.id).stats();
  CHECK(idle.linux().containers_size() == 0);
  CHECK(idle.linux().memory().working_set_bytes().value() == 0);

  grpc::Status missing;
  pod_stats(client, "no-such-pod", &missing);
  CHECK(missing.error_code() == grpc::StatusCode::NOT_FOUND);

  CHECK(list_pod_stats(client, {}).size() == 2);
  v1::PodSandboxStatsFilter by_id;
  by_id.set_id(pod.id);
  auto listed = list_pod_stats(client, by_id);
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].attributes().id() == pod.id);
  CHECK(listed[0].linux().containers_size() == 1);
  v1::PodSandboxStatsFilter by_label;
  (*by_label.mutable_label_selector())["no-such-label"] = "x";
  CHECK(list_pod_stats(client, by_label).empty());
}
