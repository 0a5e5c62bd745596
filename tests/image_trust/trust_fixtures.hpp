#pragma once
// Keys, signatures and signature sources made by the tests themselves: an EC P-256
// key pair through OpenSSL (sigstore), a GnuPG key in a throw-away GNUPGHOME (simple
// signing), and an in-memory SignatureSource.

#include <crio/image/policy.hpp>
#include <crio/image/signature.hpp>

#include "process.hpp"
#include "temp_dir.hpp"

#include <string>
#include <vector>

namespace crio::test {

inline const std::string kDigestA = "sha256:" + std::string(64, 'a');
inline const std::string kDigestB = "sha256:" + std::string(64, 'b');

// {"critical": {...}, "optional": ...} with the given claims.
std::string make_payload(const std::string& type, const std::string& docker_reference, const std::string& digest,
                         const std::string& optional = "{}");

std::string base64_encode(const std::string& data);

// An EC P-256 key pair.
class EcKey {
 public:
  EcKey();
  ~EcKey();
  EcKey(const EcKey&) = delete;
  EcKey& operator=(const EcKey&) = delete;
  std::string public_pem() const;
  // Base64 of the DER ECDSA-SHA256 signature of `data`.
  std::string sign(const std::string& data) const;

 private:
  void* pkey_;  // EVP_PKEY*
};

// A sigstore signature of a payload claiming `reference` for `digest`.
crio::image::SigstoreSignature sigstore_sign(const EcKey& key, const std::string& reference, const std::string& digest);

// A GnuPG signing key (ed25519) in its own GNUPGHOME; the agent gpg starts for it
// is stopped on destruction.
class GpgKey {
 public:
  explicit GpgKey(const std::string& email);
  ~GpgKey();
  GpgKey(const GpgKey&) = delete;
  GpgKey& operator=(const GpgKey&) = delete;

  const std::string& fingerprint() const { return fingerprint_; }
  const std::string& public_keyring() const { return public_keyring_; }
  // An OpenPGP signed message carrying `payload`; uncompressed so tests can find
  // and alter the payload inside it.
  std::string sign(const std::string& payload) const;
  // A literal (unsigned) OpenPGP message carrying `payload`.
  std::string store_unsigned(const std::string& payload) const;

 private:
  CommandResult gpg(std::vector<std::string> args) const;
  TempDir home_{"crio-gpg-test"};
  std::string fingerprint_;
  std::string public_keyring_;
};

// Signatures served from memory, counting how often each kind was asked for.
class MemorySignatureSource : public crio::image::SignatureSource {
 public:
  std::vector<crio::image::SigstoreSignature> sigstore;
  std::vector<std::string> simple;
  crio::Status fail;  // returned by both when not OK
  int sigstore_calls = 0;
  int simple_calls = 0;

  crio::Result<std::vector<crio::image::SigstoreSignature>> sigstore_signatures(const crio::image::Reference&,
                                                                                const std::string&) override {
    ++sigstore_calls;
    if (!fail.ok()) return fail;
    return sigstore;
  }
  crio::Result<std::vector<std::string>> simple_signing_signatures(const crio::image::Reference&,
                                                                   const std::string&) override {
    ++simple_calls;
    if (!fail.ok()) return fail;
    return simple;
  }
};

crio::image::Reference image_ref(const std::string& text);
crio::image::Policy policy(const std::string& json, const std::string& source = "/etc/containers/policy.json");

}  // namespace crio::test
