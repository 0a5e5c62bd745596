#include <crio/net/netns.hpp>

#include <crio/core/fs.hpp>
#include <crio/core/log.hpp>
#include <crio/core/process.hpp>

#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>

namespace crio::net {
namespace {

constexpr long kNsfsMagic = 0x6e736673;  // NSFS_MAGIC from <linux/magic.h>
constexpr size_t kMaxHostname = 64;      // HOST_NAME_MAX on Linux

struct TypeInfo {
  int clone_flag;
  const char* subdir;     // below the pin directory
  const char* proc_name;  // in /proc/<tid>/ns/
};

TypeInfo info(NamespaceType type) {
  switch (type) {
    case NamespaceType::kUts:
      return {CLONE_NEWUTS, "utsns", "uts"};
    case NamespaceType::kIpc:
      return {CLONE_NEWIPC, "ipcns", "ipc"};
    case NamespaceType::kNet:
    default:
      return {CLONE_NEWNET, "netns", "net"};
  }
}

Status errno_status(int err, std::string_view what, const std::string& path) {
  Code code = err == EPERM || err == EACCES ? Code::kPermissionDenied : Code::kInternal;
  return error(code, "{} {}: {}", what, path, std::strerror(err));
}

// Runs on a throwaway thread: unshare() changes only the calling thread's namespace,
// so the daemon's other threads (and this library's caller) stay where they are. The
// thread exits right after, taking its namespace membership with it; the bind mount
// is what keeps the namespace alive.
Status enter_and_pin(NamespaceType type, const std::string& path, const std::optional<std::string>& hostname) {
  const TypeInfo ti = info(type);
  if (::unshare(ti.clone_flag) != 0) return errno_status(errno, "creating a namespace for", path);
  if (type == NamespaceType::kUts && hostname) {
    if (::sethostname(hostname->data(), hostname->size()) != 0) {
      return errno_status(errno, "setting the hostname in", path);
    }
  }
  std::string source = std::string("/proc/thread-self/ns/") + ti.proc_name;
  if (::mount(source.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return errno_status(errno, "bind-mounting the namespace onto", path);
  }
  return ok_status();
}

// Namespace changes are per thread: doing them on a thread of their own keeps every
// other thread where it was, and the thread's end drops its membership.
template <typename F>
Status on_fresh_thread(F&& fn, const std::string& what) {
  try {
    std::thread worker(std::forward<F>(fn));
    worker.join();
  } catch (const std::system_error& e) {
    return error(Code::kResourceExhausted, "starting a thread for {}: {}", what, e.what());
  }
  return ok_status();
}

Status validate_name(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos || name.size() > 200 ||
      name.find('\0') != std::string::npos) {
    return error(Code::kInvalidArgument, "namespace pin name \"{}\" is not a valid file name", name);
  }
  return ok_status();
}

}  // namespace

std::string_view namespace_type_name(NamespaceType type) {
  switch (type) {
    case NamespaceType::kUts:
      return "uts";
    case NamespaceType::kIpc:
      return "ipc";
    case NamespaceType::kNet:
    default:
      return "network";
  }
}

PinnedNamespace& PinnedNamespace::operator=(PinnedNamespace&& o) noexcept {
  if (this != &o) {
    (void)remove();
    type_ = o.type_;
    path_ = std::move(o.path_);
    o.path_.clear();
  }
  return *this;
}

PinnedNamespace::~PinnedNamespace() {
  Status s = remove();
  if (!s.ok()) log::warn("removing a pinned namespace", {{"error", s.message()}});
}

std::string PinnedNamespace::release() {
  std::string p = std::move(path_);
  path_.clear();
  return p;
}

Status PinnedNamespace::remove() {
  if (path_.empty()) return ok_status();
  Status s = remove_pinned_namespace(path_);
  if (s.ok()) path_.clear();
  return s;
}

std::string pinned_namespace_path(NamespaceType type, const std::string& dir, const std::string& name) {
  return dir + "/" + info(type).subdir + "/" + name;
}

Result<PinnedNamespace> pin_new_namespace(NamespaceType type, const std::string& dir, const std::string& name,
                                          const std::optional<std::string>& hostname) {
  CRIO_RETURN_IF_ERROR(validate_name(name));
  if (hostname && type != NamespaceType::kUts) {
    return error(Code::kInvalidArgument, "namespace pin {}: a hostname only applies to a UTS namespace", name);
  }
  if (hostname && (hostname->empty() || hostname->size() > kMaxHostname)) {
    return error(Code::kInvalidArgument, "namespace pin {}: hostname \"{}\" must be 1 to {} bytes", name, *hostname,
                 kMaxHostname);
  }
  const std::string parent = dir + "/" + info(type).subdir;
  CRIO_RETURN_IF_ERROR(fs::make_dirs(parent));
  const std::string path = parent + "/" + name;

  for (int attempt = 0;; ++attempt) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd >= 0) {
      ::close(fd);
      break;
    }
    int err = errno;
    if (err != EEXIST || attempt > 0) return errno_status(err, "creating the namespace pin", path);
    if (namespace_alive(path)) {
      return error(Code::kAlreadyExists, "namespace pin {} already exists and is in use", path);
    }
    // A leftover from before a reboot or a crash: its namespace is gone, reuse the name.
    CRIO_RETURN_IF_ERROR(remove_pinned_namespace(path));
  }

  // Owned from here: any failure below unlinks the file again.
  PinnedNamespace pinned(type, path);
  Status status;
  CRIO_RETURN_IF_ERROR(on_fresh_thread([&] { status = enter_and_pin(type, path, hostname); }, path));
  if (!status.ok()) return status;
  return pinned;
}

