#include <crio/image/decrypt.hpp>

#include <crio/image/signature.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <zlib.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace crio::image {

namespace {

using json = nlohmann::json;
namespace stdfs = std::filesystem;

constexpr std::string_view kJweAnnotation = "org.opencontainers.image.enc.keys.jwe";
constexpr std::string_view kPubOptsAnnotation = "org.opencontainers.image.enc.pubopts";
constexpr std::string_view kKeysPrefix = "org.opencontainers.image.enc.keys.";
constexpr std::string_view kLayerCipher = "AES_256_CTR_HMAC_SHA256";

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Bio = std::unique_ptr<BIO, BioFree>;

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

// The most recent OpenSSL reason, for messages; clears the queue either way.
std::string openssl_reason() {
  unsigned long e = ERR_get_error();
  std::string reason;
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    reason = buf;
  }
  ERR_clear_error();
  return reason.empty() ? "unknown OpenSSL error" : reason;
}

// JWE fields are unpadded base64url (RFC 7515 section 2).
Result<std::string> base64url_decode(std::string_view text, std::string_view what) {
  std::string std_alphabet(text);
  for (char& c : std_alphabet) {
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
    else if (c == '+' || c == '/') return error(Code::kInvalidArgument, "{}: invalid base64url", what);
  }
  return base64_decode(std_alphabet, what);
}

// A private key in any encoding OpenSSL reads without a password, or nullptr.
Pkey read_private_key(std::string_view data) {
  // No password callback input: a protected key fails instead of prompting.
  auto no_password = [](char*, int, int, void*) -> int { return 0; };
  Bio pem(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (EVP_PKEY* k = PEM_read_bio_PrivateKey(pem.get(), nullptr, no_password, nullptr)) return Pkey(k);
  ERR_clear_error();
  const unsigned char* p = bytes(data);
  if (EVP_PKEY* k = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(data.size()))) return Pkey(k);
  ERR_clear_error();
  return nullptr;
}

bool is_certificate(std::string_view data) {
  Bio pem(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (X509* c = PEM_read_bio_X509(pem.get(), nullptr, nullptr, nullptr)) {
    X509_free(c);
    return true;
  }
  ERR_clear_error();
  const unsigned char* p = bytes(data);
  if (X509* c = d2i_X509(nullptr, &p, static_cast<long>(data.size()))) {
    X509_free(c);
    return true;
  }
  ERR_clear_error();
  return false;
}

// A binary OpenPGP key ring starts with a public- or secret-key packet (RFC 4880 4.2).
bool is_gpg_key_ring(std::string_view data) {
  if (data.empty()) return false;
  auto b = static_cast<unsigned char>(data[0]);
  if ((b & 0x80) == 0) return false;
  int tag = (b & 0x40) ? (b & 0x3f) : ((b & 0x3c) >> 2);
  return tag == 5 || tag == 6;
}

bool looks_encrypted_pem(std::string_view data) {
  return data.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos ||
         data.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos;
}

std::string trim_left(std::string_view s) {
  size_t i = s.find_first_not_of(" \t\r\n");
  return i == std::string_view::npos ? std::string() : std::string(s.substr(i));
}

}  // namespace

struct DecryptionKeys::Impl {
  std::vector<std::pair<std::string, Pkey>> private_keys;  // file name, key
  size_t other_items = 0;                                   // certificates and GPG key rings
};

bool layer_encrypted(std::string_view media_type) { return media_type.ends_with(kEncryptedSuffix); }

DecryptionKeys::DecryptionKeys() : impl_(std::make_unique<Impl>()) {}
DecryptionKeys::~DecryptionKeys() = default;
DecryptionKeys::DecryptionKeys(DecryptionKeys&&) noexcept = default;
DecryptionKeys& DecryptionKeys::operator=(DecryptionKeys&&) noexcept = default;

size_t DecryptionKeys::private_key_count() const { return impl_->private_keys.size(); }

