#pragma once
// RuntimeReady as the CRI Status call reports it. The kubelet polls Status every few
// seconds, so the answer is cached and recomputed at most every few seconds.

#include "live_config.hpp"

#include <crio/core/config.hpp>

#include <chrono>
#include <mutex>
#include <string>

namespace crio::daemon {

struct Condition {
  bool ready = false;
  std::string reason;   // CamelCase, empty when ready
  std::string message;  // human-readable, empty when ready
};

class RuntimeReadiness {
 public:
  explicit RuntimeReadiness(const LiveConfig& live) : live_(live) {}
  Condition get();

 private:
  const LiveConfig& live_;
  std::mutex mutex_;
  Condition condition_;  // guarded by mutex_
  std::chrono::steady_clock::time_point checked_{};
};

}  // namespace crio::daemon
