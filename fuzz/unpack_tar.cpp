// Layer tar unpacking, as root, into a fresh scratch root per run.
//
// Unpacking creates devices, owners, xattrs and links, so the harness first moves
// into a jail: its own mount namespace, a tmpfs chroot holding the scratch area, a
// canary file, and read-only /usr, /proc and the harness's directory (for the
// sanitizers' symbolizer). An escape therefore cannot reach the host, and after each
// run anything in the jail outside the scratch root that changed is reported as a
// crash.
//
// The working directory stays outside the chroot, so libFuzzer's corpus and
// artifact paths must be relative to it (fuzz/run.sh does so).
#include "storage/unpack.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr const char* kJail = "/tmp/crio-fuzz-unpack-jail";
constexpr const char* kCanary = "/canary";
constexpr const char* kCanaryText = "the harness wrote this; a layer must not change it\n";
constexpr const char* kScratch = "/scratch";
constexpr const char* kRoot = "/scratch/root";
std::set<std::string> jail_entries = {"bin", "canary", "lib", "lib64", "proc", "scratch", "usr"};
// The directories leading to the harness's bind mount, each with its one entry.
std::vector<std::pair<std::string, std::string>> exe_path_dirs;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "unpack_tar harness: %s: %s\n", what, std::strerror(errno));
  std::abort();
}

[[noreturn]] void escaped(const std::string& what) {
  std::fprintf(stderr, "unpack_tar harness: a layer wrote outside its root: %s\n", what.c_str());
  std::abort();
}

void mkdirs(const std::string& path) {
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    std::string prefix = path.substr(0, slash);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) die("mkdir");
    if (slash == std::string::npos) return;
  }
}

void bind_read_only(const std::string& from, const std::string& to) {
  if (::mount(from.c_str(), to.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) die("bind mount");
  if (::mount(nullptr, to.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0)
    die("making a bind mount read-only");
}

void enter_jail() {
  if (::unshare(CLONE_NEWNS) != 0) die("unshare(CLONE_NEWNS) (the harness needs root)");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) die("making mounts private");
  if (::mkdir(kJail, 0700) != 0 && errno != EEXIST) die("mkdir jail");
  if (::mount("tmpfs", kJail, "tmpfs", MS_NOSUID, "size=512m,mode=0755") != 0) die("mounting the jail");
  std::string j = kJail;
  if (::mkdir((j + "/usr").c_str(), 0755) != 0) die("mkdir usr");
  bind_read_only("/usr", j + "/usr");
  // The harness's own directory too, so that the symbolizer finds the binary.
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof exe) die("readlink /proc/self/exe");
  std::string exe_dir(exe, static_cast<size_t>(n));
  exe_dir.erase(exe_dir.rfind('/'));
  if (exe_dir.rfind("/usr/", 0) != 0) {
    mkdirs(j + exe_dir);
    bind_read_only(exe_dir, j + exe_dir);
    jail_entries.insert(exe_dir.substr(1, exe_dir.find('/', 1) - 1));
    for (size_t slash = exe_dir.find('/', 1); slash != std::string::npos; slash = exe_dir.find('/', slash + 1)) {
      std::string dir = exe_dir.substr(0, slash);
      size_t next = exe_dir.find('/', slash + 1);
      exe_path_dirs.emplace_back(dir, exe_dir.substr(slash + 1, next == std::string::npos ? next : next - slash - 1));
    }
  }
  for (const char* l : {"bin", "lib", "lib64"}) {
    if (::symlink((std::string("usr/") + l).c_str(), (j + "/" + l).c_str()) != 0) die("symlink");
  }
  if (::mkdir((j + "/proc").c_str(), 0555) != 0) die("mkdir proc");
  if (::mount("proc", (j + "/proc").c_str(), "proc", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    die("mounting proc");
  if (::mkdir((j + kScratch).c_str(), 0755) != 0) die("mkdir scratch");
  FILE* f = std::fopen((j + kCanary).c_str(), "w");
  if (!f || std::fputs(kCanaryText, f) < 0 || std::fclose(f) != 0) die("writing the canary");
  if (::chroot(kJail) != 0) die("chroot");
}

std::set<std::string> entries(const char* dir) {
  std::set<std::string> out;
  DIR* d = ::opendir(dir);
  if (!d) die("opendir");
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.insert(n);
  }
  ::closedir(d);
  return out;
}

void check_jail() {
  if (entries("/") != jail_entries) escaped("the jail's top level changed");
  if (entries(kScratch) != std::set<std::string>{"root"}) escaped("a sibling of the root appeared");
  for (const auto& [dir, child] : exe_path_dirs) {
    if (entries(dir.c_str()) != std::set<std::string>{child}) escaped("something appeared in " + dir);
  }
  struct stat st {};
  if (::lstat(kCanary, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) escaped("the canary was replaced or linked");
  char buf[256] = {};
  FILE* f = std::fopen(kCanary, "r");
  if (!f) escaped("the canary cannot be read");
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  if (std::string(buf, n) != kCanaryText) escaped("the canary changed");
  if (::lstat(kScratch, &st) != 0 || !S_ISDIR(st.st_mode) || (st.st_mode & 07777) != 0755 || st.st_uid != 0)
    escaped("the scratch directory's metadata changed");
}

int remove_one(const char* path, const struct stat*, int, struct FTW*) {
  // A layer may leave a directory without write or search permission for its owner;
  // root does not care, except for the immutable and append-only attributes, which
  // unpacking never sets.
  if (::remove(path) != 0) die("removing the scratch root");
  return 0;
}

void reset_root() {
  struct stat st {};
  if (::lstat(kRoot, &st) == 0 && ::nftw(kRoot, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0) die("nftw");
  if (::mkdir(kRoot, 0755) != 0) die("mkdir root");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  enter_jail();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  reset_root();
  size_t at = 0;
  // Short reads of varying size, as a decompressor hands them over.
  crio::storage::detail::ReadFn read = [&](char* buf, size_t len) -> crio::Result<size_t> {
    size_t n = std::min({len, size - at, static_cast<size_t>(1 + (at * 7919) % 4096)});
    if (n > 0) std::memcpy(buf, data + at, n);
    at += n;
    return n;
  };
  auto total = crio::storage::detail::unpack_tar(kRoot, read);
  // The whole stream is consumed whether or not it unpacked: its digest covers all of it.
  if (total.ok() && static_cast<size_t>(*total) != size) {
    std::fprintf(stderr, "unpack_tar read %lld of %zu bytes\n", static_cast<long long>(*total), size);
    std::abort();
  }
  check_jail();
  return 0;
}
