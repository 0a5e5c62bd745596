#pragma once
// The daemon's view of images: pulls through libcrio-image into the store, finds
// images by any name a CRI client may use, removes them, and answers the questions
// ImageStatus and ListImages ask, from memory.

#include "live_config.hpp"

#include <crio/core/config.hpp>
#include <crio/core/storage/store.hpp>
#include <crio/image/pull.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace crio::daemon {

class Metrics;

// What the CRI reports about one image.
struct ImageView {
  storage::Image image;
  std::optional<int64_t> uid;  // from the image's User, when numeric
  std::string username;        // from the image's User, when a name
  bool pinned = false;
};

struct PullRequest {
  std::string image;
  std::optional<image::AuthConfig> auth;
  std::string pod_namespace;  // selects signature_policy_dir/<namespace>.json
};

// The store the configuration names (root, runroot, driver, options, imagestore).
storage::StoreOptions store_options(const core::Config& config);

class Images {
 public:
  // Opens the store; errors name the file or directory. The registries' configuration,
  // pinned_images and the signature policy are `live`'s, read at each call.
  static Result<std::unique_ptr<Images>> open(const core::Config& config, const LiveConfig& live);

  // Pulls and returns the view of the pulled image.
  Result<ImageView> pull(const PullRequest& request);
  // By ID, unique ID prefix, tag, digest or short name; nullopt when absent.
  std::optional<ImageView> find(const std::string& name) const;
  std::vector<ImageView> list(const std::string& filter = "") const;
  // By one of several tags: removes that tag only. By ID, digest or its last tag:
  // removes the image. Absent is not an error (NotFound is never returned);
  // FailedPrecondition while a container uses it.
  Status remove(const std::string& name);

  // Told of every pull's outcome and progress (metrics); none by default.
  void set_metrics(Metrics* metrics) { metrics_ = metrics; }

  storage::Store& store() { return *store_; }
  const image::PullMetrics& metrics() const { return puller_->metrics(); }
  // Where the image and container layers live (the CRI's FilesystemIdentifier).
  std::string images_mountpoint() const;
  std::string containers_mountpoint() const;

 private:
  Images(const core::Config& config, const LiveConfig& live, std::unique_ptr<storage::Store> store);
  ImageView view_of(const storage::Image& image, const LiveSettings& live) const;
  static bool is_pinned(const storage::Image& image, const LiveSettings& live);
  // The store names `name` may stand for, most likely first.
  std::vector<std::string> candidate_names(const std::string& name) const;

  const core::Config& config_;
  const LiveConfig& live_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<image::Puller> puller_;
  Metrics* metrics_ = nullptr;

  mutable std::mutex user_cache_mutex_;
  // Image ID → the User of its config, parsed once. Guarded by user_cache_mutex_.
  mutable std::map<std::string, std::string> user_cache_;
};

}  // namespace crio::daemon
