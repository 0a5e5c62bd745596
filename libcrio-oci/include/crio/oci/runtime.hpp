#pragma once
// Drives one OCI runtime handler (runc, crun) through conmon, as CRI-O does: conmon
// runs `runtime create`, keeps the container's stdio and log, and writes the exit code
// to `<exit_dir>/<id>` when the container ends. Everything else (start, kill, delete,
// pause, update, state, and exec: the daemon is the parent of `runtime exec`) is a
// direct runtime call with a private `--root`.
//
// Thread-safe: calls for different containers run in parallel; no lock is held while
// an external program runs.

#include <crio/core/fs.hpp>
#include <crio/core/status.hpp>
#include <crio/oci/export.hpp>
#include <crio/oci/runtime_handler.hpp>
#include <crio/oci/spec.hpp>

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crio::oci {

enum class ContainerStatus { kCreated, kRunning, kPaused, kStopped, kUnknown };
CRIO_OCI_EXPORT std::string_view status_name(ContainerStatus status);

// `runtime state ID`.
struct RuntimeState {
  std::string id;
  ContainerStatus status = ContainerStatus::kUnknown;
  pid_t pid = 0;
  std::string bundle;
};

struct ContainerCreateOptions {
  std::string id;
  std::string name;         // conmon -n; the id when empty
  std::string bundle;       // absolute; holds config.json
  std::string log_path;     // the CRI log file (k8s-file format)
  std::string exit_dir;     // conmon writes `<exit_dir>/<id>`
  std::string persist_dir;  // conmon's persist dir: `exit` and `oom` files
  std::string socket_dir;   // attach sockets: `<socket_dir>/<id>` links to the bundle
  bool terminal = false;
  bool open_stdin = false;
  // With open_stdin: the container's stdin closes when the first attached client
  // closes its input (conmon without --leave-stdin-open).
  bool stdin_once = false;
  // cgroupfs path (e.g. "/crio-conmon" or "/kubepods/pod1/crio-conmon-ID") conmon is
  // moved into, with conmon_cpu applied to it, before it starts the runtime; empty keeps
  // it in the caller's cgroups. remove() deletes it once conmon is gone.
  std::string conmon_cgroup;
  // With the systemd cgroup driver instead: the transient scope ("crio-conmon-ID.scope")
  // conmon is put in through systemd, in conmon_slice (empty: systemd's default), with
  // conmon_cpu as its properties. systemd removes the scope once conmon is gone.
  std::string conmon_scope;
  std::string conmon_slice;
  CpuResources conmon_cpu;
  std::optional<int64_t> log_size_max;  // bytes; conmon rotates above it
  std::chrono::milliseconds timeout{std::chrono::seconds(120)};
};

// What the runtime keeps about a container it created (or adopted after a restart).
struct ContainerProcess {
  std::string id;
  std::string name;
  pid_t pid = 0;         // the container's init, in our pid namespace
  pid_t conmon_pid = 0;  // its monitor
  std::string bundle;
  std::string log_path;
  std::string exit_dir;
  std::string persist_dir;
  std::string socket_dir;
  std::string conmon_cgroup;  // ContainerCreateOptions::conmon_cgroup
};

struct ExitInfo {
  int exit_code = -1;  // 128 + signal when killed by one (137 for SIGKILL)
  std::chrono::system_clock::time_point finished_at;  // the exit file's mtime
  bool oom_killed = false;
};

struct ExecResult {
  int exit_code = -1;  // -1 when timed out
  std::string out;     // stdout, at most 16 MiB
  std::string err;     // stderr, at most 16 MiB
  bool timed_out = false;
  bool truncated = false;  // output beyond 16 MiB was dropped
};

struct TerminalSize {
  uint16_t width = 0;   // columns
  uint16_t height = 0;  // rows
};

struct ExecOptions {
  std::vector<std::string> argv;
  bool tty = false;    // the command gets a terminal; its stderr is folded into it
  bool stdin = false;  // the caller writes the command's input; /dev/null otherwise
  std::optional<TerminalSize> size;  // the terminal's initial size
};

// One command running in a container through `runtime exec` (no conmon: the daemon
// is its parent and owns its stdio, so the daemon must not ignore SIGCHLD). Destroying
// the session kills the command if it still runs and reaps the runtime process (it
// may block up to 2 s for a runtime that lingers). The fds are blocking, close-on-exec
// and owned by the session; the caller may poll them, or make them non-blocking.
// Writes to stdin_fd() after the command ended fail with EPIPE (and raise SIGPIPE,
// which a daemon ignores). wait() and kill() may be called from any thread; the fd
// calls and close_stdin() from one thread at a time.
class CRIO_OCI_EXPORT ExecSession {
 public:
  virtual ~ExecSession() = default;
  // Write end of the command's input; the terminal with tty; -1 without stdin (and
  // after close_stdin() without tty).
  virtual int stdin_fd() const = 0;
  // Read end of the command's output; the terminal with tty. A read of 0, or EIO on
  // the terminal, is the end of the output.
  virtual int stdout_fd() const = 0;
  // Read end of the command's stderr; -1 with tty.
  virtual int stderr_fd() const = 0;
  // End of input for the command (closes the pipe; with a tty, sends EOF, ^D, which
  // ends a read at the start of a line, as typing it would).
  virtual void close_stdin() = 0;
  // TIOCSWINSZ on the terminal; FailedPrecondition without tty.
  virtual Status resize(TerminalSize size) = 0;
  // The exit code (128 + signal when killed by one, 137 after kill()); DeadlineExceeded
  // when the command still runs after `timeout` (zero: wait forever). Once known, the
  // same code is returned to every later call.
  virtual Result<int> wait(std::chrono::milliseconds timeout) = 0;
  // SIGKILL to the command in the container (through a pidfd, never a stale pid);
  // wait() then returns. wait() (or the destructor) kills the runtime too if it is
  // still alive 2 s later.
  virtual void kill() = 0;
};

// conmon's arguments for `create` of a container with these options.
CRIO_OCI_EXPORT std::vector<std::string> conmon_create_args(const RuntimeHandler& handler,
                                                            const ContainerCreateOptions& options);

class CRIO_OCI_EXPORT Runtime {
 public:
  explicit Runtime(RuntimeHandler handler);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  const RuntimeHandler& handler() const { return handler_; }

  // conmon + `runtime create`. Returns the container's pid once conmon reports it (the
  // container is then CREATED). AlreadyExists when the id is known; on error nothing is
  // left behind (conmon killed, runtime state deleted, exit file removed).
  Result<pid_t> create(const ContainerCreateOptions& options);
  // `runtime start`: CREATED → RUNNING.
  Status start(const std::string& id);
  Result<RuntimeState> state(const std::string& id);
  // Sends `signal` to the container's init (`runtime kill`, or `--all` processes).
  Status kill(const std::string& id, int signal, bool all = false);
  // Sends `signal`, waits up to `timeout` for the init to exit, then SIGKILLs it through
  // `runtime kill`, retrying with back-off until it is gone (DeadlineExceeded after the
  // handler's kill_timeout); returns once the exit file is written. A container that already exited is
  // fine. A stop while another runs joins it: its shorter timeout brings the kill
  // forward, and both return the same result.
  Status stop(const std::string& id, std::chrono::milliseconds timeout, int signal = SIGTERM);
  // `runtime delete --force`, then conmon is waited for (killed if it lingers) and its
  // exit/oom/pid files removed. Removing an unknown container succeeds.
  Status remove(const std::string& id);
  Status pause(const std::string& id);
  Status unpause(const std::string& id);
  // Runs argv in the container (its config.json process, with these args) as
  // `runtime exec` (no conmon), collecting stdout/stderr. A zero timeout means none; a
  // timeout kills the command and is reported in ExecResult::timed_out. NotFound for
  // an unknown container or command, FailedPrecondition when the container exited.
  // With `tty` the command gets a terminal (as CRI-O's ExecSync does in a container
  // created with one) and its stderr arrives in `out`.
  Result<ExecResult> exec_sync(const std::string& id, const std::vector<std::string>& argv,
                               std::chrono::milliseconds timeout, bool tty = false);
  // Starts argv in the running container (its config.json process with these args
  // and terminal) as `runtime exec`; the caller drives its stdio. Returns once the
  // command runs (the runtime wrote its pid file). NotFound for an unknown container
  // or command, FailedPrecondition when the container is not running, InvalidArgument
  // for an empty argv.
  Result<std::unique_ptr<ExecSession>> exec(const std::string& id, const ExecOptions& options);
  // Connects to conmon's attach socket for the container (SOCK_SEQPACKET): each packet
  // read starts with 2 (stdout) or 3 (stderr) (conmon numbers its pipes stdin 1,
  // stdout 2, stderr 3), then the bytes; only output produced while connected arrives.
  // What is written goes to the container's stdin (conmon -i) as raw bytes, no
  // framing; shutdown(SHUT_WR) is end of input, which closes the container's stdin
  // when it was created with stdin_once. End of file once the container exited.
  // NotFound for an unknown container, FailedPrecondition when conmon is gone.
  Result<fs::UniqueFd> attach(const std::string& id);
  // Resizes the container's terminal (conmon -t) through conmon's `ctl` fifo. conmon
  // applies it asynchronously; a container without a terminal ignores it.
  // InvalidArgument for a zero side, FailedPrecondition when conmon is gone.
  Status resize_terminal(const std::string& id, TerminalSize size);
  // The exit code and time from the exit file; NotFound while the container runs.
  Result<ExitInfo> read_exit(const std::string& id) const;
  // `runtime update --resources`.
  Status update_resources(const std::string& id, const Resources& resources);
  // Asks conmon to reopen the log file (after log rotation renamed it) and waits until
  // the new file exists.
  Status reopen_log(const std::string& id);

  // Tracks a container created by an earlier daemon (from its persisted state).
  Status adopt(const ContainerProcess& process);
  std::optional<ContainerProcess> process(const std::string& id) const;
  std::vector<std::string> containers() const;

 private:
  struct Tracked;
  std::shared_ptr<Tracked> find(const std::string& id) const;
  Status stop_loop(Tracked& t, int signal);
  Result<std::string> run_runtime(const std::string& id, const std::vector<std::string>& args,
                                  const std::string& stdin_data = "",
                                  std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;

  RuntimeHandler handler_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Tracked>> containers_;  // guarded by mu_
};

}  // namespace crio::oci
