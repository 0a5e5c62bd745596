#include <crio/oci/container_spec.hpp>

#include <crio/core/config.hpp>
#include <crio/core/fs.hpp>
#include <crio/oci/hooks.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cgroup_internal.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>

namespace crio::oci {
namespace {

namespace stdfs = std::filesystem;

// "nofile=1024:2048" → RLIMIT_NOFILE; -1 is unlimited.
Result<Rlimit> parse_ulimit(const std::string& entry) {
  auto bad = [&](const char* why) {
    return error(Code::kInvalidArgument, "default_ulimits entry \"{}\": {}", entry, why);
  };
  auto eq = entry.find('=');
  if (eq == std::string::npos || eq == 0) return bad("not of the form name=soft:hard");
  auto colon = entry.find(':', eq);
  if (colon == std::string::npos) return bad("not of the form name=soft:hard");
  std::string name = entry.substr(0, eq);
  static const std::set<std::string> kNames = {"core",    "cpu",      "data",   "fsize",      "locks",
                                               "memlock", "msgqueue", "nice",   "nofile",     "nproc",
                                               "rss",     "rtprio",   "rttime", "sigpending", "stack"};
  if (!kNames.count(name)) return bad("unknown limit name");
  auto number = [](const std::string& v, uint64_t& out) {
    if (v == "-1") {
      out = UINT64_MAX;
      return true;
    }
    if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 19) return false;
    out = std::stoull(v);
    return true;
  };
  Rlimit r;
  if (!number(entry.substr(eq + 1, colon - eq - 1), r.soft) || !number(entry.substr(colon + 1), r.hard)) {
    return bad("limits are not integers (-1 for unlimited)");
  }
  if (r.soft > r.hard) return bad("soft limit is above the hard limit");
  for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  r.type = "RLIMIT_" + name;
  return r;
}

constexpr const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Reads `path` (absolute inside the rootfs) with every symlink resolved inside the
// rootfs, so a hostile image cannot make us read a host file. Absent → nullopt.
// `st`, when given, gets the file's mode and owner.
Result<std::optional<std::string>> read_in_root(const std::string& rootfs, const std::string& path,
                                                struct stat* st_out = nullptr) {
  fs::UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) return error(Code::kInternal, "opening rootfs {}: {}", rootfs, std::strerror(errno));
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  std::string rel = path.substr(path.find_first_not_of('/'));
  int fd = static_cast<int>(::syscall(SYS_openat2, root.get(), rel.c_str(), &how, sizeof how));
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<std::string>{};
    return error(Code::kInternal, "opening {} in {}: {}", path, rootfs, std::strerror(errno));
  }
  fs::UniqueFd file(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return std::optional<std::string>{};
  if (st_out) *st_out = st;
  std::string data;
  char buf[8192];
  constexpr size_t kMax = 4 << 20;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return error(Code::kInternal, "reading {} in {}: {}", path, rootfs, std::strerror(errno));
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > kMax) return error(Code::kInvalidArgument, "{} in the image is larger than 4 MiB", path);
  }
  return std::optional<std::string>{std::move(data)};
}

