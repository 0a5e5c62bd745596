#include "conmon.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <regex>

extern char** environ;

namespace crio::oci::detail {

namespace {

Status errno_error(std::string_view what) {
  return error(Code::kInternal, "{}: {}", what, std::strerror(errno));
}

// A pipe whose ends sit at fd 10 or above, so that dup2 onto 3 and 4 in the child
// cannot clobber one end with the other.
Status high_pipe(fs::UniqueFd& r, fs::UniqueFd& w) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return errno_error("pipe");
  fs::UniqueFd a(p[0]), b(p[1]);
  r.reset(::fcntl(a.get(), F_DUPFD_CLOEXEC, 10));
  w.reset(::fcntl(b.get(), F_DUPFD_CLOEXEC, 10));
  if (!r.valid() || !w.valid()) return errno_error("dup pipe");
  return ok_status();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r' || s.back() == '\0')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\n')) ++i;
  return s.substr(i);
}

std::optional<SyncMessage> parse_message(const std::string& line) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_discarded() && j.is_object()) {
    SyncMessage m;
    for (const char* key : {"data", "pid", "exit_code"}) {
      if (j.contains(key) && j[key].is_number_integer()) {
        m.data = j[key].get<int>();
        if (j.contains("message") && j["message"].is_string()) m.message = j["message"].get<std::string>();
        return m;
      }
    }
    return std::nullopt;
  }
  // Older conmons do not escape the message: take the number and the raw text.
  static const std::regex re(R"re(^\{"(?:data|pid|exit_code)":\s*(-?\d+)(?:,\s*"message":\s*"(.*)")?\}\s*$)re");
  std::smatch m;
  if (std::regex_match(line, m, re)) return SyncMessage{std::stoi(m[1].str()), m[2].str()};
  return std::nullopt;
}

}  // namespace

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

bool pidfd_signal(int pidfd, int signal) {
  return ::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0) == 0;
}

bool wait_pidfd(int pidfd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{pidfd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

CleanSignalsAttr::CleanSignalsAttr(short flags) {
  posix_spawnattr_init(&attr_);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr_, &none);
  posix_spawnattr_setsigdefault(&attr_, &all);
  posix_spawnattr_setflags(&attr_, static_cast<short>(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | flags));
}

CleanSignalsAttr::~CleanSignalsAttr() { posix_spawnattr_destroy(&attr_); }

Result<SpawnedConmon> spawn_conmon(const std::string& conmon, const std::vector<std::string>& args, bool start_pipe,
                                   const std::vector<std::string>* monitor_env) {
  SpawnedConmon out;
  fs::UniqueFd sync_w, start_r, err_w;
  CRIO_RETURN_IF_ERROR(high_pipe(out.sync_r, sync_w));
  if (start_pipe) CRIO_RETURN_IF_ERROR(high_pipe(start_r, out.start_w));
  CRIO_RETURN_IF_ERROR(high_pipe(out.err_r, err_w));

  std::vector<std::string> env;
  if (monitor_env) {
    // As CRI-O: the configured environment only, and the runtime's XDG_RUNTIME_DIR.
    for (const auto& v : *monitor_env) {
      if (v.rfind("_OCI_", 0) != 0) env.push_back(v);
    }
    if (const char* xdg = ::getenv("XDG_RUNTIME_DIR")) env.push_back(std::string("XDG_RUNTIME_DIR=") + xdg);
  } else {
    for (char** e = environ; e && *e; ++e) {
      std::string_view v(*e);
      if (v.rfind("_OCI_", 0) == 0 || v.rfind("NOTIFY_SOCKET=", 0) == 0 || v.rfind("LISTEN_", 0) == 0) continue;
      env.emplace_back(v);
    }
  }
  env.push_back("_OCI_SYNCPIPE=3");
  if (start_pipe) env.push_back("_OCI_STARTPIPE=4");

  std::vector<char*> cargv;
  cargv.push_back(const_cast<char*>(conmon.c_str()));
  for (const auto& a : args) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, err_w.get(), 2);
  // dup2 onto a different fd number yields a descriptor without O_CLOEXEC: exactly
  // fds 3 and 4 survive the exec.
  posix_spawn_file_actions_adddup2(&actions, sync_w.get(), 3);
  if (start_pipe) posix_spawn_file_actions_adddup2(&actions, start_r.get(), 4);
  // Nothing else of the daemon's reaches conmon, which outlives it: an inherited
  // listening socket would keep a restarted daemon from binding its address.
  posix_spawn_file_actions_addclosefrom_np(&actions, 5);
  CleanSignalsAttr attr;
  int rc = ::posix_spawn(&out.pid, conmon.c_str(), &actions, attr.get(), cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return error(Code::kFailedPrecondition, "starting {}: {}", conmon, std::strerror(rc));
  return out;
}

int reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

Result<std::optional<SyncMessage>> SyncReader::next(std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto nl = buf_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      if (trim(line).empty()) continue;
      auto m = parse_message(line);
      if (!m) return error(Code::kInternal, "conmon sent an unreadable sync message: {}", line);
      return std::optional<SyncMessage>(std::move(*m));
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return error(Code::kDeadlineExceeded, "no answer from conmon");
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno_error("poll on conmon sync pipe");
    if (r == 0) continue;
    char tmp[4096];
    ssize_t n = ::read(fd_, tmp, sizeof tmp);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("reading conmon sync pipe");
    if (n == 0) {
      // A last message without a newline still counts.
      if (!trim(buf_).empty()) {
        buf_.push_back('\n');
        continue;
      }
      return std::optional<SyncMessage>();
    }
    buf_.append(tmp, static_cast<size_t>(n));
  }
}

std::string drain(int fd) {
  std::string out;
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  char tmp[4096];
  while (out.size() < 4096) {
    ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n <= 0) break;
    out.append(tmp, static_cast<size_t>(n));
  }
  return trim(out.substr(0, 4096));
}

bool is_not_found(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text.find("not exist") != std::string::npos || text.find("no such file") != std::string::npos ||
         text.find("not found") != std::string::npos;
}

std::string runtime_error_text(const std::string& err) {
  std::string out;
  size_t pos = 0;
  while (pos < err.size()) {
    size_t nl = err.find('\n', pos);
    std::string line = trim(err.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
    pos = nl == std::string::npos ? err.size() : nl + 1;
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.contains("msg") && j["msg"].is_string()) {
      // Debug and info lines from --log-format json are noise in an error message.
      std::string level = j.value("level", "error");
      if (level == "debug" || level == "info") continue;
      line = j["msg"].get<std::string>();
    }
    // runc's default logfmt: time="..." level=error msg="..."
    if (auto at = line.find(" msg=\""); at != std::string::npos && line.rfind("time=", 0) == 0) {
      std::string msg;
      for (size_t i = at + 6; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '\\' && i + 1 < line.size()) ++i;
        msg.push_back(line[i]);
      }
      line = msg;
    }
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out;
}

}  // namespace crio::oci::detail
