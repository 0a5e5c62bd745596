#pragma once
// Running external programs (runtimes, CNI plugins, conmon) and collecting their
// output, with a deadline: a hung child is killed and reported, never waited on forever.

#include <crio/core/export.hpp>
#include <crio/core/status.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace crio::process {

struct Options {
  // Replaces the environment when set; otherwise the child inherits ours.
  std::optional<std::vector<std::string>> env;
  std::string stdin_data;
  std::string working_dir;
  // Zero means no limit.
  std::chrono::milliseconds timeout{0};
  // Output beyond this many bytes per stream is dropped (the child is not blocked).
  size_t max_output = 16 * 1024 * 1024;
};

struct Output {
  int exit_code = -1;  // the exit status, or 128 + signal
  std::string out;
  std::string err;
  bool timed_out = false;
};

// Runs argv (argv[0] is a path, or a name looked up in $PATH). Fails only when the
// program cannot be started; a non-zero exit is reported in Output::exit_code.
CRIO_CORE_EXPORT Result<Output> run(const std::vector<std::string>& argv, const Options& options = {});

// Finds `name` in `dirs` (or $PATH when dirs is empty); returns the first executable.
CRIO_CORE_EXPORT std::optional<std::string> find_executable(const std::string& name,
                                                            const std::vector<std::string>& dirs = {});

CRIO_CORE_EXPORT bool is_executable(const std::string& path);

}  // namespace crio::process
