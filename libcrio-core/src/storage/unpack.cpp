#include "storage/unpack.hpp"

#include "storage/fsutil.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

namespace crio::storage::detail {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
constexpr std::string_view kWhiteoutMetaPrefix = ".wh..wh.";

struct ReadCtx {
  const ReadFn* read = nullptr;
  std::vector<char> buf = std::vector<char>(1 << 16);
  Status status;
  int64_t total = 0;
  bool eof = false;
};

la_ssize_t read_callback(struct archive* a, void* client, const void** out) {
  auto* c = static_cast<ReadCtx*>(client);
  if (c->eof) return 0;
  auto r = (*c->read)(c->buf.data(), c->buf.size());
  if (!r.ok()) {
    c->status = r.status();
    archive_set_error(a, EIO, "reading the layer stream failed");
    return -1;
  }
  if (*r == 0) c->eof = true;
  c->total += static_cast<int64_t>(*r);
  *out = c->buf.data();
  return static_cast<la_ssize_t>(*r);
}

// libarchive leaves the message unset for some failures (found by fuzzing: a
// damaged header); formatting a null string would throw.
std::string archive_message(struct archive* a) {
  const char* m = archive_error_string(a);
  return m != nullptr ? m : "malformed tar archive";
}

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

// Splits a tar path into its components; returns why it is unsafe, if it is.
std::optional<std::string> split_path(const std::string& path, std::vector<std::string>& comps) {
  if (path.empty()) return "empty path";
  if (path[0] == '/') return "absolute path";
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    std::string c = path.substr(pos, next - pos);
    if (c == "..") return "path has a \"..\" component";
    if (!c.empty() && c != ".") comps.push_back(std::move(c));
    pos = next + 1;
  }
  return std::nullopt;
}

struct DeferredTimes {
  std::vector<std::string> comps;
  struct timespec ts[2];
};

class Unpacker {
 public:
  Unpacker(int root, struct archive* a) : root_(root), a_(a) {}

  Status entry(struct archive_entry* e) {
    const char* raw = archive_entry_pathname(e);
    name_ = raw ? raw : "";
    CRIO_ASSIGN_OR_RETURN(auto comps, split(name_));
    const char* link = archive_entry_hardlink(e);
    if (comps.empty()) {
      // The layer's root itself ("./"): only its metadata matters.
      if (link != nullptr || archive_entry_filetype(e) != AE_IFDIR)
        return bad("the root of the layer must be a directory");
      return dir_meta(root_, e, comps);
    }
    const std::string& base = comps.back();
    if (base.rfind(kWhiteoutPrefix, 0) == 0) return whiteout(comps);

    CRIO_ASSIGN_OR_RETURN(auto parent, open_parent(comps, true));
    const char* cname = base.c_str();
    struct stat old {};
    bool exists = ::fstatat(parent.get(), cname, &old, AT_SYMLINK_NOFOLLOW) == 0;
    mode_t type = archive_entry_filetype(e);

    if (link != nullptr) return hardlink(parent.get(), base, link, exists);
    if (type == AE_IFDIR) {
      if (exists && !S_ISDIR(old.st_mode)) {
        CRIO_RETURN_IF_ERROR(remove_at(parent.get(), base, name_));
        exists = false;
      }
      if (!exists && ::mkdirat(parent.get(), cname, 0700) != 0) return sys("creating directory");
      fs::UniqueFd d(::openat(parent.get(), cname, kDirFlags));
      if (!d.valid()) return sys("opening directory");
      return dir_meta(d.get(), e, comps);
    }
    if (exists) CRIO_RETURN_IF_ERROR(remove_at(parent.get(), base, name_));
    switch (type) {
      case AE_IFREG:
        return regular(parent.get(), base, e);
      case AE_IFLNK: {
        const char* target = archive_entry_symlink(e);
        if (target == nullptr || *target == '\0') return bad("symlink without a target");
        // A symlink may point anywhere: nothing is ever written through one.
        if (::symlinkat(target, parent.get(), cname) != 0) return sys("creating symlink");
        return node_meta(parent.get(), base, e, false);
      }
      case AE_IFCHR:
      case AE_IFBLK:
      case AE_IFIFO: {
        mode_t mode = type | (archive_entry_perm(e) & 07777);
        if (::mknodat(parent.get(), cname, mode, archive_entry_rdev(e)) != 0) return sys("creating device node");
        return node_meta(parent.get(), base, e, true);
      }
      case AE_IFSOCK:
        return ok_status();  // a socket cannot be recreated meaningfully; tar tools skip it too
      default:
        return bad(fmt::format("unsupported file type {:o}", static_cast<unsigned>(type)));
    }
  }

  // Directory times are set last: adding children changes them.
  void finish() {
    for (auto it = deferred_.rbegin(); it != deferred_.rend(); ++it) {
      if (it->comps.empty()) {
        ::futimens(root_, it->ts);
        continue;
      }
      auto parent = open_parent(it->comps, false);
      if (!parent.ok()) continue;
      fs::UniqueFd d(::openat(parent->get(), it->comps.back().c_str(), kDirFlags));
      if (d.valid()) ::futimens(d.get(), it->ts);
    }
  }

