// The Prometheus metrics: a real crio serving them on a free port, read with curl,
// checked with promtool and scraped by a real Prometheus server; the [crio.metrics]
// options each observed or refused at start-up.

#include "metrics.hpp"
#include "container_fixture.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

using namespace crio::test::containers;
using crio::test::CommandResult;
using crio::test::run_command;

namespace {

// A TCP port nothing listens on right now (the kernel's pick for port 0).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool port_listens(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string curl_metrics(int port) {
  CommandResult r =
      run_command({"/usr/bin/curl", "-sf", "--max-time", "10", fmt::format("http://127.0.0.1:{}/metrics", port)});
  INFO("curl: " << r.err);
  REQUIRE(r.exit_code == 0);
  return r.out;
}

// promtool reads the exposition from stdin.
CommandResult promtool_check(const crio::test::TempDir& dir, const std::string& text) {
  const std::string file = dir / "metrics.txt";
  crio::test::write_file(file, text);
  return run_command({"/bin/sh", "-c", "/usr/bin/promtool check metrics < " + file});
}

std::string metrics_toml(int port, const std::string& extra = "") {
  return fmt::format("[crio.metrics]\nenable_metrics = true\nmetrics_port = {}\n{}", port, extra);
}

void version_calls(const crio::test::Daemon& daemon, int n) {
  auto stub = daemon.runtime_stub();
  for (int i = 0; i < n; ++i) {
    grpc::ClientContext context;
    crio::test::set_deadline(context);
    v1::VersionRequest request;
    v1::VersionResponse response;
    REQUIRE(stub->Version(&context, request, &response).ok());
  }
}

// The value of the sample `series` (name and labels as printed), or -1 when absent.
double sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

// The sum of the samples whose line starts with `prefix` (a name and some labels).
double sum_of(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::string line;
  double sum = 0;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

// CRI-O's collectors whose names promtool's linter accepts.
// (All but operations_latency_seconds_total, a summary whose name ends in "_total".)
const std::vector<std::string> kCurrentCollectors = {
    "operations_total",
    "operations_latency_seconds",
    "image_pulls_skipped_bytes_total",
    "image_pulls_failure_total",
    "image_pulls_success_total",
    "image_layer_reuse_total",
    "image_pulls_layer_size",
    "containers_events_dropped_total",
    "containers_oom_total",
    "containers_oom_count_total",
    "processes_defunct",
    "resources_stalled_at_stage",
};

// The names promtool's linter objects to, as CRI-O names them: counters without
// "_total", summaries with it, units in microseconds.
const std::set<std::string> kCriONamingLint = {
    "container_runtime_crio_operations",
    "container_runtime_crio_operations_errors",
    "container_runtime_crio_operations_latency_microseconds",
    "container_runtime_crio_operations_latency_microseconds_total",
    "container_runtime_crio_operations_latency_seconds_total",
    "container_runtime_crio_image_pulls_by_digest",
    "container_runtime_crio_image_pulls_by_name",
    "container_runtime_crio_image_pulls_by_name_skipped",
    "container_runtime_crio_image_pulls_failures",
    "container_runtime_crio_image_pulls_successes",
    "container_runtime_crio_image_layer_reuse",
    "container_runtime_crio_containers_oom",
};

}  // namespace

