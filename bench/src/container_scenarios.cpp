// Container scenarios: run-container (a fresh pod and one container in it, to
// running), exec-sync (ExecSync latency in running containers, one per worker) and
// containers-memory (what N pods with one running container each cost the daemon
// and the processes it keeps for them, the containers' own processes excluded).

#include "procs.hpp"
#include "scenarios.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <functional>
#include <thread>

namespace crio::bench {
namespace {

constexpr const char* kBenchLabel = "crio-bench";
// The container's command; its processes are the workload, not the runtime's cost.
constexpr const char* kSleepComm = "sleep";

std::string run_tag() { return fmt::format("c{}-{}", ::getpid(), std::time(nullptr)); }

// The same pod as run-pod's (no port mappings, network and IPC of the pod, PID per
// container), so the pod part costs the same in both benchmarks.
v1::PodSandboxConfig pod_config(const std::string& tag, int seq) {
  v1::PodSandboxConfig c;
  std::string name = fmt::format("bench-{}-{}", tag, seq);
  auto* m = c.mutable_metadata();
  m->set_name(name);
  m->set_uid(fmt::format("uid-{}-{}", tag, seq));
  m->set_namespace_("crio-bench");
  m->set_attempt(0);
  c.set_hostname(name);
  (*c.mutable_labels())[kBenchLabel] = tag;
  (*c.mutable_labels())["io.kubernetes.pod.name"] = name;
  auto* ns = c.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  ns->set_network(v1::POD);
  ns->set_pid(v1::CONTAINER);
  ns->set_ipc(v1::POD);
  return c;
}

v1::ContainerConfig container_config(const std::string& image, const std::string& tag) {
  v1::ContainerConfig c;
  c.mutable_metadata()->set_name("sleeper");
  c.mutable_metadata()->set_attempt(0);
  c.mutable_image()->set_image(image);
  c.add_command("sleep");
  c.add_args("3600");
  (*c.mutable_labels())[kBenchLabel] = tag;
  return c;
}

std::optional<std::string> as_error(const grpc::Status& s) {
  if (s.ok()) return std::nullopt;
  return describe(s);
}

// One pod with one container; filled in step by step so a failure tears down
// exactly what was made.
struct Unit {
  std::string pod;
  std::string container;
};

StepError create_container(CriClient& client, const std::string& pod, const v1::PodSandboxConfig& pc,
                           const v1::ContainerConfig& cc, std::string* id) {
  v1::CreateContainerRequest req;
  req.set_pod_sandbox_id(pod);
  *req.mutable_config() = cc;
  *req.mutable_sandbox_config() = pc;
  v1::CreateContainerResponse resp;
  auto ctx = client.context();
  if (auto err = as_error(client.runtime().CreateContainer(ctx.get(), req, &resp))) return "CreateContainer: " + *err;
  if (resp.container_id().empty()) return "CreateContainer returned no container ID";
  *id = resp.container_id();
  return std::nullopt;
}

StepError start_container(CriClient& client, const std::string& id) {
  v1::StartContainerRequest req;
  req.set_container_id(id);
  v1::StartContainerResponse resp;
  auto ctx = client.context();
  if (auto err = as_error(client.runtime().StartContainer(ctx.get(), req, &resp))) return "StartContainer: " + *err;
  return std::nullopt;
}

StepError stop_container(CriClient& client, const std::string& id) {
  v1::StopContainerRequest req;
  req.set_container_id(id);
  req.set_timeout(0);
  v1::StopContainerResponse resp;
  auto ctx = client.context();
  if (auto err = as_error(client.runtime().StopContainer(ctx.get(), req, &resp))) return "StopContainer: " + *err;
  return std::nullopt;
}

StepError remove_container(CriClient& client, const std::string& id) {
  v1::RemoveContainerRequest req;
  req.set_container_id(id);
  v1::RemoveContainerResponse resp;
  auto ctx = client.context();
  if (auto err = as_error(client.runtime().RemoveContainer(ctx.get(), req, &resp))) return "RemoveContainer: " + *err;
  return std::nullopt;
}

// RunPodSandbox + CreateContainer + StartContainer, each also its own series.
StepError bring_up(Context& ctx, const std::string& tag, int seq, Unit& u) {
  auto pc = pod_config(tag, seq);
  auto cc = container_config(ctx.options.image, tag);
  if (auto err = ctx.sampler.timed("run-pod", [&] { return ctx.client.run_pod(pc, &u.pod); }))
    return "RunPodSandbox: " + *err;
  if (auto err = ctx.sampler.timed("create", [&] { return create_container(ctx.client, u.pod, pc, cc, &u.container); }))
    return err;
  return ctx.sampler.timed("start", [&] { return start_container(ctx.client, u.container); });
}

// StopContainer (0 s) + RemoveContainer + StopPodSandbox + RemovePodSandbox, each
// its own series; every step is tried even after an error, the first is returned.
StepError tear_down(Context& ctx, Unit& u) {
  StepError first;
  auto keep = [&](StepError e) {
    if (e && !first) first = e;
  };
  if (!u.container.empty()) {
    keep(ctx.sampler.timed("stop-container", [&] { return stop_container(ctx.client, u.container); }));
    keep(ctx.sampler.timed("remove-container", [&] { return remove_container(ctx.client, u.container); }));
  }
  if (!u.pod.empty()) {
    keep(ctx.sampler.timed("stop-pod", [&]() -> StepError {
      if (auto e = ctx.client.stop_pod(u.pod)) return "StopPodSandbox: " + *e;
      return std::nullopt;
    }));
    keep(ctx.sampler.timed("remove-pod", [&]() -> StepError {
      if (auto e = ctx.client.remove_pod(u.pod)) return "RemovePodSandbox: " + *e;
      return std::nullopt;
    }));
  }
  u = Unit{};
  return first;
}

// Untimed: removes whatever this run left (pods removed take their containers).
size_t remove_leftovers(Context& ctx, const std::string& tag) {
  std::vector<std::string> ids;
  if (ctx.client.list_pods({{kBenchLabel, tag}}, &ids)) return 0;
  for (const auto& id : ids) {
    (void)ctx.client.stop_pod(id);
    (void)ctx.client.remove_pod(id);
  }
  return ids.size();
}

// Untimed: the image must be local before anything is timed.
StepError ensure_image(Context& ctx) {
  if (ctx.options.image.empty()) return "the container scenarios need --image";
  bool present = false;
  if (auto err = ctx.client.status(ctx.options.image, &present)) return "ImageStatus: " + *err;
  if (present) return std::nullopt;
  if (auto err = ctx.client.pull(ctx.options.image)) return "PullImage " + ctx.options.image + ": " + *err;
  return std::nullopt;
}

StepError on_workers(int parallel, const std::function<StepError(int worker)>& body) {
  std::vector<StepError> errors(static_cast<size_t>(parallel));
  std::vector<std::thread> workers;
  for (int w = 0; w < parallel; ++w) {
    workers.emplace_back([&, w] { errors[static_cast<size_t>(w)] = body(w); });
  }
  for (auto& t : workers) t.join();
  for (auto& e : errors) {
    if (e) return e;
  }
  return std::nullopt;
}

// Untimed, once: the container really runs (state RUNNING) — a runtime that
// returned early from StartContainer would look fast for the wrong reason.
void record_first_container(Context& ctx, const std::string& id) {
  if (id.empty() || ctx.extra.contains("first_container")) return;
  v1::ContainerStatusRequest req;
  req.set_container_id(id);
  v1::ContainerStatusResponse resp;
  auto c = ctx.client.context();
  grpc::Status s = ctx.client.runtime().ContainerStatus(c.get(), req, &resp);
  if (!s.ok()) {
    ctx.extra["first_container"] = {{"id", id}, {"error", "ContainerStatus: " + describe(s)}};
    return;
  }
  ctx.extra["first_container"] = {{"id", id}, {"state", v1::ContainerState_Name(resp.status().state())}};
}

double mib(int64_t kib) { return static_cast<double>(kib) / 1024.0; }

nlohmann::json daemon_memory(pid_t pid) {
  auto m = read_memory(pid);
  if (!m) return {{"error", fmt::format("cannot read /proc/{}/smaps_rollup", pid)}};
  auto p = read_proc(pid);
  return {{"vm_rss_mib", p ? mib(p->rss_kib) : mib(m->rss_kib)}, {"pss_mib", mib(m->pss_kib)}};
}

}  // namespace

void scenario_run_container(Context& ctx) {
  const Options& o = ctx.options;
  if (auto err = ensure_image(ctx)) {
    ctx.extra["aborted"] = *err;
    return;
  }
  const std::string tag = run_tag();
  std::atomic<int> seq{0};
  std::vector<Unit> units(static_cast<size_t>(o.parallel));

  RoundPlan plan;
  plan.rounds = o.runs;
  plan.parallel = o.parallel;
  plan.warmup = o.warmup;
  plan.op_name = "run";
  plan.setup = [&](int) -> StepError {
    for (auto& u : units) u = Unit{};
    return std::nullopt;
  };
  plan.op = [&](int, int worker) -> StepError { return bring_up(ctx, tag, seq++, units[static_cast<size_t>(worker)]); };
  plan.teardown = [&](int) -> StepError {
    record_first_container(ctx, units[0].container);
    // Taken down together, as they were started; "teardown" is the four calls.
    return ctx.sampler.timed_parallel("teardown", o.parallel,
                                      [&](int w) { return tear_down(ctx, units[static_cast<size_t>(w)]); });
  };
  ctx.sampler.run(plan);
  ctx.extra["containers_created"] = seq.load();
  if (size_t left = remove_leftovers(ctx, tag)) ctx.extra["pods_left_and_removed"] = left;
}

void scenario_exec_sync(Context& ctx) {
  const Options& o = ctx.options;
  if (auto err = ensure_image(ctx)) {
    ctx.extra["aborted"] = *err;
    return;
  }
  const std::string tag = run_tag();
  // One running container per worker, made untimed: only the ExecSync calls are
  // samples. With --parallel P the P calls of a round go to P different containers
  // (as a kubelet probing P pods at once would), not P execs queued in one.
  std::vector<Unit> units(static_cast<size_t>(o.parallel));
  StepError up;
  for (int w = 0; w < o.parallel && !up; ++w) {
    Unit& u = units[static_cast<size_t>(w)];
    up = [&]() -> StepError {
      auto pc = pod_config(tag, w);
      auto cc = container_config(o.image, tag);
      if (auto e = ctx.client.run_pod(pc, &u.pod)) return "RunPodSandbox: " + *e;
      if (auto e = create_container(ctx.client, u.pod, pc, cc, &u.container)) return e;
      return start_container(ctx.client, u.container);
    }();
  }
  if (up) {
    ctx.extra["aborted"] = "bringing up the containers: " + *up;
  } else {
    record_first_container(ctx, units[0].container);
    RoundPlan plan;
    plan.rounds = o.runs;
    plan.parallel = o.parallel;
    plan.warmup = o.warmup;
    plan.op_name = "exec";
    plan.op = [&](int, int worker) -> StepError {
      v1::ExecSyncRequest req;
      req.set_container_id(units[static_cast<size_t>(worker)].container);
      req.add_cmd("true");
      req.set_timeout(10);
      v1::ExecSyncResponse resp;
      auto c = ctx.client.context();
      if (auto err = as_error(ctx.client.runtime().ExecSync(c.get(), req, &resp))) return "ExecSync: " + *err;
      if (resp.exit_code() != 0) return fmt::format("ExecSync: `true` exited with {}", resp.exit_code());
      return std::nullopt;
    };
    ctx.sampler.run(plan);
  }
  // One after the other, after the rounds (their calls land in the teardown's own
  // series, which the exec figures do not use).
  for (auto& u : units) {
    if (auto err = tear_down(ctx, u); err && !ctx.extra.contains("aborted") && !ctx.extra.contains("teardown_error"))
      ctx.extra["teardown_error"] = *err;
  }
  if (size_t left = remove_leftovers(ctx, tag)) ctx.extra["pods_left_and_removed"] = left;
}

void scenario_containers_memory(Context& ctx) {
  const Options& o = ctx.options;
  if (!o.daemon_pid) {
    ctx.extra["aborted"] = "scenario containers-memory needs --daemon-pid";
    return;
  }
  if (auto err = ensure_image(ctx)) {
    ctx.extra["aborted"] = *err;
    return;
  }
  const pid_t daemon = *o.daemon_pid;
  const std::string tag = run_tag();
  nlohmann::json mem;
  mem["containers"] = o.pods;
  mem["process_marker"] = o.pod_procs;
  mem["excluded_comm"] = kSleepComm;

  // The runtime's processes minus the containers' own (sleep).
  auto processes = [&] {
    auto all = find_runtime_processes(o.pod_procs, daemon);
    std::vector<RuntimeProcess> out;
    for (auto& p : all) {
      if (p.comm != kSleepComm) out.push_back(std::move(p));
    }
    return out;
  };
  // Idle after the pull: the image is not what is measured.
  std::this_thread::sleep_for(std::chrono::milliseconds(o.settle_ms));
  mem["idle"] = daemon_memory(daemon);
  mem["idle"]["processes"] = summarize_processes(processes());

  std::vector<std::vector<Unit>> units(static_cast<size_t>(o.parallel));
  std::atomic<int> seq{0};
  StepError failed = on_workers(o.parallel, [&](int w) -> StepError {
    for (int i = w; i < o.pods; i += o.parallel) {
      Unit u;
      StepError err = ctx.sampler.timed("run", [&] { return bring_up(ctx, tag, seq++, u); });
      units[static_cast<size_t>(w)].push_back(u);
      if (err) return err;
    }
    return std::nullopt;
  });
  size_t created = 0;
  for (const auto& v : units) {
    for (const auto& u : v) created += u.container.empty() ? 0 : 1;
  }
  mem["containers_created"] = created;
  if (!failed && !units[0].empty()) record_first_container(ctx, units[0][0].container);
  if (!failed) {
    std::this_thread::sleep_for(std::chrono::milliseconds(o.settle_ms));
    auto procs = processes();
    auto everything = find_runtime_processes(o.pod_procs, daemon);
    mem["with_containers"] = daemon_memory(daemon);
    mem["with_containers"]["processes"] = summarize_processes(procs);
    mem["with_containers"]["all_processes_incl_containers"] = summarize_processes(everything);
    const auto& idle = mem["idle"];
    const auto& full = mem["with_containers"];
    if (idle.contains("vm_rss_mib") && full.contains("vm_rss_mib") && created > 0) {
      double growth = full["vm_rss_mib"].get<double>() - idle["vm_rss_mib"].get<double>();
      double procs_mib = full["processes"]["pss_mib"].get<double>() - idle["processes"]["pss_mib"].get<double>();
      auto n = static_cast<double>(created);
      mem["daemon_growth_mib"] = growth;
      mem["per_container_kib"] = {{"daemon_rss", growth * 1024.0 / n},
                                  {"processes_pss", procs_mib * 1024.0 / n},
                                  {"total", (growth + procs_mib) * 1024.0 / n}};
    }
  }
  StepError unfinished = on_workers(o.parallel, [&](int w) -> StepError {
    StepError first;
    for (auto& u : units[static_cast<size_t>(w)]) {
      if (auto err = tear_down(ctx, u); err && !first) first = err;
    }
    return first;
  });
  if (size_t left = remove_leftovers(ctx, tag)) mem["pods_left_and_removed"] = left;
  std::this_thread::sleep_for(std::chrono::milliseconds(o.settle_ms));
  mem["after_remove"] = daemon_memory(daemon);
  mem["after_remove"]["processes"] = summarize_processes(processes());
  ctx.extra["memory"] = mem;
  if (failed) ctx.extra["aborted"] = fmt::format("after {} of {} containers: {}", created, o.pods, *failed);
  else if (unfinished) ctx.extra["aborted"] = "removing the containers: " + *unfinished;
}

}  // namespace crio::bench
