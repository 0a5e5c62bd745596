#pragma once
// Small filesystem helpers every layer needs; all report errors as Status.

#include <crio/core/export.hpp>
#include <crio/core/status.hpp>

#include <sys/types.h>

#include <string>
#include <string_view>

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

}  // namespace crio::fs
