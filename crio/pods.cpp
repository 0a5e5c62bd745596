#include "pods.hpp"

#include "id_index.hpp"
#include "workloads.hpp"

#include <crio/core/fault.hpp>
#include <crio/core/fs.hpp>
#include <crio/core/id.hpp>
#include <crio/core/log.hpp>
#include <crio/core/undo.hpp>
#include <crio/net/netns.hpp>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

namespace crio::daemon {
namespace {

namespace stdfs = std::filesystem;
using nlohmann::json;

// The pod's /dev/shm: 64 MiB unless the pod's annotation asks for another size.
constexpr uint64_t kDefaultShmBytes = 64 * 1024 * 1024;
constexpr const char* kShmSizeAnnotation = "io.kubernetes.cri-o.ShmSize";

// The annotation counts only where the handler's or the workload's allowed_annotations
// name it; elsewhere it is dropped, as CRI-O drops annotations it does not allow.
Result<uint64_t> shm_size_of(const core::Config& config, const PodSpec& spec) {
  auto it = spec.annotations.find(kShmSizeAnnotation);
  if (it == spec.annotations.end()) return kDefaultShmBytes;
  if (!annotation_allowed(config, spec.runtime_handler, spec.annotations, kShmSizeAnnotation)) {
    log::info("annotation not allowed for this pod's runtime handler or workload; ignored",
              {{"pod", spec.name}, {"annotation", kShmSizeAnnotation}});
    return kDefaultShmBytes;
  }
  auto size = net::parse_quantity(it->second);
  if (!size.ok() || *size == 0) {
    return error(Code::kInvalidArgument, "annotation {}=\"{}\" is not a positive size", kShmSizeAnnotation, it->second);
  }
  return *size;
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

using core::random_id;
using core::Undo;

bool is_ipc_sysctl(const std::string& name) {
  return name.starts_with("kernel.shm") || name.starts_with("kernel.msg") || name == "kernel.sem" ||
         name.starts_with("fs.mqueue.");
}

// Writes sysctls inside the pod's namespaces from a throwaway thread: /proc/sys/net
// and the IPC limits show the namespace of the thread that opens them.
Status apply_sysctls(const Pod& pod, const std::map<std::string, std::string>& sysctls) {
  if (sysctls.empty()) return ok_status();
  Status result;
  std::thread worker([&] {
    if (::unshare(CLONE_FS) != 0) {
      result = error(Code::kInternal, "pod {}: unshare for sysctls: {}", pod.id, std::strerror(errno));
      return;
    }
    for (const auto& [path, type] : {std::pair{pod.netns_path, CLONE_NEWNET}, std::pair{pod.ipcns_path, CLONE_NEWIPC}}) {
      if (path.empty()) continue;
      fs::UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!ns.valid() || ::setns(ns.get(), type) != 0) {
        result = error(Code::kInternal, "pod {}: entering {}: {}", pod.id, path, std::strerror(errno));
        return;
      }
    }
    for (const auto& [name, value] : sysctls) {
      std::string file = "/proc/sys/" + name;
      std::replace(file.begin() + 10, file.end(), '.', '/');
      fs::UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
      if (!fd.valid() || ::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
        result = error(errno == ENOENT || errno == EINVAL ? Code::kInvalidArgument : Code::kInternal,
                       "pod {}: setting sysctl {}={}: {}", pod.id, name, value, std::strerror(errno));
        return;
      }
    }
  });
  worker.join();
  return result;
}

std::string host_hostname() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

std::string resolv_conf_for(const PodSpec& spec) {
  if (spec.dns_servers.empty() && spec.dns_searches.empty() && spec.dns_options.empty()) {
    auto host = fs::read_file("/etc/resolv.conf");
    return host.ok() ? *host : "";
  }
  std::string out;
  if (!spec.dns_searches.empty()) out += fmt::format("search {}\n", fmt::join(spec.dns_searches, " "));
  for (const auto& server : spec.dns_servers) out += fmt::format("nameserver {}\n", server);
  if (!spec.dns_options.empty()) out += fmt::format("options {}\n", fmt::join(spec.dns_options, " "));
  return out;
}

std::string hosts_for(const Pod& pod, const std::string& hostname) {
  if (pod.spec.network == NamespaceMode::kNode) {
    auto host = fs::read_file("/etc/hosts");
    if (host.ok()) return *host;
  }
  std::string out =
      "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
      "fe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n";
  for (const auto& ip : pod.ips) out += fmt::format("{}\t{}\n", ip, hostname);
  return out;
}

json to_json(const Pod& p) {
  json ports = json::array();
  for (const auto& m : p.spec.port_mappings) {
    ports.push_back({{"host_port", m.host_port}, {"container_port", m.container_port}, {"protocol", m.protocol},
                     {"host_ip", m.host_ip}});
  }
  const PodSpec& s = p.spec;
  return {
      {"id", p.id},
      {"state", p.state == PodState::kReady ? "ready" : "notready"},
      {"created_at", p.created_at},
      {"netns_path", p.netns_path},
      {"ipcns_path", p.ipcns_path},
      {"utsns_path", p.utsns_path},
      {"network_name", p.network_name},
      {"ips", p.ips},
      {"run_dir", p.run_dir},
      {"shm_path", p.shm_path},
      {"resolv_path", p.resolv_path},
      {"hostname_path", p.hostname_path},
      {"hosts_path", p.hosts_path},
      {"rootfs", p.rootfs},
      {"spec",
       {{"name", s.name},
        {"uid", s.uid},
        {"namespace", s.pod_namespace},
        {"attempt", s.attempt},
        {"hostname", s.hostname},
        {"log_directory", s.log_directory},
        {"dns_servers", s.dns_servers},
        {"dns_searches", s.dns_searches},
        {"dns_options", s.dns_options},
        {"port_mappings", ports},
        {"labels", s.labels},
        {"annotations", s.annotations},
        {"sysctls", s.sysctls},
        {"runtime_handler", s.runtime_handler},
        {"cgroup_parent", s.cgroup_parent},
        {"network", static_cast<int>(s.network)},
        {"pid", static_cast<int>(s.pid)},
        {"ipc", static_cast<int>(s.ipc)},
        {"target_id", s.target_id},
        {"privileged", s.privileged}}},
  };
}

Result<Pod> from_json(const std::string& text, const std::string& file) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return error(Code::kDataLoss, "pod state {}: not valid JSON", file);
  try {
    Pod p;
    p.id = j.at("id");
    p.state = j.at("state") == "ready" ? PodState::kReady : PodState::kNotReady;
    p.created_at = j.at("created_at");
    p.netns_path = j.at("netns_path");
    p.ipcns_path = j.at("ipcns_path");
    p.utsns_path = j.at("utsns_path");
    p.network_name = j.at("network_name");
    p.ips = j.at("ips").get<std::vector<std::string>>();
    p.run_dir = j.at("run_dir");
    p.shm_path = j.at("shm_path");
    p.resolv_path = j.at("resolv_path");
    p.hostname_path = j.at("hostname_path");
    p.hosts_path = j.at("hosts_path");
    p.rootfs = j.value("rootfs", "");
    const json& s = j.at("spec");
    PodSpec& spec = p.spec;
    spec.name = s.at("name");
    spec.uid = s.at("uid");
    spec.pod_namespace = s.at("namespace");
    spec.attempt = s.at("attempt");
    spec.hostname = s.at("hostname");
    spec.log_directory = s.at("log_directory");
    spec.dns_servers = s.at("dns_servers").get<std::vector<std::string>>();
    spec.dns_searches = s.at("dns_searches").get<std::vector<std::string>>();
    spec.dns_options = s.at("dns_options").get<std::vector<std::string>>();
    for (const auto& m : s.at("port_mappings")) {
      spec.port_mappings.push_back({m.at("host_port"), m.at("container_port"), m.at("protocol"), m.at("host_ip")});
    }
    spec.labels = s.at("labels").get<std::map<std::string, std::string>>();
    spec.annotations = s.at("annotations").get<std::map<std::string, std::string>>();
    spec.sysctls = s.at("sysctls").get<std::map<std::string, std::string>>();
    spec.runtime_handler = s.at("runtime_handler");
    spec.cgroup_parent = s.at("cgroup_parent");
    spec.network = static_cast<NamespaceMode>(s.at("network").get<int>());
    spec.pid = static_cast<NamespaceMode>(s.at("pid").get<int>());
    spec.ipc = static_cast<NamespaceMode>(s.at("ipc").get<int>());
    spec.target_id = s.at("target_id");
    spec.privileged = s.at("privileged");
    return p;
  } catch (const json::exception& e) {
    return error(Code::kDataLoss, "pod state {}: {}", file, e.what());
  }
}

net::PodNetworkRequest network_request(const Pod& pod) {
  net::PodNetworkRequest request;
  request.container_id = pod.id;
  request.netns_path = pod.netns_path;
  request.pod_name = pod.spec.name;
  request.pod_namespace = pod.spec.pod_namespace;
  request.pod_uid = pod.spec.uid;
  // No portMappings for the plugins, as CRI-O: its own hostport manager maps them
  // (map_host_ports()), and a portmap plugin in the list gets nothing to do.
  request.pod_annotations = pod.spec.annotations;
  request.cgroup_path = pod.spec.cgroup_parent;
  if (auto bandwidth = net::bandwidth_from_annotations(pod.spec.annotations); bandwidth.ok()) {
    request.bandwidth = *bandwidth;
  }
  if (!pod.spec.dns_servers.empty() || !pod.spec.dns_searches.empty()) {
    request.dns = net::DnsConfig{pod.spec.dns_servers, pod.spec.dns_searches, pod.spec.dns_options};
  }
  return request;
}

}  // namespace

