#include "images.hpp"
#include "metrics.hpp"

#include <crio/core/log.hpp>
#include <crio/image/decrypt.hpp>
#include <crio/image/manifest.hpp>
#include <crio/image/reference.hpp>
#include <crio/image/registries.hpp>
#include <crio/image/trust.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>

namespace crio::daemon {
namespace {

// "1002", "1002:1004" → uid 1002; "www-data", "www-data:1004" → username.
void apply_user(const std::string& user, ImageView& view) {
  std::string who = user.substr(0, user.find(':'));
  if (who.empty()) return;
  int64_t uid = 0;
  auto [end, ec] = std::from_chars(who.data(), who.data() + who.size(), uid);
  if (ec == std::errc() && end == who.data() + who.size()) {
    view.uid = uid;
  } else {
    view.username = who;
  }
}

// pinned_images patterns: an exact name, "prefix*", or "*keyword*".
bool matches_pin(const std::string& pattern, const std::string& name) {
  if (pattern.empty()) return false;
  bool leading = pattern.front() == '*';
  bool trailing = pattern.size() > 1 && pattern.back() == '*';
  if (leading && trailing) return name.find(pattern.substr(1, pattern.size() - 2)) != std::string::npos;
  if (trailing) return name.rfind(pattern.substr(0, pattern.size() - 1), 0) == 0;
  if (leading) {
    std::string suffix = pattern.substr(1);
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  return pattern == name;
}

std::chrono::seconds stall_timeout_of(const core::Config& config) {
  auto parsed = core::parse_duration(config.pull_progress_timeout);
  if (!parsed.ok() || parsed->count() <= 0) return std::chrono::hours(24 * 365);  // "0s": no timeout
  return std::max(std::chrono::seconds(1), std::chrono::duration_cast<std::chrono::seconds>(*parsed));
}

}  // namespace

storage::StoreOptions store_options(const core::Config& config) {
  storage::StoreOptions options;
  options.root = config.root;
  options.runroot = config.runroot;
  options.driver = config.storage_driver;
  options.options = config.storage_option;
  options.image_store = config.imagestore;
  return options;
}

Result<std::unique_ptr<Images>> Images::open(const core::Config& config, const LiveConfig& live) {
  storage::StoreOptions options = store_options(config);
  auto store = storage::Store::open(options);
  if (!store.ok()) return store.status().wrap("opening the image store");
  // No pull runs yet: a layer no image uses was left by a pull or an image removal
  // that a crash cut short, and nothing would ever remove it.
  if (auto dropped = (*store)->remove_unreferenced_layers(); !dropped.ok()) {
    return dropped.status().wrap("opening the image store");
  }

  return std::unique_ptr<Images>(new Images(config, live, std::move(*store)));
}

Images::Images(const core::Config& config, const LiveConfig& live, std::unique_ptr<storage::Store> store)
    : config_(config), live_(live), store_(std::move(store)) {
  image::PullerOptions options;  // the registries' configuration comes with each pull
  options.client.auth_file = config.global_auth_file;
  options.client.stall_timeout = stall_timeout_of(config);
  options.max_parallel_downloads = static_cast<int>(std::max<int64_t>(1, config.max_parallel_downloads));
  puller_ = std::make_unique<image::Puller>(*store_, std::move(options));
}

std::string Images::images_mountpoint() const { return config_.root + "/" + config_.storage_driver + "-images"; }
std::string Images::containers_mountpoint() const {
  return config_.root + "/" + config_.storage_driver + "-containers";
}

bool Images::is_pinned(const storage::Image& image, const LiveSettings& live) {
  for (const auto& pattern : live.pins) {
    for (const auto& name : image.names) {
      if (matches_pin(pattern, name)) return true;
    }
    if (matches_pin(pattern, image.id)) return true;
  }
  return false;
}

ImageView Images::view_of(const storage::Image& image, const LiveSettings& live) const {
  ImageView view;
  view.image = image;
  view.pinned = is_pinned(image, live);
  std::string user;
  {
    std::lock_guard lock(user_cache_mutex_);
    auto it = user_cache_.find(image.id);
    if (it != user_cache_.end()) {
      user = it->second;
    } else {
      auto config = image::parse_image_config(image.config, image.id);
      if (config.ok()) user = config->user;
      user_cache_.emplace(image.id, user);
    }
  }
  apply_user(user, view);
  return view;
}

std::vector<std::string> Images::candidate_names(const std::string& name) const {
  std::vector<std::string> names;
  if (name.empty()) return names;
  names.push_back(name);  // an ID, an ID prefix, or a name exactly as stored
  if (image::looks_like_image_id(name)) return names;
  if (auto ref = image::parse_reference(name); ref.ok()) names.push_back(ref->string());
  if (image::is_short_name(name)) {
    if (auto refs = image::resolve_name(*live_.get()->registries, name); refs.ok()) {
      for (const auto& ref : *refs) names.push_back(ref.string());
    }
  }
  return names;
}

std::optional<ImageView> Images::find(const std::string& name) const {
  auto live = live_.get();
  for (const auto& candidate : candidate_names(name)) {
    if (auto image = store_->image(candidate)) return view_of(*image, *live);
  }
  return std::nullopt;
}

std::vector<ImageView> Images::list(const std::string& filter) const {
  std::vector<ImageView> views;
  if (!filter.empty()) {
    if (auto found = find(filter)) views.push_back(std::move(*found));
    return views;
  }
  auto live = live_.get();
  for (const auto& image : store_->images()) views.push_back(view_of(image, *live));
  return views;
}

Result<ImageView> Images::pull(const PullRequest& request) {
  if (request.image.empty()) return error(Code::kInvalidArgument, "PullImage: no image given");
  auto live = live_.get();
  image::PullOptions options;
  options.auth = request.auth;
  options.registries = live->registries;
  image::TrustOptions trust;
  trust.signature_policy = live->config.signature_policy;
  trust.signature_policy_dir = live->config.signature_policy_dir;
  if (const char* dir = std::getenv("CONTAINERS_REGISTRIES_D"); dir && *dir) trust.registries_d_dir = dir;
  options.verify = image::policy_verifier(std::move(trust), request.pod_namespace);
  options.observer = metrics_;
  // Read at every pull, as CRI-O does: keys added to the directory count at once, and a
  // directory CRI-O would not read fails the pull here too.
  auto keys = image::DecryptionKeys::load_dir(live->config.decryption_keys_path);
  if (!keys.ok()) {
    if (metrics_) metrics_->image_pull_failed(request.image, keys.status().message());
    // Unknown, as CRI-O answers: the daemon's configuration is at fault, not the request.
    return error(Code::kUnknown, "image {}: {}", request.image, keys.status().message());
  }
  options.decryption_keys = std::make_shared<const image::DecryptionKeys>(std::move(*keys));
  auto result = puller_->pull(request.image, options);
  if (!result.ok()) {
    if (metrics_) metrics_->image_pull_failed(request.image, result.status().message());
    return result.status();
  }
  image::PullResult& pulled = *result;
  auto image = store_->image(pulled.image_id);
  if (!image) return error(Code::kInternal, "image {} vanished right after its pull", request.image);
  log::info("pulled image", {{"image", pulled.reference.string()}, {"id", pulled.image_id},
                             {"layers_pulled", pulled.layers_pulled}, {"layers_reused", pulled.layers_reused}});
  if (metrics_) {
    metrics_->image_pull_succeeded(pulled.reference.string());
    if (pulled.already_present) metrics_->image_pull_skipped(pulled.reference.string(), image->size);
  }
  return view_of(*image, *live);
}

Status Images::remove(const std::string& name) {
  std::optional<ImageView> found;
  for (const auto& candidate : candidate_names(name)) {
    auto image = store_->image(candidate);
    if (!image) continue;
    // As CRI-O: removing one of several tags only untags; an ID, a digest or the
    // last tag removes the image.
    bool tag = std::find(image->names.begin(), image->names.end(), candidate) != image->names.end();
    if (tag && image->names.size() > 1) {
      Status untagged = store_->remove_image_name(image->id, candidate);
      if (untagged.ok()) log::info("untagged image", {{"image", candidate}, {"id", image->id}});
      return untagged.code() == Code::kNotFound ? ok_status() : untagged;
    }
    found = view_of(*image, *live_.get());
    break;
  }
  if (!found) return ok_status();
  Status removed = store_->delete_image(found->image.id);
  if (removed.code() == Code::kNotFound) return ok_status();  // removed by a concurrent call
  if (removed.ok()) {
    std::lock_guard lock(user_cache_mutex_);
    user_cache_.erase(found->image.id);
    log::info("removed image", {{"image", name}, {"id", found->image.id}});
  }
  return removed;
}

}  // namespace crio::daemon