 private:
  Status bad(std::string_view why) const {
    return error(Code::kInvalidArgument, "layer tar entry {:?}: {}", name_, why);
  }
  Status sys(std::string_view what) const {
    int err = errno;
    return error(err == ENOSPC ? Code::kResourceExhausted : Code::kInternal, "layer tar entry {:?}: {}: {}", name_,
                 what, std::strerror(err));
  }

  Result<std::vector<std::string>> split(const std::string& path) const {
    std::vector<std::string> comps;
    if (auto why = split_path(path, comps)) return bad(*why);
    return comps;
  }

  // Opens the directory holding comps.back(), one component at a time from the
  // root, never through a symlink; missing directories are created when `create`.
  Result<fs::UniqueFd> open_parent(const std::vector<std::string>& comps, bool create) const {
    fs::UniqueFd cur(::dup(root_));
    if (!cur.valid()) return sys("dup");
    for (size_t i = 0; i + 1 < comps.size(); ++i) {
      const char* c = comps[i].c_str();
      fs::UniqueFd next(::openat(cur.get(), c, kDirFlags));
      if (!next.valid() && errno == ENOENT && create) {
        if (::mkdirat(cur.get(), c, 0755) != 0 && errno != EEXIST) return sys("creating parent directory");
        next.reset(::openat(cur.get(), c, kDirFlags));
      }
      if (!next.valid()) {
        if (errno == ELOOP || errno == ENOTDIR) {
          return bad(fmt::format("path component {:?} is a symlink or not a directory", comps[i]));
        }
        return sys(fmt::format("opening {:?}", comps[i]));
      }
      cur = std::move(next);
    }
    return cur;
  }