Status validate_sysctl(const std::string& name, const std::string& value, const PodSpec& spec) {
  if (name.empty() || name.find("..") != std::string::npos || name.find('/') != std::string::npos) {
    return error(Code::kInvalidArgument, "sysctl \"{}\" is not a valid name", name);
  }
  if (value.find('\n') != std::string::npos) {
    return error(Code::kInvalidArgument, "sysctl {}: the value contains a newline", name);
  }
  if (name.starts_with("net.") || is_ipc_sysctl(name)) return ok_status();
  return error(Code::kInvalidArgument, "sysctl {} is not namespaced and cannot be set for a pod", name);
}

bool sysctl_skipped(const std::string& name, const PodSpec& spec) {
  return (name.starts_with("net.") && spec.network == NamespaceMode::kNode) ||
         (is_ipc_sysctl(name) && spec.ipc == NamespaceMode::kNode);
}

std::map<std::string, std::string> pod_sysctls(const core::Config& config, const PodSpec& spec) {
  std::map<std::string, std::string> out;
  for (const auto& kv : config.default_sysctls) {
    auto eq = kv.find('=');
    std::string name = kv.substr(0, eq), value = eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (!validate_sysctl(name, value, spec).ok() || sysctl_skipped(name, spec)) {
      log::warn("default sysctl skipped for pod", {{"pod", spec.name}, {"sysctl", name}});
      continue;
    }
    out[name] = value;
  }
  for (const auto& [name, value] : spec.sysctls) {
    // As CRI-O: a pod on the host's network or IPC namespace does not get to change
    // the host's settings; those sysctls are skipped, not refused.
    if (sysctl_skipped(name, spec)) {
      log::info("sysctl skipped: the pod uses the host's namespace", {{"pod", spec.name}, {"sysctl", name}});
      out.erase(name);
      continue;
    }
    out[name] = value;
  }
  return out;
}

