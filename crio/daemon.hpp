#pragma once
// The daemon: the socket, the gRPC services and the status API, from start to a
// graceful stop. Containers are never stopped by a daemon shutdown.

#include "cli.hpp"

namespace crio::daemon {

// Runs until SIGTERM or SIGINT; returns the process exit code.
int serve(const CommandLine& command_line);

}  // namespace crio::daemon
