// The container lifecycle through conmon, against runc and crun alike.

#include <crio/core/fs.hpp>
#include <crio/net/netns.hpp>
#include <crio/oci/cgroup_stats.hpp>
#include <crio/oci/exit_watcher.hpp>

#include "oci_fixture.hpp"

#include <dirent.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <regex>
#include <set>

using crio::Code;
using crio::test::Crun;
using crio::test::OciEnv;
using crio::test::Runc;
using namespace std::chrono_literals;
namespace oci = crio::oci;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// The text of the CRI log lines of one stream, tags kept: "F out", "P part".
std::vector<std::string> stream_entries(const std::string& log, const std::string& stream) {
  static const std::regex re(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}[+-]\d\d:\d\d (stdout|stderr) ([PF]) (.*)$)");
  std::vector<std::string> out;
  for (const auto& line : lines_of(log)) {
    std::smatch m;
    REQUIRE(std::regex_match(line, m, re));
    if (m[1] == stream) out.push_back(m[2].str() + " " + m[3].str());
  }
  return out;
}

// The processes whose command line mentions `needle` (our temp dir: only our conmons).
std::vector<int> processes_mentioning(const std::string& needle) {
  std::vector<int> pids;
  DIR* d = ::opendir("/proc");
  while (dirent* e = ::readdir(d)) {
    int pid = std::atoi(e->d_name);
    if (pid <= 0 || pid == ::getpid()) continue;
    std::ifstream in("/proc/" + std::string(e->d_name) + "/cmdline");
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd.find(needle) != std::string::npos) pids.push_back(pid);
  }
  ::closedir(d);
  return pids;
}

std::vector<std::string> mounts_under(const std::string& dir) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string a, b, c, root, mp;
    s >> a >> b >> c >> root >> mp;
    if (mp.rfind(dir + "/", 0) == 0) out.push_back(mp);
  }
  return out;
}

double median_ms(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

template <typename F>
double time_ms(F&& f) {
  auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEMPLATE_TEST_CASE("a container runs to completion with its exit code and CRI log", "[oci][root]", Runc, Crun) {
  OciEnv<TestType> env;
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::string> exited;
  auto watcher = oci::ExitWatcher::start(env.exit_dir(), [&](const std::string& id) {
    std::lock_guard lock(mu);
    exited.insert(id);
    cv.notify_all();
  });
  REQUIRE_OK(watcher);

  auto pid = env.create("done", env.spec({"/bin/sh", "-c", "echo out; echo err >&2; printf partial; exit 7"}));
  REQUIRE_OK(pid);
  CHECK(*pid > 1);
  auto st = env.runtime.state("done");
  REQUIRE_OK(st);
  CHECK(st->status == oci::ContainerStatus::kCreated);
  CHECK(st->pid == *pid);
  CHECK(env.runtime.read_exit("done").status().code() == Code::kNotFound);

  auto before = std::chrono::system_clock::now();
  REQUIRE_OK(env.runtime.start("done"));
  {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, 10s, [&] { return exited.count("done") > 0; }));
  }
  auto exit = env.runtime.read_exit("done");
  REQUIRE_OK(exit);
  CHECK(exit->exit_code == 7);
  CHECK_FALSE(exit->oom_killed);
  CHECK(exit->finished_at >= before - 1s);
  CHECK(exit->finished_at <= std::chrono::system_clock::now() + 1s);

  std::string log = env.log("done");
  INFO(log);
  CHECK(stream_entries(log, "stdout") == std::vector<std::string>{"F out", "P partial"});
  CHECK(stream_entries(log, "stderr") == std::vector<std::string>{"F err"});

  st = env.runtime.state("done");
  REQUIRE_OK(st);
  CHECK(st->status == oci::ContainerStatus::kStopped);
  REQUIRE_OK(env.runtime.remove("done"));
  CHECK(env.runtime.state("done").status().code() == Code::kNotFound);
  CHECK_FALSE(crio::fs::exists(env.exit_dir() + "/done"));
}

