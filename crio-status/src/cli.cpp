#include <crio-status/cli.hpp>

#include <crio/core/build_info.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <variant>

namespace crio::status {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Protocol = asio::local::stream_protocol;
using nlohmann::json;

// Long enough for a daemon busy with a pull; short enough that a wedged daemon does
// not hang a script forever.
constexpr std::chrono::seconds kTimeout{30};
constexpr std::uint64_t kMaxAnswerBytes = 64 * 1024 * 1024;

enum class Command { kNone, kInfo, kConfig, kContainers, kHelp };

struct Options {
  std::string socket = kDefaultSocket;
  Command command = Command::kNone;
  Command help_for = Command::kNone;  // `help COMMAND`
  std::optional<std::string> id;
  bool help = false;
  bool version = false;
};

struct UsageError {
  std::string message;
};

std::optional<Command> command_named(std::string_view name) {
  if (name == "info" || name == "i") return Command::kInfo;
  if (name == "config" || name == "c") return Command::kConfig;
  if (name == "containers" || name == "container" || name == "cs" || name == "s") return Command::kContainers;
  if (name == "help" || name == "h") return Command::kHelp;
  return std::nullopt;
}

constexpr std::string_view kMainHelp =
    R"(NAME:
   crio-status - ask a running crio for its status

USAGE:
   crio-status [--socket PATH] COMMAND [COMMAND OPTIONS]

COMMANDS:
   info, i                             daemon facts: cgroup driver, storage driver and
                                       root, default UID/GID mappings
   config, c                           the configuration crio runs with, as TOML
   containers, container, cs, s --id ID
                                       one container's (or pod's) details
   help, h [COMMAND]                   this text, or the help of one command

GLOBAL OPTIONS:
   --socket PATH, -s PATH   crio's unix socket (default: /var/run/crio/crio.sock)
   --help, -h               show this help
   --version, -v            print the version

EXIT STATUS:
   0 on success; 1 on any failure (a usage error, crio cannot be reached, or crio
   answered with an error), with the reason on stderr
)";

std::string_view command_help(Command c) {
  switch (c) {
    case Command::kInfo:
      return R"(USAGE:
   crio-status [--socket PATH] info

Prints the cgroup driver, the storage driver, the storage graph root, the storage
image and the default GID and UID mappings (as <container>:<host>:<size>).
)";
    case Command::kConfig:
      return R"(USAGE:
   crio-status [--socket PATH] config

Prints the configuration crio is running with, as TOML.
)";
    case Command::kContainers:
      return R"(USAGE:
   crio-status [--socket PATH] containers --id ID

Prints what crio knows about one container: name, pid, image and image ref, creation
time (ns), labels, annotations, log path, graph root, sandbox and IPs. A pod ID names
the pod's infra container.

OPTIONS:
   --id ID, -i ID   the container ID
)";
    case Command::kHelp:
    case Command::kNone:
      break;
  }
  return kMainHelp;
}

std::variant<Options, UsageError> parse(int argc, const char* const* argv) {
  Options opts;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i] ? argv[i] : "";
    std::string_view name = arg;
    std::optional<std::string_view> inline_value;
    if (arg.size() > 2 && arg[0] == '-') {
      // "--socket=PATH" and "-s=PATH" carry their value; "-sPATH" is not accepted.
      auto eq = arg.find('=');
      if (eq != std::string_view::npos) {
        name = arg.substr(0, eq);
        inline_value = arg.substr(eq + 1);
      }
    }
    auto take_value = [&]() -> std::optional<std::string> {
      if (inline_value) return std::string(*inline_value);
      if (i + 1 < argc && argv[i + 1]) return std::string(argv[++i]);
      return std::nullopt;
    };
    auto no_value = [&]() -> std::optional<UsageError> {
      if (inline_value) return UsageError{"flag " + std::string(name) + " takes no value"};
      return std::nullopt;
    };

    if (name == "-s" || name == "--socket") {
      auto v = take_value();
      if (!v) return UsageError{"flag " + std::string(name) + " needs a socket path"};
      if (v->empty()) return UsageError{"the socket path cannot be empty"};
      opts.socket = *v;
    } else if (name == "-h" || name == "--help") {
      if (auto e = no_value()) return *e;
      opts.help = true;
    } else if (name == "-v" || name == "--version") {
      if (auto e = no_value()) return *e;
      opts.version = true;
    } else if (name == "-i" || name == "--id") {
      if (opts.command != Command::kContainers) {
        return UsageError{"flag " + std::string(name) + " belongs to the containers command"};
      }
      auto v = take_value();
      if (!v) return UsageError{"flag " + std::string(name) + " needs a container ID"};
      opts.id = *v;
    } else if (arg.size() > 1 && arg[0] == '-') {
      return UsageError{"unknown flag: " + std::string(arg)};
    } else if (opts.command == Command::kNone) {
      auto c = command_named(arg);
      if (!c) return UsageError{"unknown command: " + std::string(arg)};
      opts.command = *c;
    } else if (opts.command == Command::kHelp && opts.help_for == Command::kNone) {
      auto c = command_named(arg);
      if (!c) return UsageError{"unknown command: " + std::string(arg)};
      opts.help_for = *c;
    } else {
      return UsageError{"unexpected argument: " + std::string(arg)};
    }
  }
  return opts;
}

