#pragma once
// Content digests as OCI writes them: "sha256:<64 lowercase hex>". Hashing is
// streaming so a layer can be verified while it is downloaded and unpacked.

#include <crio/core/export.hpp>
#include <crio/core/status.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace crio::core {

// A validated digest. `algorithm` is "sha256" or "sha512"; `hex` is lowercase and
// of the algorithm's length.
struct CRIO_CORE_EXPORT Digest {
  std::string algorithm;
  std::string hex;

  std::string to_string() const { return algorithm + ":" + hex; }
  bool operator==(const Digest&) const = default;
};

// Validates "algo:hex": sha256 with 64 lowercase hex digits, sha512 with 128.
// Anything else is InvalidArgument naming the input.
CRIO_CORE_EXPORT Result<Digest> parse_digest(std::string_view text);

// Streaming hash for any algorithm parse_digest accepts (to verify a digest given
// with sha512). finish() returns "algo:hex" and resets the state for reuse.
class CRIO_CORE_EXPORT Digester {
 public:
  // "sha256" or "sha512"; anything else is InvalidArgument.
  static Result<Digester> create(std::string_view algorithm);

  Digester(Digester&&) noexcept;
  Digester& operator=(Digester&&) noexcept;
  Digester(const Digester&) = delete;
  Digester& operator=(const Digester&) = delete;
  ~Digester();

  void update(const void* data, size_t len);
  void update(std::string_view data) { update(data.data(), data.size()); }
  std::string finish();
  const std::string& algorithm() const { return algorithm_; }

 protected:
  explicit Digester(std::string algorithm);

 private:
  struct Impl;
  std::string algorithm_;
  std::unique_ptr<Impl> impl_;
};

// SHA-256, the digest of everything OCI.
class CRIO_CORE_EXPORT Sha256 : public Digester {
 public:
  Sha256();
};

// "sha256:<hex>" of `data`.
CRIO_CORE_EXPORT std::string sha256_of(std::string_view data);

}  // namespace crio::core
