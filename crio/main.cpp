// crio: the CRI daemon, and its `config`, `version` and `status` subcommands.

#include "cli.hpp"
#include "daemon.hpp"

#include <crio-status/cli.hpp>
#include <crio/core/build_info.hpp>
#include <crio/core/config.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include <iostream>

namespace {

void print_version(bool json) {
  const auto& b = crio::build_info();
  if (json) {
    nlohmann::json out = {{"version", b.version},       {"gitCommit", b.git_commit}, {"gitTreeState", b.git_tree_state},
                          {"buildDate", b.build_date}, {"compiler", b.compiler},    {"platform", b.platform}};
    fmt::print("{}\n", out.dump(2));
    return;
  }
  fmt::print("Version:       {}\nGitCommit:     {}\nGitTreeState:  {}\nBuildDate:     {}\nCompiler:      {}\n"
             "Platform:      {}\n",
             b.version, b.git_commit, b.git_tree_state, b.build_date, b.compiler, b.platform);
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
  switch (cl.command) {
    case CommandLine::Command::kHelp:
      fmt::print("{}", cl.help_text);
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
    case CommandLine::Command::kServe:
      if (auto s = crio::core::prepare_for_execution(cl.config, cl.notes); !s.ok()) {
        fmt::print(stderr, "crio: {}\n", s.message());
        return 1;
      }
      return crio::daemon::serve(cl);
  }
  return 0;
}