Result<std::vector<PinnedNamespace>> pin_namespaces_with_helper(const std::string& helper, const std::string& dir,
                                                                const std::string& name,
                                                                const std::vector<NamespaceType>& types,
                                                                const std::optional<std::string>& hostname) {
  CRIO_RETURN_IF_ERROR(validate_name(name));
  if (hostname && (hostname->empty() || hostname->size() > kMaxHostname)) {
    return error(Code::kInvalidArgument, "namespace pin {}: hostname \"{}\" must be 1 to {} bytes", name, *hostname,
                 kMaxHostname);
  }
  std::vector<std::string> argv = {helper, "-d", dir, "-f", name};
  std::vector<PinnedNamespace> pins;
  for (NamespaceType type : types) {
    argv.push_back(type == NamespaceType::kNet ? "--net" : type == NamespaceType::kUts ? "--uts" : "--ipc");
    // Owned before the helper runs: whatever it pinned goes again on failure.
    pins.emplace_back(type, pinned_namespace_path(type, dir, name));
  }
  process::Options options;
  options.timeout = std::chrono::seconds(60);
  auto ran = process::run(argv, options);
  if (!ran.ok()) return ran.status().wrap("running pinns " + helper);
  if (ran->exit_code != 0) {
    std::string output = ran->err.empty() ? ran->out : ran->err;
    while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
    return error(Code::kInternal, "pinns {} failed (exit {}{}): {}", helper, ran->exit_code,
                 ran->timed_out ? ", timed out" : "", output);
  }
  for (const auto& pin : pins) {
    if (!namespace_alive(pin.path())) {
      return error(Code::kInternal, "pinns {} exited 0 but pinned no namespace at {}", helper, pin.path());
    }
  }
  if (hostname) {
    for (const auto& pin : pins) {
      if (pin.type() != NamespaceType::kUts) continue;
      Status status;
      CRIO_RETURN_IF_ERROR(on_fresh_thread(
          [&] {
            fs::UniqueFd ns(::open(pin.path().c_str(), O_RDONLY | O_CLOEXEC));
            if (!ns.valid() || ::setns(ns.get(), CLONE_NEWUTS) != 0) {
              status = errno_status(errno, "entering the UTS namespace", pin.path());
            } else if (::sethostname(hostname->data(), hostname->size()) != 0) {
              status = errno_status(errno, "setting the hostname in", pin.path());
            }
          },
          pin.path()));
      CRIO_RETURN_IF_ERROR(status);
    }
  }
  return pins;
}

Status remove_pinned_namespace(const std::string& path) {
  if (path.empty()) return ok_status();
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return errno_status(errno, "unmounting the namespace pin", path);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_status(errno, "removing the namespace pin", path);
  return ok_status();
}

