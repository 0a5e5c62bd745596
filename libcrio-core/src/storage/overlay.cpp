// overlay: the kernel's overlayfs, laid out as containers/storage does it:
//   <home>/<id>/diff     what the layer adds (whiteouts as 0:0 char devices)
//   <home>/<id>/link     the layer's short name; <home>/l/<short> -> ../<id>/diff
//   <home>/<id>/lower    "l/<parent>:l/<grandparent>:…", topmost first, relative to the
//                        layers' home (another directory for containers with an imagestore)
//   <home>/<id>/work, merged   container layers only
// The short names keep a many-layer lowerdir option within one page: the mount is
// done from <home> with relative paths when absolute ones would not fit.

#include "storage/driver.hpp"
#include "storage/fsutil.hpp"

#include <crio/core/fs.hpp>
#include <crio/core/log.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace crio::storage::detail {
namespace {

// The kernel copies mount data into one page.
constexpr size_t kMaxMountData = 4096 - 1;

std::string random_link() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string s(26, 'A');
  for (auto& c : s) c = kChars[rng() % (sizeof kChars - 1)];
  return s;
}

// mount(8)-style options that are mount flags rather than overlay data.
struct FlagOpt {
  const char* name;
  unsigned long flag;
  bool clear;
};
constexpr FlagOpt kFlagOpts[] = {
    {"ro", MS_RDONLY, false},
    {"rw", MS_RDONLY, true},
    {"nodev", MS_NODEV, false},
    {"dev", MS_NODEV, true},
    {"nosuid", MS_NOSUID, false},
    {"suid", MS_NOSUID, true},
    {"noexec", MS_NOEXEC, false},
    {"exec", MS_NOEXEC, true},
    {"noatime", MS_NOATIME, false},
    {"atime", MS_NOATIME, true},
    {"nodiratime", MS_NODIRATIME, false},
    {"relatime", MS_RELATIME, false},
    {"strictatime", MS_STRICTATIME, false},
    {"sync", MS_SYNCHRONOUS, false},
    {"dirsync", MS_DIRSYNC, false},
};

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class OverlayDriver final : public Driver {
 public:
  explicit OverlayDriver(DriverOptions opts) : Driver(std::move(opts)) {
    for (const auto& o : opts_.mountopts) {
      const FlagOpt* f = nullptr;
      for (const auto& k : kFlagOpts) {
        if (o == k.name) f = &k;
      }
      if (f == nullptr) {
        data_opts_.push_back(o);
      } else if (f->clear) {
        flags_ &= ~f->flag;
      } else {
        flags_ |= f->flag;
      }
    }
  }

  std::string name() const override { return "overlay"; }

  Status init() override {
    CRIO_RETURN_IF_ERROR(fs::make_dirs(home(), 0700));
    return fs::make_dirs(home() + "/l", 0700);
  }

  Result<std::string> make_unpack_dir(const std::string& staging) override {
    std::string layer = staging + "/layer";
    if (::mkdir(layer.c_str(), 0700) != 0) return errno_error("creating", layer, errno);
    std::string diff = layer + "/diff";
    if (::mkdir(diff.c_str(), 0755) != 0) return errno_error("creating", diff, errno);
    return diff;
  }

  Status prepare_layer(const std::string& staging, const std::string& parent_id) override {
    return write_links(staging + "/layer", parent_id);
  }

  Status prepare_container(const std::string& staging, const std::string& parent_id) override {
    std::string layer = staging + "/layer";
    for (const auto& d : {layer, layer + "/diff", layer + "/work", layer + "/merged"}) {
      if (::mkdir(d.c_str(), 0755) != 0) return errno_error("creating", d, errno);
    }
    if (parent_id.empty()) {
      // overlayfs needs a lower directory even for an image without layers.
      std::string empty = layer + "/empty";
      if (::mkdir(empty.c_str(), 0755) != 0) return errno_error("creating", empty, errno);
    }
    return write_links(layer, parent_id);
  }

  Status install(const std::string& staging, const std::string& id) override {
    std::string dst = home() + "/" + id;
    CRIO_ASSIGN_OR_RETURN(auto link, fs::read_file(staging + "/layer/link"));
    if (::rename((staging + "/layer").c_str(), dst.c_str()) != 0) return errno_error("installing layer", dst, errno);
    return make_link(trim(link), id);
  }

  Status remove(const std::string& id, const std::string& trash) override {
    std::string src = home() + "/" + id;
    auto link = fs::read_file(src + "/link");
    if (link.ok()) CRIO_RETURN_IF_ERROR(fs::remove_file(home() + "/l/" + trim(*link)));
    std::string merged = src + "/merged";
    if (is_mountpoint(merged)) ::umount2(merged.c_str(), MNT_DETACH);
    if (::rename(src.c_str(), trash.c_str()) != 0 && errno != ENOENT) return errno_error("removing", src, errno);
    return ok_status();
  }

  Result<std::string> mount(const std::string& id) override {
    std::string dir = home() + "/" + id;
    std::string merged = dir + "/merged";
    if (is_mountpoint(merged)) return merged;  // mounted before a restart

    std::vector<std::string> lowers;
    auto lower = fs::read_file(dir + "/lower");
    if (lower.ok()) {
      std::string l = trim(*lower);
      size_t pos = 0;
      while (pos < l.size()) {
        size_t next = l.find(':', pos);
        if (next == std::string::npos) next = l.size();
        lowers.push_back(l.substr(pos, next - pos));
        pos = next + 1;
      }
    } else if (lower.status().code() != Code::kNotFound) {
      return lower.status();
    }
    // The lowers are relative to layers_home(), the layer's own directories to home().
    const bool split = layers_home() != home();
    const bool no_lowers = lowers.empty();
    auto options = [&](const std::string& prefix) {
      const std::string own = split ? home() + "/" : prefix;
      std::string o = "lowerdir=";
      if (no_lowers) o += own + id + "/empty";
      for (size_t i = 0; i < lowers.size(); ++i) {
        if (i) o += ":";
        o += prefix + lowers[i];
      }
      o += ",upperdir=" + own + id + "/diff,workdir=" + own + id + "/work";
      // A mount program parses flags itself; the kernel wants them apart.
      for (const auto& m : opts_.mount_program.empty() ? data_opts_ : opts_.mountopts) o += "," + m;
      return o;
    };

    if (!opts_.mount_program.empty()) {
      CRIO_RETURN_IF_ERROR(run_mount_program(options(""), merged));
      return merged;
    }
    std::string absolute = options(layers_home() + "/");
    if (absolute.size() <= kMaxMountData) {
      if (::mount("overlay", merged.c_str(), "overlay", flags_, absolute.c_str()) != 0) {
        return error(Code::kInternal, "mounting overlay for layer {} at {}: {}", id, merged, std::strerror(errno));
      }
      return merged;
    }
    std::string relative = options("");
    if (relative.size() > kMaxMountData) {
      return error(Code::kFailedPrecondition, "mounting overlay for layer {}: {} lower layers do not fit in one mount",
                   id, lowers.size());
    }
    CRIO_RETURN_IF_ERROR(mount_from_home(relative, merged));
    return merged;
  }

  Status unmount(const std::string& id, bool force) override {
    std::string merged = home() + "/" + id + "/merged";
    // Detach: a process still sitting in the rootfs (an exec that outlived its
    // container) must not keep the layer from being released.
    if (::umount2(merged.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
      return error(Code::kInternal, "unmounting {}: {}", merged, std::strerror(errno));
    }
    return ok_status();
  }

  bool mounted(const std::string& id) const override { return is_mountpoint(home() + "/" + id + "/merged"); }

  std::string data_dir(const std::string& id) const override { return home() + "/" + id + "/diff"; }

  bool reserved_entry(const std::string& name) const override { return name == "l"; }

  Status recover(const std::set<std::string>& ids) override {
    fs::DirReader d(home());
    if (!d.valid()) return errno_error("listing", home(), d.error());
    std::vector<std::string> stale;
    while (const char* e = d.next()) {
      std::string n = e;
      if (n != "l" && ids.count(n) == 0) stale.push_back(n);
    }
    for (const auto& n : stale) {
      std::string merged = home() + "/" + n + "/merged";
      if (is_mountpoint(merged)) ::umount2(merged.c_str(), MNT_DETACH);
      log::info("storage: removing incomplete layer", {{"layer", n}});
      CRIO_RETURN_IF_ERROR(remove_tree(home() + "/" + n));
    }
    // Links whose layer is gone go; a layer whose link was not made yet gets it.
    std::string ldir = home() + "/l";
    if (fs::DirReader l(ldir); l.valid()) {
      std::vector<std::string> dangling;
      while (const char* e = l.next()) {
        std::string n = e;
        struct stat st {};
        if (::stat((ldir + "/" + n).c_str(), &st) != 0) dangling.push_back(n);
      }
      for (const auto& n : dangling) CRIO_RETURN_IF_ERROR(fs::remove_file(ldir + "/" + n));
    }
    for (const auto& id : ids) {
      auto link = fs::read_file(home() + "/" + id + "/link");
      if (link.ok()) CRIO_RETURN_IF_ERROR(make_link(trim(*link), id));
    }
    return ok_status();
  }

 private:
  unsigned long flags_ = 0;             // MS_* from the mountopt list
  std::vector<std::string> data_opts_;  // the rest, passed to overlayfs

  Status write_links(const std::string& layer, const std::string& parent_id) {
    CRIO_RETURN_IF_ERROR(fs::write_file_atomic(layer + "/link", random_link()));
    if (parent_id.empty()) return ok_status();
    std::string pdir = layers_home() + "/" + parent_id;
    CRIO_ASSIGN_OR_RETURN(auto plink, fs::read_file(pdir + "/link"));
    std::string lower = "l/" + trim(plink);
    auto plower = fs::read_file(pdir + "/lower");
    if (plower.ok() && !trim(*plower).empty()) lower += ":" + trim(*plower);
    return fs::write_file_atomic(layer + "/lower", lower);
  }

  Status make_link(const std::string& link, const std::string& id) {
    std::string path = home() + "/l/" + link;
    std::string target = "../" + id + "/diff";
    if (::symlink(target.c_str(), path.c_str()) != 0 && errno != EEXIST) {
      return errno_error("creating link", path, errno);
    }
    return ok_status();
  }

  // mount(2) resolves relative lowerdirs against the caller's working directory,
  // which is per process: do it in a child so other threads keep theirs.
  Status mount_from_home(const std::string& data, const std::string& target) {
    pid_t pid = ::fork();
    if (pid < 0) return error(Code::kInternal, "fork for overlay mount: {}", std::strerror(errno));
    if (pid == 0) {
      if (::chdir(layers_home().c_str()) != 0) ::_exit(errno ? errno : 1);
      if (::mount("overlay", target.c_str(), "overlay", flags_, data.c_str()) != 0) ::_exit(errno ? errno : 1);
      ::_exit(0);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return ok_status();
    int err = WIFEXITED(status) ? WEXITSTATUS(status) : EINTR;
    return error(Code::kInternal, "mounting overlay at {}: {}", target, std::strerror(err));
  }

  Status run_mount_program(const std::string& data, const std::string& target) {
    pid_t pid = ::fork();
    if (pid < 0) return error(Code::kInternal, "fork for {}: {}", opts_.mount_program, std::strerror(errno));
    if (pid == 0) {
      if (::chdir(layers_home().c_str()) != 0) ::_exit(127);
      const char* argv[] = {opts_.mount_program.c_str(), "-o", data.c_str(), target.c_str(), nullptr};
      ::execv(argv[0], const_cast<char* const*>(argv));
      ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return ok_status();
    return error(Code::kInternal, "mounting {} with {}: exit status {}", target, opts_.mount_program,
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
};

}  // namespace

std::unique_ptr<Driver> make_overlay_driver(DriverOptions opts) {
  return std::make_unique<OverlayDriver>(std::move(opts));
}

}  // namespace crio::storage::detail
