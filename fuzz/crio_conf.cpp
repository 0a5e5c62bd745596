// crio.conf and its drop-ins (TOML) applied over the defaults, then the cross-option
// checks the daemon runs before it starts; what to_toml prints must load back.
#include <crio/core/config.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  crio::core::Config config = crio::core::default_config();
  std::vector<std::string> warnings;
  if (!crio::core::apply_toml(config, text, "fuzz.conf", warnings).ok()) return 0;
  if (!crio::core::validate(config).ok()) return 0;
  crio::core::Config again = crio::core::default_config();
  if (!crio::core::apply_toml(again, crio::core::to_toml(config), "fuzz-roundtrip.conf", warnings).ok()) std::abort();
  if (!(again == config)) std::abort();
  return 0;
}
