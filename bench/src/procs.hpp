#pragma once
// The memory a runtime spends besides its daemon: the processes it keeps per pod
// (containerd: a shim and a pause container each; crio: none, its namespaces are
// pinned by bind mounts), found through /proc and weighed by their PSS.

#include <nlohmann/json.hpp>

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace crio::bench {

struct ProcMemory {
  int64_t rss_kib = 0;  // Rss of smaps_rollup (= VmRSS)
  int64_t pss_kib = 0;  // shared pages split between the processes mapping them
};
// From /proc/PID/smaps_rollup; nullopt when the process is gone or unreadable.
std::optional<ProcMemory> read_memory(pid_t pid);

struct RuntimeProcess {
  pid_t pid = 0;
  pid_t ppid = 0;
  std::string comm;
  ProcMemory memory;
};

// Every process whose command line (arguments joined by spaces) contains `marker`,
// and all their descendants — except `daemon`, this process and its ancestors (whose
// command lines name the same socket or directory). E.g. containerd's shims carry
// `-address <socket>`, and the pause containers are the shims' children.
std::vector<RuntimeProcess> find_runtime_processes(const std::string& marker, pid_t daemon);

// {count, rss_mib, pss_mib, by_comm: {comm: {count, pss_mib}}}.
nlohmann::json summarize_processes(const std::vector<RuntimeProcess>& procs);

}  // namespace crio::bench