// The ID becomes one path segment, whatever characters it has.
std::string path_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

struct Answer {
  unsigned status = 0;
  std::string reason;
  std::string body;
};

struct Unreachable {
  std::string message;
};

std::string cannot_connect(const std::string& socket, const std::string& reason) {
  return "cannot connect to crio at " + socket + ": " + reason + " (is the daemon running?)";
}

// One GET over the unix socket, bounded by kTimeout as a whole.
std::variant<Answer, Unreachable> get(const std::string& socket, const std::string& target) {
  asio::io_context ioc;
  Protocol::endpoint endpoint;
  try {
    endpoint = Protocol::endpoint(socket);
  } catch (const boost::system::system_error& e) {
    return Unreachable{cannot_connect(socket, e.code().message())};
  }
  Protocol::socket sock(ioc);
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
  req.set(bhttp::field::host, "localhost");
  req.set(bhttp::field::user_agent, "crio-status/" + build_info().version);
  req.keep_alive(false);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kMaxAnswerBytes);

  bool connected = false;
  bool done = false;
  std::optional<std::string> failure;
  sock.async_connect(endpoint, [&](beast::error_code ec) {
    if (ec) {
      failure = cannot_connect(socket, ec.message());
      return;
    }
    connected = true;
    bhttp::async_write(sock, req, [&](beast::error_code ec, std::size_t) {
      if (ec) {
        failure = "lost the connection to crio at " + socket + " while sending the request: " + ec.message();
        return;
      }
      bhttp::async_read(sock, buffer, parser, [&](beast::error_code ec, std::size_t) {
        if (ec) {
          failure = "no complete answer from crio at " + socket + ": " + ec.message();
          return;
        }
        done = true;
      });
    });
  });
  ioc.run_for(kTimeout);
  if (!done && !failure) {
    failure = connected ? "crio at " + socket + " did not answer within " + std::to_string(kTimeout.count()) + " s"
                        : cannot_connect(socket, "timed out");
  }
  if (failure) return Unreachable{*failure};
  auto& res = parser.get();
  return Answer{res.result_int(), std::string(res.reason()), std::move(res.body())};
}

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// The daemon's {"error": "..."}; failing that, whatever text it sent.
std::string error_message(const Answer& a) {
  json j = json::parse(a.body, nullptr, false);
  if (j.is_object()) {
    auto it = j.find("error");
    if (it != j.end() && it->is_string()) return it->get<std::string>();
  }
  std::string text = trim(a.body);
  if (!text.empty() && text.size() <= 4096) return text;
  return "crio answered HTTP " + std::to_string(a.status) + (a.reason.empty() ? "" : " " + a.reason);
}

std::string text_field(const json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  return it->is_string() ? it->get<std::string>() : it->dump();
}

void print_mappings(std::ostream& out, const json& info, const char* which, const char* label) {
  out << "default " << label << " mappings (format <container>:<host>:<size>):\n";
  const json* list = nullptr;
  if (info.is_object()) {
    auto m = info.find("default_id_mappings");
    if (m != info.end() && m->is_object()) {
      auto l = m->find(which);
      if (l != m->end() && l->is_array()) list = &*l;
    }
  }
  if (!list) return;
  for (const json& m : *list) {
    out << "  " << text_field(m, "container_id") << ':' << text_field(m, "host_id") << ':' << text_field(m, "size")
        << '\n';
  }
}

void print_map(std::ostream& out, const json& c, const char* key) {
  auto it = c.find(key);
  if (it == c.end() || !it->is_object()) return;
  for (const auto& [k, v] : it->items()) out << "  " << k << ": " << (v.is_string() ? v.get<std::string>() : v.dump()) << '\n';
}

