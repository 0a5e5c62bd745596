#include "storage/fsutil.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <utility>
#include <vector>

namespace crio::storage::detail {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

std::string join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "/" + b; }

// Names in a directory, without "." and "..". Uses a dup so the caller keeps its fd.
Result<std::vector<std::string>> list_dir(int dirfd, const std::string& display) {
  fs::DirReader d = fs::DirReader::from_fd(dirfd);
  if (!d.valid()) return errno_error("listing", display, d.error());
  std::vector<std::string> names;
  while (const char* n = d.next()) names.emplace_back(n);
  return names;
}

bool is_whiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0); }

// Copies the xattrs of `src_fd` to `dst_fd`, leaving out the overlay's own.
Status copy_xattrs_fd(int src_fd, int dst_fd, const std::string& display) {
  std::vector<char> names(4096);
  ssize_t len;
  for (;;) {
    len = ::flistxattr(src_fd, names.data(), names.size());
    if (len >= 0) break;
    if (errno == ERANGE) {
      names.resize(names.size() * 4);
      continue;
    }
    if (errno == ENOTSUP) return ok_status();
    return errno_error("listing xattrs of", display, errno);
  }
  for (ssize_t off = 0; off < len;) {
    std::string name(names.data() + off);
    off += static_cast<ssize_t>(name.size()) + 1;
    if (name.rfind("trusted.overlay.", 0) == 0) continue;
    std::vector<char> value(256);
    ssize_t vlen;
    for (;;) {
      vlen = ::fgetxattr(src_fd, name.c_str(), value.data(), value.size());
      if (vlen >= 0) break;
      if (errno == ERANGE) {
        value.resize(value.size() * 4);
        continue;
      }
      return errno_error("reading xattr " + name + " of", display, errno);
    }
    if (::fsetxattr(dst_fd, name.c_str(), value.data(), static_cast<size_t>(vlen), 0) != 0) {
      return errno_error("setting xattr " + name + " on", display, errno);
    }
  }
  return ok_status();
}

// Owner, then mode (chown clears setuid bits), then times.
Status copy_meta_fd(int dst_fd, const struct stat& st, const std::string& display) {
  if (::fchown(dst_fd, st.st_uid, st.st_gid) != 0) return errno_error("chown", display, errno);
  if (::fchmod(dst_fd, st.st_mode & 07777) != 0) return errno_error("chmod", display, errno);
  struct timespec ts[2] = {st.st_atim, st.st_mtim};
  if (::futimens(dst_fd, ts) != 0) return errno_error("setting times of", display, errno);
  return ok_status();
}

Status copy_file_data(int src, int dst, off_t size, const std::string& display) {
  off_t left = size;
  while (left > 0) {
    ssize_t n = ::copy_file_range(src, nullptr, dst, nullptr, static_cast<size_t>(left), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EXDEV || errno == ENOSYS || errno == EINVAL) break;
      return errno_error("copying", display, errno);
    }
    if (n == 0) break;
    left -= n;
  }
  if (left > 0) {  // fallback when copy_file_range is refused
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(src, buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno_error("reading", display, errno);
      }
      if (n == 0) break;
      for (ssize_t w = 0; w < n;) {
        ssize_t m = ::write(dst, buf + w, static_cast<size_t>(n - w));
        if (m < 0) {
          if (errno == EINTR) continue;
          return errno_error("writing", display, errno);
        }
        w += m;
      }
    }
  }
  return ok_status();
}

using InodeKey = std::pair<dev_t, ino_t>;

struct Copier {
  int dst_root = -1;
  // Hard links: the first path (relative to dst_root) each source inode was copied to.
  std::map<InodeKey, std::string> link_paths;

