#pragma once
// The daemon's side of the spec builder (libcrio-oci): the pod and the image config in
// the plain types it takes.

#include "pods.hpp"

#include <crio/core/storage/store.hpp>
#include <crio/oci/container_spec.hpp>

namespace crio::daemon {

// With what the pod's runtime handler allows (allowed_annotations,
// privileged_without_host_devices).
oci::PodContext pod_context(const Pod& pod, const core::Config& config);

// From the image's config blob, parsed by libcrio-image (the only image-config parser);
// InvalidArgument when the blob is not an image config. An image stored without a
// config has no defaults.
Result<oci::ImageDefaults> image_defaults(const storage::Image& image);

}  // namespace crio::daemon