TEMPLATE_TEST_CASE("errors name the container and quote the runtime", "[oci][root]", Runc, Crun) {
  OciEnv<TestType> env;
  auto bad = env.create("badcmd", env.spec({"/bin/no-such-binary"}));
  REQUIRE(bad.ok() == false);
  INFO(bad.status().to_string());
  CHECK_THAT(bad.status().message(), Catch::Contains("badcmd"));
  CHECK_THAT(bad.status().message(), Catch::Contains("no-such-binary"));
  // Nothing half-made: the id is free again and no conmon is left.
  CHECK(env.runtime.containers().empty());
  CHECK(processes_mentioning(env.tmp.path()).empty());

  CHECK(env.runtime.start("nope").code() == Code::kNotFound);
  CHECK(env.runtime.state("nope").status().code() == Code::kNotFound);
  CHECK(env.runtime.remove("nope").ok());

  REQUIRE_OK(env.create("dup", env.spec({"/bin/sleep", "100"})));
  CHECK(env.create("dup", env.spec({"/bin/sleep", "100"})).status().code() == Code::kAlreadyExists);
}

TEMPLATE_TEST_CASE("exec_sync returns output and exit code, and enforces its timeout", "[oci][root]", Runc, Crun) {
  OciEnv<TestType> env;
  REQUIRE_OK(env.run("svc", env.spec({"/bin/sleep", "1000"})));

  auto r = env.runtime.exec_sync("svc", {"/bin/sh", "-c", "echo hi; echo oops >&2; printf tail; exit 3"}, 10s);
  REQUIRE_OK(r);
  CHECK(r->exit_code == 3);
  CHECK(r->out == "hi\ntail");
  CHECK(r->err == "oops\n");
  CHECK_FALSE(r->timed_out);

  auto big = env.runtime.exec_sync("svc", {"/bin/sh", "-c", "seq 1 20000"}, 10s);
  REQUIRE_OK(big);
  CHECK(big->exit_code == 0);
  CHECK(lines_of(big->out).size() == 20000);
  CHECK(lines_of(big->out).back() == "20000");

  auto t0 = std::chrono::steady_clock::now();
  auto slow = env.runtime.exec_sync("svc", {"/bin/sleep", "30"}, 1s);
  auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE_OK(slow);
  CHECK(slow->timed_out);
  CHECK(slow->exit_code == -1);
  CHECK(took < 8s);

  auto missing = env.runtime.exec_sync("svc", {"/bin/nothing-here"}, 5s);
  REQUIRE_FALSE(missing.ok());
  INFO(missing.status().to_string());
  CHECK(missing.status().code() == Code::kNotFound);
  CHECK_THAT(missing.status().message(), Catch::Contains("svc"));
  CHECK_THAT(missing.status().message(), Catch::Contains("/bin/nothing-here"));
  CHECK_THAT(missing.status().message(), !Catch::Contains("level=error"));
  CHECK(env.runtime.exec_sync("ghost", {"/bin/true"}, 1s).status().code() == Code::kNotFound);

  // The container is unaffected by the exec sessions.
  auto st = env.runtime.state("svc");
  REQUIRE_OK(st);
  CHECK(st->status == oci::ContainerStatus::kRunning);
}

TEMPLATE_TEST_CASE("stop escalates to SIGKILL when SIGTERM is ignored", "[oci][root]", Runc, Crun) {
  OciEnv<TestType> env;
  REQUIRE(env.run("stubborn", env.spec({"/bin/sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done"}))
              .ok());
  REQUIRE(crio::test::eventually([&] { return env.log("stubborn").find("ready") != std::string::npos; }));
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE_OK(env.runtime.stop("stubborn", 1000ms));
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took >= 1000ms);
  CHECK(took < 5s);
  auto exit = env.runtime.read_exit("stubborn");
  REQUIRE_OK(exit);
  CHECK(exit->exit_code == 137);
  // Stopping again is a no-op.
  CHECK(env.runtime.stop("stubborn", 1000ms).ok());

  // A process that honours SIGTERM ends with it, well before the timeout.
  REQUIRE(env.run("polite", env.spec({"/bin/sh", "-c", "trap 'exit 0' TERM; echo ready; sleep 1000 & wait"})).ok());
  REQUIRE(crio::test::eventually([&] { return env.log("polite").find("ready") != std::string::npos; }));
  t0 = std::chrono::steady_clock::now();
  REQUIRE_OK(env.runtime.stop("polite", 10s));
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  REQUIRE_OK(env.runtime.read_exit("polite"));
  CHECK(env.runtime.read_exit("polite")->exit_code == 0);
}