Status DecryptionKeys::add_private_key(std::string_view data, const std::string& name) {
  if (looks_encrypted_pem(data))
    return error(Code::kInvalidArgument,
                 "decryption key {}: the private key is protected by a password, and there is no way to give one",
                 name);
  Pkey key = read_private_key(data);
  if (!key) {
    if (is_certificate(data) || is_gpg_key_ring(data)) {
      // ocicrypt takes these for its pkcs7 and pgp protocols, which are not
      // implemented here: they are no error, but decrypt nothing.
      ++impl_->other_items;
      return ok_status();
    }
    std::string text = trim_left(data);
    if (text.starts_with("pkcs11:"))
      return error(Code::kInvalidArgument, "decryption key {}: pkcs11 keys are not supported", name);
    if (text.starts_with("{"))
      return error(Code::kInvalidArgument, "decryption key {}: JWK keys are not supported (use PEM or DER)", name);
    return error(Code::kInvalidArgument,
                 "decryption key {}: unknown decryption key type (not a private key, certificate or GPG key ring)",
                 name);
  }
  int type = EVP_PKEY_get_base_id(key.get());
  if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC)
    return error(Code::kInvalidArgument, "decryption key {}: only RSA and EC private keys can decrypt layers",
                 name);
  impl_->private_keys.emplace_back(name, std::move(key));
  return ok_status();
}

Result<DecryptionKeys> DecryptionKeys::load_dir(const std::string& dir) {
  DecryptionKeys keys;
  keys.set_source(fmt::format("decryption_keys_path {}", dir));
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return keys;  // as CRI-O: no keys
    return error(Code::kInternal, "decryption_keys_path {}: {}", dir, std::strerror(errno));
  }
  std::vector<std::string> files;
  auto visit = [&](const stdfs::path& p, struct stat& s) -> Status {
    if (S_ISLNK(s.st_mode))
      return error(Code::kInvalidArgument, "decryption_keys_path {}: {}: symbolic links are not supported", dir,
                   p.string());
    if (!S_ISDIR(s.st_mode)) files.push_back(p.string());
    return ok_status();
  };
  CRIO_RETURN_IF_ERROR(visit(dir, st));
  if (S_ISDIR(st.st_mode)) {
    std::error_code ec;
    for (auto it = stdfs::recursive_directory_iterator(dir, ec); !ec && it != stdfs::recursive_directory_iterator();
         it.increment(ec)) {
      struct stat s {};
      if (::lstat(it->path().c_str(), &s) != 0)
        return error(Code::kInternal, "decryption_keys_path {}: {}", it->path().string(), std::strerror(errno));
      CRIO_RETURN_IF_ERROR(visit(it->path(), s));
    }
    if (ec) return error(Code::kInternal, "decryption_keys_path {}: {}", dir, ec.message());
  }
  // Walked in lexical order, as Go's filepath.Walk: the order keys are tried in.
  std::sort(files.begin(), files.end());
  for (const std::string& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream data;
    data << in.rdbuf();
    if (!in.good() && !in.eof())
      return error(Code::kInternal, "decryption_keys_path {}: cannot read {}", dir, f);
    std::string content = data.str();
    if (content.empty()) continue;  // an empty key ring for ocicrypt: nothing
    CRIO_RETURN_IF_ERROR(keys.add_private_key(content, f));
  }
  return keys;
}

namespace {

// ---- JWE (RFC 7516 JSON serialization, RFC 7518 algorithms) ----

Result<std::string> b64_field(const json& obj, const char* name, std::string_view what, bool required = true) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) {
    if (required) return error(Code::kInvalidArgument, "{}: no \"{}\"", what, name);
    return std::string();
  }
  if (!it->is_string()) return error(Code::kInvalidArgument, "{}: \"{}\" is not a string", what, name);
  return base64url_decode(it->get<std::string>(), fmt::format("{}: {}", what, name));
}

