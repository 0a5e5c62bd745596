#include "exec_session.hpp"

#include "conmon.hpp"

#include <crio/core/fs.hpp>
#include <crio/core/log.hpp>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>

extern char** environ;

namespace crio::oci::detail {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kOutputMax = 16 * 1024 * 1024;
// Once the command has had its SIGKILL, the runtime gets this long to see it die and
// exit; then it is killed too (a runc still copying output nobody reads, say).
constexpr milliseconds kRuntimeGrace{2000};
constexpr char kConsoleSocket[] = "console.sock";

Status errno_error(std::string_view what) { return error(Code::kInternal, "{}: {}", what, std::strerror(errno)); }

int poll_timeout(Clock::time_point deadline) {
  if (deadline == Clock::time_point::max()) return -1;
  auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, INT_MAX));
}

int poll_until(pollfd* fds, nfds_t n, Clock::time_point deadline) {
  for (;;) {
    int r = ::poll(fds, n, poll_timeout(deadline));
    if (r >= 0 || errno != EINTR) return r;
  }
}

bool readable_now(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll_until(&p, 1, Clock::now()) > 0;
}

// Moves an fd to 10 or above, so that the child's dup2 onto 0, 1 and 2 can never
// overwrite a descriptor it still has to duplicate.
fs::UniqueFd high_fd(int fd) {
  fs::UniqueFd low(fd);
  if (!low.valid()) return low;
  return fs::UniqueFd(::fcntl(low.get(), F_DUPFD_CLOEXEC, 10));
}

Status make_pipe(fs::UniqueFd& r, fs::UniqueFd& w) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return errno_error("pipe");
  r = high_fd(p[0]);
  w = high_fd(p[1]);
  if (!r.valid() || !w.valid()) return errno_error("dup pipe");
  return ok_status();
}

std::optional<pid_t> read_pid(const std::string& path) {
  auto text = fs::read_file(path);
  if (!text.ok()) return std::nullopt;
  char* end = nullptr;
  long v = std::strtol(text->c_str(), &end, 10);
  if (end == text->c_str() || v <= 0 || v > INT_MAX) return std::nullopt;
  return static_cast<pid_t>(v);
}

Status write_new_file(const std::string& path, const std::string& data) {
  fs::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) return errno_error("creating " + path);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("writing " + path);
    off += static_cast<size_t>(n);
  }
  return ok_status();
}

// The fd a runtime sends on its --console-socket (SCM_RIGHTS, with the pty's name as
// the payload).
int receive_fd(int conn) {
  char data[4096];
  iovec iov{data, sizeof data};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
      return fd;
    }
  }
  errno = EPROTO;
  return -1;
}

