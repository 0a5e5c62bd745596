#include "readiness.hpp"

#include "handlers.hpp"

#include <crio/net/cni_config.hpp>
#include <crio/oci/runtime_handler.hpp>

#include <sys/stat.h>

namespace crio::daemon {
namespace {

constexpr auto kRecheckInterval = std::chrono::seconds(5);

int64_t mtime_ns(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

}  // namespace

Condition Readiness::check_runtime() const {
  auto handler = runtime_handler(config_, config_.default_runtime);
  if (!handler.ok()) return {false, "RuntimeNotReady", handler.status().message()};
  Status usable = oci::check_handler(*handler);
  if (!usable.ok()) return {false, "RuntimeNotReady", usable.message()};
  return {true, "", ""};
}

Condition Readiness::check_network() const {
  auto network = net::default_network(config_.network_dir, config_.cni_default_network, config_.plugin_dirs);
  if (!network.ok()) {
    return {false, "NetworkPluginNotReady", "Network plugin returns error: " + network.status().message()};
  }
  return {true, "", ""};
}

Condition Readiness::runtime() {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  if (runtime_checked_ == std::chrono::steady_clock::time_point{} || now - runtime_checked_ > kRecheckInterval) {
    runtime_ = check_runtime();
    runtime_checked_ = now;
  }
  return runtime_;
}

Condition Readiness::network() {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  int64_t mtime = mtime_ns(config_.network_dir);
  // A config file written into the directory changes its mtime: notice it at once.
  if (network_checked_ == std::chrono::steady_clock::time_point{} || mtime != network_dir_mtime_ns_ ||
      now - network_checked_ > kRecheckInterval) {
    network_ = check_network();
    network_checked_ = now;
    network_dir_mtime_ns_ = mtime;
  }
  return network_;
}

}  // namespace crio::daemon