TEST_CASE("enable_metrics serves CRI-O's operation metrics on metrics_port, and promtool accepts them",
          "[daemon][metrics]") {
  const int port = free_port();
  crio::test::Daemon daemon(metrics_toml(port));
  version_calls(daemon, 3);
  {
    // A failing call is counted as an error of its operation.
    auto stub = daemon.runtime_stub();
    grpc::ClientContext context;
    crio::test::set_deadline(context);
    v1::ContainerStatusRequest request;
    request.set_container_id("no-such-container");
    v1::ContainerStatusResponse response;
    REQUIRE_FALSE(stub->ContainerStatus(&context, request, &response).ok());
  }
  const std::string text = curl_metrics(port);
  INFO(text);
  CHECK(sample(text, "container_runtime_crio_operations_total{operation=\"Version\"}") == 3);
  CHECK(sample(text, "container_runtime_crio_operations{operation_type=\"Version\"}") == 3);
  CHECK(sample(text, "container_runtime_crio_operations_errors_total{operation=\"ContainerStatus\"}") == 1);
  CHECK(sample(text, "container_runtime_crio_operations_errors{operation_type=\"ContainerStatus\"}") == 1);
  CHECK(sample(text, "container_runtime_crio_operations_errors_total{operation=\"Version\"}") == -1);
  CHECK(sample(text, "container_runtime_crio_operations_latency_seconds{operation=\"Version\"}") > 0);
  CHECK(sample(text, "container_runtime_crio_operations_latency_seconds_total_count{operation=\"Version\"}") == 3);
  CHECK_THAT(text, Catch::Contains("container_runtime_crio_operations_latency_microseconds_total{operation_type="
                                   "\"Version\",quantile=\"0.99\"}"));
  CHECK_THAT(text, Catch::Contains("# TYPE container_runtime_crio_operations_latency_seconds_total summary"));
  CHECK(sample(text, "container_runtime_crio_containers_events_dropped_total") == 0);
  CHECK(sample(text, "container_runtime_crio_processes_defunct") >= 0);
  CHECK(sample(text, "container_runtime_crio_containers_oom_total") == 0);
  CHECK(sample(text, "container_runtime_crio_image_pulls_success_total") == 0);
  CHECK(sample(text, "container_runtime_crio_default_runtime{runtime=\"runc\"}") == 1);
  CHECK(sample(text, "container_runtime_crio_pod_sandboxes{state=\"ready\"}") == 0);
  CHECK(sample(text, "container_runtime_crio_containers{state=\"running\"}") == 0);

  // The whole default set parses (promtool exits 1 on a parse error, 3 on lint
  // problems alone); the linter objects only to how CRI-O names some of its metrics.
  crio::test::TempDir dir("metrics-promtool");
  CommandResult all = promtool_check(dir, text);
  INFO("promtool: " << all.out << all.err);
  CHECK((all.exit_code == 0 || all.exit_code == 3));
  std::istringstream complaints(all.out + all.err);
  std::string line;
  while (std::getline(complaints, line)) {
    if (line.empty()) continue;
    INFO(line);
    CHECK(kCriONamingLint.count(line.substr(0, line.find(' '))) == 1);
  }
}

TEST_CASE("metrics_collectors serves only the named collectors, and promtool accepts CRI-O's current names",
          "[daemon][metrics]") {
  const int port = free_port();
  std::string list;
  for (const auto& c : kCurrentCollectors) list += (list.empty() ? "\"" : ", \"") + c + "\"";
  // A name may carry CRI-O's prefixes.
  list += ", \"container_runtime_crio_operations_errors_total\", \"crio_image_pulls_bytes_total\"";
  crio::test::Daemon daemon(metrics_toml(port, "metrics_collectors = [" + list + "]\n"));
  version_calls(daemon, 2);
  const std::string text = curl_metrics(port);
  INFO(text);
  CHECK(sample(text, "container_runtime_crio_operations_total{operation=\"Version\"}") == 2);
  CHECK_THAT(text, !Catch::Contains("container_runtime_crio_operations_latency_seconds_total"));
  CHECK_THAT(text, !Catch::Contains("container_runtime_crio_operations{"));
  CHECK_THAT(text, !Catch::Contains("container_runtime_crio_operations_latency_microseconds"));
  CHECK_THAT(text, !Catch::Contains("container_runtime_crio_image_pulls_by_digest"));

  crio::test::TempDir dir("metrics-promtool");
  CommandResult r = promtool_check(dir, text);
  INFO("promtool: " << r.out << r.err);
  CHECK(r.exit_code == 0);
}

TEST_CASE("without enable_metrics nothing listens on metrics_port", "[daemon][metrics]") {
  const int port = free_port();
  crio::test::Daemon daemon(fmt::format("[crio.metrics]\nenable_metrics = false\nmetrics_port = {}\n", port));
  version_calls(daemon, 1);
  CHECK_FALSE(port_listens(port));
}