Result<std::string> rsa_oaep_unwrap(EVP_PKEY* key, const std::string& wrapped, const EVP_MD* md) {
  PkeyCtx ctx(EVP_PKEY_CTX_new(key, nullptr));
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), md) <= 0 || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) <= 0)
    return error(Code::kInternal, "RSA-OAEP: {}", openssl_reason());
  size_t len = 0;
  if (EVP_PKEY_decrypt(ctx.get(), nullptr, &len, bytes(wrapped), wrapped.size()) <= 0)
    return error(Code::kUnknown, "RSA-OAEP: {}", openssl_reason());
  std::string out(len, '\0');
  if (EVP_PKEY_decrypt(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, bytes(wrapped),
                       wrapped.size()) <= 0)
    return error(Code::kUnknown, "RSA-OAEP: the key does not decrypt it");
  out.resize(len);
  return out;
}

// The curve name of an EC key, "" for other keys.
std::string curve_of(EVP_PKEY* key) {
  char name[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) != 1) return {};
  return name;
}

// JWK "crv" to OpenSSL's group name and the coordinate size.
bool jwk_curve(const std::string& crv, std::string& group, size_t& coord) {
  if (crv == "P-256") group = "prime256v1", coord = 32;
  else if (crv == "P-384") group = "secp384r1", coord = 48;
  else if (crv == "P-521") group = "secp521r1", coord = 66;
  else return false;
  return true;
}

Result<Pkey> ephemeral_public_key(const json& epk, std::string_view what) {
  if (!epk.is_object() || epk.value("kty", "") != "EC")
    return error(Code::kInvalidArgument, "{}: \"epk\" is not an EC public key", what);
  std::string group;
  size_t coord = 0;
  if (!jwk_curve(epk.value("crv", ""), group, coord))
    return error(Code::kInvalidArgument, "{}: \"epk\" curve \"{}\" is not supported", what, epk.value("crv", ""));
  CRIO_ASSIGN_OR_RETURN(std::string x, b64_field(epk, "x", what));
  CRIO_ASSIGN_OR_RETURN(std::string y, b64_field(epk, "y", what));
  if (x.size() != coord || y.size() != coord)
    return error(Code::kInvalidArgument, "{}: \"epk\" coordinates have the wrong size", what);
  std::string point = "\x04" + x + y;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group.c_str(), 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  OSSL_PARAM_BLD_free(bld);
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* key = nullptr;
  bool made = ctx && EVP_PKEY_fromdata_init(ctx.get()) > 0 &&
              EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) > 0;
  OSSL_PARAM_free(params);
  if (!made) return error(Code::kInvalidArgument, "{}: \"epk\": {}", what, openssl_reason());
  Pkey out(key);
  // The point must be on the curve, or ECDH would leak the private key (invalid-curve attack).
  PkeyCtx check(EVP_PKEY_CTX_new(out.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1)
    return error(Code::kInvalidArgument, "{}: \"epk\" is not a point of its curve", what);
  return out;
}

// Concat KDF (NIST SP 800-56A 5.8.1) with SHA-256 as RFC 7518 4.6.2 uses it.
std::string concat_kdf(const std::string& z, const std::string& alg, const std::string& apu, const std::string& apv,
                       size_t key_bytes) {
  auto be32 = [](uint32_t v) {
    std::string s(4, '\0');
    s[0] = static_cast<char>(v >> 24), s[1] = static_cast<char>(v >> 16), s[2] = static_cast<char>(v >> 8),
    s[3] = static_cast<char>(v);
    return s;
  };
  std::string other = be32(static_cast<uint32_t>(alg.size())) + alg + be32(static_cast<uint32_t>(apu.size())) + apu +
                      be32(static_cast<uint32_t>(apv.size())) + apv + be32(static_cast<uint32_t>(key_bytes * 8));
  std::string out;
  for (uint32_t round = 1; out.size() < key_bytes; ++round) {
    std::string input = be32(round) + z + other;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(input.data(), input.size(), md, &len, EVP_sha256(), nullptr);
    out.append(reinterpret_cast<char*>(md), len);
  }
  out.resize(key_bytes);
  return out;
}

