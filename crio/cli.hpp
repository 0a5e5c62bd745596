#pragma once
// The daemon's command line, as crio(8) spells it: global flags (one per crio.conf
// option, generated from core::config_options()), then an optional subcommand.

#include <crio/core/config.hpp>
#include <crio/core/status.hpp>

#include <string>
#include <vector>

namespace crio::daemon {

struct CommandLine {
  enum class Command { kServe, kConfig, kVersion, kStatus, kHelp, kWipe, kCheck };
  Command command = Command::kServe;
  // Arguments after the subcommand: for `status` they go to the crio-status CLI
  // untouched; for `version` they are its own flags (--json/-j, --verbose); for `wipe`
  // and `check` theirs (crio wipe, crio check).
  std::vector<std::string> rest;
  core::ConfigSources sources;        // config file/dir/storage.conf + flag values, kept for SIGHUP reload
  core::Config config;                // the effective configuration
  bool print_defaults = false;        // `crio config --default`: config holds the defaults
  std::vector<std::string> warnings;  // unknown keys etc., to be logged by main
  std::vector<std::string> notes;     // start-up facts worth an info line (AppArmor disabled, ...)
  std::string help_text;              // full --help output
};

// argv as main receives it. Each flag may also come from CRI-O's environment variable
// for it (CONTAINER_LOG_LEVEL for --log-level, ...; see crio --help), which the command
// line overrides and which overrides the files. Errors (unknown flag, bad value, bad file) → InvalidArgument
// with a clear message. `crio --help`, `crio help` and `crio version` do not read the
// configuration, so they work with a broken crio.conf; `crio status` falls back to the
// defaults (with a warning) when the configuration cannot be loaded.
Result<CommandLine> parse_command_line(int argc, const char* const* argv);

}  // namespace crio::daemon
