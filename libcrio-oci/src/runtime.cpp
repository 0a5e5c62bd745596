#include <crio/oci/runtime.hpp>

#include <crio/core/fs.hpp>
#include <crio/core/id.hpp>
#include <crio/core/log.hpp>
#include <crio/core/process.hpp>
#include <crio/oci/cgroup_stats.hpp>

#include "conmon.hpp"
#include "exec_session.hpp"
#include "spec_json.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

namespace crio::oci {

using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

struct Runtime::Tracked {
  ContainerProcess proc;
  fs::UniqueFd pidfd;         // the container's init; -1 if it was gone when we looked
  fs::UniqueFd conmon_pidfd;  // its monitor
  std::mutex mu;              // serialises lifecycle calls on this container
  // config.json's process, parsed at the first exec (the whole spec, seccomp profile
  // and all, costs a millisecond to parse; it does not change after create).
  std::mutex exec_mu;
  std::shared_ptr<const json> exec_process;  // guarded by exec_mu
  // The stop in progress: one caller runs it; later callers shorten its deadline to
  // theirs when that is sooner, and wait for its result.
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;               // guarded by stop_mu
  uint64_t stop_round = 0;             // guarded by stop_mu; counts finished stops
  Clock::time_point stop_deadline;     // guarded by stop_mu
  Status stop_result;                  // guarded by stop_mu
};

namespace {

std::string_view kStatusNames[] = {"created", "running", "paused", "stopped", "unknown"};

bool absolute(const std::string& p) { return !p.empty() && p[0] == '/'; }

Result<pid_t> read_pid_file(const std::string& path) {
  CRIO_ASSIGN_OR_RETURN(std::string text, fs::read_file(path));
  try {
    int pid = std::stoi(text);
    if (pid > 0) return static_cast<pid_t>(pid);
  } catch (...) {
  }
  return error(Code::kInternal, "pid file {} holds \"{}\"", path, text);
}

bool already_stopped(const std::string& text) {
  return text.find("not running") != std::string::npos || text.find("already finished") != std::string::npos ||
         text.find("stopped") != std::string::npos || text.find("No such process") != std::string::npos;
}

bool wait_for_file(const std::string& path, milliseconds timeout, int alive_pidfd = -1) {
  auto deadline = Clock::now() + timeout;
  auto step = milliseconds(1);
  for (;;) {
    if (::access(path.c_str(), F_OK) == 0) return true;
    if (Clock::now() >= deadline) return false;
    // Once the writer is gone, one last look is all that is left.
    if (alive_pidfd >= 0 && detail::wait_pidfd(alive_pidfd, milliseconds(0))) {
      return ::access(path.c_str(), F_OK) == 0;
    }
    std::this_thread::sleep_for(step);
    step = std::min(step * 2, milliseconds(20));
  }
}

// conmon's cgroup can go once conmon has: a conmon just killed may take a moment.
void remove_conmon_cgroup(const std::string& id, const std::string& path) {
  if (path.empty()) return;
  Status s;
  for (int attempt = 0; attempt < 20; ++attempt) {
    s = remove_cgroup(path);
    if (s.ok()) return;
    std::this_thread::sleep_for(milliseconds(50));
  }
  log::warn("cannot remove conmon's cgroup", {{"id", id}, {"error", s.message()}});
}

void kill_conmon_of(const std::string& pidfile) {
  auto pid = read_pid_file(pidfile);
  if (!pid.ok()) return;
  fs::UniqueFd fd(detail::pidfd_open(*pid));
  if (fd.valid()) detail::pidfd_signal(fd.get(), SIGKILL);
}

}  // namespace

std::vector<std::string> conmon_create_args(const RuntimeHandler& handler, const ContainerCreateOptions& options) {
  std::vector<std::string> args = {"--api-version", "1",
                                   "-c", options.id,
                                   "-u", options.id,
                                   "-n", options.name.empty() ? options.id : options.name,
                                   "-r", handler.runtime_path,
                                   "--runtime-arg", "--root=" + handler.runtime_root,
                                   "-b", options.bundle,
                                   "-p", options.bundle + "/pidfile",
                                   "-P", options.bundle + "/conmon-pidfile",
                                   "-l", "k8s-file:" + options.log_path,
                                   "--exit-dir", options.exit_dir,
                                   "--socket-dir-path", options.socket_dir,
                                   "--persist-dir", options.persist_dir,
                                   "--syslog"};
  if (handler.no_pivot) args.push_back("--no-pivot");
  if (options.terminal) args.push_back("-t");
  if (options.open_stdin) {
    args.push_back("-i");
    // Without it conmon closes the container's stdin when an attached client ends
    // its input (stdin_once).
    if (!options.stdin_once) args.push_back("--leave-stdin-open");
  }
  if (options.log_size_max) {
    args.push_back("--log-size-max");
    args.push_back(std::to_string(*options.log_size_max));
  }
  // conmon passes --systemd-cgroup on to the runtime itself.
  for (auto& a : handler.cgroup_driver.conmon_args()) args.push_back(std::move(a));
  return args;
}

std::string_view status_name(ContainerStatus status) { return kStatusNames[static_cast<int>(status)]; }

Runtime::Runtime(RuntimeHandler handler) : handler_(std::move(handler)) {}
Runtime::~Runtime() = default;

std::shared_ptr<Runtime::Tracked> Runtime::find(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = containers_.find(id);
  return it == containers_.end() ? nullptr : it->second;
}

std::optional<ContainerProcess> Runtime::process(const std::string& id) const {
  auto t = find(id);
  if (!t) return std::nullopt;
  return t->proc;
}

std::vector<std::string> Runtime::containers() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> ids;
  for (const auto& [id, t] : containers_) ids.push_back(id);
  return ids;
}

