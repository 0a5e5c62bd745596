#pragma once
// Structured logging: one line per event, as text (logfmt)
//   time="2026-11-28T05:41:38.123456Z" level=info msg="listening" socket=/var/run/crio/crio.sock
// or as JSON
//   {"level":"info","msg":"listening","socket":"/var/run/crio/crio.sock","time":"2026-11-28T05:41:38.123456Z"}
// written to stderr (or a file) with a single write so lines from threads never interleave.

#include <crio/core/export.hpp>
#include <crio/core/status.hpp>

#include <fmt/format.h>

#include <initializer_list>
#include <string>
#include <string_view>

namespace crio::log {

// Ordered from the fewest to the most messages, as crio.conf's log_level names them.
enum class Level : int { kFatal = 0, kPanic, kError, kWarn, kInfo, kDebug, kTrace };

CRIO_CORE_EXPORT Result<Level> parse_level(std::string_view name);
CRIO_CORE_EXPORT std::string_view level_name(Level level);

CRIO_CORE_EXPORT void set_level(Level level);

enum class Format { kText, kJson };
// "text" or "json", as CRI-O's --log-format names them.
CRIO_CORE_EXPORT Result<Format> parse_format(std::string_view name);
CRIO_CORE_EXPORT void set_format(Format format);

// Lines go to `path` (created 0666 less the umask, appended to, each write synchronous
// as CRI-O opens its --log file) instead of stderr; "" goes back to stderr.
CRIO_CORE_EXPORT Status set_output_file(const std::string& path);

// Only messages matching `pattern` (an ECMAScript regular expression, searched anywhere
// in the message) are written, at every level; "" writes all. CRI-O's log_filter.
CRIO_CORE_EXPORT Status set_filter(const std::string& pattern);
CRIO_CORE_EXPORT Level level();
CRIO_CORE_EXPORT bool enabled(Level level);

struct Field {
  std::string_view key;
  std::string value;
  template <typename T>
  Field(std::string_view k, const T& v) : key(k), value(fmt::format("{}", v)) {}
};

CRIO_CORE_EXPORT void write(Level level, std::string_view message, std::initializer_list<Field> fields = {});

inline void error(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::kError, m, f); }
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::kWarn, m, f); }
inline void info(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::kInfo, m, f); }
inline void debug(std::string_view m, std::initializer_list<Field> f = {}) {
  if (enabled(Level::kDebug)) write(Level::kDebug, m, f);
}
inline void trace(std::string_view m, std::initializer_list<Field> f = {}) {
  if (enabled(Level::kTrace)) write(Level::kTrace, m, f);
}

}  // namespace crio::log
