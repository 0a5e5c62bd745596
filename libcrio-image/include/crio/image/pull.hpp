#pragma once
// The pull pipeline: reference → registries.conf sources (mirrors, then the
// primary) → manifest (index → platform) → config blob (digest verified) → every
// layer not yet in the store, in parallel: download, verify the compressed digest
// while streaming, decrypt an encrypted one (its HMAC checked at the end), decompress,
// hash the tar for the diff ID, unpack into a staging writer → once every layer of the
// pull is verified, commit them in order → the image record (repo tag and repo digest)
// last.
//
// A failed pull commits nothing: no image and no layer of its own (layers are only
// committed after all of them verified). Concurrent pulls that need the same layer
// (by chain ID) download and unpack it once; the others wait for it.

#include <crio/core/status.hpp>
#include <crio/core/storage/store.hpp>
#include <crio/image/decrypt.hpp>
#include <crio/image/export.hpp>
#include <crio/image/manifest.hpp>
#include <crio/image/reference.hpp>
#include <crio/image/registries.hpp>
#include <crio/image/registry_client.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace crio::image {

// Counters for metrics, updated as pulls go.
struct CRIO_IMAGE_EXPORT PullMetrics {
  std::atomic<uint64_t> bytes_pulled{0};        // compressed bytes received from registries
  std::atomic<uint64_t> layers_pulled{0};       // layers downloaded and committed
  std::atomic<uint64_t> layers_reused{0};       // layers already in the store
  std::atomic<uint64_t> layers_shared{0};       // layers another pull in flight provided
  std::atomic<uint64_t> pull_successes{0};
  std::atomic<uint64_t> pull_failures{0};
};

// Told of a pull's progress as it goes (the daemon turns it into metrics). Called from
// the pull's threads, concurrently: implementations are thread-safe and quick.
class CRIO_IMAGE_EXPORT PullObserver {
 public:
  virtual ~PullObserver() = default;
  // `bytes` more of the blob `digest` (`media_type`, `blob_size` bytes long) of image
  // `name` arrived from the registry; `image_size` is the manifest's config and layers.
  virtual void blob_bytes(const std::string& name, const std::string& digest, const std::string& media_type,
                          int64_t blob_size, int64_t image_size, uint64_t bytes) = 0;
  // A layer of `size` compressed bytes was downloaded and verified.
  virtual void layer_done(int64_t size) = 0;
  // A layer of image `name` was in the store already and was not fetched.
  virtual void layer_reused(const std::string& name, const std::string& digest) = 0;
};

struct PullerOptions {
  RegistriesConfig registries;
  RegistryClientOptions client;
  // Layer downloads running at once, over all pulls of this Puller.
  int max_parallel_downloads = 3;
  // Largest config blob accepted.
  size_t max_config_bytes = 8 << 20;
};

// What a pull knows when its top-level manifest arrived, before anything else is
// fetched: where policy.json (evaluate_policy) decides.
struct CRIO_IMAGE_EXPORT ManifestCheck {
  const Reference& name;            // the fully qualified name being pulled
  const PullSource& source;         // where the manifest came from (a mirror, maybe)
  const RepositoryTarget& target;   // to fetch signatures from the same place
  RegistryClient& client;
  const std::string& manifest_digest;  // of the manifest the reference resolves to (an index's)
  const std::string& manifest;         // its bytes
};

struct PullOptions {
  std::optional<AuthConfig> auth;      // for this pull only (the CRI's AuthConfig)
  std::optional<Platform> platform;    // defaults to host_platform()
  // A non-OK status stops the pull before any config or layer is fetched.
  std::function<Status(const ManifestCheck&)> verify;
  // Told of bytes and layers as they arrive; none by default.
  PullObserver* observer = nullptr;
  // The registries' configuration for this pull (a daemon that re-reads registries.conf
  // passes its latest); the Puller's own when null.
  std::shared_ptr<const RegistriesConfig> registries;
  // Keys for encrypted layers (see decrypt.hpp). Without them an encrypted layer fails
  // the pull, naming the layer; with them a layer no key decrypts fails it too.
  std::shared_ptr<const DecryptionKeys> decryption_keys;
};

struct CRIO_IMAGE_EXPORT PullResult {
  std::string image_id;         // hex of the config digest (the store's image ID)
  Reference reference;          // fully qualified name that was pulled
  std::string repo_digest;      // "registry/repo@sha256:..." (the index digest for an index)
  std::string manifest_digest;  // digest of the image manifest used
  std::string source;           // where it came from: "mirror.local/library/busybox:1" (a mirror, maybe)
  ImageConfig config;
  int layers_pulled = 0;
  int layers_reused = 0;
  int layers_shared = 0;
  bool already_present = false;  // the store had this image (same config) before the pull
};

class CRIO_IMAGE_EXPORT Puller {
 public:
  Puller(storage::Store& store, PullerOptions options);
  ~Puller();
  Puller(const Puller&) = delete;
  Puller& operator=(const Puller&) = delete;

  // `image` is as a user types it: short names go through aliases and
  // unqualified-search-registries. Thread-safe.
  Result<PullResult> pull(std::string_view image, const PullOptions& options = {});

  const PullMetrics& metrics() const;
  RegistryClient& client();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace crio::image
