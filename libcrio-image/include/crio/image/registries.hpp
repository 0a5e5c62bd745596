#pragma once
// registries.conf (containers-registries.conf(5), version 2): where an image
// reference is pulled from. A reference picks the [[registry]] whose prefix is its
// longest match; the pull then tries that entry's mirrors in order and the primary
// location last, each with the repository path rewritten from prefix to location.

#include <crio/core/status.hpp>
#include <crio/image/export.hpp>
#include <crio/image/reference.hpp>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace crio::image {

inline constexpr std::string_view kDefaultRegistriesConf = "/etc/containers/registries.conf";

enum class ShortNameMode { kEnforcing, kPermissive, kDisabled };
enum class PullFromMirror { kAll, kDigestOnly, kTagOnly };

CRIO_IMAGE_EXPORT std::string_view short_name_mode_name(ShortNameMode mode);

struct CRIO_IMAGE_EXPORT RegistryMirror {
  std::string location;  // host[:port][/path]
  bool insecure = false;
  PullFromMirror pull_from_mirror = PullFromMirror::kAll;
};

struct CRIO_IMAGE_EXPORT RegistryEntry {
  std::string prefix;    // "docker.io/library", "*.example.com"; defaults to location
  std::string location;  // empty for a wildcard prefix: no rewrite
  bool insecure = false;
  bool blocked = false;
  bool mirror_by_digest_only = false;
  std::vector<RegistryMirror> mirrors;
};

struct CRIO_IMAGE_EXPORT RegistriesConfig {
  std::vector<std::string> unqualified_search_registries;
  ShortNameMode short_name_mode = ShortNameMode::kEnforcing;
  std::vector<RegistryEntry> registries;
  std::map<std::string, std::string> aliases;  // short name → fully qualified name
  // crio.conf's insecure_registries: hosts (or host/path prefixes) whose TLS is
  // not verified and which may be reached over plain HTTP.
  std::vector<std::string> insecure_registries;
  std::vector<std::string> files;  // every file read, in order, for messages
};

struct RegistriesLoadOptions {
  // Explicit file; when empty, $CONTAINERS_REGISTRIES_CONF, else
  // /etc/containers/registries.conf. An explicit file must exist; the others may be
  // missing (an empty configuration).
  std::string path;
  // Drop-in directory; when empty, "<file>.d" (/etc/containers/registries.conf.d).
  std::string dropin_dir;
  // Merged in from crio.conf.
  std::vector<std::string> insecure_registries;
};

// Parses one file's text; `source` names it in errors ("registries.conf").
CRIO_IMAGE_EXPORT Result<RegistriesConfig> parse_registries_config(std::string_view toml_text, std::string_view source);

// Merges `dropin` over `base` as drop-ins do: a non-empty search list or a
// non-default short-name-mode replaces, a [[registry]] with the same prefix replaces, aliases override one by
// one (an empty alias value removes the alias).
CRIO_IMAGE_EXPORT void merge_registries_config(RegistriesConfig& base, const RegistriesConfig& dropin);

// Main file, then "*.conf" drop-ins in name order, then the insecure list.
CRIO_IMAGE_EXPORT Result<RegistriesConfig> load_registries_config(const RegistriesLoadOptions& options = {});

// The [[registry]] entry for `ref` (longest prefix wins), or nullptr.
CRIO_IMAGE_EXPORT const RegistryEntry* find_registry(const RegistriesConfig& config, const Reference& ref);

struct CRIO_IMAGE_EXPORT PullSource {
  Reference reference;  // what to ask for, with the rewritten registry and path
  bool insecure = false;
  bool mirror = false;
};

// Mirrors (those allowed for a tag or a digest pull) then the primary location.
// A blocked registry is PermissionDenied naming the reference and the prefix.
CRIO_IMAGE_EXPORT Result<std::vector<PullSource>> pull_sources(const RegistriesConfig& config, const Reference& ref);

// True when `location` (host[:port][/path]) is insecure by crio.conf's list or by
// a registries.conf entry.
CRIO_IMAGE_EXPORT bool is_insecure_location(const RegistriesConfig& config, std::string_view location);

// Fully qualified candidates for `text`: the text itself when it names a registry;
// else its alias (only), else one candidate per unqualified-search registry, in
// order. A short name with neither is NotFound naming the reference. Tag and
// digest of the text are kept; ":latest" is added when it has neither.
CRIO_IMAGE_EXPORT Result<std::vector<Reference>> resolve_name(const RegistriesConfig& config, std::string_view text);

}  // namespace crio::image
