#include <crio/oci/runtime_handler.hpp>

#include <crio/core/process.hpp>

#include <chrono>

namespace crio::oci {

std::vector<std::string> runtime_global_args(const RuntimeHandler& handler) {
  std::vector<std::string> args = {"--root", handler.runtime_root};
  for (auto& a : handler.cgroup_driver.runtime_args()) args.push_back(std::move(a));
  return args;
}

Result<std::string> runtime_version(const std::string& runtime_path) {
  process::Options options;
  options.timeout = std::chrono::seconds(10);
  CRIO_ASSIGN_OR_RETURN(process::Output out, process::run({runtime_path, "--version"}, options));
  if (out.timed_out) return error(Code::kDeadlineExceeded, "{} --version did not answer in 10s", runtime_path);
  if (out.exit_code != 0) {
    return error(Code::kFailedPrecondition, "{} --version exited with {}: {}", runtime_path, out.exit_code, out.err);
  }
  return out.out.substr(0, out.out.find('\n'));
}

Status check_handler(const RuntimeHandler& handler) {
  if (handler.runtime_type != "oci") {
    return error(Code::kFailedPrecondition, "runtime handler {}: runtime_type \"{}\" is not supported (only \"oci\")",
                 handler.name, handler.runtime_type);
  }
  if (!process::is_executable(handler.runtime_path)) {
    return error(Code::kFailedPrecondition, "runtime handler {}: runtime {} is not an executable file", handler.name,
                 handler.runtime_path);
  }
  if (!process::is_executable(handler.monitor_path)) {
    return error(Code::kFailedPrecondition, "runtime handler {}: monitor {} is not an executable file", handler.name,
                 handler.monitor_path);
  }
  return ok_status();
}

}  // namespace crio::oci
