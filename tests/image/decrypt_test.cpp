// ocicrypt's layer cipher (AES-256-CTR, HMAC-SHA256 over the ciphertext) and the
// refusals of key-wrap protocols and key files crio does not take. The JWE protocol is
// tested against skopeo's output in decrypt_pull_test.cpp.

#include <crio/image/decrypt.hpp>

#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

using crio::Code;
using namespace crio::image;
using crio::test::TempDir;
using crio::test::write_file;

namespace {

std::string random_bytes(size_t n) {
  std::string s(n, '\0');
  REQUIRE(RAND_bytes(reinterpret_cast<unsigned char*>(s.data()), static_cast<int>(n)) == 1);
  return s;
}

std::string base64(const std::string& raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// What ocicrypt's encrypter produces: the ciphertext and the public options JSON.
struct Encrypted {
  std::string ciphertext;
  std::string public_options;
};

Encrypted encrypt(const LayerKey& key, const std::string& plain) {
  Encrypted e;
  e.ciphertext.resize(plain.size());
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  REQUIRE(EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), nullptr,
                             reinterpret_cast<const unsigned char*>(key.symmetric_key.data()),
                             reinterpret_cast<const unsigned char*>(key.cipher_options.at("nonce").data())) == 1);
  REQUIRE(EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(e.ciphertext.data()), &len,
                            reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size())) == 1);
  EVP_CIPHER_CTX_free(ctx);
  unsigned char mac[32];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key.symmetric_key.data(), 32, reinterpret_cast<const unsigned char*>(e.ciphertext.data()),
       e.ciphertext.size(), mac, &mac_len);
  e.public_options = nlohmann::json{{"cipher", "AES_256_CTR_HMAC_SHA256"},
                                    {"hmac", base64(std::string(reinterpret_cast<char*>(mac), mac_len))},
                                    {"cipheroptions", nlohmann::json::object()}}
                         .dump();
  return e;
}

LayerKey random_key() {
  LayerKey k;
  k.symmetric_key = random_bytes(32);
  k.cipher_options["nonce"] = random_bytes(16);
  return k;
}

// Feeds `data` in uneven chunks; returns what came out, and the status of the end.
std::pair<std::string, crio::Status> run(LayerDecryptor& d, const std::string& data) {
  std::string out;
  size_t pos = 0, step = 1;
  while (pos < data.size()) {
    size_t n = std::min(step, data.size() - pos);
    auto s = d.update(data.data() + pos, n, [&](const char* p, size_t len) {
      out.append(p, len);
      return crio::ok_status();
    });
    if (!s.ok()) return {out, s};
    pos += n;
    step = step * 3 + 7;
  }
  return {out, d.finish()};
}

}  // namespace

TEST_CASE("decrypt: AES-256-CTR with HMAC-SHA256 streams the layer and checks it at the end", "[decrypt]") {
  LayerKey key = random_key();
  std::string plain = random_bytes(300000);
  Encrypted e = encrypt(key, plain);

  auto d = LayerDecryptor::create(key, e.public_options, "layer 0");
  INFO(d.status().to_string());
  REQUIRE(d.ok());
  auto [out, end] = run(**d, e.ciphertext);
  CHECK(end.ok());
  CHECK(out == plain);

  SECTION("one tampered byte fails the HMAC") {
    std::string tampered = e.ciphertext;
    tampered[123456] ^= 0x01;
    auto t = LayerDecryptor::create(key, e.public_options, "layer 0");
    REQUIRE(t.ok());
    auto [bad, verdict] = run(**t, tampered);
    CHECK(verdict.code() == Code::kDataLoss);
    CHECK_THAT(verdict.message(), Catch::Contains("layer 0") && Catch::Contains("HMAC"));
  }
  SECTION("a truncated stream fails the HMAC") {
    auto t = LayerDecryptor::create(key, e.public_options, "layer 0");
    REQUIRE(t.ok());
    CHECK(run(**t, e.ciphertext.substr(0, e.ciphertext.size() - 1)).second.code() == Code::kDataLoss);
  }
  SECTION("another key fails the HMAC") {
    LayerKey other = random_key();
    auto t = LayerDecryptor::create(other, e.public_options, "layer 0");
    REQUIRE(t.ok());
    CHECK(run(**t, e.ciphertext).second.code() == Code::kDataLoss);
  }
}

