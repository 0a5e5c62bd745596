// GetContainerEvents: streams the event bus to one client until it cancels or the
// daemon shuts down. Statuses are read when the event is sent, not when it happened:
// the bus carries ids only, so a DELETED event's container is already absent.

#include "server/grpc_status.hpp"
#include "server/runtime_service.hpp"

#include <crio/core/log.hpp>

#include <chrono>

namespace crio::daemon {
namespace {

// How often a waiting stream looks at the client's cancellation.
constexpr auto kPollInterval = std::chrono::milliseconds(200);

v1::ContainerEventType event_type(ContainerEventType type) {
  switch (type) {
    case ContainerEventType::kCreated: return v1::CONTAINER_CREATED_EVENT;
    case ContainerEventType::kStarted: return v1::CONTAINER_STARTED_EVENT;
    case ContainerEventType::kStopped: return v1::CONTAINER_STOPPED_EVENT;
    case ContainerEventType::kDeleted: return v1::CONTAINER_DELETED_EVENT;
  }
  return v1::CONTAINER_CREATED_EVENT;
}

void fill_pod_status(const Pod& pod, v1::PodSandboxStatus* out) {
  out->set_id(pod.id);
  auto* metadata = out->mutable_metadata();
  metadata->set_name(pod.spec.name);
  metadata->set_uid(pod.spec.uid);
  metadata->set_namespace_(pod.spec.pod_namespace);
  metadata->set_attempt(pod.spec.attempt);
  out->set_state(pod.state == PodState::kReady ? v1::SANDBOX_READY : v1::SANDBOX_NOTREADY);
  out->set_created_at(pod.created_at);
  if (!pod.ips.empty()) {
    out->mutable_network()->set_ip(pod.ips.front());
    for (size_t i = 1; i < pod.ips.size(); ++i) out->mutable_network()->add_additional_ips()->set_ip(pod.ips[i]);
  }
  out->mutable_labels()->insert(pod.spec.labels.begin(), pod.spec.labels.end());
  out->mutable_annotations()->insert(pod.spec.annotations.begin(), pod.spec.annotations.end());
  out->set_runtime_handler(pod.spec.runtime_handler);
}

void fill_container_status(const Container& c, v1::ContainerStatus* out) {
  out->set_id(c.id);
  out->mutable_metadata()->set_name(c.spec.name);
  out->mutable_metadata()->set_attempt(c.spec.attempt);
  out->set_state(static_cast<v1::ContainerState>(c.state));
  out->set_created_at(c.created_at);
  out->set_started_at(c.started_at);
  out->set_finished_at(c.finished_at);
  out->set_exit_code(c.exit_code);
  out->mutable_image()->set_image(c.image_name);
  out->set_image_ref(c.image_ref);
  out->set_image_id(c.image_id);
  out->set_reason(c.reason);
  out->set_message(c.message);
  out->mutable_labels()->insert(c.spec.labels.begin(), c.spec.labels.end());
  out->mutable_annotations()->insert(c.spec.annotations.begin(), c.spec.annotations.end());
  out->set_log_path(c.log_path);
}

}  // namespace

grpc::Status RuntimeService::GetContainerEvents(grpc::ServerContext* context, const v1::GetEventsRequest*,
                                                grpc::ServerWriter<v1::ContainerEventResponse>* writer) {
  EventBus* bus = containers_.event_bus();
  if (bus == nullptr) return unimplemented("RuntimeService.GetContainerEvents");
  auto subscription = bus->subscribe();
  while (!context->IsCancelled()) {
    auto event = subscription->next(kPollInterval);
    if (!event) {
      if (subscription->closed()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the runtime is shutting down");
      continue;
    }
    v1::ContainerEventResponse response;
    response.set_container_id(event->container_id);
    response.set_container_event_type(event_type(event->type));
    response.set_created_at(event->created_at);
    if (auto pod = pods_.get(event->pod_id); pod.ok()) fill_pod_status(*pod, response.mutable_pod_sandbox_status());
    ContainerFilter filter;
    filter.pod_id = event->pod_id;
    if (!event->pod_id.empty()) {
      for (const Container& c : containers_.list(filter)) {
        if (!Containers::is_infra(c)) fill_container_status(c, response.add_containers_statuses());
      }
    }
    if (!writer->Write(response)) break;
  }
  if (uint64_t dropped = subscription->dropped(); dropped > 0) {
    log::warn("a container event subscriber fell behind", {{"dropped_events", dropped}});
  }
  return grpc::Status::CANCELLED;
}

}  // namespace crio::daemon