bool namespace_alive(const std::string& path) {
  struct statfs st {};
  return ::statfs(path.c_str(), &st) == 0 && static_cast<long>(st.f_type) == kNsfsMagic;
}

Status bring_up_loopback(const std::string& netns_path) {
  Status status;
  CRIO_RETURN_IF_ERROR(on_fresh_thread(
      [&] {
        fs::UniqueFd ns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!ns.valid()) {
          status = errno_status(errno, "opening the network namespace", netns_path);
          return;
        }
        if (::setns(ns.get(), CLONE_NEWNET) != 0) {
          status = errno_status(errno, "entering the network namespace", netns_path);
          return;
        }
        fs::UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (!sock.valid()) {
          status = errno_status(errno, "opening a socket in", netns_path);
          return;
        }
        struct ifreq req {};
        std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
        if (::ioctl(sock.get(), SIOCGIFFLAGS, &req) != 0) {
          status = errno_status(errno, "reading the flags of lo in", netns_path);
          return;
        }
        if (req.ifr_flags & IFF_UP) return;
        req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP);
        if (::ioctl(sock.get(), SIOCSIFFLAGS, &req) != 0) status = errno_status(errno, "setting lo up in", netns_path);
      },
      netns_path));
  return status;
}

namespace {

// One non-blocking connect bounded by `timeout`; the socket is blocking again after.
Result<fs::UniqueFd> connect_with_timeout(const sockaddr* addr, socklen_t len, int family,
                                          std::chrono::milliseconds timeout) {
  fs::UniqueFd sock(::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!sock.valid()) return errno_status(errno, "opening a socket", "");
  if (::connect(sock.get(), addr, len) != 0) {
    if (errno != EINPROGRESS) return errno_status(errno, "connecting", "");
    pollfd p{sock.get(), POLLOUT, 0};
    int r;
    while ((r = ::poll(&p, 1, static_cast<int>(timeout.count()))) < 0 && errno == EINTR) {
    }
    if (r == 0) return error(Code::kDeadlineExceeded, "connecting: timed out after {} ms", timeout.count());
    int err = 0;
    socklen_t err_len = sizeof err;
    ::getsockopt(sock.get(), SOL_SOCKET, SO_ERROR, &err, &err_len);
    if (err != 0) return errno_status(err, "connecting", "");
  }
  int flags = ::fcntl(sock.get(), F_GETFL);
  ::fcntl(sock.get(), F_SETFL, flags & ~O_NONBLOCK);
  return sock;
}

}  // namespace

Result<fs::UniqueFd> connect_loopback(const std::string& netns_path, uint16_t port, std::chrono::milliseconds timeout) {
  Result<fs::UniqueFd> result = error(Code::kInternal, "connect_loopback did not run");
  auto body = [&] {
    if (!netns_path.empty()) {
      fs::UniqueFd ns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!ns.valid()) {
        result = errno_status(errno, "opening the network namespace", netns_path);
        return;
      }
      if (::setns(ns.get(), CLONE_NEWNET) != 0) {
        result = errno_status(errno, "entering the network namespace", netns_path);
        return;
      }
    }
    sockaddr_in v4{};
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    result = connect_with_timeout(reinterpret_cast<sockaddr*>(&v4), sizeof v4, AF_INET, timeout);
    if (result.ok()) return;
    sockaddr_in6 v6{};
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    v6.sin6_addr = in6addr_loopback;
    auto second = connect_with_timeout(reinterpret_cast<sockaddr*>(&v6), sizeof v6, AF_INET6, timeout);
    if (second.ok()) result = std::move(second);
  };
  if (netns_path.empty()) {
    body();
  } else {
    CRIO_RETURN_IF_ERROR(on_fresh_thread(body, netns_path));
  }
  if (!result.ok()) {
    return error(result.status().code() == Code::kDeadlineExceeded ? Code::kDeadlineExceeded : Code::kUnavailable,
                 "port {} on localhost{}: {}", port, netns_path.empty() ? "" : " in " + netns_path,
                 result.status().message());
  }
  return result;
}

}  // namespace crio::net
