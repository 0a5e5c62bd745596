#pragma once
// Writing to a pipe or socket whose reader has gone raises SIGPIPE in the writer. A
// library must not rely on its host ignoring it: code that writes to a child's stdin
// or to a peer holds the signal back for its thread while it runs.

#include <csignal>
#include <ctime>

#include <pthread.h>

namespace crio::core {

// Blocks SIGPIPE for the calling thread; on destruction a SIGPIPE raised meanwhile is
// taken off before the previous mask returns. Nothing changes when it was blocked already.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe_, &previous_);
  }
  ~SigpipeGuard() {
    if (sigismember(&previous_, SIGPIPE)) return;
    const timespec no_wait{};
    while (::sigtimedwait(&pipe_, nullptr, &no_wait) > 0) {
    }
    ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t previous_{};
};

}  // namespace crio::core