std::optional<std::string> Pods::link_logs_volume(const PodSpec& spec) const {
  auto it = spec.annotations.find(kLinkLogsAnnotation);
  if (it == spec.annotations.end()) return std::nullopt;
  if (!annotation_allowed(live_.get()->config, spec.runtime_handler, spec.annotations, kLinkLogsAnnotation)) {
    return std::nullopt;
  }
  return it->second;
}

Pods::Pods(const core::Config& config, const LiveConfig& live, CniManager& cni)
    : config_(config), live_(live), cni_(cni), state_dir_(config.root + "/crio/pods"), run_root_(config.runroot + "/crio/pods") {
  if (!config.disable_hostport_mapping) hostports_ = std::make_unique<net::HostportManager>();
}

Status Pods::map_host_ports(const Pod& pod) {
  if (!hostports_ || pod.spec.port_mappings.empty() || pod.spec.network == NamespaceMode::kNode) return ok_status();
  bool v4 = false, v6 = false;
  for (const auto& ip : pod.ips) {
    bool is_v6 = ip.find(':') != std::string::npos;
    if (is_v6 ? v6 : v4) continue;  // the first address of each family only, as CRI-O
    (is_v6 ? v6 : v4) = true;
    CRIO_RETURN_IF_ERROR(hostports_->add(pod.id, full_name(pod.spec), pod.spec.port_mappings, ip));
  }
  return ok_status();
}

void Pods::unmap_host_ports(const Pod& pod) {
  if (!hostports_ || pod.spec.port_mappings.empty() || pod.spec.network == NamespaceMode::kNode) return;
  if (Status s = hostports_->remove(pod.id, pod.spec.port_mappings); !s.ok()) {
    log::warn("failed to remove the host ports of a pod sandbox", {{"pod", pod.id}, {"error", s.message()}});
  }
}

Pods::~Pods() = default;

std::string Pods::full_name(const PodSpec& spec) {
  return fmt::format("k8s_{}_{}_{}_{}", spec.name, spec.pod_namespace, spec.uid, spec.attempt);
}