std::vector<std::vector<std::string>> colon_records(const std::string& text) {
  std::vector<std::vector<std::string>> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields;
    size_t start = 0;
    for (;;) {
      size_t colon = line.find(':', start);
      fields.push_back(line.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    out.push_back(std::move(fields));
  }
  return out;
}

std::optional<uint32_t> parse_id(const std::string& s) {
  if (s.empty() || s.size() > 10 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  uint64_t v = std::stoull(s);
  if (v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(v);
}

const char* const kCapNames[] = {"CHOWN",
                                 "DAC_OVERRIDE",
                                 "DAC_READ_SEARCH",
                                 "FOWNER",
                                 "FSETID",
                                 "KILL",
                                 "SETGID",
                                 "SETUID",
                                 "SETPCAP",
                                 "LINUX_IMMUTABLE",
                                 "NET_BIND_SERVICE",
                                 "NET_BROADCAST",
                                 "NET_ADMIN",
                                 "NET_RAW",
                                 "IPC_LOCK",
                                 "IPC_OWNER",
                                 "SYS_MODULE",
                                 "SYS_RAWIO",
                                 "SYS_CHROOT",
                                 "SYS_PTRACE",
                                 "SYS_PACCT",
                                 "SYS_ADMIN",
                                 "SYS_BOOT",
                                 "SYS_NICE",
                                 "SYS_RESOURCE",
                                 "SYS_TIME",
                                 "SYS_TTY_CONFIG",
                                 "MKNOD",
                                 "LEASE",
                                 "AUDIT_WRITE",
                                 "AUDIT_CONTROL",
                                 "SETFCAP",
                                 "MAC_OVERRIDE",
                                 "MAC_ADMIN",
                                 "SYSLOG",
                                 "WAKE_ALARM",
                                 "BLOCK_SUSPEND",
                                 "AUDIT_READ",
                                 "PERFMON",
                                 "BPF",
                                 "CHECKPOINT_RESTORE"};

// Every capability this kernel knows, "CAP_" prefixed.
std::vector<std::string> all_capabilities() {
  size_t last = std::size(kCapNames) - 1;
  if (auto text = fs::read_file("/proc/sys/kernel/cap_last_cap"); text.ok()) {
    if (auto v = parse_id(text->substr(0, text->find_first_of("\n ")))) last = std::min<size_t>(last, *v);
  }
  // A runtime cannot grant what we do not hold (root here may lack CAP_SYS_RESOURCE):
  // "all" is all of our bounding set.
  uint64_t bounding = ~uint64_t{0};
  if (auto status = fs::read_file("/proc/self/status"); status.ok()) {
    auto pos = status->find("CapBnd:\t");
    if (pos != std::string::npos) bounding = std::stoull(status->substr(pos + 8, 16), nullptr, 16);
  }
  std::vector<std::string> out;
  for (size_t i = 0; i <= last; ++i) {
    if (bounding & (uint64_t{1} << i)) out.push_back(std::string("CAP_") + kCapNames[i]);
  }
  return out;
}

std::string cap_name(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
  return name.rfind("CAP_", 0) == 0 ? name : "CAP_" + name;
}

Result<std::vector<std::string>> capabilities(const SpecDefaults& defaults, const ContainerRequest& spec) {
  if (spec.privileged) return all_capabilities();
  std::vector<std::string> all = all_capabilities();
  auto known = [&](const std::string& cap) { return std::find(all.begin(), all.end(), cap) != all.end(); };
  std::set<std::string> caps;
  for (const auto& c : defaults.capabilities) caps.insert(cap_name(c));
  for (const auto& c : spec.add_capabilities) {
    if (cap_name(c) == "CAP_ALL") {
      caps.insert(all.begin(), all.end());
      continue;
    }
    if (!known(cap_name(c))) return error(Code::kInvalidArgument, "unknown capability \"{}\" to add", c);
    caps.insert(cap_name(c));
  }
  for (const auto& c : spec.drop_capabilities) {
    if (cap_name(c) == "CAP_ALL") {
      caps.clear();
      continue;
    }
    if (!known(cap_name(c))) return error(Code::kInvalidArgument, "unknown capability \"{}\" to drop", c);
    caps.erase(cap_name(c));
  }
  // Capabilities added explicitly win over dropping ALL, as in CRI-O.
  bool dropped_all = std::any_of(spec.drop_capabilities.begin(), spec.drop_capabilities.end(),
                                 [](const std::string& c) { return cap_name(c) == "CAP_ALL"; });
  if (dropped_all) {
    for (const auto& c : spec.add_capabilities) {
      if (cap_name(c) == "CAP_ALL")
        caps.insert(all.begin(), all.end());
      else
        caps.insert(cap_name(c));
    }
  }
  return std::vector<std::string>(caps.begin(), caps.end());
}

void set_env(std::vector<std::string>& env, const std::string& key, const std::string& value) {
  std::string prefix = key + "=";
  for (auto& e : env) {
    if (e.rfind(prefix, 0) == 0) {
      e = prefix + value;
      return;
    }
  }
  env.push_back(prefix + value);
}

bool has_env(const std::vector<std::string>& env, const std::string& key) {
  return std::any_of(env.begin(), env.end(), [&](const std::string& e) { return e.rfind(key + "=", 0) == 0; });
}

// The spec's entry for the device node at `path` that `st` describes.
Device device_node(const std::string& path, const struct stat& st) {
  Device d;
  d.path = path;
  d.type = S_ISCHR(st.st_mode) ? "c" : "b";
  d.major = major(st.st_rdev);
  d.minor = minor(st.st_rdev);
  d.file_mode = st.st_mode & 07777;
  d.uid = st.st_uid;
  d.gid = st.st_gid;
  return d;
}

// Every device node of the host, for a privileged container (as CRI-O gives it).
// /dev/pts, /dev/shm and /dev/mqueue are the container's own.
std::vector<Device> host_devices() {
  std::vector<Device> out;
  std::error_code ec;
  stdfs::recursive_directory_iterator it("/dev", stdfs::directory_options::none, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string path = it->path().string();
    if (path == "/dev/pts" || path == "/dev/shm" || path == "/dev/mqueue" || path == "/dev/console") {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) continue;
    out.push_back(device_node(path, st));
  }
  return out;
}

// A device node on the host, with `permissions` as its cgroup access. NotFound when
// `path` is missing; FailedPrecondition when it is not a device node.
Result<std::pair<Device, DeviceRule>> device_from_path(const std::string& path, const std::string& permissions) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    return error(errno == ENOENT ? Code::kNotFound : Code::kInternal, "{}: {}", path, std::strerror(errno));
  }
  if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
    return error(Code::kFailedPrecondition, "{} is not a device node", path);
  }
  Device d = device_node(path, st);
  d.file_mode = st.st_mode & 0777;
  DeviceRule r;
  r.allow = true;
  r.type = d.type;
  r.major = d.major;
  r.minor = d.minor;
  r.access = permissions;
  return std::make_pair(std::move(d), std::move(r));
}

bool valid_device_mode(const std::string& mode) {
  if (mode.empty() || mode.size() > 3) return false;
  std::set<char> seen;
  for (char c : mode) {
    if ((c != 'r' && c != 'w' && c != 'm') || !seen.insert(c).second) return false;
  }
  return true;
}

// "src[:dst][:mode]" as additional_devices and the Devices annotation write it: the
// destination defaults to the source, the mode to rwm; the destination is under /dev.
Result<std::pair<Device, DeviceRule>> parse_device(const std::string& entry, const std::string& what,
                                                   const std::vector<std::string>* allowed) {
  auto bad = [&](const std::string& why) {
    return error(Code::kInvalidArgument, "{}: device \"{}\": {}", what, entry, why);
  };
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    size_t colon = entry.find(':', start);
    parts.push_back(entry.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() > 3) return bad("not of the form /dev/host[:/dev/container][:rwm]");
  std::string src = parts[0], dst, mode = "rwm";
  if (parts.size() == 3) {
    if (!valid_device_mode(parts[2])) return bad("invalid mode \"" + parts[2] + "\"");
    mode = parts[2];
  }
  if (parts.size() >= 2) {
    if (valid_device_mode(parts[1])) {
      mode = parts[1];
    } else {
      dst = parts[1];
    }
  }
  if (dst.empty()) dst = src;
  if (allowed && std::find(allowed->begin(), allowed->end(), src) == allowed->end()) {
    return bad("the device " + src + " is not in allowed_devices");
  }
  if (dst.rfind("/dev/", 0) != 0) return bad("the container path " + dst + " is not under /dev");
  auto dev = device_from_path(src, mode);
  if (!dev.ok()) return bad(dev.status().message());
  dev->first.path = dst;
  return dev;
}

// Adds a device node, replacing one at the same path, and its cgroup rule.
void add_device(Spec& s, Device device, DeviceRule rule) {
  auto& ds = s.devices;
  ds.erase(std::remove_if(ds.begin(), ds.end(), [&](const Device& d) { return d.path == device.path; }), ds.end());
  ds.push_back(std::move(device));
  s.resources.devices.push_back(std::move(rule));
}

