#include "workloads.hpp"

#include <crio/core/log.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace crio::daemon {

using nlohmann::json;

const core::Workload* active_workload(const core::Config& config, const Annotations& annotations) {
  for (const auto& [name, w] : config.workloads) {
    if (annotations.count(w.activation_annotation)) return &w;
  }
  return nullptr;
}

namespace {

bool names(const std::vector<std::string>& allowed, const std::string& annotation) {
  return std::any_of(allowed.begin(), allowed.end(), [&](const std::string& a) {
    return a == annotation || (a.ends_with('.') && annotation.starts_with(a));
  });
}

}  // namespace

bool annotation_allowed(const core::Config& config, const std::string& handler, const Annotations& pod_annotations,
                        const std::string& annotation) {
  auto it = config.runtimes.find(handler.empty() ? config.default_runtime : handler);
  if (it != config.runtimes.end() && names(it->second.allowed_annotations, annotation)) return true;
  const core::Workload* w = active_workload(config, pod_annotations);
  return w && names(w->allowed_annotations, annotation);
}

Status refuse_unimplemented_annotations(const core::Config& config, const std::string& handler,
                                        const Annotations& pod_annotations, const Annotations& own,
                                        std::string_view what) {
  for (const auto& [key, value] : own) {
    const std::string known = core::known_allowed_annotation_of(key);
    if (known.empty() || core::annotation_implemented(known)) continue;
    if (!annotation_allowed(config, handler, pod_annotations, known)) continue;
    return error(Code::kInvalidArgument,
                 "{}: annotation {} is allowed for its runtime handler or workload, but crio does not act on it",
                 what, key);
  }
  return ok_status();
}

Result<std::optional<core::WorkloadResources>> workload_resources(const core::Workload& workload,
                                                                  const std::string& container,
                                                                  const Annotations& annotations) {
  const core::WorkloadResources& defaults = workload.resources;
  const std::string key = workload.annotation_prefix + "/" + container;
  auto it = annotations.find(key);
  core::WorkloadResources r = defaults;
  if (it != annotations.end()) {
    json j = json::parse(it->second, nullptr, false);
    if (j.is_null()) return std::optional<core::WorkloadResources>();
    auto bad = [&](const std::string& why) {
      return error(Code::kInvalidArgument, "annotation {}=\"{}\": {}", key, it->second, why);
    };
    if (j.is_discarded() || !j.is_object()) return bad("not a JSON object of workload resources");
    core::WorkloadResources given;
    for (const auto& [field, value] : j.items()) {
      if (field == "cpuset") {
        if (!value.is_string()) return bad("cpuset is not a string");
        given.cpuset = value.get<std::string>();
        continue;
      }
      int64_t* target = field == "cpushares"   ? &given.cpushares
                        : field == "cpuquota"  ? &given.cpuquota
                        : field == "cpuperiod" ? &given.cpuperiod
                        : field == "cpulimit"  ? &given.cpulimit
                                               : nullptr;
      if (target == nullptr) continue;  // as CRI-O's JSON decoding: unknown fields are skipped
      if (!value.is_number_integer()) return bad(field + " is not an integer");
      bool unsigned_field = field == "cpushares" || field == "cpuperiod";
      if (unsigned_field && value.get<int64_t>() < 0) return bad(field + " is negative");
      *target = value.get<int64_t>();
    }
    r = given;
    if (r.cpuset.empty()) r.cpuset = defaults.cpuset;
    if (r.cpushares == 0) r.cpushares = defaults.cpushares;
    if (r.cpuquota == 0) r.cpuquota = defaults.cpuquota;
    if (r.cpuperiod == 0) r.cpuperiod = defaults.cpuperiod;
    if (r.cpulimit == 0) r.cpulimit = defaults.cpulimit;
  }
  if (r.cpulimit != 0) {
    // Millicores over the period, at least the kernel's 1 ms minimum.
    int64_t period = r.cpuperiod != 0 ? r.cpuperiod : 100000;
    r.cpuquota = std::max<int64_t>(r.cpulimit * period / 1000, 1000);
  }
  return std::optional<core::WorkloadResources>(r);
}

void apply_workload(const core::WorkloadResources& r, oci::CpuResources& cpu) {
  if (!r.cpuset.empty()) cpu.cpus = r.cpuset;
  if (r.cpushares != 0) cpu.shares = static_cast<uint64_t>(r.cpushares);
  if (r.cpuquota != 0) cpu.quota = r.cpuquota;
  if (r.cpuperiod != 0) cpu.period = static_cast<uint64_t>(r.cpuperiod);
}

std::string monitor_cgroup(const core::Config& config, const std::string& handler) {
  if (!config.conmon_cgroup.empty()) return config.conmon_cgroup;
  auto it = config.runtimes.find(handler.empty() ? config.default_runtime : handler);
  if (it != config.runtimes.end() && !it->second.monitor_cgroup.empty()) return it->second.monitor_cgroup;
  return "pod";
}

namespace {

// What Kubernetes takes as a volume name: a DNS-1123 label.
bool dns1123_label(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return alnum(c) || c == '-'; });
}

}  // namespace

std::string link_logs_volume_dir(const std::string& pod_uid, const std::string& volume) {
  return fmt::format("/var/lib/kubelet/pods/{}/volumes/kubernetes.io~empty-dir/{}", pod_uid, volume);
}

void mount_pod_logs(const std::string& pod_namespace, const std::string& pod_name, const std::string& pod_uid,
                    const std::string& volume) {
  auto failed = [&](const std::string& why) {
    log::warn("cannot link the pod's logs", {{"pod", pod_name}, {"volume", volume}, {"reason", why}});
  };
  if (!dns1123_label(volume)) return failed("the volume name is not a DNS-1123 label");
  const std::string target = link_logs_volume_dir(pod_uid, volume);
  struct stat st {};
  if (::stat(target.c_str(), &st) != 0) return failed(target + ": " + std::strerror(errno));
  const std::string source = fmt::format("/var/log/pods/{}_{}_{}", pod_namespace, pod_name, pod_uid);
  // A writable bind: the per-container links are made in it.
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return failed(fmt::format("mounting {} on {}: {}", source, target, std::strerror(errno)));
  }
  log::info("linked the pod's logs", {{"from", source}, {"to", target}});
}

void unmount_pod_logs(const std::string& pod_uid, const std::string& volume) {
  if (!dns1123_label(volume)) return;
  const std::string target = link_logs_volume_dir(pod_uid, volume);
  if (::umount2(target.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    log::warn("cannot unmount the pod's linked logs", {{"path", target}, {"error", std::strerror(errno)}});
  }
}

void link_container_log(const std::string& pod_uid, const std::string& volume, const std::string& id,
                        const std::string& name, uint32_t attempt) {
  if (!dns1123_label(volume)) return;
  // Relative, so that it resolves both on the host and in a container that mounts the volume.
  const std::string from = fmt::format("{}/{}.log", name, attempt);
  const std::string to = link_logs_volume_dir(pod_uid, volume) + "/" + id + ".log";
  if (::symlink(from.c_str(), to.c_str()) != 0) {
    log::warn("cannot link a container's log", {{"id", id}, {"link", to}, {"error", std::strerror(errno)}});
  }
}

}  // namespace crio::daemon
