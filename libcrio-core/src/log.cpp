#include <crio/core/log.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <array>
#include <cerrno>
#include <cstring>
#include <atomic>
#include <chrono>
#include <ctime>
#include <memory>
#include <mutex>
#include <regex>

namespace crio::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<Format> g_format{Format::kText};
std::atomic<int> g_fd{STDERR_FILENO};

// Replaced whole on reload, so a writer holds its own reference while it matches.
std::mutex g_filter_mutex;
std::shared_ptr<const std::regex> g_filter;
std::atomic<bool> g_filtered{false};  // spares unfiltered writes the lock

std::shared_ptr<const std::regex> current_filter() {
  if (!g_filtered.load(std::memory_order_acquire)) return nullptr;
  std::lock_guard lock(g_filter_mutex);
  return g_filter;
}

constexpr std::array<std::string_view, 7> kNames = {"fatal", "panic", "error", "warning",
                                                    "info",  "debug", "trace"};

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) >= 0x7f) return true;
  }
  return false;
}

void append_value(std::string& out, std::string_view v) {
  if (!needs_quotes(v)) {
    out.append(v);
    return;
  }
  out.push_back('"');
  for (char c : v) {
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\t': out.append("\\t"); break;
      default: out.push_back(c);
    }
  }
  out.push_back('"');
}

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now - secs).count();
  std::time_t t = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
}

}  // namespace

Result<Level> parse_level(std::string_view name) {
  if (name == "warn") return Level::kWarn;
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<Level>(i);
  }
  return error(Code::kInvalidArgument,
               "log level \"{}\" is not one of fatal, panic, error, warn, info, debug, trace", name);
}

std::string_view level_name(Level level) { return kNames.at(static_cast<size_t>(level)); }

void set_level(Level level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }
Level level() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }
bool enabled(Level l) { return static_cast<int>(l) <= g_level.load(std::memory_order_relaxed); }

Status set_filter(const std::string& pattern) {
  std::shared_ptr<const std::regex> next;
  if (!pattern.empty()) {
    try {
      next = std::make_shared<const std::regex>(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return error(Code::kInvalidArgument, "custom log level filter does not compile: \"{}\": {}", pattern, e.what());
    }
  }
  std::lock_guard lock(g_filter_mutex);
  g_filtered.store(next != nullptr, std::memory_order_release);
  g_filter = std::move(next);
  return ok_status();
}

namespace {

std::string json_line(Level l, std::string_view message, std::initializer_list<Field> fields) {
  // Keys sorted, as Go's JSON encoding of logrus's fields sorts them; the three fixed
  // keys win over fields of the same name.
  nlohmann::json j = nlohmann::json::object();
  for (const Field& f : fields) j[std::string(f.key)] = f.value;
  j["level"] = level_name(l);
  j["msg"] = message;
  j["time"] = timestamp();
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string text_line(Level l, std::string_view message, std::initializer_list<Field> fields) {
  std::string line;
  line.reserve(128);
  line.append("time=\"").append(timestamp()).append("\" level=").append(level_name(l)).append(" msg=");
  append_value(line, message);
  for (const Field& f : fields) {
    line.push_back(' ');
    line.append(f.key).push_back('=');
    append_value(line, f.value);
  }
  return line;
}

}  // namespace

Result<Format> parse_format(std::string_view name) {
  if (name == "text") return Format::kText;
  if (name == "json") return Format::kJson;
  return error(Code::kInvalidArgument, "unknown log-format \"{}\" (text or json)", name);
}

void set_format(Format format) { g_format.store(format, std::memory_order_relaxed); }

Status set_output_file(const std::string& path) {
  int fd = STDERR_FILENO;
  if (!path.empty()) {
    fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_APPEND | O_SYNC | O_CLOEXEC, 0666);
    if (fd < 0) return error(Code::kInvalidArgument, "opening the log file {}: {}", path, std::strerror(errno));
  }
  int old = g_fd.exchange(fd);
  // A line being written to the old file may still hold its descriptor; the daemon
  // sets the file once at start-up, so the old one is left open rather than raced.
  (void)old;
  return ok_status();
}

void write(Level l, std::string_view message, std::initializer_list<Field> fields) {
  if (!enabled(l)) return;
  if (auto filter = current_filter(); filter && !std::regex_search(message.begin(), message.end(), *filter)) return;
  std::string line = g_format.load(std::memory_order_relaxed) == Format::kJson ? json_line(l, message, fields)
                                                                                : text_line(l, message, fields);
  line.push_back('\n');
  // One write(2) per line: concurrent writers never interleave within a line.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(g_fd.load(std::memory_order_relaxed), p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace crio::log
