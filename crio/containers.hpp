#pragma once
// Containers: from CreateContainer to RemoveContainer, each running under conmon with
// the pod's runtime handler; persisted so they survive a daemon restart or crash (a
// container keeps running while the daemon is down), answered from memory for the
// kubelet's polling, and watched for their exit.

#include "events.hpp"
#include "creations.hpp"
#include "images.hpp"
#include "live_config.hpp"
#include "pods.hpp"

#include <crio/core/config.hpp>
#include <crio/oci/container_spec.hpp>
#include <crio/oci/hooks.hpp>
#include <crio/oci/runtime.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

namespace crio::daemon {

enum class ContainerState { kCreated = 0, kRunning = 1, kExited = 2, kUnknown = 3 };

// The request model is libcrio-oci's: server/container.cpp fills it once from the CRI
// message, and the spec builder reads it as is.
using ContainerMount = oci::ContainerMount;
using SeccompProfile = oci::SeccompProfile;
using ContainerSpec = oci::ContainerRequest;

struct Container {
  std::string id;
  std::string pod_id;
  std::string full_name;  // k8s_<name>_<pod>_<namespace>_<uid>_<attempt>
  ContainerSpec spec;
  std::string image_id;
  std::string image_name;  // the image's first tag, else the requested name
  // What the CRI's image_ref reports: a repo digest (name@sha256:...) of the image,
  // preferring one of image_name's repository, else the image ID.
  std::string image_ref;
  std::string runtime_handler;
  ContainerState state = ContainerState::kCreated;
  int64_t created_at = 0;  // ns since the epoch
  int64_t started_at = 0;
  int64_t finished_at = 0;
  int32_t exit_code = 0;
  std::string reason;  // Completed, Error, OOMKilled
  std::string message;
  std::string log_path;  // absolute
  std::string bundle;
  std::string rootfs;
  int stop_signal = 15;
  oci::User user;  // the process's uid, gid and supplemental groups as resolved
  oci::ContainerProcess process;
};

struct ContainerFilter {
  std::string id;  // exact or prefix
  std::string pod_id;
  std::optional<ContainerState> state;
  std::map<std::string, std::string> label_selector;
};

class Containers : private CreationTable {
 public:
  Containers(const core::Config& config, const LiveConfig& live, Pods& pods, Images& images);
  ~Containers() override;

  // Reads every persisted container, adopts it into its runtime and reads the exits
  // that happened while the daemon was down; then starts the exit watcher.
  Status restore();

  // `client_gone` tells whether the caller stopped waiting (its deadline passed): the
  // container is then kept unpublished for the retry the kubelet makes with the same
  // name (see Creations). Every call below but list() refuses an unpublished container
  // (FailedPrecondition); list() omits it.
  Result<std::string> create(const std::string& pod_id, const ContainerSpec& spec,
                             const std::function<bool()>& client_gone = {});
  Status start(const std::string& id);
  // Idempotent; a zero timeout kills at once.
  Status stop(const std::string& id, std::chrono::seconds timeout);
  // Idempotent: an unknown container is fine.
  Status remove(const std::string& id);
  Result<Container> get(const std::string& id) const;
  std::vector<Container> list(const ContainerFilter& filter = {}) const;
  Result<oci::ExecResult> exec_sync(const std::string& id, const std::vector<std::string>& argv,
                                    std::chrono::seconds timeout);

  // For the streaming server; each needs a running container (FailedPrecondition
  // otherwise), resize_terminal one created with a terminal.
  Result<std::unique_ptr<oci::ExecSession>> exec(const std::string& id, const oci::ExecOptions& options);
  Result<fs::UniqueFd> attach(const std::string& id);
  Status resize_terminal(const std::string& id, oci::TerminalSize size);

  // Both need a running (or created) container; FailedPrecondition otherwise.
  Status update_resources(const std::string& id, const oci::Resources& resources);
  Status reopen_log(const std::string& id);
  // For the status API's /pause and /unpause.
  Status pause(const std::string& id);
  Status unpause(const std::string& id);

  // Bytes and inodes of the container's writable layer, and where such layers live.
  Result<storage::Usage> layer_usage(const std::string& id) const;
  std::string layers_mountpoint() const;

