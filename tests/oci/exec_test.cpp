// Interactive exec (`runtime exec` driven by us, no conmon), ExecSync on top of it,
// attach and terminal resize through conmon: against runc and crun alike.

#include "oci_fixture.hpp"

#include <dirent.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <algorithm>
#include <csignal>
#include <regex>

using crio::Code;
using crio::test::Crun;
using crio::test::OciEnv;
using crio::test::Runc;
using namespace std::chrono_literals;
namespace oci = crio::oci;

namespace {

// Writes to a pipe whose reader died must fail with EPIPE, not kill the test.
const bool kIgnoreSigpipe = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    REQUIRE(n > 0);
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads `fds` until each is at end of file (EIO on a pty master is its hangup) or
// `timeout` passes; what each gave.
std::vector<std::string> read_to_end(std::vector<int> fds, std::chrono::milliseconds timeout = 15s) {
  std::vector<std::string> out(fds.size());
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::vector<pollfd> p;
    for (int fd : fds) p.push_back({fd, POLLIN, 0});
    if (std::all_of(fds.begin(), fds.end(), [](int fd) { return fd < 0; })) return out;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      FAIL_CHECK("no end of file within the timeout");
      return out;
    }
    int r = ::poll(p.data(), p.size(), static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    REQUIRE(r >= 0);
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i] < 0 || p[i].revents == 0) continue;
      char buf[4096];
      ssize_t n = ::read(fds[i], buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i] = -1;
        continue;
      }
      out[i].append(buf, static_cast<size_t>(n));
    }
  }
}

// Reads fd into `acc` until it holds `needle`; false on timeout or end of file.
bool read_until(int fd, const std::string& needle, std::string& acc, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (acc.find(needle) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    acc.append(buf, static_cast<size_t>(n));
  }
  return true;
}

// runc clears ONLCR on the container's pty only once the command runs, so its first
// output may come as "\r\r\n"; on a terminal that looks the same as "\r\n".
std::string collapse_cr(const std::string& s) { return std::regex_replace(s, std::regex("\r+\n"), "\r\n"); }

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

// Host processes whose command line is exactly `argv` (the container's are visible).
int processes_running(const std::vector<std::string>& argv) {
  std::string want;
  for (const auto& a : argv) want += a + '\0';
  int n = 0;
  DIR* d = ::opendir("/proc");
  while (dirent* e = ::readdir(d)) {
    if (std::atoi(e->d_name) <= 0) continue;
    std::ifstream in("/proc/" + std::string(e->d_name) + "/cmdline");
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd == want) ++n;
  }
  ::closedir(d);
  return n;
}

// Shows control bytes in failure messages.
std::string hex(const std::string& s) {
  std::string out;
  for (unsigned char c : s) out += fmt::format("{:02x} ", c);
  return out;
}

// One SOCK_SEQPACKET packet, or "" on end of file / timeout.
std::string recv_packet(int fd, std::chrono::milliseconds timeout = 10s) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return "";
  char buf[65536];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// conmon numbers its pipes stdin 1, stdout 2, stderr 3 and starts each packet with one.
std::string packet(char stream, const std::string& text) { return std::string(1, stream) + text; }

}  // namespace

TEMPLATE_TEST_CASE("exec keeps stdout and stderr apart and reports the exit code", "[oci][root][exec]", Runc, Crun) {
  OciEnv<TestType> env;
  REQUIRE_OK(env.run("svc", env.spec({"/bin/sleep", "1000"})));

  oci::ExecOptions o;
  o.argv = {"/bin/sh", "-c", "echo out; echo err >&2; printf more; exit 7"};
  auto s = env.runtime.exec("svc", o);
  REQUIRE_OK(s);
  auto& session = **s;
  CHECK(session.stdin_fd() == -1);
  REQUIRE(session.stdout_fd() >= 0);
  REQUIRE(session.stderr_fd() >= 0);
  CHECK(session.resize({80, 24}).code() == Code::kFailedPrecondition);
  auto out = read_to_end({session.stdout_fd(), session.stderr_fd()});
  CHECK(out[0] == "out\nmore");
  CHECK(out[1] == "err\n");
  auto code = session.wait(10s);
  REQUIRE_OK(code);
  CHECK(*code == 7);
  // Asking again gives the same answer (the runtime is reaped once).
  CHECK(*session.wait(1s) == 7);
}

