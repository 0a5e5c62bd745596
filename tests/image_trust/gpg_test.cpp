// Simple signing with real GnuPG keys made by the test (needs /usr/bin/gpg).

#include <crio/image/lookaside.hpp>
#include <crio/image/policy.hpp>

#include "trust_fixtures.hpp"

#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <string>

using crio::Code;
using namespace crio::image;
using crio::test::base64_encode;
using crio::test::GpgKey;
using crio::test::image_ref;
using crio::test::kDigestA;
using crio::test::kDigestB;
using crio::test::make_payload;
using crio::test::MemorySignatureSource;

namespace {

const std::string kType = "atomic container signature";

Policy gpg_policy(const std::string& keyring, const std::string& identity = "") {
  std::string req = R"({"type":"signedBy","keyType":"GPGKeys","keyData":")" + base64_encode(keyring) + "\"";
  if (!identity.empty()) req += R"(,"signedIdentity":)" + identity;
  req += "}";
  return crio::test::policy(R"({"default":[{"type":"reject"}],"transports":{"docker":{"quay.io":[)" + req + "]}}}");
}

// Points TMPDIR at a test directory for the verifier's temporary GNUPGHOME.
class ScopedTmpdir {
 public:
  explicit ScopedTmpdir(const std::string& dir) {
    if (const char* old = ::getenv("TMPDIR")) old_ = old, had_ = true;
    ::setenv("TMPDIR", dir.c_str(), 1);
  }
  ~ScopedTmpdir() {
    if (had_)
      ::setenv("TMPDIR", old_.c_str(), 1);
    else
      ::unsetenv("TMPDIR");
  }

 private:
  std::string old_;
  bool had_ = false;
};

}  // namespace

TEST_CASE("gpg: a lookaside signature by the trusted key is accepted", "[gpg]") {
  GpgKey key("trusted@example.com");
  crio::test::TempDir dir("crio-gpg-sigs");
  // Signatures of quay.io/vendor/app at sha256:aaa… in a file:// lookaside.
  const std::string sig_dir = dir / ("sigs/vendor/app@sha256=" + std::string(64, 'a'));
  crio::test::write_file(sig_dir + "/signature-1", key.sign(make_payload(kType, "quay.io/vendor/app:1.0", kDigestA)));
  crio::test::write_file(dir / "registries.d/sigs.yaml",
                         "docker:\n  quay.io/vendor:\n    lookaside: file://" + (dir / "sigs") + "\n");
  auto config = load_registries_d(dir / "registries.d");
  REQUIRE(config.ok());
  RegistrySignatureSource source(*config, SignatureFetcher{});

  crio::test::write_file(dir / "key.gpg", key.public_keyring());
  auto p = crio::test::policy(R"({"default":[{"type":"reject"}],"transports":{"docker":{"quay.io/vendor":[
      {"type":"signedBy","keyType":"GPGKeys","keyPath":")" +
                              (dir / "key.gpg") + R"("}]}}})");

  crio::test::TempDir tmp("crio-gpg-tmp");
  {
    ScopedTmpdir scoped(tmp.path());
    auto s = evaluate_policy(p, image_ref("quay.io/vendor/app:1.0"), kDigestA, source);
    INFO(s.message());
    CHECK(s.ok());
  }
  // The verifier's private GNUPGHOME is gone.
  CHECK(std::filesystem::is_empty(tmp.path()));

  // The same image under another tag is not what was signed.
  auto s = evaluate_policy(p, image_ref("quay.io/vendor/app:2.0"), kDigestA, source);
  CHECK(s.code() == Code::kPermissionDenied);
  CHECK(s.message().find("requirement \"signedBy\" for scope \"quay.io/vendor\"") != std::string::npos);
}

TEST_CASE("gpg: a signature by a key the policy does not name is refused", "[gpg]") {
  GpgKey trusted("trusted@example.com");
  GpgKey other("other@example.com");
  MemorySignatureSource sigs;
  sigs.simple.push_back(other.sign(make_payload(kType, "quay.io/vendor/app:1.0", kDigestA)));
  auto s = evaluate_policy(gpg_policy(trusted.public_keyring()), image_ref("quay.io/vendor/app:1.0"), kDigestA, sigs);
  CHECK(s.code() == Code::kPermissionDenied);
  INFO(s.message());
  CHECK(s.message().find("which the policy does not trust") != std::string::npos);

  // Trusting both keys (keyPaths) accepts it.
  crio::test::TempDir dir("crio-gpg-keys");
  crio::test::write_file(dir / "a.gpg", trusted.public_keyring());
  crio::test::write_file(dir / "b.gpg", other.public_keyring());
  auto both = crio::test::policy(R"({"default":[{"type":"signedBy","keyType":"GPGKeys","keyPaths":[")" +
                                 (dir / "a.gpg") + R"(",")" + (dir / "b.gpg") + R"("]}]})");
  s = evaluate_policy(both, image_ref("quay.io/vendor/app:1.0"), kDigestA, sigs);
  INFO(s.message());
  CHECK(s.ok());
}

