#include "wipe.hpp"

#include "live_config.hpp"

#include "cni_manager.hpp"
#include "containers.hpp"
#include "images.hpp"
#include "pods.hpp"

#include <crio/core/build_info.hpp>
#include <crio/core/fs.hpp>
#include <crio/core/log.hpp>
#include <crio/core/storage/store.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>
#include <utility>

namespace crio::daemon {

namespace {

// "1.29.13", "\"1.29.13+abc\"", "v1.29" → {1, 29}; nullopt when there is no major.minor.
std::optional<std::pair<long, long>> major_minor(std::string text) {
  auto blank = [](unsigned char c) { return std::isspace(c) || c == '"'; };
  while (!text.empty() && blank(text.back())) text.pop_back();
  size_t start = 0;
  while (start < text.size() && blank(text[start])) ++start;
  text = text.substr(start);
  if (!text.empty() && text[0] == 'v') text = text.substr(1);
  size_t dot = text.find('.');
  if (dot == 0 || dot == std::string::npos) return std::nullopt;
  size_t end = dot + 1;
  while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
  if (end == dot + 1) return std::nullopt;
  const std::string major = text.substr(0, dot);
  if (!std::all_of(major.begin(), major.end(), [](unsigned char c) { return std::isdigit(c); })) return std::nullopt;
  return std::make_pair(std::stol(major), std::stol(text.substr(dot + 1, end - dot - 1)));
}

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

bool version_file_says_wipe(const std::string& file) {
  if (file.empty()) return false;
  auto text = fs::read_file(file);
  if (!text.ok()) {
    log::info("version file unreadable: wiping", {{"file", file}, {"error", text.status().message()}});
    return true;
  }
  auto old_version = major_minor(*text);
  if (!old_version) {
    log::warn("version file malformed: wiping", {{"file", file}});
    return true;
  }
  auto current = major_minor(build_info().version);
  return !current || *current != *old_version;
}

Status write_version_file(const std::string& file) {
  if (file.empty()) return ok_status();
  CRIO_RETURN_IF_ERROR(fs::make_dirs(parent_of(file), 0755));
  return fs::write_file_atomic(file, fmt::format("\"{}\"", build_info().version), 0644);
}

std::string clean_shutdown_supported_file(const core::Config& config) {
  return config.clean_shutdown_file.empty() ? "" : config.clean_shutdown_file + ".supported";
}

bool shutdown_was_unclean(const core::Config& config) {
  if (config.clean_shutdown_file.empty()) return false;
  // Without the companion the marker may be missing only because the daemon that ran
  // before never wrote one.
  if (!fs::exists(clean_shutdown_supported_file(config))) return false;
  return !fs::exists(config.clean_shutdown_file);
}

WipeDecision wipe_decision(const core::Config& config) {
  WipeDecision d;
  // Another release made the images: they go, and the containers with them.
  d.images = version_file_says_wipe(config.version_file_persist);
  d.containers = d.images || version_file_says_wipe(config.version_file);
  return d;
}

void wipe_pods_and_containers(Pods& pods, Containers& containers, Images& images, bool with_images) {
  std::set<std::string> used_images;
  for (const Container& c : containers.list()) {
    if (!c.image_id.empty()) used_images.insert(c.image_id);
  }
  for (const Pod& pod : pods.list()) {
    Status s = containers.remove_pod(pod.id);
    if (s.ok()) s = pods.discard(pod.id);
    if (!s.ok()) {
      log::warn("wipe: cannot remove a pod sandbox", {{"id", pod.id}, {"error", s.message()}});
    } else {
      log::info("wipe: removed a pod sandbox", {{"id", pod.id}});
    }
  }
  // Containers whose pod was not published when the daemon stopped.
  for (const Container& c : containers.list()) {
    if (Status s = containers.discard(c.id); !s.ok()) {
      log::warn("wipe: cannot remove a container", {{"id", c.id}, {"error", s.message()}});
    }
  }
  if (!with_images) return;
  // Best effort, as CRI-O: the kubelet's image garbage collection removes the rest.
  for (const auto& id : used_images) {
    if (Status s = images.remove(id); !s.ok()) {
      log::warn("wipe: cannot remove an image", {{"id", id}, {"error", s.message()}});
    } else {
      log::info("wipe: removed an image", {{"id", id}});
    }
  }
}

Status remove_storage_root(const core::Config& config) {
  log::info("wiping the storage directory after a suspected unclean shutdown",
            {{"clean_shutdown_file", config.clean_shutdown_file}, {"root", config.root}});
  return storage::Store::wipe(store_options(config));
}

int run_wipe(const CommandLine& command_line) {
  const core::Config& config = command_line.config;
  bool force = false;
  for (const auto& a : command_line.rest) {
    if (a == "-f" || a == "--force") {
      force = true;
    } else {
      fmt::print(stderr, "crio wipe: unknown argument \"{}\" (takes -f, --force)\n", a);
      return 2;
    }
  }
  bool containers_too = true, images_too = true;
  if (!force) {
    // The run-directory file is gone after a reboot; the persistent one records the
    // release that made the images.
    containers_too = version_file_says_wipe(config.version_file);
    images_too = version_file_says_wipe(config.version_file_persist);
  }
  // After a reboot that followed a crash, nothing on disk can be trusted.
  if (containers_too && shutdown_was_unclean(config)) {
    if (Status s = remove_storage_root(config); !s.ok()) {
      fmt::print(stderr, "crio wipe: {}\n", s.message());
      return 1;
    }
    return 0;
  }
  // The daemon wipes at its next start.
  if (config.internal_wipe && !force) return 0;
  if (!containers_too) {
    log::info("version unchanged and node not rebooted: nothing to wipe");
    return 0;
  }

  auto initial = initial_settings(config);
  if (!initial.ok()) {
    fmt::print(stderr, "crio wipe: {}\n", initial.status().message());
    return 1;
  }
  LiveConfig live(std::move(*initial));
  auto images = Images::open(config, live);
  if (!images.ok()) {
    fmt::print(stderr, "crio wipe: {}\n", images.status().message());
    return 1;
  }
  CniManager cni(config);
  Pods pods(config, live, cni);
  if (Status s = pods.restore(); !s.ok()) {
    fmt::print(stderr, "crio wipe: {}\n", s.message());
    return 1;
  }
  Containers containers(config, live, pods, **images);
  if (Status s = containers.restore(); !s.ok()) {
    fmt::print(stderr, "crio wipe: {}\n", s.message());
    return 1;
  }
  wipe_pods_and_containers(pods, containers, **images, images_too);
  return 0;
}

}  // namespace crio::daemon
