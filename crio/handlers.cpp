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
  handler.monitor_path = conf.monitor_path.empty() ? config.conmon : conf.monitor_path;
  // The handler's own monitor_env, else [crio.runtime] conmon_env (crio.conf(5)). CRI-O
  // v1.29 lets a set conmon_env win, but leaves it empty by default, where ours holds
  // PATH: with that order no handler could have an environment of its own.
  handler.monitor_env = conf.monitor_env.empty() ? config.conmon_env : conf.monitor_env;
  return handler;
}

}  // namespace crio::daemon
