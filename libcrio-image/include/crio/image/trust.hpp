#pragma once
// Signature policy as a pull step: the policy.json that applies to a pull (per pod
// namespace when signature_policy_dir has one) is evaluated against the manifest
// before any config or layer is fetched, with signatures from registries.d's
// lookaside or cosign attachments in the registry the manifest came from.

#include <crio/core/status.hpp>
#include <crio/image/export.hpp>
#include <crio/image/lookaside.hpp>
#include <crio/image/pull.hpp>

#include <functional>
#include <string>

namespace crio::image {

struct TrustOptions {
  std::string signature_policy;      // "" → /etc/containers/policy.json
  std::string signature_policy_dir;  // "<dir>/<namespace>.json" wins when it exists
  std::string registries_d_dir = std::string(kDefaultRegistriesDDir);
};

// The PullOptions::verify hook for a pull made for `pod_namespace` (may be empty).
// The policy and registries.d are read at each pull, so edits apply without a restart.
CRIO_IMAGE_EXPORT std::function<Status(const ManifestCheck&)> policy_verifier(TrustOptions options,
                                                                           std::string pod_namespace);

}  // namespace crio::image
