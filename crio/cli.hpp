#pragma once
// The daemon's command line, as crio(8) spells it: global flags (one per crio.conf
// option, generated from core::config_options()), then an optional subcommand.

#include <crio/core/config.hpp>
#include <crio/core/status.hpp>

#include <string>
#include <vector>

namespace crio::daemon {

struct CommandLine {
  enum class Command { kServe, kConfig, kVersion, kStatus, kHelp, kCompletion, kMan, kMarkdown, kWipe, kCheck };
  Command command = Command::kServe;
  // Arguments after the subcommand: for `status` they go to the crio-status CLI
  // untouched; for `version` they are its own flags (--json/-j, --verbose); for
  // `completion` the shell; for `wipe` and `check` theirs (crio wipe, crio check).
  std::vector<std::string> rest;
  core::ConfigSources sources;        // config file/dir/storage.conf + flag values, kept for SIGHUP reload
  core::Config config;                // the effective configuration
  bool print_defaults = false;        // `crio config --default`: config holds the defaults
  std::vector<std::string> warnings;  // unknown keys etc., to be logged by main
  std::vector<std::string> notes;     // start-up facts worth an info line (AppArmor disabled, ...)
  std::string help_text;              // full --help output
  std::string log_file;               // --log: the daemon's log goes there instead of stderr
  std::string log_format;             // --log-format: "text" or "json"; "" is text
  // --registries-conf: the registries.conf every reader of $CONTAINERS_REGISTRIES_CONF
  // (image pulls, reloads) takes; main puts it there before anything reads it.
  std::string registries_conf;
};

// argv as main receives it. Each flag may also come from CRI-O's environment variable
// for it (CONTAINER_LOG_LEVEL for --log-level, ...; see crio --help), which the command
// line overrides and which overrides the files. Errors (unknown flag, bad value, bad file) → InvalidArgument
// with a clear message. `crio --help`, `crio help` and `crio version` do not read the
// configuration, so they work with a broken crio.conf; `crio status` falls back to the
// defaults (with a warning) when the configuration cannot be loaded.
Result<CommandLine> parse_command_line(int argc, const char* const* argv);

// What --help, `crio man`, `crio markdown` and `crio completion` describe.
struct FlagDoc {
  std::string name;  // long name without dashes
  char short_name = 0;
  std::string value_name;  // "" for a switch
  std::string help;
  bool refused = false;  // one of CRI-O's flags this daemon refuses unless given CRI-O's default
};
std::vector<FlagDoc> flag_docs();

struct CommandDoc {
  std::vector<std::string> names;  // the name, then its aliases
  std::string arguments;
  std::string summary;
};
const std::vector<CommandDoc>& command_docs();

}  // namespace crio::daemon