Result<std::string> Runtime::run_runtime(const std::string& id, const std::vector<std::string>& args,
                                         const std::string& stdin_data, milliseconds timeout) const {
  std::vector<std::string> argv = {handler_.runtime_path};
  for (auto& a : runtime_global_args(handler_)) argv.push_back(std::move(a));
  argv.insert(argv.end(), {"--log-format", "json"});
  argv.insert(argv.end(), args.begin(), args.end());
  process::Options opts;
  opts.timeout = timeout;
  opts.stdin_data = stdin_data;
  CRIO_ASSIGN_OR_RETURN(process::Output out, process::run(argv, opts));
  const std::string& verb = args.empty() ? handler_.runtime_path : args.front();
  if (out.timed_out) {
    return error(Code::kDeadlineExceeded, "container {}: {} {} did not finish in {} ms", id, handler_.name, verb,
                 timeout.count());
  }
  if (out.exit_code != 0) {
    std::string text = detail::runtime_error_text(out.err);
    if (text.empty()) text = fmt::format("exit status {}", out.exit_code);
    Code code = detail::is_not_found(text) ? Code::kNotFound : Code::kFailedPrecondition;
    return error(code, "container {}: {} {}: {}", id, handler_.name, verb, text);
  }
  return std::move(out.out);
}

