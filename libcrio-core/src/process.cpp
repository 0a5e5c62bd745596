#include <crio/core/process.hpp>

#include <crio/core/fs.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace crio::process {
namespace {

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

bool is_executable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::optional<std::string> find_executable(const std::string& name, const std::vector<std::string>& dirs) {
  if (name.find('/') != std::string::npos) {
    return is_executable(name) ? std::optional<std::string>(name) : std::nullopt;
  }
  std::vector<std::string> search = dirs;
  if (search.empty()) {
    const char* path = std::getenv("PATH");
    std::string p = path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    size_t start = 0;
    while (start <= p.size()) {
      size_t end = p.find(':', start);
      if (end == std::string::npos) end = p.size();
      if (end > start) search.push_back(p.substr(start, end - start));
      start = end + 1;
    }
  }
  for (const auto& dir : search) {
    std::string candidate = dir;
    if (!candidate.empty() && candidate.back() != '/') candidate.push_back('/');
    candidate += name;
    if (is_executable(candidate)) return candidate;
  }
  return std::nullopt;
}

Result<Output> run(const std::vector<std::string>& argv_in, const Options& options) {
  if (argv_in.empty()) return error(Code::kInvalidArgument, "running a program: empty command line");
  std::vector<std::string> argv = argv_in;
  auto program = find_executable(argv[0]);
  if (!program) return error(Code::kNotFound, "running {}: no such executable", argv[0]);

  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) return error(Code::kInternal, "pipe: {}", std::strerror(errno));
  fs::UniqueFd in_r(in_pipe[0]), in_w(in_pipe[1]);
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return error(Code::kInternal, "pipe: {}", std::strerror(errno));
  fs::UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return error(Code::kInternal, "pipe: {}", std::strerror(errno));
  fs::UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_r.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_w.get(), 2);
  // Only stdio reaches the child, whatever the caller's other threads have open.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  if (!options.working_dir.empty()) posix_spawn_file_actions_addchdir_np(&actions, options.working_dir.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all;
  sigemptyset(&all);
  posix_spawnattr_setsigmask(&attr, &all);
  sigset_t defaults;
  sigfillset(&defaults);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  // Its own process group, so a timeout kills whatever the child started too.
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<std::string> env_copy;
  char** envp = environ;
  std::vector<char*> cenv;
  if (options.env) {
    env_copy = *options.env;
    cenv = c_strings(env_copy);
    envp = cenv.data();
  }
  auto cargv = c_strings(argv);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, program->c_str(), &actions, &attr, cargv.data(), envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return error(Code::kInternal, "starting {}: {}", *program, std::strerror(rc));
  in_r.reset();
  out_w.reset();
  err_w.reset();

  Output output;
  size_t written = 0;
  if (options.stdin_data.empty()) in_w.reset();
  else ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);

  using clock = std::chrono::steady_clock;
  auto deadline = options.timeout.count() > 0 ? clock::now() + options.timeout : clock::time_point::max();
  char buf[16384];
  while (out_r.valid() || err_r.valid()) {
    pollfd fds[3];
    int n = 0;
    int out_i = -1, err_i = -1, in_i = -1;
    if (out_r.valid()) { out_i = n; fds[n++] = {out_r.get(), POLLIN, 0}; }
    if (err_r.valid()) { err_i = n; fds[n++] = {err_r.get(), POLLIN, 0}; }
    if (in_w.valid()) { in_i = n; fds[n++] = {in_w.get(), POLLOUT, 0}; }
    int wait_ms = -1;
    if (deadline != clock::time_point::max()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
      if (left <= 0) {
        output.timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(left);
    }
    int r = ::poll(fds, static_cast<nfds_t>(n), wait_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;
    auto drain = [&](int idx, fs::UniqueFd& fd, std::string& into) {
      if (idx < 0 || !(fds[idx].revents & (POLLIN | POLLHUP | POLLERR))) return;
      ssize_t got = ::read(fd.get(), buf, sizeof buf);
      if (got <= 0) {
        fd.reset();
        return;
      }
      size_t room = options.max_output > into.size() ? options.max_output - into.size() : 0;
      into.append(buf, std::min(room, static_cast<size_t>(got)));
    };
    drain(out_i, out_r, output.out);
    drain(err_i, err_r, output.err);
    if (in_i >= 0 && (fds[in_i].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = ::write(in_w.get(), options.stdin_data.data() + written, options.stdin_data.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 || written == options.stdin_data.size()) in_w.reset();
    }
  }
  if (output.timed_out) ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  output.exit_code = decode_status(status);
  return output;
}

}  // namespace crio::process