  // The infra container that holds a pod's shared PID namespace (namespace_options.pid
  // = POD, or drop_infra_ctr = false): the pause image, pulled when absent, running
  // its entrypoint (else pause_command). Named "POD", as the kubelet never names one.
  // Called while the pod is being created, before it is published.
  Result<std::string> start_infra(const Pod& pod);
  // A pod without infra container still gets the pause image's file system, as CRI-O
  // gives every pod one: a writable layer named by the pod ID, mounted until the pod
  // stops and removed with it; returns where it is mounted, the pod's root in the
  // status API.
  Result<std::string> make_pod_storage(const Pod& pod);
  static bool is_infra(const Container& c) { return c.spec.name == kInfraName; }
  // The running container's usage, from its cgroup as the cgroup driver places it.
  Result<oci::CgroupStats> cgroup_stats(const Container& c) const;
  static constexpr const char* kInfraName = "POD";

  // For StopPodSandbox / RemovePodSandbox.
  Status stop_pod(const std::string& pod_id);
  Status remove_pod(const std::string& pod_id);

  static std::string full_name(const ContainerSpec& spec, const PodSpec& pod);

  // For the removal of containers no retry claimed (take_expired(), then discard())
  // and for the stall metric.
  Creations& creations() { return creations_; }
  // Removes a container, published or not.
  Status discard(const std::string& id);

  // Where lifecycle events go (GetContainerEvents); set before restore(), none by default.
  void set_event_bus(EventBus* bus) { events_ = bus; }
  EventBus* event_bus() const { return events_; }
  // Told of each container the kernel killed for memory, by its full name (metrics).
  void set_oom_observer(std::function<void(const std::string& name)> observer) { on_oom_ = std::move(observer); }

 private:
  // The configured pause image, pulled (with pause_image_auth_file) when absent.
  Result<storage::Image> pause_image_for(const Pod& pod);

  // CreationTable
  std::optional<std::string> published_holder(const std::string& name) const override;
  void publish(const std::string& id) override;
  void keep_unclaimed(const std::string& id) override;

  Result<std::string> create_in(const Pod& pod, const ContainerSpec& spec, const std::function<bool()>& client_gone);
  Result<std::string> do_create(const Pod& pod, const ContainerSpec& spec, const std::string& name);
  Result<std::string> resolve_id(const std::string& id_or_prefix) const;
  // A published container's full ID.
  Result<std::string> resolve_published(const std::string& id_or_prefix) const;
  Result<Container> lookup(const std::string& id) const;  // published or not
  std::vector<std::string> ids_in_pod(const std::string& pod_id) const;  // published or not
  Status stop_resolved(const std::string& id, std::chrono::seconds timeout);
  Status remove_resolved(const std::string& id);
  // The runtime of `handler` as `live` configures it, for a new container.
  Result<std::shared_ptr<oci::Runtime>> runtime_for_new(const std::string& handler, const LiveSettings& live);
  // The runtime that made (or adopted) `c`: a reload that changes or removes its handler
  // leaves it working for the containers it has.
  Result<std::shared_ptr<oci::Runtime>> runtime_of(const Container& c);
  Status persist(const Container& container) const;
  std::string state_file(const std::string& id) const;
  std::shared_ptr<std::mutex> lock_for(const std::string& id);
  // Marks `id` EXITED when its exit file is there; true when it changed.
  bool check_exit(const std::string& id);
  // At start-up: a bundle without a state file, and whatever the runtime still runs for it.
  void remove_orphan_bundle(const std::string& id, const std::string& bundle);
  void watch_exits();
  // Called with mutex_ held so that events leave in the order the states changed.
  void emit(const Container& c, ContainerEventType type) const;

  const core::Config& config_;
  const LiveConfig& live_;
  Pods& pods_;
  Images& images_;
  std::string state_dir_;
  std::string run_root_;

  std::mutex runtimes_mutex_;
  // Guarded by runtimes_mutex_:
  std::map<std::string, std::shared_ptr<oci::Runtime>> runtimes_;  // new containers', by handler name
  std::map<std::string, std::shared_ptr<oci::Runtime>> container_runtimes_;  // by container ID

  Creations creations_{*this, "container"};
  Unpublished unpublished_{state_dir_};
  mutable std::shared_mutex mutex_;
  // Guarded by mutex_:
  std::map<std::string, Container> containers_;  // by ID
  std::map<std::string, std::string> names_;     // full name → ID
  std::map<std::string, std::shared_ptr<std::mutex>> locks_;

  EventBus* events_ = nullptr;
  std::function<void(const std::string& name)> on_oom_;
  std::atomic<bool> stopping_{false};
  std::thread watcher_;
};

}  // namespace crio::daemon
