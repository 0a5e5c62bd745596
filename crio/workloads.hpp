#pragma once
// CRI-O's workloads ([crio.runtime.workloads.<name>]) and allowed annotations: which
// experimental annotations a pod may use, and the CPU settings an activated workload
// gives its containers and their conmons.

#include <crio/core/config.hpp>
#include <crio/core/status.hpp>
#include <crio/oci/spec.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace crio::daemon {

using Annotations = std::map<std::string, std::string>;

// The workload whose activation annotation is among `annotations` (any value), if any.
const core::Workload* active_workload(const core::Config& config, const Annotations& annotations);

// True when `annotation` may act for a pod of runtime handler `handler` ("" is the
// default) carrying `pod_annotations`: the handler's allowed_annotations or those of
// the workload the pod activates name it (a name ending in "." names a prefix).
bool annotation_allowed(const core::Config& config, const std::string& handler, const Annotations& pod_annotations,
                        const std::string& annotation);

// InvalidArgument when `own` (the pod's or a container's annotations) carries an
// annotation that is allowed here but that crio does not act on (userns-mode,
// cpu-load-balancing, ...): refused rather than run without it. Annotations that are
// not allowed are left alone, as CRI-O drops them. `what` names the object.
Status refuse_unimplemented_annotations(const core::Config& config, const std::string& handler,
                                        const Annotations& pod_annotations, const Annotations& own,
                                        std::string_view what);

// The CPU settings of `workload` for `container` ("POD" for a conmon): its defaults,
// each overridden by the JSON object in annotation "<annotation_prefix>/<container>"
// ({"cpushares": 200, "cpuset": "0-1", "cpuquota", "cpuperiod", "cpulimit"}); a
// cpulimit (millicores) becomes the quota over the period (100 ms by default). nullopt
// when the annotation is JSON null. InvalidArgument names the annotation it cannot read.
Result<std::optional<core::WorkloadResources>> workload_resources(const core::Workload& workload,
                                                                  const std::string& container,
                                                                  const Annotations& annotations);

// Sets what `resources` sets (non-zero, non-empty) on `cpu`.
void apply_workload(const core::WorkloadResources& resources, oci::CpuResources& cpu);

// The conmon cgroup setting in force for `handler`: [crio.runtime] conmon_cgroup, else
// the handler's monitor_cgroup, else "pod".
std::string monitor_cgroup(const core::Config& config, const std::string& handler);

// io.kubernetes.cri-o.LinkLogs = "<emptyDir volume name>": the pod's log directory
// (/var/log/pods/<namespace>_<name>_<uid>) is bind-mounted onto that emptyDir volume
// of the pod (/var/lib/kubelet/pods/<uid>/volumes/kubernetes.io~empty-dir/<volume>),
// where each container's log gets a link <container id>.log, so a container can read
// the pod's logs. As in CRI-O, a failure is logged and the pod or container carries on.
inline constexpr const char* kLinkLogsAnnotation = "io.kubernetes.cri-o.LinkLogs";
std::string link_logs_volume_dir(const std::string& pod_uid, const std::string& volume);
void mount_pod_logs(const std::string& pod_namespace, const std::string& pod_name, const std::string& pod_uid,
                    const std::string& volume);
void unmount_pod_logs(const std::string& pod_uid, const std::string& volume);
void link_container_log(const std::string& pod_uid, const std::string& volume, const std::string& id,
                        const std::string& name, uint32_t attempt);

}  // namespace crio::daemon