// The CRI devices of the request: a device node, or every node under a directory.
Status add_requested_devices(Spec& s, const ContainerRequest& spec) {
  for (const auto& d : spec.devices) {
    if (d.container_path.empty() || d.container_path[0] != '/') {
      return error(Code::kInvalidArgument, "container {}: device container path \"{}\" is not absolute", spec.name,
                   d.container_path);
    }
    if (d.host_path.empty() || d.host_path[0] != '/') {
      return error(Code::kInvalidArgument, "container {}: device host path \"{}\" is not absolute", spec.name,
                   d.host_path);
    }
    std::string permissions = d.permissions.empty() ? "rwm" : d.permissions;
    if (!valid_device_mode(permissions)) {
      return error(Code::kInvalidArgument, "container {}: device {}: invalid permissions \"{}\" (r, w, m)", spec.name,
                   d.host_path, permissions);
    }
    if (spec.privileged && d.container_path != d.host_path && fs::exists(d.container_path)) {
      return error(Code::kInvalidArgument,
                   "container {}: privileged, and the device's container path {} already exists on the host", spec.name,
                   d.container_path);
    }
    auto dev = device_from_path(d.host_path, permissions);
    if (dev.ok()) {
      dev->first.path = d.container_path;
      add_device(s, std::move(dev->first), std::move(dev->second));
      continue;
    }
    if (dev.status().code() == Code::kNotFound) {
      return error(Code::kInvalidArgument, "container {}: device {} does not exist on the host", spec.name,
                   d.host_path);
    }
    std::error_code ec;
    if (!stdfs::is_directory(d.host_path, ec)) {
      return error(Code::kInvalidArgument, "container {}: {} is neither a device node nor a directory of them",
                   spec.name, d.host_path);
    }
    for (stdfs::recursive_directory_iterator it(d.host_path, ec), end; !ec && it != end; it.increment(ec)) {
      auto child = device_from_path(it->path().string(), permissions);
      if (!child.ok()) continue;
      child->first.path = d.container_path + it->path().string().substr(d.host_path.size());
      add_device(s, std::move(child->first), std::move(child->second));
    }
  }
  return ok_status();
}

// "host:container" lines; blank lines and # comments are skipped. A missing file has
// none, as in CRI-O (its test setup names one that is never written).
Result<std::vector<std::pair<std::string, std::string>>> read_default_mounts(const std::string& file) {
  auto text = fs::read_file(file);
  if (!text.ok() && text.status().code() == Code::kNotFound) return std::vector<std::pair<std::string, std::string>>{};
  if (!text.ok()) return error(Code::kInvalidArgument, "default_mounts_file {}: {}", file, text.status().message());
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream in(*text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    line.erase(0, line.find_first_not_of(" \t"));
    line.erase(line.find_last_not_of(" \t\r") + 1);
    if (line.empty() || line[0] == '#') continue;
    auto colon = line.find(':');
    std::string host = line.substr(0, colon);
    std::string ctr = colon == std::string::npos ? host : line.substr(colon + 1);
    // The container path also names where the copy goes under the run directory.
    const bool climbs = (ctr + "/").find("/../") != std::string::npos;
    if (host.empty() || host[0] != '/' || ctr.empty() || ctr[0] != '/' || climbs) {
      return error(Code::kInvalidArgument, "default_mounts_file {}:{}: \"{}\" is not /host/path:/container/path", file,
                   n, line);
    }
    out.emplace_back(host, ctr);
  }
  return out;
}

// mkdir -p of `path` inside `rootfs`, every component resolved inside it.
Status make_dirs_in_root(const std::string& rootfs, const std::string& path) {
  fs::UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return error(Code::kInternal, "opening rootfs {}: {}", rootfs, std::strerror(errno));
  std::string parent = ".";
  std::istringstream parts(path);
  std::string part;
  while (std::getline(parts, part, '/')) {
    if (part.empty() || part == ".") continue;
    open_how how{};
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    int fd = static_cast<int>(::syscall(SYS_openat2, root.get(), parent.c_str(), &how, sizeof how));
    if (fd < 0) return error(Code::kInternal, "{} in {}: {}", parent, rootfs, std::strerror(errno));
    fs::UniqueFd dir(fd);
    if (::mkdirat(dir.get(), part.c_str(), 0755) != 0 && errno != EEXIST) {
      return error(Code::kInternal, "creating {} in {}: {}", path, rootfs, std::strerror(errno));
    }
    parent += "/" + part;
  }
  return ok_status();
}

// mkdir -p with `mode` on each directory it makes, whatever the umask.
Status make_dirs_with_mode(const std::string& path, mode_t mode) {
  std::string partial;
  std::istringstream parts(path);
  std::string part;
  while (std::getline(parts, part, '/')) {
    if (part.empty()) continue;
    partial += "/" + part;
    if (::mkdir(partial.c_str(), mode) == 0) {
      if (::chmod(partial.c_str(), mode) != 0)
        return error(Code::kInternal, "chmod {}: {}", partial, std::strerror(errno));
    } else if (errno != EEXIST) {
      return error(Code::kInternal, "creating {}: {}", partial, std::strerror(errno));
    }
  }
  return ok_status();
}

// Copies the files under `dir` (symlinks followed; dangling ones skipped) to `to`, each
// with its mode, each directory that holds a file made with its source's mode.
Status copy_mount_source_tree(const std::string& dir, const std::string& to, mode_t dir_mode, int depth = 0) {
  if (depth > 64) return error(Code::kInvalidArgument, "{}: directories nested too deep (a symlink loop?)", dir);
  CRIO_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::list_dir(dir));
  for (const auto& name : names) {
    std::string from = dir + "/" + name;
    struct stat st {};
    if (::stat(from.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      return error(Code::kInternal, "stat {}: {}", from, std::strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
      CRIO_RETURN_IF_ERROR(copy_mount_source_tree(from, to + "/" + name, st.st_mode & 07777, depth + 1));
    } else if (S_ISREG(st.st_mode)) {
      CRIO_ASSIGN_OR_RETURN(std::string data, fs::read_file(from));
      CRIO_RETURN_IF_ERROR(make_dirs_with_mode(to, dir_mode));
      CRIO_RETURN_IF_ERROR(fs::write_file_atomic(to + "/" + name, data, st.st_mode & 07777));
    } else {
      return error(Code::kInvalidArgument, "{} is neither a file nor a directory", from);
    }
  }
  return ok_status();
}

// A default_mounts_file entry's source copied to `copy` (kept when it exists, as after
// a restart), as CRI-O copies these "subscriptions": the container sees a private copy,
// symlinks on the host resolved, and cannot change the host's files.
Status copy_mount_source(const std::string& source, const std::string& copy) {
  std::error_code ec;
  if (stdfs::exists(copy, ec)) return ok_status();
  struct stat st {};
  if (::stat(source.c_str(), &st) != 0) return error(Code::kInternal, "stat {}: {}", source, std::strerror(errno));
  const mode_t mode = st.st_mode & 07777;
  if (S_ISDIR(st.st_mode)) {
    CRIO_RETURN_IF_ERROR(make_dirs_with_mode(copy, mode));
    return copy_mount_source_tree(source, copy, mode);
  }
  if (S_ISREG(st.st_mode)) {
    CRIO_ASSIGN_OR_RETURN(std::string data, fs::read_file(source));
    CRIO_RETURN_IF_ERROR(make_dirs_with_mode(stdfs::path(copy).parent_path().string(), mode));
    return fs::write_file_atomic(copy, data, mode);
  }
  return error(Code::kInvalidArgument, "{} is neither a file nor a directory", source);
}

bool has_destination(const std::vector<ContainerMount>& mounts, const std::string& destination) {
  return std::any_of(mounts.begin(), mounts.end(),
                     [&](const ContainerMount& m) { return m.container_path == destination; });
}

}  // namespace

