#include "metrics.hpp"
#include "metrics_server.hpp"

#include <crio/core/log.hpp>

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/summary.h>
#include <prometheus/text_serializer.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netdb.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <mutex>
#include <sstream>

namespace crio::daemon {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;
using prometheus::Summary;

// CRI-O registers every metric under the "container_runtime" subsystem.
std::string full_name(std::string_view collector) { return fmt::format("container_runtime_crio_{}", collector); }

// CRI-O's summary objectives; its client library keeps ten minutes in five buckets.
const Summary::Quantiles& quantiles() {
  static const Summary::Quantiles q = {{0.5, 0.05}, {0.9, 0.01}, {0.99, 0.001}};
  return q;
}
constexpr std::chrono::milliseconds kSummaryMaxAge = std::chrono::minutes(10);
constexpr int kSummaryAgeBuckets = 5;

// CRI-O's bucket boundaries for layer sizes, in bytes (decimal units as CRI-O's).
const Histogram::BucketBoundaries& layer_size_buckets() {
  static const Histogram::BucketBoundaries b = {1e3, 1e6, 10e6, 50e6, 100e6, 200e6, 300e6, 400e6, 500e6, 1e9, 10e9};
  return b;
}

// The error codes of the registry API (distribution's errcode descriptors): CRI-O
// labels a failed pull with the code whose message appears in the error.
struct RegistryErrorCode {
  const char* message;
  const char* label;
};
// Longer messages first where one contains another.
constexpr std::array<RegistryErrorCode, 17> kRegistryErrors = {{
    {"manifest blob unknown to registry", "MANIFEST_BLOB_UNKNOWN"},
    {"blob unknown to registry", "BLOB_UNKNOWN"},
    {"blob upload invalid", "BLOB_UPLOAD_INVALID"},
    {"blob upload unknown to registry", "BLOB_UPLOAD_UNKNOWN"},
    {"provided digest did not match uploaded content", "DIGEST_INVALID"},
    {"manifest invalid", "MANIFEST_INVALID"},
    {"manifest unknown", "MANIFEST_UNKNOWN"},
    {"manifest failed signature verification", "MANIFEST_UNVERIFIED"},
    {"invalid repository name", "NAME_INVALID"},
    {"repository name not known to registry", "NAME_UNKNOWN"},
    {"provided length did not match content length", "SIZE_INVALID"},
    {"manifest tag did not match uri", "TAG_INVALID"},
    {"authentication required", "UNAUTHORIZED"},
    {"requested access to the resource is denied", "DENIED"},
    {"the operation is unsupported", "UNSUPPORTED"},
    {"too many requests", "TOOMANYREQUESTS"},
    {"service unavailable", "UNAVAILABLE"},
}};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

std::string pull_failure_label(const std::string& message) {
  const std::string m = lower(message);
  for (const auto& code : kRegistryErrors) {
    if (m.find(code.message) != std::string::npos) return code.label;
  }
  if (m.find("connection refused") != std::string::npos || m.find("couldn't connect") != std::string::npos)
    return "CONNECTION_REFUSED";
  if (m.find("timed out") != std::string::npos || m.find("timeout") != std::string::npos) return "CONNECTION_TIMEOUT";
  if (m.find("404") != std::string::npos || m.find("not found") != std::string::npos) return "NOT_FOUND";
  return "UNKNOWN";
}

std::string size_bucket(double bytes) {
  static const std::array<std::pair<double, const char*>, 11> kBuckets = {{
      {10e9, ">10 GiB"},
      {1e9, ">1 GiB"},
      {500e6, ">500 MiB"},
      {400e6, ">400 MiB"},
      {300e6, ">300 MiB"},
      {200e6, ">200 MiB"},
      {100e6, ">100 MiB"},
      {50e6, ">50 MiB"},
      {10e6, ">10 MiB"},
      {1e6, ">1 MiB"},
      {1e3, ">1 KiB"},
  }};
  for (const auto& [limit, name] : kBuckets) {
    if (bytes > limit) return name;
  }
  return ">0 B";
}

uint64_t defunct_processes(const std::string& proc) {
  uint64_t count = 0;
  DIR* dir = ::opendir(proc.c_str());
  if (dir == nullptr) return 0;
  while (dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    std::ifstream in(proc + "/" + std::string(name) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // The command name (field 2) is in parentheses and may contain any; the state
    // follows the last ')'.
    auto close = stat.rfind(')');
    if (close == std::string::npos || close + 2 >= stat.size()) continue;
    if (stat[close + 2] == 'Z') ++count;
  }
  ::closedir(dir);
  return count;
}

// One member per family; null when its collector is not enabled.
struct Metrics::Families {
  Family<Counter>* operations = nullptr;                             // deprecated
  Family<Gauge>* operations_latency_microseconds = nullptr;          // deprecated
  Family<Summary>* operations_latency_microseconds_total = nullptr;  // deprecated
  Family<Counter>* operations_errors = nullptr;                      // deprecated
  Family<Counter>* image_pulls_by_digest = nullptr;                  // deprecated
  Family<Counter>* image_pulls_by_name = nullptr;                    // deprecated
  Family<Counter>* image_pulls_by_name_skipped = nullptr;            // deprecated
  Family<Counter>* image_pulls_failures = nullptr;                   // deprecated
  Family<Counter>* image_pulls_successes = nullptr;                  // deprecated
  Histogram* image_pulls_layer_size = nullptr;
  Family<Counter>* image_layer_reuse = nullptr;  // deprecated
  Counter* containers_oom_total = nullptr;
  Family<Counter>* containers_oom = nullptr;  // deprecated
  Family<Counter>* operations_total = nullptr;
  Family<Gauge>* operations_latency_seconds = nullptr;
  Family<Summary>* operations_latency_seconds_total = nullptr;
  Family<Counter>* operations_errors_total = nullptr;
  Family<Counter>* image_pulls_bytes_total = nullptr;
  Family<Counter>* image_pulls_skipped_bytes_total = nullptr;
  Family<Counter>* image_pulls_failure_total = nullptr;
  Counter* image_pulls_success_total = nullptr;
  Family<Counter>* image_layer_reuse_total = nullptr;
  Family<Counter>* containers_oom_count_total = nullptr;
  Family<Counter>* containers_seccomp_notifier_count_total = nullptr;
  Family<Counter>* resources_stalled_at_stage = nullptr;
  bool events_dropped = false;
  bool processes_defunct = false;
  bool pod_sandboxes = false;
  bool containers = false;
};

// The families whose value is read at scrape time.
class Metrics::Live : public prometheus::Collectable {
 public:
  Live(const Families& families, MetricSources sources) : families_(families), sources_(std::move(sources)) {}

  void set_state_sources(StateSources sources) {
    std::lock_guard lock(mutex_);
    states_ = std::move(sources);
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    if (families_.events_dropped && sources_.events_dropped) {
      prometheus::MetricFamily f{full_name("containers_events_dropped_total"),
                                 "Amount of container events dropped",
                                 prometheus::MetricType::Counter,
                                 {}};
      prometheus::ClientMetric m;
      m.counter.value = static_cast<double>(sources_.events_dropped());
      f.metric.push_back(m);
      out.push_back(std::move(f));
    }
    if (families_.processes_defunct) {
      prometheus::MetricFamily f{full_name("processes_defunct"),
                                 "Total number of defunct processes in the node",
                                 prometheus::MetricType::Gauge,
                                 {}};
      prometheus::ClientMetric m;
      m.gauge.value = static_cast<double>(defunct_processes());
      f.metric.push_back(m);
      out.push_back(std::move(f));
    }
    std::lock_guard lock(mutex_);
    auto by_state = [&](const std::function<StateCounts()>& source, const char* collector, const char* help) {
      prometheus::MetricFamily f{full_name(collector), help, prometheus::MetricType::Gauge, {}};
      for (const auto& [state, count] : source()) {
        prometheus::ClientMetric m;
        m.label.push_back({"state", state});
        m.gauge.value = static_cast<double>(count);
        f.metric.push_back(std::move(m));
      }
      out.push_back(std::move(f));
    };
    if (families_.pod_sandboxes && states_.pod_sandboxes) {
      by_state(states_.pod_sandboxes, "pod_sandboxes",
               "Pod sandboxes the daemon knows, by state (crio; not in CRI-O).");
    }
    if (families_.containers && states_.containers) {
      by_state(states_.containers, "containers", "Containers the daemon knows, by state (crio; not in CRI-O).");
    }
    return out;
  }

 private:
  const Families& families_;
  MetricSources sources_;
  mutable std::mutex mutex_;
  StateSources states_;  // guarded by mutex_
};

Metrics::Metrics(const core::Config& config, MetricSources sources)
    : config_(config), registry_(std::make_shared<prometheus::Registry>()), families_(std::make_unique<Families>()) {
  std::vector<std::string> enabled;
  for (const auto& name : config.metrics_collectors) enabled.push_back(core::strip_metric_collector_prefix(name));
  auto on = [&](std::string_view collector) {
    return std::find(enabled.begin(), enabled.end(), collector) != enabled.end();
  };
  auto counter = [&](std::string_view collector, const std::string& help) -> Family<Counter>* {
    if (!on(collector)) return nullptr;
    return &prometheus::BuildCounter().Name(full_name(collector)).Help(help).Register(*registry_);
  };
  auto gauge = [&](std::string_view collector, const std::string& help) -> Family<Gauge>* {
    if (!on(collector)) return nullptr;
    return &prometheus::BuildGauge().Name(full_name(collector)).Help(help).Register(*registry_);
  };
  auto summary = [&](std::string_view collector, const std::string& help) -> Family<Summary>* {
    if (!on(collector)) return nullptr;
    return &prometheus::BuildSummary().Name(full_name(collector)).Help(help).Register(*registry_);
  };
  Families& f = *families_;
  // Help texts say what each is; the deprecated ones name their successor, as CRI-O's do.
  f.operations = counter("operations",
                         "[DEPRECATED: in favour of `operations_total`] Cumulative number of CRI "
                         "operations by operation type.");
  f.operations_latency_microseconds =
      gauge("operations_latency_microseconds",
            "[DEPRECATED: in favour of `operations_latency_seconds`] Latency in microseconds of the last CRI call "
            "of each operation type.");
  f.operations_latency_microseconds_total =
      summary("operations_latency_microseconds_total",
              "[DEPRECATED: in favour of `operations_latency_seconds_total`] Latency in microseconds of CRI "
              "operations by operation type.");
  f.operations_errors = counter("operations_errors",
                                "[DEPRECATED: in favour of `operations_errors_total`] "
                                "Cumulative number of failed CRI operations by operation type.");
  f.image_pulls_by_digest = counter("image_pulls_by_digest",
                                    "[DEPRECATED: in favour of `image_pulls_bytes_total`] "
                                    "Bytes transferred by image pulls by blob digest.");
  f.image_pulls_by_name = counter("image_pulls_by_name",
                                  "[DEPRECATED: in favour of `image_pulls_bytes_total`] "
                                  "Bytes transferred by image pulls by image name.");
  f.image_pulls_by_name_skipped = counter("image_pulls_by_name_skipped",
                                          "[DEPRECATED: in favour of `image_pulls_skipped_bytes_total`] Bytes "
                                          "not transferred because the image was present, by image name.");
  f.image_pulls_failures = counter("image_pulls_failures",
                                   "[DEPRECATED: in favour of `image_pulls_failure_total`] "
                                   "Cumulative number of failed image pulls by name and error.");
  f.image_pulls_successes =
      counter("image_pulls_successes",
              "[DEPRECATED: in favour of `image_pulls_success_total`] Cumulative number of image pulls by name.");
  if (on("image_pulls_layer_size")) {
    f.image_pulls_layer_size = &prometheus::BuildHistogram()
                                    .Name(full_name("image_pulls_layer_size"))
                                    .Help("Bytes transferred by image pulls per layer.")
                                    .Register(*registry_)
                                    .Add({}, layer_size_buckets());
  }
  f.image_layer_reuse = counter("image_layer_reuse",
                                "[DEPRECATED: in favour of `image_layer_reuse_total`] Local "
                                "image layers reused instead of pulled, by name.");
  f.events_dropped = on("containers_events_dropped_total");
  if (on("containers_oom_total")) {
    f.containers_oom_total = &prometheus::BuildCounter()
                                  .Name(full_name("containers_oom_total"))
                                  .Help("Amount of containers killed because they ran out of memory (OOM).")
                                  .Register(*registry_)
                                  .Add({});
  }
  f.containers_oom = counter("containers_oom",
                             "[DEPRECATED: in favour of `containers_oom_count_total`] Containers "
                             "killed because they ran out of memory (OOM), by container name.");
  f.processes_defunct = on("processes_defunct");
  f.pod_sandboxes = on("pod_sandboxes");
  f.containers = on("containers");
  f.operations_total = counter("operations_total", "Cumulative number of CRI operations by operation type.");
  f.operations_latency_seconds =
      gauge("operations_latency_seconds", "Latency in seconds of the last CRI call of each operation type.");
  f.operations_latency_seconds_total =
      summary("operations_latency_seconds_total", "Latency in seconds of CRI operations by operation type.");
  f.operations_errors_total =
      counter("operations_errors_total", "Cumulative number of failed CRI operations by operation type.");
  f.image_pulls_bytes_total = counter("image_pulls_bytes_total", "Bytes transferred by image pulls.");
  f.image_pulls_skipped_bytes_total =
      counter("image_pulls_skipped_bytes_total", "Bytes not transferred because the image was present.");
  f.image_pulls_failure_total =
      counter("image_pulls_failure_total", "Cumulative number of failed image pulls by error.");
  if (on("image_pulls_success_total")) {
    f.image_pulls_success_total = &prometheus::BuildCounter()
                                       .Name(full_name("image_pulls_success_total"))
                                       .Help("Cumulative number of successful image pulls.")
                                       .Register(*registry_)
                                       .Add({});
  }
  f.image_layer_reuse_total =
      counter("image_layer_reuse_total", "Local image layers reused instead of pulled, by name.");
  f.containers_oom_count_total = counter("containers_oom_count_total",
                                         "Containers killed because they ran out of memory (OOM), by container name.");
  // Never incremented: seccomp notifiers are not supported (the annotation is refused).
  f.containers_seccomp_notifier_count_total =
      counter("containers_seccomp_notifier_count_total", "Forbidden system calls by syscall and container name.");
  if (on("default_runtime")) {
    prometheus::BuildGauge()
        .Name(full_name("default_runtime"))
        .Help("Default container runtime configured. Value is always 1.")
        .Register(*registry_)
        .Add({{"runtime", config.default_runtime}})
        .Set(1);
  }
  f.resources_stalled_at_stage =
      counter("resources_stalled_at_stage",
              "Pod or container creations that outlived their caller, by the stage they were at.");

  live_ = std::make_shared<Live>(*families_, std::move(sources));
}

Metrics::~Metrics() = default;

Status Metrics::start() {
  // prometheus-cpp's exposer serves plain HTTP on an IPv4 address; what Debian's
  // civetweb under it cannot serve (TLS, IPv6, a unix socket) goes to MetricsServer.
  const bool tls = !config_.metrics_cert.empty() && !config_.metrics_key.empty();
  std::string ipv4;
  if (!tls) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (::getaddrinfo(config_.metrics_host.c_str(), nullptr, &hints, &found) == 0) {
      char text[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr, text, sizeof text);
      ipv4 = text;
      ::freeaddrinfo(found);
    }
  }
  MetricsServerOptions own;
  own.socket = config_.metrics_socket;
  own.cert = config_.metrics_cert;
  own.key = config_.metrics_key;
  if (!ipv4.empty()) {
    const std::string listen = fmt::format("{}:{}", ipv4, config_.metrics_port);
    try {
      // Two threads: a scrape is short, and Prometheus scrapes one at a time.
      exposer_ = std::make_unique<prometheus::Exposer>(
          std::vector<std::string>{"listening_ports", listen, "num_threads", "2"});
    } catch (const std::exception& e) {
      return error(Code::kUnavailable, "crio.metrics.metrics_port: cannot listen on {} for metrics: {}", listen,
                   e.what());
    }
    exposer_->RegisterCollectable(registry_);
    exposer_->RegisterCollectable(live_);
    auto ports = exposer_->GetListeningPorts();
    port_ = ports.empty() ? static_cast<int>(config_.metrics_port) : ports.front();
  } else {
    own.host = config_.metrics_host;
    own.port = static_cast<int>(config_.metrics_port);
  }
  if (!own.host.empty() || !own.socket.empty()) {
    CRIO_ASSIGN_OR_RETURN(server_, MetricsServer::start(own, [this] { return serialize(); }));
    if (!own.host.empty()) port_ = server_->tcp_port();
  }
  log::info("serving metrics", {{"host", config_.metrics_host},
                                {"port", port_},
                                {"socket", config_.metrics_socket},
                                {"tls", tls ? "yes" : "no"}});
  return ok_status();
}

void Metrics::set_state_sources(StateSources sources) { live_->set_state_sources(std::move(sources)); }

void Metrics::operation_done(const std::string& operation, std::chrono::steady_clock::duration took, bool failed) {
  const Families& f = *families_;
  const double seconds = std::chrono::duration<double>(took).count();
  const double micros = seconds * 1e6;
  if (f.operations) f.operations->Add({{"operation_type", operation}}).Increment();
  if (f.operations_total) f.operations_total->Add({{"operation", operation}}).Increment();
  if (f.operations_latency_microseconds)
    f.operations_latency_microseconds->Add({{"operation_type", operation}}).Set(micros);
  if (f.operations_latency_seconds) f.operations_latency_seconds->Add({{"operation", operation}}).Set(seconds);
  if (f.operations_latency_microseconds_total) {
    f.operations_latency_microseconds_total
        ->Add({{"operation_type", operation}}, quantiles(), kSummaryMaxAge, kSummaryAgeBuckets)
        .Observe(micros);
  }
  if (f.operations_latency_seconds_total) {
    f.operations_latency_seconds_total->Add({{"operation", operation}}, quantiles(), kSummaryMaxAge, kSummaryAgeBuckets)
        .Observe(seconds);
  }
  if (!failed) return;
  if (f.operations_errors) f.operations_errors->Add({{"operation_type", operation}}).Increment();
  if (f.operations_errors_total) f.operations_errors_total->Add({{"operation", operation}}).Increment();
}

void Metrics::image_pull_succeeded(const std::string& name) {
  const Families& f = *families_;
  if (f.image_pulls_successes) f.image_pulls_successes->Add({{"name", name}}).Increment();
  if (f.image_pulls_success_total) f.image_pulls_success_total->Increment();
}

void Metrics::image_pull_failed(const std::string& name, const std::string& error_message) {
  const Families& f = *families_;
  const std::string label = pull_failure_label(error_message);
  if (f.image_pulls_failures) f.image_pulls_failures->Add({{"name", name}, {"error", label}}).Increment();
  if (f.image_pulls_failure_total) f.image_pulls_failure_total->Add({{"error", label}}).Increment();
}

void Metrics::image_pull_skipped(const std::string& name, int64_t image_bytes) {
  const Families& f = *families_;
  const auto bytes = static_cast<double>(image_bytes);
  if (f.image_pulls_by_name_skipped) f.image_pulls_by_name_skipped->Add({{"name", name}}).Increment(bytes);
  if (f.image_pulls_skipped_bytes_total)
    f.image_pulls_skipped_bytes_total->Add({{"size", size_bucket(bytes)}}).Increment(bytes);
}

void Metrics::blob_bytes(const std::string& name, const std::string& digest, const std::string& media_type,
                         int64_t blob_size, int64_t image_size, uint64_t bytes) {
  const Families& f = *families_;
  const auto n = static_cast<double>(bytes);
  if (f.image_pulls_by_digest) {
    f.image_pulls_by_digest
        ->Add({{"name", name}, {"digest", digest}, {"mediatype", media_type}, {"size", std::to_string(blob_size)}})
        .Increment(n);
  }
  if (f.image_pulls_by_name)
    f.image_pulls_by_name->Add({{"name", name}, {"size", std::to_string(image_size)}}).Increment(n);
  if (f.image_pulls_bytes_total) {
    f.image_pulls_bytes_total->Add({{"mediatype", media_type}, {"size", size_bucket(static_cast<double>(blob_size))}})
        .Increment(n);
  }
}

void Metrics::layer_done(int64_t size) {
  if (families_->image_pulls_layer_size) families_->image_pulls_layer_size->Observe(static_cast<double>(size));
}

void Metrics::layer_reused(const std::string& name, const std::string& digest) {
  const Families& f = *families_;
  // CRI-O's label value: the image name and the blob digest joined by '@'.
  const std::string layer = name + "@" + digest;
  if (f.image_layer_reuse) f.image_layer_reuse->Add({{"name", layer}}).Increment();
  if (f.image_layer_reuse_total) f.image_layer_reuse_total->Add({{"name", layer}}).Increment();
}

void Metrics::container_oom_killed(const std::string& name) {
  const Families& f = *families_;
  if (f.containers_oom_total) f.containers_oom_total->Increment();
  if (f.containers_oom) f.containers_oom->Add({{"name", name}}).Increment();
  if (f.containers_oom_count_total) f.containers_oom_count_total->Add({{"name", name}}).Increment();
}

void Metrics::resource_stalled_at_stage(const std::string& stage) {
  if (families_->resources_stalled_at_stage) families_->resources_stalled_at_stage->Add({{"stage", stage}}).Increment();
}

std::string Metrics::serialize() const {
  auto families = registry_->Collect();
  auto live = live_->Collect();
  families.insert(families.end(), live.begin(), live.end());
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace crio::daemon
