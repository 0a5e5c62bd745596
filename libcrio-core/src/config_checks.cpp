#include "config_checks.hpp"

#include <crio/core/config.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <regex>
#include <vector>

namespace crio::core {
namespace checks {
namespace {

std::string one_of(const std::string& v, std::initializer_list<std::string_view> allowed) {
  for (auto a : allowed) {
    if (v == a) return {};
  }
  std::string list;
  for (auto a : allowed) {
    if (!list.empty()) list += ", ";
    list += a;
  }
  return fmt::format("{} is not one of {}", quote(v), list);
}

bool parse_int(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

// clang-format off
constexpr std::array<std::string_view, 41> kCapabilities = {
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE"};

constexpr std::array<std::string_view, 15> kUlimits = {
    "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio",
    "rttime", "sigpending", "stack"};
// clang-format on

}  // namespace

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04X}", c);
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

std::string abs_path(const std::string& v) {
  if (v.empty()) return "must be an absolute path, not empty";
  if (v[0] != '/') return fmt::format("{} is not an absolute path", quote(v));
  return {};
}

std::string abs_path_or_empty(const std::string& v) { return v.empty() ? std::string() : abs_path(v); }

std::string non_empty(const std::string& v) { return v.empty() ? "must not be empty" : std::string(); }

std::string log_level(const std::string& v) {
  // logrus also takes "warning"; keep accepting what CRI-O accepts. The wording is
  // logrus's, which CRI-O passes on and scripts match.
  for (auto l : {"fatal", "panic", "error", "warn", "warning", "info", "debug", "trace"}) {
    if (v == l) return {};
  }
  return fmt::format("not a valid logrus Level: {} (one of fatal, panic, error, warn, info, debug, trace)", quote(v));
}

std::string regex(const std::string& v) {
  if (v.empty()) return {};
  try {
    std::regex re(v, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return fmt::format("custom log level filter does not compile: {}: {}", quote(v), e.what());
  }
  return {};
}

std::string restore_file(const std::string& v) {
  if (v == "disable") return {};
  if (v.empty() || v[0] != '/') return fmt::format("{} is neither an absolute path nor \"disable\"", quote(v));
  return {};
}

std::string cgroup_manager(const std::string& v) { return one_of(v, {"cgroupfs", "systemd"}); }

std::string storage_driver(const std::string& v) { return one_of(v, {"overlay", "vfs"}); }

std::string image_volumes(const std::string& v) { return one_of(v, {"mkdir", "bind", "ignore"}); }

std::string short_name_mode(const std::string& v) { return one_of(v, {"enforcing", "permissive", "disabled"}); }

std::string runtime_type(const std::string& v) { return one_of(v, {"oci", "vm", "pod"}); }

std::string port_string(const std::string& v) {
  int64_t n = 0;
  if (!all_digits(v) || !parse_int(v, n) || n > 65535) {
    return fmt::format("{} is not a port number (0-65535)", quote(v));
  }
  return {};
}

std::string duration(const std::string& v) {
  auto d = parse_duration(v);
  if (!d.ok()) return d.status().message();
  if (d->count() < 0) return fmt::format("{} is a negative duration", quote(v));
  return {};
}

std::string duration_or_empty(const std::string& v) { return v.empty() ? std::string() : duration(v); }

std::string key_value(const std::string& v) {
  auto eq = v.find('=');
  if (eq == std::string::npos || eq == 0) return fmt::format("{} is not of the form KEY=VALUE", quote(v));
  return {};
}

std::string sysctl(const std::string& v) {
  if (auto bad = key_value(v); !bad.empty()) return bad;
  // The runtime takes "key=value" as it is: "key = value" would name another sysctl.
  auto eq = v.find('=');
  auto padded = [](std::string_view s) {
    return !s.empty() && (std::isspace(static_cast<unsigned char>(s.front())) ||
                          std::isspace(static_cast<unsigned char>(s.back())));
  };
  if (padded(std::string_view(v).substr(0, eq)) || padded(std::string_view(v).substr(eq + 1))) {
    return fmt::format("{} has spaces around its name or value: write name=value", quote(v));
  }
  return {};
}

std::string storage_option(const std::string& v) {
  auto eq = v.find('=');
  if (eq == std::string::npos || eq == 0) return fmt::format("{} is not of the form [driver.]option=value", quote(v));
  return {};
}

std::string ulimit(const std::string& v) {
  auto eq = v.find('=');
  auto colon = v.find(':', eq == std::string::npos ? 0 : eq);
  if (eq == std::string::npos || colon == std::string::npos) {
    return fmt::format("{} is not of the form name=soft:hard", quote(v));
  }
  std::string_view name(v.data(), eq);
  if (std::find(kUlimits.begin(), kUlimits.end(), name) == kUlimits.end()) {
    return fmt::format("{} names an unknown ulimit {}", quote(v), quote(name));
  }
  int64_t soft = 0, hard = 0;
  std::string_view s(v.data() + eq + 1, colon - eq - 1), h(v.data() + colon + 1);
  if (!parse_int(s, soft) || !parse_int(h, hard) || soft < -1 || hard < -1) {
    return fmt::format("{} has limits that are not integers (-1 for unlimited)", quote(v));
  }
  if (hard != -1 && (soft == -1 || soft > hard)) {
    return fmt::format("{} has a soft limit above its hard limit", quote(v));
  }
  return {};
}

std::string capability(const std::string& v) {
  std::string upper;
  for (char c : v) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string_view name = upper;
  if (name.substr(0, 4) == "CAP_") name.remove_prefix(4);
  if (std::find(kCapabilities.begin(), kCapabilities.end(), name) == kCapabilities.end()) {
    return fmt::format("{} is not a Linux capability", quote(v));
  }
  return {};
}

std::string device(const std::string& v) {
  auto parts = split(v, ':');
  if (parts.size() > 3 || parts[0].empty() || parts[0][0] != '/') {
    return fmt::format("{} is not of the form /dev/host[:/dev/container[:permissions]]", quote(v));
  }
  if (parts.size() >= 2 && (parts[1].empty() || parts[1][0] != '/')) {
    return fmt::format("{}: the container path is not absolute", quote(v));
  }
  if (parts.size() == 3) {
    if (parts[2].empty() ||
        !std::all_of(parts[2].begin(), parts[2].end(), [](char c) { return c == 'r' || c == 'w' || c == 'm'; })) {
      return fmt::format("{}: permissions must be made of r, w and m", quote(v));
    }
  }
  return {};
}

std::string id_mappings(const std::string& v) {
  if (v.empty()) return {};
  for (auto range : split(v, ',')) {
    auto f = split(range, ':');
    int64_t n = 0;
    if (f.size() != 3 || !all_digits(f[0]) || !all_digits(f[1]) || !all_digits(f[2]) || !parse_int(f[2], n) || n == 0) {
      return fmt::format("{} is not a list of containerID:hostID:size ranges", quote(v));
    }
  }
  return {};
}

std::string cpuset(const std::string& v) {
  if (v.empty()) return {};
  for (auto part : split(v, ',')) {
    auto r = split(part, '-');
    int64_t lo = 0, hi = 0;
    bool ok = (r.size() == 1 && all_digits(r[0])) || (r.size() == 2 && all_digits(r[0]) && all_digits(r[1]) &&
                                                      parse_int(r[0], lo) && parse_int(r[1], hi) && lo <= hi);
    if (!ok) return fmt::format("{} is not a CPU list such as \"0-3,6\"", quote(v));
  }
  return {};
}

std::string conmon_cgroup(const std::string& v) {
  if (v.empty() || v == "pod") return {};
  if (v.size() > 6 && v.ends_with(".slice") && v.find('/') == std::string::npos) return {};
  return fmt::format("{} is not \"pod\" or a systemd slice (NAME.slice)", quote(v));
}

std::string non_negative(int64_t v) { return v < 0 ? fmt::format("{} is negative", v) : std::string(); }

std::string positive(int64_t v) { return v <= 0 ? fmt::format("{} is not positive", v) : std::string(); }

std::string port(int64_t v) {
  return v < 0 || v > 65535 ? fmt::format("{} is not a port number (0-65535)", v) : std::string();
}

std::string log_size(int64_t v) {
  // conmon reads container output in 8 KiB chunks; a smaller limit cannot be kept.
  if (v >= 0 && v < 8192) return fmt::format("{} is below 8192 (use a negative value for no limit)", v);
  return {};
}

}  // namespace checks

Result<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  if (text.empty()) return std::chrono::nanoseconds(0);
  auto bad = [&] {
    return error(Code::kInvalidArgument, "{} is not a duration such as \"30s\" or \"1m30s\"", checks::quote(text));
  };
  std::string_view s = text;
  bool negative = false;
  if (s.front() == '-' || s.front() == '+') {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) return bad();
  long double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    std::string number(s.substr(0, i));
    if (number.empty() || number == "." || std::count(number.begin(), number.end(), '.') > 1) return bad();
    s.remove_prefix(i);
    size_t j = 0;
    while (j < s.size() && !std::isdigit(static_cast<unsigned char>(s[j])) && s[j] != '.') ++j;
    std::string_view unit = s.substr(0, j);
    s.remove_prefix(j);
    long double scale = 0;
    if (unit == "ns")
      scale = 1;
    else if (unit == "us" || unit == "\u00b5s" || unit == "\u03bcs")
      scale = 1e3;
    else if (unit == "ms")
      scale = 1e6;
    else if (unit == "s")
      scale = 1e9;
    else if (unit == "m")
      scale = 60e9;
    else if (unit == "h")
      scale = 3600e9;
    else
      return bad();
    total += std::strtold(number.c_str(), nullptr) * scale;
  }
  if (total > 9.2e18L) return bad();
  auto ns = static_cast<int64_t>(std::llround(total));
  return std::chrono::nanoseconds(negative ? -ns : ns);
}

}  // namespace crio::core
