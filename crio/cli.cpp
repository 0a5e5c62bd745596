#include "cli.hpp"

#include <crio/core/log.hpp>

#include <fmt/format.h>
#include <boost/program_options.hpp>

#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>

namespace crio::daemon {
namespace {

namespace po = boost::program_options;
using core::OptionInfo;
using core::OptionType;

// CRI-O's flags (and their environment variables) for what this daemon does not do. A
// command line or unit file written for CRI-O may carry them: given CRI-O's default they
// ask for nothing and are accepted; any other value asks for something this daemon
// would not do, so it stops start-up, naming the flag and why, instead of being ignored.
struct ForeignFlag {
  const char* name;           // long name without dashes
  const char* env;            // CRI-O's environment variable for it, or ""
  const char* default_value;  // as CRI-O reads it; booleans compare as true/false
  bool boolean;
  const char* why;
};

constexpr const char* kNoProfiling = "Go profiling does not apply to this daemon";
constexpr const char* kNoNri = "NRI plugins are not supported";
constexpr const char* kNoTracing = "OpenTelemetry tracing is not supported";
constexpr const char* kNoUserns = "user-namespace mapping limits are not implemented";

constexpr ForeignFlag kForeignFlags[] = {
    {"cdi-spec-dirs", "CONTAINER_CDI_SPEC_DIRS", "/etc/cdi,/var/run/cdi", false, "CDI devices are not supported"},
    {"enable-tracing", "CONTAINER_ENABLE_TRACING", "false", true, kNoTracing},
    {"tracing-endpoint", "CONTAINER_TRACING_ENDPOINT", "0.0.0.0:4317", false, kNoTracing},
    {"tracing-sampling-rate-per-million", "CONTAINER_TRACING_SAMPLING_RATE_PER_MILLION", "0", false, kNoTracing},
    {"hostnetwork-disable-selinux", "CONTAINER_HOSTNETWORK_DISABLE_SELINUX", "true", true,
     "SELinux is not supported, so there is nothing to disable"},
    {"minimum-mappable-uid", "CONTAINER_MINIMUM_MAPPABLE_UID", "-1", false, kNoUserns},
    {"minimum-mappable-gid", "CONTAINER_MINIMUM_MAPPABLE_GID", "-1", false, kNoUserns},
    {"shared-cpuset", "CONTAINER_SHARED_CPUSET", "", false, "shared CPU sets are not implemented"},
    {"profile", "CONTAINER_PROFILE", "false", true, kNoProfiling},
    {"profile-cpu", "CONTAINER_PROFILE_CPU", "", false, kNoProfiling},
    {"profile-mem", "CONTAINER_PROFILE_MEM", "", false, kNoProfiling},
    {"profile-port", "CONTAINER_PROFILE_PORT", "6060", false, kNoProfiling},
    {"enable-profile-unix-socket", "ENABLE_PROFILE_UNIX_SOCKET", "false", true, kNoProfiling},
    {"registries-conf-dir", "CONTAINER_REGISTRIES_CONF_DIR", "", false,
     "the drop-in directory is always registries.conf.d beside registries.conf"},
    {"separate-pull-cgroup", "PULL_IN_A_CGROUP", "", false, "pulling in a separate cgroup is not implemented"},
    {"blockio-config-file", "", "", false, "block I/O classes are not supported"},
    {"blockio-reload", "", "false", true, "block I/O classes are not supported"},
    {"rdt-config-file", "", "", false, "RDT classes are not supported"},
    {"device-ownership-from-security-context", "", "false", true,
     "device ownership from the security context is not implemented"},
    {"enable-nri", "", "false", true, kNoNri},
    {"nri-listen", "", "/var/run/nri/nri.sock", false, kNoNri},
    {"nri-plugin-dir", "", "/opt/nri/plugins", false, kNoNri},
    {"nri-plugin-config-dir", "", "/etc/nri/conf.d", false, kNoNri},
    {"nri-disable-connections", "", "false", true, kNoNri},
    {"nri-plugin-registration-timeout", "", "5s", false, kNoNri},
    {"nri-plugin-request-timeout", "", "2s", false, kNoNri},
    {"address", "", "", false, "there is no publish command"},
};

// A global flag: one per crio.conf option that has one, plus the few that are not options.
struct Flag {
  std::string name;  // long name without dashes
  char short_name = 0;
  bool takes_value = true;
  const OptionInfo* option = nullptr;  // null for config, config-dir, runtimes, help, version
  std::string env;                     // CRI-O's environment variable for it, if any
  const ForeignFlag* foreign = nullptr;  // one of CRI-O's that this daemon refuses unless defaulted
};

std::vector<Flag> all_flags() {
  std::vector<Flag> flags = {
      {"config", 'c', true, nullptr, "CONTAINER_CONFIG"},
      {"config-dir", 'd', true, nullptr, "CONTAINER_CONFIG_DIR"},
      {"runtimes", 0, true, nullptr, "CONTAINER_RUNTIMES"},
      {"log", 0, true, nullptr, "CONTAINER_LOG"},
      {"log-format", 0, true, nullptr, "CONTAINER_LOG_FORMAT"},
      {"registries-conf", 0, true, nullptr, "CONTAINER_REGISTRIES_CONF"},
  };
  for (const auto& o : core::config_options()) {
    if (o.flag.empty() || o.table == core::kRuntimeHandlerTable) continue;
    flags.push_back({o.flag, o.short_flag, o.type != OptionType::kBool, &o, o.env});
  }
  flags.push_back({"help", 'h', false, nullptr});
  flags.push_back({"version", 'v', false, nullptr});
  for (const auto& f : kForeignFlags) flags.push_back({f.name, 0, !f.boolean, nullptr, f.env, &f});
  return flags;
}

// The default as it would be typed on the command line: no quotes around simple strings.
std::string flag_default(const OptionInfo& o) {
  const std::string& v = o.default_value;
  if (o.type == OptionType::kString) {
    if (v == "\"\"") return {};
    if (v.find('\\') == std::string::npos) return v.substr(1, v.size() - 2);
    return v;
  }
  if (o.type == OptionType::kStringList) {
    if (v == "[]") return {};
    std::string out;
    std::string inner = v.substr(1, v.size() - 2);
    for (char c : inner) {
      if (c != '"') out += c;
    }
    return out;
  }
  return v;
}

std::string help_of(const Flag& f) {
  std::string help;
  if (f.foreign) {
    help = fmt::format("Refused unless {}: {}.", *f.foreign->default_value ? fmt::format("\"{}\"", f.foreign->default_value)
                                                                          : std::string("empty"),
                       f.foreign->why);
  } else if (f.name == "config")
      help = "Path of the configuration file; \"\" reads none (default: /etc/crio/crio.conf).";
    else if (f.name == "config-dir") {
      help =
          "Directory of drop-in configuration files: every file in it, recursively, applied in name "
          "order over the configuration file; \"\" reads none. Environment variables and flags "
          "override both (default: /etc/crio/crio.conf.d).";
    } else if (f.name == "runtimes") {
      help =
          "Runtime handlers, each as name:path:root with the optional fields :type, "
          ":privileged_without_host_devices and :runtime_config_path after it (as CRI-O); each replaces the "
          "handler of that name. May be repeated or comma-separated.";
    } else if (f.name == "log") {
      help = "Write the daemon's log to this file (appended to) instead of stderr.";
    } else if (f.name == "log-format") {
      help = "Format of the daemon's log lines: text or json (default: text).";
    } else if (f.name == "registries-conf") {
      help = "Path of registries.conf, in place of $CONTAINERS_REGISTRIES_CONF (default: "
             "/etc/containers/registries.conf); read again on SIGHUP.";
    } else if (f.name == "help")
      help = "Show this help.";
    else if (f.name == "version")
      help = "Print the version.";
    else {
      help = f.option->help;
      std::string def = flag_default(*f.option);
      if (f.option->type == OptionType::kStringList) help += " May be repeated or comma-separated.";
      if (!def.empty()) help += fmt::format(" (default: {})", def);
    }
  if (!f.env.empty()) help += fmt::format(" [${}]", f.env);
  return help;
}

std::string value_name(const Flag& f) {
  if (!f.takes_value) return f.option ? "bool" : "";
  if (f.option) {
    switch (f.option->type) {
      case OptionType::kInt:
        return "int";
      case OptionType::kStringList:
        return "value";
      default:
        return "string";
    }
  }
  if (f.name == "runtimes") return "value";
  if (f.name == "config" || f.name == "config-dir" || f.name == "log" || f.name == "registries-conf") return "path";
  return "string";
}

po::options_description describe(const std::vector<Flag>& flags) {
  po::options_description desc("Global options", 100, 50);
  po::options_description refused("CRI-O's flags for what this daemon does not do", 100, 50);
  for (const auto& f : flags) {
    std::string names = f.short_name ? fmt::format("{},{}", f.name, f.short_name) : f.name;
    std::string help = help_of(f);
    if (f.foreign) {
      auto* value = po::value<std::vector<std::string>>()->composing();
      if (f.foreign->boolean) value->implicit_value(std::vector<std::string>{"true"}, "true")->value_name("bool");
      else value->value_name("string");
      refused.add_options()(names.c_str(), value, help.c_str());
      continue;
    }
    if (!f.option) {
      if (f.takes_value) {
        desc.add_options()(
            names.c_str(),
            po::value<std::vector<std::string>>()->composing()->value_name(value_name(f)),
            help.c_str());
      } else {
        desc.add_options()(names.c_str(), help.c_str());
      }
      continue;
    }
    auto* value = po::value<std::vector<std::string>>()->composing();
    switch (f.option->type) {
      case OptionType::kBool:
        value->implicit_value(std::vector<std::string>{"true"}, "true")->value_name("bool");
        break;
      case OptionType::kInt:
        value->value_name("int");
        break;
      case OptionType::kStringList:
        value->value_name("value");
        break;
      case OptionType::kString:
        value->value_name("string");
        break;
    }
    desc.add_options()(names.c_str(), value, help.c_str());
  }
  desc.add(refused);
  return desc;
}

std::string help_text(const po::options_description& desc) {
  std::ostringstream out;
  out << "Usage: crio [global options] [command [arguments]]\n"
         "\n"
         "A Kubernetes Container Runtime Interface (CRI v1) daemon that runs OCI containers.\n"
         "Without a command it serves the CRI on the listen socket.\n"
         "\n"
         "Commands:\n";
  for (const auto& c : command_docs()) {
    std::string names = c.names.front();
    for (std::size_t i = 1; i < c.names.size(); ++i) names += ", " + c.names[i];
    std::string left = names + (c.arguments.empty() ? "" : " " + c.arguments);
    out << fmt::format("  {:<30} {}\n", left, c.summary);
  }
  out << "\n"
         "Configuration is read from the storage.conf file ($CONTAINERS_STORAGE_CONF or\n"
         "/etc/containers/storage.conf), then the configuration file, then each file of the\n"
         "drop-in directory in name order; the environment variables shown as [$NAME] override\n"
         "them, and flags override those. See crio.conf(5).\n"
         "\n"
      << desc;
  return out.str();
}

std::optional<CommandLine::Command> command_named(std::string_view name) {
  if (name == "complete" || name == "completion") return CommandLine::Command::kCompletion;
  if (name == "man") return CommandLine::Command::kMan;
  if (name == "markdown" || name == "md") return CommandLine::Command::kMarkdown;
  if (name == "config") return CommandLine::Command::kConfig;
  if (name == "version") return CommandLine::Command::kVersion;
  if (name == "status") return CommandLine::Command::kStatus;
  if (name == "wipe") return CommandLine::Command::kWipe;
  if (name == "check") return CommandLine::Command::kCheck;
  if (name == "help" || name == "h") return CommandLine::Command::kHelp;
  return std::nullopt;
}

bool truthy(std::string_view v) { return v == "true" || v == "1" || v == "t" || v == "T" || v == "TRUE" || v == "True"; }

bool is_foreign_default(const ForeignFlag& f, std::string_view value) {
  return f.boolean ? truthy(value) == truthy(f.default_value) : value == f.default_value;
}

Status foreign_refusal(const ForeignFlag& f, std::string_view source, std::string_view value) {
  return error(Code::kInvalidArgument, "{}={} (CRI-O's --{}) is not supported: {}", source, value, f.name, f.why);
}

Status check_foreign_environment() {
  for (const auto& f : kForeignFlags) {
    if (!*f.env) continue;
    const char* value = std::getenv(f.env);
    if (!value || !*value || is_foreign_default(f, value)) continue;
    return foreign_refusal(f, std::string("$") + f.env, value);
  }
  return ok_status();
}

}  // namespace

const std::vector<CommandDoc>& command_docs() {
  static const std::vector<CommandDoc> docs = {
      {{"complete", "completion"}, "[bash|fish|zsh]", "print shell completion code (default: bash)"},
      {{"check"}, "[-r] [-f] [-a AGE] [-q] [-w]", "check the storage for damage; -r repairs (see crio(8))"},
      {{"config"}, "[--default]", "print the effective configuration as TOML (--default: the built-in defaults)"},
      {{"man"}, "", "print the manual page of crio in roff"},
      {{"markdown", "md"}, "", "print the manual page of crio in Markdown"},
      {{"status"}, "ARGS...", "query a running daemon (crio status --help)"},
      {{"version"}, "[--json]", "print version information"},
      {{"wipe"}, "[-f]", "remove containers after a reboot, images after an upgrade"},
      {{"help", "h"}, "", "show this help"},
  };
  return docs;
}

std::vector<FlagDoc> flag_docs() {
  std::vector<FlagDoc> docs;
  for (const auto& f : all_flags()) {
    docs.push_back({f.name, f.short_name, f.foreign ? (f.foreign->boolean ? "" : "string") : value_name(f), help_of(f),
                    f.foreign != nullptr});
  }
  return docs;
}

Result<CommandLine> parse_command_line(int argc, const char* const* argv) {
  CommandLine cl;
  std::vector<Flag> flags = all_flags();
  po::options_description desc = describe(flags);
  cl.help_text = help_text(desc);

  auto find_long = [&](std::string_view name) -> const Flag* {
    for (auto& f : flags) {
      if (f.name == name) return &f;
    }
    return nullptr;
  };
  auto find_short = [&](char c) -> const Flag* {
    for (auto& f : flags) {
      if (f.short_name == c) return &f;
    }
    return nullptr;
  };

  // Split at the subcommand: global flags come before it, and what follows belongs to
  // the subcommand (for `status`, the crio-status CLI) untouched.
  std::vector<std::string> global;
  std::optional<std::string> command;
  int i = 1;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      if (i + 1 < argc) command = argv[++i];
      ++i;
      break;
    }
    if (a.size() > 1 && a[0] == '-') {
      global.push_back(a);
      // Whether the next word is this flag's value decides where the subcommand
      // starts, so an unknown flag has to be reported here.
      const Flag* f = nullptr;
      bool separate_value = false;
      if (a.rfind("--", 0) == 0) {
        f = find_long(
            std::string_view(a).substr(2, a.find('=') == std::string::npos ? std::string::npos : a.find('=') - 2));
        separate_value = f && f->takes_value && a.find('=') == std::string::npos;
      } else {
        f = find_short(a[1]);
        separate_value = f && f->takes_value && a.size() == 2;
      }
      if (!f) return error(Code::kInvalidArgument, "unknown flag {} (see crio --help)", a);
      if (separate_value && i + 1 < argc) global.push_back(argv[++i]);
      continue;
    }
    command = a;
    ++i;
    break;
  }
  for (; i < argc; ++i) cl.rest.push_back(argv[i]);

  if (command) {
    auto c = command_named(*command);
    if (!c) {
      // `--selinux false`: a boolean flag takes its value only after '='.
      if (!global.empty() && (*command == "true" || *command == "false")) {
        const std::string& prev = global.back();
        const Flag* f = prev.rfind("--", 0) == 0 ? find_long(std::string_view(prev).substr(2)) : nullptr;
        if (f && !f->takes_value) {
          return error(Code::kInvalidArgument, "a boolean flag takes its value after '=': write {}={}", prev, *command);
        }
      }
      return error(Code::kInvalidArgument,
                   "unknown command \"{}\" (commands: check, complete, config, man, markdown, status, version, wipe, help)",
                   *command);
    }
    cl.command = *c;
  }

  po::variables_map vm;
  try {
    auto style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(global).options(desc).style(style).run(), vm);
  } catch (const po::error& e) {
    return error(Code::kInvalidArgument, "{} (see crio --help)", e.what());
  }

  for (auto& f : flags) {
    if (f.foreign) {
      // Their environment variables are checked below, with the command's.
      if (!vm.count(f.name)) continue;
      for (const auto& value : vm[f.name].as<std::vector<std::string>>()) {
        if (!is_foreign_default(*f.foreign, value)) return foreign_refusal(*f.foreign, "--" + f.name, value);
      }
      continue;
    }
    if (!vm.count(f.name)) {
      // CRI-O takes every flag also from its environment variable, below the command line.
      const char* env = f.env.empty() ? nullptr : std::getenv(f.env.c_str());
      if (!env) continue;
      std::string value = env;
      bool takes_empty = !f.option || f.option->type == OptionType::kString;
      if (value.empty() && !takes_empty) continue;
      if (f.name == "config") {
        cl.sources.config_file = value;
        cl.sources.config_file_named = !value.empty();
      } else if (f.name == "config-dir") {
        cl.sources.config_dir = value;
      } else if (f.name == "runtimes") {
        cl.sources.runtimes = {value};
      } else if (f.name == "log") {
        cl.log_file = value;
      } else if (f.name == "log-format") {
        cl.log_format = value;
      } else if (f.name == "registries-conf") {
        cl.registries_conf = value;
      } else {
        cl.sources.flags.emplace_back(f.option->key, std::vector<std::string>{value});
      }
      continue;
    }
    if (f.name == "help") {
      cl.command = CommandLine::Command::kHelp;
      continue;
    }
    if (f.name == "version") {
      if (cl.command != CommandLine::Command::kHelp) cl.command = CommandLine::Command::kVersion;
      continue;
    }
    const auto& values = vm[f.name].as<std::vector<std::string>>();
    if (f.name == "config") {
      cl.sources.config_file = values.back();
      cl.sources.config_file_named = !values.back().empty();
    } else if (f.name == "config-dir") {
      cl.sources.config_dir = values.back();
    } else if (f.name == "runtimes") {
      cl.sources.runtimes = values;
    } else if (f.name == "log") {
      cl.log_file = values.back();
    } else if (f.name == "log-format") {
      cl.log_format = values.back();
    } else if (f.name == "registries-conf") {
      cl.registries_conf = values.back();
    } else {
      cl.sources.flags.emplace_back(f.option->key, values);
    }
  }

  CRIO_RETURN_IF_ERROR(check_foreign_environment());
  if (!cl.log_format.empty()) {
    auto format = log::parse_format(cl.log_format);
    if (!format.ok()) return format.status();
  }

  bool default_only = false;
  switch (cl.command) {
    case CommandLine::Command::kHelp:
    case CommandLine::Command::kMan:
    case CommandLine::Command::kMarkdown:
      if (cl.command != CommandLine::Command::kHelp && !cl.rest.empty()) {
        return error(Code::kInvalidArgument, "crio {}: takes no arguments", *command);
      }
      return cl;
    case CommandLine::Command::kCompletion:
      if (cl.rest.size() > 1 ||
          (cl.rest.size() == 1 && cl.rest[0] != "bash" && cl.rest[0] != "fish" && cl.rest[0] != "zsh")) {
        return error(Code::kInvalidArgument, "crio completion: only bash, fish or zsh are supported");
      }
      return cl;
    case CommandLine::Command::kVersion:
      for (auto& a : cl.rest) {
        if (a != "--json" && a != "-j" && a != "--verbose") {
          return error(Code::kInvalidArgument, "crio version: unknown argument \"{}\" (takes --json, --verbose)", a);
        }
      }
      return cl;
    case CommandLine::Command::kConfig:
      for (auto& a : cl.rest) {
        if (a != "--default") {
          return error(Code::kInvalidArgument, "crio config: unknown argument \"{}\" (takes --default)", a);
        }
        default_only = true;
      }
      break;
    case CommandLine::Command::kServe:
    case CommandLine::Command::kStatus:
    case CommandLine::Command::kWipe:   // their arguments are checked by run_wipe and run_check
    case CommandLine::Command::kCheck:
      break;
  }

  if (default_only) {
    auto defaults = core::defaults_for(cl.sources);
    if (!defaults.ok()) return defaults.status();
    cl.config = std::move(defaults).value();
    cl.print_defaults = true;
    return cl;
  }
  auto loaded = core::load_config(cl.sources, cl.warnings);
  if (!loaded.ok()) {
    if (cl.command == CommandLine::Command::kStatus) {
      // Querying a running daemon must not depend on this process's view of the files.
      cl.warnings.push_back("ignoring the configuration: " + loaded.status().message());
      cl.config = core::default_config();
      return cl;
    }
    return loaded.status();
  }
  cl.config = std::move(loaded).value();
  return cl;
}

}  // namespace crio::daemon
