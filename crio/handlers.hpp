#pragma once
// Runtime handlers as the configuration names them, resolved to what libcrio-oci needs.

#include <crio/core/config.hpp>
#include <crio/oci/runtime_handler.hpp>

#include <string>

namespace crio::daemon {

// The handler called `name` ("" means the default runtime), with its paths filled in:
// an empty runtime_path is looked up in $PATH, an empty runtime_root is /run/<name>,
// an empty monitor_path is [crio.runtime] conmon. NotFound names unknown handlers.
Result<oci::RuntimeHandler> runtime_handler(const core::Config& config, const std::string& name);

}  // namespace crio::daemon