TEST_CASE("decrypt: public and private options ocicrypt would not decrypt with are refused", "[decrypt]") {
  LayerKey key = random_key();
  Encrypted e = encrypt(key, "data");
  auto pub = nlohmann::json::parse(e.public_options);

  auto refused = [&](const LayerKey& k, const std::string& opts, const std::string& reason) {
    auto d = LayerDecryptor::create(k, opts, "layer 1");
    INFO(reason);
    REQUIRE_FALSE(d.ok());
    CHECK(d.status().code() == Code::kInvalidArgument);
    CHECK_THAT(d.status().message(), Catch::Contains("layer 1") && Catch::Contains(reason));
  };
  refused(key, "", "no cipher type");
  refused(key, nlohmann::json{{"cipher", "AES_256_CTR_HMAC_SHA256"}}.dump(), "no HMAC");
  auto other_cipher = pub;
  other_cipher["cipher"] = "AES_256_GCM";
  refused(key, other_cipher.dump(), "unsupported cipher type \"AES_256_GCM\"");
  LayerKey short_key = key;
  short_key.symmetric_key.resize(16);
  refused(short_key, e.public_options, "AES-256 needs 32");
  LayerKey no_nonce = key;
  no_nonce.cipher_options.clear();
  refused(no_nonce, e.public_options, "nonce");
}

TEST_CASE("decrypt: layer keys wrapped for other protocols, or for nobody, are refused naming why", "[decrypt]") {
  DecryptionKeys none;
  none.set_source("decryption_keys_path /nowhere");
  Descriptor layer;
  layer.media_type = "application/vnd.oci.image.layer.v1.tar+gzip+encrypted";

  layer.annotations["org.opencontainers.image.enc.keys.pgp"] = "AAAA";
  auto pgp = unwrap_layer_key(none, layer, "image x: layer 0");
  CHECK(pgp.status().code() == Code::kUnimplemented);
  CHECK_THAT(pgp.status().message(), Catch::Contains("image x: layer 0") && Catch::Contains("pgp") &&
                                         Catch::Contains("only jwe"));

  layer.annotations["org.opencontainers.image.enc.keys.pkcs7"] = "AAAA";
  CHECK_THAT(unwrap_layer_key(none, layer, "l").status().message(), Catch::Contains("pgp, pkcs7"));

  layer.annotations["org.opencontainers.image.enc.keys.jwe"] = "e30=";
  auto no_keys = unwrap_layer_key(none, layer, "image x: layer 0");
  CHECK(no_keys.status().code() == Code::kUnknown);
  CHECK_THAT(no_keys.status().message(),
             Catch::Contains("no private key") && Catch::Contains("decryption_keys_path /nowhere") &&
                 Catch::Contains("also wrapped for pgp, pkcs7"));

  layer.annotations.clear();
  CHECK(unwrap_layer_key(none, layer, "l").status().code() == Code::kInvalidArgument);

  CHECK(layer_encrypted("application/vnd.oci.image.layer.v1.tar+encrypted"));
  CHECK(layer_encrypted("application/vnd.oci.image.layer.v1.tar+zstd+encrypted"));
  CHECK_FALSE(layer_encrypted("application/vnd.oci.image.layer.v1.tar+gzip"));
  CHECK(layer_compression("application/vnd.oci.image.layer.v1.tar+zstd+encrypted", "l").value() ==
        Compression::kZstd);
  CHECK(layer_compression("application/vnd.oci.image.layer.v1.tar+encrypted", "l").value() == Compression::kNone);
  CHECK_FALSE(layer_compression("application/vnd.oci.image.layer.v1.tar+bzip2+encrypted", "l").ok());
}

TEST_CASE("decrypt: decryption_keys_path is read as CRI-O walks it", "[decrypt]") {
  TempDir dir;
  SECTION("a directory that does not exist gives no keys") {
    auto keys = DecryptionKeys::load_dir(dir / "missing");
    REQUIRE(keys.ok());
    CHECK(keys->private_key_count() == 0);
    CHECK(keys->source() == "decryption_keys_path " + (dir / "missing"));
  }
  SECTION("a symbolic link is refused") {
    std::filesystem::create_directories(dir / "keys");
    std::filesystem::create_symlink("/etc/hostname", dir / "keys/link.pem");
    auto keys = DecryptionKeys::load_dir(dir / "keys");
    REQUIRE_FALSE(keys.ok());
    CHECK_THAT(keys.status().message(), Catch::Contains("link.pem") && Catch::Contains("symbolic links"));
  }
  SECTION("a file that is no key is refused, naming it") {
    write_file(dir / "keys/notes.txt", "not a key\n");
    auto keys = DecryptionKeys::load_dir(dir / "keys");
    REQUIRE_FALSE(keys.ok());
    CHECK_THAT(keys.status().message(), Catch::Contains("notes.txt") && Catch::Contains("unknown decryption key type"));
  }
  SECTION("a password-protected key is refused") {
    write_file(dir / "keys/k.pem", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n");
    auto keys = DecryptionKeys::load_dir(dir / "keys");
    REQUIRE_FALSE(keys.ok());
    CHECK_THAT(keys.status().message(), Catch::Contains("k.pem") && Catch::Contains("password"));
  }
  SECTION("a JWK key is refused") {
    write_file(dir / "keys/k.jwk", "{\"kty\":\"RSA\"}");
    auto keys = DecryptionKeys::load_dir(dir / "keys");
    REQUIRE_FALSE(keys.ok());
    CHECK_THAT(keys.status().message(), Catch::Contains("k.jwk") && Catch::Contains("JWK"));
  }
}