Result<std::string> aes_key_unwrap(const std::string& kek, const std::string& wrapped) {
  const EVP_CIPHER* cipher = kek.size() == 16   ? EVP_aes_128_wrap()
                             : kek.size() == 24 ? EVP_aes_192_wrap()
                                                : EVP_aes_256_wrap();
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  std::string out(wrapped.size() + 16, '\0');
  int len = 0, tail = 0;
  if (wrapped.size() < 24 || wrapped.size() % 8 != 0 ||
      EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, bytes(kek), nullptr) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, bytes(wrapped),
                        static_cast<int>(wrapped.size())) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &tail) != 1) {
    ERR_clear_error();
    return error(Code::kUnknown, "AES key unwrap failed: the key does not decrypt it");
  }
  out.resize(static_cast<size_t>(len + tail));
  return out;
}

Result<std::string> ecdh_unwrap(EVP_PKEY* key, const json& header, const std::string& alg, size_t kek_bytes,
                                const std::string& wrapped, std::string_view what) {
  CRIO_ASSIGN_OR_RETURN(Pkey epk, ephemeral_public_key(header.value("epk", json()), what));
  if (curve_of(key) != curve_of(epk.get()))
    return error(Code::kUnknown, "{}: the key is on another curve", alg);
  PkeyCtx ctx(EVP_PKEY_CTX_new(key, nullptr));
  size_t len = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0 || EVP_PKEY_derive_set_peer(ctx.get(), epk.get()) <= 0 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &len) <= 0)
    return error(Code::kUnknown, "{}: {}", alg, openssl_reason());
  std::string z(len, '\0');
  if (EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(z.data()), &len) <= 0)
    return error(Code::kUnknown, "{}: {}", alg, openssl_reason());
  z.resize(len);
  CRIO_ASSIGN_OR_RETURN(std::string apu, b64_field(header, "apu", what, false));
  CRIO_ASSIGN_OR_RETURN(std::string apv, b64_field(header, "apv", what, false));
  std::string kek = concat_kdf(z, alg, apu, apv, kek_bytes);
  OPENSSL_cleanse(z.data(), z.size());
  return aes_key_unwrap(kek, wrapped);
}

