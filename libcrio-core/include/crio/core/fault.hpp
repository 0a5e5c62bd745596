#pragma once
// Crash points: named steps of the pull, pod, container and removal paths where the
// crash tests (tests/daemon/crash_points_test.cpp) kill the daemon with SIGKILL, to
// prove that a restart repairs what a crash at that step leaves (docs/crash-points.md).
//
// Two gates keep them out of a daemon anyone runs:
// - CRIO_FAULT_POINT(step) compiles to nothing unless the CMake option
//   CRIO_FAULT_POINTS (ON only with the tests) defines CRIO_FAULT_POINTS;
// - even then a step only calls a hook that nothing in the shipped `crio` installs:
//   the test-only binary `crio-fault` (tests/daemon/fault_hook.cpp) installs it when
//   the environment variable CRIO_FAULT_POINT names a step.

#include <crio/core/export.hpp>
// The build's choice (CMake option CRIO_FAULT_POINTS); an installed copy has none, and
// its crash points compile to nothing.
#if __has_include(<crio/core/fault_config.hpp>)
#include <crio/core/fault_config.hpp>
#endif

#include <cstddef>
#include <string_view>

// The one table of crash points: identifier, name (what CRIO_FAULT_POINT=... takes)
// and what has happened when the daemon dies there.
#define CRIO_FAULT_POINT_TABLE(X)                                                                               \
  X(pull_layer_download, "pull.layer.download", "a layer's first bytes arrived; it is being unpacked into staging") \
  X(pull_layer_unpack, "pull.layer.unpack", "a layer is unpacked in staging, its digests not checked yet")            \
  X(pull_layer_verify, "pull.layer.verify", "a layer's digests are verified; it is not committed yet")                \
  X(pull_layer_install, "pull.layer.install", "a layer's directory is in the store, not yet in layers.json")           \
  X(pull_layer_commit, "pull.layer.commit", "a layer is recorded in layers.json; the image is not")                   \
  X(pull_image_record, "pull.image.record", "the image's manifest and config are written, images.json is not")        \
  X(pod_netns, "pod.netns", "the pod's namespaces are pinned; no CNI ADD yet")                                         \
  X(pod_cni_add, "pod.cni.add", "CNI ADD gave the pod its IP; no state file yet")                                      \
  X(pod_state_write, "pod.state.write", "the pod's state file is written; RunPodSandbox has not answered")             \
  X(container_rootfs, "container.rootfs", "the container's writable layer exists and is mounted; no bundle yet")       \
  X(container_bundle, "container.bundle", "the container's bundle (config.json) is written; no conmon yet")            \
  X(container_conmon, "container.conmon", "conmon runs and the runtime created the container; no state file yet")     \
  X(container_state_write, "container.state.write", "the container's state file is written; CreateContainer has not answered") \
  X(remove_image_record, "remove.image.record", "the image is out of images.json, its layers still recorded")          \
  X(remove_image_layers, "remove.image.layers", "the image's layers are out of layers.json, their directories remain")  \
  X(remove_container_runtime, "remove.container.runtime", "the runtime deleted the container; its layer and state remain") \
  X(remove_container_layer, "remove.container.layer", "the container's layer is deleted; its bundle and state file remain") \
  X(remove_pod_network, "remove.pod.network", "the pod's netns is gone and CNI DEL ran; its state says not ready, its namespaces are still recorded")    \
  X(remove_pod_stopped, "remove.pod.stopped", "the pod is stopped and its state says so; its files and state remain")

namespace crio::core {

enum class FaultPoint {
#define CRIO_FAULT_ENUM(id, name, what) id,
  CRIO_FAULT_POINT_TABLE(CRIO_FAULT_ENUM)
#undef CRIO_FAULT_ENUM
};

struct FaultPointInfo {
  FaultPoint point;
  std::string_view name;
  std::string_view what;
};

inline constexpr FaultPointInfo kFaultPoints[] = {
#define CRIO_FAULT_INFO(id, name, what) {FaultPoint::id, name, what},
    CRIO_FAULT_POINT_TABLE(CRIO_FAULT_INFO)
#undef CRIO_FAULT_INFO
};

inline constexpr std::string_view fault_point_name(FaultPoint p) { return kFaultPoints[static_cast<size_t>(p)].name; }

// Called at each crash point the build compiled in; does nothing without a hook.
using FaultHook = void (*)(FaultPoint);
CRIO_CORE_EXPORT void set_fault_hook(FaultHook hook);
CRIO_CORE_EXPORT void fault_point_reached(FaultPoint point);

}  // namespace crio::core

#if defined(CRIO_FAULT_POINTS)
#define CRIO_FAULT_POINT(id) ::crio::core::fault_point_reached(::crio::core::FaultPoint::id)
#else
#define CRIO_FAULT_POINT(id) static_cast<void>(::crio::core::FaultPoint::id)
#endif