TEST_CASE("a Prometheus server scrapes crio's metrics and answers a query for the operations counter",
          "[daemon][metrics]") {
  const int port = free_port();
  crio::test::Daemon daemon(metrics_toml(port));
  version_calls(daemon, 5);

  crio::test::TempDir dir("metrics-prometheus");
  const int web_port = free_port();
  crio::test::write_file(dir / "prometheus.yml",
                         fmt::format("global:\n  scrape_interval: 1s\n"
                                     "scrape_configs:\n  - job_name: crio\n    static_configs:\n"
                                     "      - targets: ['127.0.0.1:{}']\n",
                                     port));
  // Killed and reaped by the Child's destructor, whatever the outcome.
  crio::test::Child prometheus(
      {"/usr/bin/prometheus", "--config.file=" + (dir / "prometheus.yml"), "--storage.tsdb.path=" + (dir / "data"),
       fmt::format("--web.listen-address=127.0.0.1:{}", web_port)},
      dir / "prometheus.log");
  nlohmann::json answer;
  bool answered = crio::test::eventually(
      [&] {
        CommandResult r = run_command({"/usr/bin/curl", "-sf", "--max-time", "5",
                                       fmt::format("http://127.0.0.1:{}/api/v1/query", web_port), "--data-urlencode",
                                       "query=container_runtime_crio_operations_total{operation=\"Version\"}"});
        if (r.exit_code != 0) return false;
        answer = nlohmann::json::parse(r.out, nullptr, false);
        return answer.is_object() && answer["status"] == "success" && !answer["data"]["result"].empty();
      },
      std::chrono::seconds(60));
  INFO("prometheus log: " << crio::test::read_file(dir / "prometheus.log"));
  INFO("answer: " << answer.dump());
  REQUIRE(answered);
  const auto& series = answer["data"]["result"][0];
  CHECK(series["metric"]["job"] == "crio");
  CHECK(series["metric"]["operation"] == "Version");
  CHECK(std::stod(series["value"][1].get<std::string>()) >= 5);
  prometheus.signal(SIGTERM);
  prometheus.wait(std::chrono::seconds(20));
}

TEST_CASE("image pulls are counted in bytes, layers and successes, and a failed pull by reason",
          "[daemon][metrics][image]") {
  const int port = free_port();
  Env env(metrics_toml(port));
  // The Env pulled test/multi:v1 once; a second pull finds it present.
  env.pull(env.image);
  {
    grpc::ClientContext context;
    crio::test::set_deadline(context, 30);
    v1::PullImageRequest request;
    request.mutable_image()->set_image(env.registry.host() + "/test/no-such-image:v1");
    v1::PullImageResponse response;
    REQUIRE_FALSE(env.daemon->image_stub()->PullImage(&context, request, &response).ok());
  }
  const std::string text = curl_metrics(port);
  INFO(text);
  CHECK(sample(text, "container_runtime_crio_image_pulls_success_total") == 2);
  CHECK(sample(text, "container_runtime_crio_image_pulls_successes{name=\"" + env.image + "\"}") == 2);
  CHECK_THAT(text, Catch::Contains("container_runtime_crio_image_pulls_bytes_total{mediatype=\"application/"));
  CHECK(sample(text, "container_runtime_crio_image_pulls_layer_size_count") >= 1);
  CHECK(sum_of(text, "container_runtime_crio_image_pulls_skipped_bytes_total{size=\">") > 1000);
  CHECK(sum_of(text, "container_runtime_crio_image_pulls_bytes_total{") > 1000);
  CHECK_THAT(text, Catch::Contains("container_runtime_crio_image_layer_reuse_total{name=\"" + env.image + "@sha256:"));
  CHECK_THAT(text, Catch::Contains("container_runtime_crio_image_pulls_by_digest{digest=\"sha256:"));
  CHECK(sample(text, "container_runtime_crio_image_pulls_failure_total{error=\"MANIFEST_UNKNOWN\"}") == 1);
  CHECK(sample(text, "container_runtime_crio_operations_errors_total{operation=\"PullImage\"}") == 1);
}