// Reads what is there (up to 64 KiB) into `into`, keeping at most kOutputMax bytes.
// False at end of file (or on an error other than EAGAIN).
bool read_into(int fd, std::string& into, bool& truncated) {
  char buf[65536];
  ssize_t n;
  do {
    n = ::read(fd, buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno == EAGAIN;
  if (n == 0) return false;
  size_t room = kOutputMax - std::min(kOutputMax, into.size());
  if (static_cast<size_t>(n) > room) truncated = true;
  into.append(buf, std::min(room, static_cast<size_t>(n)));
  return true;
}

// An inotify watch on one directory. Closing an inotify instance waits for an SRCU
// grace period (15-25 ms on this kernel, as long as a whole crun exec), so instances
// are kept in a small pool and reused; a removed watch costs nothing. Stale events
// of an earlier watch on a reused instance only cause a spurious wake-up.
class DirWatch {
 public:
  DirWatch() = default;
  DirWatch(const DirWatch&) = delete;
  DirWatch& operator=(const DirWatch&) = delete;
  ~DirWatch() {
    if (fd_ < 0) return;
    if (wd_ >= 0) ::inotify_rm_watch(fd_, wd_);
    drain();
    std::lock_guard lock(pool_mu());
    if (pool().size() < kPoolMax) {
      pool().push_back(fd_);
    } else {
      ::close(fd_);
    }
  }

  Status watch(const std::string& dir, uint32_t mask) {
    {
      std::lock_guard lock(pool_mu());
      if (!pool().empty()) {
        fd_ = pool().back();
        pool().pop_back();
      }
    }
    if (fd_ < 0) fd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (fd_ < 0) return errno_error("inotify_init1");
    wd_ = ::inotify_add_watch(fd_, dir.c_str(), mask);
    if (wd_ < 0) return errno_error("inotify_add_watch " + dir);
    return ok_status();
  }

  int fd() const { return fd_; }

  void drain() {
    char events[4096];
    while (::read(fd_, events, sizeof events) > 0) {
    }
  }

 private:
  static constexpr size_t kPoolMax = 16;
  static std::mutex& pool_mu() {
    static std::mutex mu;
    return mu;
  }
  static std::vector<int>& pool() {                       // guarded by pool_mu()
    static std::vector<int>* fds = new std::vector<int>;  // outlives exiting threads
    return *fds;
  }

  int fd_ = -1;
  int wd_ = -1;
};

class RuntimeExecSession final : public ExecSession {
 public:
  explicit RuntimeExecSession(std::string id) : id_(std::move(id)) {}

  ~RuntimeExecSession() override {
    if (pid_ > 0 && !exited()) {
      kill();
      // Our ends go first: a runtime blocked on a full pipe or terminal nobody reads
      // then sees EPIPE / a hangup instead of waiting for us.
      in_.reset();
      out_.reset();
      err_.reset();
      pollfd p{pidfd_.get(), POLLIN, 0};
      if (poll_until(&p, 1, Clock::now() + kRuntimeGrace) <= 0) {
        log::warn("runtime exec lingers after its command was killed; killing it", {{"id", id_}, {"pid", pid_}});
        pidfd_signal(pidfd_.get(), SIGKILL);
      }
      reap_now();
    }
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  int stdin_fd() const override {
    if (tty_) return stdin_ ? out_.get() : -1;
    return in_.get();
  }
  int stdout_fd() const override { return out_.get(); }
  int stderr_fd() const override { return tty_ ? -1 : err_.get(); }

  void close_stdin() override {
    if (!tty_) {
      in_.reset();
      return;
    }
    if (!stdin_ || stdin_closed_) return;
    stdin_closed_ = true;
    // The terminal's EOF character: ends the read of a command waiting at the start
    // of a line (text typed without a newline needs a second one, as on any tty).
    const char eot = 0x04;
    ssize_t n;
    do {
      n = ::write(out_.get(), &eot, 1);
    } while (n < 0 && errno == EINTR);
  }

  Status resize(TerminalSize size) override {
    if (!tty_) return error(Code::kFailedPrecondition, "exec in container {}: the command has no terminal", id_);
    winsize ws{};
    ws.ws_row = size.height;
    ws.ws_col = size.width;
    if (::ioctl(out_.get(), TIOCSWINSZ, &ws) != 0) {
      return error(Code::kInternal, "exec in container {}: resizing the terminal: {}", id_, std::strerror(errno));
    }
    // runc copies between our pty and the container's: SIGWINCH makes it copy the
    // new size across (the kernel sends one too, as the pty is its controlling tty).
    std::lock_guard lock(mu_);
    if (signal_resize_ && !exit_code_) pidfd_signal(pidfd_.get(), SIGWINCH);
    return ok_status();
  }

  Result<int> wait(milliseconds timeout) override {
    auto deadline = timeout.count() > 0 ? Clock::now() + timeout : Clock::time_point::max();
    for (;;) {
      Clock::time_point limit = deadline;
      {
        std::lock_guard lock(mu_);
        if (exit_code_) return *exit_code_;
        if (killed_at_ && !runtime_killed_) limit = std::min(limit, *killed_at_ + kRuntimeGrace);
      }
      pollfd p{pidfd_.get(), POLLIN, 0};
      int r = poll_until(&p, 1, limit);
      if (r > 0) return reap_now();
      if (r < 0) return error(Code::kInternal, "exec in container {}: poll: {}", id_, std::strerror(errno));
      if (Clock::now() >= deadline) {
        return error(Code::kDeadlineExceeded, "exec in container {}: the command still runs after {} ms", id_,
                     timeout.count());
      }
      kill_runtime();
    }
  }

  void kill() override {
    std::lock_guard lock(mu_);
    if (exit_code_) return;
    // Killing the runtime would leave the command running in the container; it exits
    // by itself once the command is gone (wait() and the destructor see that it does).
    if (cmd_pidfd_.valid()) pidfd_signal(cmd_pidfd_.get(), SIGKILL);
    if (!killed_at_) killed_at_ = Clock::now();
  }

  // The rest is for launch() and run_exec() below.
  bool exited() {
    std::lock_guard lock(mu_);
    return exit_code_.has_value();
  }

  // Reaps the runtime (once); it has exited or was sent SIGKILL.
  int reap_now() {
    std::lock_guard lock(mu_);
    if (!exit_code_) {
      exit_code_ = reap(pid_);
      cmd_pidfd_.reset();
    }
    return *exit_code_;
  }

  void kill_runtime() {
    std::lock_guard lock(mu_);
    if (exit_code_ || runtime_killed_) return;
    log::warn("runtime exec did not exit after its command was killed; killing it", {{"id", id_}, {"pid", pid_}});
    pidfd_signal(pidfd_.get(), SIGKILL);
    runtime_killed_ = true;
  }

  const std::string id_;
  std::string dir_;  // ours: removed with the session
  pid_t pid_ = -1;   // the runtime process, our child
  fs::UniqueFd pidfd_;
  bool tty_ = false;
  bool stdin_ = false;
  bool stdin_closed_ = false;
  bool signal_resize_ = false;
  fs::UniqueFd in_;   // without tty: the command's stdin pipe
  fs::UniqueFd out_;  // the stdout pipe, or the terminal
  fs::UniqueFd err_;  // the stderr pipe (none with tty)

  std::mutex mu_;
  fs::UniqueFd cmd_pidfd_;                      // guarded by mu_; the command, while the runtime lives
  std::optional<int> exit_code_;                // guarded by mu_; set once the runtime is reaped
  std::optional<Clock::time_point> killed_at_;  // guarded by mu_
  bool runtime_killed_ = false;                 // guarded by mu_
};

std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view v(*e);
    if (v.rfind("NOTIFY_SOCKET=", 0) == 0 || v.rfind("LISTEN_", 0) == 0) continue;
    env.emplace_back(v);
  }
  return env;
}

// Puts the pty into the state runc itself sets on its console (raw input, output
// processing kept), before the runtime runs: input written early must not be echoed
// by our side of the terminal.
void make_raw(int fd) {
  termios t{};
  if (::tcgetattr(fd, &t) != 0) return;
  t.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
  t.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
  t.c_cflag &= ~(CSIZE | PARENB);
  t.c_cflag |= CS8;
  t.c_oflag |= OPOST | ONLCR;
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  ::tcsetattr(fd, TCSANOW, &t);
}

// The terminal, two ways:
// - runc (and by default): a foreground `runc exec` with terminal=true ignores
//   --console-socket; it makes the container's pty itself and copies between it and
//   its own stdio, which must be a terminal. So it gets the slave of a pty of ours as
//   0/1/2 in a new session (its controlling tty: a TIOCSWINSZ on our master then
//   reaches it as SIGWINCH), and we keep the master. runc clears ONLCR on the
//   container's pty only once the command runs, so output of the command's first
//   moments may carry "\r\r\n" for "\n" (harmless on a terminal).
// - crun (1.8): in the same foreground mode it copies too, but when the command exits
//   before crun has copied all of its output, crun writes the rest through its error
//   logger (a timestamped, coloured line) into the stream. With --console-socket it
//   instead sends us the container's pty master (sized from consoleSize) and still
//   waits for the command: we use that master directly.
Result<std::unique_ptr<RuntimeExecSession>> launch(const ExecStart& s) {
  const std::string& id = s.container_id;
  auto session = std::make_unique<RuntimeExecSession>(id);
  session->tty_ = s.tty;
  session->stdin_ = s.stdin;
  session->signal_resize_ = s.tty && !s.console_socket;

  std::string tmpl = s.base_dir + "/exec-XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  if (!::mkdtemp(name.data())) {
    return error(Code::kInternal, "exec in container {}: mkdtemp {}: {}", id, tmpl, std::strerror(errno));
  }
  const std::string dir = name.data();
  session->dir_ = dir;
  // Scratch files of one exec: no fsync, a crash loses nothing worth keeping.
  CRIO_RETURN_IF_ERROR(write_new_file(dir + "/process.json", s.process_json));
  const std::string pid_file = dir + "/pid";

  // runc renames its pid file into place, crun writes it: either event wakes us.
  DirWatch watch;
  if (Status st = watch.watch(dir, IN_CLOSE_WRITE | IN_MOVED_TO); !st.ok()) {
    return st.wrap("exec in container " + id);
  }

  fs::UniqueFd child_in, child_out, child_err;  // what becomes the runtime's 0, 1, 2
  std::string slave;                            // or this pty, opened in the child
  fs::UniqueFd listener;
  if (!s.tty) {
    if (s.stdin) CRIO_RETURN_IF_ERROR(make_pipe(child_in, session->in_));
    CRIO_RETURN_IF_ERROR(make_pipe(session->out_, child_out));
    CRIO_RETURN_IF_ERROR(make_pipe(session->err_, child_err));
  } else if (!s.console_socket) {
    session->out_ = high_fd(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!session->out_.valid()) return errno_error(fmt::format("exec in container {}: posix_openpt", id));
    char buf[128];
    if (::grantpt(session->out_.get()) != 0 || ::unlockpt(session->out_.get()) != 0 ||
        ::ptsname_r(session->out_.get(), buf, sizeof buf) != 0) {
      return errno_error(fmt::format("exec in container {}: setting up the pty", id));
    }
    slave = buf;
    make_raw(session->out_.get());
    // runc copies our terminal's size to the container's once it runs: unset, that
    // would undo the consoleSize the command started with.
    if (s.size) {
      winsize ws{};
      ws.ws_row = s.size->height;
      ws.ws_col = s.size->width;
      ::ioctl(session->out_.get(), TIOCSWINSZ, &ws);
    }
  } else {
    // The socket path is relative to the runtime's working directory (our private
    // dir): an absolute one under a long persist dir would not fit in sun_path. The
    // runtime's stdio is /dev/null (its errors are in runtime.log).
    fs::UniqueFd dirfd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    listener.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!dirfd.valid() || !listener.valid())
      return errno_error(fmt::format("exec in container {}: console socket", id));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/%s", dirfd.get(), kConsoleSocket);
    if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener.get(), 1) != 0) {
      return errno_error(fmt::format("exec in container {}: console socket in {}", id, dir));
    }
  }

  std::vector<std::string> argv = {s.runtime_path, "--root", s.runtime_root};
  argv.insert(argv.end(), s.cgroup_args.begin(), s.cgroup_args.end());
  argv.insert(argv.end(), {"--log", dir + "/runtime.log", "--log-format", "json", "exec", "--process",
                           dir + "/process.json", "--pid-file", pid_file});
  if (s.tty && s.console_socket) {
    argv.push_back("--console-socket");
    argv.push_back(kConsoleSocket);
  }
  argv.push_back(id);
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::vector<std::string> env = child_environment();
  std::vector<char*> cenv;
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  short flags = 0;
  if (!slave.empty()) {
    // Opened after setsid and without O_NOCTTY: it becomes the controlling terminal.
    flags = POSIX_SPAWN_SETSID;
    posix_spawn_file_actions_addopen(&actions, 0, slave.c_str(), O_RDWR, 0);
    posix_spawn_file_actions_adddup2(&actions, 0, 1);
    posix_spawn_file_actions_adddup2(&actions, 0, 2);
  } else {
    if (child_in.valid()) {
      posix_spawn_file_actions_adddup2(&actions, child_in.get(), 0);
    } else {
      posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    }
    if (child_out.valid()) {
      posix_spawn_file_actions_adddup2(&actions, child_out.get(), 1);
    } else {
      posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    }
    if (child_err.valid()) {
      posix_spawn_file_actions_adddup2(&actions, child_err.get(), 2);
    } else {
      posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    }
  }
  if (listener.valid()) posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  CleanSignalsAttr attr(flags);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, s.runtime_path.c_str(), &actions, attr.get(), cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return error(Code::kFailedPrecondition, "exec in container {}: starting {}: {}", id, s.runtime_path,
                 std::strerror(rc));
  }
  session->pid_ = pid;
  session->pidfd_.reset(pidfd_open(pid));
  if (!session->pidfd_.valid()) {
    Status st = errno_error(fmt::format("exec in container {}: pidfd_open", id));
    ::kill(pid, SIGKILL);
    session->reap_now();
    return st;
  }
  // Only the child may hold these now, or our reads would never see end of file.
  child_in.reset();
  child_out.reset();
  child_err.reset();

  auto deadline = Clock::now() + s.start_timeout;
  std::optional<pid_t> cmd;
  bool exited = false;
  for (;;) {
    if (!cmd) cmd = read_pid(pid_file);
    if (listener.valid() && !session->out_.valid()) {
      // A runtime that connected and sent the fd may even have exited already: the
      // connection waits in the backlog all the same.
      fs::UniqueFd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (conn.valid()) {
        session->out_ = fs::UniqueFd(receive_fd(conn.get()));
        if (!session->out_.valid()) {
          log::warn("no terminal received on the console socket", {{"id", id}, {"error", std::strerror(errno)}});
        }
        listener.reset();
      }
    }
    bool have_terminal = !s.tty || session->out_.valid();
    if ((cmd && have_terminal) || exited) break;

    pollfd fds[3] = {{watch.fd(), POLLIN, 0}, {session->pidfd_.get(), POLLIN, 0}, {listener.get(), POLLIN, 0}};
    int r = poll_until(fds, listener.valid() ? 3 : 2, deadline);
    if (r < 0) return errno_error(fmt::format("exec in container {}: poll", id));
    if (r == 0) {
      pidfd_signal(session->pidfd_.get(), SIGKILL);
      session->reap_now();
      return error(Code::kDeadlineExceeded, "exec in container {}: {} exec did not start the command within {} ms", id,
                   s.runtime_name, s.start_timeout.count());
    }
    watch.drain();
    // One more round reads what the runtime left behind before it exited.
    if (fds[1].revents) exited = true;
  }

  if (exited) {
    int status = session->reap_now();
    if (!cmd) {
      std::string text;
      if (auto log_text = fs::read_file(dir + "/runtime.log"); log_text.ok()) text = runtime_error_text(*log_text);
      if (text.empty() && session->err_.valid()) text = runtime_error_text(drain(session->err_.get()));
      if (text.empty()) text = fmt::format("exit status {} without starting the command", status);
      Code code = is_not_found(text) ? Code::kNotFound : Code::kFailedPrecondition;
      return error(code, "exec in container {}: {} exec failed: {}", id, s.runtime_name, text);
    }
    if (s.tty && !session->out_.valid()) {
      return error(Code::kInternal, "exec in container {}: {} exited ({}) without sending a terminal", id,
                   s.runtime_name, status);
    }
  } else {
    std::lock_guard lock(session->mu_);
    session->cmd_pidfd_.reset(pidfd_open(*cmd));
    // The runtime reaps the command only right before it exits itself: while it
    // lives, the pid from its pid file cannot name another process.
    if (readable_now(session->pidfd_.get())) session->cmd_pidfd_.reset();
  }
  return session;
}

}  // namespace