TEMPLATE_TEST_CASE("exec feeds the command's stdin until close_stdin", "[oci][root][exec]", Runc, Crun) {
  OciEnv<TestType> env;
  REQUIRE_OK(env.run("svc", env.spec({"/bin/sleep", "1000"})));

  oci::ExecOptions o;
  o.argv = {"/bin/cat"};
  o.stdin = true;
  auto s = env.runtime.exec("svc", o);
  REQUIRE_OK(s);
  auto& session = **s;
  REQUIRE(session.stdin_fd() >= 0);
  write_all(session.stdin_fd(), "hello\n");
  std::string got;
  CHECK(read_until(session.stdout_fd(), "hello\n", got));
  write_all(session.stdin_fd(), "world\n");
  session.close_stdin();
  CHECK(session.stdin_fd() == -1);
  got += read_to_end({session.stdout_fd()})[0];
  CHECK(got == "hello\nworld\n");
  auto code = session.wait(10s);
  REQUIRE_OK(code);
  CHECK(*code == 0);
}

TEMPLATE_TEST_CASE("a tty exec gets a terminal of the asked size that resize changes", "[oci][root][exec][tty]", Runc,
                   Crun) {
  OciEnv<TestType> env;
  REQUIRE_OK(env.run("svc", env.spec({"/bin/sleep", "1000"})));

  SECTION("echo hello") {
    oci::ExecOptions o;
    o.argv = {"/bin/echo", "hello"};
    o.tty = true;
    auto s = env.runtime.exec("svc", o);
    REQUIRE_OK(s);
    auto& session = **s;
    CHECK(session.stderr_fd() == -1);
    CHECK(session.stdin_fd() == -1);
    std::string out = read_to_end({session.stdout_fd()})[0];
    INFO(out);
    CHECK(collapse_cr(out) == "hello\r\n");
    auto code = session.wait(10s);
    REQUIRE_OK(code);
    CHECK(*code == 0);
  }

  SECTION("input is echoed once, by the container's terminal") {
    oci::ExecOptions o;
    o.argv = {"/bin/sh", "-c", "read x; echo \"got $x\""};
    o.tty = true;
    o.stdin = true;
    auto s = env.runtime.exec("svc", o);
    REQUIRE_OK(s);
    auto& session = **s;
    REQUIRE(session.stdin_fd() == session.stdout_fd());
    write_all(session.stdin_fd(), "hi\n");
    std::string out = read_to_end({session.stdout_fd()})[0];
    INFO(out);
    CHECK(count(out, "hi") == 2);  // the echo of "hi", then "got hi"
    CHECK_THAT(collapse_cr(out), Catch::EndsWith("got hi\r\n"));
    CHECK(*session.wait(10s) == 0);
  }

  SECTION("close_stdin is end of input") {
    oci::ExecOptions o;
    o.argv = {"/bin/cat"};
    o.tty = true;
    o.stdin = true;
    auto s = env.runtime.exec("svc", o);
    REQUIRE_OK(s);
    auto& session = **s;
    write_all(session.stdin_fd(), "line\n");
    std::string got;
    CHECK(read_until(session.stdout_fd(), "line\r\n", got));  // echoed, then printed by cat
    session.close_stdin();
    read_to_end({session.stdout_fd()});
    auto code = session.wait(10s);
    REQUIRE_OK(code);
    CHECK(*code == 0);
  }

  SECTION("stty size follows the initial size and resize") {
    oci::ExecOptions o;
    o.argv = {"/bin/sh", "-c", "stty size; while read x; do stty size; done"};
    o.tty = true;
    o.stdin = true;
    o.size = oci::TerminalSize{100, 30};
    auto s = env.runtime.exec("svc", o);
    REQUIRE_OK(s);
    auto& session = **s;
    std::string got;
    REQUIRE(read_until(session.stdout_fd(), "\n", got));
    // crun 1.8 sizes the terminal from consoleSize in its parent while the command is
    // already starting, so a command that asks at once may see 0x0 there; runc's init
    // sizes it before the command runs.
    if (std::string_view(TestType::kName) == "runc") CHECK(collapse_cr(got) == "30 100\r\n");
    REQUIRE_OK(session.resize({120, 40}));
    // runc passes the new size on when its SIGWINCH handler runs: ask until it shows.
    bool resized = crio::test::eventually([&] {
      write_all(session.stdin_fd(), "\n");
      return read_until(session.stdout_fd(), "40 120", got, 300ms);
    });
    INFO(got);
    CHECK(resized);
    session.close_stdin();
    read_to_end({session.stdout_fd()});
    CHECK(*session.wait(10s) == 0);
  }
}

