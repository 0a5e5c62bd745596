#pragma once
// RuntimeReady and NetworkReady as the CRI Status call reports them. The kubelet
// polls Status every few seconds, so the answers are cached and recomputed only
// when the inputs may have changed.

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

class Readiness {
 public:
  explicit Readiness(const core::Config& config) : config_(config) {}

  Condition runtime();
  Condition network();

 private:
  Condition check_runtime() const;
  Condition check_network() const;

  const core::Config& config_;
  std::mutex mutex_;
  // Guarded by mutex_.
  Condition runtime_;
  Condition network_;
  std::chrono::steady_clock::time_point runtime_checked_{};
  std::chrono::steady_clock::time_point network_checked_{};
  int64_t network_dir_mtime_ns_ = -1;
};

}  // namespace crio::daemon