bool annotation_allowed(const std::vector<std::string>& allowed, const std::string& annotation) {
  return std::any_of(allowed.begin(), allowed.end(),
                     [&](const std::string& a) { return !a.empty() && annotation.rfind(a, 0) == 0; });
}

Result<std::vector<std::string>> container_argv(const ContainerRequest& spec, const ImageDefaults& image) {
  std::vector<std::string> argv;
  if (!spec.command.empty()) {
    argv = spec.command;
    argv.insert(argv.end(), spec.args.begin(), spec.args.end());
  } else {
    argv = image.entrypoint;
    const auto& rest = spec.args.empty() ? image.cmd : spec.args;
    argv.insert(argv.end(), rest.begin(), rest.end());
  }
  if (argv.empty()) {
    return error(Code::kInvalidArgument, "container {}: no command given and the image has no entrypoint or cmd",
                 spec.name);
  }
  return argv;
}

Result<int> parse_signal(const std::string& name) {
  if (name.empty()) return SIGTERM;
  if (auto n = parse_id(name); n && *n > 0 && *n < 65) return static_cast<int>(*n);
  std::string upper = name;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  if (upper.rfind("SIG", 0) == 0) upper = upper.substr(3);
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    if (abbrev && upper == abbrev) return sig;
  }
  return error(Code::kInvalidArgument, "unknown stop signal \"{}\"", name);
}

namespace {

// resolve_user's answer and what the generated /etc/passwd and /etc/group need.
struct ResolvedUser {
  User user;
  std::string home = "/";
  std::string user_string;  // the user as the request or image names it ("" for none)
  uint32_t passwd_gid = 0;  // the gid before RunAsGroup
  bool uid_in_passwd = false;
};

Result<ResolvedUser> resolve_user_in(const std::string& rootfs, const ContainerRequest& spec,
                                     const ImageDefaults& image) {
  ResolvedUser out;
  std::string user_part, group_part;
  if (!spec.run_as_username.empty()) {
    user_part = spec.run_as_username;
  } else if (spec.run_as_user) {
    user_part = std::to_string(*spec.run_as_user);
  } else {
    user_part = image.user;
    if (auto colon = user_part.find(':'); colon != std::string::npos) {
      group_part = user_part.substr(colon + 1);
      user_part.resize(colon);
    }
  }
  out.user_string = user_part;
  if (user_part.empty()) user_part = "0";

  CRIO_ASSIGN_OR_RETURN(auto passwd_text, read_in_root(rootfs, "/etc/passwd"));
  auto passwd = colon_records(passwd_text.value_or(""));
  User& user = out.user;
  std::string user_name;
  auto numeric = parse_id(user_part);
  for (const auto& rec : passwd) {
    if (rec.size() < 6) continue;
    bool match = numeric ? parse_id(rec[2]) == numeric : rec[0] == user_part;
    if (!match) continue;
    auto uid = parse_id(rec[2]);
    auto gid = parse_id(rec[3]);
    if (!uid || !gid) continue;
    user.uid = *uid;
    user.gid = *gid;
    user_name = rec[0];
    if (!rec[5].empty()) out.home = rec[5];
    out.uid_in_passwd = true;
    break;
  }
  if (!out.uid_in_passwd) {
    if (!numeric) {
      return error(Code::kInvalidArgument, "container {}: user \"{}\" is not in the image's /etc/passwd", spec.name,
                   user_part);
    }
    user.uid = *numeric;
    user.gid = 0;
  }

  CRIO_ASSIGN_OR_RETURN(auto group_text, read_in_root(rootfs, "/etc/group"));
  auto groups = colon_records(group_text.value_or(""));
  if (!group_part.empty()) {
    if (auto gid = parse_id(group_part)) {
      user.gid = *gid;
    } else {
      bool group_found = false;
      for (const auto& rec : groups) {
        if (rec.size() >= 3 && rec[0] == group_part && parse_id(rec[2])) {
          user.gid = *parse_id(rec[2]);
          group_found = true;
          break;
        }
      }
      if (!group_found) {
        return error(Code::kInvalidArgument, "container {}: group \"{}\" is not in the image's /etc/group", spec.name,
                     group_part);
      }
    }
  }
  out.passwd_gid = user.gid;
  if (spec.run_as_group) user.gid = static_cast<uint32_t>(*spec.run_as_group);

  std::set<uint32_t> extra;
  if (!user_name.empty() && !spec.supplemental_groups_strict) {
    for (const auto& rec : groups) {
      if (rec.size() < 4 || !parse_id(rec[2])) continue;
      std::istringstream members(rec[3]);
      std::string m;
      while (std::getline(members, m, ',')) {
        if (m == user_name) extra.insert(*parse_id(rec[2]));
      }
    }
  }
  for (int64_t g : spec.supplemental_groups) extra.insert(static_cast<uint32_t>(g));
  // The primary group stays among the additional ones, as CRI-O sets them.
  extra.insert(user.gid);
  user.additional_gids.assign(extra.begin(), extra.end());
  return out;
}

// The image's /etc/passwd or /etc/group with `entry` appended, written to `copy` with
// the original's mode and owner, when the file exists and the container's user could
// not add the entry itself (the file is not group/other writable, nor owned and
// writable by `id`): CRI-O's rule, so that tools like whoami and id find the user.
// Returns whether the copy was written.
Result<bool> add_id_entry(const std::string& rootfs, const std::string& file, uint32_t id, bool owner_is_uid,
                          bool skip_empty, const std::string& entry, const std::string& copy) {
  struct stat st {};
  CRIO_ASSIGN_OR_RETURN(auto text, read_in_root(rootfs, file, &st));
  if (!text || (skip_empty && text->empty())) return false;
  if ((st.st_mode & 022) != 0) return false;
  if ((owner_is_uid ? st.st_uid : st.st_gid) == id && (st.st_mode & 0200) != 0) return false;
  std::string content = *text;
  if (!content.empty() && content.back() != '\n') content += '\n';
  content += entry;
  CRIO_RETURN_IF_ERROR(fs::write_file_atomic(copy, content, st.st_mode & 07777));
  if (::chown(copy.c_str(), st.st_uid, st.st_gid) != 0) {
    return error(Code::kInternal, "chown {}: {}", copy, std::strerror(errno));
  }
  return true;
}

bool gid_in_group(const std::string& rootfs, uint32_t gid) {
  auto text = read_in_root(rootfs, "/etc/group");
  if (!text.ok() || !*text) return false;
  for (const auto& rec : colon_records(**text)) {
    if (rec.size() >= 3 && parse_id(rec[2]) == gid) return true;
  }
  return false;
}

std::string env_value(const std::vector<std::string>& env, const std::string& key) {
  for (const auto& e : env) {
    if (e.size() > key.size() && e.compare(0, key.size(), key) == 0 && e[key.size()] == '=') {
      return e.substr(key.size() + 1);
    }
  }
  return {};
}

}  // namespace

