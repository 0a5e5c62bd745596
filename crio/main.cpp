// crio: the CRI daemon, and its `check`, `complete`, `config`, `man`, `markdown`,
// `status`, `version` and `wipe` subcommands.

#include "cli.hpp"
#include "cli_docs.hpp"
#include "check.hpp"
#include "daemon.hpp"
#include "wipe.hpp"

#include <crio-status/cli.hpp>
#include <crio/core/build_info.hpp>
#include <crio/core/config.hpp>
#include <crio/core/log.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string_view>

#include <iostream>

namespace {

bool file_starts_with(const char* path, std::string_view prefix) {
  std::ifstream in(path);
  std::string line;
  return std::getline(in, line) && line.rfind(prefix, 0) == 0;
}

bool seccomp_enabled() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Seccomp:", 0) == 0) return true;
  }
  return false;
}

// The fields of CRI-O's `crio version`. GoVersion and BuildTags have no meaning for a
// C++ build and say so; Linkmode is what the binary is.
void print_version(bool json) {
  const auto& b = crio::build_info();
  bool seccomp = seccomp_enabled();
  bool apparmor = file_starts_with("/sys/module/apparmor/parameters/enabled", "Y");
  std::string go_version = "none (C++, see compiler)";
  if (json) {
    nlohmann::json out = {{"version", b.version},
                          {"gitCommit", b.git_commit},
                          {"gitTreeState", b.git_tree_state},
                          {"buildDate", b.build_date},
                          {"goVersion", go_version},
                          {"compiler", b.compiler},
                          {"platform", b.platform},
                          {"linkmode", "dynamic"},
                          {"buildTags", nlohmann::json::array()},
                          {"seccompEnabled", seccomp},
                          {"appArmorEnabled", apparmor}};
    fmt::print("{}\n", out.dump(2));
    return;
  }
  fmt::print("Version:          {}\nGitCommit:        {}\nGitTreeState:     {}\nBuildDate:        {}\n"
             "GoVersion:        {}\nCompiler:         {}\nPlatform:         {}\nLinkmode:         dynamic\n"
             "BuildTags:        none\nSeccompEnabled:   {}\nAppArmorEnabled:  {}\n",
             b.version, b.git_commit, b.git_tree_state, b.build_date, go_version, b.compiler, b.platform, seccomp,
             apparmor);
}

// --log and --log-format, for the commands that log.
bool apply_log_flags(const crio::daemon::CommandLine& cl) {
  if (!cl.log_format.empty()) crio::log::set_format(*crio::log::parse_format(cl.log_format));
  if (auto s = crio::log::set_output_file(cl.log_file); !s.ok()) {
    fmt::print(stderr, "crio: {}\n", s.message());
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using crio::daemon::CommandLine;
  auto parsed = crio::daemon::parse_command_line(argc, argv);
  if (!parsed.ok()) {
    fmt::print(stderr, "crio: {}\n", parsed.status().message());
    return 2;
  }
  CommandLine& cl = *parsed;
  // CRI-O's --registries-conf names the file containers' own variable names; set here,
  // while the process has one thread, it is what every later reader sees.
  if (!cl.registries_conf.empty()) ::setenv("CONTAINERS_REGISTRIES_CONF", cl.registries_conf.c_str(), 1);
  switch (cl.command) {
    case CommandLine::Command::kHelp:
      fmt::print("{}", cl.help_text);
      return 0;
    case CommandLine::Command::kCompletion:
      fmt::print("{}", crio::daemon::completion_script(cl.rest.empty() ? "bash" : cl.rest.front()));
      return 0;
    case CommandLine::Command::kMan:
      fmt::print("{}", crio::daemon::man_page());
      return 0;
    case CommandLine::Command::kMarkdown:
      fmt::print("{}", crio::daemon::markdown_page());
      return 0;
    case CommandLine::Command::kVersion:
      print_version(std::find(cl.rest.begin(), cl.rest.end(), "--json") != cl.rest.end() ||
                    std::find(cl.rest.begin(), cl.rest.end(), "-j") != cl.rest.end());
      return 0;
    case CommandLine::Command::kConfig:
      for (const auto& w : cl.warnings) fmt::print(stderr, "crio: warning: {}\n", w);
      if (cl.print_defaults) {
        // As CRI-O: --default shows every option, none commented out.
        fmt::print("{}", crio::core::to_toml(cl.config));
      } else {
        auto defaults = crio::core::defaults_for(cl.sources);
        if (!defaults.ok()) {
          fmt::print(stderr, "crio: {}\n", defaults.status().message());
          return 2;
        }
        fmt::print("{}", crio::core::to_commented_toml(cl.config, *defaults));
      }
      return 0;
    case CommandLine::Command::kStatus: {
      std::vector<const char*> args = {"crio status"};
      for (const auto& a : cl.rest) args.push_back(a.c_str());
      return crio::status::run_cli(static_cast<int>(args.size()), args.data(), std::cout, std::cerr);
    }
    case CommandLine::Command::kWipe:
      if (!apply_log_flags(cl)) return 1;
      return crio::daemon::run_wipe(cl);
    case CommandLine::Command::kCheck:
      if (!apply_log_flags(cl)) return 1;
      return crio::daemon::run_check(cl);
    case CommandLine::Command::kServe:
      if (!apply_log_flags(cl)) return 1;
      if (auto s = crio::core::prepare_for_execution(cl.config, cl.notes); !s.ok()) {
        fmt::print(stderr, "crio: {}\n", s.message());
        return 1;
      }
      return crio::daemon::serve(cl);
  }
  return 0;
}
