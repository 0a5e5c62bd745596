#pragma once
// The daemon's side of the streaming server: exec and attach reach containers
// through their runtime, port-forward dials into the pod's network namespace.

#include "containers.hpp"
#include "pods.hpp"
#include "stream/server.hpp"

#include <crio/core/config.hpp>

#include <memory>

namespace crio::daemon {

class StreamBackend final : public stream::Backend {
 public:
  StreamBackend(Containers& containers, Pods& pods) : containers_(containers), pods_(pods) {}

  Result<std::unique_ptr<oci::ExecSession>> exec(const stream::ExecRequest& request,
                                                 std::optional<oci::TerminalSize> size) override;
  Result<fs::UniqueFd> attach(const std::string& container_id) override;
  Status resize(const std::string& container_id, oci::TerminalSize size) override;
  Result<fs::UniqueFd> dial(const std::string& pod_id, uint16_t port) override;

 private:
  Containers& containers_;
  Pods& pods_;
};

// The server's options from crio.conf's [crio.api] stream_* keys.
Result<stream::ServerOptions> stream_server_options(const core::Config& config);

}  // namespace crio::daemon
