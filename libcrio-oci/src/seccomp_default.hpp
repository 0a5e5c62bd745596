#pragma once
// The compiled-in RuntimeDefault seccomp profile.

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace crio::oci::detail {

// linux.seccomp for a process whose effective capabilities are `caps`.
nlohmann::json runtime_default_seccomp(const std::vector<std::string>& caps, bool native_arch_only);

}  // namespace crio::oci::detail
