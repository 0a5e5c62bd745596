#include "readiness.hpp"

#include "handlers.hpp"

#include <crio/oci/runtime_handler.hpp>

namespace crio::daemon {
namespace {

constexpr auto kRecheckInterval = std::chrono::seconds(5);

Condition check_runtime(const core::Config& config) {
  auto handler = runtime_handler(config, config.default_runtime);
  if (!handler.ok()) return {false, "RuntimeNotReady", handler.status().message()};
  Status usable = oci::check_handler(*handler);
  if (!usable.ok()) return {false, "RuntimeNotReady", usable.message()};
  return {true, "", ""};
}

}  // namespace

Condition RuntimeReadiness::get() {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  if (checked_ == std::chrono::steady_clock::time_point{} || now - checked_ > kRecheckInterval) {
    condition_ = check_runtime(live_.get()->config);
    checked_ = now;
  }
  return condition_;
}

}  // namespace crio::daemon
