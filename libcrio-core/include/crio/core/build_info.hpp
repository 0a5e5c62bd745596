#pragma once

#include <crio/core/export.hpp>

#include <string>

namespace crio {

struct BuildInfo {
  std::string version;     // "0.1.0"
  std::string git_commit;  // full hash, or "unknown" outside a git checkout
  std::string git_tree_state;  // "clean" or "dirty"
  std::string build_date;  // RFC 3339, UTC
  std::string compiler;    // "g++ 12.2.0"
  std::string platform;    // "linux/amd64"
};

CRIO_CORE_EXPORT const BuildInfo& build_info();

}  // namespace crio
