#pragma once
// Container image signatures as containers-signature(5) and cosign define them.
//
// Both kinds sign the same JSON payload, which claims "image <manifest digest> is
// <docker reference>":
//   {"critical": {"type": T, "image": {"docker-manifest-digest": "sha256:…"},
//                 "identity": {"docker-reference": "host/repo:tag"}},
//    "optional": {…}}
// and differ in the envelope:
//   - simple signing (policy "signedBy"): an OpenPGP signed message that carries the
//     payload, T = "atomic container signature", read from a lookaside store;
//   - sigstore (policy "sigstoreSigned"): a raw signature (base64 DER for ECDSA) over
//     the exact payload bytes, T = "cosign container image signature", stored by
//     cosign as an OCI manifest tagged "sha256-<hex>.sig" next to the image.
//
// Everything here refuses rather than guesses: a payload with an unknown critical
// member, a signature no trusted key made, a digest or identity that does not match
// is PermissionDenied with the reason.

#include <crio/core/status.hpp>
#include <crio/image/export.hpp>
#include <crio/image/reference.hpp>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace crio::image {

inline constexpr std::string_view kSimpleSigningType = "atomic container signature";
inline constexpr std::string_view kSigstoreSignatureType = "cosign container image signature";
// The media type of a sigstore attachment layer and the annotation holding its signature.
inline constexpr std::string_view kSigstorePayloadMediaType = "application/vnd.dev.cosign.simplesigning.v1+json";
inline constexpr std::string_view kSigstoreSignatureAnnotation = "dev.cosignproject.cosign/signature";

// One signature from a sigstore attachment manifest.
struct CRIO_IMAGE_EXPORT SigstoreSignature {
  std::string payload;                             // the layer blob: exactly the bytes that were signed
  std::string signature;                           // base64, from the kSigstoreSignatureAnnotation annotation
  std::map<std::string, std::string> annotations;  // every annotation of the layer
};

// The claims of a payload, after strict parsing.
struct CRIO_IMAGE_EXPORT SignaturePayload {
  std::string docker_reference;  // as written in the signature
  std::string manifest_digest;   // "sha256:<hex>"
};

// Parses a payload strictly (containers-signature(5)): the top level has exactly
// "critical" and "optional"; "critical" exactly "type", "image" and "identity", each
// with exactly its one member; no duplicated member anywhere; the type must equal
// `expected_type`. "optional" may hold anything (sigstore also allows null).
// Errors are PermissionDenied ("signature payload: …").
CRIO_IMAGE_EXPORT Result<SignaturePayload> parse_signature_payload(std::string_view json,
                                                                   std::string_view expected_type);

// policy.json's "signedIdentity": which identity claimed by a signature is
// acceptable for the image being pulled.
enum class IdentityRule {
  kMatchExact,              // the claim equals the image reference (tag or digest included)
  kMatchRepoDigestOrExact,  // by digest: same repository; by tag: exact (the default)
  kMatchRepository,         // same repository, any tag
  kExactReference,          // the claim equals `reference`
  kExactRepository,         // the claim is in repository `repository`
  kRemapIdentity,           // image name under `prefix` is rewritten to `signed_prefix`, then
                            // kMatchRepoDigestOrExact
};

CRIO_IMAGE_EXPORT std::string_view identity_rule_name(IdentityRule rule);

struct CRIO_IMAGE_EXPORT SignedIdentity {
  IdentityRule rule = IdentityRule::kMatchRepoDigestOrExact;
  std::string reference;      // kExactReference: normalised, with a tag or digest
  std::string repository;     // kExactRepository: normalised name
  std::string prefix;         // kRemapIdentity
  std::string signed_prefix;  // kRemapIdentity
};

// OK when a signature claiming `signed_reference` is acceptable for `image` under
// `identity`; otherwise PermissionDenied saying what was claimed and expected. A
// digest-and-tag image reference counts as a digest reference (the digest is what
// is pulled).
CRIO_IMAGE_EXPORT Status match_signed_identity(const SignedIdentity& identity, const Reference& image,
                                               std::string_view signed_reference);

// OK when `signed_digest` names the manifest. With `manifest` bytes the digest is
// recomputed with the signature's algorithm (a manifest has one digest per
// algorithm); without, it must equal `manifest_digest`.
CRIO_IMAGE_EXPORT Status match_manifest_digest(std::string_view signed_digest, std::string_view manifest_digest,
                                               std::string_view manifest = {});

// Key material from policy.json: `source` names it in messages (a key file's path,
// or "keyData").
struct CRIO_IMAGE_EXPORT KeyMaterial {
  std::string source;
  std::string data;
};

// Verifies a sigstore signature over its payload with any of `public_keys` (PEM
// "PUBLIC KEY": ECDSA P-256/384 and RSA with SHA-256, or Ed25519) and returns the
// payload's claims. A key that is not a PEM public key is InvalidArgument naming
// its source; a signature none of them made is PermissionDenied.
CRIO_IMAGE_EXPORT Result<SignaturePayload> verify_sigstore_signature(const std::vector<KeyMaterial>& public_keys,
                                                                     const SigstoreSignature& signature);

// What an OpenPGP signed message proved.
struct CRIO_IMAGE_EXPORT GpgVerified {
  std::string payload;      // the signed content
  std::string fingerprint;  // the primary key that made the signature
};

// Simple-signing verification with gpgme against a private keyring made from the
// trusted keys only: a fresh GNUPGHOME (mode 0700) removed when the verifier goes.
// One verifier per policy requirement; not shared between threads.
class CRIO_IMAGE_EXPORT GpgVerifier {
 public:
  // Imports every key of every keyring. A keyring holding no public key is
  // InvalidArgument naming its source; gpg failing to start is Unavailable.
  static Result<GpgVerifier> create(const std::vector<KeyMaterial>& keyrings);

  GpgVerifier(GpgVerifier&&) noexcept;
  GpgVerifier& operator=(GpgVerifier&&) noexcept;
  ~GpgVerifier();

  // Fingerprints of the imported primary keys.
  const std::vector<std::string>& fingerprints() const;

  // The blob must be one OpenPGP signed message with exactly one good, unexpired,
  // unrevoked signature by an imported key; its content is returned unparsed.
  // Anything else is PermissionDenied with gpg's reason.
  Result<GpgVerified> verify(std::string_view signature) const;

 private:
  struct Impl;
  explicit GpgVerifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Where evaluation gets an image's signatures. `repository` is the reference the
// image was pulled by; `manifest_digest` the digest of the manifest it resolved to
// (the index or list when there is one). No signatures is an empty list, not an
// error; an error is a failure to fetch them (the pull fails with it).
class CRIO_IMAGE_EXPORT SignatureSource {
 public:
  virtual ~SignatureSource();
  // cosign attachments: the "sha256-<hex>.sig" tag of the same repository.
  virtual Result<std::vector<SigstoreSignature>> sigstore_signatures(const Reference& repository,
                                                                     const std::string& manifest_digest) = 0;
  // OpenPGP blobs from the lookaside store, in index order.
  virtual Result<std::vector<std::string>> simple_signing_signatures(const Reference& repository,
                                                                     const std::string& manifest_digest) = 0;
};

// Standard base64 (RFC 4648, '=' padding optional; whitespace ignored). Anything
// else is InvalidArgument naming `what`.
CRIO_IMAGE_EXPORT Result<std::string> base64_decode(std::string_view text, std::string_view what);

}  // namespace crio::image