std::string Pods::state_file(const std::string& id) const { return state_dir_ + "/" + id + ".json"; }
std::string Pods::intent_file(const std::string& id) const { return state_dir_ + "/" + id + ".creating"; }


Status Pods::persist(const Pod& pod) const {
  CRIO_RETURN_IF_ERROR(fs::make_dirs(state_dir_, 0700));
  return fs::write_file_atomic(state_file(pod.id), to_json(pod).dump(), 0600);
}

std::shared_ptr<std::mutex> Pods::lock_for(const std::string& id) {
  std::unique_lock lock(mutex_);
  auto& slot = pod_locks_[id];
  if (!slot) slot = std::make_shared<std::mutex>();
  return slot;
}

Status Pods::restore() {
  std::error_code ec;
  if (!stdfs::exists(state_dir_, ec)) return ok_status();
  std::unique_lock lock(mutex_);
  std::vector<Pod> interrupted;
  for (const auto& entry : stdfs::directory_iterator(state_dir_, ec)) {
    const std::string file = entry.path().string();
    if (entry.path().extension() == ".creating") {
      const std::string id = entry.path().stem().string();
      auto text = fs::read_file(file);
      auto planned = text.ok() ? from_json(*text, file) : Result<Pod>(text.status());
      if (fs::exists(state_file(id)) || !planned.ok()) {
        // The state file was written (or the record is torn: nothing happened yet).
        (void)fs::remove_file(file);
      } else {
        interrupted.push_back(std::move(*planned));
      }
      continue;
    }
    if (entry.path().extension() != ".json") continue;
    auto text = fs::read_file(file);
    if (!text.ok()) return text.status();
    auto pod = from_json(*text, file);
    if (!pod.ok()) {
      log::error("skipping an unreadable pod state file", {{"file", file}, {"error", pod.status().message()}});
      continue;
    }
    // Readiness is what was recorded, as CRI-O restores it: the namespace pins may live in
    // a mount namespace this process does not see (KUBENSMNT), and a reboot, which does
    // remove them, also empties version_file's tmpfs, and the start-up wipe then removes every pod.
    names_[full_name(pod->spec)] = pod->id;
    if (unpublished_.restore_marked(pod->id)) {
      // Made for a caller that had left, before the restart: still kept for its retry.
      creations_.adopt_unclaimed(full_name(pod->spec), pod->id);
    }
    pods_[pod->id] = std::move(*pod);
  }
  log::info("restored pods", {{"count", pods_.size()}});
  lock.unlock();
  for (Pod& pod : interrupted) undo_interrupted_creation(pod);
  lock.lock();
  std::vector<Pod> ready;
  for (const auto& [id, pod] : pods_) {
    if (pod.state == PodState::kReady && !pod.spec.port_mappings.empty()) ready.push_back(pod);
  }
  lock.unlock();
  // The rules outlived the daemon, its hold on the ports did not: mapping again takes
  // the ports back and replaces the rules (none doubled, any lost ones back).
  for (const Pod& pod : ready) {
    if (Status s = map_host_ports(pod); !s.ok()) {
      log::warn("failed to map the host ports of a restored pod sandbox", {{"pod", pod.id}, {"error", s.message()}});
    }
  }
  return ok_status();
}

void Pods::undo_interrupted_creation(Pod& pod) {
  log::info("undoing a pod sandbox creation that a crash interrupted", {{"id", pod.id}, {"name", full_name(pod.spec)}});
  // Every step is idempotent: a namespace never pinned, a DEL for an ADD that never
  // ran, a mount or a directory that is not there.
  if (Status s = teardown_network(pod); !s.ok()) {
    log::warn("cannot tear down the network of an interrupted pod sandbox", {{"id", pod.id}, {"error", s.message()}});
    return;  // the record stays: the next start tries again
  }
  if (auto volume = link_logs_volume(pod.spec)) unmount_pod_logs(pod.spec.uid, *volume);
  if (auto cgroup = oci::CgroupDriver::of(config_).dropped_infra_cgroup(pod.spec.cgroup_parent, pod.id);
      cgroup.ok() && !cgroup->empty()) {
    (void)oci::remove_cgroup(*cgroup);
  }
  std::error_code ec;
  stdfs::remove_all(pod.run_dir, ec);
  (void)fs::remove_file(intent_file(pod.id));
}

