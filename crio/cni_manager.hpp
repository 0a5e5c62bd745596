#pragma once
// The pod network as the configuration directory describes it right now: the
// default CNI network, reloaded when the directory changes (no restart needed), and
// its readiness for the CRI Status call.

#include "readiness.hpp"

#include <crio/core/config.hpp>
#include <crio/net/network.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

namespace crio::daemon {

// Where ADD results are cached: libcni's default, which CRI-O uses and has no option
// for; CRI-O's tools and operators look there (results/<network>-<id>-<ifname>).
inline constexpr const char* kCniCacheDir = "/var/lib/cni";

class CniManager {
 public:
  explicit CniManager(const core::Config& config);

  // The network pods join; FailedPrecondition explains why there is none.
  Result<std::shared_ptr<net::Network>> network();
  Condition readiness();
  // From UpdateRuntimeConfig; kept across reloads of the configuration.
  Status set_pod_cidr(const std::string& cidr);

 private:
  void refresh_locked();

  const core::Config& config_;
  std::mutex mutex_;
  // Guarded by mutex_.
  std::shared_ptr<net::Network> network_;
  Status error_;
  std::string pod_cidr_;
  std::string loaded_json_;
  std::chrono::steady_clock::time_point checked_{};
  int64_t dir_mtime_ns_ = -2;
};

}  // namespace crio::daemon