TEST_CASE("gpg: a tampered signed message is refused", "[gpg]") {
  GpgKey key("trusted@example.com");
  MemorySignatureSource sigs;
  std::string blob = key.sign(make_payload(kType, "quay.io/vendor/app:1.0", kDigestA));
  auto at = blob.find("app:1.0");
  REQUIRE(at != std::string::npos);  // uncompressed, so the payload is in the clear
  blob.replace(at, 7, "app:6.6");
  sigs.simple.push_back(blob);
  auto s = evaluate_policy(gpg_policy(key.public_keyring()), image_ref("quay.io/vendor/app:6.6"), kDigestA, sigs);
  CHECK(s.code() == Code::kPermissionDenied);
  INFO(s.message());
  CHECK(s.message().find("signature 1:") != std::string::npos);

  // Not OpenPGP at all.
  sigs.simple = {"just some bytes"};
  s = evaluate_policy(gpg_policy(key.public_keyring()), image_ref("quay.io/vendor/app:1.0"), kDigestA, sigs);
  CHECK(s.code() == Code::kPermissionDenied);
  CHECK(s.message().find("not a valid OpenPGP signed message") != std::string::npos);
}

TEST_CASE("gpg: an unsigned literal message is refused", "[gpg]") {
  GpgKey key("trusted@example.com");
  MemorySignatureSource sigs;
  sigs.simple.push_back(key.store_unsigned(make_payload(kType, "quay.io/vendor/app:1.0", kDigestA)));
  auto s = evaluate_policy(gpg_policy(key.public_keyring()), image_ref("quay.io/vendor/app:1.0"), kDigestA, sigs);
  CHECK(s.code() == Code::kPermissionDenied);
  INFO(s.message());
}

TEST_CASE("gpg: a good signature for another digest, identity or type is refused", "[gpg]") {
  GpgKey key("trusted@example.com");
  MemorySignatureSource sigs;
  auto policy = gpg_policy(key.public_keyring());
  const auto image = image_ref("quay.io/vendor/app:1.0");

  sigs.simple = {key.sign(make_payload(kType, "quay.io/vendor/app:1.0", kDigestB))};
  auto s = evaluate_policy(policy, image, kDigestA, sigs);
  CHECK(s.code() == Code::kPermissionDenied);
  CHECK(s.message().find("signature is for manifest " + kDigestB) != std::string::npos);

  sigs.simple = {key.sign(make_payload(kType, "quay.io/vendor/other:1.0", kDigestA))};
  s = evaluate_policy(policy, image, kDigestA, sigs);
  CHECK(s.code() == Code::kPermissionDenied);
  CHECK(s.message().find("signature claims identity \"quay.io/vendor/other:1.0\"") != std::string::npos);
  // … unless the policy maps that identity.
  CHECK(evaluate_policy(gpg_policy(key.public_keyring(),
                                   R"({"type":"exactReference","dockerReference":"quay.io/vendor/other:1.0"})"),
                        image, kDigestA, sigs)
            .ok());

  sigs.simple = {key.sign(make_payload("cosign container image signature", "quay.io/vendor/app:1.0", kDigestA))};
  s = evaluate_policy(policy, image, kDigestA, sigs);
  CHECK(s.code() == Code::kPermissionDenied);
  CHECK(s.message().find("expected \"atomic container signature\"") != std::string::npos);

  sigs.simple.clear();
  s = evaluate_policy(policy, image, kDigestA, sigs);
  CHECK(s.code() == Code::kPermissionDenied);
  CHECK(s.message().find("no signature found") != std::string::npos);
}

TEST_CASE("gpg: unusable keyrings are FailedPrecondition naming the key", "[gpg]") {
  MemorySignatureSource sigs;
  sigs.simple = {"x"};
  auto p = crio::test::policy(R"({"default":[{"type":"signedBy","keyType":"GPGKeys","keyData":")" +
                              base64_encode("this is not a keyring") + R"("}]})");
  auto s = evaluate_policy(p, image_ref("quay.io/vendor/app:1.0"), kDigestA, sigs);
  CHECK(s.code() == Code::kFailedPrecondition);
  CHECK(s.message().find("GPG keyring keyData") != std::string::npos);

  auto x509 = crio::test::policy(R"({"default":[{"type":"signedBy","keyType":"X509Certificates","keyPath":"/x"}]})");
  CHECK(evaluate_policy(x509, image_ref("quay.io/vendor/app:1.0"), kDigestA, sigs).code() == Code::kUnimplemented);
}
