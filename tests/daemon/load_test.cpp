// Load: eight clients at once, each running pod + container lifecycles with an exec and
// a log read, 800 in all. No call may fail, and what the daemon holds (resident
// memory after each hundred, the peak of its descriptors and threads during it) must be
// as flat at the last hundred as at the first.

#include "container_fixture.hpp"

#include <fmt/format.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <thread>

using namespace crio::test::containers;

namespace {

struct Usage {
  long rss_kib = 0;
  int fds = 0;
  int threads = 0;
  std::map<std::string, int> thread_names;
};

Usage usage_of(pid_t pid) {
  Usage u;
  for (const auto& line : lines_of(crio::test::read_file("/proc/" + std::to_string(pid) + "/status"))) {
    if (line.rfind("VmRSS:", 0) == 0) u.rss_kib = std::atol(line.c_str() + 6);
    if (line.rfind("Threads:", 0) == 0) u.threads = std::atoi(line.c_str() + 8);
  }
  // Threads and descriptors come and go while this reads them: a vanished entry is skipped.
  const std::string proc = "/proc/" + std::to_string(pid);
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(proc + "/task", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::ifstream in(it->path() / "comm");
    std::string comm;
    if (std::getline(in, comm)) ++u.thread_names[comm];
  }
  for (auto it = std::filesystem::directory_iterator(proc + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++u.fds;
  }
  return u;
}

// gRPC core's own pools (its executor and timer threads) grow and shrink with the
// calls in flight at the moment of a sample; they are bounded by gRPC.
int core_pool(const Usage& u) {
  int n = 0;
  for (const auto& [name, count] : u.thread_names) {
    for (const char* prefix : {"default-executo", "grpc_global_tim", "timer_manager", "event_engine", "resolver-execut"}) {
      if (name.rfind(prefix, 0) == 0) n += count;
    }
  }
  return n;
}

// One lifecycle; returns "" or what went wrong.
std::string lifecycle(Client& client, const Env& env, const std::string& name) {
  const auto request = client.pod_request(name, "runc", /*host_network=*/false);
  grpc::ClientContext run_context;
  crio::test::set_deadline(run_context, 60);
  v1::RunPodSandboxResponse run;
  if (auto s = client.stub->RunPodSandbox(&run_context, request, &run); !s.ok()) return "run pod: " + s.error_message();
  const std::string pod = run.pod_sandbox_id();
  auto fail = [&](const std::string& what) {
    (void)client.remove_pod(pod);
    return name + ": " + what;
  };

  std::string id;
  auto config = Client::config("work", env.image, {"/bin/busybox", "sh", "-c", "echo hello " + name + "; exec sleep 600"});
  if (auto s = client.create(pod, config, &id); !s.ok()) return fail("create: " + s.error_message());
  if (auto s = client.start(id); !s.ok()) return fail("start: " + s.error_message());
  v1::ExecSyncResponse exec;
  if (auto s = client.exec(id, {"/bin/busybox", "echo", "in " + name}, 10, &exec); !s.ok()) {
    return fail("exec: " + s.error_message());
  }
  if (exec.stdout() != "in " + name + "\n" || exec.exit_code() != 0) return fail("exec answered " + exec.stdout());
  const std::string log = client.dir + "/logs/" + name + "/work/0.log";
  if (!crio::test::eventually(
          [&] {
            return log_entries(crio::test::read_file(log), "stdout") == std::vector<std::string>{"F hello " + name};
          },
          std::chrono::seconds(10))) {
    return fail("log: " + crio::test::read_file(log));
  }
  if (auto s = client.stop(id, 0); !s.ok()) return fail("stop: " + s.error_message());
  if (auto s = client.remove(id); !s.ok()) return fail("remove: " + s.error_message());
  if (auto s = client.stop_pod(pod); !s.ok()) return fail("stop pod: " + s.error_message());
  if (auto s = client.remove_pod(pod); !s.ok()) return fail("remove pod: " + s.error_message());
  return {};
}

}  // namespace

TEST_CASE("Eight clients run 800 pod and container lifecycles with exec and logs: no error, no growth",
          "[daemon][container][load]") {
  Env env;
  TestNetwork network(*env.daemon);
  constexpr int kClients = 8, kRounds = 8, kPerRound = 100;
  const pid_t pid = env.daemon->child().pid();

  std::vector<Usage> after_round;
  std::vector<std::string> errors;
  std::mutex errors_mu;
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<int> next{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        Client client(*env.daemon);
        for (int i = next++; i < kPerRound; i = next++) {
          std::string err = lifecycle(client, env, fmt::format("load-{}-{}-{}", round, c, i));
          if (!err.empty()) {
            std::lock_guard lock(errors_mu);
            errors.push_back(err);
          }
        }
      });
    }
    // Descriptors and threads come and go with the calls in flight (gRPC's own pools
    // grow to the clients' concurrency), so each hundred is judged by its peak; memory
    // by what stays after it.
    std::atomic<bool> round_done{false};
    Usage peak;
    std::thread sampler([&] {
      while (!round_done.load()) {
        Usage now = usage_of(pid);
        peak.fds = std::max(peak.fds, now.fds);
        if (now.threads > peak.threads) {
          peak.threads = now.threads;
          peak.thread_names = now.thread_names;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
    for (auto& t : clients) t.join();
    round_done = true;
    sampler.join();
    peak.rss_kib = usage_of(pid).rss_kib;
    after_round.push_back(peak);
  }

  INFO("errors: " << errors.size() << (errors.empty() ? "" : ", first: " + errors.front()));
  CHECK(errors.empty());
  const Usage& first = after_round.front();
  const Usage& last = after_round.back();
  INFO(fmt::format("the first hundred: {} KiB after, at most {} fds and {} threads; the last: {} KiB, {} fds, {} threads",
                   first.rss_kib, first.fds, first.threads, last.rss_kib, last.fds, last.threads));
  auto names = [](const Usage& u) {
    std::string out;
    for (const auto& [name, n] : u.thread_names) out += fmt::format("{}×{} ", name, n);
    return out;
  };
  INFO("threads first: " << names(first) << "; last: " << names(last));
  std::string series;
  for (const auto& u : after_round) series += fmt::format("{}/{}/{} ", u.rss_kib, u.fds, u.threads);
  INFO("KiB/peak fds/peak threads of each hundred: " << series);
  CHECK(last.rss_kib <= first.rss_kib * 11 / 10);
  CHECK(last.fds <= first.fds * 11 / 10);
  // gRPC core's pools are held to a fixed bound here. The daemon's own threads, and
  // gRPC's server threads that run its handlers, must stay flat.
  CHECK(last.threads - core_pool(last) <= (first.threads - core_pool(first)) * 11 / 10);
  for (const auto& u : after_round) CHECK(core_pool(u) <= 16);

  // Nothing is left behind: no pod, no container, no conmon.
  Client client(*env.daemon);
  CHECK(client.list().empty());
  CHECK(processes_mentioning(env.daemon->dir().path() + "/", pid).empty());
}

// The same lifecycles for as long as the environment says, for bench/soak.sh, which
// samples the daemon from outside; hidden, so CTest never runs it. The test writes the
// daemon's pid to CRIO_SOAK_PID_FILE, "<lifecycles> <errors>" to CRIO_SOAK_PROGRESS
// every second, each error as a line to stderr, the idle daemon's figures before and
// after a warm-up minute and after the load ("before|warm|after <rss KiB> <fds>
// <threads> <gRPC core pool threads>")
// to CRIO_SOAK_IDLE, and stops early (cleanly, removing everything) once
// CRIO_SOAK_STOP_FILE exists.
TEST_CASE("Soak: eight clients run pod and container lifecycles for CRIO_SOAK_SECONDS", "[.soak]") {
  auto env_or = [](const char* name, const std::string& fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : fallback;
  };
  const auto duration = std::chrono::seconds(std::stol(env_or("CRIO_SOAK_SECONDS", "1800")));
  const std::string pid_file = env_or("CRIO_SOAK_PID_FILE", "");
  const std::string progress_file = env_or("CRIO_SOAK_PROGRESS", "");
  const std::string stop_file = env_or("CRIO_SOAK_STOP_FILE", "");
  const std::string idle_file = env_or("CRIO_SOAK_IDLE", "");
  const int clients_n = std::stoi(env_or("CRIO_SOAK_CLIENTS", "8"));

  Env env;
  TestNetwork network(*env.daemon);
  const pid_t pid = env.daemon->child().pid();
  if (!pid_file.empty()) crio::test::write_file(pid_file, std::to_string(pid) + "\n");
  std::string idle;
  auto record_idle = [&](const char* when) {
    // Calls just finished still release what they held for a moment.
    std::this_thread::sleep_for(std::chrono::seconds(2));
    Usage u = usage_of(pid);
    idle += fmt::format("{} {} {} {} {}\n", when, u.rss_kib, u.fds, u.threads, core_pool(u));
    if (!idle_file.empty()) crio::test::write_file(idle_file, idle);
  };
  record_idle("before");

  const auto end = std::chrono::steady_clock::now() + duration;
  auto over = [&] {
    return std::chrono::steady_clock::now() >= end || (!stop_file.empty() && std::filesystem::exists(stop_file));
  };
  std::atomic<long> done{0}, failed{0}, next{0};
  std::atomic<bool> finished{false};
  std::string first_error;
  std::mutex errors_mu;
  std::thread reporter([&] {
    while (!finished.load()) {
      if (!progress_file.empty()) {
        crio::test::write_file(progress_file + ".new", fmt::format("{} {}\n", done.load(), failed.load()));
        std::filesystem::rename(progress_file + ".new", progress_file);
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  });
  // The clients run until `until`, then stop and are gone (their connections too).
  auto run_clients = [&](const std::function<bool()>& until) {
    std::vector<std::thread> clients;
    for (int c = 0; c < clients_n; ++c) {
      clients.emplace_back([&, c] {
        Client client(*env.daemon);
        while (!until()) {
          const std::string name = fmt::format("soak-{}-{}", c, next++);
          std::string err = lifecycle(client, env, name);
          // The logs are the kubelet's to remove; over hours they would fill the disk.
          std::error_code ec;
          std::filesystem::remove_all(client.dir + "/logs/" + name, ec);
          ++done;
          if (!err.empty()) {
            ++failed;
            std::lock_guard lock(errors_mu);
            if (first_error.empty()) first_error = err;
            std::cerr << "soak error: " << err << std::endl;
          }
        }
      });
    }
    for (auto& t : clients) t.join();
  };
  // A first minute warms the daemon up (allocator arenas, gRPC's buffers, the CNI
  // plugins' caches); the idle figures after it are what the end is compared with.
  const auto warm_end = std::chrono::steady_clock::now() + std::min<std::chrono::seconds>(duration / 10, std::chrono::seconds(60));
  run_clients([&] { return over() || std::chrono::steady_clock::now() >= warm_end; });
  record_idle("warm");
  run_clients(over);
  record_idle("after");
  finished = true;
  reporter.join();
  if (!progress_file.empty()) crio::test::write_file(progress_file, fmt::format("{} {}\n", done.load(), failed.load()));

  INFO(fmt::format("{} lifecycles, {} failed{}", done.load(), failed.load(),
                   first_error.empty() ? "" : ", the first: " + first_error));
  CHECK(failed == 0);
  CHECK(done > 0);
  Client client(*env.daemon);
  CHECK(client.list().empty());
  CHECK(processes_mentioning(env.daemon->dir().path() + "/", pid).empty());
}