// The content encryption of a JWE: AES-GCM or AES-CBC with HMAC-SHA2 (RFC 7518 5.2).
Result<std::string> decrypt_content(const std::string& enc, const std::string& cek, const std::string& iv,
                                    const std::string& ciphertext, const std::string& tag, const std::string& aad) {
  std::string out(ciphertext.size() + 32, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  int len = 0, tail = 0;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (enc == "A128GCM" || enc == "A192GCM" || enc == "A256GCM") {
    size_t key_bytes = enc == "A128GCM" ? 16 : enc == "A192GCM" ? 24 : 32;
    const EVP_CIPHER* c = key_bytes == 16 ? EVP_aes_128_gcm() : key_bytes == 24 ? EVP_aes_192_gcm() : EVP_aes_256_gcm();
    if (cek.size() != key_bytes || iv.size() != 12 || tag.size() != 16)
      return error(Code::kUnknown, "{}: wrong key, IV or tag size", enc);
    if (EVP_DecryptInit_ex(ctx.get(), c, nullptr, bytes(cek), bytes(iv)) != 1 ||
        EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(aad), static_cast<int>(aad.size())) != 1 ||
        EVP_DecryptUpdate(ctx.get(), o, &len, bytes(ciphertext), static_cast<int>(ciphertext.size())) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, const_cast<char*>(tag.data())) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), o + len, &tail) != 1) {
      ERR_clear_error();
      return error(Code::kUnknown, "{}: authentication failed", enc);
    }
  } else if (enc == "A128CBC-HS256" || enc == "A192CBC-HS384" || enc == "A256CBC-HS512") {
    size_t half = enc == "A128CBC-HS256" ? 16 : enc == "A192CBC-HS384" ? 24 : 32;
    const EVP_MD* md = half == 16 ? EVP_sha256() : half == 24 ? EVP_sha384() : EVP_sha512();
    const EVP_CIPHER* c = half == 16 ? EVP_aes_128_cbc() : half == 24 ? EVP_aes_192_cbc() : EVP_aes_256_cbc();
    if (cek.size() != 2 * half || iv.size() != 16 || tag.size() != half)
      return error(Code::kUnknown, "{}: wrong key, IV or tag size", enc);
    uint64_t aad_bits = static_cast<uint64_t>(aad.size()) * 8;
    std::string al(8, '\0');
    for (int i = 0; i < 8; ++i) al[static_cast<size_t>(i)] = static_cast<char>(aad_bits >> (56 - 8 * i));
    std::string mac_input = aad + iv + ciphertext + al;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(md, cek.data(), static_cast<int>(half), bytes(mac_input), mac_input.size(), mac, &mac_len);
    if (CRYPTO_memcmp(mac, tag.data(), half) != 0) return error(Code::kUnknown, "{}: authentication failed", enc);
    if (EVP_DecryptInit_ex(ctx.get(), c, nullptr, bytes(cek) + half, bytes(iv)) != 1 ||
        EVP_DecryptUpdate(ctx.get(), o, &len, bytes(ciphertext), static_cast<int>(ciphertext.size())) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), o + len, &tail) != 1) {
      ERR_clear_error();
      return error(Code::kUnknown, "{}: bad padding", enc);
    }
  } else {
    return error(Code::kUnknown, "content encryption \"{}\" is not supported", enc);
  }
  out.resize(static_cast<size_t>(len + tail));
  return out;
}

// RFC 1951 raw deflate, for "zip": "DEF".
Result<std::string> inflate_raw(const std::string& in) {
  z_stream zs{};
  if (inflateInit2(&zs, -15) != Z_OK) return error(Code::kInternal, "zlib: inflateInit failed");
  std::string out;
  char buf[16384];
  zs.next_in = const_cast<Bytef*>(bytes(in));
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
    if (out.size() > (1 << 20)) rc = Z_DATA_ERROR;  // private options are a few hundred bytes
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) return error(Code::kInvalidArgument, "zip DEF: bad deflate data");
  return out;
}

struct Recipient {
  json header;  // protected + shared unprotected + per-recipient, merged
  std::string encrypted_key;
};

