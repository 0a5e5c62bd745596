#include <crio/core/digest.hpp>
#include <crio/image/lookaside.hpp>
#include <crio/image/policy.hpp>

#include "trust_fixtures.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>

using crio::Code;
using namespace crio::image;
using crio::test::base64_encode;
using crio::test::EcKey;
using crio::test::image_ref;
using crio::test::kDigestA;
using crio::test::kDigestB;
using crio::test::MemorySignatureSource;
using crio::test::sigstore_sign;

namespace {

// A policy trusting `key` for quay.io/vendor through keyData, with `identity`
// ("" for the default) as its signedIdentity.
Policy sigstore_policy(const EcKey& key, const std::string& identity = "") {
  std::string req = R"({"type":"sigstoreSigned","keyData":")" + base64_encode(key.public_pem()) + "\"";
  if (!identity.empty()) req += R"(,"signedIdentity":)" + identity;
  req += "}";
  return crio::test::policy(R"({"default":[{"type":"reject"}],"transports":{"docker":{"quay.io/vendor":[)" + req +
                            "]}}}");
}

}  // namespace

TEST_CASE("sigstore: a signature by the trusted key for this image and manifest is accepted", "[sigstore]") {
  EcKey key;
  MemorySignatureSource sigs;
  sigs.sigstore.push_back(sigstore_sign(key, "quay.io/vendor/app:1.0", kDigestA));
  auto p = sigstore_policy(key);
  auto s = evaluate_policy(p, image_ref("quay.io/vendor/app:1.0"), kDigestA, sigs);
  INFO(s.message());
  CHECK(s.ok());
  CHECK(sigs.sigstore_calls == 1);
  CHECK(sigs.simple_calls == 0);

  // The same through a key file.
  crio::test::TempDir dir("crio-sigstore");
  crio::test::write_file(dir / "cosign.pub", key.public_pem());
  auto by_path =
      crio::test::policy(R"({"default":[{"type":"sigstoreSigned","keyPath":")" + (dir / "cosign.pub") + R"("}]})");
  CHECK(evaluate_policy(by_path, image_ref("quay.io/vendor/app:1.0"), kDigestA, sigs).ok());
}

TEST_CASE("sigstore: a signature by another key is refused", "[sigstore]") {
  EcKey trusted, other;
  MemorySignatureSource sigs;
  sigs.sigstore.push_back(sigstore_sign(other, "quay.io/vendor/app:1.0", kDigestA));
  auto s = evaluate_policy(sigstore_policy(trusted), image_ref("quay.io/vendor/app:1.0"), kDigestA, sigs);
  CHECK(s.code() == Code::kPermissionDenied);
  INFO(s.message());
  CHECK(s.message().find("image quay.io/vendor/app:1.0 rejected by policy /etc/containers/policy.json: requirement "
                         "\"sigstoreSigned\" for scope \"quay.io/vendor\"") == 0);
  CHECK(s.message().find("signature 1: sigstore signature does not verify with the trusted key (keyData)") !=
        std::string::npos);
}

TEST_CASE("sigstore: a tampered payload is refused", "[sigstore]") {
  EcKey key;
  MemorySignatureSource sigs;
  auto sig = sigstore_sign(key, "quay.io/vendor/app:1.0", kDigestA);
  // Retarget the signed claim to another image: the signature no longer matches.
  sig.payload.replace(sig.payload.find("app:1.0"), 7, "app:6.6");
  sigs.sigstore.push_back(sig);
  auto s = evaluate_policy(sigstore_policy(key), image_ref("quay.io/vendor/app:6.6"), kDigestA, sigs);
  CHECK(s.code() == Code::kPermissionDenied);
  CHECK(s.message().find("does not verify") != std::string::npos);

  // A corrupted signature value, and one that is not base64 at all.
  auto broken = sigstore_sign(key, "quay.io/vendor/app:1.0", kDigestA);
  broken.signature[10] = broken.signature[10] == 'A' ? 'B' : 'A';
  sigs.sigstore = {broken};
  CHECK(evaluate_policy(sigstore_policy(key), image_ref("quay.io/vendor/app:1.0"), kDigestA, sigs).code() ==
        Code::kPermissionDenied);
  broken.signature = "!!!";
  sigs.sigstore = {broken};
  s = evaluate_policy(sigstore_policy(key), image_ref("quay.io/vendor/app:1.0"), kDigestA, sigs);
  CHECK(s.code() == Code::kPermissionDenied);
  CHECK(s.message().find("invalid base64") != std::string::npos);
}

