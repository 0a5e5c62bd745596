// Pod sandbox scenarios: run-pod (RunPodSandbox, then StopPodSandbox and
// RemovePodSandbox, a fresh pod per sample) and pods-memory (what N ready pods cost
// the daemon and the processes it keeps for them).

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

// Names must not collide with a pod left by an earlier run on the same daemon.
std::string run_tag() { return fmt::format("{}-{}", ::getpid(), std::time(nullptr)); }

// What a kubelet sends for a plain pod, minus what would measure something else:
// no port mappings (portmap without host ports), the pod's own network, IPC and UTS
// namespaces, and each container in its own PID namespace — so a runtime that pins
// namespaces needs no infra process for it.
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
  (*c.mutable_annotations())["crio-bench/seq"] = std::to_string(seq);
  auto* ns = c.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  ns->set_network(v1::POD);
  ns->set_pid(v1::CONTAINER);
  ns->set_ipc(v1::POD);
  return c;
}

void abort_with(Context& ctx, const std::string& why) { ctx.extra["aborted"] = why; }

// Untimed: stops and removes every pod this run left (after an error or an abort),
// so the daemon is as it was; returns how many were left.
size_t remove_leftovers(Context& ctx, const std::string& tag) {
  std::vector<std::string> ids;
  if (ctx.client.list_pods({{kBenchLabel, tag}}, &ids)) return 0;
  for (const auto& id : ids) {
    (void)ctx.client.stop_pod(id);
    (void)ctx.client.remove_pod(id);
  }
  return ids.size();
}

// Runs body(worker) on `parallel` threads and returns the first error; each body
// times its own calls.
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

// Untimed, once per run: proof that the pod is READY and CNI gave it an address (a
// run without networking would look fast for the wrong reason).
void record_first_pod(Context& ctx, const std::string& id) {
  if (id.empty() || ctx.extra.contains("first_pod")) return;
  std::string state, ip;
  if (auto err = ctx.client.pod_status(id, &state, &ip)) {
    ctx.extra["first_pod"] = {{"id", id}, {"error", "PodSandboxStatus: " + *err}};
    return;
  }
  ctx.extra["first_pod"] = {{"id", id}, {"state", state}, {"ip", ip}};
}

double mib(int64_t kib) { return static_cast<double>(kib) / 1024.0; }

nlohmann::json daemon_memory(pid_t pid) {
  auto m = read_memory(pid);
  if (!m) return {{"error", fmt::format("cannot read /proc/{}/smaps_rollup", pid)}};
  auto p = read_proc(pid);
  return {{"vm_rss_mib", p ? mib(p->rss_kib) : mib(m->rss_kib)}, {"pss_mib", mib(m->pss_kib)}};
}

}  // namespace

void scenario_run_pod(Context& ctx) {
  const Options& o = ctx.options;
  const std::string tag = run_tag();
  std::atomic<int> seq{0};
  // The pod each worker created in this round; empty when its RunPodSandbox failed.
  std::vector<std::string> ids(static_cast<size_t>(o.parallel));

  RoundPlan plan;
  plan.rounds = o.runs;
  plan.parallel = o.parallel;
  plan.warmup = o.warmup;
  plan.op_name = "run";
  plan.setup = [&](int) -> StepError {
    for (auto& id : ids) id.clear();
    return std::nullopt;
  };
  plan.op = [&](int, int worker) -> StepError {
    return ctx.client.run_pod(pod_config(tag, seq++), &ids[static_cast<size_t>(worker)]);
  };
  plan.teardown = [&](int round) -> StepError {
    record_first_pod(ctx, ids[0]);
    // Stopped together and removed together, as they were started: each call is a
    // sample of its own series. A failed stop is recorded and the remove still tried.
    (void)ctx.sampler.timed_parallel("stop", o.parallel, [&](int w) -> StepError {
      const std::string& id = ids[static_cast<size_t>(w)];
      return id.empty() ? std::nullopt : ctx.client.stop_pod(id);
    });
    StepError removed = ctx.sampler.timed_parallel("remove", o.parallel, [&](int w) -> StepError {
      const std::string& id = ids[static_cast<size_t>(w)];
      return id.empty() ? std::nullopt : ctx.client.remove_pod(id);
    });
    // A pod left behind would make every later round run on a fuller daemon.
    if (removed) return "RemovePodSandbox: " + *removed;
    if (o.between_cmd.empty()) return std::nullopt;
    return ctx.sampler.timed("between", [&] { return run_between_cmd(o, round); });
  };
  ctx.sampler.run(plan);
  ctx.extra["pods_created"] = seq.load();
  if (size_t left = remove_leftovers(ctx, tag)) ctx.extra["pods_left_and_removed"] = left;
}