TEMPLATE_TEST_CASE("resources reach the container's cgroups", "[oci][root][cgroup]", Runc, Crun) {
  OciEnv<TestType> env;
  auto s = env.spec({"/bin/sleep", "1000"});
  s.resources.memory.limit = 64 << 20;
  s.resources.pids_limit = 50;
  auto pid = env.create("limited", s);
  REQUIRE_OK(pid);
  REQUIRE_OK(env.runtime.start("limited"));

  // Found by hand from /proc/<pid>/cgroup, independently of the library.
  std::string memory_path;
  for (const auto& line : lines_of(crio::test::read_file("/proc/" + std::to_string(*pid) + "/cgroup"))) {
    auto a = line.find(':'), b = line.find(':', a + 1);
    std::string ctrls = line.substr(a + 1, b - a - 1);
    if (("," + ctrls + ",").find(",memory,") != std::string::npos) memory_path = line.substr(b + 1);
  }
  REQUIRE_FALSE(memory_path.empty());
  CHECK_THAT(memory_path, Catch::EndsWith("crio-limited"));
  std::string limit_file = "/sys/fs/cgroup/memory" + memory_path + "/memory.limit_in_bytes";
  CHECK(std::stoll(crio::test::read_file(limit_file)) == 64 << 20);

  auto dir = oci::cgroup_dir(*pid, "memory");
  REQUIRE_OK(dir);
  CHECK(*dir == "/sys/fs/cgroup/memory" + memory_path);

  auto stats = oci::cgroup_stats(*pid);
  REQUIRE_OK(stats);
  CHECK(stats->version == 1);
  REQUIRE(stats->memory_limit_bytes.has_value());
  CHECK(*stats->memory_limit_bytes == 64 << 20);
  CHECK(stats->pids_current >= 1);
  CHECK(stats->memory_usage_bytes > 0);
  CHECK(stats->memory_working_set_bytes <= stats->memory_usage_bytes);
  CHECK(stats->cpu_usage_ns > 0);

  oci::Resources more;
  more.memory.limit = 96 << 20;
  REQUIRE_OK(env.runtime.update_resources("limited", more));
  CHECK(std::stoll(crio::test::read_file(limit_file)) == 96 << 20);

  REQUIRE_OK(env.runtime.pause("limited"));
  CHECK(env.runtime.state("limited")->status == oci::ContainerStatus::kPaused);
  REQUIRE_OK(env.runtime.unpause("limited"));
  CHECK(env.runtime.state("limited")->status == oci::ContainerStatus::kRunning);

  CHECK(oci::cgroup_stats(999999999).status().code() == Code::kNotFound);
}

TEMPLATE_TEST_CASE("an OOM-killed container is reported", "[oci][root][cgroup]", Runc, Crun) {
  OciEnv<TestType> env;
  auto s = env.spec({"/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"});
  s.resources.memory.limit = 8 << 20;
  s.resources.memory.swap = 8 << 20;
  REQUIRE_OK(env.run("oom", s));
  auto exit = env.wait_exit("oom");
  REQUIRE_OK(exit);
  CHECK(exit->exit_code == 137);
  CHECK(exit->oom_killed);
}

