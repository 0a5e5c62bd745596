#include <crio/oci/exit_watcher.hpp>

#include <crio/core/fs.hpp>
#include <crio/core/log.hpp>

#include <dirent.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace crio::oci {

struct ExitWatcher::Impl {
  std::string dir;
  Callback callback;
  fs::UniqueFd inotify;
  fs::UniqueFd stop;  // eventfd: written once to end the thread
  std::thread thread;

  void run() {
    alignas(inotify_event) char buf[16 * 1024];
    pollfd fds[2] = {{inotify.get(), POLLIN, 0}, {stop.get(), POLLIN, 0}};
    for (;;) {
      int r = ::poll(fds, 2, -1);
      if (r < 0) {
        if (errno == EINTR) continue;
        log::error("exit watcher: poll failed", {{"dir", dir}, {"error", std::strerror(errno)}});
        return;
      }
      if (fds[1].revents) return;
      ssize_t n = ::read(inotify.get(), buf, sizeof buf);
      if (n <= 0) continue;
      for (char* p = buf; p < buf + n;) {
        auto* ev = reinterpret_cast<inotify_event*>(p);
        p += sizeof(inotify_event) + ev->len;
        if (ev->mask & IN_Q_OVERFLOW) {
          // Events were lost: report every file so nothing is missed.
          scan();
          continue;
        }
        if (ev->len == 0) continue;
        std::string name(ev->name);
        // conmon writes "<id>" through a temporary ".<id>.XXXXXX" and a rename.
        if (name.empty() || name[0] == '.') continue;
        callback(name);
      }
    }
  }

  void scan() {
    fs::DirReader d(dir);
    while (const char* name = d.next()) {
      if (name[0] == '.') continue;
      callback(name);
    }
  }
};

ExitWatcher::ExitWatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<ExitWatcher>> ExitWatcher::start(const std::string& dir, Callback callback,
                                                         bool report_existing) {
  if (!callback) return error(Code::kInvalidArgument, "exit watcher for {}: no callback", dir);
  CRIO_RETURN_IF_ERROR(fs::make_dirs(dir, 0700).wrap("exit watcher"));
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->callback = std::move(callback);
  impl->inotify.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  impl->stop.reset(::eventfd(0, EFD_CLOEXEC));
  if (!impl->inotify.valid() || !impl->stop.valid()) {
    return error(Code::kInternal, "exit watcher for {}: {}", dir, std::strerror(errno));
  }
  if (::inotify_add_watch(impl->inotify.get(), dir.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
    return error(Code::kInternal, "exit watcher: watching {}: {}", dir, std::strerror(errno));
  }
  // Watching first, then scanning: an exit between the two is reported twice, never lost.
  if (report_existing) impl->scan();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<ExitWatcher>(new ExitWatcher(std::move(impl)));
}

ExitWatcher::~ExitWatcher() {
  uint64_t one = 1;
  (void)::write(impl_->stop.get(), &one, sizeof one);
  if (impl_->thread.joinable()) impl_->thread.join();
}

const std::string& ExitWatcher::dir() const { return impl_->dir; }

}  // namespace crio::oci
