#include "cli.hpp"

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

// A global flag: one per crio.conf option that has one, plus the few that are not options.
struct Flag {
  std::string name;  // long name without dashes
  char short_name = 0;
  bool takes_value = true;
  const OptionInfo* option = nullptr;  // null for config, config-dir, runtimes, help, version
  std::string env;                     // CRI-O's environment variable for it, if any
};

std::vector<Flag> all_flags() {
  std::vector<Flag> flags = {
      {"config", 'c', true, nullptr, "CONTAINER_CONFIG"},
      {"config-dir", 'd', true, nullptr, "CONTAINER_CONFIG_DIR"},
      {"runtimes", 0, true, nullptr, "CONTAINER_RUNTIMES"},
  };
  for (const auto& o : core::config_options()) {
    if (o.flag.empty() || o.table == core::kRuntimeHandlerTable) continue;
    flags.push_back({o.flag, o.short_flag, o.type != OptionType::kBool, &o, o.env});
  }
  flags.push_back({"help", 'h', false, nullptr});
  flags.push_back({"version", 'v', false, nullptr});
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

po::options_description describe(const std::vector<Flag>& flags) {
  po::options_description desc("Global options", 100, 50);
  for (const auto& f : flags) {
    std::string names = f.short_name ? fmt::format("{},{}", f.name, f.short_name) : f.name;
    std::string help;
    if (f.name == "config")
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

    if (!f.option) {
      if (f.takes_value) {
        desc.add_options()(
            names.c_str(),
            po::value<std::vector<std::string>>()->composing()->value_name(f.name == "runtimes" ? "value" : "path"),
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
  return desc;
}

std::string help_text(const po::options_description& desc) {
  std::ostringstream out;
  out << "Usage: crio [global options] [command [arguments]]\n"
         "\n"
         "A Kubernetes Container Runtime Interface (CRI v1) daemon that runs OCI containers.\n"
         "Without a command it serves the CRI on the listen socket.\n"
         "\n"
         "Commands:\n"
         "  config [--default]   print the effective configuration as TOML (--default: the\n"
         "                       built-in defaults, ignoring files and flags)\n"
         "  version [--json]     print version information\n"
         "  status ARGS...       query a running daemon (crio status --help)\n"
         "  help                 show this help\n"
         "\n"
         "Configuration is read from the storage.conf file ($CONTAINERS_STORAGE_CONF or\n"
         "/etc/containers/storage.conf), then the configuration file, then each file of the\n"
         "drop-in directory in name order; the environment variables shown as [$NAME] override\n"
         "them, and flags override those. See crio.conf(5).\n"
         "\n"
      << desc;
  return out.str();
}

std::optional<CommandLine::Command> command_named(std::string_view name) {
  if (name == "config") return CommandLine::Command::kConfig;
  if (name == "version") return CommandLine::Command::kVersion;
  if (name == "status") return CommandLine::Command::kStatus;
  if (name == "help" || name == "h") return CommandLine::Command::kHelp;
  return std::nullopt;
}

// Environment variables of CRI-O flags this daemon does not have. A unit file written
// for CRI-O may set them; a value other than CRI-O's default asks for something this
// daemon would not do, so it stops start-up instead of being ignored.
struct ForeignVariable {
  const char* env;
  const char* flag;
  const char* default_value;  // as CRI-O reads it; booleans compare as true/false
  bool boolean;
  const char* why;
};

constexpr ForeignVariable kForeignVariables[] = {
    {"CONTAINER_INTERNAL_REPAIR", "--internal-repair", "false", true,
     "the storage repair at start-up is not implemented"},
    {"CONTAINER_CDI_SPEC_DIRS", "--cdi-spec-dirs", "", false, "CDI devices are not supported"},
    {"CONTAINER_ENABLE_TRACING", "--enable-tracing", "false", true, "OpenTelemetry tracing is not supported"},
    {"CONTAINER_HOSTNETWORK_DISABLE_SELINUX", "--hostnetwork-disable-selinux", "true", true,
     "SELinux is not supported, so there is nothing to disable"},
    {"CONTAINER_MINIMUM_MAPPABLE_UID", "--minimum-mappable-uid", "-1", false,
     "user-namespace mapping limits are not implemented"},
    {"CONTAINER_MINIMUM_MAPPABLE_GID", "--minimum-mappable-gid", "-1", false,
     "user-namespace mapping limits are not implemented"},
    {"CONTAINER_SHARED_CPUSET", "--shared-cpuset", "", false, "shared CPU sets are not implemented"},
    {"CONTAINER_LOG", "--log", "", false, "the daemon logs to stderr only"},
    {"CONTAINER_LOG_FORMAT", "--log-format", "text", false, "the daemon logs in text format only"},
    {"CONTAINER_PROFILE", "--profile", "false", true, "Go profiling does not apply to this daemon"},
    {"CONTAINER_PROFILE_CPU", "--profile-cpu", "", false, "Go profiling does not apply to this daemon"},
    {"CONTAINER_PROFILE_MEM", "--profile-mem", "", false, "Go profiling does not apply to this daemon"},
    {"ENABLE_PROFILE_UNIX_SOCKET", "--enable-profile-unix-socket", "false", true,
     "Go profiling does not apply to this daemon"},
    {"CONTAINER_REGISTRIES_CONF", "--registries-conf", "", false,
     "name registries.conf with $CONTAINERS_REGISTRIES_CONF"},
    {"CONTAINER_REGISTRIES_CONF_DIR", "--registries-conf-dir", "", false,
     "registries.conf drop-in directories are not read"},
    {"PULL_IN_A_CGROUP", "--separate-pull-cgroup", "", false, "pulling in a separate cgroup is not implemented"},
};

bool truthy(std::string_view v) { return v == "true" || v == "1" || v == "t" || v == "T" || v == "TRUE" || v == "True"; }

Status check_foreign_environment() {
  for (const auto& f : kForeignVariables) {
    const char* value = std::getenv(f.env);
    if (!value || !*value) continue;
    bool is_default = f.boolean ? truthy(value) == truthy(f.default_value) : std::string_view(value) == f.default_value;
    if (is_default) continue;
    return error(Code::kInvalidArgument, "${}={} (CRI-O's {}) is not supported: {}", f.env, value, f.flag, f.why);
  }
  return ok_status();
}

}  // namespace

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
      return error(Code::kInvalidArgument, "unknown command \"{}\" (commands: config, version, status, help)",
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
    } else {
      cl.sources.flags.emplace_back(f.option->key, values);
    }
  }

  CRIO_RETURN_IF_ERROR(check_foreign_environment());

  bool default_only = false;
  switch (cl.command) {
    case CommandLine::Command::kHelp:
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
