#pragma once
// A small ext4 filesystem of a test's own, on a loop device over a sparse file in the
// test's temporary directory: for what a full disk does. Needs root, mkfs.ext4,
// losetup and mount.

#include "process.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/mount.h>
#include <sys/statvfs.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace crio::test {

// A fresh ext4 filesystem of `mib` MiB mounted at dir()/mnt; unmounted (with whatever
// a test left mounted below it) and its loop device detached when the test ends.
class LoopDisk {
 public:
  explicit LoopDisk(int mib) {
    const std::string image = dir_ / "disk.img";
    mount_point_ = dir_ / "mnt";
    std::filesystem::create_directories(mount_point_);
    {
      std::ofstream out(image);
    }
    std::filesystem::resize_file(image, static_cast<uintmax_t>(mib) << 20);
    // No reserved blocks and no journal: the test's arithmetic is about the space a
    // container (root) can use.
    auto mkfs = run_command({"/usr/sbin/mkfs.ext4", "-q", "-F", "-m", "0", "-O", "^has_journal", image});
    INFO("mkfs.ext4: " << mkfs.err);
    REQUIRE(mkfs.exit_code == 0);
    auto losetup = run_command({"/usr/sbin/losetup", "--find", "--show", image});
    INFO("losetup: " << losetup.err);
    REQUIRE(losetup.exit_code == 0);
    device_ = losetup.out.substr(0, losetup.out.find('\n'));
    auto mount = run_command({"/usr/bin/mount", device_, mount_point_});
    INFO("mount: " << mount.err);
    REQUIRE(mount.exit_code == 0);
    mounted_ = true;
  }
  ~LoopDisk() {
    if (mounted_) {
      std::vector<std::string> below = mounts_below(mount_point_);
      for (auto it = below.rbegin(); it != below.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
      // A container's conmon may hold its log on the disk for a moment after the
      // pod's removal; a lazy unmount is the last resort.
      const bool unmounted =
          eventually([&] { return ::umount2(mount_point_.c_str(), 0) == 0; }, std::chrono::seconds(10));
      if (!unmounted) ::umount2(mount_point_.c_str(), MNT_DETACH);
    }
    if (!device_.empty()) run_command({"/usr/sbin/losetup", "--detach", device_});
  }
  LoopDisk(const LoopDisk&) = delete;
  LoopDisk& operator=(const LoopDisk&) = delete;

  const std::string& path() const { return mount_point_; }
  // Bytes still free (the filesystem reserves none for root).
  int64_t free_bytes() const {
    struct statvfs st {};
    REQUIRE(::statvfs(mount_point_.c_str(), &st) == 0);
    return static_cast<int64_t>(st.f_bavail) * static_cast<int64_t>(st.f_frsize);
  }

 private:
  // Mount points below `dir`, deepest last, from /proc/self/mountinfo.
  static std::vector<std::string> mounts_below(const std::string& dir) {
    std::vector<std::string> out;
    std::ifstream in("/proc/self/mountinfo");
    for (std::string line; std::getline(in, line);) {
      std::istringstream s(line);
      std::string id, parent, dev, root, mount_point;
      s >> id >> parent >> dev >> root >> mount_point;
      if (mount_point.rfind(dir + "/", 0) == 0) out.push_back(mount_point);
    }
    return out;
  }

  TempDir dir_{"crio-disk"};
  std::string mount_point_;
  std::string device_;
  bool mounted_ = false;
};

}  // namespace crio::test