TEMPLATE_TEST_CASE("wait times out and kill ends the command", "[oci][root][exec]", Runc, Crun) {
  OciEnv<TestType> env;
  REQUIRE_OK(env.run("svc", env.spec({"/bin/sleep", "1000"})));
  // A duration no other test (or the other runtime's run of this one) uses: the
  // processes are counted host-wide.
  const std::vector<std::string> argv = {"/bin/sleep", std::to_string(3000 + ::getpid() % 100000)};

  oci::ExecOptions o;
  o.argv = argv;
  {
    auto s = env.runtime.exec("svc", o);
    REQUIRE_OK(s);
    auto& session = **s;
    // The pid file names the process while it may still be the runtime's init.
    CHECK(crio::test::eventually([&] { return processes_running(argv) == 1; }));
    auto early = session.wait(200ms);
    REQUIRE_FALSE(early.ok());
    CHECK(early.status().code() == Code::kDeadlineExceeded);
    auto t0 = std::chrono::steady_clock::now();
    session.kill();
    auto code = session.wait(10s);
    REQUIRE_OK(code);
    CHECK(*code == 137);
    CHECK(std::chrono::steady_clock::now() - t0 < 3s);
    CHECK(processes_running(argv) == 0);
  }

  // Dropping a session whose command still runs kills it.
  {
    auto s = env.runtime.exec("svc", o);
    REQUIRE_OK(s);
    CHECK(crio::test::eventually([&] { return processes_running(argv) == 1; }));
  }
  CHECK(processes_running(argv) == 0);
  // The container is unaffected, and no scratch directory is left behind.
  auto st = env.runtime.state("svc");
  REQUIRE_OK(st);
  CHECK(st->status == oci::ContainerStatus::kRunning);
  auto p = env.runtime.process("svc");
  REQUIRE(p);
  CHECK(std::filesystem::is_empty(p->persist_dir));
}

TEMPLATE_TEST_CASE("exec outside a running container fails, naming it", "[oci][root][exec]", Runc, Crun) {
  OciEnv<TestType> env;
  oci::ExecOptions o;
  o.argv = {"/bin/true"};

  auto unknown = env.runtime.exec("ghost", o);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().code() == Code::kNotFound);
  CHECK_THAT(unknown.status().message(), Catch::Contains("ghost"));

  REQUIRE_OK(env.run("done", env.spec({"/bin/true"})));
  REQUIRE_OK(env.wait_exit("done"));
  auto stopped = env.runtime.exec("done", o);
  REQUIRE_FALSE(stopped.ok());
  INFO(stopped.status().to_string());
  CHECK(stopped.status().code() == Code::kFailedPrecondition);
  CHECK_THAT(stopped.status().message(), Catch::Contains("done"));

  // Without the exit file to go by, the runtime itself refuses, and its complaint is
  // passed on as text (not as its JSON log line).
  const std::string exit_file = env.exit_dir() + "/done";
  std::filesystem::rename(exit_file, exit_file + ".away");
  auto refused = env.runtime.exec("done", o);
  std::filesystem::rename(exit_file + ".away", exit_file);
  REQUIRE_FALSE(refused.ok());
  INFO(refused.status().to_string());
  CHECK((refused.status().code() == Code::kFailedPrecondition || refused.status().code() == Code::kNotFound));
  CHECK_THAT(refused.status().message(), Catch::Contains("done"));
  CHECK_THAT(refused.status().message(), !Catch::Contains("\"level\""));

  // Created but not started: runc and crun both exec into it (its namespaces exist).
  REQUIRE_OK(env.create("idle", env.spec({"/bin/sleep", "1000"})));
  auto idle = env.runtime.exec("idle", o);
  REQUIRE_OK(idle);
  CHECK(*(*idle)->wait(10s) == 0);

  auto missing = env.runtime.exec("done", oci::ExecOptions{{}, false, false, std::nullopt});
  CHECK(missing.status().code() == Code::kInvalidArgument);
}

