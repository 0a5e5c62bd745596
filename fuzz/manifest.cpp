// Manifests and indexes as a registry serves them. The first byte picks the
// Content-Type the registry claimed; an index is then asked for a platform.
#include <crio/image/manifest.hpp>

#include <cstdint>
#include <string_view>

namespace {
constexpr std::string_view kTypes[] = {
    "",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/json",
    "text/plain",
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto parsed = crio::image::parse_manifest(body, kTypes[data[0] % std::size(kTypes)], "fuzz");
  if (!parsed.ok()) return 0;
  if (parsed->is_index) {
    crio::image::Platform want;
    want.os = "linux";
    want.architecture = "amd64";
    (void)crio::image::select_platform(parsed->index, want, "fuzz");
    want.architecture = "arm64";
    want.variant = "v8";
    (void)crio::image::select_platform(parsed->index, want, "fuzz");
  } else {
    for (const auto& layer : parsed->manifest.layers) (void)crio::image::layer_compression(layer.media_type, "fuzz");
  }
  return 0;
}