Result<pid_t> Runtime::create(const ContainerCreateOptions& o) {
  if (o.id.empty() || o.id.find('/') != std::string::npos) {
    return error(Code::kInvalidArgument, "container \"{}\": invalid id", o.id);
  }
  for (const auto& [what, path] : {std::pair<const char*, const std::string&>{"bundle", o.bundle},
                                   {"log path", o.log_path}, {"exit dir", o.exit_dir},
                                   {"persist dir", o.persist_dir}, {"socket dir", o.socket_dir}}) {
    if (!absolute(path)) return error(Code::kInvalidArgument, "container {}: {} \"{}\" is not absolute", o.id, what, path);
  }
  if (!fs::exists(o.bundle + "/config.json")) {
    return error(Code::kFailedPrecondition, "container {}: no config.json in bundle {}", o.id, o.bundle);
  }
  auto tracked = std::make_shared<Tracked>();
  {
    std::lock_guard lock(mu_);
    if (containers_.count(o.id)) return error(Code::kAlreadyExists, "container {}: already exists", o.id);
    containers_[o.id] = tracked;  // reserves the id while we work
  }
  std::lock_guard clock(tracked->mu);
  auto fail = [&](Status s) -> Status {
    {
      std::lock_guard lock(mu_);
      containers_.erase(o.id);
    }
    kill_conmon_of(o.bundle + "/conmon-pidfile");
    (void)run_runtime(o.id, {"delete", "--force", o.id}, "", std::chrono::seconds(10));
    ::unlink((o.exit_dir + "/" + o.id).c_str());
    ::unlink((o.bundle + "/pidfile").c_str());
    ::unlink((o.bundle + "/conmon-pidfile").c_str());
    remove_conmon_cgroup(o.id, o.conmon_cgroup);
    return s;
  };

  for (const auto& dir : {o.exit_dir, o.persist_dir, o.socket_dir}) {
    Status s = fs::make_dirs(dir, 0700);
    if (!s.ok()) return fail(s.wrap("container " + o.id));
  }
  std::string log_dir = std::filesystem::path(o.log_path).parent_path().string();
  if (Status s = fs::make_dirs(log_dir, 0755); !s.ok()) return fail(s.wrap("container " + o.id));
  // Stale files from an earlier container of this id would read as ours (and a stale
  // conmon pid file would send our clean-up's SIGKILL to a stranger).
  ::unlink((o.exit_dir + "/" + o.id).c_str());
  ::unlink((o.bundle + "/pidfile").c_str());
  ::unlink((o.bundle + "/conmon-pidfile").c_str());
  ::unlink((o.persist_dir + "/oom").c_str());
  ::unlink((o.persist_dir + "/exit").c_str());

  std::vector<std::string> args = conmon_create_args(handler_, o);

  auto deadline = Clock::now() + o.timeout;
  auto spawned = detail::spawn_conmon(handler_.monitor_path, args, true,
                                     handler_.monitor_env ? &*handler_.monitor_env : nullptr);
  if (!spawned.ok()) return fail(spawned.status().wrap("container " + o.id));
  if (!o.conmon_cgroup.empty() || !o.conmon_scope.empty()) {
    Status s = !o.conmon_scope.empty()
                   ? move_to_systemd_scope(spawned->pid, ConmonCgroup{"", o.conmon_scope, o.conmon_slice}, o.conmon_cpu,
                                           std::chrono::duration_cast<milliseconds>(deadline - Clock::now()))
                   : move_to_cgroup(spawned->pid, o.conmon_cgroup, o.conmon_cpu);
    if (!s.ok()) {
      ::kill(spawned->pid, SIGKILL);
      detail::reap(spawned->pid);
      return fail(s.wrap("container " + o.id + ": conmon cgroup"));
    }
  }
  char go = 0;
  if (::write(spawned->start_w.get(), &go, 1) != 1) {
    ::kill(spawned->pid, SIGKILL);
    detail::reap(spawned->pid);
    return fail(error(Code::kInternal, "container {}: writing conmon's start pipe: {}", o.id, std::strerror(errno)));
  }
  spawned->start_w.reset();
  int first_status = detail::reap(spawned->pid);

  detail::SyncReader reader(spawned->sync_r.get());
  auto msg = reader.next(deadline);
  if (!msg.ok()) {
    return fail(error(msg.status().code(), "container {}: {} create: {}", o.id, handler_.name,
                      msg.status().message()));
  }
  if (!msg->has_value()) {
    std::string err = detail::drain(spawned->err_r.get());
    return fail(error(Code::kInternal, "container {}: conmon exited ({}) without reporting a pid{}{}", o.id,
                      first_status, err.empty() ? "" : ": ", err));
  }
  const detail::SyncMessage& m = **msg;
  if (m.data <= 0) {
    std::string text = detail::runtime_error_text(m.message);
    if (text.empty()) text = detail::drain(spawned->err_r.get());
    return fail(error(Code::kFailedPrecondition, "container {}: {} create failed: {}", o.id, handler_.name, text));
  }

  tracked->proc = ContainerProcess{o.id,          o.name.empty() ? o.id : o.name,
                                   m.data,        0,
                                   o.bundle,      o.log_path,
                                   o.exit_dir,    o.persist_dir,
                                   o.socket_dir,  o.conmon_cgroup};
  tracked->pidfd.reset(detail::pidfd_open(m.data));
  auto conmon_pid = read_pid_file(o.bundle + "/conmon-pidfile");
  if (conmon_pid.ok()) {
    tracked->proc.conmon_pid = *conmon_pid;
    tracked->conmon_pidfd.reset(detail::pidfd_open(*conmon_pid));
  } else {
    log::warn("conmon pid file unreadable", {{"id", o.id}, {"error", conmon_pid.status().message()}});
  }
  return static_cast<pid_t>(m.data);
}

