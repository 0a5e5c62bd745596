#include "streaming.hpp"

#include <crio/net/netns.hpp>

namespace crio::daemon {

Result<std::unique_ptr<oci::ExecSession>> StreamBackend::exec(const stream::ExecRequest& request,
                                                              std::optional<oci::TerminalSize> size) {
  oci::ExecOptions options;
  options.size = size;
  options.argv = request.cmd;
  options.tty = request.tty;
  options.stdin = request.stdin;
  return containers_.exec(request.container_id, options);
}

Result<fs::UniqueFd> StreamBackend::attach(const std::string& container_id) { return containers_.attach(container_id); }

Status StreamBackend::resize(const std::string& container_id, oci::TerminalSize size) {
  return containers_.resize_terminal(container_id, size);
}

Result<fs::UniqueFd> StreamBackend::dial(const std::string& pod_id, uint16_t port) {
  CRIO_ASSIGN_OR_RETURN(Pod pod, pods_.get(pod_id));
  if (pod.state != PodState::kReady) return error(Code::kFailedPrecondition, "pod sandbox {} is not ready", pod.id);
  return net::connect_loopback(pod.netns_path, port);
}

Result<stream::ServerOptions> stream_server_options(const core::Config& config) {
  stream::ServerOptions options;
  options.address = config.stream_address;
  options.port = config.stream_port;
  if (config.stream_enable_tls) {
    // The files are read by Server::start(), which names any that is missing or bad.
    if (config.stream_tls_cert.empty() || config.stream_tls_key.empty()) {
      return error(Code::kInvalidArgument,
                   "crio.api.stream_enable_tls: TLS needs both stream_tls_cert and stream_tls_key");
    }
    options.tls = true;
    options.tls_cert = config.stream_tls_cert;
    options.tls_key = config.stream_tls_key;
    options.tls_ca = config.stream_tls_ca;
  }
  if (!config.stream_idle_timeout.empty()) {
    CRIO_ASSIGN_OR_RETURN(auto idle, core::parse_duration(config.stream_idle_timeout));
    options.idle_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(idle);
  }
  return options;
}

}  // namespace crio::daemon