Result<User> resolve_user(const std::string& rootfs, const ContainerRequest& spec, const ImageDefaults& image,
                          std::string* home) {
  CRIO_ASSIGN_OR_RETURN(ResolvedUser r, resolve_user_in(rootfs, spec, image));
  *home = r.home;
  return r.user;
}

const HostCgroups& host_cgroups() {
  static const HostCgroups host = [] {
    HostCgroups h;
    std::vector<detail::CgroupMount> mounts = detail::cgroup_mounts();
    h.v2 = detail::unified_only(mounts);
    for (const auto& m : mounts) {
      if (h.v2 && m.v2) {
        // v2 has no swap file at the root: look beside our own cgroup.
        auto own = detail::proc_cgroups(::getpid());
        if (own.ok() && own->count("")) {
          h.memory_swap = fs::exists(detail::join_cgroup(m, own->at("")) + "/memory.swap.current");
        }
      } else if (!h.v2 && std::find(m.controllers.begin(), m.controllers.end(), "memory") != m.controllers.end()) {
        h.memory_swap = fs::exists(m.mount_point + "/memory.memsw.limit_in_bytes");
      }
    }
    return h;
  }();
  return host;
}

Result<Resources> container_resources(const ResourceRequest& r, const std::string& container, const HostCgroups& host) {
  Resources out;
  if (r.cpu_shares > 0) out.cpu.shares = static_cast<uint64_t>(r.cpu_shares);
  if (r.cpu_quota != 0) out.cpu.quota = r.cpu_quota;
  if (r.cpu_period > 0) out.cpu.period = static_cast<uint64_t>(r.cpu_period);
  out.cpu.cpus = r.cpuset_cpus;
  out.cpu.mems = r.cpuset_mems;
  if (r.memory_limit > 0) {
    out.memory.limit = r.memory_limit;
    int64_t swap = r.memory_limit;
    if (r.memory_swap_limit != 0) {
      if (r.memory_swap_limit > 0 && r.memory_swap_limit < r.memory_limit) {
        return error(Code::kInvalidArgument,
                     "container {}: memory_swap_limit_in_bytes {} is below memory_limit_in_bytes {} (it counts "
                     "memory and swap together)",
                     container, r.memory_swap_limit, r.memory_limit);
      }
      swap = r.memory_swap_limit;
    }
    if (host.memory_swap) out.memory.swap = swap;
  }
  out.hugepages = r.hugepages;
  if (!r.unified.empty()) {
    if (!host.v2) {
      return error(Code::kInvalidArgument, "container {}: unified resources ({}...) need cgroup v2; this host has v1",
                   container, r.unified.begin()->first);
    }
    out.unified = r.unified;
  }
  return out;
}

SpecDefaults spec_defaults(const core::Config& config) {
  SpecDefaults d;
  d.capabilities = config.default_capabilities;
  d.add_inheritable_capabilities = config.add_inheritable_capabilities;
  d.env = config.default_env;
  d.ulimits = config.default_ulimits;
  d.absent_mount_sources_to_reject = config.absent_mount_sources_to_reject;
  d.seccomp_profile = config.seccomp_profile;
  d.seccomp_use_default_when_empty = config.seccomp_use_default_when_empty;
  d.pids_limit = config.pids_limit;
  d.additional_devices = config.additional_devices;
  d.allowed_devices = config.allowed_devices;
  d.read_only = config.read_only;
  d.bind_mount_prefix = config.bind_mount_prefix;
  d.image_volumes = config.image_volumes;
  d.default_mounts_file = config.default_mounts_file;
  d.cgroup_driver = CgroupDriver::of(config);
  return d;
}

