#pragma once
// policy.json (containers-policy.json(5)): whether an image may be pulled, decided
// after its manifest is fetched and before any layer is.
//
// For the "docker" transport the requirements of the most specific matching scope
// apply, tried in this order for docker.io/library/busybox:latest:
//   "docker.io/library/busybox:latest" (the image itself, or name@digest),
//   "docker.io/library/busybox", "docker.io/library", "docker.io",
//   "*.io" (wildcards: each parent domain of the host, port left out),
//   "" (the transport's default), then the global "default".
// Every requirement of that list must accept the image. Other transports parse and
// are checked for validity but are never consulted: the daemon only pulls from
// registries.

#include <crio/core/status.hpp>
#include <crio/image/export.hpp>
#include <crio/image/reference.hpp>
#include <crio/image/signature.hpp>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace crio::image {

inline constexpr std::string_view kDefaultPolicyPath = "/etc/containers/policy.json";

enum class RequirementType { kInsecureAcceptAnything, kReject, kSignedBy, kSigstoreSigned };

// The JSON "type" value: "insecureAcceptAnything", "reject", "signedBy", "sigstoreSigned".
CRIO_IMAGE_EXPORT std::string_view requirement_type_name(RequirementType type);

struct CRIO_IMAGE_EXPORT PolicyRequirement {
  RequirementType type = RequirementType::kReject;
  // signedBy: "GPGKeys" (the only one verified; "signedByGPGKeys", "X509Certificates"
  // and "signedByX509CAs" load but are refused at evaluation).
  std::string key_type;
  // signedBy and sigstoreSigned: keyPath / keyPaths, read when the requirement is
  // evaluated so a rotated key file needs no restart.
  std::vector<std::string> key_paths;
  // keyData / keyDatas, already base64-decoded.
  std::vector<std::string> key_data;
  SignedIdentity signed_identity;
  // sigstoreSigned options this implementation cannot verify ("fulcio",
  // "rekorPublicKeyPath", "pki", …): the policy loads, evaluation refuses.
  std::vector<std::string> unsupported;
};

using PolicyRequirements = std::vector<PolicyRequirement>;

struct CRIO_IMAGE_EXPORT Policy {
  std::string source;  // the file it came from, for messages
  PolicyRequirements default_requirements;
  // transports.docker: scope → requirements; "" is the transport's default.
  std::map<std::string, PolicyRequirements> docker;
};

// Parses policy.json text. Strict like containers/image: an unknown or duplicated
// member, a missing or empty "default", an empty requirement list, an unknown
// requirement type, a bad key or identity, or an invalid docker scope is
// InvalidArgument naming `source` and what is wrong.
CRIO_IMAGE_EXPORT Result<Policy> parse_policy(std::string_view json, std::string_view source);

// Reads and parses `path`. A missing file is FailedPrecondition (no policy means no
// pull is allowed, not that every pull is).
CRIO_IMAGE_EXPORT Result<Policy> load_policy(const std::string& path);

// The policy file for a pull from a pod in `pod_namespace`, as CRI-O picks it:
// "<signature_policy_dir>/<namespace>.json" when the namespace is set and that file
// exists, else `signature_policy`, else kDefaultPolicyPath. A namespace that is not
// a DNS-1123 label is InvalidArgument (it must never escape the directory).
CRIO_IMAGE_EXPORT Result<std::string> policy_path_for_namespace(std::string_view signature_policy,
                                                                std::string_view signature_policy_dir,
                                                                std::string_view pod_namespace);

// policy_path_for_namespace then load_policy.
CRIO_IMAGE_EXPORT Result<Policy> load_policy_for_namespace(std::string_view signature_policy,
                                                           std::string_view signature_policy_dir,
                                                           std::string_view pod_namespace);

// The requirements that apply to `ref` and where they came from.
struct CRIO_IMAGE_EXPORT PolicyMatch {
  const PolicyRequirements* requirements = nullptr;
  // Names the match in messages: "scope \"docker.io\"",
  // "the default scope \"\" of transport \"docker\"", "the global \"default\"".
  std::string scope;
};

CRIO_IMAGE_EXPORT PolicyMatch find_policy_requirements(const Policy& policy, const Reference& ref);

// The scopes tried for `ref`, most specific first (without "" and the global default).
CRIO_IMAGE_EXPORT std::vector<std::string> docker_scope_candidates(const Reference& ref);

// Decides whether the image `ref`, whose manifest has `manifest_digest` (and bytes
// `manifest`, optional), may be pulled. Signatures are fetched from `signatures`
// only when a requirement needs them, at most once per kind.
//   OK                 every requirement accepted;
//   PermissionDenied   a requirement refused: "image docker.io/library/busybox:latest
//                      rejected by policy /etc/containers/policy.json: requirement
//                      \"reject\" for scope \"docker.io\"" (plus the reason for signatures);
//   Unimplemented      the requirement needs something not supported (fulcio, rekor,
//                      X.509 key types);
//   FailedPrecondition a key file named by the policy is missing or unusable;
//   other              fetching signatures failed.
CRIO_IMAGE_EXPORT Status evaluate_policy(const Policy& policy, const Reference& ref, const std::string& manifest_digest,
                                         SignatureSource& signatures, std::string_view manifest = {});

}  // namespace crio::image