  Status whiteout(const std::vector<std::string>& comps) {
    const std::string& base = comps.back();
    if (base == kOpaqueMarker) {
      // The marker's directory is the parent of the marker: open all of comps but the last.
      CRIO_ASSIGN_OR_RETURN(auto dir, open_parent(comps, true));
      if (::fsetxattr(dir.get(), kOpaqueXattr, "y", 1, 0) != 0) return sys("marking directory opaque");
      return ok_status();
    }
    if (base.rfind(kWhiteoutMetaPrefix, 0) == 0) return ok_status();  // aufs bookkeeping (.wh..wh.plnk…)
    std::string target = base.substr(kWhiteoutPrefix.size());
    if (target.empty() || target == "." || target == "..") return bad("whiteout without a valid name");
    CRIO_ASSIGN_OR_RETURN(auto parent, open_parent(comps, true));
    CRIO_RETURN_IF_ERROR(remove_at(parent.get(), target, name_));
    if (::mknodat(parent.get(), target.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0) return sys("creating whiteout");
    return ok_status();
  }

  Status hardlink(int parent, const std::string& base, const char* link, bool exists) {
    std::string link_name = link;
    std::vector<std::string> tc;
    if (auto why = split_path(link_name, tc)) return bad(fmt::format("hard link target {:?}: {}", link_name, *why));
    auto* tcomps = &tc;
    if (tcomps->empty()) return bad(fmt::format("hard link target {:?} is the layer root", link_name));
    auto tparent = open_parent(*tcomps, false);
    if (!tparent.ok()) return bad(fmt::format("hard link target {:?} is not in the layer", link_name));
    struct stat st {};
    if (::fstatat(tparent->get(), tcomps->back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return bad(fmt::format("hard link target {:?} is not in the layer", link_name));
    }
    if (S_ISDIR(st.st_mode)) return bad(fmt::format("hard link target {:?} is a directory", link_name));
    if (exists) CRIO_RETURN_IF_ERROR(remove_at(parent, base, name_));
    // flags 0: a target that is a symlink is linked itself, never followed.
    if (::linkat(tparent->get(), tcomps->back().c_str(), parent, base.c_str(), 0) != 0)
      return sys("creating hard link");
    return ok_status();
  }

  Status regular(int parent, const std::string& base, struct archive_entry* e) {
    fs::UniqueFd fd(::openat(parent, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) return sys("creating file");
    const void* buf = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    for (;;) {
      int r = archive_read_data_block(a_, &buf, &size, &offset);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN)
        return error(Code::kInvalidArgument, "layer tar entry {:?}: {}", name_, archive_message(a_));
      const char* p = static_cast<const char*>(buf);
      while (size > 0) {
        ssize_t n = ::pwrite(fd.get(), p, size, offset);
        if (n < 0) {
          if (errno == EINTR) continue;
          return sys("writing");
        }
        p += n;
        size -= static_cast<size_t>(n);
        offset += n;
      }
    }
    // A sparse file may end in a hole.
    if (archive_entry_size_is_set(e) && ::ftruncate(fd.get(), archive_entry_size(e)) != 0) return sys("truncating");
    return fd_meta(fd.get(), e);
  }

  // Owner first: chown clears setuid bits and file capabilities, which come after.
  Status fd_meta(int fd, struct archive_entry* e) {
    if (::fchown(fd, static_cast<uid_t>(archive_entry_uid(e)), static_cast<gid_t>(archive_entry_gid(e))) != 0) {
      return sys("chown");
    }
    if (::fchmod(fd, archive_entry_perm(e) & 07777) != 0) return sys("chmod");
    CRIO_RETURN_IF_ERROR(xattrs(fd, e));
    struct timespec ts[2];
    times(e, ts);
    if (::futimens(fd, ts) != 0) return sys("setting times");
    return ok_status();
  }

  Status dir_meta(int fd, struct archive_entry* e, const std::vector<std::string>& comps) {
    if (::fchown(fd, static_cast<uid_t>(archive_entry_uid(e)), static_cast<gid_t>(archive_entry_gid(e))) != 0) {
      return sys("chown");
    }
    if (::fchmod(fd, archive_entry_perm(e) & 07777) != 0) return sys("chmod");
    CRIO_RETURN_IF_ERROR(xattrs(fd, e));
    DeferredTimes d;
    d.comps = comps;
    times(e, d.ts);
    deferred_.push_back(std::move(d));
    return ok_status();
  }

  Status node_meta(int parent, const std::string& base, struct archive_entry* e, bool chmod) {
    const char* c = base.c_str();
    if (::fchownat(parent, c, static_cast<uid_t>(archive_entry_uid(e)), static_cast<gid_t>(archive_entry_gid(e)),
                   AT_SYMLINK_NOFOLLOW) != 0) {
      return sys("chown");
    }
    // The node was just created by us in a directory nobody else writes to.
    if (chmod && ::fchmodat(parent, c, archive_entry_perm(e) & 07777, 0) != 0) return sys("chmod");
    struct timespec ts[2];
    times(e, ts);
    if (::utimensat(parent, c, ts, AT_SYMLINK_NOFOLLOW) != 0) return sys("setting times");
    return ok_status();
  }

  Status xattrs(int fd, struct archive_entry* e) {
    archive_entry_xattr_reset(e);
    const char* xname = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    while (archive_entry_xattr_next(e, &xname, &value, &size) == ARCHIVE_OK) {
      // The overlay's own attributes (opaque, redirect, metacopy) would let a layer
      // rewire the merged view; only whiteout markers may set them.
      if (std::string_view(xname).rfind("trusted.overlay.", 0) == 0) continue;
      if (::fsetxattr(fd, xname, value, size, 0) != 0) return sys(fmt::format("setting xattr {}", xname));
    }
    return ok_status();
  }

  static void times(struct archive_entry* e, struct timespec ts[2]) {
    ts[1].tv_sec = archive_entry_mtime(e);
    ts[1].tv_nsec = archive_entry_mtime_nsec(e);
    if (archive_entry_atime_is_set(e)) {
      ts[0].tv_sec = archive_entry_atime(e);
      ts[0].tv_nsec = archive_entry_atime_nsec(e);
    } else {
      ts[0] = ts[1];
    }
  }

  int root_;
  struct archive* a_;
  std::string name_;
  std::vector<DeferredTimes> deferred_;
};

}  // namespace

Result<int64_t> unpack_tar(const std::string& dest, const ReadFn& read) {
  CRIO_ASSIGN_OR_RETURN(auto root, open_dir(dest));
  ReadCtx ctx;
  ctx.read = &read;
  std::unique_ptr<struct archive, ArchiveDeleter> a(archive_read_new());
  if (!a) return error(Code::kResourceExhausted, "layer tar: cannot allocate a reader");
  archive_read_support_format_tar(a.get());
  if (archive_read_open(a.get(), &ctx, nullptr, read_callback, nullptr) != ARCHIVE_OK) {
    if (!ctx.status.ok()) return ctx.status.wrap("layer tar");
    return error(Code::kInvalidArgument, "layer tar: {}", archive_message(a.get()));
  }
  Unpacker u(root.get(), a.get());
  for (;;) {
    struct archive_entry* e = nullptr;
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      if (!ctx.status.ok()) return ctx.status.wrap("layer tar");
      return error(Code::kInvalidArgument, "layer tar: {}", archive_message(a.get()));
    }
    Status s = u.entry(e);
    if (!s.ok()) {
      if (!ctx.status.ok()) return ctx.status.wrap("layer tar");
      return s;
    }
  }
  u.finish();
  // Whatever follows the end-of-archive blocks still belongs to the stream its
  // digest was computed over.
  while (!ctx.eof) {
    auto n = read(ctx.buf.data(), ctx.buf.size());
    if (!n.ok()) return n.status().wrap("layer tar");
    if (*n == 0) break;
    ctx.total += static_cast<int64_t>(*n);
  }
  return ctx.total;
}

}  // namespace crio::storage::detail
