// policy.json (containers-policy.json(5)).
#include <crio/image/policy.hpp>

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)crio::image::parse_policy(text, "fuzz.json");
  return 0;
}
