#pragma once
// A storage driver turns staged layer diffs into layers and layers into container
// root file systems. One translation unit per driver (overlay.cpp, vfs.cpp).
//
// Every layer and container layer is a directory home()/<id>. A new one is built in a
// staging directory (make_unpack_dir → prepare → install): everything slow happens before
// install, and install is a rename, done under the store lock.

#include <crio/core/status.hpp>
#include <crio/core/storage/store.hpp>

#include <memory>
#include <set>
#include <string>
#include <vector>

namespace crio::storage::detail {

struct DriverOptions {
  std::string home;                    // root/<driver>
  std::string layers_home;             // where the parent layers of new layers live; "" for home
  std::vector<std::string> mountopts;  // extra overlay mount options (nodev, …)
  std::string mount_program;           // fuse-overlayfs and the like; "" for the kernel
};

class Driver {
 public:
  virtual ~Driver() = default;
  virtual std::string name() const = 0;
  const std::string& home() const { return opts_.home; }
  const std::string& layers_home() const { return opts_.layers_home.empty() ? opts_.home : opts_.layers_home; }

  // Creates the driver's directories.
  virtual Status init() = 0;

  // Creates and returns the directory a layer tar is unpacked into (overlay diff
  // format) for a writer whose private directory is `staging`.
  virtual Result<std::string> make_unpack_dir(const std::string& staging) = 0;
  // Readies staging to become a layer over `parent_id` ("" for none); runs unlocked
  // while `parent_id` is kept alive by the caller's checks at install.
  virtual Status prepare_layer(const std::string& staging, const std::string& parent_id) = 0;
  // A writable container layer over `parent_id` ("" for an image without layers).
  virtual Status prepare_container(const std::string& staging, const std::string& parent_id) = 0;
  // Renames the prepared staging into home()/<id>.
  virtual Status install(const std::string& staging, const std::string& id) = 0;
  // Moves home()/<id> to `trash` (to be removed unlocked) and drops what refers to it.
  virtual Status remove(const std::string& id, const std::string& trash) = 0;

  // Mounts container layer `id` and returns the root file system path.
  virtual Result<std::string> mount(const std::string& id) = 0;
  virtual Status unmount(const std::string& id, bool force) = 0;
  virtual bool mounted(const std::string& id) const = 0;

  // Directory holding the bytes a layer or container layer adds.
  virtual std::string data_dir(const std::string& id) const = 0;

  // After a crash: removes entries of home() that are not in `ids` and repairs
  // driver-private links.
  virtual Status recover(const std::set<std::string>& ids) = 0;
  // An entry of home() that is the driver's own, not a layer (overlay's "l" links).
  virtual bool reserved_entry(const std::string& name) const { return false; }

 protected:
  explicit Driver(DriverOptions opts) : opts_(std::move(opts)) {}
  DriverOptions opts_;
};

std::unique_ptr<Driver> make_overlay_driver(DriverOptions opts);
std::unique_ptr<Driver> make_vfs_driver(DriverOptions opts);

}  // namespace crio::storage::detail