// Decrypts one JWE (JSON serialization, general or flattened) with any of `keys`.
Result<std::string> jwe_decrypt(std::string_view text, const DecryptionKeys& keys, std::string_view what) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return error(Code::kInvalidArgument, "{}: the JWE is not a JSON object", what);
  json header = json::object();
  std::string protected_b64;
  if (auto it = j.find("protected"); it != j.end() && it->is_string()) {
    protected_b64 = it->get<std::string>();
    CRIO_ASSIGN_OR_RETURN(std::string p, base64url_decode(protected_b64, what));
    header = json::parse(p, nullptr, false);
    if (header.is_discarded() || !header.is_object())
      return error(Code::kInvalidArgument, "{}: the JWE protected header is not a JSON object", what);
  }
  if (auto it = j.find("unprotected"); it != j.end() && it->is_object()) header.update(*it);
  std::vector<Recipient> recipients;
  auto add = [&](const json& r) -> Status {
    Recipient rec{header, {}};
    if (auto h = r.find("header"); h != r.end() && h->is_object()) rec.header.update(*h);
    CRIO_ASSIGN_OR_RETURN(rec.encrypted_key, b64_field(r, "encrypted_key", what, false));
    recipients.push_back(std::move(rec));
    return ok_status();
  };
  if (auto it = j.find("recipients"); it != j.end() && it->is_array()) {
    for (const auto& r : *it)
      if (r.is_object()) CRIO_RETURN_IF_ERROR(add(r));
  } else {
    CRIO_RETURN_IF_ERROR(add(j));
  }
  CRIO_ASSIGN_OR_RETURN(std::string iv, b64_field(j, "iv", what));
  CRIO_ASSIGN_OR_RETURN(std::string ciphertext, b64_field(j, "ciphertext", what));
  CRIO_ASSIGN_OR_RETURN(std::string tag, b64_field(j, "tag", what));
  std::string aad = protected_b64;
  if (auto it = j.find("aad"); it != j.end() && it->is_string()) aad += "." + it->get<std::string>();

  std::vector<std::string> tried;
  for (const Recipient& r : recipients) {
    std::string alg = r.header.value("alg", "");
    std::string enc = r.header.value("enc", "");
    const EVP_MD* oaep = alg == "RSA-OAEP" ? EVP_sha1() : alg == "RSA-OAEP-256" ? EVP_sha256() : nullptr;
    size_t kek_bytes = alg == "ECDH-ES+A128KW" ? 16 : alg == "ECDH-ES+A192KW" ? 24 : alg == "ECDH-ES+A256KW" ? 32 : 0;
    if (!oaep && kek_bytes == 0) {
      tried.push_back(fmt::format("key algorithm \"{}\" is not supported", alg));
      continue;
    }
    for (const auto& [name, key] : keys.impl().private_keys) {
      int type = EVP_PKEY_get_base_id(key.get());
      if ((oaep && type != EVP_PKEY_RSA) || (kek_bytes && type != EVP_PKEY_EC)) continue;
      Result<std::string> cek = oaep ? rsa_oaep_unwrap(key.get(), r.encrypted_key, oaep)
                                     : ecdh_unwrap(key.get(), r.header, alg, kek_bytes, r.encrypted_key, what);
      if (!cek.ok()) {
        if (cek.status().code() == Code::kInvalidArgument) return cek.status();
        continue;
      }
      auto plain = decrypt_content(enc, *cek, iv, ciphertext, tag, aad);
      OPENSSL_cleanse(cek->data(), cek->size());
      if (!plain.ok()) continue;
      if (r.header.value("zip", "") == "DEF") return inflate_raw(*plain);
      if (r.header.contains("zip"))
        return error(Code::kInvalidArgument, "{}: JWE compression \"{}\" is not supported", what,
                     r.header["zip"].dump());
      return plain;
    }
    tried.push_back(fmt::format("no {} key decrypts the {} recipient", oaep ? "RSA" : "EC", alg));
  }
  return error(Code::kUnknown, "{}", tried.empty() ? std::string("the JWE has no recipients") : fmt::format("{}", fmt::join(tried, "; ")));
}

Result<std::map<std::string, std::string>> byte_map(const json& j, const char* name, std::string_view what) {
  std::map<std::string, std::string> out;
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_object()) return error(Code::kInvalidArgument, "{}: \"{}\" is not an object", what, name);
  for (const auto& [k, v] : it->items()) {
    if (!v.is_string()) return error(Code::kInvalidArgument, "{}: \"{}\".{} is not base64", what, name, k);
    CRIO_ASSIGN_OR_RETURN(out[k], base64_decode(v.get<std::string>(), what));
  }
  return out;
}

std::string split_protocol(std::string_view annotation) { return std::string(annotation.substr(kKeysPrefix.size())); }

}  // namespace

