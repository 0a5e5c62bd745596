#pragma once
// Exec, attach and port-forward over WebSocket (RFC 6455) with the Kubernetes channel
// protocols: every binary message starts with its channel number (0 stdin, 1 stdout,
// 2 stderr, 3 error, 4 resize; v5 adds 255 = "close the channel in the next byte").
// Port-forward uses channel 2i for the data and 2i+1 for the errors of the i-th
// `port` query parameter; each channel's first message is that port, little endian.

#include "stream/server.hpp"

#include <chrono>
#include <string>
#include <variant>
#include <vector>

namespace crio::daemon::stream {

using AnyRequest = std::variant<ExecRequest, AttachRequest, PortForwardRequest>;

// Completes the upgrade on `fd` (answering the handshake, or an HTTP error) and
// serves the request. `ports` are the port-forward request's `port` query values.
void serve_websocket(int fd, const std::string& key, const std::vector<std::string>& protocols,
                     const std::vector<std::string>& ports, std::string already_read, const AnyRequest& request,
                     Backend& backend, std::chrono::milliseconds idle_timeout);

}  // namespace crio::daemon::stream
