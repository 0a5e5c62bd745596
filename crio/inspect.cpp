#include "inspect.hpp"

namespace crio::daemon {
namespace {

nlohmann::json describe(const Container& c, const Pod& pod) {
  return {{"name", c.full_name},
          {"pid", c.process.pid},
          {"image", c.image_name},
          {"image_ref", c.image_ref},
          {"created_time", c.created_at},
          {"labels", c.spec.labels},
          {"annotations", c.spec.annotations},
          {"crio_annotations", nlohmann::json::object()},
          {"log_path", c.log_path},
          {"root", c.rootfs},
          {"sandbox", c.pod_id},
          {"ip_addresses", pod.ips}};
}

Status not_found(const std::string& id) {
  return error(Code::kNotFound, "can't find the container with id {}", id);
}

}  // namespace

Result<nlohmann::json> inspect_container(const Containers& containers, const Pods& pods, const std::string& id) {
  if (id.empty()) return not_found(id);
  if (auto c = containers.get(id); c.ok()) {
    auto pod = pods.get(c->pod_id);
    if (!pod.ok()) return error(Code::kNotFound, "can't find the sandbox for container id {}", id);
    return describe(*c, *pod);
  }
  auto pod = pods.get(id);
  if (!pod.ok()) return not_found(id);

  std::vector<Container> members = containers.list({.pod_id = pod->id});
  const Container* infra = nullptr;
  for (const auto& c : members) {
    if (Containers::is_infra(c)) infra = &c;
  }
  nlohmann::json out;
  if (infra != nullptr) {
    out = describe(*infra, *pod);
  } else {
    // A dropped infra container: the pod itself is described.
    ContainerSpec infra_spec;
    infra_spec.name = Containers::kInfraName;
    infra_spec.attempt = pod->spec.attempt;
    out = {{"name", Containers::full_name(infra_spec, pod->spec)},
           {"pid", 0},
           {"image", ""},
           {"image_ref", ""},
           {"created_time", pod->created_at},
           {"labels", pod->spec.labels},
           {"annotations", pod->spec.annotations},
           {"crio_annotations", nlohmann::json::object()},
           {"log_path", ""},
           {"root", pod->rootfs},
           {"sandbox", pod->id},
           {"ip_addresses", pod->ips}};
  }
  // The pid finds the pod's network for stats; any running member shares it.
  if (out["pid"].get<int64_t>() <= 0) {
    for (const auto& c : members) {
      if (c.state == ContainerState::kRunning && c.process.pid > 0) {
        out["pid"] = c.process.pid;
        break;
      }
    }
  }
  return out;
}

}  // namespace crio::daemon
