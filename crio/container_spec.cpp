#include "container_spec.hpp"
#include "workloads.hpp"

#include <crio/image/manifest.hpp>

namespace crio::daemon {

oci::PodContext pod_context(const Pod& pod, const core::Config& config) {
  oci::PodContext c;
  c.id = pod.id;
  c.name = pod.spec.name;
  c.pod_namespace = pod.spec.pod_namespace;
  c.hostname = pod.spec.hostname;
  c.cgroup_parent = pod.spec.cgroup_parent;
  c.pid = pod.spec.pid;
  // As the pod's namespaces got them: with the defaults, and without those of a
  // namespace the pod shares with the host (which the runtime would refuse).
  c.sysctls = pod_sysctls(config, pod.spec);
  c.annotations = pod.spec.annotations;
  c.netns_path = pod.netns_path;
  c.ipcns_path = pod.ipcns_path;
  c.utsns_path = pod.utsns_path;
  c.hosts_path = pod.hosts_path;
  c.resolv_path = pod.resolv_path;
  c.hostname_path = pod.hostname_path;
  c.shm_path = pod.shm_path;
  if (!pod.run_dir.empty()) c.containerenv_path = pod.run_dir + "/.containerenv";
  const std::string& handler = pod.spec.runtime_handler.empty() ? config.default_runtime : pod.spec.runtime_handler;
  if (auto it = config.runtimes.find(handler); it != config.runtimes.end()) {
    c.allowed_annotations = it->second.allowed_annotations;
    c.privileged_without_host_devices = it->second.privileged_without_host_devices;
  }
  // A workload the pod activates allows annotations too, as for ShmSize and LinkLogs
  // (annotation_allowed), so Devices and umask follow the same rule.
  if (const core::Workload* w = active_workload(config, pod.spec.annotations)) {
    c.allowed_annotations.insert(c.allowed_annotations.end(), w->allowed_annotations.begin(),
                                 w->allowed_annotations.end());
  }
  return c;
}

Result<oci::ImageDefaults> image_defaults(const storage::Image& image) {
  oci::ImageDefaults d;
  if (image.config.empty()) return d;
  auto config = image::parse_image_config(image.config, "config of image " + image.id);
  if (!config.ok()) return config.status();
  d.user = config->user;
  d.env = config->env;
  d.entrypoint = config->entrypoint;
  d.cmd = config->cmd;
  d.working_dir = config->working_dir;
  d.stop_signal = config->stop_signal;
  d.volumes = config->volumes;
  return d;
}

}  // namespace crio::daemon
