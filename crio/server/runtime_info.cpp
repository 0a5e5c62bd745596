// Version, Status and RuntimeConfig: what the runtime is and whether it can work.

#include "handlers.hpp"
#include "server/grpc_status.hpp"
#include "server/runtime_service.hpp"

#include <crio/core/build_info.hpp>

#include <nlohmann/json.hpp>

namespace crio::daemon {
namespace {

// The CRI version of the kubelet-facing API this server speaks.
constexpr const char* kKubeletApiVersion = "0.1.0";

void add_condition(v1::RuntimeStatus* status, const char* type, const Condition& condition) {
  auto* c = status->add_conditions();
  c->set_type(type);
  c->set_status(condition.ready);
  c->set_reason(condition.reason);
  c->set_message(condition.message);
}

}  // namespace

grpc::Status RuntimeService::Version(grpc::ServerContext*, const v1::VersionRequest*, v1::VersionResponse* response) {
  response->set_version(kKubeletApiVersion);
  response->set_runtime_name("crio");
  response->set_runtime_version(build_info().version);
  response->set_runtime_api_version("v1");
  return grpc::Status::OK;
}

grpc::Status RuntimeService::Status(grpc::ServerContext*, const v1::StatusRequest* request,
                                    v1::StatusResponse* response) {
  Condition runtime = readiness_.get();
  Condition network = cni_.readiness();
  add_condition(response->mutable_status(), "RuntimeReady", runtime);
  add_condition(response->mutable_status(), "NetworkReady", network);

  // The default handler is listed under its own name and under "" (what the kubelet
  // sends when a pod names no runtime class).
  auto add_handler = [&](const std::string& name) {
    auto* h = response->add_runtime_handlers();
    h->set_name(name);
    h->mutable_features()->set_recursive_read_only_mounts(false);
    h->mutable_features()->set_user_namespaces(false);
  };
  const std::shared_ptr<const LiveSettings> live = live_.get();
  add_handler("");
  for (const auto& [name, handler] : live->config.runtimes) add_handler(name);
  response->mutable_features()->set_supplemental_groups_policy(true);

  if (request->verbose()) {
    nlohmann::json handlers = nlohmann::json::object();
    for (const auto& [name, conf] : live->config.runtimes) {
      auto resolved = runtime_handler(live->config, name);
      if (!resolved.ok()) continue;
      handlers[name] = {{"runtime_path", resolved->runtime_path},
                        {"runtime_root", resolved->runtime_root},
                        {"runtime_type", resolved->runtime_type},
                        {"monitor_path", resolved->monitor_path}};
    }
    nlohmann::json config = {
        {"sandboxImage", live->config.pause_image},  // CRI-O's one key here
        {"default_runtime", live->config.default_runtime},
        {"runtimes", handlers},
        {"cgroup_manager", config_.cgroup_manager},
        {"storage_driver", config_.storage_driver},
        {"root", config_.root},
        {"runroot", config_.runroot},
        {"network_dir", config_.network_dir},
        {"plugin_dirs", config_.plugin_dirs},
        {"cni_default_network", config_.cni_default_network},
    };
    (*response->mutable_info())["config"] = config.dump();
    (*response->mutable_info())["version"] =
        nlohmann::json{{"version", build_info().version}, {"git_commit", build_info().git_commit}}.dump();
    // Every value is JSON text: crictl splices them into one JSON document unquoted,
    // so a bare message (one with a quote in it, say) would break `crictl info`.
    (*response->mutable_info())["lastCNILoadStatus"] =
        nlohmann::json(network.ready ? std::string("OK") : network.message).dump();
  }
  return grpc::Status::OK;
}

grpc::Status RuntimeService::UpdateRuntimeConfig(grpc::ServerContext*, const v1::UpdateRuntimeConfigRequest* request,
                                                 v1::UpdateRuntimeConfigResponse*) {
  const std::string& cidr = request->runtime_config().network_config().pod_cidr();
  if (cidr.empty()) return grpc::Status::OK;
  return to_grpc(cni_.set_pod_cidr(cidr));
}

grpc::Status RuntimeService::RuntimeConfig(grpc::ServerContext*, const v1::RuntimeConfigRequest*,
                                           v1::RuntimeConfigResponse* response) {
  response->mutable_linux()->set_cgroup_driver(config_.cgroup_manager == "systemd" ? v1::CgroupDriver::SYSTEMD
                                                                                   : v1::CgroupDriver::CGROUPFS);
  return grpc::Status::OK;
}

}  // namespace crio::daemon