  // Copies the non-directory `name` from sdir to ddir (which must not hold `name`).
  Status copy_entry(int sdir, int ddir, const std::string& name, const struct stat& st, const std::string& rel) {
    if (st.st_nlink > 1 && !S_ISDIR(st.st_mode)) {
      auto it = link_paths.find({st.st_dev, st.st_ino});
      if (it != link_paths.end()) {
        if (::linkat(dst_root, it->second.c_str(), ddir, name.c_str(), 0) != 0) {
          return errno_error("linking", rel, errno);
        }
        return ok_status();
      }
      link_paths[{st.st_dev, st.st_ino}] = rel;
    }
    if (S_ISREG(st.st_mode)) {
      fs::UniqueFd in(::openat(sdir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!in.valid()) return errno_error("opening", rel, errno);
      fs::UniqueFd out(::openat(ddir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!out.valid()) return errno_error("creating", rel, errno);
      CRIO_RETURN_IF_ERROR(copy_file_data(in.get(), out.get(), st.st_size, rel));
      CRIO_RETURN_IF_ERROR(copy_xattrs_fd(in.get(), out.get(), rel));
      return copy_meta_fd(out.get(), st, rel);
    }
    if (S_ISLNK(st.st_mode)) {
      std::vector<char> target(static_cast<size_t>(st.st_size) + 2);
      ssize_t n = ::readlinkat(sdir, name.c_str(), target.data(), target.size() - 1);
      if (n < 0) return errno_error("reading link", rel, errno);
      target[static_cast<size_t>(n)] = '\0';
      if (::symlinkat(target.data(), ddir, name.c_str()) != 0) return errno_error("creating symlink", rel, errno);
      if (::fchownat(ddir, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) {
        return errno_error("chown", rel, errno);
      }
      struct timespec ts[2] = {st.st_atim, st.st_mtim};
      ::utimensat(ddir, name.c_str(), ts, AT_SYMLINK_NOFOLLOW);
      return ok_status();
    }
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
      if (S_ISSOCK(st.st_mode)) return ok_status();  // a socket in a layer means nothing once copied
      if (::mknodat(ddir, name.c_str(), st.st_mode, st.st_rdev) != 0) return errno_error("creating node", rel, errno);
      if (::fchownat(ddir, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) {
        return errno_error("chown", rel, errno);
      }
      ::fchmodat(ddir, name.c_str(), st.st_mode & 07777, 0);
      struct timespec ts[2] = {st.st_atim, st.st_mtim};
      ::utimensat(ddir, name.c_str(), ts, AT_SYMLINK_NOFOLLOW);
      return ok_status();
    }
    return error(Code::kInternal, "copying {}: unexpected file type {:o}", rel, st.st_mode & S_IFMT);
  }

  // Copies the contents of directory sdir into the existing directory ddir.
  Status copy_dir(int sdir, int ddir, const std::string& rel) {
    CRIO_ASSIGN_OR_RETURN(auto names, list_dir(sdir, rel));
    for (const auto& name : names) {
      std::string r = join(rel, name);
      struct stat st {};
      if (::fstatat(sdir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return errno_error("stat", r, errno);
      if (S_ISDIR(st.st_mode)) {
        CRIO_RETURN_IF_ERROR(copy_subdir(sdir, ddir, name, st, r));
      } else {
        CRIO_RETURN_IF_ERROR(copy_entry(sdir, ddir, name, st, r));
      }
    }
    return ok_status();
  }

  Status copy_subdir(int sdir, int ddir, const std::string& name, const struct stat& st, const std::string& rel) {
    if (::mkdirat(ddir, name.c_str(), 0700) != 0) return errno_error("creating directory", rel, errno);
    fs::UniqueFd s(::openat(sdir, name.c_str(), kDirFlags));
    if (!s.valid()) return errno_error("opening", rel, errno);
    fs::UniqueFd d(::openat(ddir, name.c_str(), kDirFlags));
    if (!d.valid()) return errno_error("opening", rel, errno);
    CRIO_RETURN_IF_ERROR(copy_dir(s.get(), d.get(), rel));
    CRIO_RETURN_IF_ERROR(copy_xattrs_fd(s.get(), d.get(), rel));
    return copy_meta_fd(d.get(), st, rel);
  }
};

// Applies diff directory `sdir` onto target directory `tdir`.
struct DiffApplier {
  Copier copier;

  Status apply_dir(int sdir, int tdir, const std::string& rel) {
    CRIO_ASSIGN_OR_RETURN(auto names, list_dir(sdir, rel));
    for (const auto& name : names) {
      std::string r = join(rel, name);
      struct stat st {};
      if (::fstatat(sdir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return errno_error("stat", r, errno);
      struct stat tst {};
      bool exists = ::fstatat(tdir, name.c_str(), &tst, AT_SYMLINK_NOFOLLOW) == 0;
      if (is_whiteout(st)) {
        if (exists) CRIO_RETURN_IF_ERROR(remove_at(tdir, name, r));
        continue;
      }
      if (S_ISDIR(st.st_mode)) {
        fs::UniqueFd s(::openat(sdir, name.c_str(), kDirFlags));
        if (!s.valid()) return errno_error("opening", r, errno);
        char v = 0;
        bool opaque = ::fgetxattr(s.get(), kOpaqueXattr, &v, 1) == 1 && v == 'y';
        if (exists && (!S_ISDIR(tst.st_mode) || opaque)) {
          CRIO_RETURN_IF_ERROR(remove_at(tdir, name, r));
          exists = false;
        }
        if (!exists && ::mkdirat(tdir, name.c_str(), 0700) != 0) return errno_error("creating directory", r, errno);
        fs::UniqueFd t(::openat(tdir, name.c_str(), kDirFlags));
        if (!t.valid()) return errno_error("opening", r, errno);
        CRIO_RETURN_IF_ERROR(apply_dir(s.get(), t.get(), r));
        CRIO_RETURN_IF_ERROR(copy_xattrs_fd(s.get(), t.get(), r));
        CRIO_RETURN_IF_ERROR(copy_meta_fd(t.get(), st, r));
        continue;
      }
      if (exists) CRIO_RETURN_IF_ERROR(remove_at(tdir, name, r));
      CRIO_RETURN_IF_ERROR(copier.copy_entry(sdir, tdir, name, st, r));
    }
    return ok_status();
  }
};

Status remove_contents(int dirfd, dev_t dev, const std::string& display) {
  CRIO_ASSIGN_OR_RETURN(auto names, list_dir(dirfd, display));
  for (const auto& name : names) {
    std::string d = display + "/" + name;
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      return errno_error("stat", d, errno);
    }
    if (S_ISDIR(st.st_mode)) {
      if (st.st_dev != dev) {
        return error(Code::kFailedPrecondition, "removing {}: a file system is mounted there", d);
      }
      fs::UniqueFd sub(::openat(dirfd, name.c_str(), kDirFlags));
      if (!sub.valid()) return errno_error("opening", d, errno);
      CRIO_RETURN_IF_ERROR(remove_contents(sub.get(), dev, d));
      if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
        return errno_error("removing", d, errno);
      }
    } else if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) {
      return errno_error("removing", d, errno);
    }
  }
  return ok_status();
}

}  // namespace

Status errno_error(std::string_view what, const std::string& path, int err) {
  Code code = Code::kInternal;
  if (err == ENOENT)
    code = Code::kNotFound;
  else if (err == EACCES || err == EPERM)
    code = Code::kPermissionDenied;
  else if (err == EEXIST)
    code = Code::kAlreadyExists;
  else if (err == ENOSPC || err == EDQUOT)
    code = Code::kResourceExhausted;
  return error(code, "{} {}: {}", what, path, std::strerror(err));
}

Result<fs::UniqueFd> open_dir(const std::string& path) {
  fs::UniqueFd fd(::open(path.c_str(), kDirFlags));
  if (!fd.valid()) return errno_error("opening directory", path, errno);
  return fd;
}

Status remove_at(int dirfd, const std::string& name, const std::string& display) {
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return ok_status();
    return errno_error("stat", display, errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) return errno_error("removing", display, errno);
    return ok_status();
  }
  struct stat parent {};
  if (::fstat(dirfd, &parent) != 0) return errno_error("stat", display, errno);
  if (st.st_dev != parent.st_dev) {
    return error(Code::kFailedPrecondition, "removing {}: a file system is mounted there", display);
  }
  fs::UniqueFd sub(::openat(dirfd, name.c_str(), kDirFlags));
  if (!sub.valid()) return errno_error("opening", display, errno);
  CRIO_RETURN_IF_ERROR(remove_contents(sub.get(), st.st_dev, display));
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return errno_error("removing", display, errno);
  }
  return ok_status();
}

Status remove_tree(const std::string& path) {
  auto slash = path.find_last_of('/');
  std::string parent = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  fs::UniqueFd dir(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) {
    if (errno == ENOENT) return ok_status();
    return errno_error("opening", parent, errno);
  }
  return remove_at(dir.get(), name, path);
}

Status copy_tree(const std::string& src, const std::string& dst) {
  CRIO_ASSIGN_OR_RETURN(auto s, open_dir(src));
  struct stat st {};
  if (::fstat(s.get(), &st) != 0) return errno_error("stat", src, errno);
  if (::mkdir(dst.c_str(), 0700) != 0) return errno_error("creating directory", dst, errno);
  CRIO_ASSIGN_OR_RETURN(auto d, open_dir(dst));
  Copier c;
  c.dst_root = d.get();
  CRIO_RETURN_IF_ERROR(c.copy_dir(s.get(), d.get(), ""));
  CRIO_RETURN_IF_ERROR(copy_xattrs_fd(s.get(), d.get(), dst));
  return copy_meta_fd(d.get(), st, dst);
}

Status apply_diff(const std::string& diff, const std::string& target) {
  CRIO_ASSIGN_OR_RETURN(auto s, open_dir(diff));
  CRIO_ASSIGN_OR_RETURN(auto t, open_dir(target));
  DiffApplier a;
  a.copier.dst_root = t.get();
  return a.apply_dir(s.get(), t.get(), "");
}

Result<Usage> tree_usage(const std::string& path) {
  Usage u;
  std::set<InodeKey> seen;
  fs::UniqueFd root(::open(path.c_str(), kDirFlags));
  if (!root.valid()) {
    if (errno == ENOENT) return u;
    return errno_error("opening", path, errno);
  }
  struct stat rst {};
  if (::fstat(root.get(), &rst) != 0) return errno_error("stat", path, errno);
  u.bytes += rst.st_blocks * 512;
  u.inodes += 1;
  // Iterative walk so a deep tree cannot exhaust the stack.
  std::vector<std::pair<fs::UniqueFd, std::string>> stack;
  stack.emplace_back(std::move(root), path);
  while (!stack.empty()) {
    auto [fd, display] = std::move(stack.back());
    stack.pop_back();
    auto names = list_dir(fd.get(), display);
    if (!names.ok()) continue;  // removed while we walk: not ours to report
    for (const auto& name : *names) {
      struct stat st {};
      if (::fstatat(fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (st.st_dev != rst.st_dev) continue;  // a mount below: not this tree's usage
      if (st.st_nlink > 1 && !S_ISDIR(st.st_mode) && !seen.insert({st.st_dev, st.st_ino}).second) continue;
      u.bytes += st.st_blocks * 512;
      u.inodes += 1;
      if (S_ISDIR(st.st_mode)) {
        fs::UniqueFd sub(::openat(fd.get(), name.c_str(), kDirFlags));
        if (sub.valid()) stack.emplace_back(std::move(sub), display + "/" + name);
      }
    }
  }
  return u;
}

bool is_mountpoint(const std::string& path) {
  struct stat st {
  }, pst{};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  if (::lstat((path + "/..").c_str(), &pst) != 0) return false;
  return st.st_dev != pst.st_dev || st.st_ino == pst.st_ino;
}

}  // namespace crio::storage::detail