TEST_CASE("sigstore: a signature for another manifest is refused", "[sigstore]") {
  EcKey key;
  MemorySignatureSource sigs;
  sigs.sigstore.push_back(sigstore_sign(key, "quay.io/vendor/app:1.0", kDigestB));
  auto s = evaluate_policy(sigstore_policy(key), image_ref("quay.io/vendor/app:1.0"), kDigestA, sigs);
  CHECK(s.code() == Code::kPermissionDenied);
  CHECK(s.message().find("signature 1: signature is for manifest " + kDigestB + ", not " + kDigestA) !=
        std::string::npos);

  // With the manifest bytes the digest is recomputed from them.
  const std::string manifest = R"({"schemaVersion":2,"layers":[]})";
  const std::string real = crio::core::sha256_of(manifest);
  sigs.sigstore = {sigstore_sign(key, "quay.io/vendor/app:1.0", real)};
  CHECK(evaluate_policy(sigstore_policy(key), image_ref("quay.io/vendor/app:1.0"), real, sigs, manifest).ok());
  CHECK(
      evaluate_policy(sigstore_policy(key), image_ref("quay.io/vendor/app:1.0"), real, sigs, manifest + "\n").code() ==
      Code::kPermissionDenied);
}

TEST_CASE("sigstore: the claimed identity is checked per signedIdentity", "[sigstore]") {
  EcKey key;
  MemorySignatureSource sigs;
  // cosign signs the repository only, without a tag.
  sigs.sigstore.push_back(sigstore_sign(key, "quay.io/vendor/app", kDigestA));
  const auto image = image_ref("quay.io/vendor/app:1.0");

  auto s = evaluate_policy(sigstore_policy(key), image, kDigestA, sigs);  // matchRepoDigestOrExact
  CHECK(s.code() == Code::kPermissionDenied);
  CHECK(s.message().find("signature claims identity \"quay.io/vendor/app\", but signedIdentity "
                         "matchRepoDigestOrExact requires \"quay.io/vendor/app:1.0\"") != std::string::npos);
  CHECK(evaluate_policy(sigstore_policy(key, R"({"type":"matchExact"})"), image, kDigestA, sigs).code() ==
        Code::kPermissionDenied);
  CHECK(evaluate_policy(sigstore_policy(key, R"({"type":"matchRepository"})"), image, kDigestA, sigs).ok());
  // By digest, the repository is enough under the default rule.
  CHECK(evaluate_policy(sigstore_policy(key), image_ref("quay.io/vendor/app@" + kDigestA), kDigestA, sigs).ok());
  CHECK(evaluate_policy(sigstore_policy(key, R"({"type":"exactRepository","dockerRepository":"quay.io/vendor/app"})"),
                        image_ref("quay.io/vendor/other:1"), kDigestA, sigs)
            .ok());
  s = evaluate_policy(sigstore_policy(key, R"({"type":"exactRepository","dockerRepository":"quay.io/vendor/tool"})"),
                      image, kDigestA, sigs);
  CHECK(s.code() == Code::kPermissionDenied);
  CHECK(s.message().find("requires repository \"quay.io/vendor/tool\"") != std::string::npos);
  CHECK(evaluate_policy(sigstore_policy(key, R"({"type":"exactReference","dockerReference":"quay.io/vendor/app:1.0"})"),
                        image, kDigestA, sigs)
            .code() == Code::kPermissionDenied);

  // A signature for another repository is refused even under matchRepository.
  sigs.sigstore = {sigstore_sign(key, "quay.io/vendor/evil", kDigestA)};
  CHECK(evaluate_policy(sigstore_policy(key, R"({"type":"matchRepository"})"), image, kDigestA, sigs).code() ==
        Code::kPermissionDenied);

  // remapIdentity: a mirror's image signed under the vendor's name.
  sigs.sigstore = {sigstore_sign(key, "quay.io/vendor/app:1.0", kDigestA)};
  auto mirror = crio::test::policy(
      R"({"default":[{"type":"sigstoreSigned","keyData":")" + base64_encode(key.public_pem()) +
      R"(","signedIdentity":{"type":"remapIdentity","prefix":"mirror.local:5000/v","signedPrefix":"quay.io/vendor"}}]})");
  CHECK(evaluate_policy(mirror, image_ref("mirror.local:5000/v/app:1.0"), kDigestA, sigs).ok());
  CHECK(evaluate_policy(mirror, image_ref("mirror.local:5000/v/app:2.0"), kDigestA, sigs).code() ==
        Code::kPermissionDenied);
}

