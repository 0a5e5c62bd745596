#pragma once
// Pieces of the spec serializer that the runtime driver reuses.

#include <crio/oci/spec.hpp>

#include <nlohmann/json.hpp>

namespace crio::oci::detail {

// linux.resources as runc/crun read it (also the body of `runtime update --resources`).
nlohmann::json resources_to_json(const Resources& resources);

}  // namespace crio::oci::detail
