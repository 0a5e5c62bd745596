// A signature's payload (simple signing and sigstore), parsed strictly, and the
// base64 of a sigstore signature annotation when the first byte is odd.
#include <crio/image/signature.hpp>

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    (void)crio::image::base64_decode(text, "fuzz");
    return 0;
  }
  (void)crio::image::parse_signature_payload(text, (data[0] & 2) ? crio::image::kSigstoreSignatureType
                                                                  : crio::image::kSimpleSigningType);
  return 0;
}
