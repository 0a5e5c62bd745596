#pragma once
// Manifests and image configs as plain structs: OCI image index and Docker
// manifest list (with platform selection), OCI image manifest and Docker schema 2
// manifest, and the OCI/Docker image config. Docker schema 1, unknown media types
// and foreign (non-distributable) layers are rejected with the reason.

#include <crio/core/status.hpp>
#include <crio/image/export.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crio::image {

namespace media_type {
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerLayerTar = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr std::string_view kDockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
}  // namespace media_type

struct CRIO_IMAGE_EXPORT Platform {
  std::string os;            // "linux"
  std::string architecture;  // GOARCH names: "amd64", "arm64", "arm"
  std::string variant;       // "v8", "v7"; often empty
  std::string os_version;

  std::string to_string() const;  // "linux/arm64/v8"
};

// The platform this library was built for (linux/amd64 here).
CRIO_IMAGE_EXPORT Platform host_platform();

// Parses "os/arch[/variant]" (also accepts uname names: x86_64, aarch64).
CRIO_IMAGE_EXPORT Result<Platform> parse_platform(std::string_view text);

struct CRIO_IMAGE_EXPORT Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
  std::optional<Platform> platform;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> urls;
};

struct CRIO_IMAGE_EXPORT ImageIndex {
  std::string media_type;
  std::vector<Descriptor> manifests;
};

enum class Compression { kNone, kGzip, kZstd };

struct CRIO_IMAGE_EXPORT ImageManifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::vector<Compression> compression;  // one per layer
  std::map<std::string, std::string> annotations;
};

struct CRIO_IMAGE_EXPORT ParsedManifest {
  bool is_index = false;
  ImageIndex index;        // when is_index
  ImageManifest manifest;  // otherwise
};

// `content_type` is the HTTP Content-Type (may be empty); the body's own
// mediaType wins when present. `what` names the manifest in errors.
CRIO_IMAGE_EXPORT Result<ParsedManifest> parse_manifest(std::string_view body, std::string_view content_type,
                                                        std::string_view what);

// The best entry of `index` for `want`: os and architecture must match; an entry
// with the wanted variant beats one without; attestation entries
// (platform unknown/unknown) are skipped. NotFound lists what the index offers.
CRIO_IMAGE_EXPORT Result<Descriptor> select_platform(const ImageIndex& index, const Platform& want,
                                                     std::string_view what);

// Compression of a layer by its media type (of an encrypted one, "...+encrypted", once
// decrypted); foreign/non-distributable and unknown layer types are InvalidArgument.
CRIO_IMAGE_EXPORT Result<Compression> layer_compression(std::string_view media_type, std::string_view what);

struct CRIO_IMAGE_EXPORT HistoryEntry {
  std::string created;
  std::string created_by;
  std::string author;
  std::string comment;
  bool empty_layer = false;
};

struct CRIO_IMAGE_EXPORT ImageConfig {
  std::string architecture;
  std::string os;
  std::string variant;
  std::string created;
  std::string author;
  // config.*
  std::string user;
  std::vector<std::string> env;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string working_dir;
  std::vector<std::string> exposed_ports;  // "80/tcp", sorted
  std::vector<std::string> volumes;        // sorted
  std::map<std::string, std::string> labels;
  std::string stop_signal;
  // rootfs
  std::vector<std::string> diff_ids;
  std::vector<HistoryEntry> history;
};

CRIO_IMAGE_EXPORT Result<ImageConfig> parse_image_config(std::string_view body, std::string_view what);

}  // namespace crio::image
