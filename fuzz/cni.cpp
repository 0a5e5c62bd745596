// What CNI hands us: a plugin's result on stdout, and network configuration files
// (.conflist, .conf). The first byte picks which; bandwidth quantities ride along.
#include <crio/net/cni_config.hpp>
#include <crio/net/cni_types.hpp>

#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
    case 1: {
      auto result = crio::net::parse_cni_result(text);
      if (result.ok()) (void)crio::net::pod_ips(*result, "eth0");
      break;
    }
    case 2:
      (void)crio::net::parse_network_config((data[0] & 4) ? "/etc/cni/net.d/fuzz.conf" : "/etc/cni/net.d/fuzz.conflist",
                                            text);
      break;
    case 3:
      (void)crio::net::parse_quantity(text);
      break;
  }
  return 0;
}
