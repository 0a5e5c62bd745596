#pragma once
// Running the project's binaries from tests: one-shot commands with captured
// output, and long-running children that are always killed at the end.

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace crio::test {

struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed by one
  std::string out;
  std::string err;
};

// Runs argv[0] (a path) with `env_extra` ("K=V") added to the environment.
CommandResult run_command(const std::vector<std::string>& argv, const std::vector<std::string>& env_extra = {});

class Child {
 public:
  Child() = default;
  // Starts argv with stdout and stderr appended to `log_path`.
  Child(const std::vector<std::string>& argv, const std::string& log_path,
        const std::vector<std::string>& env_extra = {});
  Child(Child&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  Child& operator=(Child&& o) noexcept;
  ~Child();  // SIGKILL and reap, if still running

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  void signal(int sig) const;
  // Waits for the exit; returns the exit code (128 + signal when killed), or -1 on timeout.
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  pid_t pid_ = -1;
};

// Polls `check` every 10 ms until it returns true or `timeout` passes.
template <typename F>
bool eventually(F&& check, std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Path of a binary built by this project, e.g. binary("crio/crio").
std::string built_binary(const std::string& relative);

}  // namespace crio::test

#include <thread>

template <typename F>
bool crio::test::eventually(F&& check, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (check()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}
