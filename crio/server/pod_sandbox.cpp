// RunPodSandbox, StopPodSandbox, RemovePodSandbox, PodSandboxStatus, ListPodSandbox,
// StreamPodSandboxes.

#include "handlers.hpp"
#include "server/grpc_status.hpp"
#include "server/runtime_service.hpp"

#include <nlohmann/json.hpp>

#include <chrono>

namespace crio::daemon {
namespace {

std::string protocol_name(v1::Protocol protocol) {
  switch (protocol) {
    case v1::UDP: return "udp";
    case v1::SCTP: return "sctp";
    default: return "tcp";
  }
}

PodSpec spec_from(const v1::RunPodSandboxRequest& request) {
  const v1::PodSandboxConfig& config = request.config();
  PodSpec spec;
  spec.name = config.metadata().name();
  spec.uid = config.metadata().uid();
  spec.pod_namespace = config.metadata().namespace_();
  spec.attempt = config.metadata().attempt();
  spec.hostname = config.hostname();
  spec.log_directory = config.log_directory();
  spec.dns_servers = {config.dns_config().servers().begin(), config.dns_config().servers().end()};
  spec.dns_searches = {config.dns_config().searches().begin(), config.dns_config().searches().end()};
  spec.dns_options = {config.dns_config().options().begin(), config.dns_config().options().end()};
  for (const auto& m : config.port_mappings()) {
    spec.port_mappings.push_back({m.host_port(), m.container_port(), protocol_name(m.protocol()), m.host_ip()});
  }
  spec.labels = {config.labels().begin(), config.labels().end()};
  spec.annotations = {config.annotations().begin(), config.annotations().end()};
  spec.runtime_handler = request.runtime_handler();
  const auto& linux = config.linux();
  spec.cgroup_parent = linux.cgroup_parent();
  spec.sysctls = {linux.sysctls().begin(), linux.sysctls().end()};
  const auto& ns = linux.security_context().namespace_options();
  spec.network = static_cast<NamespaceMode>(ns.network());
  spec.pid = static_cast<NamespaceMode>(ns.pid());
  spec.ipc = static_cast<NamespaceMode>(ns.ipc());
  spec.target_id = ns.target_id();
  spec.privileged = linux.security_context().privileged();
  return spec;
}

void fill_metadata(const PodSpec& spec, v1::PodSandboxMetadata* out) {
  out->set_name(spec.name);
  out->set_uid(spec.uid);
  out->set_namespace_(spec.pod_namespace);
  out->set_attempt(spec.attempt);
}

v1::PodSandboxState state_of(const Pod& pod) {
  return pod.state == PodState::kReady ? v1::SANDBOX_READY : v1::SANDBOX_NOTREADY;
}

void fill_summary(const Pod& pod, v1::PodSandbox* out) {
  out->set_id(pod.id);
  fill_metadata(pod.spec, out->mutable_metadata());
  out->set_state(state_of(pod));
  out->set_created_at(pod.created_at);
  out->mutable_labels()->insert(pod.spec.labels.begin(), pod.spec.labels.end());
  out->mutable_annotations()->insert(pod.spec.annotations.begin(), pod.spec.annotations.end());
  out->set_runtime_handler(pod.spec.runtime_handler);
}

PodFilter filter_from(const v1::PodSandboxFilter& filter) {
  PodFilter out;
  out.id = filter.id();
  if (filter.has_state()) {
    out.state = filter.state().state() == v1::SANDBOX_READY ? PodState::kReady : PodState::kNotReady;
  }
  out.label_selector = {filter.label_selector().begin(), filter.label_selector().end()};
  return out;
}

// What CRI-O shows as runtimeSpec for a pod whose infra container is dropped: the
// spec it would have run it with. Here the parts that describe the pod: its
// namespaces (pinned ones by path, so a tool finds the pod's netns), hostname,
// annotations and sysctls.
nlohmann::json dropped_infra_spec(const core::Config& config, const Pod& pod) {
  nlohmann::json namespaces = nlohmann::json::array();
  auto add = [&](const char* type, const std::string& path, bool host) {
    if (host) return;
    nlohmann::json ns = {{"type", type}};
    if (!path.empty()) ns["path"] = path;
    namespaces.push_back(std::move(ns));
  };
  add("pid", "", pod.spec.pid == NamespaceMode::kNode);
  add("network", pod.netns_path, pod.spec.network == NamespaceMode::kNode);
  add("ipc", pod.ipcns_path, pod.spec.ipc == NamespaceMode::kNode);
  add("uts", pod.utsns_path, pod.spec.network == NamespaceMode::kNode);
  add("mount", "", false);
  return {{"ociVersion", "1.0.2-dev"},
          {"process", {{"args", {config.pause_command}}, {"cwd", "/"}}},
          {"hostname", pod.spec.hostname},
          {"annotations", pod.spec.annotations},
          {"linux", {{"namespaces", namespaces}, {"sysctl", pod.spec.sysctls}}}};
}

}  // namespace

grpc::Status RuntimeService::RunPodSandbox(grpc::ServerContext* context, const v1::RunPodSandboxRequest* request,
                                           v1::RunPodSandboxResponse* response) {
  if (!request->has_config()) return to_grpc(error(Code::kInvalidArgument, "RunPodSandbox: no pod sandbox config"));
  PodSpec spec = spec_from(*request);
  if (!spec.runtime_handler.empty()) {
    auto handler = runtime_handler(live_.get()->config, spec.runtime_handler);
    if (!handler.ok()) {
      return to_grpc(error(Code::kInvalidArgument, "pod sandbox {}: {}", spec.name, handler.status().message()));
    }
  }
  // The pod's last creation step: its infra container, or only the pause image's file
  // system when it runs none.
  std::function<crio::Status(Pod&)> finish;
  if (pods_.runs_infra(spec)) {
    finish = [this](Pod& pod) { return containers_.start_infra(pod).status(); };
  } else {
    finish = [this](Pod& pod) {
      CRIO_ASSIGN_OR_RETURN(pod.rootfs, containers_.make_pod_storage(pod));
      return crio::ok_status();
    };
  }
  auto id = pods_.run(
      spec,
      [context] {
        // IsCancelled() turns true only once gRPC noticed; a passed deadline counts too.
        return context->IsCancelled() || std::chrono::system_clock::now() > context->deadline();
      },
      finish);
  if (!id.ok()) return to_grpc(id.status());
  response->set_pod_sandbox_id(*id);
  return grpc::Status::OK;
}

grpc::Status RuntimeService::StopPodSandbox(grpc::ServerContext*, const v1::StopPodSandboxRequest* request,
                                            v1::StopPodSandboxResponse*) {
  // The pod's containers stop first: their namespaces are the pod's.
  if (auto pod = pods_.get(request->pod_sandbox_id()); pod.ok()) {
    if (crio::Status s = containers_.stop_pod(pod->id); !s.ok()) return to_grpc(s);
  }
  return to_grpc(pods_.stop(request->pod_sandbox_id()));
}

grpc::Status RuntimeService::RemovePodSandbox(grpc::ServerContext*, const v1::RemovePodSandboxRequest* request,
                                              v1::RemovePodSandboxResponse*) {
  if (auto pod = pods_.get(request->pod_sandbox_id()); pod.ok()) {
    if (crio::Status s = containers_.remove_pod(pod->id); !s.ok()) return to_grpc(s);
  }
  return to_grpc(pods_.remove(request->pod_sandbox_id()));
}

grpc::Status RuntimeService::PodSandboxStatus(grpc::ServerContext*, const v1::PodSandboxStatusRequest* request,
                                              v1::PodSandboxStatusResponse* response) {
  auto pod = pods_.get(request->pod_sandbox_id());
  if (!pod.ok()) return to_grpc(pod.status());
  auto* status = response->mutable_status();
  status->set_id(pod->id);
  fill_metadata(pod->spec, status->mutable_metadata());
  status->set_state(state_of(*pod));
  status->set_created_at(pod->created_at);
  if (!pod->ips.empty()) {
    status->mutable_network()->set_ip(pod->ips.front());
    for (size_t i = 1; i < pod->ips.size(); ++i) status->mutable_network()->add_additional_ips()->set_ip(pod->ips[i]);
  }
  auto* ns = status->mutable_linux()->mutable_namespaces()->mutable_options();
  ns->set_network(static_cast<v1::NamespaceMode>(pod->spec.network));
  ns->set_pid(static_cast<v1::NamespaceMode>(pod->spec.pid));
  ns->set_ipc(static_cast<v1::NamespaceMode>(pod->spec.ipc));
  ns->set_target_id(pod->spec.target_id);
  status->mutable_labels()->insert(pod->spec.labels.begin(), pod->spec.labels.end());
  status->mutable_annotations()->insert(pod->spec.annotations.begin(), pod->spec.annotations.end());
  status->set_runtime_handler(pod->spec.runtime_handler);
  response->set_timestamp(std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count());
  if (request->verbose()) {
    nlohmann::json info = {
        {"id", pod->id},
        {"name", Pods::full_name(pod->spec)},
        {"netns", pod->netns_path},
        {"ipcns", pod->ipcns_path},
        {"utsns", pod->utsns_path},
        {"network", pod->network_name},
        {"ips", pod->ips},
        {"hostname", pod->hostname_path},
        {"resolvConf", pod->resolv_path},
        {"hosts", pod->hosts_path},
        {"shm", pod->shm_path},
        {"cgroupParent", pod->spec.cgroup_parent},
        {"sysctls", pod->spec.sysctls},
    };
    // As CRI-O: with an infra container, the pause image as configured, its pid and spec.
    ContainerFilter of_pod;
    of_pod.pod_id = pod->id;
    for (const Container& c : containers_.list(of_pod)) {
      if (!Containers::is_infra(c) || c.pod_id != pod->id) continue;
      info["image"] = c.spec.image;
      info["pid"] = c.process.pid;
      info["runtimeSpec"] = runtime_spec_of(c.bundle);
    }
    if (!info.contains("runtimeSpec")) info["runtimeSpec"] = dropped_infra_spec(config_, *pod);
    (*response->mutable_info())["info"] = info.dump();
  }
  return grpc::Status::OK;
}

grpc::Status RuntimeService::ListPodSandbox(grpc::ServerContext*, const v1::ListPodSandboxRequest* request,
                                            v1::ListPodSandboxResponse* response) {
  for (const Pod& pod : pods_.list(filter_from(request->filter()))) fill_summary(pod, response->add_items());
  return grpc::Status::OK;
}

grpc::Status RuntimeService::StreamPodSandboxes(grpc::ServerContext* context,
                                                const v1::StreamPodSandboxesRequest* request,
                                                grpc::ServerWriter<v1::StreamPodSandboxesResponse>* writer) {
  constexpr int kBatch = 256;
  v1::StreamPodSandboxesResponse batch;
  for (const Pod& pod : pods_.list(filter_from(request->filter()))) {
    fill_summary(pod, batch.add_pod_sandboxes());
    if (batch.pod_sandboxes_size() == kBatch) {
      if (context->IsCancelled() || !writer->Write(batch)) return grpc::Status::CANCELLED;
      batch.Clear();
    }
  }
  if (batch.pod_sandboxes_size() > 0 && !writer->Write(batch)) return grpc::Status::CANCELLED;
  return grpc::Status::OK;
}

}  // namespace crio::daemon
