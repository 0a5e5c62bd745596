#pragma once
// The settings a SIGHUP may change, as one immutable snapshot (see "Reloading" in
// crio(8)). Every operation takes the current snapshot once and reads it throughout, so
// it never sees half of a reload; a reload builds the whole next snapshot, checking
// everything it needs (files, runtimes, the registries' configuration), and swaps it in
// at once, or keeps the old one whole.

#include <crio/core/config.hpp>
#include <crio/image/registries.hpp>
#include <crio/oci/container_spec.hpp>
#include <crio/oci/hooks.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace crio::daemon {

struct LiveSettings {
  // The start-up configuration with the reloadable keys as the files last gave them
  // (the other keys keep their start-up values).
  core::Config config;
  // The reloadable keys, compiled.
  oci::SpecDefaults spec_defaults;  // seccomp_profile: empty when the file is not on disk
  std::shared_ptr<const oci::HookSet> hooks;
  std::shared_ptr<const image::RegistriesConfig> registries;
  // Image names ListImages reports pinned: pinned_images and pause_image, as CRI-O pins it.
  std::vector<std::string> pins;
};

class LiveConfig {
 public:
  explicit LiveConfig(std::shared_ptr<const LiveSettings> initial) : current_(std::move(initial)) {}
  std::shared_ptr<const LiveSettings> get() const {
    std::lock_guard lock(mutex_);
    return current_;
  }
  void set(std::shared_ptr<const LiveSettings> next) {
    std::lock_guard lock(mutex_);
    current_ = std::move(next);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const LiveSettings> current_;
};

// The registries' configuration as crio uses it: registries.conf and its drop-ins, with
// crio.conf's insecure_registries, registries (searched first) and short_name_mode.
Result<image::RegistriesConfig> load_registries(const core::Config& config);

// The settings of the start-up configuration.
Result<std::shared_ptr<const LiveSettings>> initial_settings(const core::Config& config);

// The next settings: `current` with the reloadable keys of `files` (a configuration read
// from the files alone, as CRI-O reloads them). Fails, naming the reason as CRI-O's
// reload does, on anything that cannot be applied; `changes` gets one
// "Set config KEY to \"VALUE\"" line per key that changed, to be logged once applied.
Result<std::shared_ptr<const LiveSettings>> reloaded_settings(const LiveSettings& current, core::Config files,
                                                              std::vector<std::string>& changes);

// SIGHUP: reads the configuration files of `sources` again (not the command line nor the
// environment, which were for the start, as CRI-O reloads) and applies the reloadable
// keys, or logs why it cannot ("unable to reload configuration: REASON") and keeps
// everything as it was.
void reload_configuration(const core::ConfigSources& sources, LiveConfig& live);

}  // namespace crio::daemon
