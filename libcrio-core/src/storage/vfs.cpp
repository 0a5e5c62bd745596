// vfs: every layer is a full copy of its parent with its diff applied; a container
// layer is a copy of its image's top layer and "mounting" it is using the directory.
// Slow and large, but it works on any file system and needs no mount.

#include "storage/driver.hpp"
#include "storage/fsutil.hpp"

#include <crio/core/fs.hpp>

#include <dirent.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>

namespace crio::storage::detail {
namespace {

class VfsDriver final : public Driver {
 public:
  explicit VfsDriver(DriverOptions opts) : Driver(std::move(opts)) {}

  std::string name() const override { return "vfs"; }

  Status init() override { return fs::make_dirs(home(), 0700); }

  Result<std::string> make_unpack_dir(const std::string& staging) override {
    std::string dir = staging + "/diff";
    if (::mkdir(dir.c_str(), 0755) != 0) return errno_error("creating", dir, errno);
    return dir;
  }

  Status prepare_layer(const std::string& staging, const std::string& parent_id) override {
    CRIO_RETURN_IF_ERROR(base_copy(staging, parent_id));
    return apply_diff(staging + "/diff", staging + "/layer");
  }

  Status prepare_container(const std::string& staging, const std::string& parent_id) override {
    return base_copy(staging, parent_id);
  }

  Status install(const std::string& staging, const std::string& id) override {
    std::string dst = home() + "/" + id;
    if (::rename((staging + "/layer").c_str(), dst.c_str()) != 0) return errno_error("installing layer", dst, errno);
    return ok_status();
  }

  Status remove(const std::string& id, const std::string& trash) override {
    std::string src = home() + "/" + id;
    if (::rename(src.c_str(), trash.c_str()) != 0 && errno != ENOENT) return errno_error("removing", src, errno);
    return ok_status();
  }

  Result<std::string> mount(const std::string& id) override { return home() + "/" + id; }
  Status unmount(const std::string&, bool) override { return ok_status(); }
  bool mounted(const std::string&) const override { return false; }
  std::string data_dir(const std::string& id) const override { return home() + "/" + id; }

  Status recover(const std::set<std::string>& ids) override {
    fs::DirReader d(home());
    if (!d.valid()) return errno_error("listing", home(), d.error());
    std::vector<std::string> stale;
    while (const char* e = d.next()) {
      if (ids.count(e) == 0) stale.push_back(e);
    }
    for (const auto& n : stale) CRIO_RETURN_IF_ERROR(remove_tree(home() + "/" + n));
    return ok_status();
  }

 private:
  Status base_copy(const std::string& staging, const std::string& parent_id) {
    std::string layer = staging + "/layer";
    if (parent_id.empty()) {
      if (::mkdir(layer.c_str(), 0755) != 0) return errno_error("creating", layer, errno);
      return ok_status();
    }
    return copy_tree(home() + "/" + parent_id, layer);
  }
};

}  // namespace

std::unique_ptr<Driver> make_vfs_driver(DriverOptions opts) { return std::make_unique<VfsDriver>(std::move(opts)); }

}  // namespace crio::storage::detail
