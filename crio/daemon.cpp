#include "daemon.hpp"
#include "check.hpp"
#include "wipe.hpp"

#include "crio/http/status_api.hpp"
#include "inspect.hpp"
#include "listener.hpp"
#include "cni_manager.hpp"
#include "containers.hpp"
#include "events.hpp"
#include "images.hpp"
#include "live_config.hpp"
#include "metrics.hpp"
#include "pods.hpp"
#include "readiness.hpp"
#include "streaming.hpp"
#include "server/grpc_status.hpp"
#include "server/runtime_service.hpp"

#include <crio/core/build_info.hpp>
#include <crio/core/fs.hpp>
#include <crio/core/log.hpp>

#include <grpcpp/server_builder.h>
#include <grpcpp/server_posix.h>

#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <stop_token>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace crio::daemon {
namespace {

namespace asio = boost::asio;

// How long in-flight calls may run on after SIGTERM before they are cancelled.
constexpr auto kShutdownGrace = std::chrono::seconds(10);

std::string parent_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

Status write_marker_file(const std::string& path, std::string_view content) {
  if (path.empty()) return ok_status();
  CRIO_RETURN_IF_ERROR(fs::make_dirs(parent_of(path), 0755));
  return fs::write_file_atomic(path, content, 0644);
}

nlohmann::json info_json(const core::Config& config) {
  nlohmann::json full_range = nlohmann::json::array({{{"container_id", 0}, {"host_id", 0}, {"size", 4294967295u}}});
  return {
      {"storage_driver", config.storage_driver},
      {"storage_root", config.root},
      {"storage_image", ""},
      {"cgroup_driver", config.cgroup_manager},
      {"default_id_mappings", {{"uids", full_range}, {"gids", full_range}}},
  };
}

// KUBENSMNT, CRI-O's environment-only option: the path of a bind-mounted mount
// namespace (pinned by the node's setup) for the daemon and everything it starts to
// live in. A path that is missing or is not a mount namespace leaves the daemon in its
// parent's, with a warning. Must run while the process has one thread: the kernel
// refuses a mount namespace change to a thread that shares its filesystem context.
void join_kubensmnt() {
  const char* path = std::getenv("KUBENSMNT");
  if (path == nullptr || *path == '\0') return;
  auto not_joined = [&](const std::string& why) {
    log::warn("not joining the mount namespace named by KUBENSMNT", {{"path", path}, {"reason", why}});
  };
  fs::UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return not_joined(std::strerror(errno));
  struct statfs sfs {};
  if (::fstatfs(fd.get(), &sfs) != 0) return not_joined(std::strerror(errno));
  if (sfs.f_type != NSFS_MAGIC) return not_joined("not a namespace bind mount");
  if (::setns(fd.get(), CLONE_NEWNS) != 0) {
    return not_joined(errno == EINVAL ? "not a mount namespace" : std::strerror(errno));
  }
  log::info("joined the mount namespace named by KUBENSMNT", {{"path", path}});
}

void apply_log_level(const std::string& name) {
  auto level = log::parse_level(name);
  if (level.ok()) log::set_level(*level);
}

// The kernel's mask of CPUs that take interrupts by default; all set after a boot.
constexpr const char* kSmpAffinityFile = "/proc/irq/default_smp_affinity";

// Pods and containers made for a caller that left and never retried are removed after
// a minute or a little more, as CRI-O removes them after one to two.
constexpr auto kUnclaimedAge = std::chrono::seconds(60);
constexpr auto kUnclaimedCheckPeriod = std::chrono::seconds(20);

void remove_unclaimed(Pods& pods, Containers& containers) {
  for (const auto& expired : containers.creations().take_expired(kUnclaimedAge)) {
    log::info("removing a container no retry claimed", {{"name", expired.name}, {"id", expired.id}});
    if (Status s = containers.discard(expired.id); !s.ok()) {
      log::error("cannot remove an unclaimed container", {{"id", expired.id}, {"error", s.message()}});
      containers.creations().adopt_unclaimed(expired.name, expired.id);  // tried again later
    }
  }
  for (const auto& expired : pods.creations().take_expired(kUnclaimedAge)) {
    log::info("removing a pod sandbox no retry claimed", {{"name", expired.name}, {"id", expired.id}});
    Status s = containers.remove_pod(expired.id);
    if (s.ok()) s = pods.discard(expired.id);
    if (!s.ok()) {
      log::error("cannot remove an unclaimed pod sandbox", {{"id", expired.id}, {"error", s.message()}});
      pods.creations().adopt_unclaimed(expired.name, expired.id);  // tried again later
    }
  }
}

}  // namespace

