// ContainerStats, ListContainerStats, StreamContainerStats: CPU and memory from the
// container's cgroups (read by its pid, never assumed), writable layer from the store.
// PodSandboxStats and its list/stream forms: a pod's CPU, memory and process count are
// the sums over its running containers (each its own cgroup here), plus each
// container's own stats.

#include "server/grpc_status.hpp"
#include "server/runtime_service.hpp"

#include <crio/oci/cgroup_stats.hpp>

#include <chrono>

namespace crio::daemon {
namespace {

int64_t ns_of(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

void fill_stats(Containers& containers, const Container& c, v1::ContainerStats* out) {
  auto* attributes = out->mutable_attributes();
  attributes->set_id(c.id);
  attributes->mutable_metadata()->set_name(c.spec.name);
  attributes->mutable_metadata()->set_attempt(c.spec.attempt);
  attributes->mutable_labels()->insert(c.spec.labels.begin(), c.spec.labels.end());
  attributes->mutable_annotations()->insert(c.spec.annotations.begin(), c.spec.annotations.end());

  auto now = std::chrono::system_clock::now();
  auto* cpu = out->mutable_cpu();
  auto* memory = out->mutable_memory();
  cpu->set_timestamp(ns_of(now));
  memory->set_timestamp(ns_of(now));
  if (c.state == ContainerState::kRunning && c.process.pid > 0) {
    if (auto cg = containers.cgroup_stats(c); cg.ok()) {
      cpu->set_timestamp(ns_of(cg->timestamp));
      cpu->mutable_usage_core_nano_seconds()->set_value(cg->cpu_usage_ns);
      memory->set_timestamp(ns_of(cg->timestamp));
      memory->mutable_working_set_bytes()->set_value(cg->memory_working_set_bytes);
      memory->mutable_usage_bytes()->set_value(cg->memory_usage_bytes);
      if (cg->memory_limit_bytes && *cg->memory_limit_bytes >= cg->memory_working_set_bytes) {
        memory->mutable_available_bytes()->set_value(*cg->memory_limit_bytes - cg->memory_working_set_bytes);
      }
    }
  } else {
    cpu->mutable_usage_core_nano_seconds()->set_value(0);
    memory->mutable_working_set_bytes()->set_value(0);
  }

  auto* layer = out->mutable_writable_layer();
  layer->set_timestamp(ns_of(now));
  layer->mutable_fs_id()->set_mountpoint(containers.layers_mountpoint());
  if (auto usage = containers.layer_usage(c.id); usage.ok()) {
    layer->mutable_used_bytes()->set_value(static_cast<uint64_t>(std::max<int64_t>(0, usage->bytes)));
    layer->mutable_inodes_used()->set_value(static_cast<uint64_t>(std::max<int64_t>(0, usage->inodes)));
  }
}

ContainerFilter filter_from(const v1::ContainerStatsFilter& filter) {
  ContainerFilter out;
  out.id = filter.id();
  out.pod_id = filter.pod_sandbox_id();
  out.label_selector = {filter.label_selector().begin(), filter.label_selector().end()};
  return out;
}

PodFilter pod_filter_from(const v1::PodSandboxStatsFilter& filter) {
  PodFilter out;
  out.id = filter.id();
  out.label_selector = {filter.label_selector().begin(), filter.label_selector().end()};
  return out;
}

void fill_pod_stats(Containers& containers, const Pod& pod, v1::PodSandboxStats* out) {
  auto* attributes = out->mutable_attributes();
  attributes->set_id(pod.id);
  auto* metadata = attributes->mutable_metadata();
  metadata->set_name(pod.spec.name);
  metadata->set_uid(pod.spec.uid);
  metadata->set_namespace_(pod.spec.pod_namespace);
  metadata->set_attempt(pod.spec.attempt);
  attributes->mutable_labels()->insert(pod.spec.labels.begin(), pod.spec.labels.end());
  attributes->mutable_annotations()->insert(pod.spec.annotations.begin(), pod.spec.annotations.end());

  const int64_t now = ns_of(std::chrono::system_clock::now());
  uint64_t cpu_ns = 0, working_set = 0, usage = 0, processes = 0;
  ContainerFilter filter;
  filter.pod_id = pod.id;
  auto* pod_linux = out->mutable_linux();
  // The infra container (when there is one) counts towards the pod, not as a container.
  for (const Container& c : containers.list(filter)) {
    if (c.state != ContainerState::kRunning || c.process.pid <= 0) {
      if (!Containers::is_infra(c)) fill_stats(containers, c, pod_linux->add_containers());
      continue;
    }
    if (auto cg = containers.cgroup_stats(c); cg.ok()) {
      cpu_ns += cg->cpu_usage_ns;
      working_set += cg->memory_working_set_bytes;
      usage += cg->memory_usage_bytes;
      processes += cg->pids_current;
    }
    if (!Containers::is_infra(c)) fill_stats(containers, c, pod_linux->add_containers());
  }
  auto* cpu = pod_linux->mutable_cpu();
  cpu->set_timestamp(now);
  cpu->mutable_usage_core_nano_seconds()->set_value(cpu_ns);
  auto* memory = pod_linux->mutable_memory();
  memory->set_timestamp(now);
  memory->mutable_working_set_bytes()->set_value(working_set);
  memory->mutable_usage_bytes()->set_value(usage);
  auto* process = pod_linux->mutable_process();
  process->set_timestamp(now);
  process->mutable_process_count()->set_value(processes);
}

}  // namespace

grpc::Status RuntimeService::PodSandboxStats(grpc::ServerContext*, const v1::PodSandboxStatsRequest* request,
                                             v1::PodSandboxStatsResponse* response) {
  auto pod = pods_.get(request->pod_sandbox_id());
  if (!pod.ok()) return to_grpc(pod.status());
  fill_pod_stats(containers_, *pod, response->mutable_stats());
  return grpc::Status::OK;
}

grpc::Status RuntimeService::ListPodSandboxStats(grpc::ServerContext*, const v1::ListPodSandboxStatsRequest* request,
                                                 v1::ListPodSandboxStatsResponse* response) {
  for (const Pod& pod : pods_.list(pod_filter_from(request->filter()))) {
    fill_pod_stats(containers_, pod, response->add_stats());
  }
  return grpc::Status::OK;
}

grpc::Status RuntimeService::StreamPodSandboxStats(grpc::ServerContext* context,
                                                   const v1::StreamPodSandboxStatsRequest* request,
                                                   grpc::ServerWriter<v1::StreamPodSandboxStatsResponse>* writer) {
  constexpr int kBatch = 64;
  v1::StreamPodSandboxStatsResponse batch;
  for (const Pod& pod : pods_.list(pod_filter_from(request->filter()))) {
    fill_pod_stats(containers_, pod, batch.add_pod_sandbox_stats());
    if (batch.pod_sandbox_stats_size() == kBatch) {
      if (context->IsCancelled() || !writer->Write(batch)) return grpc::Status::CANCELLED;
      batch.Clear();
    }
  }
  if (batch.pod_sandbox_stats_size() > 0 && !writer->Write(batch)) return grpc::Status::CANCELLED;
  return grpc::Status::OK;
}

grpc::Status RuntimeService::ContainerStats(grpc::ServerContext*, const v1::ContainerStatsRequest* request,
                                            v1::ContainerStatsResponse* response) {
  auto container = containers_.get(request->container_id());
  if (!container.ok()) return to_grpc(container.status());
  fill_stats(containers_, *container, response->mutable_stats());
  return grpc::Status::OK;
}

grpc::Status RuntimeService::ListContainerStats(grpc::ServerContext*, const v1::ListContainerStatsRequest* request,
                                                v1::ListContainerStatsResponse* response) {
  for (const Container& c : containers_.list(filter_from(request->filter()))) {
    if (!Containers::is_infra(c)) fill_stats(containers_, c, response->add_stats());
  }
  return grpc::Status::OK;
}

grpc::Status RuntimeService::StreamContainerStats(grpc::ServerContext* context,
                                                  const v1::StreamContainerStatsRequest* request,
                                                  grpc::ServerWriter<v1::StreamContainerStatsResponse>* writer) {
  constexpr int kBatch = 128;
  v1::StreamContainerStatsResponse batch;
  for (const Container& c : containers_.list(filter_from(request->filter()))) {
    if (Containers::is_infra(c)) continue;
    fill_stats(containers_, c, batch.add_container_stats());
    if (batch.container_stats_size() == kBatch) {
      if (context->IsCancelled() || !writer->Write(batch)) return grpc::Status::CANCELLED;
      batch.Clear();
    }
  }
  if (batch.container_stats_size() > 0 && !writer->Write(batch)) return grpc::Status::CANCELLED;
  return grpc::Status::OK;
}

}  // namespace crio::daemon
