// CreateContainer, StartContainer, StopContainer, RemoveContainer, ContainerStatus,
// ListContainers, StreamContainers, ExecSync, UpdateContainerResources,
// ReopenContainerLog.

#include "server/grpc_status.hpp"
#include "server/runtime_service.hpp"

#include <crio/core/fs.hpp>
#include <nlohmann/json.hpp>

#include <chrono>

namespace crio::daemon {

nlohmann::json runtime_spec_of(const std::string& bundle) {
  auto text = fs::read_file(bundle + "/config.json");
  if (!text.ok()) return nullptr;
  nlohmann::json spec = nlohmann::json::parse(*text, nullptr, false);
  return spec.is_discarded() ? nlohmann::json(nullptr) : spec;
}

namespace {

oci::ResourceRequest resources_from(const v1::LinuxContainerResources& r) {
  oci::ResourceRequest out;
  out.cpu_period = r.cpu_period();
  out.cpu_quota = r.cpu_quota();
  out.cpu_shares = r.cpu_shares();
  out.memory_limit = r.memory_limit_in_bytes();
  out.memory_swap_limit = r.memory_swap_limit_in_bytes();
  out.oom_score_adj = r.oom_score_adj();
  out.cpuset_cpus = r.cpuset_cpus();
  out.cpuset_mems = r.cpuset_mems();
  for (const auto& h : r.hugepage_limits()) out.hugepages.push_back({h.page_size(), h.limit()});
  out.unified = {r.unified().begin(), r.unified().end()};
  return out;
}

ContainerSpec spec_from(const v1::ContainerConfig& config) {
  ContainerSpec spec;
  spec.name = config.metadata().name();
  spec.attempt = config.metadata().attempt();
  spec.image = config.image().image();
  spec.command = {config.command().begin(), config.command().end()};
  spec.args = {config.args().begin(), config.args().end()};
  spec.working_dir = config.working_dir();
  for (const auto& kv : config.envs()) spec.envs.emplace_back(kv.key(), kv.value());
  for (const auto& m : config.mounts()) {
    spec.mounts.push_back({m.container_path(), m.host_path(), m.readonly(), static_cast<int>(m.propagation())});
  }
  for (const auto& d : config.devices()) spec.devices.push_back({d.container_path(), d.host_path(), d.permissions()});
  spec.labels = {config.labels().begin(), config.labels().end()};
  spec.annotations = {config.annotations().begin(), config.annotations().end()};
  spec.log_path = config.log_path();
  spec.stdin_open = config.stdin();
  spec.stdin_once = config.stdin_once();
  spec.tty = config.tty();

  const auto& linux = config.linux();
  if (linux.has_resources()) spec.resources = resources_from(linux.resources());
  const auto& sc = linux.security_context();
  spec.add_capabilities = {sc.capabilities().add_capabilities().begin(), sc.capabilities().add_capabilities().end()};
  spec.drop_capabilities = {sc.capabilities().drop_capabilities().begin(), sc.capabilities().drop_capabilities().end()};
  spec.privileged = sc.privileged();
  spec.pid_mode = static_cast<NamespaceMode>(sc.namespace_options().pid());
  spec.target_id = sc.namespace_options().target_id();
  if (sc.has_run_as_user()) spec.run_as_user = sc.run_as_user().value();
  if (sc.has_run_as_group()) spec.run_as_group = sc.run_as_group().value();
  spec.run_as_username = sc.run_as_username();
  spec.supplemental_groups = {sc.supplemental_groups().begin(), sc.supplemental_groups().end()};
  spec.supplemental_groups_strict = sc.supplemental_groups_policy() == v1::Strict;
  spec.readonly_rootfs = sc.readonly_rootfs();
  spec.no_new_privs = sc.no_new_privs();
  spec.masked_paths = {sc.masked_paths().begin(), sc.masked_paths().end()};
  spec.readonly_paths = {sc.readonly_paths().begin(), sc.readonly_paths().end()};
  spec.masked_paths_set = sc.masked_paths_size() > 0;
  spec.readonly_paths_set = sc.readonly_paths_size() > 0;
  if (sc.has_seccomp()) {
    switch (sc.seccomp().profile_type()) {
      case v1::SecurityProfile::Unconfined:
        spec.seccomp.kind = SeccompProfile::Kind::kUnconfined;
        break;
      case v1::SecurityProfile::Localhost:
        spec.seccomp.kind = SeccompProfile::Kind::kLocalhost;
        spec.seccomp.localhost_path = sc.seccomp().localhost_ref();
        break;
      default:
        spec.seccomp.kind = SeccompProfile::Kind::kRuntimeDefault;
        break;
    }
  }
  return spec;
}

void fill_metadata(const ContainerSpec& spec, v1::ContainerMetadata* out) {
  out->set_name(spec.name);
  out->set_attempt(spec.attempt);
}

void fill_summary(const Container& c, v1::Container* out) {
  out->set_id(c.id);
  out->set_pod_sandbox_id(c.pod_id);
  fill_metadata(c.spec, out->mutable_metadata());
  out->mutable_image()->set_image(c.image_name);
  out->set_image_ref(c.image_ref);
  out->set_image_id(c.image_id);
  out->set_state(static_cast<v1::ContainerState>(c.state));
  out->set_created_at(c.created_at);
  out->mutable_labels()->insert(c.spec.labels.begin(), c.spec.labels.end());
  out->mutable_annotations()->insert(c.spec.annotations.begin(), c.spec.annotations.end());
}

ContainerFilter filter_from(const v1::ContainerFilter& filter) {
  ContainerFilter out;
  out.id = filter.id();
  out.pod_id = filter.pod_sandbox_id();
  if (filter.has_state()) out.state = static_cast<ContainerState>(filter.state().state());
  out.label_selector = {filter.label_selector().begin(), filter.label_selector().end()};
  return out;
}

}  // namespace

grpc::Status RuntimeService::CreateContainer(grpc::ServerContext* context, const v1::CreateContainerRequest* request,
                                             v1::CreateContainerResponse* response) {
  if (!request->has_config()) return to_grpc(error(Code::kInvalidArgument, "CreateContainer: no container config"));
  if (request->pod_sandbox_id().empty()) {
    return to_grpc(error(Code::kInvalidArgument, "CreateContainer: no pod sandbox ID given"));
  }
  auto id = containers_.create(request->pod_sandbox_id(), spec_from(request->config()), [context] {
    // The sync server may not have noticed a passed deadline yet.
    return context->IsCancelled() || context->deadline() < std::chrono::system_clock::now();
  });
  if (!id.ok()) return to_grpc(id.status());
  response->set_container_id(*id);
  return grpc::Status::OK;
}

grpc::Status RuntimeService::StartContainer(grpc::ServerContext*, const v1::StartContainerRequest* request,
                                            v1::StartContainerResponse*) {
  return to_grpc(containers_.start(request->container_id()));
}

grpc::Status RuntimeService::StopContainer(grpc::ServerContext*, const v1::StopContainerRequest* request,
                                           v1::StopContainerResponse*) {
  return to_grpc(
      containers_.stop(request->container_id(), std::chrono::seconds(std::max<int64_t>(0, request->timeout()))));
}

grpc::Status RuntimeService::RemoveContainer(grpc::ServerContext*, const v1::RemoveContainerRequest* request,
                                             v1::RemoveContainerResponse*) {
  return to_grpc(containers_.remove(request->container_id()));
}

grpc::Status RuntimeService::ContainerStatus(grpc::ServerContext*, const v1::ContainerStatusRequest* request,
                                             v1::ContainerStatusResponse* response) {
  auto c = containers_.get(request->container_id());
  if (!c.ok()) return to_grpc(c.status());
  auto* status = response->mutable_status();
  status->set_id(c->id);
  fill_metadata(c->spec, status->mutable_metadata());
  status->set_state(static_cast<v1::ContainerState>(c->state));
  status->set_created_at(c->created_at);
  status->set_started_at(c->started_at);
  status->set_finished_at(c->finished_at);
  status->set_exit_code(c->exit_code);
  status->mutable_image()->set_image(c->image_name);
  status->set_image_ref(c->image_ref);
  status->set_image_id(c->image_id);
  status->set_reason(c->reason);
  status->set_message(c->message);
  status->mutable_labels()->insert(c->spec.labels.begin(), c->spec.labels.end());
  status->mutable_annotations()->insert(c->spec.annotations.begin(), c->spec.annotations.end());
  for (const auto& m : c->spec.mounts) {
    auto* out = status->add_mounts();
    out->set_container_path(m.container_path);
    out->set_host_path(m.host_path);
    out->set_readonly(m.readonly);
    out->set_propagation(static_cast<v1::MountPropagation>(m.propagation));
  }
  status->set_log_path(c->log_path);
  auto* user = status->mutable_user()->mutable_linux();
  user->set_uid(c->user.uid);
  user->set_gid(c->user.gid);
  // The primary group first, then the others (the spec lists it among them too).
  user->add_supplemental_groups(c->user.gid);
  for (uint32_t g : c->user.additional_gids) {
    if (g != c->user.gid) user->add_supplemental_groups(g);
  }
  if (request->verbose()) {
    // CRI-O's keys (sandboxID, pid, runtimeSpec, privileged), and where the container lives.
    nlohmann::json info = {{"sandboxID", c->pod_id},
                           {"pid", c->process.pid},
                           {"privileged", c->spec.privileged},
                           {"runtimeSpec", runtime_spec_of(c->bundle)},
                           {"bundle", c->bundle},
                           {"rootfs", c->rootfs},
                           {"runtimeHandler", c->runtime_handler}};
    (*response->mutable_info())["info"] = info.dump();
  }
  return grpc::Status::OK;
}

grpc::Status RuntimeService::ListContainers(grpc::ServerContext*, const v1::ListContainersRequest* request,
                                            v1::ListContainersResponse* response) {
  for (const Container& c : containers_.list(filter_from(request->filter()))) {
    if (!Containers::is_infra(c)) fill_summary(c, response->add_containers());
  }
  return grpc::Status::OK;
}

grpc::Status RuntimeService::StreamContainers(grpc::ServerContext* context, const v1::StreamContainersRequest* request,
                                              grpc::ServerWriter<v1::StreamContainersResponse>* writer) {
  constexpr int kBatch = 256;
  v1::StreamContainersResponse batch;
  for (const Container& c : containers_.list(filter_from(request->filter()))) {
    if (Containers::is_infra(c)) continue;
    fill_summary(c, batch.add_containers());
    if (batch.containers_size() == kBatch) {
      if (context->IsCancelled() || !writer->Write(batch)) return grpc::Status::CANCELLED;
      batch.Clear();
    }
  }
  if (batch.containers_size() > 0 && !writer->Write(batch)) return grpc::Status::CANCELLED;
  return grpc::Status::OK;
}

grpc::Status RuntimeService::ExecSync(grpc::ServerContext*, const v1::ExecSyncRequest* request,
                                      v1::ExecSyncResponse* response) {
  std::vector<std::string> argv(request->cmd().begin(), request->cmd().end());
  auto result = containers_.exec_sync(request->container_id(), argv,
                                      std::chrono::seconds(std::max<int64_t>(0, request->timeout())));
  if (!result.ok()) return to_grpc(result.status());
  if (result->timed_out) {
    return to_grpc(error(Code::kDeadlineExceeded, "command {} in container {} timed out after {}s", argv.front(),
                         request->container_id(), request->timeout()));
  }
  response->set_stdout(std::move(result->out));
  response->set_stderr(std::move(result->err));
  response->set_exit_code(result->exit_code);
  return grpc::Status::OK;
}

grpc::Status RuntimeService::UpdateContainerResources(grpc::ServerContext*,
                                                      const v1::UpdateContainerResourcesRequest* request,
                                                      v1::UpdateContainerResourcesResponse*) {
  if (!request->has_linux()) return grpc::Status::OK;  // nothing Linux to change
  auto resources = oci::container_resources(resources_from(request->linux()), request->container_id());
  if (!resources.ok()) return to_grpc(resources.status());
  return to_grpc(containers_.update_resources(request->container_id(), *resources));
}

grpc::Status RuntimeService::ReopenContainerLog(grpc::ServerContext*, const v1::ReopenContainerLogRequest* request,
                                                v1::ReopenContainerLogResponse*) {
  return to_grpc(containers_.reopen_log(request->container_id()));
}

}  // namespace crio::daemon