void scenario_pods_memory(Context& ctx) {
  const Options& o = ctx.options;
  if (!o.daemon_pid) return abort_with(ctx, "scenario pods-memory needs --daemon-pid");
  const pid_t daemon = *o.daemon_pid;
  const std::string tag = run_tag();
  nlohmann::json mem;
  mem["pods"] = o.pods;
  mem["process_marker"] = o.pod_procs;

  auto processes = [&] { return find_runtime_processes(o.pod_procs, daemon); };
  mem["idle"] = daemon_memory(daemon);
  mem["idle"]["processes"] = summarize_processes(processes());

  // Created by `parallel` workers, each its own share of the pods; every call is a
  // "run" sample (the daemon grows as the pods add up).
  std::vector<std::vector<std::string>> ids(static_cast<size_t>(o.parallel));
  std::atomic<int> seq{0};
  StepError failed = on_workers(o.parallel, [&](int w) -> StepError {
    for (int i = w; i < o.pods; i += o.parallel) {
      std::string id;
      if (auto err = ctx.sampler.timed("run", [&] { return ctx.client.run_pod(pod_config(tag, seq++), &id); }))
        return err;
      ids[static_cast<size_t>(w)].push_back(id);
    }
    return std::nullopt;
  });
  size_t created = 0;
  for (const auto& v : ids) created += v.size();
  mem["pods_created"] = created;

  if (!failed) record_first_pod(ctx, ids[0].empty() ? "" : ids[0][0]);
  if (!failed) {
    std::vector<std::string> listed;
    if (auto err = ctx.client.list_pods({{kBenchLabel, tag}}, &listed)) {
      failed = "ListPodSandbox: " + *err;
    } else {
      mem["pods_listed"] = listed.size();
    }
  }
  if (!failed) {
    // Lets the shims and pause processes finish starting up and the daemon's
    // background work (e.g. containerd's event handling) settle before reading.
    std::this_thread::sleep_for(std::chrono::milliseconds(o.settle_ms));
    auto procs = processes();
    mem["with_pods"] = daemon_memory(daemon);
    mem["with_pods"]["processes"] = summarize_processes(procs);
    nlohmann::json list = nlohmann::json::array();
    for (const auto& p : procs) {
      list.push_back({{"pid", p.pid}, {"ppid", p.ppid}, {"comm", p.comm}, {"pss_kib", p.memory.pss_kib},
                      {"rss_kib", p.memory.rss_kib}});
    }
    mem["with_pods"]["process_list"] = list;
    const auto& idle = mem["idle"];
    const auto& full = mem["with_pods"];
    if (idle.contains("vm_rss_mib") && full.contains("vm_rss_mib") && created > 0) {
      double growth = full["vm_rss_mib"].get<double>() - idle["vm_rss_mib"].get<double>();
      double procs_mib = full["processes"]["pss_mib"].get<double>() - idle["processes"]["pss_mib"].get<double>();
      auto n = static_cast<double>(created);
      mem["daemon_growth_mib"] = growth;
      mem["per_pod_kib"] = {{"daemon_rss", growth * 1024.0 / n},
                            {"processes_pss", procs_mib * 1024.0 / n},
                            {"total", (growth + procs_mib) * 1024.0 / n}};
    }
  }

  // Taken down the same way (timed too: StopPodSandbox with N pods present).
  StepError unfinished = on_workers(o.parallel, [&](int w) -> StepError {
    StepError first;
    for (const auto& id : ids[static_cast<size_t>(w)]) {
      StepError err = ctx.sampler.timed("stop", [&] { return ctx.client.stop_pod(id); });
      if (auto rm = ctx.sampler.timed("remove", [&] { return ctx.client.remove_pod(id); }); rm && !err) err = rm;
      if (err && !first) first = err;
    }
    return first;
  });
  if (size_t left = remove_leftovers(ctx, tag)) mem["pods_left_and_removed"] = left;
  std::this_thread::sleep_for(std::chrono::milliseconds(o.settle_ms));
  mem["after_remove"] = daemon_memory(daemon);
  mem["after_remove"]["processes"] = summarize_processes(processes());
  ctx.extra["memory"] = mem;
  if (failed) return abort_with(ctx, fmt::format("after {} of {} pods: {}", created, o.pods, *failed));
  if (unfinished) return abort_with(ctx, "removing the pods: " + *unfinished);
}

}  // namespace crio::bench
