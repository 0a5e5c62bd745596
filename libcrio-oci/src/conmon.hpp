#pragma once
// Starting conmon with its sync and start pipes, and reading its sync-pipe messages.

#include <crio/core/fs.hpp>
#include <crio/core/status.hpp>

#include <spawn.h>
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace crio::oci::detail {

struct SpawnedConmon {
  pid_t pid = -1;        // the first conmon process; it forks the monitor and exits
  fs::UniqueFd sync_r;   // {"data": N, "message": "..."} lines
  fs::UniqueFd start_w;  // one byte lets conmon go on (when asked for)
  fs::UniqueFd err_r;    // conmon's stderr until it detaches
};

// posix_spawn conmon with the sync pipe as fd 3 and (if `start_pipe`) the start pipe
// as fd 4, the only fds it inherits besides /dev/null stdio and a stderr pipe.
// posix_spawn attributes for a child that must not inherit the daemon's signal
// state: nothing blocked, every disposition back to its default. `flags` adds to
// POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF (e.g. POSIX_SPAWN_SETSID).
class CleanSignalsAttr {
 public:
  explicit CleanSignalsAttr(short flags = 0);
  ~CleanSignalsAttr();
  CleanSignalsAttr(const CleanSignalsAttr&) = delete;
  CleanSignalsAttr& operator=(const CleanSignalsAttr&) = delete;
  const posix_spawnattr_t* get() const { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

// `env`: conmon's environment (plus _OCI_SYNCPIPE, _OCI_STARTPIPE and XDG_RUNTIME_DIR);
// null: the daemon's own, minus those of systemd's socket activation.
Result<SpawnedConmon> spawn_conmon(const std::string& conmon, const std::vector<std::string>& args, bool start_pipe,
                                   const std::vector<std::string>* env = nullptr);

// Reaps the first conmon process (it exits right after forking the monitor).
// Returns its exit status (128 + signal if killed).
int reap(pid_t pid);

struct SyncMessage {
  int data = 0;
  std::string message;
};

class SyncReader {
 public:
  explicit SyncReader(int fd) : fd_(fd) {}
  // The next message; nullopt on EOF; DeadlineExceeded at `deadline`.
  Result<std::optional<SyncMessage>> next(std::chrono::steady_clock::time_point deadline);

 private:
  int fd_;
  std::string buf_;
};

// Whatever is readable now (non-blocking), trimmed, at most 4 KiB.
std::string drain(int fd);

// Turns a runtime's stderr (plain or `--log-format json` lines) into one message.
std::string runtime_error_text(const std::string& err);
// Whether a runtime's error text says the container does not exist.
bool is_not_found(std::string text);

// Waits until the process behind `pidfd` exits; false on timeout.
bool wait_pidfd(int pidfd, std::chrono::milliseconds timeout);
int pidfd_open(pid_t pid);
bool pidfd_signal(int pidfd, int signal);

}  // namespace crio::oci::detail
