#pragma once
// `runtime exec` run by the daemon itself (no conmon): the runtime process is our
// child, so waitpid gives the command's exit status (runc and crun exit with it).

#include <crio/core/status.hpp>
#include <crio/oci/runtime.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace crio::oci::detail {

struct ExecStart {
  std::string container_id;
  std::string runtime_name;  // for messages
  std::string runtime_path;
  std::string runtime_root;
  std::vector<std::string> cgroup_args;  // the cgroup driver's runtime flags
  // A private directory for process.json, the pid file and the runtime's log is made
  // under it, and removed with the session.
  std::string base_dir;
  std::string process_json;  // the OCI process (args, terminal, consoleSize set)
  bool tty = false;
  bool stdin = false;
  std::optional<TerminalSize> size;  // with tty
  // With tty: run the runtime with --console-socket and take the container's pty
  // master from it, instead of giving the runtime a pty of ours to copy to (crun).
  bool console_socket = false;
  // How long the runtime may take to start the command.
  std::chrono::milliseconds start_timeout{std::chrono::seconds(60)};
};

// Starts the command; returns once the runtime has written its pid file (the command
// runs, or already ran) or failed (NotFound / FailedPrecondition with its message).
Result<std::unique_ptr<ExecSession>> start_exec(const ExecStart& start);

// ExecSync: runs the command (stdin /dev/null, no tty) to its end, collecting stdout
// and stderr (16 MiB each); a non-zero timeout kills it and sets timed_out.
Result<ExecResult> run_exec(const ExecStart& start, std::chrono::milliseconds timeout);

}  // namespace crio::oci::detail
