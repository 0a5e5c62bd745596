#pragma once
// Value checks for crio.conf options. Each returns an empty string when the value is
// acceptable, else the reason it is not ("\"loud\" is not one of fatal, ..."); the
// caller adds the file, line and dotted key.

#include <cstdint>
#include <string>
#include <string_view>

namespace crio::core::checks {

using StrCheck = std::string (*)(const std::string&);
using IntCheck = std::string (*)(int64_t);

// The value as a TOML basic string, which is also how messages quote values.
std::string quote(std::string_view s);

std::string abs_path(const std::string& v);
std::string abs_path_or_empty(const std::string& v);
std::string non_empty(const std::string& v);
// A sysctl as name=value, without spaces around either.
std::string sysctl(const std::string& v);
std::string log_level(const std::string& v);
std::string cgroup_manager(const std::string& v);
std::string storage_driver(const std::string& v);
std::string image_volumes(const std::string& v);
std::string short_name_mode(const std::string& v);
std::string runtime_type(const std::string& v);
std::string port_string(const std::string& v);
std::string duration(const std::string& v);
std::string duration_or_empty(const std::string& v);
std::string key_value(const std::string& v);       // "KEY=VALUE"
std::string storage_option(const std::string& v);  // "driver.key=value" or "key=value"
std::string ulimit(const std::string& v);          // "nofile=1024:2048"
std::string capability(const std::string& v);      // "CHOWN" or "CAP_CHOWN"
std::string device(const std::string& v);          // "/dev/a[:/dev/b[:rwm]]"
std::string id_mappings(const std::string& v);     // "0:100000:65536[,...]"
std::string cpuset(const std::string& v);          // "0-3,5" or empty
std::string conmon_cgroup(const std::string& v);
std::string regex(const std::string& v);         // an ECMAScript regular expression, or empty
std::string restore_file(const std::string& v);  // an absolute path or "disable"

std::string non_negative(int64_t v);
std::string positive(int64_t v);
std::string port(int64_t v);
std::string log_size(int64_t v);

}  // namespace crio::core::checks
