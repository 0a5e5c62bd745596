#include "trust_fixtures.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <catch2/catch.hpp>

#include <memory>
#include <sstream>
#include <stdexcept>

namespace crio::test {

std::string make_payload(const std::string& type, const std::string& docker_reference, const std::string& digest,
                         const std::string& optional) {
  return R"({"critical":{"identity":{"docker-reference":")" + docker_reference +
         R"("},"image":{"docker-manifest-digest":")" + digest + R"("},"type":")" + type + R"("},"optional":)" +
         optional + "}";
}

std::string base64_encode(const std::string& data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

EcKey::EcKey() : pkey_(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")) {
  if (!pkey_) throw std::runtime_error("EC key generation failed");
}

EcKey::~EcKey() { EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_)); }

std::string EcKey::public_pem() const {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (PEM_write_bio_PUBKEY(bio.get(), static_cast<EVP_PKEY*>(pkey_)) != 1) throw std::runtime_error("PEM write failed");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string EcKey::sign(const std::string& data) const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, static_cast<EVP_PKEY*>(pkey_)) != 1)
    throw std::runtime_error("sign init failed");
  size_t len = 0;
  auto in = reinterpret_cast<const unsigned char*>(data.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()) != 1) throw std::runtime_error("sign failed");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, data.size()) != 1)
    throw std::runtime_error("sign failed");
  sig.resize(len);
  return base64_encode(sig);
}

crio::image::SigstoreSignature sigstore_sign(const EcKey& key, const std::string& reference,
                                             const std::string& digest) {
  crio::image::SigstoreSignature sig;
  sig.payload = make_payload("cosign container image signature", reference, digest, "null");
  sig.signature = key.sign(sig.payload);
  sig.annotations["dev.cosignproject.cosign/signature"] = sig.signature;
  return sig;
}

CommandResult GpgKey::gpg(std::vector<std::string> args) const {
  std::vector<std::string> argv{"/usr/bin/gpg", "--homedir",       home_.path(), "--batch",      "--yes",
                                "--no-tty",     "--pinentry-mode", "loopback",   "--passphrase", ""};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult r = run_command(argv);
  if (r.exit_code != 0) throw std::runtime_error("gpg failed: " + r.err);
  return r;
}

GpgKey::GpgKey(const std::string& email) {
  gpg({"--quick-gen-key", "Crio Test <" + email + ">", "ed25519", "sign", "never"});
  std::istringstream listing(gpg({"--with-colons", "--list-keys", email}).out);
  for (std::string line; std::getline(listing, line);) {
    if (line.rfind("fpr:", 0) == 0) {
      // fpr:::::::::<FINGERPRINT>:
      std::vector<std::string> fields;
      std::istringstream f(line);
      for (std::string field; std::getline(f, field, ':');) fields.push_back(field);
      if (fields.size() > 9) fingerprint_ = fields[9];
      break;
    }
  }
  if (fingerprint_.empty()) throw std::runtime_error("no fingerprint for " + email);
  public_keyring_ = gpg({"--export", fingerprint_}).out;
  if (public_keyring_.empty()) throw std::runtime_error("empty export for " + email);
}

GpgKey::~GpgKey() { run_command({"/usr/bin/gpgconf", "--homedir", home_.path(), "--kill", "all"}); }

std::string GpgKey::sign(const std::string& payload) const {
  write_file(home_ / "payload", payload);
  gpg({"--compress-algo", "none", "--local-user", fingerprint_, "--output", home_ / "payload.sig", "--sign",
       home_ / "payload"});
  return read_file(home_ / "payload.sig");
}

std::string GpgKey::store_unsigned(const std::string& payload) const {
  write_file(home_ / "literal", payload);
  gpg({"--compress-algo", "none", "--output", home_ / "literal.gpg", "--store", home_ / "literal"});
  return read_file(home_ / "literal.gpg");
}

crio::image::Reference image_ref(const std::string& text) {
  auto r = crio::image::parse_reference(text);
  if (!r.ok()) throw std::runtime_error(r.status().to_string());
  return *r;
}

crio::image::Policy policy(const std::string& json, const std::string& source) {
  auto p = crio::image::parse_policy(json, source);
  INFO(p.status().to_string());
  REQUIRE(p.ok());
  return *p;
}

}  // namespace crio::test
