#include <crio/image/signature.hpp>

#include "signature_internal.hpp"

#include <crio/core/digest.hpp>

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <set>

namespace crio::image {

namespace {

using json = nlohmann::json;

Status refused(std::string_view why) { return Status(Code::kPermissionDenied, std::string(why)); }

// containers-signature(5): every object under "critical" must hold exactly the
// members we know, nothing more or less.
Status exact_members(const json& obj, std::initializer_list<std::string_view> names, std::string_view where) {
  if (!obj.is_object()) return refused(fmt::format("signature payload: {} is not a JSON object", where));
  for (auto name : names)
    if (!obj.contains(name)) return refused(fmt::format("signature payload: {} has no \"{}\"", where, name));
  for (const auto& [key, value] : obj.items()) {
    bool known = false;
    for (auto name : names) known = known || key == name;
    if (!known) return refused(fmt::format("signature payload: {} has unknown member \"{}\"", where, key));
  }
  return ok_status();
}

Result<std::string> string_member(const json& obj, const char* name, std::string_view where) {
  const json& v = obj.at(name);
  if (!v.is_string()) return refused(fmt::format("signature payload: {}.{} is not a string", where, name));
  return v.get<std::string>();
}

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using UniquePkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

Result<UniquePkey> load_public_key(const KeyMaterial& key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(key.data.data(), static_cast<int>(key.data.size())),
                                                &BIO_free);
  if (!bio) return error(Code::kInternal, "sigstore public key {}: out of memory", key.source);
  UniquePkey pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) {
    std::string why = openssl_error();
    return error(Code::kInvalidArgument, "sigstore public key {}: not a PEM public key ({})", key.source, why);
  }
  return pkey;
}

// The digest sigstore pairs with each key: SHA-256, except SHA-384/512 for the
// bigger curves and none for Ed25519 (which hashes internally).
const EVP_MD* digest_for(EVP_PKEY* pkey) {
  int id = EVP_PKEY_get_base_id(pkey);
  if (id == EVP_PKEY_ED25519) return nullptr;
  if (id == EVP_PKEY_EC) {
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(pkey, group, sizeof group, &len) == 1) {
      std::string_view g(group, len);
      if (g == "secp384r1" || g == "P-384") return EVP_sha384();
      if (g == "secp521r1" || g == "P-521") return EVP_sha512();
    }
  }
  return EVP_sha256();
}

bool verify_with(EVP_PKEY* pkey, std::string_view sig, std::string_view data) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx) return false;
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, digest_for(pkey), nullptr, pkey) != 1) {
    ERR_clear_error();
    return false;
  }
  int rc = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                            reinterpret_cast<const unsigned char*>(data.data()), data.size());
  ERR_clear_error();
  return rc == 1;
}

bool ref_matches_prefix(const Reference& ref, std::string_view prefix) {
  std::string name = ref.name();
  if (name.size() < prefix.size()) return false;
  if (name.size() == prefix.size()) return name == prefix;
  return name.compare(0, prefix.size(), prefix) == 0 && name[prefix.size()] == '/';
}

}  // namespace

SignatureSource::~SignatureSource() = default;

std::string_view identity_rule_name(IdentityRule rule) {
  switch (rule) {
    case IdentityRule::kMatchExact:
      return "matchExact";
    case IdentityRule::kMatchRepoDigestOrExact:
      return "matchRepoDigestOrExact";
    case IdentityRule::kMatchRepository:
      return "matchRepository";
    case IdentityRule::kExactReference:
      return "exactReference";
    case IdentityRule::kExactRepository:
      return "exactRepository";
    case IdentityRule::kRemapIdentity:
      return "remapIdentity";
  }
  return "unknown";
}

Result<SignaturePayload> parse_signature_payload(std::string_view text, std::string_view expected_type) {
  CRIO_ASSIGN_OR_RETURN(json doc, trust::parse_json_no_duplicates(text, "signature payload", Code::kPermissionDenied));
  CRIO_RETURN_IF_ERROR(exact_members(doc, {"critical", "optional"}, "the top level"));
  const json& optional = doc.at("optional");
  // cosign writes "optional": null when it has nothing to add.
  bool null_ok = expected_type == kSigstoreSignatureType;
  if (!optional.is_object() && !(null_ok && optional.is_null()))
    return refused("signature payload: \"optional\" is not a JSON object");
  const json& critical = doc.at("critical");
  CRIO_RETURN_IF_ERROR(exact_members(critical, {"type", "image", "identity"}, "\"critical\""));
  CRIO_ASSIGN_OR_RETURN(std::string type, string_member(critical, "type", "critical"));
  if (type != expected_type)
    return refused(fmt::format("signature payload: type is \"{}\", expected \"{}\"", type, expected_type));
  const json& image = critical.at("image");
  CRIO_RETURN_IF_ERROR(exact_members(image, {"docker-manifest-digest"}, "\"critical.image\""));
  const json& identity = critical.at("identity");
  CRIO_RETURN_IF_ERROR(exact_members(identity, {"docker-reference"}, "\"critical.identity\""));
  SignaturePayload out;
  CRIO_ASSIGN_OR_RETURN(out.manifest_digest, string_member(image, "docker-manifest-digest", "critical.image"));
  CRIO_ASSIGN_OR_RETURN(out.docker_reference, string_member(identity, "docker-reference", "critical.identity"));
  if (Status s = validate_digest(out.manifest_digest, "signature payload"); !s.ok()) return refused(s.message());
  return out;
}