Status Runtime::start(const std::string& id) {
  auto t = find(id);
  if (!t) return error(Code::kNotFound, "container {}: not known to runtime {}", id, handler_.name);
  std::lock_guard lock(t->mu);
  return run_runtime(id, {"start", id}).status();
}

Result<RuntimeState> Runtime::state(const std::string& id) {
  CRIO_ASSIGN_OR_RETURN(std::string out, run_runtime(id, {"state", id}, "", std::chrono::seconds(30)));
  json j = json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return error(Code::kInternal, "container {}: {} state printed no JSON: {}", id, handler_.name, out);
  }
  RuntimeState s;
  s.id = j.value("id", id);
  s.pid = j.value("pid", 0);
  s.bundle = j.value("bundle", "");
  std::string st = j.value("status", "");
  s.status = st == "created"   ? ContainerStatus::kCreated
             : st == "running" ? ContainerStatus::kRunning
             : st == "paused"  ? ContainerStatus::kPaused
             : st == "stopped" ? ContainerStatus::kStopped
                               : ContainerStatus::kUnknown;
  return s;
}

Status Runtime::kill(const std::string& id, int signal, bool all) {
  std::vector<std::string> args = {"kill"};
  if (all) args.push_back("--all");
  args.push_back(id);
  args.push_back(std::to_string(signal));
  return run_runtime(id, args).status();
}

Status Runtime::stop(const std::string& id, milliseconds timeout, int signal) {
  auto t = find(id);
  if (!t) return error(Code::kNotFound, "container {}: not known to runtime {}", id, handler_.name);
  if (fs::exists(t->proc.exit_dir + "/" + id)) return ok_status();
  const auto deadline = Clock::now() + std::max(timeout, milliseconds(0));
  {
    std::unique_lock lock(t->stop_mu);
    if (t->stopping) {
      // A second StopContainer (the kubelet's, or one with --timeout 0) must not wait
      // behind a long grace period: it brings the kill forward instead.
      if (deadline < t->stop_deadline) {
        t->stop_deadline = deadline;
        t->stop_cv.notify_all();
      }
      const uint64_t round = t->stop_round;
      t->stop_cv.wait(lock, [&] { return t->stop_round != round; });
      return t->stop_result;
    }
    t->stopping = true;
    t->stop_deadline = deadline;
  }
  Status result = stop_loop(*t, signal);
  {
    std::lock_guard lock(t->stop_mu);
    t->stopping = false;
    t->stop_result = result;
    ++t->stop_round;
  }
  t->stop_cv.notify_all();
  return result;
}