TEMPLATE_TEST_CASE("security settings hold inside the container", "[oci][root][security]", Runc, Crun) {
  OciEnv<TestType> env;

  SECTION("a read-only rootfs refuses writes") {
    auto s = env.spec({"/bin/sh", "-c", "echo x > /written"});
    s.root_readonly = true;
    REQUIRE_OK(env.run("ro", s));
    auto exit = env.wait_exit("ro");
    REQUIRE_OK(exit);
    CHECK(exit->exit_code != 0);
    CHECK_THAT(env.log("ro"), Catch::Contains("Read-only file system"));
    CHECK_FALSE(crio::fs::exists(env.rootfs() + "/written"));
  }

  SECTION("dropped capabilities are really missing") {
    auto s = env.spec({"/bin/grep", "^Cap", "/proc/self/status"});
    s.process.capabilities = oci::Capabilities::of({"CAP_CHOWN", "CAP_KILL"});
    REQUIRE_OK(env.run("caps", s));
    REQUIRE_OK(env.wait_exit("caps"));
    std::string log = env.log("caps");
    INFO(log);
    // CAP_CHOWN is bit 0, CAP_KILL bit 5.
    CHECK_THAT(log, Catch::Contains("CapEff:\t0000000000000021"));
    CHECK_THAT(log, Catch::Contains("CapBnd:\t0000000000000021"));
  }

  SECTION("RuntimeDefault seccomp blocks unshare; Unconfined does not") {
    auto s = env.spec({"/bin/unshare", "-U", "/bin/true"});
    REQUIRE_OK(env.run("sc-default", s));
    auto blocked = env.wait_exit("sc-default");
    REQUIRE_OK(blocked);
    CHECK(blocked->exit_code != 0);
    CHECK_THAT(env.log("sc-default"), Catch::Contains("Operation not permitted"));

    s.seccomp.native_arch_only = true;
    REQUIRE_OK(env.run("sc-native", s));
    auto native = env.wait_exit("sc-native");
    REQUIRE_OK(native);
    CHECK(native->exit_code != 0);
    CHECK_THAT(env.log("sc-native"), Catch::Contains("Operation not permitted"));

    s.seccomp.kind = oci::Seccomp::Kind::kUnconfined;
    REQUIRE_OK(env.run("sc-unconfined", s));
    auto allowed = env.wait_exit("sc-unconfined");
    REQUIRE_OK(allowed);
    INFO(env.log("sc-unconfined"));
    CHECK(allowed->exit_code == 0);
  }
}

TEMPLATE_TEST_CASE("a container joins a pinned network namespace", "[oci][root][netns]", Runc, Crun) {
  OciEnv<TestType> env;
  auto pin = crio::net::pin_new_namespace(crio::net::NamespaceType::kNet, env.tmp / "ns", "pod");
  REQUIRE_OK(pin);
  struct stat st {};
  REQUIRE(::stat(pin->path().c_str(), &st) == 0);

  auto s = env.spec({"/bin/readlink", "/proc/self/ns/net"});
  oci::set_namespace(s, "network", pin->path());
  REQUIRE_OK(env.run("joined", s));
  REQUIRE_OK(env.wait_exit("joined"));
  CHECK_THAT(env.log("joined"), Catch::Contains("net:[" + std::to_string(st.st_ino) + "]"));
  REQUIRE_OK(env.runtime.remove("joined"));
  CHECK(pin->remove().ok());
}

TEMPLATE_TEST_CASE("prestart and poststop hooks run", "[oci][root][hooks]", Runc, Crun) {
  OciEnv<TestType> env;
  std::string marker = env.tmp / "hooks.log";
  auto s = env.spec({"/bin/true"});
  // Hooks get the container state on stdin (and must read it: crun dies of SIGPIPE
  // writing to a hook that exits without reading).
  std::string state = env.tmp / "prestart-state.json";
  s.hooks.prestart = {{"/bin/sh", {"sh", "-c", "cat > " + state + "; echo prestart >> " + marker}, {}, 10}};
  s.hooks.poststop = {{"/bin/sh", {"sh", "-c", "cat > /dev/null; echo poststop >> " + marker}, {}, 10}};
  REQUIRE_OK(env.create("hooked", s));
  CHECK(crio::test::read_file(marker) == "prestart\n");
  CHECK_THAT(crio::test::read_file(state), Catch::Contains("\"hooked\""));
  REQUIRE_OK(env.runtime.start("hooked"));
  REQUIRE_OK(env.wait_exit("hooked"));
  REQUIRE_OK(env.runtime.remove("hooked"));
  CHECK(crio::test::read_file(marker) == "prestart\npoststop\n");
}

