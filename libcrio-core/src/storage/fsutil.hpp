#pragma once
// Tree operations for the storage drivers. All of them work from directory fds and
// never follow a symlink, so a hostile layer cannot make them act outside the tree.

#include <crio/core/fs.hpp>
#include <crio/core/status.hpp>
#include <crio/core/storage/store.hpp>

#include <string>

namespace crio::storage::detail {

inline constexpr const char* kOpaqueXattr = "trusted.overlay.opaque";

Status errno_error(std::string_view what, const std::string& path, int err);

// open(path, O_DIRECTORY | O_NOFOLLOW).
Result<fs::UniqueFd> open_dir(const std::string& path);

// rm -rf that stays on the file system it starts on: a mount point below `path` is an
// error instead of a way to delete what is mounted there. A missing path is OK.
Status remove_tree(const std::string& path);
// Same for the entry `name` in directory `dirfd`.
Status remove_at(int dirfd, const std::string& name, const std::string& display);

// cp -a: contents, owners, modes (setuid included), xattrs, times, devices, symlinks,
// hard links within the tree. `dst` must not exist.
Status copy_tree(const std::string& src, const std::string& dst);

// Applies an overlay-format diff (whiteouts as 0:0 char devices, opaque directories
// marked by trusted.overlay.opaque=y) onto a full tree, as a vfs layer is built.
Status apply_diff(const std::string& diff, const std::string& target);

// Bytes (allocated) and inodes under `path`, each inode once. Missing path → zero.
Result<Usage> tree_usage(const std::string& path);

bool is_mountpoint(const std::string& path);

}  // namespace crio::storage::detail