Result<Spec> build_container_spec(const ContainerRequest& spec, const PodContext& pod, const ImageDefaults& image,
                                  const SpecDefaults& defaults, const SpecTarget& in, const HookSet* hooks) {
  CRIO_ASSIGN_OR_RETURN(std::vector<std::string> argv, container_argv(spec, image));
  Spec s = default_spec(argv);
  s.root_path = in.rootfs;
  const bool readonly = spec.readonly_rootfs || defaults.read_only;
  s.root_readonly = readonly;
  s.process.terminal = spec.tty;
  s.process.no_new_privileges = spec.no_new_privs;

  // Environment: the image's, then the config's defaults, then the request's.
  std::vector<std::string> env;
  for (const auto& e : image.env) {
    auto eq = e.find('=');
    if (eq == std::string::npos) continue;
    set_env(env, e.substr(0, eq), e.substr(eq + 1));
  }
  for (const auto& e : defaults.env) {
    auto eq = e.find('=');
    if (eq != std::string::npos) set_env(env, e.substr(0, eq), e.substr(eq + 1));
  }
  for (const auto& [k, v] : spec.envs) {
    // A newline would split the entry in two where the environment is a list of lines
    // (/proc/PID/environ readers, env files): CRI-O refuses it.
    if (k.empty() || k.find_first_of("=\n") != std::string::npos || v.find('\n') != std::string::npos) {
      return error(Code::kInvalidArgument, "container {}: environment variable \"{}\": {}", spec.name, k,
                   k.empty()                           ? "empty name"
                   : v.find('\n') != std::string::npos ? "its value has a newline"
                                                       : "the name has '=' or a newline");
    }
    set_env(env, k, v);
  }
  if (!has_env(env, "PATH")) env.insert(env.begin(), kDefaultPath);
  if (!has_env(env, "HOSTNAME") && !pod.hostname.empty()) set_env(env, "HOSTNAME", pod.hostname);

  CRIO_ASSIGN_OR_RETURN(ResolvedUser resolved, resolve_user_in(in.rootfs, spec, image));
  s.process.user = resolved.user;
  if (!has_env(env, "HOME")) set_env(env, "HOME", resolved.home);
  s.process.env = std::move(env);

  s.process.cwd = !spec.working_dir.empty() ? spec.working_dir : !image.working_dir.empty() ? image.working_dir : "/";
  if (s.process.cwd[0] != '/') {
    return error(Code::kInvalidArgument, "container {}: working directory \"{}\" is not absolute", spec.name,
                 s.process.cwd);
  }

  CRIO_ASSIGN_OR_RETURN(std::vector<std::string> caps, capabilities(defaults, spec));
  s.process.capabilities = Capabilities::of(caps);
  if (defaults.add_inheritable_capabilities) s.process.capabilities.inheritable = s.process.capabilities.bounding;

  // Mounts: default_mounts_file's, the request's (which win at the same destination),
  // then the pod's files and the image's volumes where the request has none.
  std::vector<Mount> mounts;
  std::set<std::string> destinations;
  bool bidirectional = false;
  if (!defaults.default_mounts_file.empty()) {
    CRIO_ASSIGN_OR_RETURN(auto default_mounts, read_default_mounts(defaults.default_mounts_file));
    for (const auto& [host, ctr] : default_mounts) {
      if (has_destination(spec.mounts, ctr) || !fs::exists(host)) continue;
      if (in.run_dir.empty()) {
        return error(Code::kInternal, "container {}: default_mounts_file and no run directory", spec.name);
      }
      CRIO_RETURN_IF_ERROR(fs::make_dirs(in.run_dir, 0700));
      std::string copy = in.run_dir + ctr;
      CRIO_RETURN_IF_ERROR(copy_mount_source(host, copy).wrap(
          fmt::format("container {}: default_mounts_file {}", spec.name, defaults.default_mounts_file)));
      mounts.push_back(bind_mount(copy, ctr, false));
      destinations.insert(ctr);
    }
  }
  for (ContainerMount m : spec.mounts) {
    if (!defaults.bind_mount_prefix.empty() && !m.host_path.empty() && m.host_path[0] == '/') {
      m.host_path = defaults.bind_mount_prefix + m.host_path;
    }
    if (m.container_path.empty() || m.container_path[0] != '/') {
      return error(Code::kInvalidArgument, "container {}: mount destination \"{}\" is not absolute", spec.name,
                   m.container_path);
    }
    if (m.host_path.empty() || m.host_path[0] != '/') {
      return error(Code::kInvalidArgument, "container {}: mount source \"{}\" is not absolute", spec.name, m.host_path);
    }
    std::error_code ec;
    if (!stdfs::exists(m.host_path, ec)) {
      const auto& reject = defaults.absent_mount_sources_to_reject;
      if (std::find(reject.begin(), reject.end(), m.host_path) != reject.end()) {
        return error(Code::kInvalidArgument, "container {}: mount source {} does not exist and may not be created",
                     spec.name, m.host_path);
      }
      CRIO_RETURN_IF_ERROR(fs::make_dirs(m.host_path, 0755));
    }
    Propagation propagation = m.propagation == 2   ? Propagation::kShared
                              : m.propagation == 1 ? Propagation::kSlave
                                                   : Propagation::kPrivate;
    std::erase_if(mounts, [&](const Mount& x) { return x.destination == m.container_path; });
    mounts.push_back(bind_mount(m.host_path, m.container_path, m.readonly, propagation));
    destinations.insert(m.container_path);
    if (propagation == Propagation::kShared) bidirectional = true;
  }
  // An unknown uid or gid gets an entry in a copy of the image's /etc/passwd or
  // /etc/group in the run directory, bind-mounted over it, unless the request mounts
  // /etc or the file itself.
  auto mounted = [&](const std::string& dest) { return destinations.count(dest) || destinations.count("/etc") ||
                                                       destinations.count("/etc/"); };
  auto id_file_mount = [&](const std::string& source, const std::string& dest) {
    mounts.push_back({dest, "bind", source, {"rw", "bind", "nodev", "nosuid", "noexec"}});
    destinations.insert(dest);
  };
  const User& user = s.process.user;
  const bool gen_passwd = !resolved.uid_in_passwd && !mounted("/etc/passwd");
  const bool gen_group = !mounted("/etc/group") && !gid_in_group(in.rootfs, user.gid);
  if ((gen_passwd || gen_group) && in.run_dir.empty()) {
    return error(Code::kInternal, "container {}: no run directory for its /etc/passwd and /etc/group", spec.name);
  }
  if (gen_passwd || gen_group) CRIO_RETURN_IF_ERROR(fs::make_dirs(in.run_dir, 0700));
  if (gen_passwd) {
    std::string name = resolved.user_string.empty() ? "default" : resolved.user_string;
    std::string home = env_value(s.process.env, "HOME");
    if (home.empty()) home = "/tmp";
    std::string entry = fmt::format("{}:x:{}:{}:{} user:{}:/sbin/nologin\n", name, user.uid, resolved.passwd_gid,
                                    name, home);
    std::string copy = in.run_dir + "/passwd";
    CRIO_ASSIGN_OR_RETURN(bool written, add_id_entry(in.rootfs, "/etc/passwd", user.uid, true, true, entry, copy));
    if (written) id_file_mount(copy, "/etc/passwd");
  }
  if (gen_group) {
    std::string copy = in.run_dir + "/group";
    CRIO_ASSIGN_OR_RETURN(bool written, add_id_entry(in.rootfs, "/etc/group", user.gid, false, false,
                                                     fmt::format("{}:x:{}:\n", user.gid, user.gid), copy));
    if (written) id_file_mount(copy, "/etc/group");
  }
  auto pod_bind = [&](const std::string& source, const std::string& dest, bool readonly) {
    if (source.empty() || destinations.count(dest)) return;
    mounts.push_back(bind_mount(source, dest, readonly));
    destinations.insert(dest);
  };
  // A read-only container gets the pod's resolv.conf, hostname and .containerenv
  // read-only too, as CRI-O mounts them.
  pod_bind(pod.hosts_path, "/etc/hosts", false);
  pod_bind(pod.resolv_path, "/etc/resolv.conf", readonly);
  pod_bind(pod.hostname_path, "/etc/hostname", readonly);
  pod_bind(pod.shm_path, "/dev/shm", false);
  if (!pod.containerenv_path.empty()) {
    if (!fs::exists(pod.containerenv_path))
      CRIO_RETURN_IF_ERROR(fs::write_file_atomic(pod.containerenv_path, "", 0644));
    pod_bind(pod.containerenv_path, "/run/.containerenv", readonly);
  }
  if (defaults.read_only) {
    for (const auto& [dest, mode] :
         {std::pair<const char*, const char*>{"/run", "mode=0755"}, {"/tmp", "mode=1777"}, {"/var/tmp", "mode=1777"}}) {
      if (destinations.count(dest)) continue;
      mounts.push_back({dest, "tmpfs", "tmpfs", {"rw", "noexec", "nosuid", "nodev", "tmpcopyup", mode}});
      destinations.insert(dest);
    }
  }
  for (const auto& volume : image.volumes) {
    if (volume.empty() || volume[0] != '/' || destinations.count(volume)) continue;
    if (defaults.image_volumes == "mkdir") {
      CRIO_RETURN_IF_ERROR(make_dirs_in_root(in.rootfs, volume).wrap("container " + spec.name + ": image volume"));
    } else if (defaults.image_volumes == "bind") {
      if (in.volumes_dir.empty()) {
        return error(Code::kInternal, "container {}: image_volumes = \"bind\" and no volumes directory", spec.name);
      }
      std::string host = in.volumes_dir + volume;
      CRIO_RETURN_IF_ERROR(fs::make_dirs(host, 0755));
      mounts.push_back(bind_mount(host, volume, false));
      destinations.insert(volume);
    }
  }
  // Parents before children, whatever list each came from.
  std::stable_sort(mounts.begin(), mounts.end(), [](const Mount& a, const Mount& b) {
    return std::count(a.destination.begin(), a.destination.end(), '/') <
           std::count(b.destination.begin(), b.destination.end(), '/');
  });
  std::vector<Mount> all;
  for (const auto& m : s.mounts) {
    if (!destinations.count(m.destination)) all.push_back(m);
  }
  all.insert(all.end(), mounts.begin(), mounts.end());
  s.mounts = std::move(all);
  if (bidirectional) s.rootfs_propagation = "rshared";

  // Namespaces: the pod's pinned ones, or the host's when the pod uses the node's.
  if (!pod.netns_path.empty())
    set_namespace(s, "network", pod.netns_path);
  else
    remove_namespace(s, "network");
  if (!pod.ipcns_path.empty())
    set_namespace(s, "ipc", pod.ipcns_path);
  else
    remove_namespace(s, "ipc");
  if (!pod.utsns_path.empty())
    set_namespace(s, "uts", pod.utsns_path);
  else
    remove_namespace(s, "uts");
  if (spec.pid_mode == NamespaceMode::kNode || pod.pid == NamespaceMode::kNode) {
    remove_namespace(s, "pid");
  } else if (spec.pid_mode == NamespaceMode::kTarget && in.target_pid > 0) {
    set_namespace(s, "pid", "/proc/" + std::to_string(in.target_pid) + "/ns/pid");
  } else {
    set_namespace(s, "pid");
  }
  s.hostname.clear();

  if (spec.privileged) {
    s.seccomp.kind = Seccomp::Kind::kUnconfined;
    s.masked_paths.clear();
    s.readonly_paths.clear();
    DeviceRule all_devices;
    all_devices.allow = true;
    all_devices.type = "a";
    all_devices.access = "rwm";
    s.resources.devices = {all_devices};
    // The host's devices replace the default ones (unless the handler says
    // privileged_without_host_devices); /sys and cgroups become writable.
    if (!pod.privileged_without_host_devices) {
      std::set<std::string> host_paths;
      std::vector<Device> devices = host_devices();
      for (const auto& d : devices) host_paths.insert(d.path);
      for (const auto& d : s.devices) {
        if (!host_paths.count(d.path)) devices.push_back(d);
      }
      s.devices = std::move(devices);
    }
    for (auto& m : s.mounts) {
      if (m.destination == "/sys" || m.destination == "/sys/fs/cgroup") {
        m.options.erase(std::remove(m.options.begin(), m.options.end(), "ro"), m.options.end());
        m.options.push_back("rw");
      }
    }
  } else {
    if (spec.masked_paths_set) s.masked_paths = spec.masked_paths;
    if (spec.readonly_paths_set) s.readonly_paths = spec.readonly_paths;
    switch (spec.seccomp.kind) {
      case SeccompProfile::Kind::kUnconfined:
        s.seccomp.kind = Seccomp::Kind::kUnconfined;
        break;
      case SeccompProfile::Kind::kLocalhost:
        s.seccomp.kind = Seccomp::Kind::kLocalhost;
        s.seccomp.localhost_path = spec.seccomp.localhost_path;
        break;
      case SeccompProfile::Kind::kDefault:
        // No profile named: RuntimeDefault, as CRI-O does unless
        // seccomp_use_default_when_empty is off.
        if (!defaults.seccomp_use_default_when_empty) {
          s.seccomp.kind = Seccomp::Kind::kUnconfined;
          break;
        }
        [[fallthrough]];
      case SeccompProfile::Kind::kRuntimeDefault:
        // seccomp_profile, when set, is the profile RuntimeDefault stands for.
        if (defaults.seccomp_profile.empty()) {
          s.seccomp.kind = Seccomp::Kind::kRuntimeDefault;
        } else {
          s.seccomp.kind = Seccomp::Kind::kLocalhost;
          s.seccomp.localhost_path = defaults.seccomp_profile;
        }
        break;
    }
  }

  // Devices: additional_devices, then the pod's Devices annotation (when its handler
  // allows it; the same container path replaces), then the request's.
  for (const auto& entry : defaults.additional_devices) {
    if (entry.empty()) continue;
    CRIO_ASSIGN_OR_RETURN(auto dev, parse_device(entry, "additional_devices", nullptr));
    add_device(s, std::move(dev.first), std::move(dev.second));
  }
  if (auto it = pod.annotations.find(kDevicesAnnotation);
      it != pod.annotations.end() && annotation_allowed(pod.allowed_annotations, kDevicesAnnotation)) {
    std::istringstream entries(it->second);
    std::string entry;
    while (std::getline(entries, entry, ',')) {
      if (entry.empty()) continue;
      CRIO_ASSIGN_OR_RETURN(
          auto dev, parse_device(entry, fmt::format("container {}: annotation {}", spec.name, kDevicesAnnotation),
                                 &defaults.allowed_devices));
      add_device(s, std::move(dev.first), std::move(dev.second));
    }
  }
  CRIO_RETURN_IF_ERROR(add_requested_devices(s, spec));

  // Resources: the request's as UpdateContainerResources would set them; the device
  // rules are the spec's own.
  std::vector<DeviceRule> device_rules = std::move(s.resources.devices);
  CRIO_ASSIGN_OR_RETURN(s.resources, container_resources(spec.resources, spec.name));
  s.resources.devices = std::move(device_rules);
  // As CRI-O writes it: the request's shares even when none were asked (0, which the
  // runtimes leave unwritten).
  if (!s.resources.cpu.shares) s.resources.cpu.shares = 0;
  if (defaults.pids_limit > 0) s.resources.pids_limit = defaults.pids_limit;
  if (spec.resources.oom_score_adj) s.process.oom_score_adj = static_cast<int>(*spec.resources.oom_score_adj);
  s.cgroups_path = defaults.cgroup_driver.cgroups_path(pod.cgroup_parent, in.id);

  for (const auto& [k, v] : pod.sysctls) s.sysctl[k] = v;
  if (auto it = pod.annotations.find(kUmaskAnnotation); it != pod.annotations.end() && !it->second.empty() &&
                                                        annotation_allowed(pod.allowed_annotations, kUmaskAnnotation)) {
    const std::string& v = it->second;
    if (v.size() > 4 || v.find_first_not_of("01234567") != std::string::npos) {
      return error(Code::kInvalidArgument, "container {}: annotation {}=\"{}\" is not an octal umask", spec.name,
                   kUmaskAnnotation, v);
    }
    s.process.user.umask = static_cast<uint32_t>(std::stoul(v, nullptr, 8));
  }
  // Annotations as CRI-O writes them: the pod's (but the runtime-handler-gated ones
  // it does not allow), CRI-O's own, then the container's annotations and labels.
  s.annotations.clear();
  for (const auto& [k, v] : pod.annotations) {
    bool gated = k.rfind("io.kubernetes.cri-o.", 0) == 0 || k.rfind("io.containers.trace-syscall", 0) == 0;
    if (!gated || annotation_allowed(pod.allowed_annotations, k)) s.annotations[k] = v;
  }
  s.annotations["io.kubernetes.cri-o.ContainerID"] = in.id;
  s.annotations["io.kubernetes.cri-o.SandboxID"] = pod.id;
  s.annotations["io.kubernetes.cri-o.ContainerType"] = "container";
  s.annotations["io.kubernetes.cri-o.Image"] = spec.image;
  s.annotations["io.kubernetes.cri-o.MountPoint"] = in.rootfs;
  s.annotations["io.kubernetes.cri-o.ResolvPath"] = pod.resolv_path;
  s.annotations["io.kubernetes.cri-o.TTY"] = spec.tty ? "true" : "false";
  s.annotations["io.kubernetes.cri-o.Stdin"] = spec.stdin_open ? "true" : "false";
  s.annotations["io.kubernetes.cri-o.StdinOnce"] = spec.stdin_once ? "true" : "false";
  s.annotations["io.kubernetes.cri-o.Metadata"] = nlohmann::json{{"name", spec.name}, {"attempt", spec.attempt}}.dump();
  s.annotations["io.kubernetes.cri-o.Labels"] = nlohmann::json(spec.labels).dump();
  s.annotations["io.kubernetes.cri-o.Annotations"] = nlohmann::json(spec.annotations).dump();
  if (!image.stop_signal.empty()) s.annotations["org.opencontainers.image.stopSignal"] = image.stop_signal;
  for (const auto& [k, v] : spec.annotations) s.annotations[k] = v;
  for (const auto& [k, v] : spec.labels) s.annotations[k] = v;
  s.annotations["io.kubernetes.container.name"] = spec.name;
  s.annotations["io.kubernetes.pod.name"] = pod.name;
  s.annotations["io.kubernetes.pod.namespace"] = pod.pod_namespace;
  for (const auto& entry : defaults.ulimits) {
    CRIO_ASSIGN_OR_RETURN(Rlimit r, parse_ulimit(entry));
    auto& rl = s.process.rlimits;
    rl.erase(std::remove_if(rl.begin(), rl.end(), [&](const Rlimit& x) { return x.type == r.type; }), rl.end());
    rl.push_back(std::move(r));
  }

  HookTarget target;
  target.annotations = &s.annotations;
  target.argv0 = s.process.args.empty() ? std::string() : s.process.args[0];
  target.has_bind_mounts = !spec.mounts.empty();
  if (hooks) hooks->apply(target, s.hooks);

  HostLimits limits = host_limits();
  clamp_to_host(s, limits);
  return s;
}

}  // namespace crio::oci
