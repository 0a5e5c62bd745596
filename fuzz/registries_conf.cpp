// registries.conf (TOML) and, when the first byte is odd, a registries.d YAML file
// (sigstore and lookaside locations).
#include <crio/image/lookaside.hpp>
#include <crio/image/registries.hpp>

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    (void)crio::image::parse_registries_d(text, "fuzz.yaml");
  } else {
    (void)crio::image::parse_registries_config(text, "fuzz.conf");
  }
  return 0;
}
