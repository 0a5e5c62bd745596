// crio-bench: drives any CRI v1 endpoint through a named scenario and prints the
// samples and their summary as JSON on stdout (progress and errors go to stderr).

#include "scenarios.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <string_view>

namespace crio::bench {
namespace {

void usage(FILE* out) {
  fmt::print(out,
             "usage: crio-bench --endpoint unix:///path.sock SCENARIO [options]\n"
             "\n"
             "options:\n"
             "  --endpoint URI       CRI endpoint (unix:///... or a socket path)\n"
             "  --image REF          image for the image scenarios\n"
             "  --runs N             recorded rounds (default 5)\n"
             "  --parallel P         operations started together in each round (default 1)\n"
             "  --warmup N           unrecorded rounds first (default 0)\n"
             "  --timeout SECONDS    deadline of each CRI call (default 300)\n"
             "  --daemon-pid PID     sample this process's CPU time and RSS around each round\n"
             "  --between CMD        shell command run untimed after each round (env BENCH_ROUND)\n"
             "  --keep-image         pull: keep the image between rounds (warm pulls)\n"
             "  --pods N             pods-memory: pods created and held at once (default 100)\n"
             "  --pod-procs TEXT     pods-memory: count the processes whose command line contains TEXT\n"
             "                       and their descendants (not the daemon, not crio-bench's ancestors)\n"
             "  --settle-ms MS       pods-memory: wait before reading memory (default 1000)\n"
             "  --pretty             indent the JSON\n"
             "\nscenarios:\n");
  for (const auto& s : scenarios()) fmt::print(out, "  {:<14} {}\n", s.name, s.help);
}

bool parse_int(std::string_view text, int& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// Returns an error message, or nullopt when the options are complete.
std::optional<std::string> parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    std::string_view value;
    if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string_view::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    auto next = [&]() -> std::optional<std::string_view> {
      if (!value.empty()) return value;
      if (i + 1 >= argc) return std::nullopt;
      return std::string_view(argv[++i]);
    };
    auto integer = [&](int& field, int min) -> std::optional<std::string> {
      auto v = next();
      if (!v || !parse_int(*v, field) || field < min)
        return fmt::format("{} needs an integer >= {}", a, min);
      return std::nullopt;
    };
    std::optional<std::string> err;
    if (a == "--help" || a == "-h") {
      usage(stdout);
      std::exit(0);
    } else if (a == "--endpoint") {
      auto v = next();
      if (!v) return "--endpoint needs a value";
      o.endpoint = *v;
    } else if (a == "--image") {
      auto v = next();
      if (!v) return "--image needs a value";
      o.image = *v;
    } else if (a == "--between") {
      auto v = next();
      if (!v) return "--between needs a value";
      o.between_cmd = *v;
    } else if (a == "--pod-procs") {
      auto v = next();
      if (!v) return "--pod-procs needs a value";
      o.pod_procs = *v;
    } else if (a == "--pods") {
      err = integer(o.pods, 1);
    } else if (a == "--settle-ms") {
      err = integer(o.settle_ms, 0);
    } else if (a == "--runs") {
      err = integer(o.runs, 1);
    } else if (a == "--parallel") {
      err = integer(o.parallel, 1);
    } else if (a == "--warmup") {
      err = integer(o.warmup, 0);
    } else if (a == "--timeout") {
      err = integer(o.timeout_s, 1);
    } else if (a == "--daemon-pid") {
      int pid = 0;
      err = integer(pid, 1);
      o.daemon_pid = pid;
    } else if (a == "--keep-image") {
      o.keep_image = true;
    } else if (a == "--pretty") {
      o.pretty = true;
    } else if (a.rfind("-", 0) == 0) {
      return fmt::format("unknown option {}", a);
    } else if (o.scenario.empty()) {
      o.scenario = a;
    } else {
      return fmt::format("unexpected argument {}", a);
    }
    if (err) return err;
  }
  if (o.endpoint.empty()) return "--endpoint is required";
  if (o.scenario.empty()) return "no scenario given";
  if (!find_scenario(o.scenario)) return fmt::format("unknown scenario {}", o.scenario);
  return std::nullopt;
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json runtime_version(CriClient& client) {
  v1::VersionRequest req;
  v1::VersionResponse resp;
  auto ctx = client.context();
  grpc::Status s = client.runtime().Version(ctx.get(), req, &resp);
  if (!s.ok()) return {{"error", describe(s)}};
  return {{"name", resp.runtime_name()}, {"version", resp.runtime_version()}, {"api", resp.runtime_api_version()}};
}

int run(int argc, char** argv) {
  Options o;
  if (auto err = parse(argc, argv, o)) {
    fmt::print(stderr, "crio-bench: {}\n\n", *err);
    usage(stderr);
    return 2;
  }
  CriClient client(o.endpoint, std::chrono::seconds(o.timeout_s));
  if (!client.wait_ready(std::chrono::seconds(10))) {
    fmt::print(stderr, "crio-bench: cannot connect to {}\n", client.endpoint());
    return 1;
  }
  DaemonProbe probe(o.daemon_pid);
  Sampler sampler(probe);
  Context ctx{o, client, sampler};
  nlohmann::json report = {
      {"scenario", o.scenario},
      {"endpoint", client.endpoint()},
      {"started", utc_now()},
      {"runtime", runtime_version(client)},
      {"options", {{"image", o.image}, {"runs", o.runs}, {"parallel", o.parallel}, {"warmup", o.warmup},
                   {"keep_image", o.keep_image}, {"pods", o.pods}}},
  };
  auto start = Clock::now();
  find_scenario(o.scenario)->run(ctx);
  report["wall_ms"] = ms_since(start);
  report["operations"] = sampler.to_json();
  if (probe.enabled()) report["daemon"] = probe.to_json();
  for (auto& [k, v] : ctx.extra.items()) report[k] = v;
  if (sampler.aborted()) report["aborted"] = *sampler.aborted();

  bool failed = report.contains("aborted");
  for (auto& [name, series] : report["operations"].items()) {
    if (series["errors"].get<size_t>() > 0) failed = true;
  }
  std::cout << report.dump(o.pretty ? 2 : -1) << std::endl;
  if (report.contains("aborted")) fmt::print(stderr, "crio-bench: aborted: {}\n", report["aborted"].get<std::string>());
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace crio::bench

int main(int argc, char** argv) { return crio::bench::run(argc, argv); }