TEMPLATE_TEST_CASE("conmon reopens the log after it was renamed", "[oci][root][log]", Runc, Crun) {
  OciEnv<TestType> env;
  REQUIRE(env.run("chatty", env.spec({"/bin/sh", "-c", "i=0; while true; do echo line$i; i=$((i+1)); sleep 0.02; done"}))
              .ok());
  std::string log = env.log_path("chatty");
  REQUIRE(crio::test::eventually([&] { return env.log("chatty").find("line3") != std::string::npos; }));
  REQUIRE(::rename(log.c_str(), (log + ".1").c_str()) == 0);
  REQUIRE_OK(env.runtime.reopen_log("chatty"));
  REQUIRE(crio::test::eventually([&] { return lines_of(env.log("chatty")).size() >= 3; }));
  auto old_lines = lines_of(crio::test::read_file(log + ".1"));
  auto new_lines = lines_of(env.log("chatty"));
  REQUIRE_FALSE(old_lines.empty());
  // The new file continues where the old one stopped: no line lost, none repeated.
  auto number = [](const std::string& line) { return std::stoi(line.substr(line.rfind("line") + 4)); };
  CHECK(number(new_lines.front()) == number(old_lines.back()) + 1);
  REQUIRE_OK(env.runtime.stop("chatty", 0ms));
}

TEMPLATE_TEST_CASE("20 lifecycles leave nothing behind", "[oci][root][cycle]", Runc, Crun) {
  OciEnv<TestType> env;
  std::vector<double> up, down;
  for (int i = 0; i < 20; ++i) {
    std::string id = "cycle" + std::to_string(i);
    // The trap must be in place before the stop: PID 1 without a handler ignores SIGTERM.
    auto s = env.spec({"/bin/sh", "-c", "trap 'exit 0' TERM; echo ready; sleep 1000 & wait"});
    s.cgroups_path = oci::cgroupfs_path(env.cgroup_parent, id);
    REQUIRE_OK(oci::write_bundle(env.bundle(id), s));
    oci::ContainerCreateOptions o;
    o.id = id;
    o.bundle = env.bundle(id);
    o.log_path = env.log_path(id);
    o.exit_dir = env.exit_dir();
    o.persist_dir = env.tmp / ("persist/" + id);
    o.socket_dir = env.tmp / "sock";
    crio::Status started;
    up.push_back(time_ms([&] {
      auto pid = env.runtime.create(o);
      started = pid.ok() ? env.runtime.start(id) : pid.status();
    }));
    REQUIRE_OK(started);
    REQUIRE(crio::test::eventually([&] { return env.log(id).find("ready") != std::string::npos; }));
    crio::Status stopped;
    down.push_back(time_ms([&] {
      stopped = env.runtime.stop(id, 10s);
      if (stopped.ok()) stopped = env.runtime.remove(id);
    }));
    REQUIRE_OK(stopped);
  }
  std::fprintf(stderr, "%s: create+start median %.1f ms, stop+delete median %.1f ms (20 cycles)\n",
               TestType::kName, median_ms(up), median_ms(down));

  CHECK(env.runtime.containers().empty());
  CHECK(processes_mentioning(env.tmp.path()).empty());
  CHECK(mounts_under(env.tmp.path()).empty());
  for (int i = 0; i < 20; ++i) {
    std::string path = oci::cgroupfs_path(env.cgroup_parent, "cycle" + std::to_string(i));
    INFO(path);
    CHECK(crio::test::existing_cgroups(path).empty());
  }
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(env.exit_dir())) left.push_back(e.path().string());
  CHECK(left.empty());
  auto runtime_root = std::filesystem::path(env.tmp / "runtime-root");
  for (const auto& e : std::filesystem::directory_iterator(runtime_root)) {
    CHECK(e.path().filename().string().rfind("cycle", 0) != 0);
  }
}