TEST_CASE("a container killed for memory is counted in total and by its name", "[daemon][metrics][container]") {
  const int port = free_port();
  Env env(metrics_toml(port));
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("oom", "runc")};
  auto config = Client::config("hog", env.image, {"/bin/busybox", "dd", "if=/dev/zero", "of=/dev/null", "bs=64M"});
  config.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(16 << 20);
  std::string id = client.create_ok(pod.id, config);
  REQUIRE(client.start(id).ok());
  auto status = client.wait_state(id, v1::CONTAINER_EXITED);
  REQUIRE(status.reason() == "OOMKilled");
  std::string text;
  CHECK(crio::test::eventually([&] {
    text = curl_metrics(port);
    return sample(text, "container_runtime_crio_containers_oom_total") == 1;
  }));
  INFO(text);
  // crio's own counts by state.
  CHECK(sample(text, "container_runtime_crio_pod_sandboxes{state=\"ready\"}") == 1);
  CHECK(sample(text, "container_runtime_crio_pod_sandboxes{state=\"notready\"}") == 0);
  CHECK(sample(text, "container_runtime_crio_containers{state=\"exited\"}") == 1);
  CHECK(sample(text, "container_runtime_crio_containers{state=\"running\"}") == 0);
  // By the container's full name, as CRI-O labels it.
  CHECK(sum_of(text, "container_runtime_crio_containers_oom_count_total{name=\"k8s_hog_oom_") == 1);
  CHECK(sum_of(text, "container_runtime_crio_containers_oom{name=\"k8s_hog_oom_") == 1);
  (void)client.remove(id);
}

TEST_CASE("Metrics counts a creation stalled at a stage, and defunct processes from /proc", "[daemon][metrics]") {
  crio::core::Config config;
  crio::daemon::Metrics metrics(config);
  metrics.resource_stalled_at_stage("container runtime creation");
  metrics.resource_stalled_at_stage("container runtime creation");
  metrics.resource_stalled_at_stage("pod network creation");
  const std::string text = metrics.serialize();
  INFO(text);
  CHECK_THAT(text, Catch::Contains("# TYPE container_runtime_crio_resources_stalled_at_stage counter"));
  CHECK(sample(text, "container_runtime_crio_resources_stalled_at_stage{stage=\"container runtime creation\"}") == 2);
  CHECK(sample(text, "container_runtime_crio_resources_stalled_at_stage{stage=\"pod network creation\"}") == 1);

  // A child that has exited and is not reaped yet is a zombie.
  const uint64_t before = crio::daemon::defunct_processes();
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  REQUIRE(crio::test::eventually([&] { return crio::daemon::defunct_processes() >= before + 1; }));
  ::waitpid(child, nullptr, 0);

  CHECK(crio::daemon::pull_failure_label("image x: manifest unknown: manifest unknown") == "MANIFEST_UNKNOWN");
  CHECK(crio::daemon::pull_failure_label("Failed to connect to 127.0.0.1 port 1: Connection refused") ==
        "CONNECTION_REFUSED");
  CHECK(crio::daemon::pull_failure_label("something else") == "UNKNOWN");
  CHECK(crio::daemon::size_bucket(0) == ">0 B");
  CHECK(crio::daemon::size_bucket(2'000'000) == ">1 MiB");
  CHECK(crio::daemon::size_bucket(20e9) == ">10 GiB");
}