// The stop signal, a wait for the init until the deadline (which another stop may
// bring forward), then SIGKILL through `runtime kill`, retried with an exponential
// back-off (20 ms doubling up to 2 min, with jitter, as CRI-O) until the init is gone:
// a runtime may accept the kill and still not deliver it.
Status Runtime::stop_loop(Tracked& t, int signal) {
  const std::string& id = t.proc.id;
  const std::string exit_file = t.proc.exit_dir + "/" + id;
  auto exited = [&](milliseconds within) {
    if (t.pidfd.valid()) return detail::wait_pidfd(t.pidfd.get(), within);
    return wait_for_file(exit_file, within, t.conmon_pidfd.get());
  };
  auto deadline = [&] {
    std::lock_guard lock(t.stop_mu);
    return t.stop_deadline;
  };
  bool gone = false;
  if (signal != SIGKILL && deadline() > Clock::now()) {
    // Through the pidfd: what `runtime kill` does, minus a fork and exec, and it
    // cannot hit a recycled pid.
    bool sent = t.pidfd.valid() && (detail::pidfd_signal(t.pidfd.get(), signal) || errno == ESRCH);
    if (!sent) {
      Status s = kill(id, signal);
      if (!s.ok() && !already_stopped(s.message())) return s;
    }
    while (!gone) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline() - Clock::now());
      if (left.count() <= 0) break;
      // Short slices, so that a deadline brought forward is seen within 100 ms.
      gone = exited(std::min(left, milliseconds(100)));
    }
  }
  if (!gone) {
    log::warn(fmt::format("Stopping container {} with stop signal timed out. Killing...", id));
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uniform_real_distribution<double> jitter(0.0, 1.25);
    milliseconds backoff(20);
    const auto give_up = Clock::now() + handler_.kill_timeout;
    for (int attempt = 1; !gone; ++attempt) {
      Status s = kill(id, SIGKILL);
      if (!s.ok() && !already_stopped(s.message())) {
        log::warn("killing container failed", {{"id", id}, {"attempt", attempt}, {"error", s.message()}});
      }
      auto wait = milliseconds(static_cast<int64_t>(static_cast<double>(backoff.count()) * (1.0 + jitter(rng))));
      // The backoff never carries the wait past ctr_stop_timeout.
      const auto until_give_up = std::chrono::duration_cast<milliseconds>(give_up - Clock::now());
      gone = exited(std::max(milliseconds(1), std::min(wait, until_give_up)));
      if (!gone && Clock::now() >= give_up) {
        return error(Code::kDeadlineExceeded, "container {}: still running after {} SIGKILLs over {}s", id, attempt,
                     handler_.kill_timeout.count());
      }
      backoff = std::min(backoff * 2, milliseconds(std::chrono::minutes(2)));
    }
  }
  // conmon writes the exit file once it has drained the container's output.
  if (!wait_for_file(exit_file, std::chrono::seconds(10), t.conmon_pidfd.get())) {
    return error(Code::kInternal, "container {}: exited but conmon wrote no exit file {}", id, exit_file);
  }
  return ok_status();
}

Status Runtime::remove(const std::string& id) {
  auto t = find(id);
  std::unique_lock<std::mutex> lock;
  if (t) lock = std::unique_lock(t->mu);
  auto deleted = run_runtime(id, {"delete", "--force", id});
  // A container that just exited can leave its cgroup busy for a moment (the runtime's
  // rmdir fails with EBUSY): let conmon finish reaping it, then try again. Other
  // failures are not retried: delete runs the poststop hooks, which must run once.
  auto busy = [&] {
    return !deleted.ok() && deleted.status().message().find("busy") != std::string::npos;
  };
  for (int attempt = 0; attempt < 3 && busy(); ++attempt) {
    log::warn("runtime delete failed; retrying", {{"id", id}, {"error", deleted.status().message()}});
    if (t && t->conmon_pidfd.valid()) detail::wait_pidfd(t->conmon_pidfd.get(), std::chrono::seconds(1));
    std::this_thread::sleep_for(milliseconds(50 << attempt));
    deleted = run_runtime(id, {"delete", "--force", id});
  }
  if (!deleted.ok() && deleted.status().code() != Code::kNotFound) return deleted.status();
  if (!t) return ok_status();

  // conmon writes the exit file after the container dies: wait for it to finish
  // before removing its files, or they come back.
  if (t->conmon_pidfd.valid() && !detail::wait_pidfd(t->conmon_pidfd.get(), std::chrono::seconds(5))) {
    log::warn("conmon did not exit after delete; killing it", {{"id", id}, {"pid", t->proc.conmon_pid}});
    detail::pidfd_signal(t->conmon_pidfd.get(), SIGKILL);
    detail::wait_pidfd(t->conmon_pidfd.get(), std::chrono::seconds(2));
  }
  const ContainerProcess& p = t->proc;
  remove_conmon_cgroup(id, p.conmon_cgroup);
  for (const std::string& f : {p.exit_dir + "/" + id, p.persist_dir + "/exit", p.persist_dir + "/oom",
                               p.bundle + "/pidfile", p.bundle + "/conmon-pidfile", p.bundle + "/ctl",
                               p.bundle + "/winsz", p.bundle + "/attach", p.socket_dir + "/" + id}) {
    ::unlink(f.c_str());
  }
  lock.unlock();
  std::lock_guard g(mu_);
  containers_.erase(id);
  return ok_status();
}