TEMPLATE_TEST_CASE("conmon goes into its cgroup and another Runtime can adopt the container", "[oci][root][adopt]",
                   Runc, Crun) {
  OciEnv<TestType> env;
  auto s = env.spec({"/bin/sh", "-c", "trap 'exit 5' TERM; echo ready; sleep 1000 & wait"});
  s.cgroups_path = oci::cgroupfs_path(env.cgroup_parent, "kept");
  REQUIRE_OK(oci::write_bundle(env.bundle("kept"), s));
  oci::ContainerCreateOptions o;
  o.id = "kept";
  o.bundle = env.bundle("kept");
  o.log_path = env.log_path("kept");
  o.exit_dir = env.exit_dir();
  o.persist_dir = env.tmp / "persist/kept";
  o.socket_dir = env.tmp / "sock";
  o.conmon_cgroup = env.cgroup_parent + "/conmon";
  auto pid = env.runtime.create(o);
  REQUIRE_OK(pid);
  REQUIRE_OK(env.runtime.start("kept"));
  auto proc = env.runtime.process("kept");
  REQUIRE(proc.has_value());
  CHECK(proc->pid == *pid);
  REQUIRE(proc->conmon_pid > 0);
  auto conmon_memory = oci::cgroup_dir(proc->conmon_pid, "memory");
  REQUIRE_OK(conmon_memory);
  CHECK_THAT(*conmon_memory, Catch::EndsWith(env.cgroup_parent + "/conmon"));
  REQUIRE(crio::test::eventually([&] { return env.log("kept").find("ready") != std::string::npos; }));

  // A restarted daemon: a fresh Runtime that only knows what was persisted.
  oci::Runtime second(env.runtime.handler());
  REQUIRE_OK(second.adopt(*proc));
  CHECK(second.adopt(*proc).code() == Code::kAlreadyExists);
  CHECK(second.state("kept")->status == oci::ContainerStatus::kRunning);
  auto r = second.exec_sync("kept", {"/bin/echo", "adopted"}, 5s);
  REQUIRE_OK(r);
  CHECK(r->out == "adopted\n");
  REQUIRE_OK(second.stop("kept", 5s));
  REQUIRE_OK(second.read_exit("kept"));
  CHECK(second.read_exit("kept")->exit_code == 5);
  REQUIRE_OK(second.remove("kept"));
  CHECK(crio::test::eventually([&] { return ::kill(proc->conmon_pid, 0) != 0; }, 5s));
  CHECK(second.containers().empty());
}

TEST_CASE("the exit watcher reports files already there and new ones", "[oci][watcher]") {
  crio::test::TempDir tmp("crio-oci-watch");
  crio::test::write_file(tmp / "exits/old", "0");
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> seen;
  auto w = oci::ExitWatcher::start(
      tmp / "exits",
      [&](const std::string& id) {
        std::lock_guard lock(mu);
        seen.push_back(id);
        cv.notify_all();
      },
      true);
  REQUIRE_OK(w);
  // Written the way conmon writes: a hidden temp file renamed into place.
  crio::test::write_file(tmp / "exits/.new.tmp", "1");
  REQUIRE(::rename((tmp / "exits/.new.tmp").c_str(), (tmp / "exits/new").c_str()) == 0);
  std::unique_lock lock(mu);
  REQUIRE(cv.wait_for(lock, 5s, [&] { return seen.size() >= 2; }));
  CHECK(seen == std::vector<std::string>{"old", "new"});
}