int serve(const CommandLine& command_line) {
  const core::Config& config = command_line.config;
  apply_log_level(config.log_level);
  if (Status s = log::set_filter(config.log_filter); !s.ok()) {
    log::error("invalid log filter", {{"error", s.message()}});
    return 1;
  }
  for (const auto& warning : command_line.warnings) log::warn(warning);
  for (const auto& note : command_line.notes) log::info(note);
  if (config.irqbalance_config_restore_file != "disable") {
    auto restored = core::restore_irqbalance_config(config.irqbalance_config_file,
                                                    config.irqbalance_config_restore_file, kSmpAffinityFile);
    if (!restored.ok()) {
      log::error("cannot restore the irqbalance configuration", {{"error", restored.status().message()}});
      return 1;
    }
    log::info(*restored);
  }
  join_kubensmnt();
  std::signal(SIGPIPE, SIG_IGN);

  // The marker is removed while we run, so finding it at start means the last run
  // ended cleanly; its absence means a crash (or a first start).
  bool clean = !config.clean_shutdown_file.empty() && fs::exists(config.clean_shutdown_file);
  const bool unclean = shutdown_was_unclean(config);
  log::info("starting crio", {{"version", build_info().version},
                              {"commit", build_info().git_commit},
                              {"previous_shutdown", clean ? "clean" : "unclean or first start"}});
  // Read before the version files are rewritten below.
  const WipeDecision wipe = config.internal_wipe ? wipe_decision(config) : WipeDecision{};
  if (Status removed = fs::remove_file(config.clean_shutdown_file); !config.clean_shutdown_file.empty() && !removed.ok()) {
    log::error("cannot remove the clean-shutdown marker", {{"error", removed.message()}});
    return 1;
  }
  if (Status s = write_marker_file(clean_shutdown_supported_file(config), ""); !s.ok()) {
    log::error("cannot write the clean-shutdown supported marker", {{"error", s.message()}});
    return 1;
  }
  if (config.internal_repair && unclean) {
    if (Status s = repair_storage_at_start(config); !s.ok()) {
      log::error("cannot repair the storage", {{"error", s.message()}});
      return 1;
    }
  }

  // What a SIGHUP may change; the managers read it at each call.
  auto initial = initial_settings(config);
  if (!initial.ok()) {
    log::error("invalid configuration", {{"error", initial.status().message()}});
    return 1;
  }
  LiveConfig live(std::move(*initial));
  auto images = Images::open(config, live);
  if (!images.ok()) {
    log::error("cannot open the image store", {{"error", images.status().message()}});
    return 1;
  }
  CniManager cni(config);
  Pods pods(config, live, cni);
  if (Status restored = pods.restore(); !restored.ok()) {
    log::error("cannot restore pod sandboxes", {{"error", restored.message()}});
    return 1;
  }
  // Declared before the containers: their exit watcher publishes until it is joined.
  EventBus events;
  // Declared before the containers and the gRPC server, which report to it until they stop.
  std::unique_ptr<Metrics> metrics;
  if (config.enable_metrics) {
    metrics = std::make_unique<Metrics>(config, MetricSources{.events_dropped = [&events] { return events.dropped(); }});
    if (Status s = metrics->start(); !s.ok()) {
      log::error("cannot serve metrics", {{"error", s.message()}});
      return 1;
    }
    (*images)->set_metrics(metrics.get());
  }
  Containers containers(config, live, pods, **images);
  containers.set_event_bus(&events);
  // The counts read the pods and containers at each scrape: detached before those go.
  struct DetachStates {
    Metrics* metrics;
    ~DetachStates() {
      if (metrics) metrics->set_state_sources({});
    }
  } detach_states{metrics.get()};
  if (metrics) {
    containers.set_oom_observer([m = metrics.get()](const std::string& name) { m->container_oom_killed(name); });
    // A kubelet retry that finds its pod or container still being created.
    auto stalled = [m = metrics.get()](const std::string& stage) { m->resource_stalled_at_stage(stage); };
    pods.creations().set_stall_observer(stalled);
    containers.creations().set_stall_observer(stalled);
    metrics->set_state_sources(StateSources{
        .pod_sandboxes =
            [&pods] {
              StateCounts counts = {{"ready", 0}, {"notready", 0}};
              for (const Pod& p : pods.list()) ++counts[p.state == PodState::kReady ? 0 : 1].second;
              return counts;
            },
        .containers =
            [&containers] {
              StateCounts counts = {{"created", 0}, {"running", 0}, {"exited", 0}, {"unknown", 0}};
              for (const Container& c : containers.list()) ++counts[static_cast<size_t>(c.state)].second;
              return counts;
            },
    });
  }
  if (Status restored = containers.restore(); !restored.ok()) {
    log::error("cannot restore containers", {{"error", restored.message()}});
    return 1;
  }
  if (wipe.containers) {
    log::info("wiping the containers left from before", {{"images_too", wipe.images ? "yes" : "no"}});
    wipe_pods_and_containers(pods, containers, **images, wipe.images);
  }
  // Written once the wipe they decide is done, as CRI-O does.
  for (const auto& file : {config.version_file, config.version_file_persist}) {
    if (Status s = write_version_file(file); !s.ok()) {
      log::error("cannot write the version file", {{"file", file}, {"error", s.message()}});
      return 1;
    }
  }
  RuntimeReadiness readiness(live);
  auto stream_options = stream_server_options(config);
  if (!stream_options.ok()) {
    log::error("invalid streaming server settings", {{"error", stream_options.status().message()}});
    return 1;
  }
  StreamBackend stream_backend(containers, pods);
  stream::Server streams(*stream_options, stream_backend);
  if (Status s = streams.start(); !s.ok()) {
    log::error("cannot start the streaming server", {{"error", s.message()}});
    return 1;
  }
  std::jthread unclaimed_remover([&pods, &containers](std::stop_token stop) {
    std::mutex mutex;
    std::condition_variable_any wake;
    std::unique_lock lock(mutex);
    while (!wake.wait_for(lock, stop, kUnclaimedCheckPeriod, [] { return false; }) && !stop.stop_requested()) {
      remove_unclaimed(pods, containers);
    }
  });
  RuntimeService runtime_service(config, live, readiness, cni, pods, containers, streams);
  ImageService image_service(**images);

  grpc::ServerBuilder builder;
  builder.RegisterService(&runtime_service);
  builder.RegisterService(&image_service);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.grpc_max_recv_msg_size));
  builder.SetMaxSendMessageSize(static_cast<int>(config.grpc_max_send_msg_size));
  // The client ends a call whose deadline passed; the handler notices through
  // client_gone. A server-side check would also answer the client, racing its own
  // "context deadline exceeded" with a "Deadline Exceeded" of ours.
  builder.AddChannelArgument(GRPC_ARG_ENABLE_DEADLINE_CHECKS, 0);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  CallObserver call_observer;
  if (metrics) {
    call_observer = [m = metrics.get()](const std::string& operation, std::chrono::steady_clock::duration took,
                                        bool failed) { m->operation_done(operation, took, failed); };
  }
  interceptors.push_back(std::make_unique<CallLogInterceptorFactory>(std::move(call_observer)));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    log::error("cannot start the gRPC server");
    return 1;
  }

  asio::io_context io;
  http::StatusHandlers status_handlers;
  status_handlers.info = [&config] { return info_json(config); };
  status_handlers.config = [&live] { return core::to_toml(live.get()->config); };
  status_handlers.container = [&containers, &pods](const std::string& id) {
    return inspect_container(containers, pods, id);
  };
  status_handlers.pause = [&containers](const std::string& id) { return containers.pause(id); };
  status_handlers.unpause = [&containers](const std::string& id) { return containers.unpause(id); };
  http::StatusApi status_api(std::move(status_handlers));

  Listener listener(io, ListenerHandlers{
                            .grpc = [&server](int fd) { grpc::AddInsecureChannelFromFd(server.get(), fd); },
                            .http = [&status_api](LocalSocket socket) { status_api.serve(std::move(socket)); },
                        });
  if (Status s = listener.listen(config.listen); !s.ok()) {
    log::error("cannot listen", {{"socket", config.listen}, {"error", s.message()}});
    server->Shutdown();
    return 1;
  }
  log::info("listening", {{"socket", config.listen}});

  std::thread shutdown_thread;
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      reload_configuration(command_line.sources, live);
      signals.async_wait(on_signal);
      return;
    }
    log::info("shutting down", {{"signal", strsignal(sig)}});
    listener.close();
    // Shutdown blocks until in-flight calls finish, so it runs off the io thread.
    // Event streams never end on their own; closing the bus lets them return now.
    events.close();
    shutdown_thread = std::thread([&] {
      server->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
      io.stop();
    });
  };
  signals.async_wait(on_signal);

  io.run();
  if (shutdown_thread.joinable()) shutdown_thread.join();
  server->Wait();
  streams.stop();

  if (Status s = write_marker_file(config.clean_shutdown_file, ""); !s.ok()) {
    log::error("cannot write the clean-shutdown marker", {{"error", s.message()}});
    return 1;
  }
  log::info("stopped");
  return 0;
}

}  // namespace crio::daemon
