#include "scenarios.hpp"

#include <fmt/format.h>

#include <sys/wait.h>

#include <cstdlib>

namespace crio::bench {

const std::vector<Scenario>& scenarios() {
  static const std::vector<Scenario> all = {
      {"pull", "PullImage --image, then RemoveImage (timed as 'remove'), --runs times; --keep-image for warm pulls",
       scenario_pull},
      {"list-images", "ListImages --runs times (--parallel at once)", scenario_list_images},
      {"image-status", "ImageStatus of --image --runs times (pulls it first, untimed, if absent)",
       scenario_image_status},
      {"run-pod",
       "RunPodSandbox of a fresh pod (--parallel at once), then StopPodSandbox and RemovePodSandbox (timed as "
       "'stop', 'remove'), --runs times",
       scenario_run_pod},
      {"pods-memory",
       "--pods pods held at once: daemon RSS/PSS idle and with them, plus the PSS of the processes under "
       "--pod-procs (needs --daemon-pid); then removes them",
       scenario_pods_memory},
      {"run-container",
       "a fresh pod + one container of --image running `sleep 3600` (RunPodSandbox, CreateContainer, "
       "StartContainer; --parallel at once), then StopContainer 0s, RemoveContainer, StopPodSandbox, "
       "RemovePodSandbox (timed as 'teardown'), --runs times",
       scenario_run_container},
      {"exec-sync",
       "ExecSync `true` in a running container of --image, --runs rounds of --parallel calls (one container "
       "per call of a round, all brought up untimed first)",
       scenario_exec_sync},
      {"containers-memory",
       "--pods pods with one running container each: daemon RSS idle and with them, plus the PSS of the "
       "processes under --pod-procs except the containers' own (needs --daemon-pid); then removes them",
       scenario_containers_memory},
  };
  return all;
}

const Scenario* find_scenario(std::string_view name) {
  for (const auto& s : scenarios()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

StepError run_between_cmd(const Options& options, int round) {
  if (options.between_cmd.empty()) return std::nullopt;
  // The round number lets the hook tell warm-up (negative) from recorded rounds. No
  // worker thread runs between rounds, so changing the environment here is safe.
  std::string value = std::to_string(round);
  ::setenv("BENCH_ROUND", value.c_str(), 1);
  int rc = std::system(options.between_cmd.c_str());
  if (rc == -1) return "between-cmd: could not run /bin/sh";
  if (WIFEXITED(rc) && WEXITSTATUS(rc) == 0) return std::nullopt;
  if (WIFEXITED(rc)) return fmt::format("between-cmd exited with {}", WEXITSTATUS(rc));
  return fmt::format("between-cmd killed by signal {}", WTERMSIG(rc));
}

}  // namespace crio::bench
