#pragma once
// The OCI spec of a container, from its CRI request, its pod and its image config.

#include "containers.hpp"

#include <crio/oci/spec.hpp>

#include <optional>
#include <string>
#include <vector>

namespace crio::daemon {

// What CreateContainer uses of an image config ("config" in the config blob).
struct ImageConfig {
  std::string user;
  std::vector<std::string> env;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string working_dir;
  std::string stop_signal;
};

// InvalidArgument when the blob is not an image config.
Result<ImageConfig> parse_image_config(const std::string& config_json);

// The process's argv from the CRI command/args and the image's entrypoint/cmd, as
// Kubernetes defines it; InvalidArgument when nothing is left to run.
Result<std::vector<std::string>> container_argv(const ContainerSpec& spec, const ImageConfig& image);

// "SIGINT", "INT", "2" → 2; InvalidArgument otherwise. Empty → SIGTERM.
Result<int> parse_signal(const std::string& name);

// The user the process runs as, resolved in the rootfs's /etc/passwd and /etc/group
// (read without following symlinks out of the rootfs). `home` gets the user's home.
Result<oci::User> resolve_user(const std::string& rootfs, const ContainerSpec& spec, const ImageConfig& image,
                               std::string* home);

struct SpecInputs {
  std::string id;
  std::string rootfs;
  const Pod* pod = nullptr;
  const ContainerSpec* spec = nullptr;
  const ImageConfig* image = nullptr;
  pid_t target_pid = 0;  // the target container's init, with pid_mode kTarget
};

// The whole spec; creates missing host paths of bind mounts (as directories) and
// refuses those in absent_mount_sources_to_reject.
Result<oci::Spec> build_container_spec(const core::Config& config, const SpecInputs& in);

}  // namespace crio::daemon