Result<std::string> Pods::run(const PodSpec& spec, const std::function<bool()>& client_gone,
                              const std::function<Status(Pod&)>& finish) {
  if (spec.name.empty()) return error(Code::kInvalidArgument, "pod sandbox metadata: name is empty");
  if (spec.uid.empty()) return error(Code::kInvalidArgument, "pod sandbox {}: metadata uid is empty", spec.name);
  if (spec.pod_namespace.empty()) {
    return error(Code::kInvalidArgument, "pod sandbox {}: metadata namespace is empty", spec.name);
  }
  for (const auto& [name, value] : spec.sysctls) {
    CRIO_RETURN_IF_ERROR(validate_sysctl(name, value, spec).wrap("pod sandbox " + spec.name));
  }
  const std::shared_ptr<const LiveSettings> settings = live_.get();
  const core::Config& live = settings->config;
  if (auto shm = shm_size_of(live, spec); !shm.ok()) return shm.status().wrap("pod sandbox " + spec.name);
  CRIO_RETURN_IF_ERROR(refuse_unimplemented_annotations(live, spec.runtime_handler, spec.annotations,
                                                        spec.annotations, "pod sandbox " + spec.name));
  if (auto bandwidth = net::bandwidth_from_annotations(spec.annotations); !bandwidth.ok()) {
    return bandwidth.status().wrap("pod sandbox " + spec.name);
  }
  // With systemd the parent must be a slice, kept by its name as CRI-O keeps it.
  PodSpec placed = spec;
  CRIO_ASSIGN_OR_RETURN(placed.cgroup_parent, oci::CgroupDriver::of(config_).pod_parent(spec.name, spec.cgroup_parent));
  const std::string name = full_name(placed);

  return creations_.run(name, [&] { return create(placed, finish); }, client_gone);
}

std::optional<std::string> Pods::published_holder(const std::string& name) const {
  std::shared_lock lock(mutex_);
  auto it = names_.find(name);
  if (it == names_.end() || unpublished_.contains(it->second)) return std::nullopt;
  return it->second;
}

void Pods::publish(const std::string& id) { unpublished_.publish(id); }

void Pods::keep_unclaimed(const std::string& id) { unpublished_.mark_unclaimed(id); }

