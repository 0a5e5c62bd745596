#pragma once
// Small filesystem helpers every layer needs; all report errors as Status.

#include <crio/core/export.hpp>
#include <crio/core/status.hpp>

#include <sys/types.h>

#include <dirent.h>

#include <string>
#include <string_view>
#include <vector>

namespace crio::fs {

// Writes `data` to `path` so that a crash at any moment leaves either the old file
// or the new one: write a temp file beside it, fsync, rename, fsync the directory.
CRIO_CORE_EXPORT Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644);

CRIO_CORE_EXPORT Result<std::string> read_file(const std::string& path);

// mkdir -p with `mode` for the directories it creates.
CRIO_CORE_EXPORT Status make_dirs(const std::string& path, mode_t mode = 0755);

CRIO_CORE_EXPORT bool exists(const std::string& path);

// Removes `path` if it exists; a missing file is not an error.
CRIO_CORE_EXPORT Status remove_file(const std::string& path);

// An fd closed on destruction.
class CRIO_CORE_EXPORT UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// A directory open for reading, closed on destruction. next() gives each entry's name
// but "." and "..", then nullptr.
class CRIO_CORE_EXPORT DirReader {
 public:
  // Opens `path`; valid() is false (and error() says why) when it cannot be read.
  explicit DirReader(const std::string& path);
  // Reads the directory `fd` refers to from its start; the caller keeps `fd`.
  static DirReader from_fd(int fd);
  DirReader(DirReader&& o) noexcept : dir_(o.dir_), errno_(o.errno_) { o.dir_ = nullptr; }
  DirReader(const DirReader&) = delete;
  DirReader& operator=(const DirReader&) = delete;
  DirReader& operator=(DirReader&&) = delete;
  ~DirReader();

  bool valid() const { return dir_ != nullptr; }
  int error() const { return errno_; }
  const char* next();

 private:
  DirReader() = default;
  DIR* dir_ = nullptr;
  int errno_ = 0;
};

// The names in `path` but "." and ".."; an error naming the directory when it
// cannot be read.
CRIO_CORE_EXPORT Result<std::vector<std::string>> list_dir(const std::string& path);

}  // namespace crio::fs