TEMPLATE_TEST_CASE("attach speaks conmon's packets and stdin_once ends the input", "[oci][root][attach]", Runc, Crun) {
  OciEnv<TestType> env;
  auto interactive = [](bool once) {
    return [once](oci::ContainerCreateOptions& o) {
      o.open_stdin = true;
      o.stdin_once = once;
    };
  };

  SECTION("stdin_once: shutting down the write side closes the container's stdin") {
    REQUIRE_OK(env.run("sh", env.spec({"/bin/sh"}), interactive(true)));
    auto fd = env.runtime.attach("sh");
    REQUIRE_OK(fd);
    int sock = fd->get();
    REQUIRE(::send(sock, "echo hi\n", 8, 0) == 8);
    CHECK(hex(recv_packet(sock)) == hex(packet(2, "hi\n")));
    REQUIRE(::send(sock, "echo oops >&2\n", 14, 0) == 14);
    CHECK(hex(recv_packet(sock)) == hex(packet(3, "oops\n")));
    REQUIRE(::shutdown(sock, SHUT_WR) == 0);
    auto exit = env.wait_exit("sh");
    REQUIRE_OK(exit);
    CHECK(exit->exit_code == 0);
    CHECK(recv_packet(sock).empty());  // conmon hung up
  }

  SECTION("without stdin_once the next client still reaches stdin") {
    REQUIRE_OK(env.run("sh", env.spec({"/bin/sh"}), interactive(false)));
    {
      auto first = env.runtime.attach("sh");
      REQUIRE_OK(first);
      REQUIRE(::send(first->get(), "echo a\n", 7, 0) == 7);
      CHECK(hex(recv_packet(first->get())) == hex(packet(2, "a\n")));
      REQUIRE(::shutdown(first->get(), SHUT_WR) == 0);
    }
    auto second = env.runtime.attach("sh");
    REQUIRE_OK(second);
    REQUIRE(::send(second->get(), "echo b; exit 4\n", 15, 0) == 15);
    CHECK(hex(recv_packet(second->get())) == hex(packet(2, "b\n")));
    auto exit = env.wait_exit("sh");
    REQUIRE_OK(exit);
    CHECK(exit->exit_code == 4);
  }

  CHECK(env.runtime.attach("ghost").status().code() == Code::kNotFound);
}

TEMPLATE_TEST_CASE("resize_terminal resizes a tty container's terminal", "[oci][root][tty]", Runc, Crun) {
  OciEnv<TestType> env;
  auto spec = env.spec({"/bin/sleep", "1000"});
  spec.process.terminal = true;
  REQUIRE_OK(env.run("tty", spec, [](oci::ContainerCreateOptions& o) { o.terminal = true; }));

  auto size = [&] {
    auto r = env.runtime.exec_sync("tty", {"/bin/stty", "-F", "/proc/1/fd/0", "size"}, 10s);
    REQUIRE_OK(r);
    INFO(r->err);
    return r->out;
  };
  REQUIRE_OK(env.runtime.resize_terminal("tty", {123, 45}));
  CHECK(crio::test::eventually([&] { return size() == "45 123\n"; }));
  REQUIRE_OK(env.runtime.resize_terminal("tty", {90, 20}));
  CHECK(crio::test::eventually([&] { return size() == "20 90\n"; }));

  CHECK(env.runtime.resize_terminal("tty", {0, 20}).code() == Code::kInvalidArgument);
  CHECK(env.runtime.resize_terminal("ghost", {80, 20}).code() == Code::kNotFound);
}