Result<std::string> Pods::create(const PodSpec& spec, const std::function<Status(Pod&)>& finish) {
  // One snapshot of the reloadable settings for the whole creation.
  const std::shared_ptr<const LiveSettings> settings = live_.get();
  CRIO_ASSIGN_OR_RETURN(std::string id, random_id());
  Pod pod;
  pod.id = id;
  pod.spec = spec;
  pod.created_at = now_ns();
  pod.run_dir = run_root_ + "/" + id;
  const std::string name = full_name(spec);
  const std::string what = fmt::format("pod sandbox {} ({})", name, id);
  // A pod without a hostname gets the node's, as the kubelet's other runtimes do.
  const std::string hostname = spec.hostname.empty() ? host_hostname() : spec.hostname;

  std::vector<net::NamespaceType> types;
  if (spec.network != NamespaceMode::kNode) types = {net::NamespaceType::kNet, net::NamespaceType::kUts};
  if (spec.ipc != NamespaceMode::kNode) types.push_back(net::NamespaceType::kIpc);
  std::shared_ptr<net::Network> network;
  if (spec.network != NamespaceMode::kNode) {
    auto current = cni_.network();
    if (!current.ok()) return current.status().wrap(what);
    network = *current;
  }

  // What a crash from here on can leave, named before any of it exists.
  Pod planned = pod;
  for (net::NamespaceType type : types) {
    const std::string path = net::pinned_namespace_path(type, config_.namespaces_dir, id);
    switch (type) {
      case net::NamespaceType::kNet: planned.netns_path = path; break;
      case net::NamespaceType::kUts: planned.utsns_path = path; break;
      case net::NamespaceType::kIpc: planned.ipcns_path = path; break;
    }
  }
  if (network) planned.network_name = network->config().name;
  if (spec.ipc != NamespaceMode::kNode) planned.shm_path = pod.run_dir + "/shm";
  planned.state = PodState::kNotReady;
  CRIO_RETURN_IF_ERROR(fs::make_dirs(state_dir_, 0700).wrap(what));
  CRIO_RETURN_IF_ERROR(fs::write_file_atomic(intent_file(id), to_json(planned).dump(), 0600).wrap(what));

  Undo undo;
  undo.add([file = intent_file(id)] { (void)fs::remove_file(file); });
  CRIO_RETURN_IF_ERROR(fs::make_dirs(pod.run_dir, 0755).wrap(what));
  undo.add([dir = pod.run_dir] {
    std::error_code ec;
    stdfs::remove_all(dir, ec);
  });

  creations_.stage(name, "sandbox namespace creation");
  std::vector<net::PinnedNamespace> pins;
  if (!config_.pinns_path.empty() && !types.empty()) {
    // The operator's pinns, as CRI-O runs it; without one the daemon pins them itself
    // (no exec, the same files).
    auto pinned = net::pin_namespaces_with_helper(config_.pinns_path, config_.namespaces_dir, id, types, hostname);
    if (!pinned.ok()) return pinned.status().wrap(what);
    pins = std::move(*pinned);
  } else {
    for (net::NamespaceType type : types) {
      auto pin = net::pin_new_namespace(type, config_.namespaces_dir, id,
                                        type == net::NamespaceType::kUts ? std::optional(hostname) : std::nullopt);
      if (!pin.ok()) return pin.status().wrap(what);
      pins.push_back(std::move(*pin));
    }
  }
  CRIO_FAULT_POINT(pod_netns);
  for (const auto& pin : pins) {
    switch (pin.type()) {
      case net::NamespaceType::kNet: pod.netns_path = pin.path(); break;
      case net::NamespaceType::kUts: pod.utsns_path = pin.path(); break;
      case net::NamespaceType::kIpc: pod.ipcns_path = pin.path(); break;
    }
  }

  pod.hostname_path = pod.run_dir + "/hostname";
  pod.resolv_path = pod.run_dir + "/resolv.conf";
  pod.hosts_path = pod.run_dir + "/hosts";
  CRIO_RETURN_IF_ERROR(fs::write_file_atomic(pod.hostname_path, hostname + "\n").wrap(what));
  CRIO_RETURN_IF_ERROR(fs::write_file_atomic(pod.resolv_path, resolv_conf_for(spec)).wrap(what));
  if (spec.ipc == NamespaceMode::kNode) {
    pod.shm_path = "/dev/shm";
  } else {
    pod.shm_path = pod.run_dir + "/shm";
    CRIO_RETURN_IF_ERROR(fs::make_dirs(pod.shm_path, 0755).wrap(what));
    CRIO_ASSIGN_OR_RETURN(uint64_t shm_bytes, shm_size_of(settings->config, spec));
    const std::string shm_options = fmt::format("mode=1777,size={}", shm_bytes);
    if (::mount("shm", pod.shm_path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, shm_options.c_str()) != 0) {
      return error(Code::kInternal, "{}: mounting /dev/shm at {}: {}", what, pod.shm_path, std::strerror(errno));
    }
    undo.add([path = pod.shm_path] { ::umount2(path.c_str(), MNT_DETACH); });
  }
  CRIO_RETURN_IF_ERROR(apply_sysctls(pod, pod_sysctls(settings->config, spec)));

  if (spec.network != NamespaceMode::kNode) {
    creations_.stage(name, "sandbox network creation");
    auto attached = network->attach(network_request(pod));
    if (!attached.ok()) return attached.status().wrap(what);
    pod.network_name = attached->network_name;
    pod.ips = attached->ips;
    undo.add([network, request = network_request(pod)] { (void)network->detach(request); });
    CRIO_FAULT_POINT(pod_cni_add);
    undo.add([this, pod] { unmap_host_ports(pod); });
    CRIO_RETURN_IF_ERROR(map_host_ports(pod).wrap(what));
  }
  CRIO_RETURN_IF_ERROR(fs::write_file_atomic(pod.hosts_path, hosts_for(pod, hostname)).wrap(what));
  if (auto volume = link_logs_volume(spec)) {
    mount_pod_logs(spec.pod_namespace, spec.name, spec.uid, *volume);
    undo.add([uid = spec.uid, v = *volume] { unmount_pod_logs(uid, v); });
  }
  if (!runs_infra(spec)) {
    // Without an infra container the pod still gets a cgroup of its own, as in CRI-O.
    CRIO_ASSIGN_OR_RETURN(std::string cgroup, oci::CgroupDriver::of(config_).dropped_infra_cgroup(spec.cgroup_parent, id));
    if (!cgroup.empty()) {
      CRIO_RETURN_IF_ERROR(oci::create_cgroup(cgroup).wrap(what + ": its cgroup"));
      undo.add([cgroup] { (void)oci::remove_cgroup(cgroup); });
    }
  }
  if (finish) {
    creations_.stage(name, "sandbox container runtime creation");
    CRIO_RETURN_IF_ERROR(finish(pod).wrap(what));
  }
  CRIO_RETURN_IF_ERROR(persist(pod).wrap(what));
  CRIO_FAULT_POINT(pod_state_write);
  if (Status s = fs::remove_file(intent_file(id)); !s.ok()) {
    log::warn("cannot remove a pod's creation record", {{"pod", id}, {"error", s.message()}});
  }

  undo.dismiss();
  for (auto& pin : pins) pin.release();
  log::info("pod sandbox ready", {{"pod", name}, {"id", id},
                                  {"ip", pod.ips.empty() ? std::string("none") : pod.ips.front()}});
  std::unique_lock lock(mutex_);
  names_[name] = id;
  unpublished_.add(id);
  pods_[id] = std::move(pod);
  return id;
}