// The fields in CRI-O's order and words, one per line.
void print_container(std::ostream& out, const json& c) {
  out << "name: " << text_field(c, "name") << '\n';
  out << "pid: " << text_field(c, "pid") << '\n';
  out << "image: " << text_field(c, "image") << '\n';
  out << "image ref: " << text_field(c, "image_ref") << '\n';
  out << "created: " << text_field(c, "created_time") << '\n';
  out << "labels:\n";
  print_map(out, c, "labels");
  out << "annotations:\n";
  print_map(out, c, "annotations");
  out << "CRI-O annotations:\n";
  print_map(out, c, "crio_annotations");
  out << "log path: " << text_field(c, "log_path") << '\n';
  out << "graph root: " << text_field(c, "root") << '\n';
  out << "sandbox: " << text_field(c, "sandbox") << '\n';
  std::string ips;
  if (auto it = c.find("ip_addresses"); it != c.end() && it->is_array()) {
    for (const auto& ip : *it) {
      if (!ips.empty()) ips += ", ";
      ips += ip.is_string() ? ip.get<std::string>() : ip.dump();
    }
  }
  out << "ips: " << ips << '\n';
}

// Where failures are reported, prefixed with the name the program was run as
// ("crio-status", or "crio status" when the daemon binary runs it).
struct Reporter {
  std::ostream& err;
  std::string program;

  int fail(int code, const std::string& message) const {
    err << program << ": " << message << '\n';
    return code;
  }
  int usage_error(const std::string& message) const {
    err << program << ": " << message << "\nRun '" << program << " --help' for usage.\n";
    return kExitFailure;
  }
};

std::string program_name(int argc, const char* const* argv) {
  if (argc < 1 || !argv[0] || !*argv[0]) return "crio-status";
  std::string_view name = argv[0];
  auto slash = name.rfind('/');
  if (slash != std::string_view::npos) name = name.substr(slash + 1);
  return name.empty() ? "crio-status" : std::string(name);
}

int run(const Options& opts, std::ostream& out, const Reporter& report) {
  std::string target;
  switch (opts.command) {
    case Command::kInfo:
      target = "/info";
      break;
    case Command::kConfig:
      target = "/config";
      break;
    case Command::kContainers:
      if (!opts.id) return report.usage_error("the containers command needs --id ID");
      if (opts.id->empty()) return report.usage_error("the argument --id cannot be empty");
      target = "/containers/" + path_escape(*opts.id);
      break;
    case Command::kHelp:
    case Command::kNone:
      return report.usage_error("no command given");
  }

  auto got = get(opts.socket, target);
  if (auto* u = std::get_if<Unreachable>(&got)) return report.fail(kExitFailure, u->message);
  const Answer& answer = std::get<Answer>(got);
  if (answer.status < 200 || answer.status >= 300) return report.fail(kExitFailure, error_message(answer));

  switch (opts.command) {
    case Command::kInfo: {
      json info = json::parse(answer.body, nullptr, false);
      if (!info.is_object()) {
        return report.fail(kExitFailure, "crio answered /info with something that is not a JSON object");
      }
      out << "cgroup driver: " << text_field(info, "cgroup_driver") << '\n';
      out << "storage driver: " << text_field(info, "storage_driver") << '\n';
      out << "storage graph root: " << text_field(info, "storage_root") << '\n';
      out << "storage image: " << text_field(info, "storage_image") << '\n';
      print_mappings(out, info, "gids", "GID");
      print_mappings(out, info, "uids", "UID");
      break;
    }
    case Command::kConfig:
      out << answer.body;
      if (!answer.body.empty() && answer.body.back() != '\n') out << '\n';
      break;
    case Command::kContainers: {
      json c = json::parse(answer.body, nullptr, false);
      if (!c.is_object()) {
        return report.fail(kExitFailure, "crio answered /containers with something that is not a JSON object");
      }
      print_container(out, c);
      break;
    }
    case Command::kHelp:
    case Command::kNone:
      break;
  }
  out.flush();
  return kExitOk;
}

}  // namespace

int run_cli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  Reporter report{err, "crio-status"};
  try {
    report.program = program_name(argc, argv);
    auto parsed = parse(argc, argv);
    if (auto* e = std::get_if<UsageError>(&parsed)) return report.usage_error(e->message);
    const Options& opts = std::get<Options>(parsed);
    if (opts.help) {
      out << command_help(opts.command);
      return kExitOk;
    }
    if (opts.version) {
      const BuildInfo& b = build_info();
      out << "crio-status version " << b.version << "\ngit commit: " << b.git_commit << " (" << b.git_tree_state
          << ")\n";
      return kExitOk;
    }
    if (opts.command == Command::kHelp) {
      out << command_help(opts.help_for);
      return kExitOk;
    }
    if (opts.command == Command::kNone) {
      out << kMainHelp;  // as CRI-O's, a bare `status` shows the help and succeeds
      return kExitOk;
    }
    return run(opts, out, report);
  } catch (const std::exception& e) {
    return report.fail(kExitFailure, std::string("internal error: ") + e.what());
  } catch (...) {
    return report.fail(kExitFailure, "internal error");
  }
}

}  // namespace crio::status
