#include "live_config.hpp"

#include <crio/core/log.hpp>
#include <crio/image/reference.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace crio::daemon {
namespace {

namespace stdfs = std::filesystem;

// The profile RuntimeDefault stands for: seccomp_profile when the file is there (a file
// that is there but is not JSON is an error, as in CRI-O), else the built-in one.
Result<std::string> resolve_seccomp_profile(const std::string& path) {
  if (path.empty()) return std::string();
  std::error_code ec;
  stdfs::path absolute = stdfs::absolute(path, ec);
  if (ec || !stdfs::exists(absolute, ec)) {
    // CRI-O's wording, which its tests look for.
    log::info("Specified profile does not exist on disk", {{"seccomp_profile", path}});
    return std::string();
  }
  std::ifstream in(absolute);
  std::stringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) {
    return error(Code::kInvalidArgument, "unable to load seccomp profile: cannot read {}", path);
  }
  if (nlohmann::json::parse(text.str(), nullptr, false).is_discarded()) {
    return error(Code::kInvalidArgument, "unable to load seccomp profile: {}: not JSON", path);
  }
  return absolute.string();
}

std::string quoted_change(std::string_view key, std::string_view value) {
  return fmt::format("Set config {} to \"{}\"", key, value);
}

std::vector<std::string> non_empty(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  std::copy_if(names.begin(), names.end(), std::back_inserter(out), [](const std::string& n) { return !n.empty(); });
  return out;
}

// `reloading` words a registries.conf error as CRI-O's reload does.
Result<std::shared_ptr<LiveSettings>> compile(const core::Config& config, bool reloading) {
  auto settings = std::make_shared<LiveSettings>();
  settings->config = config;
  settings->spec_defaults = oci::spec_defaults(config);
  CRIO_ASSIGN_OR_RETURN(settings->spec_defaults.seccomp_profile, resolve_seccomp_profile(config.seccomp_profile));
  settings->hooks = std::make_shared<const oci::HookSet>(config.hooks_dir);
  auto registries = load_registries(config);
  if (!registries.ok()) {
    const char* env = std::getenv("CONTAINERS_REGISTRIES_CONF");
    return error(registries.status().code(), "{}{}: {}", reloading ? "system registries reload failed: " : "",
                 env && *env ? env : "/etc/containers/registries.conf", registries.status().message());
  }
  settings->registries = std::make_shared<const image::RegistriesConfig>(std::move(*registries));
  settings->pins = non_empty(config.pinned_images);
  settings->pins.push_back(config.pause_image);
  return settings;
}

}  // namespace

Result<image::RegistriesConfig> load_registries(const core::Config& config) {
  image::RegistriesLoadOptions load;
  load.insecure_registries = config.insecure_registries;
  CRIO_ASSIGN_OR_RETURN(image::RegistriesConfig registries, image::load_registries_config(load));
  // CRI-O's deprecated --registry: tried for short names before registries.conf's own.
  auto& search = registries.unqualified_search_registries;
  for (auto it = config.registries.rbegin(); it != config.registries.rend(); ++it) {
    search.erase(std::remove(search.begin(), search.end(), *it), search.end());
    search.insert(search.begin(), *it);
  }
  if (config.short_name_mode == "permissive") registries.short_name_mode = image::ShortNameMode::kPermissive;
  else if (config.short_name_mode == "disabled") registries.short_name_mode = image::ShortNameMode::kDisabled;
  else registries.short_name_mode = image::ShortNameMode::kEnforcing;
  return registries;
}

Result<std::shared_ptr<const LiveSettings>> initial_settings(const core::Config& config) {
  CRIO_ASSIGN_OR_RETURN(auto settings, compile(config, false));
  return std::shared_ptr<const LiveSettings>(std::move(settings));
}