TEMPLATE_TEST_CASE("exec sessions leave no fd, child or scratch file behind", "[oci][root][exec]", Runc, Crun) {
  OciEnv<TestType> env;
  REQUIRE_OK(env.run("svc", env.spec({"/bin/sleep", "1000"})));
  auto fds = [] {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
  };
  // The first exec may open fds that live on (logging); count from the second.
  REQUIRE_OK(env.runtime.exec_sync("svc", {"/bin/true"}, 10s));
  const size_t before = fds();

  for (int i = 0; i < 3; ++i) {
    REQUIRE_OK(env.runtime.exec_sync("svc", {"/bin/sh", "-c", "echo x; echo y >&2"}, 10s));
    auto slow = env.runtime.exec_sync("svc", {"/bin/sleep", "100"}, 300ms);
    REQUIRE_OK(slow);
    CHECK(slow->timed_out);
    CHECK(env.runtime.exec_sync("svc", {"/bin/nothing-here"}, 10s).status().code() == Code::kNotFound);
    for (bool tty : {false, true}) {
      oci::ExecOptions o;
      o.argv = {"/bin/cat"};
      o.tty = tty;
      o.stdin = true;
      auto s = env.runtime.exec("svc", o);
      REQUIRE_OK(s);
      if (i == 1) (*s)->kill();  // and otherwise dropped while it runs
    }
  }
  CHECK(fds() == before);
  // Every runtime process was reaped: we have no children left.
  errno = 0;
  CHECK(::waitpid(-1, nullptr, WNOHANG) == -1);
  CHECK(errno == ECHILD);
  auto p = env.runtime.process("svc");
  REQUIRE(p);
  CHECK(std::filesystem::is_empty(p->persist_dir));
}

TEMPLATE_TEST_CASE("exec_sync caps each stream at 16 MiB", "[oci][root][exec]", Runc, Crun) {
  OciEnv<TestType> env;
  REQUIRE_OK(env.run("svc", env.spec({"/bin/sleep", "1000"})));
  // 20 MiB of 'y\n' on stdout, a little on stderr after it.
  auto r = env.runtime.exec_sync("svc", {"/bin/sh", "-c", "yes | head -c 20971520; echo done >&2"}, 60s);
  REQUIRE_OK(r);
  CHECK(r->exit_code == 0);
  CHECK(r->truncated);
  CHECK(r->out.size() == 16u * 1024 * 1024);
  CHECK(r->err == "done\n");
}

// Interleaved with the runtime's own `exec` (the floor), so that both see the same
// load on a shared machine.
TEMPLATE_TEST_CASE("exec_sync latency (median of 30 `true`)", "[oci][root][.bench]", Runc, Crun) {
  OciEnv<TestType> env;
  REQUIRE_OK(env.run("bench", env.spec({"/bin/sleep", "1000"})));
  const std::string root = env.tmp / "runtime-root";
  auto ms_since = [](std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  std::vector<double> ours, floor;
  for (int i = 0; i < 31; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = env.runtime.exec_sync("bench", {"/bin/true"}, 10s);
    double took = ms_since(t0);
    REQUIRE_OK(r);
    REQUIRE(r->exit_code == 0);
    t0 = std::chrono::steady_clock::now();
    auto cli = crio::test::run_command({TestType::kPath, "--root", root, "exec", "bench", "/bin/true"});
    double cli_took = ms_since(t0);
    REQUIRE(cli.exit_code == 0);
    if (i == 0) continue;  // the first ones warm the page cache
    ours.push_back(took);
    floor.push_back(cli_took);
  }
  std::sort(ours.begin(), ours.end());
  std::sort(floor.begin(), floor.end());
  WARN(TestType::kName << ": exec_sync median " << ours[ours.size() / 2] << " ms (min " << ours.front() << "); `"
                       << TestType::kName << " exec` alone median " << floor[floor.size() / 2] << " ms (min "
                       << floor.front() << ")");
}