Result<std::unique_ptr<ExecSession>> start_exec(const ExecStart& start) {
  CRIO_ASSIGN_OR_RETURN(auto session, launch(start));
  return std::unique_ptr<ExecSession>(std::move(session));
}

Result<ExecResult> run_exec(const ExecStart& start, milliseconds timeout) {
  auto t0 = Clock::now();
  CRIO_ASSIGN_OR_RETURN(auto session, launch(start));
  ExecResult result;
  for (fs::UniqueFd* fd : {&session->out_, &session->err_}) {
    ::fcntl(fd->get(), F_SETFL, ::fcntl(fd->get(), F_GETFL) | O_NONBLOCK);
  }
  auto deadline = timeout.count() > 0 ? t0 + timeout : Clock::time_point::max();
  bool killed = false;
  for (;;) {
    pollfd fds[3] = {
        {session->out_.get(), POLLIN, 0}, {session->err_.get(), POLLIN, 0}, {session->pidfd_.get(), POLLIN, 0}};
    int r = poll_until(fds, 3, deadline);
    if (r < 0) return errno_error(fmt::format("exec in container {}: poll", start.container_id));
    if (r == 0) {
      if (!killed) {
        session->kill();
        killed = true;
        result.timed_out = true;
        deadline = Clock::now() + kRuntimeGrace;
      } else {
        session->kill_runtime();
        deadline = Clock::time_point::max();
      }
      continue;
    }
    if (fds[0].revents && !read_into(session->out_.get(), result.out, result.truncated)) session->out_.reset();
    if (fds[1].revents && !read_into(session->err_.get(), result.err, result.truncated)) session->err_.reset();
    if (fds[2].revents) break;
  }
  // All the command wrote is in the pipes now; a background child of it that still
  // holds them open is not waited for.
  while (session->out_.valid() && read_into(session->out_.get(), result.out, result.truncated) &&
         readable_now(session->out_.get())) {
  }
  while (session->err_.valid() && read_into(session->err_.get(), result.err, result.truncated) &&
         readable_now(session->err_.get())) {
  }
  int code = session->reap_now();
  result.exit_code = result.timed_out ? -1 : code;
  return result;
}

}  // namespace crio::oci::detail
