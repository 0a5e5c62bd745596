#pragma once
// One runtime (runc or crun) with its own --root, exit dir and cgroup parent, a
// busybox rootfs, and a guard that deletes every container and its cgroups at the end,
// pass or fail. Needs root, conmon, runc, crun and busybox-static.

#include <crio/oci/runtime.hpp>
#include <crio/oci/spec.hpp>

#include <catch2/catch.hpp>

#include "process.hpp"
#include "temp_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace crio::test {

inline std::string status_text(const Status& s) { return s.to_string(); }
template <typename T>
std::string status_text(const Result<T>& r) {
  return r.status().to_string();
}

// REQUIRE(expr.ok()) that shows the status message when it fails.
#define REQUIRE_OK(expr)                                  \
  do {                                                    \
    auto&& require_ok__ = (expr);                         \
    INFO(::crio::test::status_text(require_ok__));        \
    REQUIRE(require_ok__.ok());                           \
  } while (0)

struct Runc {
  static constexpr const char* kName = "runc";
  static constexpr const char* kPath = "/usr/sbin/runc";
};
struct Crun {
  static constexpr const char* kName = "crun";
  static constexpr const char* kPath = "/usr/bin/crun";
};

inline std::string random_suffix() {
  static std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return std::string(buf, 10);
}

// Every v1 hierarchy mount point (or the v2 root on a v2-only host).
inline std::vector<std::string> cgroup_roots() {
  std::vector<std::string> roots;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  bool v1 = false;
  std::string v2root;
  while (std::getline(in, line)) {
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream head(line.substr(0, dash)), tail(line.substr(dash + 3));
    std::string a, b, c, root, mp, fstype;
    head >> a >> b >> c >> root >> mp;
    tail >> fstype;
    if (fstype == "cgroup") {
      roots.push_back(mp);
      v1 = true;
    } else if (fstype == "cgroup2") {
      v2root = mp;
    }
  }
  if (!v1 && !v2root.empty()) roots.push_back(v2root);
  if (v1 && !v2root.empty()) roots.push_back(v2root);  // crun may also use the unified tree
  return roots;
}

// Lists the cgroup directories named `path` that exist in any hierarchy.
inline std::vector<std::string> existing_cgroups(const std::string& path) {
  std::vector<std::string> found;
  for (const auto& r : cgroup_roots()) {
    struct stat st {};
    if (::stat((r + path).c_str(), &st) == 0) found.push_back(r + path);
  }
  return found;
}

inline void make_busybox_rootfs(const std::string& dir) {
  namespace stdfs = std::filesystem;
  for (const char* d : {"bin", "etc", "proc", "dev", "sys", "tmp", "root"}) stdfs::create_directories(dir + "/" + d);
  stdfs::copy_file("/bin/busybox", dir + "/bin/busybox", stdfs::copy_options::overwrite_existing);
  for (const char* app : {"sh", "echo", "sleep", "cat", "id", "dd", "unshare", "true", "printf", "readlink", "head",
                          "grep", "ls", "touch", "seq", "yes", "stty"}) {
    stdfs::create_symlink("busybox", dir + "/bin/" + app);
  }
  write_file(dir + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n");
  write_file(dir + "/etc/group", "root:x:0:\nnobody:x:65534:\n");
}

template <typename R>
class OciEnv {
 public:
  OciEnv()
      : handler_{R::kName, R::kPath, tmp / "runtime-root", "oci", "/usr/bin/conmon"},
        runtime(handler_),
        cgroup_parent("/crio-oci-test-" + random_suffix()) {
    make_busybox_rootfs(rootfs());
  }

  ~OciEnv() {
    // The guard: whatever the test did, no container, conmon or cgroup survives it.
    for (const auto& id : runtime.containers()) {
      auto p = runtime.process(id);
      (void)runtime.remove(id);
      if (p && p->conmon_pid > 0 && ::kill(p->conmon_pid, 0) == 0) ::kill(p->conmon_pid, SIGKILL);
    }
    for (const auto& id : created_) (void)runtime.remove(id);
    for (const auto& root : cgroup_roots()) {
      remove_cgroup_tree(root + cgroup_parent);
    }
  }

  std::string rootfs() const { return tmp / "rootfs"; }
  std::string bundle(const std::string& id) const { return tmp / ("bundles/" + id); }
  std::string log_path(const std::string& id) const { return tmp / ("logs/" + id + ".log"); }
  std::string exit_dir() const { return tmp / "exits"; }

  oci::Spec spec(const std::vector<std::string>& args) const {
    oci::Spec s = oci::default_spec(args);
    s.root_path = rootfs();
    s.hostname = "oci-test";
    return s;
  }

  // Writes the bundle and creates the container; the pid on success. `tweak` may
  // change the create options (terminal, open_stdin, ...).
  Result<pid_t> create(const std::string& id, oci::Spec s,
                       const std::function<void(oci::ContainerCreateOptions&)>& tweak = {}) {
    if (s.cgroups_path.empty()) s.cgroups_path = oci::cgroupfs_path(cgroup_parent, id);
    CRIO_RETURN_IF_ERROR(oci::write_bundle(bundle(id), s));
    oci::ContainerCreateOptions o;
    o.id = id;
    o.bundle = bundle(id);
    o.log_path = log_path(id);
    o.exit_dir = exit_dir();
    o.persist_dir = tmp / ("persist/" + id);
    o.socket_dir = tmp / "sock";
    if (tweak) tweak(o);
    created_.push_back(id);
    return runtime.create(o);
  }

  Status run(const std::string& id, oci::Spec s,
             const std::function<void(oci::ContainerCreateOptions&)>& tweak = {}) {
    auto pid = create(id, std::move(s), tweak);
    if (!pid.ok()) return pid.status();
    return runtime.start(id);
  }

  Result<oci::ExitInfo> wait_exit(const std::string& id, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    Result<oci::ExitInfo> r = runtime.read_exit(id);
    eventually(
        [&] {
          r = runtime.read_exit(id);
          return r.ok();
        },
        timeout);
    return r;
  }

  std::string log(const std::string& id) const {
    std::ifstream in(log_path(id));
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  TempDir tmp{"crio-oci"};

 private:
  static void remove_cgroup_tree(const std::string& dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) return;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      if (e.is_directory()) remove_cgroup_tree(e.path().string());
    }
    ::rmdir(dir.c_str());
  }

  oci::RuntimeHandler handler_;

 public:
  oci::Runtime runtime;
  std::string cgroup_parent;

 private:
  std::vector<std::string> created_;
};

}  // namespace crio::test