Result<std::shared_ptr<const LiveSettings>> reloaded_settings(const LiveSettings& current, core::Config files,
                                                              std::vector<std::string>& changes) {
  // The handlers as they will run: monitor paths filled in, binaries checked (as at
  // start-up; CRI-O validates the runtimes it reloads).
  std::vector<std::string> notes;
  if (Status s = core::prepare_for_execution(files, notes); !s.ok()) {
    return error(s.code(), "unable to reload runtimes: {}", s.message());
  }
  if (!files.pause_image_auth_file.empty() && files.pause_image_auth_file != current.config.pause_image_auth_file) {
    std::error_code ec;
    if (!stdfs::exists(files.pause_image_auth_file, ec)) {
      // Go's os.Stat wording, which CRI-O's tests look for.
      return error(Code::kInvalidArgument, "stat {}: no such file or directory", files.pause_image_auth_file);
    }
  }

  if (auto ref = image::parse_reference(files.pause_image); !ref.ok()) {
    return error(Code::kInvalidArgument, "pause_image {}: {}", files.pause_image, ref.status().message());
  }

  const core::Config& was = current.config;
  core::Config next = was;
  auto take = [&](auto member, std::string_view key, auto show) {
    if (next.*member == files.*member) return;
    next.*member = files.*member;
    changes.push_back(quoted_change(key, show(next.*member)));
  };
  auto plain = [](const std::string& v) { return v; };
  auto joined = [](const std::vector<std::string>& v) { return fmt::format("{}", fmt::join(v, ",")); };
  take(&core::Config::log_level, "log_level", plain);
  take(&core::Config::log_filter, "log_filter", plain);
  take(&core::Config::pause_image, "pause_image", plain);
  take(&core::Config::pause_image_auth_file, "pause_image_auth_file", plain);
  take(&core::Config::pause_command, "pause_command", plain);
  if (non_empty(next.pinned_images) != non_empty(files.pinned_images)) {
    next.pinned_images = non_empty(files.pinned_images);
    changes.push_back(quoted_change("pinned_images", next.pinned_images.empty() ? "[]" : joined(next.pinned_images)));
  }
  take(&core::Config::decryption_keys_path, "decryption_keys_path", plain);
  take(&core::Config::signature_policy, "signature_policy", plain);
  take(&core::Config::signature_policy_dir, "signature_policy_dir", plain);
  take(&core::Config::seccomp_profile, "seccomp_profile", plain);
  take(&core::Config::apparmor_profile, "apparmor_profile", plain);
  take(&core::Config::hooks_dir, "hooks_dir", joined);
  take(&core::Config::default_sysctls, "default_sysctls", joined);
  if (next.runtimes != files.runtimes) {
    // CRI-O's wording, which its tests look for.
    changes.push_back("Updating runtime configuration");
    next.runtimes = files.runtimes;
  }
  take(&core::Config::default_runtime, "default_runtime", plain);

  CRIO_ASSIGN_OR_RETURN(auto settings, compile(next, true));
  return std::shared_ptr<const LiveSettings>(std::move(settings));
}

namespace {

// "FILE:LINE: crio.table.key: reason" as "reason (FILE:LINE: crio.table.key)": a reload
// error reads as CRI-O's, which leads with the reason; others stay as they are.
std::string reason_first(const std::string& message) {
  static const std::regex kPlaced(R"(^(\S+:\d+): (crio\.[A-Za-z0-9_.*/-]+): (.*)$)");
  std::smatch m;
  if (!std::regex_match(message, m, kPlaced)) return message;
  return fmt::format("{} ({}: {})", m[3].str(), m[1].str(), m[2].str());
}

void reload_failed(const std::string& reason) {
  // CRI-O's wording, which its tooling looks for; the running settings stay.
  log::error("unable to reload configuration: " + reason);
}

}  // namespace

void reload_configuration(const core::ConfigSources& sources, LiveConfig& live) {
  log::info("Reloading configuration");
  core::ConfigSources files = sources;
  files.flags.clear();
  files.runtimes.clear();
  std::vector<std::string> warnings;
  auto loaded = core::load_config(files, warnings);
  if (!loaded.ok()) return reload_failed(reason_first(loaded.status().message()));
  for (const auto& warning : warnings) log::warn(warning);

  const std::shared_ptr<const LiveSettings> current = live.get();
  std::vector<std::string> changes;
  auto next = reloaded_settings(*current, std::move(*loaded), changes);
  if (!next.ok()) return reload_failed(reason_first(next.status().message()));

  // Everything was checked: from here on nothing fails.
  const core::Config& now = (*next)->config;
  if (now.log_level != current->config.log_level) {
    // Said at info whatever the old and new levels, as CRI-O does.
    log::set_level(log::Level::kInfo);
    log::info(quoted_change("log_level", now.log_level));
    if (auto level = log::parse_level(now.log_level); level.ok()) log::set_level(*level);
  }
  if (now.log_filter != current->config.log_filter) {
    if (Status s = log::set_filter(now.log_filter); !s.ok()) log::error("cannot apply log_filter: " + s.message());
  }
  live.set(*next);
  for (const auto& change : changes) {
    if (change.starts_with("Set config log_level ")) continue;  // said above
    log::info(change);
  }
  // CRI-O's wording, which its tests look for.
  log::info("Applied new registry configuration",
            {{"unqualified_search_registries",
              fmt::format("{}", fmt::join((*next)->registries->unqualified_search_registries, ","))}});
  log::info("reloaded the configuration");
}

}  // namespace crio::daemon
