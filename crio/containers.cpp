#include "containers.hpp"

#include "container_spec.hpp"
#include "handlers.hpp"
#include "id_index.hpp"
#include "workloads.hpp"

#include <crio/core/fault.hpp>
#include <crio/core/fs.hpp>
#include <crio/core/id.hpp>
#include <crio/core/log.hpp>
#include <crio/image/reference.hpp>
#include <crio/image/registry_client.hpp>
#include <crio/core/undo.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <functional>

namespace crio::daemon {
namespace {

namespace stdfs = std::filesystem;
using nlohmann::json;

// In a container's bundle from just before the runtime creates it (see do_create).
constexpr const char* kCreateRecord = "crio-create.json";

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t to_ns(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

using core::random_id;
using core::Undo;

json to_json(const Container& c) {
  json mounts = json::array();
  for (const auto& m : c.spec.mounts) {
    mounts.push_back({{"container_path", m.container_path},
                      {"host_path", m.host_path},
                      {"readonly", m.readonly},
                      {"propagation", m.propagation}});
  }
  return {
      {"id", c.id},
      {"pod_id", c.pod_id},
      {"full_name", c.full_name},
      {"spec",
       {{"name", c.spec.name},
        {"attempt", c.spec.attempt},
        {"image", c.spec.image},
        {"command", c.spec.command},
        {"args", c.spec.args},
        {"labels", c.spec.labels},
        {"annotations", c.spec.annotations},
        {"log_path", c.spec.log_path},
        {"mounts", mounts},
        {"tty", c.spec.tty},
        {"stdin", c.spec.stdin_open},
        {"stdin_once", c.spec.stdin_once},
        {"privileged", c.spec.privileged}}},
      {"image_id", c.image_id},
      {"image_name", c.image_name},
      {"image_ref", c.image_ref},
      {"runtime_handler", c.runtime_handler},
      {"state", static_cast<int>(c.state)},
      {"created_at", c.created_at},
      {"started_at", c.started_at},
      {"finished_at", c.finished_at},
      {"exit_code", c.exit_code},
      {"reason", c.reason},
      {"message", c.message},
      {"log_path", c.log_path},
      {"bundle", c.bundle},
      {"rootfs", c.rootfs},
      {"stop_signal", c.stop_signal},
      {"user", {{"uid", c.user.uid}, {"gid", c.user.gid}, {"additional_gids", c.user.additional_gids}}},
      {"process",
       {{"pid", c.process.pid},
        {"conmon_pid", c.process.conmon_pid},
        {"bundle", c.process.bundle},
        {"log_path", c.process.log_path},
        {"exit_dir", c.process.exit_dir},
        {"persist_dir", c.process.persist_dir},
        {"socket_dir", c.process.socket_dir},
        {"conmon_cgroup", c.process.conmon_cgroup}}},
  };
}

Container from_json(const json& j) {
  Container c;
  c.id = j.at("id");
  c.pod_id = j.at("pod_id");
  c.full_name = j.at("full_name");
  const json& s = j.at("spec");
  c.spec.name = s.at("name");
  c.spec.attempt = s.at("attempt");
  c.spec.image = s.at("image");
  c.spec.command = s.value("command", std::vector<std::string>{});
  c.spec.args = s.value("args", std::vector<std::string>{});
  c.spec.labels = s.value("labels", std::map<std::string, std::string>{});
  c.spec.annotations = s.value("annotations", std::map<std::string, std::string>{});
  c.spec.log_path = s.value("log_path", "");
  c.spec.tty = s.value("tty", false);
  c.spec.stdin_open = s.value("stdin", false);
  c.spec.stdin_once = s.value("stdin_once", false);
  c.spec.privileged = s.value("privileged", false);
  for (const auto& m : s.value("mounts", json::array())) {
    c.spec.mounts.push_back({m.at("container_path"), m.at("host_path"), m.at("readonly"), m.at("propagation")});
  }
  c.image_id = j.at("image_id");
  c.image_name = j.value("image_name", "");
  c.image_ref = j.value("image_ref", c.image_id);
  c.runtime_handler = j.value("runtime_handler", "");
  c.state = static_cast<ContainerState>(j.at("state").get<int>());
  c.created_at = j.value("created_at", int64_t{0});
  c.started_at = j.value("started_at", int64_t{0});
  c.finished_at = j.value("finished_at", int64_t{0});
  c.exit_code = j.value("exit_code", 0);
  c.reason = j.value("reason", "");
  c.message = j.value("message", "");
  c.log_path = j.value("log_path", "");
  c.bundle = j.value("bundle", "");
  c.rootfs = j.value("rootfs", "");
  c.stop_signal = j.value("stop_signal", SIGTERM);
  if (auto u = j.find("user"); u != j.end() && u->is_object()) {
    c.user.uid = u->value("uid", 0u);
    c.user.gid = u->value("gid", 0u);
    c.user.additional_gids = u->value("additional_gids", std::vector<uint32_t>{});
  }
  const json& p = j.at("process");
  c.process.id = c.id;
  c.process.name = c.full_name;
  c.process.pid = p.value("pid", 0);
  c.process.conmon_pid = p.value("conmon_pid", 0);
  c.process.bundle = p.value("bundle", "");
  c.process.log_path = p.value("log_path", "");
  c.process.exit_dir = p.value("exit_dir", "");
  c.process.persist_dir = p.value("persist_dir", "");
  c.process.socket_dir = p.value("socket_dir", "");
  c.process.conmon_cgroup = p.value("conmon_cgroup", "");
  return c;
}

std::string parent_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

std::string image_ref_of(const storage::Image& image, const std::string& name) {
  auto repo_of = [](const std::string& ref) {
    auto at = ref.find('@');
    std::string repo = ref.substr(0, at);
    auto colon = repo.rfind(':');
    if (colon != std::string::npos && repo.find('/', colon) == std::string::npos) repo.resize(colon);
    return repo;
  };
  for (const auto& digest : image.digests) {
    if (repo_of(digest) == repo_of(name)) return digest;
  }
  return image.digests.empty() ? image.id : image.digests.front();
}

void apply_exit(Container& c, const oci::ExitInfo& exit) {
  c.state = ContainerState::kExited;
  c.exit_code = exit.exit_code;
  c.finished_at = to_ns(exit.finished_at);
  c.reason = exit.oom_killed ? "OOMKilled" : exit.exit_code == 0 ? "Completed" : "Error";
  // The exit file's mtime is only as fine as the filesystem's clock.
  if (c.started_at != 0 && c.finished_at < c.started_at) c.finished_at = c.started_at;
}

}  // namespace

Containers::Containers(const core::Config& config, const LiveConfig& live, Pods& pods, Images& images)
    : config_(config),
      live_(live),
      pods_(pods),
      images_(images),
      state_dir_(config.root + "/crio/containers"),
      run_root_(config.runroot + "/crio/containers") {}

Containers::~Containers() {
  stopping_ = true;
  if (watcher_.joinable()) watcher_.join();
}

std::string Containers::full_name(const ContainerSpec& spec, const PodSpec& pod) {
  return fmt::format("k8s_{}_{}_{}_{}_{}", spec.name, pod.name, pod.pod_namespace, pod.uid, spec.attempt);
}

std::string Containers::state_file(const std::string& id) const { return state_dir_ + "/" + id + ".json"; }

void Containers::emit(const Container& c, ContainerEventType type) const {
  if (unpublished_.contains(c.id)) return;  // nobody knows it yet
  if (events_ == nullptr || is_infra(c)) return;
  static constexpr const char* kNames[] = {"CONTAINER_CREATED_EVENT", "CONTAINER_STARTED_EVENT",
                                           "CONTAINER_STOPPED_EVENT", "CONTAINER_DELETED_EVENT"};
  log::debug(fmt::format("Container event {} generated for {}", kNames[static_cast<int>(type)], c.id));
  events_->publish(ContainerEvent{.container_id = c.id, .pod_id = c.pod_id, .type = type, .created_at = now_ns()});
}

Status Containers::persist(const Container& container) const {
  CRIO_RETURN_IF_ERROR(fs::make_dirs(state_dir_, 0700));
  return fs::write_file_atomic(state_file(container.id), to_json(container).dump(), 0600);
}

std::shared_ptr<std::mutex> Containers::lock_for(const std::string& id) {
  std::unique_lock lock(mutex_);
  auto& m = locks_[id];
  if (!m) m = std::make_shared<std::mutex>();
  return m;
}

Result<std::shared_ptr<oci::Runtime>> Containers::runtime_for_new(const std::string& name, const LiveSettings& live) {
  CRIO_ASSIGN_OR_RETURN(oci::RuntimeHandler handler, runtime_handler(live.config, name));
  std::lock_guard lock(runtimes_mutex_);
  auto& current = runtimes_[handler.name];
  // A handler a reload changed gets a new Runtime; the old one stays with the
  // containers made by it.
  if (!current || !(current->handler() == handler)) current = std::make_shared<oci::Runtime>(std::move(handler));
  return current;
}

Result<std::shared_ptr<oci::Runtime>> Containers::runtime_of(const Container& c) {
  {
    std::lock_guard lock(runtimes_mutex_);
    if (auto it = container_runtimes_.find(c.id); it != container_runtimes_.end()) return it->second;
  }
  // A container restored at start-up: its handler as configured now.
  CRIO_ASSIGN_OR_RETURN(auto runtime, runtime_for_new(c.runtime_handler, *live_.get()));
  std::lock_guard lock(runtimes_mutex_);
  return container_runtimes_.emplace(c.id, std::move(runtime)).first->second;
}

Result<std::string> Containers::resolve_id(const std::string& id_or_prefix) const {
  std::shared_lock lock(mutex_);
  return resolve_id_prefix(containers_, id_or_prefix, "container");
}

Status Containers::restore() {
  std::error_code ec;
  if (stdfs::exists(state_dir_, ec)) {
    for (const auto& entry : stdfs::directory_iterator(state_dir_, ec)) {
      if (entry.path().extension() != ".json") continue;
      auto text = fs::read_file(entry.path().string());
      if (!text.ok()) {
        log::warn("cannot read a container state file",
                  {{"file", entry.path().string()}, {"error", text.status().message()}});
        continue;
      }
      auto j = json::parse(*text, nullptr, false);
      Container c;
      try {
        if (j.is_discarded()) throw std::runtime_error("not JSON");
        c = from_json(j);
      } catch (const std::exception& e) {
        log::warn("ignoring a broken container state file", {{"file", entry.path().string()}, {"error", e.what()}});
        continue;
      }
      // As CRI-O: a container whose bundle lost its config.json, or whose writable layer
      // is gone from the store (a crash in the middle of its removal), cannot be
      // restored; it is dropped, and what is left of it goes with the orphans below.
      const bool bundle_gone = !c.bundle.empty() && !stdfs::exists(c.bundle + "/config.json", ec);
      if (bundle_gone || !images_.store().container(c.id)) {
        log::warn(bundle_gone ? "dropping a container whose bundle is gone" : "dropping a container whose layer is gone",
                  {{"id", c.id}, {"bundle", c.bundle}});
        if (auto runtime = runtime_for_new(c.runtime_handler, *live_.get()); runtime.ok()) {
          (void)(*runtime)->adopt(c.process);
          (void)(*runtime)->remove(c.id);
        }
        std::error_code ignored;
        stdfs::remove(entry.path(), ignored);
        continue;
      }
      // Exited containers are adopted too: on RemoveContainer the runtime deletes the
      // exit file and the attach socket link only of the containers it tracks.
      auto runtime = runtime_of(c);
      if (!runtime.ok()) {
        log::warn("container's runtime handler is gone", {{"id", c.id}, {"error", runtime.status().message()}});
        if (c.state != ContainerState::kExited) c.state = ContainerState::kUnknown;
      } else if (Status s = (*runtime)->adopt(c.process); !s.ok()) {
        log::warn("cannot adopt a container", {{"id", c.id}, {"error", s.message()}});
      }
      std::unique_lock lock(mutex_);
      names_[c.full_name] = c.id;
      if (unpublished_.restore_marked(c.id)) {
        // Made for a caller that had left, before the restart: still kept for its retry.
        creations_.adopt_unclaimed(c.full_name, c.id);
      }
      containers_[c.id] = std::move(c);
    }
  }
  // A crash in the middle of RunPodSandbox can leave its infra container without the
  // pod, which was undone (Pods::restore): the container goes too.
  std::vector<Container> all;
  {
    std::shared_lock lock(mutex_);
    for (const auto& [_, c] : containers_) all.push_back(c);
  }
  for (const Container& c : all) {
    if (auto pod = pods_.get(c.pod_id); pod.ok() || pod.status().code() != Code::kNotFound) continue;
    log::info("removing a container whose pod sandbox is gone", {{"id", c.id}, {"pod", c.pod_id}});
    if (Status s = remove_resolved(c.id); !s.ok()) {
      log::warn("cannot remove a container whose pod sandbox is gone", {{"id", c.id}, {"error", s.message()}});
    }
  }
  // A crash in the middle of CreateContainer leaves a bundle (perhaps with the
  // container in the runtime) or a writable layer with no state file: nothing refers
  // to them any more. The runtime's container goes before the layer it runs on.
  for (const auto& entry : stdfs::directory_iterator(run_root_, ec)) {
    std::shared_lock lock(mutex_);
    if (containers_.count(entry.path().filename().string())) continue;
    lock.unlock();
    remove_orphan_bundle(entry.path().filename().string(), entry.path().string());
  }
  storage::Store& store = images_.store();
  for (const auto& layer : store.containers()) {
    std::shared_lock lock(mutex_);
    if (containers_.count(layer.id)) continue;
    lock.unlock();
    if (pods_.lookup(layer.id).ok()) continue;  // a pod's own storage (make_pod_storage)
    log::info("removing an orphaned container layer", {{"id", layer.id}});
    (void)store.unmount(layer.id, true);
    (void)store.delete_container(layer.id);
  }
  // Exits that happened while the daemon was down. As CRI-O: a container the runtime
  // no longer knows that left no exit file (a crash in the middle of its removal, a
  // reboot without the wipe) is stopped, with exit code 255.
  all.clear();
  {
    std::shared_lock lock(mutex_);
    for (const auto& [_, c] : containers_) all.push_back(c);
  }
  for (const Container& c : all) {
    if (c.state != ContainerState::kRunning && c.state != ContainerState::kCreated) continue;
    if (check_exit(c.id)) continue;
    auto runtime = runtime_of(c);
    if (!runtime.ok()) continue;
    auto state = (*runtime)->state(c.id);
    if (state.ok() || state.status().code() != Code::kNotFound) continue;
    log::warn("the runtime no longer knows a container and it left no exit code; it is stopped",
              {{"id", c.id}, {"error", state.status().message()}});
    oci::ExitInfo lost;
    lost.exit_code = 255;
    lost.finished_at = std::chrono::system_clock::now();
    Container updated;
    {
      std::unique_lock lock(mutex_);
      auto it = containers_.find(c.id);
      if (it == containers_.end()) continue;
      apply_exit(it->second, lost);
      updated = it->second;
    }
    if (Status s = persist(updated); !s.ok()) {
      log::warn("cannot persist a container exit", {{"id", c.id}, {"error", s.message()}});
    }
    if (is_infra(updated)) pods_.infra_exited(updated.pod_id);
  }
  if (!watcher_.joinable()) watcher_ = std::thread([this] { watch_exits(); });
  return ok_status();
}

void Containers::remove_orphan_bundle(const std::string& id, const std::string& bundle) {
  // A crash after the runtime created the container: it and its conmon run on, known
  // to nobody. The record written before the creation names the runtime and conmon's
  // cgroup; the pid files are conmon's.
  if (auto text = fs::read_file(bundle + "/" + kCreateRecord); text.ok()) {
    json record = json::parse(*text, nullptr, false);
    if (record.is_object() && record.value("runtime_handler", "") != "") {
      auto runtime = runtime_for_new(record.value("runtime_handler", ""), *live_.get());
      if (runtime.ok()) {
        oci::ContainerProcess p;
        p.id = id;
        p.bundle = bundle;
        p.persist_dir = bundle;
        p.exit_dir = config_.container_exits_dir;
        p.socket_dir = config_.container_attach_socket_dir;
        p.conmon_cgroup = record.value("conmon_cgroup", "");
        auto read_pid = [](const std::string& file) -> pid_t {
          auto t = fs::read_file(file);
          return t.ok() ? static_cast<pid_t>(std::atoi(t->c_str())) : 0;
        };
        p.pid = read_pid(bundle + "/pidfile");
        p.conmon_pid = read_pid(bundle + "/conmon-pidfile");
        log::info("removing a container a crash left in the runtime", {{"id", id}, {"conmon", p.conmon_pid}});
        (void)(*runtime)->adopt(p);
        if (Status s = (*runtime)->remove(id); !s.ok()) {
          log::warn("cannot remove an orphaned container from its runtime", {{"id", id}, {"error", s.message()}});
          return;  // the bundle stays, so the next start tries again
        }
      }
    }
  }
  std::error_code ignored;
  stdfs::remove_all(bundle, ignored);
}

bool Containers::check_exit(const std::string& id) {
  Container snapshot;
  {
    std::shared_lock lock(mutex_);
    auto it = containers_.find(id);
    if (it == containers_.end() || it->second.state == ContainerState::kExited) return false;
    snapshot = it->second;
  }
  auto runtime = runtime_of(snapshot);
  if (!runtime.ok()) return false;
  auto exit = (*runtime)->read_exit(id);
  if (!exit.ok()) return false;
  {
    std::unique_lock lock(mutex_);
    auto it = containers_.find(id);
    if (it == containers_.end() || it->second.state == ContainerState::kExited) return false;
    apply_exit(it->second, *exit);
    emit(it->second, ContainerEventType::kStopped);
    // A container that never started has no start time; keep the report coherent.
    snapshot = it->second;
  }
  if (Status s = persist(snapshot); !s.ok())
    log::warn("cannot persist a container exit", {{"id", id}, {"error", s.message()}});
  log::info("container exited", {{"id", id}, {"exit_code", snapshot.exit_code}});
  // As CRI-O: a pod whose infra container is gone is no longer ready.
  if (is_infra(snapshot)) pods_.mark_not_ready(snapshot.pod_id);
  if (snapshot.reason == "OOMKilled" && on_oom_) on_oom_(snapshot.full_name);
  if (is_infra(snapshot)) pods_.infra_exited(snapshot.pod_id);
  // In the node's PID namespace the container's other processes outlive its init
  // (reparented, not killed with a namespace): as CRI-O, kill what is left in its cgroup.
  auto pod = pods_.get(snapshot.pod_id);
  if (snapshot.spec.pid_mode == NamespaceMode::kNode || (pod.ok() && pod->spec.pid == NamespaceMode::kNode)) {
    if (Status s = (*runtime)->kill(id, SIGKILL, true); !s.ok())
      log::warn("cannot kill what is left of a container in the node's PID namespace",
                {{"id", id}, {"error", s.message()}});
  }
  return true;
}

void Containers::watch_exits() {
  while (!stopping_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::vector<std::string> running;
    {
      std::shared_lock lock(mutex_);
      for (const auto& [id, c] : containers_) {
        if (c.state == ContainerState::kRunning) running.push_back(id);
      }
    }
    for (const auto& id : running) {
      if (stopping_) return;
      check_exit(id);
    }
  }
}

Result<std::string> Containers::create(const std::string& pod_id, const ContainerSpec& spec,
                                       const std::function<bool()>& client_gone) {
  if (spec.name.empty()) return error(Code::kInvalidArgument, "container config has no metadata.name");
  if (spec.image.empty()) return error(Code::kInvalidArgument, "container {}: no image given", spec.name);
  if (spec.run_as_group && !spec.run_as_user && spec.run_as_username.empty()) {
    return error(Code::kInvalidArgument, "container {}: run_as_group is set without run_as_user or run_as_username",
                 spec.name);
  }
  for (const auto& [key, value] : spec.envs) {
    if (key.empty() || key.find('=') != std::string::npos) {
      return error(Code::kInvalidArgument, "container {}: environment variable name \"{}\" is empty or contains '='",
                   spec.name, key);
    }
    // HOME ends up in the container's /etc/passwd: a line break there would add users.
    // CRI-O refuses the two characters "\n" as well.
    if (key == "HOME" && (value.find('\n') != std::string::npos || value.find("\\n") != std::string::npos)) {
      return error(Code::kInvalidArgument, "container {}: invalid HOME environment; newline not allowed", spec.name);
    }
  }
  auto pod = pods_.get(pod_id);
  if (!pod.ok()) {
    if (pod.status().code() != Code::kNotFound) return pod.status().wrap("container " + spec.name);
    return error(Code::kNotFound, "container {}: pod sandbox {} not found", spec.name, pod_id);
  }
  return create_in(*pod, spec, client_gone);
}

Result<std::string> Containers::create_in(const Pod& pod, const ContainerSpec& spec,
                                          const std::function<bool()>& client_gone) {
  if (pod.state != PodState::kReady) {
    return error(Code::kFailedPrecondition, "container {}: pod sandbox {} is not ready", spec.name, pod.id);
  }
  CRIO_RETURN_IF_ERROR(refuse_unimplemented_annotations(live_.get()->config, pod.spec.runtime_handler, pod.spec.annotations,
                                                        spec.annotations, "container " + spec.name));
  const std::string name = full_name(spec, pod.spec);
  return creations_.run(name, [&] { return do_create(pod, spec, name); }, client_gone);
}

std::optional<std::string> Containers::published_holder(const std::string& name) const {
  std::shared_lock lock(mutex_);
  auto it = names_.find(name);
  if (it == names_.end() || unpublished_.contains(it->second)) return std::nullopt;
  return it->second;
}

void Containers::publish(const std::string& id) {
  unpublished_.publish(id);
  std::unique_lock lock(mutex_);
  if (auto it = containers_.find(id); it != containers_.end()) emit(it->second, ContainerEventType::kCreated);
}

void Containers::keep_unclaimed(const std::string& id) { unpublished_.mark_unclaimed(id); }

Result<std::string> Containers::do_create(const Pod& pod_ref, const ContainerSpec& spec, const std::string& name) {
  const Pod* pod = &pod_ref;
  // One snapshot of the reloadable settings for the whole creation.
  const std::shared_ptr<const LiveSettings> live = live_.get();
  // The infra container carries its pod's ID, as in CRI-O: `runtime list` names the
  // pod's sandbox process by the pod's ID.
  std::string id = pod->id;
  if (spec.name != kInfraName) {
    CRIO_ASSIGN_OR_RETURN(id, random_id());
  }

  Undo undo;
  {
    std::unique_lock lock(mutex_);
    if (auto it = names_.find(name); it != names_.end()) {
      return error(Code::kAlreadyExists, "container name {} is reserved for {}", name, it->second);
    }
    names_[name] = id;
  }
  undo.add([this, name] {
    std::unique_lock lock(mutex_);
    names_.erase(name);
  });

  auto image = images_.find(spec.image);
  if (!image) return error(Code::kNotFound, "container {}: image {} not found", spec.name, spec.image);
  CRIO_ASSIGN_OR_RETURN(oci::ImageDefaults image_config, image_defaults(image->image));
  CRIO_ASSIGN_OR_RETURN(int stop_signal, oci::parse_signal(image_config.stop_signal));

  storage::Store& store = images_.store();
  creations_.stage(name, "container storage creation");
  CRIO_RETURN_IF_ERROR(store.create_container(id, image->image.id).status().wrap(fmt::format("container {}", spec.name)));
  undo.add([&store, id] { (void)store.delete_container(id); });
  auto mounted = store.mount(id);
  if (!mounted.ok()) return mounted.status().wrap(fmt::format("container {}", spec.name));
  std::string rootfs = *mounted;
  undo.add([&store, id] { (void)store.unmount(id, true); });
  CRIO_FAULT_POINT(container_rootfs);

  pid_t target_pid = 0;
  ContainerSpec joined;  // `spec`, pointed at the infra container when the pod shares its PID namespace
  if (spec.pid_mode == NamespaceMode::kPod && pod->spec.pid == NamespaceMode::kPod && spec.name != kInfraName) {
    for (const Container& c : list(ContainerFilter{.pod_id = pod->id})) {
      if (is_infra(c) && c.pod_id == pod->id && c.state == ContainerState::kRunning && c.process.pid > 0) {
        target_pid = c.process.pid;
      }
    }
    if (target_pid == 0) {
      return error(Code::kFailedPrecondition, "container {}: pod {} shares its PID namespace but has no running infra container",
                   spec.name, pod->id);
    }
    joined = spec;
    joined.pid_mode = NamespaceMode::kTarget;
  }
  if (spec.pid_mode == NamespaceMode::kTarget) {
    // As CRI-O, the target may be any container the daemon runs, in this pod or another.
    auto target = spec.target_id.empty() ? Result<Container>(error(Code::kNotFound, "no target_id"))
                                         : get(spec.target_id);
    if (!target.ok()) {
      return error(Code::kNotFound, "container {}: target container \"{}\" of its PID namespace not found", spec.name,
                   spec.target_id);
    }
    if (target->state != ContainerState::kRunning || target->process.pid <= 0) {
      return error(Code::kFailedPrecondition, "container {}: target container {} is not running", spec.name,
                   target->id);
    }
    target_pid = target->process.pid;
  }
  // The builder may make the bundle's volumes directory (image_volumes = "bind").
  const std::string bundle = run_root_ + "/" + id;
  undo.add([bundle] {
    std::error_code ec;
    stdfs::remove_all(bundle, ec);
  });
  creations_.stage(name, "container spec configuration");
  CRIO_ASSIGN_OR_RETURN(
      oci::Spec oci_spec,
      oci::build_container_spec(joined.name.empty() ? spec : joined, pod_context(*pod, live->config), image_config,
                                live->spec_defaults, {id, rootfs, target_pid, bundle + "/volumes", bundle},
                                live->hooks.get()));
  if (spec.name == kInfraName) {
    if (!config_.infra_ctr_cpuset.empty()) oci_spec.resources.cpu.cpus = config_.infra_ctr_cpuset;
  } else if (const core::Workload* workload = active_workload(live->config, pod->spec.annotations)) {
    // The pod's annotations choose the workload and carry the per-container overrides.
    auto resources = workload_resources(*workload, spec.name, pod->spec.annotations);
    if (!resources.ok()) return resources.status().wrap(fmt::format("container {}: pod {}", spec.name, pod->id));
    if (*resources) apply_workload(**resources, oci_spec.resources.cpu);
  }
  CRIO_RETURN_IF_ERROR(oci::write_bundle(bundle, oci_spec));
  CRIO_FAULT_POINT(container_bundle);

  std::string log_path;
  if (!spec.log_path.empty()) {
    std::string dir = pod->spec.log_directory.empty() ? config_.log_dir + "/" + pod->id : pod->spec.log_directory;
    log_path = spec.log_path[0] == '/' ? spec.log_path : dir + "/" + spec.log_path;
  } else {
    log_path = config_.log_dir + "/" + pod->id + "/" + id + ".log";
  }
  CRIO_RETURN_IF_ERROR(fs::make_dirs(parent_of(log_path), 0755));
  CRIO_RETURN_IF_ERROR(fs::make_dirs(config_.container_exits_dir, 0700));
  CRIO_RETURN_IF_ERROR(fs::make_dirs(config_.container_attach_socket_dir, 0755));

  CRIO_ASSIGN_OR_RETURN(std::shared_ptr<oci::Runtime> runtime, runtime_for_new(pod->spec.runtime_handler, *live));
  oci::ContainerCreateOptions options;
  options.id = id;
  options.name = name;
  options.bundle = bundle;
  options.log_path = log_path;
  options.exit_dir = config_.container_exits_dir;
  options.persist_dir = bundle;
  options.socket_dir = config_.container_attach_socket_dir;
  options.terminal = spec.tty;
  options.open_stdin = spec.stdin_open;
  options.stdin_once = spec.stdin_once;
  if (config_.log_size_max > 0) options.log_size_max = config_.log_size_max;
  {
    // As CRI-O: conmon sits in `crio-conmon-<id>` under the pod's cgroup parent (with
    // systemd: the scope crio-conmon-<id>.scope in the pod's slice or the configured
    // one), pinned to infra_ctr_cpuset, unless the container's own annotations
    // activate a workload (whose overrides for conmon are keyed "POD").
    auto placement = runtime->handler().cgroup_driver.conmon_cgroup(monitor_cgroup(live->config, pod->spec.runtime_handler),
                                                                      pod->spec.cgroup_parent, id);
    if (!placement.ok()) return placement.status().wrap(fmt::format("creating container {}", spec.name));
    options.conmon_cgroup = placement->cgroupfs_path;
    options.conmon_scope = placement->scope;
    options.conmon_slice = placement->slice;
    if (!config_.infra_ctr_cpuset.empty()) options.conmon_cpu.cpus = config_.infra_ctr_cpuset;
    const Annotations& own = spec.name == kInfraName ? pod->spec.annotations : spec.annotations;
    if (const core::Workload* workload = active_workload(live->config, own)) {
      auto resources = workload_resources(*workload, kInfraName, own);
      if (!resources.ok()) return resources.status().wrap(fmt::format("container {}: conmon's cgroup", spec.name));
      if (*resources) apply_workload(**resources, options.conmon_cpu);
    }
  }
  // What a restart needs to find this container in the runtime and its monitor if the
  // daemon dies before the state file is written (see remove_orphan_bundle).
  CRIO_RETURN_IF_ERROR(fs::write_file_atomic(bundle + "/" + kCreateRecord,
                                             json{{"runtime_handler", runtime->handler().name},
                                                  {"conmon_cgroup", options.conmon_cgroup}}
                                                 .dump(),
                                             0600));
  creations_.stage(name, "container runtime creation");
  auto pid = runtime->create(options);
  if (!pid.ok()) return pid.status().wrap(fmt::format("creating container {} ({})", spec.name, id));
  undo.add([runtime, id] { (void)runtime->remove(id); });
  CRIO_FAULT_POINT(container_conmon);
  if (auto volume = pods_.link_logs_volume(pod->spec); volume && spec.name != kInfraName) {
    link_container_log(pod->spec.uid, *volume, id, spec.name, spec.attempt);
  }

  Container c;
  c.id = id;
  c.pod_id = pod->id;
  c.full_name = name;
  c.spec = spec;
  c.image_id = image->image.id;
  c.image_name = image->image.names.empty() ? spec.image : image->image.names.front();
  c.image_ref = image_ref_of(image->image, c.image_name);
  c.runtime_handler = runtime->handler().name;
  c.state = ContainerState::kCreated;
  c.created_at = now_ns();
  c.log_path = log_path;
  c.bundle = bundle;
  c.rootfs = rootfs;
  c.stop_signal = stop_signal;
  c.user = oci_spec.process.user;
  c.process = runtime->process(id).value_or(oci::ContainerProcess{});
  c.process.id = id;
  c.process.name = name;
  if (c.process.pid == 0) c.process.pid = *pid;
  CRIO_RETURN_IF_ERROR(persist(c));
  CRIO_FAULT_POINT(container_state_write);
  {
    std::lock_guard lock(runtimes_mutex_);
    container_runtimes_[id] = runtime;
  }
  {
    std::unique_lock lock(mutex_);
    unpublished_.add(id);  // until a caller receives its ID; see Creations
    containers_[id] = std::move(c);
  }
  undo.dismiss();
  log::info("created container", {{"id", id}, {"name", name}});
  return id;
}

Status Containers::start(const std::string& id_or_prefix) {
  CRIO_ASSIGN_OR_RETURN(std::string id, resolve_published(id_or_prefix));
  auto lock_ptr = lock_for(id);
  std::lock_guard guard(*lock_ptr);
  CRIO_ASSIGN_OR_RETURN(Container c, get(id));
  if (c.state != ContainerState::kCreated) {
    return error(Code::kFailedPrecondition, "container {} is not in the CREATED state", id);
  }
  CRIO_ASSIGN_OR_RETURN(auto runtime, runtime_of(c));
  // Taken before the start: a short-lived container may be gone when start returns,
  // and its exit time must not precede its start time.
  const int64_t started_at = now_ns();
  if (Status s = runtime->start(id); !s.ok()) {
    check_exit(id);
    return s.wrap(fmt::format("starting container {}", id));
  }
  {
    std::unique_lock lock(mutex_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return error(Code::kNotFound, "container {} not found", id);
    if (it->second.state == ContainerState::kCreated) it->second.state = ContainerState::kRunning;
    it->second.started_at = started_at;
    if (it->second.finished_at != 0 && it->second.finished_at < started_at) it->second.finished_at = started_at;
    c = it->second;
    emit(c, ContainerEventType::kStarted);
  }
  return persist(c);
}

Status Containers::stop(const std::string& id_or_prefix, std::chrono::seconds timeout) {
  auto id = resolve_published(id_or_prefix);
  // As CRI-O: StopContainer is idempotent, and a container that is gone is stopped.
  if (!id.ok()) return id.status().code() == Code::kNotFound ? ok_status() : id.status();
  return stop_resolved(*id, timeout);
}

Status Containers::stop_resolved(const std::string& id, std::chrono::seconds timeout) {
  // Not under the container's lock: a second stop joins the first in the runtime (and
  // may shorten its grace period) rather than queueing behind it.
  CRIO_ASSIGN_OR_RETURN(Container c, lookup(id));
  if (c.state == ContainerState::kExited) return ok_status();
  CRIO_ASSIGN_OR_RETURN(auto runtime, runtime_of(c));
  if (Status s = runtime->stop(id, std::chrono::duration_cast<std::chrono::milliseconds>(timeout), c.stop_signal);
      !s.ok()) {
    if (check_exit(id)) return ok_status();
    return s.wrap(fmt::format("stopping container {}", id));
  }
  check_exit(id);
  return ok_status();
}

Status Containers::remove(const std::string& id_or_prefix) {
  auto resolved = resolve_published(id_or_prefix);
  if (!resolved.ok()) return resolved.status().code() == Code::kNotFound ? ok_status() : resolved.status();
  return remove_resolved(*resolved);
}

Status Containers::discard(const std::string& id) {
  if (!lookup(id).ok()) return ok_status();
  return remove_resolved(id);
}

Status Containers::remove_resolved(const std::string& id) {
  CRIO_RETURN_IF_ERROR(stop_resolved(id, std::chrono::seconds(0)));
  auto lock_ptr = lock_for(id);
  std::lock_guard guard(*lock_ptr);
  auto c = lookup(id);
  if (!c.ok()) return ok_status();
  if (auto runtime = runtime_of(*c); runtime.ok()) {
    CRIO_RETURN_IF_ERROR((*runtime)->remove(id));
  }
  CRIO_FAULT_POINT(remove_container_runtime);
  storage::Store& store = images_.store();
  if (store.container(id)) {
    CRIO_RETURN_IF_ERROR(store.unmount(id, true));
    CRIO_RETURN_IF_ERROR(store.delete_container(id));
  }
  CRIO_FAULT_POINT(remove_container_layer);
  std::error_code ec;
  stdfs::remove_all(c->bundle, ec);
  CRIO_RETURN_IF_ERROR(fs::remove_file(state_file(id)));
  {
    std::unique_lock lock(mutex_);
    names_.erase(c->full_name);
    emit(*c, ContainerEventType::kDeleted);
    containers_.erase(id);
    locks_.erase(id);
  }
  {
    std::lock_guard lock(runtimes_mutex_);
    container_runtimes_.erase(id);
  }
  unpublished_.erase(id);
  creations_.forget(id);
  log::info("removed container", {{"id", id}});
  return ok_status();
}

Result<std::string> Containers::resolve_published(const std::string& id_or_prefix) const {
  CRIO_ASSIGN_OR_RETURN(std::string id, resolve_id(id_or_prefix));
  std::shared_lock lock(mutex_);
  if (unpublished_.contains(id)) {
    // As CRI-O: the container exists, but no caller has been given it.
    return error(Code::kFailedPrecondition,
                 "container {} is not created: its CreateContainer timed out and was not retried yet", id);
  }
  return id;
}

Result<Container> Containers::lookup(const std::string& id) const {
  std::shared_lock lock(mutex_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return error(Code::kNotFound, "container {} not found", id);
  return it->second;
}

Result<Container> Containers::get(const std::string& id_or_prefix) const {
  CRIO_ASSIGN_OR_RETURN(std::string id, resolve_published(id_or_prefix));
  return lookup(id);
}

std::vector<Container> Containers::list(const ContainerFilter& filter) const {
  std::vector<Container> out;
  std::shared_lock lock(mutex_);
  for (const auto& [id, c] : containers_) {
    if (!id.starts_with(filter.id) || !c.pod_id.starts_with(filter.pod_id)) continue;
    if (unpublished_.contains(id)) continue;
    if (filter.state && c.state != *filter.state) continue;
    if (labels_match(c.spec.labels, filter.label_selector)) out.push_back(c);
  }
  return out;
}

Result<oci::ExecResult> Containers::exec_sync(const std::string& id_or_prefix, const std::vector<std::string>& argv,
                                              std::chrono::seconds timeout) {
  if (argv.empty()) return error(Code::kInvalidArgument, "ExecSync: no command given");
  CRIO_ASSIGN_OR_RETURN(Container c, get(id_or_prefix));
  // As CRI-O: a created container's init exists (waiting to be started), and a command
  // can join it.
  if (c.state != ContainerState::kRunning && c.state != ContainerState::kCreated) {
    return error(Code::kFailedPrecondition, "container {} is not created or running", c.id);
  }
  CRIO_ASSIGN_OR_RETURN(auto runtime, runtime_of(c));
  return runtime->exec_sync(c.id, argv, std::chrono::duration_cast<std::chrono::milliseconds>(timeout), c.spec.tty);
}

Result<std::unique_ptr<oci::ExecSession>> Containers::exec(const std::string& id_or_prefix,
                                                           const oci::ExecOptions& options) {
  if (options.argv.empty()) return error(Code::kInvalidArgument, "Exec: no command given");
  CRIO_ASSIGN_OR_RETURN(Container c, get(id_or_prefix));
  if (c.state != ContainerState::kRunning && c.state != ContainerState::kCreated) {
    return error(Code::kFailedPrecondition, "container {} is not created or running", c.id);
  }
  CRIO_ASSIGN_OR_RETURN(auto runtime, runtime_of(c));
  return runtime->exec(c.id, options);
}

Result<fs::UniqueFd> Containers::attach(const std::string& id_or_prefix) {
  CRIO_ASSIGN_OR_RETURN(Container c, get(id_or_prefix));
  if (c.state != ContainerState::kRunning) {
    return error(Code::kFailedPrecondition, "container {} is not running", c.id);
  }
  CRIO_ASSIGN_OR_RETURN(auto runtime, runtime_of(c));
  return runtime->attach(c.id);
}

Status Containers::resize_terminal(const std::string& id_or_prefix, oci::TerminalSize size) {
  CRIO_ASSIGN_OR_RETURN(Container c, get(id_or_prefix));
  if (!c.spec.tty) return error(Code::kFailedPrecondition, "container {} has no terminal to resize", c.id);
  if (c.state != ContainerState::kRunning) {
    return error(Code::kFailedPrecondition, "container {} is not running", c.id);
  }
  CRIO_ASSIGN_OR_RETURN(auto runtime, runtime_of(c));
  return runtime->resize_terminal(c.id, size);
}

Status Containers::update_resources(const std::string& id_or_prefix, const oci::Resources& resources) {
  CRIO_ASSIGN_OR_RETURN(Container c, get(id_or_prefix));
  if (c.state != ContainerState::kRunning && c.state != ContainerState::kCreated) {
    return error(Code::kFailedPrecondition, "container {} is not running", c.id);
  }
  CRIO_ASSIGN_OR_RETURN(auto runtime, runtime_of(c));
  return runtime->update_resources(c.id, resources).wrap(fmt::format("updating the resources of container {}", c.id));
}

Status Containers::reopen_log(const std::string& id_or_prefix) {
  CRIO_ASSIGN_OR_RETURN(Container c, get(id_or_prefix));
  if (c.state != ContainerState::kRunning) {
    return error(Code::kFailedPrecondition, "container {} is not running", c.id);
  }
  CRIO_ASSIGN_OR_RETURN(auto runtime, runtime_of(c));
  return runtime->reopen_log(c.id).wrap(fmt::format("reopening the log of container {}", c.id));
}

Status Containers::pause(const std::string& id_or_prefix) {
  CRIO_ASSIGN_OR_RETURN(Container c, get(id_or_prefix));
  if (c.state != ContainerState::kRunning) return error(Code::kFailedPrecondition, "container {} is not running", c.id);
  CRIO_ASSIGN_OR_RETURN(auto runtime, runtime_of(c));
  return runtime->pause(c.id);
}

Status Containers::unpause(const std::string& id_or_prefix) {
  CRIO_ASSIGN_OR_RETURN(Container c, get(id_or_prefix));
  if (c.state != ContainerState::kRunning) return error(Code::kFailedPrecondition, "container {} is not running", c.id);
  CRIO_ASSIGN_OR_RETURN(auto runtime, runtime_of(c));
  return runtime->unpause(c.id);
}

std::vector<std::string> Containers::ids_in_pod(const std::string& pod_id) const {
  std::vector<std::string> out;
  std::shared_lock lock(mutex_);
  for (const auto& [id, c] : containers_) {
    if (c.pod_id == pod_id) out.push_back(id);
  }
  return out;
}

// Both include the containers no caller received yet: they are the pod's all the same.
Status Containers::stop_pod(const std::string& pod_id) {
  for (const std::string& id : ids_in_pod(pod_id)) {
    // The kubelet already gave the containers their grace period before this call.
    Status stopped = stop_resolved(id, std::chrono::seconds(0));
    if (!stopped.ok() && stopped.code() != Code::kNotFound) return stopped;
  }
  // A stopped pod keeps its storage, unmounted, until it is removed (as CRI-O).
  storage::Store& store = images_.store();
  if (store.container(pod_id)) CRIO_RETURN_IF_ERROR(store.unmount(pod_id, true));
  return ok_status();
}

Status Containers::remove_pod(const std::string& pod_id) {
  for (const std::string& id : ids_in_pod(pod_id)) CRIO_RETURN_IF_ERROR(discard(id));
  storage::Store& store = images_.store();
  if (store.container(pod_id)) {
    CRIO_RETURN_IF_ERROR(store.unmount(pod_id, true));
    CRIO_RETURN_IF_ERROR(store.delete_container(pod_id));
  }
  return ok_status();
}

Result<storage::Usage> Containers::layer_usage(const std::string& id) const {
  return images_.store().container_usage(id);
}

std::string Containers::layers_mountpoint() const { return images_.containers_mountpoint(); }

Result<storage::Image> Containers::pause_image_for(const Pod& pod) {
  const std::shared_ptr<const LiveSettings> live = live_.get();
  const core::Config& config = live->config;
  if (!images_.find(config.pause_image)) {
    PullRequest pull;
    pull.image = config.pause_image;
    pull.pod_namespace = pod.spec.pod_namespace;
    if (!config.pause_image_auth_file.empty()) {
      // The pause image's own credentials, in place of global_auth_file's.
      auto ref = image::parse_reference(config.pause_image);
      if (!ref.ok()) return ref.status().wrap("pause_image " + config.pause_image);
      auto auth = image::lookup_auth_file(config.pause_image_auth_file, ref->registry, ref->repository);
      if (!auth.ok()) return auth.status().wrap("pause_image_auth_file");
      if (*auth) pull.auth = **auth;
    }
    auto pulled = images_.pull(pull);
    if (!pulled.ok()) return pulled.status().wrap("pulling the pause image " + config.pause_image);
  }
  auto image = images_.find(config.pause_image);
  if (!image) return error(Code::kNotFound, "pause image {} not found", config.pause_image);
  return image->image;
}

Result<std::string> Containers::make_pod_storage(const Pod& pod) {
  CRIO_ASSIGN_OR_RETURN(storage::Image image, pause_image_for(pod));
  storage::Store& store = images_.store();
  CRIO_RETURN_IF_ERROR(store.create_container(pod.id, image.id).status().wrap("pod sandbox " + pod.id + " storage"));
  auto mounted = store.mount(pod.id);
  if (!mounted.ok()) {
    (void)store.delete_container(pod.id);
    return mounted.status().wrap("pod sandbox " + pod.id + " storage");
  }
  return *mounted;
}

Result<std::string> Containers::start_infra(const Pod& pod_ref) {
  const Pod* pod = &pod_ref;
  const std::shared_ptr<const LiveSettings> live = live_.get();
  const core::Config& config = live->config;
  CRIO_ASSIGN_OR_RETURN(storage::Image pause, pause_image_for(pod_ref));
  CRIO_ASSIGN_OR_RETURN(oci::ImageDefaults image_config, image_defaults(pause));

  ContainerSpec spec;
  spec.name = kInfraName;
  // Named after the pod's attempt, as CRI-O names it: the kubelet makes a pod's next
  // attempt while the previous one still exists.
  spec.attempt = pod->spec.attempt;
  spec.image = config.pause_image;
  spec.pid_mode = NamespaceMode::kContainer;  // the pod's PID namespace starts here
  spec.labels = {{"io.kubernetes.container.name", kInfraName}};
  if (image_config.entrypoint.empty() && image_config.cmd.empty()) spec.command = {config.pause_command};
  CRIO_ASSIGN_OR_RETURN(std::string id, create_in(*pod, spec, {}));
  if (Status started = start(id); !started.ok()) {
    (void)remove(id);
    return started.wrap("starting the infra container of pod " + pod->id);
  }
  return id;
}

Result<oci::CgroupStats> Containers::cgroup_stats(const Container& c) const {
  CRIO_ASSIGN_OR_RETURN(Pod pod, pods_.get(c.pod_id));
  return oci::CgroupDriver::of(config_).container_stats(pod.spec.cgroup_parent, c.id, c.process.pid);
}

}  // namespace crio::daemon
