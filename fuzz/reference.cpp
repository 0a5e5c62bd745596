// Image references as a pull, a registries.conf location or a policy scope gives them,
// plus the small parsers next to them (digests, platforms, WWW-Authenticate).
// The first byte picks the parser.
#include <crio/core/digest.hpp>
#include <crio/image/manifest.hpp>
#include <crio/image/reference.hpp>
#include <crio/image/registry_client.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      crio::image::ParseOptions options;
      options.default_tag = (data[0] & 0x10) != 0;
      options.qualified = (data[0] & 0x20) != 0;
      auto ref = crio::image::parse_reference(text, options);
      if (!ref.ok()) break;
      // What string() prints must parse back to the same reference: it is what the
      // image store records and what later pulls and policy checks read again.
      crio::image::ParseOptions again;
      again.default_tag = false;
      again.qualified = true;
      auto back = crio::image::parse_reference(ref->string(), again);
      if (!back.ok() || back->registry != ref->registry || back->repository != ref->repository ||
          back->tag != ref->tag || back->digest != ref->digest) {
        std::abort();
      }
      (void)ref->name();
      (void)ref->manifest_ref();
      break;
    }
    case 1:
      (void)crio::core::parse_digest(text);
      break;
    case 2:
      (void)crio::image::parse_platform(text);
      break;
    case 3:
      (void)crio::image::parse_www_authenticate(text);
      break;
  }
  return 0;
}
