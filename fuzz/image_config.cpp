// An image's config blob (OCI or Docker), as pulled or read back from the store.
#include <crio/image/manifest.hpp>

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  (void)crio::image::parse_image_config(body, "fuzz");
  return 0;
}
