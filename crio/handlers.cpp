#include "handlers.hpp"

#include <crio/core/process.hpp>

namespace crio::daemon {

Result<oci::RuntimeHandler> runtime_handler(const core::Config& config, const std::string& requested) {
  const std::string& name = requested.empty() ? config.default_runtime : requested;
  auto it = config.runtimes.find(name);
  if (it == config.runtimes.end()) {
    return error(Code::kNotFound, "runtime handler \"{}\" is not configured ([crio.runtime.runtimes.{}])", name, name);
  }
  const core::RuntimeHandler& conf = it->second;
  oci::RuntimeHandler handler;
  handler.name = name;
  handler.runtime_type = conf.runtime_type;
  handler.runtime_path = conf.runtime_path;
  if (handler.runtime_path.empty()) handler.runtime_path = process::find_executable(name).value_or(name);
  handler.runtime_root = conf.runtime_root.empty() ? "/run/" + name : conf.runtime_root;
  handler.monitor_path = !conf.monitor_path.empty() ? conf.monitor_path
                         : !config.conmon.empty()   ? config.conmon
                                                    : process::find_executable("conmon").value_or("conmon");
  // As CRI-O: [crio.runtime] conmon_env, when set, replaces every handler's monitor_env.
  handler.monitor_env = config.conmon_env.empty() ? conf.monitor_env : config.conmon_env;
  handler.no_pivot = config.no_pivot;
  handler.kill_timeout = std::chrono::seconds(config.ctr_stop_timeout);
  handler.cgroup_driver = oci::CgroupDriver::of(config);
  return handler;
}

}  // namespace crio::daemon