Result<std::string> Pods::resolve_id(const std::string& id_or_prefix) const {
  std::shared_lock lock(mutex_);
  return resolve_id_prefix(pods_, id_or_prefix, "pod sandbox");
}

Result<std::string> Pods::resolve_published(const std::string& id_or_prefix) const {
  CRIO_ASSIGN_OR_RETURN(std::string id, resolve_id(id_or_prefix));
  std::shared_lock lock(mutex_);
  if (unpublished_.contains(id)) {
    // As CRI-O: the object exists, but no caller has been given it.
    return error(Code::kFailedPrecondition,
                 "pod sandbox {} is not created: its RunPodSandbox timed out and was not retried yet", id);
  }
  return id;
}

Result<Pod> Pods::lookup(const std::string& id) const {
  std::shared_lock lock(mutex_);
  auto it = pods_.find(id);
  if (it == pods_.end()) return error(Code::kNotFound, "pod sandbox {} not found", id);
  return it->second;
}

Result<Pod> Pods::get(const std::string& id_or_prefix) const {
  CRIO_ASSIGN_OR_RETURN(std::string id, resolve_published(id_or_prefix));
  return lookup(id);
}

std::vector<Pod> Pods::list(const PodFilter& filter) const {
  std::vector<Pod> out;
  std::shared_lock lock(mutex_);
  for (const auto& [id, pod] : pods_) {
    if (!id.starts_with(filter.id) || (filter.state && pod.state != *filter.state)) continue;
    if (unpublished_.contains(id)) continue;
    if (labels_match(pod.spec.labels, filter.label_selector)) out.push_back(pod);
  }
  return out;
}

Status Pods::teardown_network(Pod& pod) {
  unmap_host_ports(pod);
  // A netns file that is no namespace any more (someone deleted the namespace and
  // left or put a file there): removed all the same, and said so, as CRI-O does.
  const bool invalid_netns =
      !pod.netns_path.empty() && fs::exists(pod.netns_path) && !net::namespace_alive(pod.netns_path);
  // The netns goes first: the kernel then drops the pod's veth with it and the
  // plugins' DEL skips the per-interface work (several times faster).
  if (!pod.netns_path.empty()) CRIO_RETURN_IF_ERROR(net::remove_pinned_namespace(pod.netns_path));
  if (invalid_netns) {
    log::warn(fmt::format("Removed invalid netns path {} from pod sandbox {}({})", pod.netns_path,
                          full_name(pod.spec), pod.id));
  }
  if (pod.spec.network != NamespaceMode::kNode && !pod.network_name.empty()) {
    auto network = cni_.network();
    net::PodNetworkRequest request = network_request(pod);
    request.netns_path.clear();
    if (network.ok() && (*network)->config().name == pod.network_name) {
      CRIO_RETURN_IF_ERROR((*network)->detach(request));
    } else {
      // The network changed or is gone since the pod joined it: the cached result
      // still names the plugins and the configuration used at ADD time.
      net::NetworkConfigList cached;
      cached.name = pod.network_name;
      net::NetworkOptions options;
      options.plugin_dirs = config_.plugin_dirs;
      options.cache_dir = kCniCacheDir;
      net::Network fallback(cached, options);
      CRIO_RETURN_IF_ERROR(fallback.detach(request));
    }
  }
  for (const auto& ns : {pod.utsns_path, pod.ipcns_path}) {
    if (!ns.empty()) CRIO_RETURN_IF_ERROR(net::remove_pinned_namespace(ns));
  }
  if (!pod.shm_path.empty() && pod.shm_path != "/dev/shm") ::umount2(pod.shm_path.c_str(), MNT_DETACH);
  return ok_status();
}

void Pods::mark_not_ready(const std::string& id) {
  if (!lookup(id).ok()) return;
  // Serialized with stop and remove, so a removed pod's state file does not come back.
  auto pod_lock = lock_for(id);
  std::lock_guard serialize(*pod_lock);
  Pod snapshot;
  {
    std::unique_lock lock(mutex_);
    auto it = pods_.find(id);
    if (it == pods_.end() || it->second.state == PodState::kNotReady) return;
    it->second.state = PodState::kNotReady;
    snapshot = it->second;
  }
  if (Status s = persist(snapshot); !s.ok()) {
    log::warn("cannot persist a pod sandbox state", {{"pod", id}, {"error", s.message()}});
  }
  log::info("pod sandbox not ready: its infra container exited", {{"id", id}});
}