TEST_CASE("metrics options that cannot be served stop start-up, naming the key", "[daemon][metrics]") {
  struct Case {
    std::string toml;
    std::string message;
  };
  const int port = free_port();
  crio::test::TempDir dir("metrics-refusals");
  crio::test::write_file(dir / "not-a-cert.pem", "hello\n");
  std::vector<Case> cases = {
      {"metrics_collectors = [\"operations\", \"bogus\"]\n",
       "crio.metrics.metrics_collectors: \"bogus\" is not a metrics collector"},
      {"metrics_cert = \"" + (dir / "not-a-cert.pem") + "\"\nmetrics_key = \"" + (dir / "not-a-cert.pem") + "\"\n",
       "crio.metrics.metrics_cert: " + (dir / "not-a-cert.pem") + ": no PEM certificate"},
      {"metrics_host = \"no-such-host.invalid\"\n", "crio.metrics.metrics_host: cannot resolve no-such-host.invalid"},
  };
  for (const auto& c : cases) {
    crio::test::Daemon daemon(metrics_toml(port, c.toml), false);
    INFO(c.toml);
    CHECK(daemon.start_and_wait_exit() != 0);
    CHECK_THAT(daemon.log(), Catch::Contains(c.message));
  }

  // A port in use: the daemon does not start rather than run without its metrics.
  crio::test::Daemon first(metrics_toml(port));
  crio::test::Daemon second(metrics_toml(port), false);
  CHECK(second.start_and_wait_exit() != 0);
  CHECK_THAT(second.log(),
             Catch::Contains("crio.metrics.metrics_port: cannot listen on 127.0.0.1:" + std::to_string(port)));
}