Status Runtime::pause(const std::string& id) { return run_runtime(id, {"pause", id}).status(); }

Status Runtime::unpause(const std::string& id) { return run_runtime(id, {"resume", id}).status(); }

namespace {

// What `runtime exec` needs for argv in the container: its config.json process with
// these args and terminal, in a private dir under the persist dir (bundle if none).
Result<detail::ExecStart> exec_start(const RuntimeHandler& handler, const ContainerProcess& p,
                                     const json& config_process, const std::vector<std::string>& argv, bool tty,
                                     bool stdin, const std::optional<TerminalSize>& size) {
  const std::string& id = p.id;
  if (argv.empty()) return error(Code::kInvalidArgument, "exec in container {}: empty command", id);
  // The exit file is there once the container's init is gone: no runtime call needed
  // to know an exec cannot work.
  if (fs::exists(p.exit_dir + "/" + id)) {
    return error(Code::kFailedPrecondition, "exec in container {}: the container is not running (it exited)", id);
  }
  json proc = config_process;
  proc["args"] = argv;
  proc["terminal"] = tty;
  proc.erase("consoleSize");
  // Both runtimes size the container's pty from it before the command runs; a resize
  // after the start comes too late for a command that looks at once.
  if (tty && size && size->width > 0 && size->height > 0) {
    proc["consoleSize"] = {{"height", size->height}, {"width", size->width}};
  }
  detail::ExecStart s;
  s.container_id = id;
  s.runtime_name = handler.name;
  s.runtime_path = handler.runtime_path;
  s.runtime_root = handler.runtime_root;
  s.cgroup_args = handler.cgroup_driver.runtime_args();
  s.base_dir = absolute(p.persist_dir) ? p.persist_dir : p.bundle;
  s.process_json = proc.dump();
  s.tty = tty;
  s.stdin = stdin;
  if (tty && size && size->width > 0 && size->height > 0) s.size = size;
  // See launch() in exec_session.cpp for why crun gets its terminal another way.
  s.console_socket = std::filesystem::path(handler.runtime_path).filename().string().find("crun") != std::string::npos;
  return s;
}

Result<std::shared_ptr<const json>> read_process(const ContainerProcess& p) {
  CRIO_ASSIGN_OR_RETURN(std::string config, fs::read_file(p.bundle + "/config.json"));
  json spec = json::parse(config, nullptr, false);
  if (spec.is_discarded() || !spec.is_object() || !spec.contains("process") || !spec["process"].is_object()) {
    return error(Code::kInternal, "exec in container {}: {}/config.json has no process", p.id, p.bundle);
  }
  return std::make_shared<const json>(std::move(spec["process"]));
}

// The cached process of a Runtime::Tracked (a template: the type is private).
template <typename TrackedT>
Result<std::shared_ptr<const json>> exec_process(TrackedT& t) {
  std::lock_guard lock(t.exec_mu);
  if (!t.exec_process) {
    CRIO_ASSIGN_OR_RETURN(t.exec_process, read_process(t.proc));
  }
  return t.exec_process;
}

}  // namespace