TEST_CASE("sigstore: no signature at all is refused", "[sigstore]") {
  EcKey key;
  MemorySignatureSource sigs;
  auto s = evaluate_policy(sigstore_policy(key), image_ref("quay.io/vendor/app:1.0"), kDigestA, sigs);
  CHECK(s.code() == Code::kPermissionDenied);
  CHECK(s.message().find("no sigstore signature found for manifest " + kDigestA) != std::string::npos);
}

TEST_CASE("sigstore: one acceptable signature among bad ones is enough", "[sigstore]") {
  EcKey key, other;
  MemorySignatureSource sigs;
  sigs.sigstore.push_back(sigstore_sign(other, "quay.io/vendor/app:1.0", kDigestA));
  sigs.sigstore.push_back(sigstore_sign(key, "quay.io/vendor/app:1.0", kDigestB));
  sigs.sigstore.push_back(sigstore_sign(key, "quay.io/vendor/app:1.0", kDigestA));
  CHECK(evaluate_policy(sigstore_policy(key), image_ref("quay.io/vendor/app:1.0"), kDigestA, sigs).ok());
  sigs.sigstore.pop_back();
  auto s = evaluate_policy(sigstore_policy(key), image_ref("quay.io/vendor/app:1.0"), kDigestA, sigs);
  CHECK(s.code() == Code::kPermissionDenied);
  CHECK(s.message().find("signature 1:") != std::string::npos);
  CHECK(s.message().find("signature 2:") != std::string::npos);
}

TEST_CASE("sigstore: fulcio and rekor are refused at evaluation as unsupported", "[sigstore]") {
  auto p = crio::test::policy(R"({"default":[{"type":"sigstoreSigned",
      "fulcio":{"caPath":"/ca.pem","oidcIssuer":"https://issuer","subjectEmail":"a@b"},
      "rekorPublicKeyPath":"/rekor.pub"}]})");
  MemorySignatureSource sigs;
  auto s = evaluate_policy(p, image_ref("quay.io/vendor/app:1.0"), kDigestA, sigs);
  CHECK(s.code() == Code::kUnimplemented);
  CHECK(s.message().find("fulcio, rekorPublicKeyPath is not supported") != std::string::npos);
  CHECK(s.message().find("/etc/containers/policy.json") != std::string::npos);
}

TEST_CASE("sigstore: a missing or unusable key file is FailedPrecondition", "[sigstore]") {
  crio::test::TempDir dir("crio-sigstore");
  EcKey key;
  MemorySignatureSource sigs;
  sigs.sigstore.push_back(sigstore_sign(key, "quay.io/vendor/app:1.0", kDigestA));
  auto missing =
      crio::test::policy(R"({"default":[{"type":"sigstoreSigned","keyPath":")" + (dir / "none.pub") + R"("}]})");
  auto s = evaluate_policy(missing, image_ref("quay.io/vendor/app:1.0"), kDigestA, sigs);
  CHECK(s.code() == Code::kFailedPrecondition);
  CHECK(s.message().find(dir / "none.pub") != std::string::npos);

  crio::test::write_file(dir / "garbage.pub", "not a key\n");
  auto garbage =
      crio::test::policy(R"({"default":[{"type":"sigstoreSigned","keyPath":")" + (dir / "garbage.pub") + R"("}]})");
  s = evaluate_policy(garbage, image_ref("quay.io/vendor/app:1.0"), kDigestA, sigs);
  CHECK(s.code() == Code::kFailedPrecondition);
  CHECK(s.message().find("sigstore public key " + (dir / "garbage.pub") + ": not a PEM public key") !=
        std::string::npos);
}

