#pragma once
// A Docker Registry HTTP API v2 / OCI distribution client on libcurl: ping,
// manifests by tag or digest, blobs streamed to a callback. Thread-safe: each
// transfer has its own easy handle; connections, DNS and TLS sessions are shared.
//
// Authentication: anonymous or credentialed bearer tokens (the registry's
// `WWW-Authenticate: Bearer realm=...,service=...,scope=...` challenge), basic
// auth, identity (refresh) tokens and registry tokens; credentials come from an
// explicit AuthConfig (a CRI pull's) or from an auth.json file.
// TLS: the system CAs plus <certs_dir>/<host[:port]>/*.crt, client pairs *.cert +
// *.key. Plain HTTP only for insecure registries (which are also not verified).
// Redirects are followed; registry credentials never go to another host.

#include <crio/core/status.hpp>
#include <crio/image/export.hpp>
#include <crio/image/reference.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crio::image {

inline constexpr std::string_view kDefaultCertsDir = "/etc/containers/certs.d";

// Credentials for one registry, as the CRI's AuthConfig carries them.
struct CRIO_IMAGE_EXPORT AuthConfig {
  std::string username;
  std::string password;
  std::string auth;            // base64("user:password"), used when username is empty
  std::string identity_token;  // OAuth2 refresh token for the bearer flow
  std::string registry_token;  // a bearer token sent as is

  bool empty() const {
    return username.empty() && password.empty() && auth.empty() && identity_token.empty() && registry_token.empty();
  }
};

// Parses an auth.json ({"auths": {"host[/path]": {"auth": "base64"}}}) and returns
// the credentials for `registry`/`repository`: the most specific key wins
// ("host/ns/repo" over "host/ns" over "host"); legacy URL keys
// ("https://index.docker.io/v1/") count as their host. nullopt when none match.
CRIO_IMAGE_EXPORT Result<std::optional<AuthConfig>> lookup_auth_file(const std::string& path,
                                                                     std::string_view registry,
                                                                     std::string_view repository);
CRIO_IMAGE_EXPORT Result<std::optional<AuthConfig>> lookup_auth_json(std::string_view json, std::string_view source,
                                                                     std::string_view registry,
                                                                     std::string_view repository);

// "user:password" from AuthConfig (username/password, else the decoded auth).
// InvalidArgument when `auth` is not base64 of "user:password".
CRIO_IMAGE_EXPORT Result<std::pair<std::string, std::string>> basic_credentials(const AuthConfig& auth);

CRIO_IMAGE_EXPORT std::string base64_encode(std::string_view data);
CRIO_IMAGE_EXPORT Result<std::string> base64_decode(std::string_view text);

// One challenge of a WWW-Authenticate header: scheme (lowercase) and parameters
// (keys lowercase, quoted values unquoted).
struct CRIO_IMAGE_EXPORT AuthChallenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};
// Parses a header value that may hold several challenges:
//   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:x:pull"
CRIO_IMAGE_EXPORT std::vector<AuthChallenge> parse_www_authenticate(std::string_view header);

struct RegistryClientOptions {
  std::string certs_dir = std::string(kDefaultCertsDir);
  std::string auth_file;  // auth.json; "" for none
  std::string user_agent = "crio";
  // A transfer that moves no byte for this long fails with DeadlineExceeded.
  std::chrono::seconds stall_timeout{60};
  std::chrono::seconds connect_timeout{30};
  // Retries after a 5xx, a 429 or a broken connection, waiting backoff, 2×backoff…
  int max_retries = 3;
  std::chrono::milliseconds retry_backoff{250};
};

// Where one request goes: a repository on one registry host.
struct CRIO_IMAGE_EXPORT RepositoryTarget {
  std::string registry;    // "docker.io", "localhost:5000"
  std::string repository;  // "library/busybox"
  bool insecure = false;
  std::optional<AuthConfig> auth;  // overrides the auth file for this target
  std::string display;             // names the image in errors; defaults to registry/repository
};

CRIO_IMAGE_EXPORT RepositoryTarget make_target(const Reference& ref, bool insecure,
                                               std::optional<AuthConfig> auth = std::nullopt);

struct CRIO_IMAGE_EXPORT ManifestResponse {
  std::string body;
  std::string media_type;  // Content-Type as sent (parameters dropped)
  std::string digest;      // sha256 of body, computed here
};

// The media types a manifest GET accepts, in preference order.
CRIO_IMAGE_EXPORT const std::vector<std::string>& manifest_accept_types();

// Receives a blob's bytes; a non-OK status aborts the transfer with that status.
using BlobSink = std::function<Status(const char* data, size_t len)>;

class CRIO_IMAGE_EXPORT RegistryClient {
 public:
  explicit RegistryClient(RegistryClientOptions options = {});
  ~RegistryClient();
  RegistryClient(const RegistryClient&) = delete;
  RegistryClient& operator=(const RegistryClient&) = delete;

  // GET /v2/ (an authentication challenge counts as reachable). Picks http for an
  // insecure registry that does not speak TLS.
  Status ping(const RepositoryTarget& target);

  // `reference` is a tag or a digest; a digest is verified against the body.
  Result<ManifestResponse> get_manifest(const RepositoryTarget& target, std::string_view reference);

  // Streams the blob to `sink`. A connection that breaks mid-way is resumed (with
  // a Range request when the server honours it) without repeating bytes. The
  // digest is NOT checked here: the caller hashes what it receives.
  Status get_blob(const RepositoryTarget& target, std::string_view digest, const BlobSink& sink);

  // HTTP API base of a registry: "registry-1.docker.io" for "docker.io".
  static std::string api_host(std::string_view registry);

  const RegistryClientOptions& options() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace crio::image