Result<LayerKey> unwrap_layer_key(const DecryptionKeys& keys, const Descriptor& layer, std::string_view what) {
  std::vector<std::string> others;
  for (const auto& [k, v] : layer.annotations)
    if (k.starts_with(kKeysPrefix) && k != kJweAnnotation && !v.empty()) others.push_back(split_protocol(k));
  auto jwe = layer.annotations.find(std::string(kJweAnnotation));
  std::string also = others.empty() ? std::string()
                                    : fmt::format(" (its key is also wrapped for {}, which crio does not support)",
                                                  fmt::join(others, ", "));
  if (jwe == layer.annotations.end() || jwe->second.empty()) {
    if (others.empty())
      return error(Code::kInvalidArgument, "{}: encrypted, but no key-wrap annotation carries its key", what);
    return error(Code::kUnimplemented,
                 "{}: its key is wrapped only with the {} protocol, which crio does not support (only jwe)", what,
                 fmt::join(others, ", "));
  }
  if (keys.private_key_count() == 0) {
    return error(Code::kUnknown, "{}: encrypted, and no private key to decrypt it is configured ({} has none){}",
                 what, keys.source().empty() ? "no decryption keys were given" : keys.source(), also);
  }
  std::vector<std::string> failures;
  size_t start = 0;
  const std::string& list = jwe->second;
  for (;;) {
    size_t comma = list.find(',', start);
    std::string_view item = std::string_view(list).substr(start, comma == std::string::npos ? std::string::npos
                                                                                              : comma - start);
    CRIO_ASSIGN_OR_RETURN(std::string text, base64_decode(item, fmt::format("{}: {} annotation", what, kJweAnnotation)));
    auto plain = jwe_decrypt(text, keys, what);
    if (plain.ok()) {
      json opts = json::parse(*plain, nullptr, false);
      std::string opts_what = fmt::format("{}: private layer options", what);
      if (opts.is_discarded() || !opts.is_object())
        return error(Code::kInvalidArgument, "{}: not a JSON object", opts_what);
      LayerKey key;
      if (!opts.contains("symkey") || !opts["symkey"].is_string())
        return error(Code::kInvalidArgument, "{}: no symkey", opts_what);
      CRIO_ASSIGN_OR_RETURN(key.symmetric_key, base64_decode(opts["symkey"].get<std::string>(), opts_what));
      key.digest = opts.value("digest", "");
      CRIO_ASSIGN_OR_RETURN(key.cipher_options, byte_map(opts, "cipheroptions", opts_what));
      return key;
    }
    if (plain.status().code() != Code::kUnknown) return plain.status();
    failures.push_back(plain.status().message());
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return error(Code::kUnknown, "{}: encrypted, and none of the {} private keys of {} decrypts it ({}){}", what,
               keys.private_key_count(), keys.source().empty() ? "the given keys" : keys.source(),
               fmt::join(failures, "; "), also);
}

namespace {

class AesCtrHmac final : public LayerDecryptor {
 public:
  AesCtrHmac(std::string what, std::string expected_hmac) : what_(std::move(what)), expected_(std::move(expected_hmac)) {}
  ~AesCtrHmac() override {
    EVP_CIPHER_CTX_free(cipher_);
    EVP_MAC_CTX_free(mac_);
    EVP_MAC_free(mac_alg_);
  }

  Status init(const std::string& key, const std::string& nonce) {
    cipher_ = EVP_CIPHER_CTX_new();
    mac_alg_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    mac_ = mac_alg_ ? EVP_MAC_CTX_new(mac_alg_) : nullptr;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
                           OSSL_PARAM_construct_end()};
    if (!cipher_ || !mac_ ||
        EVP_DecryptInit_ex(cipher_, EVP_aes_256_ctr(), nullptr, bytes(key), bytes(nonce)) != 1 ||
        EVP_MAC_init(mac_, bytes(key), key.size(), params) != 1)
      return error(Code::kInternal, "{}: cannot set up AES-256-CTR and HMAC-SHA256: {}", what_, openssl_reason());
    return ok_status();
  }

  Status update(const char* data, size_t len, const Sink& out) override {
    if (finished_) return error(Code::kInternal, "{}: data after the end", what_);
    // The MAC is over the ciphertext (encrypt-then-MAC).
    if (EVP_MAC_update(mac_, reinterpret_cast<const unsigned char*>(data), len) != 1)
      return error(Code::kInternal, "{}: HMAC: {}", what_, openssl_reason());
    constexpr size_t kChunk = 64 << 10;
    buf_.resize(kChunk);
    while (len > 0) {
      size_t n = std::min(len, kChunk);
      int got = 0;
      if (EVP_DecryptUpdate(cipher_, reinterpret_cast<unsigned char*>(buf_.data()), &got,
                            reinterpret_cast<const unsigned char*>(data), static_cast<int>(n)) != 1)
        return error(Code::kInternal, "{}: AES-CTR: {}", what_, openssl_reason());
      CRIO_RETURN_IF_ERROR(out(buf_.data(), static_cast<size_t>(got)));
      data += n;
      len -= n;
    }
    return ok_status();
  }

  Status finish() override {
    finished_ = true;
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t len = 0;
    if (EVP_MAC_final(mac_, mac, &len, sizeof mac) != 1)
      return error(Code::kInternal, "{}: HMAC: {}", what_, openssl_reason());
    if (len != expected_.size() || CRYPTO_memcmp(mac, expected_.data(), len) != 0)
      return error(Code::kDataLoss, "{}: the decrypted layer fails its HMAC check: the blob was altered", what_);
    return ok_status();
  }

 private:
  std::string what_;
  std::string expected_;
  EVP_CIPHER_CTX* cipher_ = nullptr;
  EVP_MAC* mac_alg_ = nullptr;
  EVP_MAC_CTX* mac_ = nullptr;
  std::string buf_;
  bool finished_ = false;
};

}  // namespace