Status Pods::stop(const std::string& id_or_prefix) {
  auto id = resolve_published(id_or_prefix);
  if (!id.ok()) return id.status().code() == Code::kNotFound ? ok_status() : id.status();
  return stop_resolved(*id);
}

Status Pods::stop_resolved(const std::string& id) {
  auto pod_lock = lock_for(id);
  std::lock_guard serialize(*pod_lock);
  auto pod = lookup(id);
  if (!pod.ok()) return ok_status();  // removed meanwhile
  if (pod->state == PodState::kNotReady && pod->netns_path.empty() && pod->ipcns_path.empty() &&
      pod->utsns_path.empty()) {
    return ok_status();
  }
  if (pod->state == PodState::kReady) {
    // Not ready from the first step on: a crash in the teardown leaves a pod that says
    // so (its namespace paths kept for the retry to finish).
    pod->state = PodState::kNotReady;
    CRIO_RETURN_IF_ERROR(persist(*pod));
    std::unique_lock lock(mutex_);
    if (auto it = pods_.find(id); it != pods_.end()) it->second.state = PodState::kNotReady;
  }
  if (auto volume = link_logs_volume(pod->spec)) unmount_pod_logs(pod->spec.uid, *volume);
  Status torn = teardown_network(*pod);
  if (!torn.ok()) return torn.wrap(fmt::format("stopping pod sandbox {}", id));
  CRIO_FAULT_POINT(remove_pod_network);
  pod->state = PodState::kNotReady;
  pod->netns_path.clear();
  pod->ipcns_path.clear();
  pod->utsns_path.clear();
  CRIO_RETURN_IF_ERROR(persist(*pod));
  {
    std::unique_lock lock(mutex_);
    if (auto it = pods_.find(id); it != pods_.end()) it->second = *pod;
  }
  log::info("pod sandbox stopped", {{"id", id}});
  return ok_status();
}

void Pods::infra_exited(const std::string& id) {
  auto pod_lock = lock_for(id);
  std::lock_guard serialize(*pod_lock);
  auto pod = lookup(id);
  if (!pod.ok() || pod->state == PodState::kNotReady) return;
  pod->state = PodState::kNotReady;
  if (Status s = persist(*pod); !s.ok()) log::warn("cannot persist a pod's state", {{"id", id}, {"error", s.message()}});
  std::unique_lock lock(mutex_);
  if (auto it = pods_.find(id); it != pods_.end()) it->second.state = PodState::kNotReady;
  log::info("pod sandbox not ready: its infra container exited", {{"id", id}});
}

Status Pods::remove(const std::string& id_or_prefix) {
  auto id = resolve_published(id_or_prefix);
  if (!id.ok()) return id.status().code() == Code::kNotFound ? ok_status() : id.status();
  return remove_resolved(*id);
}

Status Pods::discard(const std::string& id) {
  if (!lookup(id).ok()) return ok_status();
  return remove_resolved(id);
}

Status Pods::remove_resolved(const std::string& id) {
  CRIO_RETURN_IF_ERROR(stop_resolved(id));
  auto pod_lock = lock_for(id);
  std::lock_guard serialize(*pod_lock);
  auto pod = lookup(id);
  if (!pod.ok()) return ok_status();
  CRIO_FAULT_POINT(remove_pod_stopped);
  // The cgroup made for a pod without infra container (none exists for one with).
  if (auto cgroup = oci::CgroupDriver::of(config_).dropped_infra_cgroup(pod->spec.cgroup_parent, id);
      cgroup.ok() && !cgroup->empty()) {
    CRIO_RETURN_IF_ERROR(oci::remove_cgroup(*cgroup).wrap("removing pod sandbox " + id));
  }
  std::error_code ec;
  stdfs::remove_all(pod->run_dir, ec);
  if (ec) return error(Code::kInternal, "removing pod sandbox {}: {}: {}", id, pod->run_dir, ec.message());
  CRIO_RETURN_IF_ERROR(fs::remove_file(state_file(id)));
  {
    std::unique_lock lock(mutex_);
    names_.erase(full_name(pod->spec));
    pods_.erase(id);
    pod_locks_.erase(id);
  }
  unpublished_.erase(id);
  creations_.forget(id);
  log::info("pod sandbox removed", {{"id", id}});
  return ok_status();
}

}  // namespace crio::daemon