Result<ExecResult> Runtime::exec_sync(const std::string& id, const std::vector<std::string>& argv,
                                      milliseconds timeout, bool tty) {
  auto t = find(id);
  if (!t) return error(Code::kNotFound, "container {}: not known to runtime {}", id, handler_.name);
  CRIO_ASSIGN_OR_RETURN(auto process, exec_process(*t));
  CRIO_ASSIGN_OR_RETURN(detail::ExecStart start,
                        exec_start(handler_, t->proc, *process, argv, tty, false, std::nullopt));
  return detail::run_exec(start, timeout);
}

Result<std::unique_ptr<ExecSession>> Runtime::exec(const std::string& id, const ExecOptions& options) {
  auto t = find(id);
  if (!t) return error(Code::kNotFound, "container {}: not known to runtime {}", id, handler_.name);
  CRIO_ASSIGN_OR_RETURN(auto process, exec_process(*t));
  CRIO_ASSIGN_OR_RETURN(detail::ExecStart start, exec_start(handler_, t->proc, *process, options.argv, options.tty,
                                                            options.stdin, options.size));
  return detail::start_exec(start);
}

Result<fs::UniqueFd> Runtime::attach(const std::string& id) {
  auto t = find(id);
  if (!t) return error(Code::kNotFound, "container {}: not known to runtime {}", id, handler_.name);
  const ContainerProcess& p = t->proc;
  // conmon binds `attach` in the bundle and links `<socket_dir>/<id>` to it, shortened
  // by one character when that path is exactly one short of sun_path's size.
  std::string link = p.socket_dir + "/" + id;
  if (link.size() == sizeof(sockaddr_un::sun_path) - 1) link.pop_back();
  fs::UniqueFd dir(::open(link.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) {
    Code code = errno == ENOENT ? Code::kFailedPrecondition : Code::kInternal;
    return error(code, "container {}: attach socket directory {}: {}", id, link, std::strerror(errno));
  }
  fs::UniqueFd sock(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return error(Code::kInternal, "container {}: socket: {}", id, std::strerror(errno));
  // Through /proc/self/fd the path fits in sun_path however long socket_dir is.
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/attach", dir.get());
  int rc;
  do {
    rc = ::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    Code code = errno == ENOENT || errno == ECONNREFUSED ? Code::kFailedPrecondition : Code::kInternal;
    return error(code, "container {}: connecting to {}/attach: {} (is conmon running?)", id, link,
                 std::strerror(errno));
  }
  return sock;
}

Status Runtime::resize_terminal(const std::string& id, TerminalSize size) {
  auto t = find(id);
  if (!t) return error(Code::kNotFound, "container {}: not known to runtime {}", id, handler_.name);
  if (size.width == 0 || size.height == 0) {
    return error(Code::kInvalidArgument, "container {}: terminal size {}x{} has a zero side", id, size.width,
                 size.height);
  }
  const std::string ctl = t->proc.bundle + "/ctl";
  fs::UniqueFd fd(::open(ctl.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) {
    Code code = errno == ENXIO || errno == ENOENT ? Code::kFailedPrecondition : Code::kInternal;
    return error(code, "container {}: conmon control fifo {}: {} (conmon gone?)", id, ctl, std::strerror(errno));
  }
  // conmon 2.1.6 reads "<type> <height> <width>\n" from `ctl`; type 1 is a resize,
  // which it passes on to its `winsz` fifo and applies with TIOCSWINSZ once it has the
  // container's terminal (without -t there is none and nothing happens). One message
  // per write: conmon mis-parses several arriving in one read.
  std::string msg = fmt::format("1 {} {}\n", size.height, size.width);
  if (::write(fd.get(), msg.data(), msg.size()) != static_cast<ssize_t>(msg.size())) {
    return error(Code::kInternal, "container {}: writing {}: {}", id, ctl, std::strerror(errno));
  }
  return ok_status();
}

Result<ExitInfo> Runtime::read_exit(const std::string& id) const {
  auto t = find(id);
  if (!t) return error(Code::kNotFound, "container {}: not known to runtime {}", id, handler_.name);
  const std::string path = t->proc.exit_dir + "/" + id;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return error(Code::kNotFound, "container {}: no exit file {} (still running?)", id, path);
  }
  CRIO_ASSIGN_OR_RETURN(std::string text, fs::read_file(path));
  ExitInfo info;
  try {
    info.exit_code = std::stoi(text);
  } catch (...) {
    return error(Code::kDataLoss, "container {}: exit file {} holds \"{}\"", id, path, text);
  }
  info.finished_at = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::seconds(st.st_mtim.tv_sec) +
                                                                      std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
  info.oom_killed = fs::exists(t->proc.persist_dir + "/oom");
  return info;
}

Status Runtime::update_resources(const std::string& id, const Resources& resources) {
  auto t = find(id);
  if (!t) return error(Code::kNotFound, "container {}: not known to runtime {}", id, handler_.name);
  std::string body = detail::resources_to_json(resources).dump();
  std::string file = t->proc.persist_dir + "/.resources-" + core::random_hex(8) + ".json";
  CRIO_RETURN_IF_ERROR(fs::write_file_atomic(file, body, 0600));
  Status s = run_runtime(id, {"update", "--resources", file, id}).status();
  ::unlink(file.c_str());
  return s;
}

Status Runtime::reopen_log(const std::string& id) {
  auto t = find(id);
  if (!t) return error(Code::kNotFound, "container {}: not known to runtime {}", id, handler_.name);
  const std::string ctl = t->proc.bundle + "/ctl";
  fs::UniqueFd fd(::open(ctl.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) {
    Code code = errno == ENXIO || errno == ENOENT ? Code::kFailedPrecondition : Code::kInternal;
    return error(code, "container {}: conmon control fifo {}: {} (conmon gone?)", id, ctl, std::strerror(errno));
  }
  // Message type 2 asks conmon to reopen its log files; height and width are unused.
  const char msg[] = "2 0 0\n";
  if (::write(fd.get(), msg, sizeof msg - 1) != static_cast<ssize_t>(sizeof msg - 1)) {
    return error(Code::kInternal, "container {}: writing {}: {}", id, ctl, std::strerror(errno));
  }
  if (!wait_for_file(t->proc.log_path, std::chrono::seconds(3), t->conmon_pidfd.get())) {
    return error(Code::kDeadlineExceeded, "container {}: conmon did not reopen {} within 3s", id, t->proc.log_path);
  }
  return ok_status();
}

Status Runtime::adopt(const ContainerProcess& p) {
  if (p.id.empty()) return error(Code::kInvalidArgument, "adopting a container without an id");
  auto t = std::make_shared<Tracked>();
  t->proc = p;
  // Once the exit file exists the pid may belong to someone else.
  if (p.pid > 0 && !fs::exists(p.exit_dir + "/" + p.id)) t->pidfd.reset(detail::pidfd_open(p.pid));
  if (p.conmon_pid > 0) {
    // A recycled pid must not be mistaken for the monitor.
    auto cmdline = fs::read_file("/proc/" + std::to_string(p.conmon_pid) + "/cmdline");
    if (cmdline.ok() && cmdline->find("conmon") != std::string::npos && cmdline->find(p.id) != std::string::npos) {
      t->conmon_pidfd.reset(detail::pidfd_open(p.conmon_pid));
    }
  }
  std::lock_guard lock(mu_);
  if (containers_.count(p.id)) return error(Code::kAlreadyExists, "container {}: already tracked", p.id);
  containers_[p.id] = std::move(t);
  return ok_status();
}

}  // namespace crio::oci