Result<std::unique_ptr<LayerDecryptor>> LayerDecryptor::create(const LayerKey& key, std::string_view public_options,
                                                                std::string what) {
  std::string opts_what = fmt::format("{}: {}", what, kPubOptsAnnotation);
  json pub = public_options.empty() ? json::object() : json::parse(public_options, nullptr, false);
  if (pub.is_discarded() || !pub.is_object()) return error(Code::kInvalidArgument, "{}: not a JSON object", opts_what);
  std::string cipher = pub.value("cipher", "");
  if (cipher.empty()) return error(Code::kInvalidArgument, "{}: no cipher type provided", opts_what);
  if (cipher != kLayerCipher)
    return error(Code::kInvalidArgument, "{}: unsupported cipher type \"{}\"", opts_what, cipher);
  std::string hmac;
  if (pub.contains("hmac") && pub["hmac"].is_string()) {
    CRIO_ASSIGN_OR_RETURN(hmac, base64_decode(pub["hmac"].get<std::string>(), opts_what));
  }
  if (hmac.empty()) return error(Code::kInvalidArgument, "{}: no HMAC is provided to check the layer", opts_what);
  if (key.symmetric_key.size() != 32)
    return error(Code::kInvalidArgument, "{}: the layer key is {} bytes, AES-256 needs 32", what,
                 key.symmetric_key.size());
  auto nonce = key.cipher_options.find("nonce");
  if (nonce == key.cipher_options.end() || nonce->second.size() != 16)
    return error(Code::kInvalidArgument, "{}: the private layer options carry no 16-byte nonce", what);
  auto d = std::make_unique<AesCtrHmac>(what, hmac);
  CRIO_RETURN_IF_ERROR(d->init(key.symmetric_key, nonce->second));
  return std::unique_ptr<LayerDecryptor>(std::move(d));
}

Result<std::unique_ptr<LayerDecryptor>> LayerDecryptor::create(const LayerKey& key, const Descriptor& layer,
                                                                std::string what) {
  std::string pub;
  if (auto it = layer.annotations.find(std::string(kPubOptsAnnotation)); it != layer.annotations.end()) {
    CRIO_ASSIGN_OR_RETURN(pub, base64_decode(it->second, fmt::format("{}: {}", what, kPubOptsAnnotation)));
  }
  return create(key, pub, std::move(what));
}

}  // namespace crio::image