Status match_signed_identity(const SignedIdentity& identity, const Reference& image,
                             std::string_view signed_reference) {
  auto parsed = parse_reference(signed_reference, ParseOptions{.default_tag = false});
  if (!parsed.ok()) return refused(fmt::format("signature claims an invalid identity: {}", parsed.status().message()));
  const Reference& claimed = *parsed;
  const std::string claimed_text = claimed.string();
  const std::string rule = std::string(identity_rule_name(identity.rule));

  auto exact = [&](const Reference& want) -> Status {
    std::string want_text = trust::policy_identity(want);
    if (claimed_text == want_text) return ok_status();
    return refused(fmt::format("signature claims identity \"{}\", but signedIdentity {} requires \"{}\"", claimed_text,
                               rule, want_text));
  };
  auto same_repository = [&](const std::string& want_name) -> Status {
    if (claimed.name() == want_name) return ok_status();
    return refused(fmt::format("signature claims identity \"{}\", but signedIdentity {} requires repository \"{}\"",
                               claimed_text, rule, want_name));
  };
  auto repo_digest_or_exact = [&](const Reference& want) -> Status {
    if (!want.digest.empty()) return same_repository(want.name());
    return exact(want);
  };

  switch (identity.rule) {
    case IdentityRule::kMatchExact:
      return exact(image);
    case IdentityRule::kMatchRepoDigestOrExact:
      return repo_digest_or_exact(image);
    case IdentityRule::kMatchRepository:
      return same_repository(image.name());
    case IdentityRule::kExactReference:
      if (claimed_text == identity.reference) return ok_status();
      return refused(fmt::format("signature claims identity \"{}\", but signedIdentity exactReference requires \"{}\"",
                                 claimed_text, identity.reference));
    case IdentityRule::kExactRepository:
      return same_repository(identity.repository);
    case IdentityRule::kRemapIdentity: {
      if (!ref_matches_prefix(image, identity.prefix)) return repo_digest_or_exact(image);
      std::string remapped = identity.signed_prefix + image.name().substr(identity.prefix.size());
      if (!image.digest.empty())
        remapped += "@" + image.digest;
      else if (!image.tag.empty())
        remapped += ":" + image.tag;
      auto mapped = parse_reference(remapped, ParseOptions{.default_tag = false, .qualified = true});
      if (!mapped.ok())
        return refused(fmt::format("remapping \"{}\" to \"{}\" gives an invalid reference: {}", image.name(),
                                   identity.signed_prefix, mapped.status().message()));
      return repo_digest_or_exact(*mapped);
    }
  }
  return refused("unknown signedIdentity rule");
}

Status match_manifest_digest(std::string_view signed_digest, std::string_view manifest_digest,
                             std::string_view manifest) {
  if (Status s = validate_digest(signed_digest, "signature"); !s.ok()) return refused(s.message());
  if (!manifest.empty()) {
    std::string_view algo = signed_digest.substr(0, signed_digest.find(':'));
    auto digester = core::Digester::create(algo);
    if (!digester.ok()) return refused(digester.status().message());
    digester->update(manifest);
    std::string actual = digester->finish();
    if (actual == signed_digest) return ok_status();
    return refused(
        fmt::format("signature is for manifest {}, but the manifest's {} digest is {}", signed_digest, algo, actual));
  }
  if (signed_digest == manifest_digest) return ok_status();
  return refused(fmt::format("signature is for manifest {}, not {}", signed_digest, manifest_digest));
}

Result<SignaturePayload> verify_sigstore_signature(const std::vector<KeyMaterial>& public_keys,
                                                   const SigstoreSignature& signature) {
  if (public_keys.empty()) return error(Code::kInvalidArgument, "sigstore verification: no public key configured");
  std::vector<UniquePkey> keys;
  for (const auto& k : public_keys) {
    CRIO_ASSIGN_OR_RETURN(UniquePkey key, load_public_key(k));
    keys.push_back(std::move(key));
  }
  if (signature.signature.empty()) return refused("sigstore signature: the signature annotation is missing or empty");
  auto raw = base64_decode(signature.signature, "sigstore signature");
  if (!raw.ok()) return refused(raw.status().message());
  bool verified = false;
  for (auto& key : keys) {
    if (verify_with(key.get(), *raw, signature.payload)) {
      verified = true;
      break;
    }
  }
  if (!verified) {
    std::string names;
    for (const auto& k : public_keys) names += (names.empty() ? "" : ", ") + k.source;
    return refused(fmt::format("sigstore signature does not verify with the trusted key{} ({})",
                               public_keys.size() == 1 ? "" : "s", names));
  }
  // Only now, with the payload authenticated, is it parsed.
  return parse_signature_payload(signature.payload, kSigstoreSignatureType);
}

}  // namespace crio::image
