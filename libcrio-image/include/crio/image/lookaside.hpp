#pragma once
// registries.d (containers-registries.d(5)): where an image's signatures are kept,
// and a SignatureSource that reads them from there.
//
// Every "*.yaml" file of the directory is merged; a scope may be configured in one
// place only (a second "default-docker" or a repeated "docker" key is an error):
//   default-docker:
//     lookaside: https://sigs.example.com          # old name: sigstore
//     use-sigstore-attachments: true
//   docker:
//     registry.example.com/team:
//       lookaside: file:///srv/sigs
// Each setting is taken from the most specific scope that sets it (the same scope
// order as policy.json), then from default-docker. Simple-signing signatures of
// host/ns/repo with manifest sha256:H live at
//   <lookaside>/ns/repo@sha256=H/signature-1, -2, … (until the first missing one).

#include <crio/core/status.hpp>
#include <crio/image/export.hpp>
#include <crio/image/reference.hpp>
#include <crio/image/signature.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crio::image {

inline constexpr std::string_view kDefaultRegistriesDDir = "/etc/containers/registries.d";
// Read when no lookaside is configured at all (containers/image's built-in for root).
inline constexpr std::string_view kDefaultLookaside = "file:///var/lib/containers/sigstore";

struct CRIO_IMAGE_EXPORT RegistriesDSection {
  std::optional<std::string> lookaside;          // "lookaside", or "sigstore" when that is unset
  std::optional<std::string> lookaside_staging;  // write side; kept for completeness, unused
  std::optional<bool> use_sigstore_attachments;
  std::string file;  // where it was defined, for messages
};

struct CRIO_IMAGE_EXPORT RegistriesD {
  std::optional<RegistriesDSection> default_docker;
  std::map<std::string, RegistriesDSection> docker;  // scope → section
  std::vector<std::string> files;
};

// Parses one file. A top level that is not a mapping, a section or value of the
// wrong type, an invalid scope or a URL that is not file://, http:// or https:// is
// InvalidArgument naming `source`. Unknown keys are logged and ignored, as
// containers/image does.
CRIO_IMAGE_EXPORT Result<RegistriesD> parse_registries_d(std::string_view yaml, std::string_view source);

// Adds `other` to `base`; a scope (or default-docker) defined in both is
// InvalidArgument naming both files.
CRIO_IMAGE_EXPORT Status merge_registries_d(RegistriesD& base, const RegistriesD& other);

// Every "*.yaml" in `dir`, in name order. A missing directory is an empty config.
CRIO_IMAGE_EXPORT Result<RegistriesD> load_registries_d(const std::string& dir = std::string(kDefaultRegistriesDDir));

// The lookaside base for `ref` (configured, else `builtin_default`), without a
// trailing slash; empty when `builtin_default` is empty and nothing is configured.
CRIO_IMAGE_EXPORT std::string lookaside_for(const RegistriesD& config, const Reference& ref,
                                            std::string_view builtin_default = kDefaultLookaside);

// "<lookaside>/<repository path>@<algo>=<hex>/signature-<index>" (index from 1).
CRIO_IMAGE_EXPORT Result<std::string> lookaside_signature_url(std::string_view lookaside, const Reference& ref,
                                                              std::string_view manifest_digest, int index);

// use-sigstore-attachments for `ref` (false when nowhere set).
CRIO_IMAGE_EXPORT bool use_sigstore_attachments(const RegistriesD& config, const Reference& ref);

// The tag cosign stores a manifest's signatures under: "sha256-<hex>.sig".
CRIO_IMAGE_EXPORT Result<std::string> sigstore_attachment_tag(std::string_view manifest_digest);

// What RegistrySignatureSource needs from the network, so the registry client (or a
// test) plugs in without this code depending on it. Each returns std::nullopt for
// "not there" (HTTP 404, MANIFEST_UNKNOWN) and an error for anything else.
struct CRIO_IMAGE_EXPORT SignatureFetcher {
  // GET of an http:// or https:// lookaside URL.
  std::function<Result<std::optional<std::string>>(const std::string& url)> get_url;
  // A manifest of `repository` by tag, asking for the OCI manifest media type.
  std::function<Result<std::optional<std::string>>(const Reference& repository, const std::string& tag)> get_manifest;
  // A blob of `repository` by digest; the caller verifies the digest.
  std::function<Result<std::optional<std::string>>(const Reference& repository, const std::string& digest)> get_blob;
};

struct CRIO_IMAGE_EXPORT RegistrySignatureSourceOptions {
  std::string builtin_lookaside = std::string(kDefaultLookaside);
  std::size_t max_signatures = 128;                   // per image and kind
  std::size_t max_signature_bytes = 4 * 1024 * 1024;  // per signature, payload or manifest
};

// Signatures from registries.d's lookaside (file:// read directly, http(s) through
// get_url) and, where use-sigstore-attachments is set, from cosign attachments
// (get_manifest + get_blob). A missing fetch function is an error only when it is
// actually needed.
class CRIO_IMAGE_EXPORT RegistrySignatureSource : public SignatureSource {
 public:
  RegistrySignatureSource(RegistriesD config, SignatureFetcher fetcher, RegistrySignatureSourceOptions options = {});

  Result<std::vector<SigstoreSignature>> sigstore_signatures(const Reference& repository,
                                                             const std::string& manifest_digest) override;
  Result<std::vector<std::string>> simple_signing_signatures(const Reference& repository,
                                                             const std::string& manifest_digest) override;

 private:
  RegistriesD config_;
  SignatureFetcher fetcher_;
  RegistrySignatureSourceOptions options_;
};

}  // namespace crio::image
