#pragma once
// The daemon's Prometheus metrics, named, typed and labelled as CRI-O v1.29 serves them
// (container_runtime_crio_*, both the current names and the deprecated ones CRI-O still
// serves), v1.36's default_runtime, and crio's own pod and container counts; each family
// present only when its collector is in metrics_collectors. The libraries report
// through plain observer interfaces; this is the one place that knows prometheus-cpp.
// Served over plain HTTP by prometheus-cpp's exposer, and over TLS, IPv6 and
// metrics_socket by MetricsServer (what the exposer cannot serve here).

#include <crio/core/config.hpp>
#include <crio/core/status.hpp>
#include <crio/image/pull.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace prometheus {
class Exposer;
class Registry;
}  // namespace prometheus

namespace crio::daemon {

// What is read from the daemon's state at each scrape, not counted as it happens.
struct MetricSources {
  std::function<uint64_t()> events_dropped;  // container events lost by slow subscribers
};

// How many objects are in each state, by the state's label value.
using StateCounts = std::vector<std::pair<std::string, uint64_t>>;
struct StateSources {
  std::function<StateCounts()> pod_sandboxes;  // "ready", "notready"
  std::function<StateCounts()> containers;     // "created", "running", "exited", "unknown"
};

// CRI-O's label for a failed pull, from the error's text: a registry error code
// (MANIFEST_UNKNOWN, UNAUTHORIZED, ...), CONNECTION_REFUSED, CONNECTION_TIMEOUT,
// NOT_FOUND, else UNKNOWN.
std::string pull_failure_label(const std::string& message);

// CRI-O's size bucket label (">1 MiB", ">0 B", ...) for a number of bytes.
std::string size_bucket(double bytes);

// Zombie processes under `proc` (state Z in /proc/PID/stat).
uint64_t defunct_processes(const std::string& proc = "/proc");

class MetricsServer;

class Metrics : public image::PullObserver {
 public:
  // Registers the families of the enabled collectors; serves nothing yet.
  explicit Metrics(const core::Config& config, MetricSources sources = {});
  ~Metrics() override;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Listens on metrics_host:metrics_port and metrics_socket (TLS on both with
  // metrics_cert and metrics_key). An address that cannot be served, a port in use or a
  // certificate that does not load is an error naming the option.
  Status start();
  // Where the pod sandbox and container counts come from; empty sources serve none.
  // Thread-safe: a scrape in progress finishes before the old sources are dropped.
  void set_state_sources(StateSources sources);

  // The port listened on (metrics_port, or the one picked for 0); 0 before start().
  int port() const { return port_; }

  // One CRI call has ended (the gRPC interceptor), `operation` as CRI-O names it: the
  // method's last path element ("Version", "RunPodSandbox").
  void operation_done(const std::string& operation, std::chrono::steady_clock::duration took, bool failed);

  void image_pull_succeeded(const std::string& name);
  void image_pull_failed(const std::string& name, const std::string& error_message);
  // The image was in the store already: nothing was fetched.
  void image_pull_skipped(const std::string& name, int64_t image_bytes);

  // image::PullObserver
  void blob_bytes(const std::string& name, const std::string& digest, const std::string& media_type, int64_t blob_size,
                  int64_t image_size, uint64_t bytes) override;
  void layer_done(int64_t size) override;
  void layer_reused(const std::string& name, const std::string& digest) override;

  // A container the kernel killed for memory, by its full name (k8s_…).
  void container_oom_killed(const std::string& name);

  // A pod or container creation that outlived its caller's deadline, stopped at `stage`.
  void resource_stalled_at_stage(const std::string& stage);

  // The exposition text of everything registered, as a scrape would get it.
  std::string serialize() const;

 private:
  struct Families;
  class Live;

  const core::Config& config_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> families_;
  std::shared_ptr<Live> live_;
  std::unique_ptr<prometheus::Exposer> exposer_;  // plain HTTP on IPv4
  std::unique_ptr<MetricsServer> server_;         // TLS, IPv6, the unix socket
  int port_ = 0;
};

}  // namespace crio::daemon
