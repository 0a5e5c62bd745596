#include "cni_manager.hpp"

#include <crio/core/log.hpp>
#include <crio/net/cni_config.hpp>

#include <sys/stat.h>

#include <filesystem>

namespace crio::daemon {
namespace {

// A changed directory is noticed at once through its mtime; a plugin binary that
// appears later is noticed within this interval.
constexpr auto kRecheckInterval = std::chrono::seconds(5);

// Changes when a file in the directory is added, removed, renamed or rewritten in
// place (which leaves the directory's own mtime alone). A few stats: the directory
// holds a handful of files. The hash is unsigned so that it wraps (a signed overflow
// would be undefined).
int64_t dir_signature(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return -1;
  auto stamp = [&] {
    return static_cast<uint64_t>(st.st_mtim.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(st.st_mtim.tv_nsec);
  };
  uint64_t signature = stamp();
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    if (::stat(it->path().c_str(), &st) != 0) continue;
    signature = signature * 31 + stamp() + static_cast<uint64_t>(st.st_size) + static_cast<uint64_t>(st.st_ino);
  }
  // -1 means "no directory"; a hash that lands there is moved off it.
  auto result = static_cast<int64_t>(signature);
  return result == -1 ? 0 : result;
}

}  // namespace

CniManager::CniManager(const core::Config& config) : config_(config) {}

void CniManager::refresh_locked() {
  auto now = std::chrono::steady_clock::now();
  int64_t mtime = dir_signature(config_.network_dir);
  if (mtime == dir_mtime_ns_ && now - checked_ < kRecheckInterval) return;
  checked_ = now;
  dir_mtime_ns_ = mtime;
  auto found = net::default_network(config_.network_dir, config_.cni_default_network, config_.plugin_dirs);
  if (!found.ok()) {
    if (network_ || error_.ok()) log::warn("no usable CNI network", {{"error", found.status().message()}});
    network_.reset();
    loaded_json_.clear();
    error_ = found.status();
    return;
  }
  error_ = ok_status();
  if (network_ && found->json == loaded_json_) return;
  loaded_json_ = found->json;
  net::NetworkOptions options;
  options.plugin_dirs = config_.plugin_dirs;
  options.cache_dir = kCniCacheDir;
  log::info("using CNI network", {{"name", found->name}, {"file", found->path}});
  network_ = std::make_shared<net::Network>(std::move(*found), std::move(options));
  if (!pod_cidr_.empty()) (void)network_->set_pod_cidr(pod_cidr_);
}

Result<std::shared_ptr<net::Network>> CniManager::network() {
  std::lock_guard lock(mutex_);
  refresh_locked();
  if (!network_) return error_;
  return network_;
}

Condition CniManager::readiness() {
  std::lock_guard lock(mutex_);
  refresh_locked();
  if (network_) return {true, "", ""};
  return {false, "NetworkPluginNotReady", "Network plugin returns error: " + error_.message()};
}

Status CniManager::set_pod_cidr(const std::string& cidr) {
  std::lock_guard lock(mutex_);
  refresh_locked();
  if (network_) CRIO_RETURN_IF_ERROR(network_->set_pod_cidr(cidr));
  pod_cidr_ = cidr;
  return ok_status();
}

}  // namespace crio::daemon
