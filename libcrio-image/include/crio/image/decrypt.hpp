#pragma once
// Encrypted layers as ocicrypt (and so skopeo, buildah and CRI-O) makes them: the layer
// (media type "...tar[+gzip|+zstd]+encrypted") is AES-256-CTR ciphertext with an
// HMAC-SHA256 over the ciphertext (annotation org.opencontainers.image.enc.pubopts);
// its key, nonce and the digest of the plain layer travel wrapped for each recipient
// in a key-wrap annotation. Of the key-wrap protocols only JWE
// (org.opencontainers.image.enc.keys.jwe: RSA-OAEP, RSA-OAEP-256 and ECDH-ES+AxxxKW
// recipients) is implemented; a layer wrapped only for pgp, pkcs7, pkcs11 or a key
// provider is refused naming the protocol.

#include <crio/core/status.hpp>
#include <crio/image/export.hpp>
#include <crio/image/manifest.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace crio::image {

inline constexpr std::string_view kEncryptedSuffix = "+encrypted";

// Whether a layer media type is an encrypted one ("...+encrypted").
CRIO_IMAGE_EXPORT bool layer_encrypted(std::string_view media_type);

// The private keys layers may be decrypted with. CRI-O reads them from
// decryption_keys_path at every pull; so does the daemon.
class CRIO_IMAGE_EXPORT DecryptionKeys {
 public:
  DecryptionKeys();
  ~DecryptionKeys();
  DecryptionKeys(DecryptionKeys&&) noexcept;
  DecryptionKeys& operator=(DecryptionKeys&&) noexcept;

  // Every file under `dir` (recursively), as CRI-O walks decryption_keys_path: a
  // directory that does not exist gives no keys; a symbolic link, an unreadable file, a
  // private key protected by a password (there is no way to give one) or a file that
  // is no key ocicrypt knows is an error naming the file. X.509 certificates and GPG
  // key rings are taken (ocicrypt takes them for pkcs7 and pgp) but decrypt nothing
  // here, those protocols not being implemented.
  static Result<DecryptionKeys> load_dir(const std::string& dir);

  // One key file's bytes: a private key (PKCS#8, PKCS#1 or SEC 1; PEM or DER).
  // `name` names it in errors.
  Status add_private_key(std::string_view data, const std::string& name);

  size_t private_key_count() const;
  // Where the keys came from, for messages ("decryption_keys_path /etc/crio/keys").
  const std::string& source() const { return source_; }
  void set_source(std::string source) { source_ = std::move(source); }

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
  std::string source_;
};

// ocicrypt's private layer options, which the key-wrap protocol carries.
struct CRIO_IMAGE_EXPORT LayerKey {
  std::string symmetric_key;                          // raw bytes
  std::string digest;                                 // of the blob the encrypting tool was given
  std::map<std::string, std::string> cipher_options;  // raw bytes ("nonce")
};

// Unwraps the key of the encrypted layer `layer` with `keys`. Unknown (gRPC Unknown,
// as CRI-O answers) when no key decrypts it; `what` names the layer in errors.
CRIO_IMAGE_EXPORT Result<LayerKey> unwrap_layer_key(const DecryptionKeys& keys, const Descriptor& layer,
                                                    std::string_view what);

// Decrypts a layer as it streams: ciphertext in, plain (still compressed) layer out.
// finish() checks the HMAC over the whole ciphertext; until it returned OK nothing
// that came out may be trusted.
class CRIO_IMAGE_EXPORT LayerDecryptor {
 public:
  using Sink = std::function<Status(const char* data, size_t len)>;

  // `public_options` is the decoded org.opencontainers.image.enc.pubopts JSON.
  static Result<std::unique_ptr<LayerDecryptor>> create(const LayerKey& key, std::string_view public_options,
                                                        std::string what);
  // The same from the layer's own annotation.
  static Result<std::unique_ptr<LayerDecryptor>> create(const LayerKey& key, const Descriptor& layer,
                                                        std::string what);
  virtual ~LayerDecryptor() = default;
  virtual Status update(const char* data, size_t len, const Sink& out) = 0;
  virtual Status finish() = 0;
};

}  // namespace crio::image
