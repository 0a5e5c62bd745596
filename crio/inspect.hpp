#pragma once
// What the status API's GET /containers/:id answers, in CRI-O's shape.

#include "containers.hpp"
#include "pods.hpp"

#include <nlohmann/json.hpp>

namespace crio::daemon {

// `id` names a container or, as CRI-O answers for its infra containers, a pod: then
// the pod's infra container describes it, and its pid is that of the pod's first
// running container when there is no infra process (a dropped infra container). An
// unknown ID is NotFound with CRI-O's message.
Result<nlohmann::json> inspect_container(const Containers& containers, const Pods& pods, const std::string& id);

}  // namespace crio::daemon