TEST_CASE("metrics_cert and metrics_key serve metrics over TLS, and a changed pair is used without a restart",
          "[daemon][metrics]") {
  crio::test::TempDir dir("metrics-tls");
  auto make_pair = [&](const std::string& cn) {
    CommandResult r = run_command({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                                   "-subj", "/CN=" + cn, "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                                   "-keyout", dir / "key.pem", "-out", dir / "cert.pem"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    std::filesystem::copy_file(dir / "cert.pem", dir / (cn + ".pem"),
                               std::filesystem::copy_options::overwrite_existing);
  };
  make_pair("first");
  const int port = free_port();
  crio::test::Daemon daemon(metrics_toml(
      port, "metrics_cert = \"" + (dir / "cert.pem") + "\"\nmetrics_key = \"" + (dir / "key.pem") + "\"\n"));
  version_calls(daemon, 1);
  const std::string url = fmt::format("https://localhost:{}/metrics", port);
  auto curl_with_ca = [&](const std::string& ca) {
    return run_command({"/usr/bin/curl", "-sf", "--max-time", "10", "--cacert", ca, url});
  };
  CommandResult first = curl_with_ca(dir / "first.pem");
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(sample(first.out, "container_runtime_crio_operations_total{operation=\"Version\"}") == 1);
  // Plain HTTP gets no metrics from the TLS port.
  CHECK(run_command({"/usr/bin/curl", "-sf", "--max-time", "5", fmt::format("http://127.0.0.1:{}/metrics", port)})
            .exit_code != 0);
  // TLS 1.1 is refused.
  CHECK(run_command({"/usr/bin/curl", "-sfk", "--max-time", "5", "--tlsv1.1", "--tls-max", "1.1", url}).exit_code != 0);

  // A new pair in place of the old one is served from the next connection on.
  make_pair("second");
  CommandResult second = curl_with_ca(dir / "second.pem");
  INFO(second.err);
  CHECK(second.exit_code == 0);
  CHECK(curl_with_ca(dir / "first.pem").exit_code != 0);

  // With the certificate gone, the pair in use stays in use.
  std::filesystem::remove(dir / "cert.pem");
  CHECK(curl_with_ca(dir / "second.pem").exit_code == 0);
}

TEST_CASE("without the metrics_cert and metrics_key files, a self-signed pair is written there and served",
          "[daemon][metrics]") {
  crio::test::TempDir dir("metrics-selfsigned");
  const std::string cert = dir / "sub/dir/cert.pem";
  const std::string key = dir / "another/dir/key.pem";
  const int port = free_port();
  crio::test::Daemon daemon(metrics_toml(port, "metrics_cert = \"" + cert + "\"\nmetrics_key = \"" + key + "\"\n"));
  version_calls(daemon, 1);
  struct stat st {};
  REQUIRE(::stat(key.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat((dir / "sub/dir").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  CommandResult r = run_command({"/usr/bin/curl", "-sf", "--max-time", "10", "--cacert", cert,
                                 fmt::format("https://localhost:{}/metrics", port)});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(sample(r.out, "container_runtime_crio_operations_total{operation=\"Version\"}") == 1);
}

TEST_CASE("metrics_socket serves metrics on a unix socket next to the TCP port", "[daemon][metrics]") {
  crio::test::TempDir dir("metrics-socket");
  const std::string socket = dir / "run/metrics.sock";
  // A socket file left by an earlier run, with nobody listening, is replaced.
  std::filesystem::create_directories(dir / "run");
  {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    ::close(fd);
  }
  const int port = free_port();
  {
    crio::test::Daemon daemon(metrics_toml(port, "metrics_socket = \"" + socket + "\"\n"));
    version_calls(daemon, 2);
    CommandResult r =
        run_command({"/usr/bin/curl", "-sf", "--max-time", "10", "--unix-socket", socket, "http://localhost/metrics"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(sample(r.out, "container_runtime_crio_operations_total{operation=\"Version\"}") == 2);
    CHECK(sample(curl_metrics(port), "container_runtime_crio_operations_total{operation=\"Version\"}") == 2);
    // Only /metrics is served.
    CHECK(run_command({"/usr/bin/curl", "-sf", "--unix-socket", socket, "http://localhost/other"}).exit_code != 0);
    daemon.stop();
  }
  // A graceful stop removes the socket.
  CHECK_FALSE(std::filesystem::exists(socket));
}

TEST_CASE("metrics_host may be an IPv6 address", "[daemon][metrics]") {
  if (crio::test::read_file("/proc/net/if_inet6").find("00000000000000000000000000000001") == std::string::npos) {
    WARN("no IPv6 loopback on this host; skipped");
    return;
  }
  const int port = free_port();
  crio::test::Daemon daemon(metrics_toml(port, "metrics_host = \"::1\"\n"));
  version_calls(daemon, 1);
  CommandResult r =
      run_command({"/usr/bin/curl", "-sf", "--max-time", "10", fmt::format("http://[::1]:{}/metrics", port)});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(sample(r.out, "container_runtime_crio_operations_total{operation=\"Version\"}") == 1);
  CHECK_FALSE(port_listens(port));  // not on 127.0.0.1
}

TEST_CASE("the Grafana dashboard in packaging/ queries only metrics the daemon serves", "[daemon][metrics]") {
  crio::core::Config config;
  crio::daemon::Metrics metrics(config, crio::daemon::MetricSources{.events_dropped = [] { return uint64_t{0}; }});
  metrics.set_state_sources({.pod_sandboxes =
                                 [] {
                                   return crio::daemon::StateCounts{{"ready", 1}};
                                 },
                             .containers =
                                 [] {
                                   return crio::daemon::StateCounts{{"running", 1}};
                                 }});
  metrics.resource_stalled_at_stage("x");  // a family with no series is not printed
  metrics.container_oom_killed("x");
  metrics.image_pull_failed("x", "manifest unknown");
  metrics.image_pull_skipped("x", 1);
  metrics.layer_reused("x", "sha256:0");
  metrics.blob_bytes("x", "sha256:0", "application/vnd.oci.image.layer.v1.tar+gzip", 1, 1, 1);
  metrics.operation_done("Version", std::chrono::milliseconds(1), true);
  const std::string served = metrics.serialize();

  const std::string text =
      crio::test::read_file(std::string(CRIO_SOURCE_DIR) + "/packaging/grafana/crio-dashboard.json");
  auto dashboard = nlohmann::json::parse(text);
  REQUIRE(dashboard["panels"].size() >= 10);
  std::set<std::string> names;
  std::regex metric_name("container_runtime_crio_[a-z_]+");
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel["targets"]) {
      std::string expr = target["expr"];
      for (std::sregex_iterator it(expr.begin(), expr.end(), metric_name), end; it != end; ++it)
        names.insert(it->str());
    }
  }
  REQUIRE(names.size() >= 10);
  for (std::string name : names) {
    INFO(name);
    for (std::string suffix : {"_bucket", "_sum", "_count"}) {
      if (name.size() > suffix.size() && name.ends_with(suffix) &&
          served.find("# TYPE " + name + " ") == std::string::npos)
        name.resize(name.size() - suffix.size());
    }
    CHECK(served.find("# TYPE " + name + " ") != std::string::npos);
  }
}