TEST_CASE("sigstore: a failure to fetch signatures fails the evaluation with that error", "[sigstore]") {
  EcKey key;
  MemorySignatureSource sigs;
  sigs.fail = crio::Status(Code::kUnavailable, "registry down");
  auto s = evaluate_policy(sigstore_policy(key), image_ref("quay.io/vendor/app:1.0"), kDigestA, sigs);
  CHECK(s.code() == Code::kUnavailable);
  CHECK(s.message().find("registry down") != std::string::npos);
}

TEST_CASE("sigstore: attachments are read from the sha256-<hex>.sig tag when registries.d enables them",
          "[sigstore][lookaside]") {
  EcKey key;
  auto sig = sigstore_sign(key, "quay.io/vendor/app:1.0", kDigestA);
  const std::string blob_digest = crio::core::sha256_of(sig.payload);
  std::map<std::string, std::string> blobs{{blob_digest, sig.payload}};
  std::string attach_manifest = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
      "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                                kDigestB + R"(","size":2},
      "layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":")" +
                                blob_digest + R"(","size":)" + std::to_string(sig.payload.size()) +
                                R"(,"annotations":{"dev.cosignproject.cosign/signature":")" + sig.signature +
                                R"("}},
                {"mediaType":"application/x-other","digest":")" +
                                kDigestB + R"(","size":1}]})";
  std::vector<std::string> asked;
  SignatureFetcher fetcher;
  fetcher.get_manifest = [&](const Reference& repo,
                             const std::string& tag) -> crio::Result<std::optional<std::string>> {
    asked.push_back(repo.name() + ":" + tag);
    if (tag == "sha256-" + std::string(64, 'a') + ".sig") return std::optional<std::string>(attach_manifest);
    return std::optional<std::string>();
  };
  fetcher.get_blob = [&](const Reference&, const std::string& digest) -> crio::Result<std::optional<std::string>> {
    auto it = blobs.find(digest);
    if (it == blobs.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  };

  auto enabled = parse_registries_d("docker:\n  quay.io/vendor:\n    use-sigstore-attachments: true\n", "a.yaml");
  REQUIRE(enabled.ok());
  RegistrySignatureSource source(*enabled, fetcher);
  auto got = source.sigstore_signatures(image_ref("quay.io/vendor/app:1.0"), kDigestA);
  REQUIRE(got.ok());
  REQUIRE(got->size() == 1);  // the other media type is skipped
  CHECK((*got)[0].payload == sig.payload);
  CHECK((*got)[0].signature == sig.signature);
  CHECK(asked == std::vector<std::string>{"quay.io/vendor/app:sha256-" + std::string(64, 'a') + ".sig"});
  CHECK(evaluate_policy(sigstore_policy(key), image_ref("quay.io/vendor/app:1.0"), kDigestA, source).ok());

  // No attachment for that digest: no signatures, so refused.
  auto none = source.sigstore_signatures(image_ref("quay.io/vendor/app:1.0"), kDigestB);
  REQUIRE(none.ok());
  CHECK(none->empty());

  // A payload blob whose bytes do not match its digest is refused loudly.
  blobs[blob_digest] = sig.payload + " ";
  auto corrupt = source.sigstore_signatures(image_ref("quay.io/vendor/app:1.0"), kDigestA);
  CHECK(corrupt.status().code() == Code::kDataLoss);
  blobs[blob_digest] = sig.payload;

  // Not enabled for the repository: attachments are never fetched.
  asked.clear();
  RegistrySignatureSource disabled(RegistriesD{}, fetcher);
  auto empty = disabled.sigstore_signatures(image_ref("quay.io/vendor/app:1.0"), kDigestA);
  REQUIRE(empty.ok());
  CHECK(empty->empty());
  CHECK(asked.empty());
  auto s = evaluate_policy(sigstore_policy(key), image_ref("quay.io/vendor/app:1.0"), kDigestA, disabled);
  CHECK(s.code() == Code::kPermissionDenied);
  CHECK(s.message().find("use-sigstore-attachments") != std::string::npos);
}
