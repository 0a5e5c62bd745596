#pragma once
// Scenarios: one function each, sharing the client, the options and the sampler.
// Adding one (run-pod, pod-container, ...) is a function plus a line in scenarios.cpp.

#include "cri_client.hpp"
#include "sampler.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crio::bench {

struct Options {
  std::string endpoint;
  std::string scenario;
  std::string image;          // pull, image-status: the image reference
  int runs = 5;               // recorded rounds
  int parallel = 1;           // operations per round, started together
  int warmup = 0;             // unrecorded rounds first
  int timeout_s = 300;        // per CRI call
  std::optional<pid_t> daemon_pid;
  std::string between_cmd;    // shell command run untimed after each round's teardown
  bool keep_image = false;    // pull: do not remove between rounds (warm pulls)
  int pods = 100;             // pods-memory: pods held at once
  std::string pod_procs;      // pods-memory: command-line marker of the runtime's per-pod processes
  int settle_ms = 1000;       // pods-memory: wait before reading memory
  bool pretty = false;
};

struct Context {
  const Options& options;
  CriClient& client;
  Sampler& sampler;
  nlohmann::json extra = nlohmann::json::object();  // scenario-specific facts for the report
};

struct Scenario {
  std::string_view name;
  std::string_view help;
  void (*run)(Context&);
};

const std::vector<Scenario>& scenarios();
const Scenario* find_scenario(std::string_view name);

// Runs Options::between_cmd (if any) through /bin/sh; an error names its exit status.
StepError run_between_cmd(const Options& options, int round);

// Image scenarios (image_scenarios.cpp).
void scenario_pull(Context& ctx);
void scenario_list_images(Context& ctx);
void scenario_image_status(Context& ctx);

// Pod sandbox scenarios (pod_scenarios.cpp).
void scenario_run_pod(Context& ctx);
void scenario_pods_memory(Context& ctx);

// Container scenarios (container_scenarios.cpp).
void scenario_run_container(Context& ctx);
void scenario_exec_sync(Context& ctx);
void scenario_containers_memory(Context& ctx);

}  // namespace crio::bench
