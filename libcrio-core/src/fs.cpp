#include <crio/core/fs.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace crio::fs {
namespace {

Status errno_status(std::string_view what, const std::string& path, int err) {
  Code code = Code::kInternal;
  if (err == ENOENT) code = Code::kNotFound;
  else if (err == EACCES || err == EPERM) code = Code::kPermissionDenied;
  else if (err == EEXIST) code = Code::kAlreadyExists;
  else if (err == ENOSPC || err == EDQUOT) code = Code::kResourceExhausted;
  return error(code, "{} {}: {}", what, path, std::strerror(err));
}

std::string parent_dir(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) reset(o.release());
  return *this;
}
UniqueFd::~UniqueFd() { reset(); }
void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string tmp = fmt::format("{}.tmp-{:x}", path, rng());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd.valid()) return errno_status("creating", tmp, errno);
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd.get(), p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::unlink(tmp.c_str());
      return errno_status("writing", tmp, err);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fchmod(fd.get(), mode) != 0 || ::fsync(fd.get()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return errno_status("syncing", tmp, err);
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return errno_status("renaming into", path, err);
  }
  UniqueFd dir(::open(parent_dir(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) ::fsync(dir.get());
  return ok_status();
}

Result<std::string> read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_status("opening", path, errno);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("reading", path, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Status make_dirs(const std::string& path, mode_t mode) {
  if (path.empty()) return error(Code::kInvalidArgument, "creating directory: empty path");
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) return errno_status("creating directory", cur, errno);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errno_status("creating directory", path, errno);
  if (!S_ISDIR(st.st_mode)) return error(Code::kFailedPrecondition, "{} exists and is not a directory", path);
  return ok_status();
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

Status remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_status("removing", path, errno);
  return ok_status();
}

DirReader::DirReader(const std::string& path) : dir_(::opendir(path.c_str())) {
  if (dir_ == nullptr) errno_ = errno;
}

DirReader DirReader::from_fd(int fd) {
  DirReader r;
  int copy = ::dup(fd);
  if (copy < 0) {
    r.errno_ = errno;
    return r;
  }
  r.dir_ = ::fdopendir(copy);
  if (r.dir_ == nullptr) {
    r.errno_ = errno;
    ::close(copy);
    return r;
  }
  // A dup shares the offset with `fd`: start from the beginning whatever it was.
  ::rewinddir(r.dir_);
  return r;
}

DirReader::~DirReader() {
  if (dir_ != nullptr) ::closedir(dir_);
}

const char* DirReader::next() {
  if (dir_ == nullptr) return nullptr;
  while (dirent* e = ::readdir(dir_)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") return e->d_name;
  }
  return nullptr;
}

Result<std::vector<std::string>> list_dir(const std::string& path) {
  DirReader dir(path);
  if (!dir.valid()) return errno_status("listing", path, dir.error());
  std::vector<std::string> names;
  while (const char* n = dir.next()) names.emplace_back(n);
  return names;
}

}  // namespace crio::fs
