// The container spec builder through its one entry point, linking crio::oci alone: no
// daemon, root, runtime or registry. A Kubernetes container's spec from a request, a
// pod context, image defaults and configured defaults, and the helpers beneath it.

#include <crio/oci/container_spec.hpp>
#include <crio/core/config.hpp>
#include <crio/oci/hooks.hpp>

#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <filesystem>

using crio::Code;
using crio::Result;
using namespace crio::oci;
namespace stdfs = std::filesystem;

namespace {

bool has_env(const Spec& s, const std::string& entry) {
  return std::find(s.process.env.begin(), s.process.env.end(), entry) != s.process.env.end();
}

const Mount* mount_at(const Spec& s, const std::string& destination) {
  for (const auto& m : s.mounts) {
    if (m.destination == destination) return &m;
  }
  return nullptr;
}

const Namespace* namespace_of(const Spec& s, const std::string& type) {
  for (const auto& n : s.namespaces) {
    if (n.type == type) return &n;
  }
  return nullptr;
}

// A pod's files and a rootfs with users, in a temp dir.
struct Fixture {
  crio::test::TempDir dir{"crio-spec"};
  PodContext pod;
  ImageDefaults image;
  SpecDefaults defaults;
  ContainerRequest request;
  SpecTarget target;

  Fixture() {
    crio::test::write_file(dir / "rootfs/etc/passwd",
                           "root:x:0:0:root:/root:/bin/sh\nweb:x:1000:1000:web:/srv/web:/bin/sh\n");
    crio::test::write_file(dir / "rootfs/etc/group", "root:x:0:\nweb:x:1000:\nlogs:x:4:web\n");
    for (const char* f : {"hosts", "resolv.conf", "hostname"})
      crio::test::write_file(dir / (std::string("pod/") + f), "");
    stdfs::create_directories(dir / "pod/shm");
    pod.id = "pod0123";
    pod.name = "web-0";
    pod.pod_namespace = "default";
    pod.hostname = "web-0";
    pod.netns_path = "/var/run/netns/test-web-0";
    pod.ipcns_path = "/var/run/ipcns/test-web-0";
    pod.utsns_path = "/var/run/utsns/test-web-0";
    pod.hosts_path = dir / "pod/hosts";
    pod.resolv_path = dir / "pod/resolv.conf";
    pod.hostname_path = dir / "pod/hostname";
    pod.shm_path = dir / "pod/shm";
    pod.cgroup_parent = "/kubepods/besteffort/pod0123";
    image.user = "web";
    image.env = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8"};
    image.entrypoint = {"/usr/bin/server"};
    image.cmd = {"--port=80"};
    image.working_dir = "/srv";
    defaults.capabilities = {"CHOWN", "KILL", "NET_BIND_SERVICE"};
    defaults.env = {"NODE=1"};
    defaults.pids_limit = 1024;
    request.name = "web";
    request.image = "example.com/web:1";
    request.envs = {{"MODE", "prod"}};
    request.annotations = {{"example.com/owner", "team-a"}};
    request.seccomp.kind = SeccompProfile::Kind::kRuntimeDefault;
    target.id = "c0ffee";
    target.rootfs = dir / "rootfs";
    target.run_dir = dir / "run";
  }
  Result<Spec> build(const HookSet* hooks = nullptr) {
    return build_container_spec(request, pod, image, defaults, target, hooks);
  }
};

}  // namespace

TEST_CASE("A Kubernetes container's spec from the request, the pod, the image and the defaults", "[spec]") {
  Fixture f;
  f.request.resources.memory_limit = 64 << 20;
  f.request.resources.cpu_shares = 512;
  f.request.resources.cpu_quota = 50000;
  f.request.resources.cpu_period = 100000;
  f.request.resources.oom_score_adj = 500;
  f.request.add_capabilities = {"SYS_TIME"};
  f.request.drop_capabilities = {"KILL"};
  f.request.mounts.push_back({"/data", f.dir / "volumes/data", true, 0});
  crio::test::write_file(f.dir / "hooks.d/trace.json",
                         R"({"version": "1.0.0", "hook": {"path": "/bin/sh"},
                             "when": {"annotations": {"^example\\.com/owner$": "^team-a$"}}, "stages": ["prestart"]})");
  HookSet hooks({f.dir / "hooks.d"});

  auto built = f.build(&hooks);
  INFO(built.status().message());
  REQUIRE(built.ok());
  const Spec& s = *built;

  CHECK(s.process.args == std::vector<std::string>{"/usr/bin/server", "--port=80"});
  CHECK(s.process.cwd == "/srv");
  CHECK(s.process.user.uid == 1000);
  CHECK(s.process.user.gid == 1000);
  CHECK(s.process.user.additional_gids == std::vector<uint32_t>{4, 1000});
  CHECK(has_env(s, "PATH=/usr/bin:/bin"));
  CHECK(has_env(s, "LANG=C.UTF-8"));
  CHECK(has_env(s, "NODE=1"));
  CHECK(has_env(s, "MODE=prod"));
  CHECK(has_env(s, "HOSTNAME=web-0"));
  CHECK(has_env(s, "HOME=/srv/web"));
  const auto& caps = s.process.capabilities.effective;
  CHECK(std::count(caps.begin(), caps.end(), "CAP_CHOWN") == 1);
  CHECK(std::count(caps.begin(), caps.end(), "CAP_KILL") == 0);
  CHECK(std::count(caps.begin(), caps.end(), "CAP_NET_BIND_SERVICE") == 1);

  // The request's volume (created on the host), then the pod's files.
  CHECK(stdfs::is_directory(f.dir / "volumes/data"));
  REQUIRE(mount_at(s, "/data"));
  CHECK(std::count(mount_at(s, "/data")->options.begin(), mount_at(s, "/data")->options.end(), "ro") == 1);
  REQUIRE(mount_at(s, "/etc/hosts"));
  CHECK(mount_at(s, "/etc/hosts")->source == f.pod.hosts_path);
  REQUIRE(mount_at(s, "/etc/resolv.conf"));
  REQUIRE(mount_at(s, "/etc/hostname"));
  REQUIRE(mount_at(s, "/dev/shm"));
  CHECK(mount_at(s, "/dev/shm")->source == f.pod.shm_path);

  REQUIRE(namespace_of(s, "network"));
  CHECK(namespace_of(s, "network")->path == f.pod.netns_path);
  CHECK(namespace_of(s, "ipc")->path == f.pod.ipcns_path);
  CHECK(namespace_of(s, "uts")->path == f.pod.utsns_path);
  REQUIRE(namespace_of(s, "pid"));
  CHECK(namespace_of(s, "pid")->path.empty());
  CHECK(namespace_of(s, "mount"));

  CHECK(s.cgroups_path == "/kubepods/besteffort/pod0123/crio-c0ffee");
  CHECK(s.resources.memory.limit == 64 << 20);
  if (host_cgroups().memory_swap) CHECK(s.resources.memory.swap == 64 << 20);
  CHECK(s.resources.cpu.shares == 512u);
  CHECK(s.resources.cpu.quota == 50000);
  CHECK(s.resources.cpu.period == 100000u);
  CHECK(s.resources.pids_limit == 1024);
  CHECK_FALSE(s.resources.devices.empty());  // the default allow-list stays
  CHECK(s.seccomp.kind == Seccomp::Kind::kRuntimeDefault);

  CHECK(s.annotations.at("example.com/owner") == "team-a");
  CHECK(s.annotations.at("io.kubernetes.cri-o.ContainerType") == "container");
  CHECK(s.annotations.at("io.kubernetes.cri-o.Image") == "example.com/web:1");
  CHECK(s.annotations.at("io.kubernetes.cri-o.ContainerID") == "c0ffee");
  CHECK(s.annotations.at("io.kubernetes.cri-o.SandboxID") == "pod0123");
  CHECK(s.annotations.at("io.kubernetes.container.name") == "web");
  CHECK(s.annotations.at("io.kubernetes.pod.name") == "web-0");
  CHECK(s.annotations.at("io.kubernetes.pod.namespace") == "default");
  REQUIRE(s.hooks.prestart.size() == 1);
  CHECK(s.hooks.prestart[0].path == "/bin/sh");

  auto json = spec_to_json(s);
  INFO(json.status().message());
  REQUIRE(json.ok());
  auto j = nlohmann::json::parse(*json);
  CHECK(j["root"]["path"] == f.target.rootfs);
  CHECK(j["linux"]["resources"]["memory"]["limit"] == 64 << 20);
}

TEST_CASE("The spec builder refuses what cannot run, naming the container", "[spec]") {
  Fixture f;
  SECTION("nothing to run") {
    f.image.entrypoint.clear();
    f.image.cmd.clear();
    auto s = f.build();
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().code() == Code::kInvalidArgument);
    CHECK_THAT(s.status().message(), Catch::Contains("web"));
  }
  SECTION("a relative working directory") {
    f.request.working_dir = "srv";
    CHECK(f.build().status().code() == Code::kInvalidArgument);
  }
  SECTION("a user the image does not have") {
    f.image.user = "ghost";
    CHECK_THAT(f.build().status().message(), Catch::Contains("ghost"));
  }
  SECTION("an unknown capability") {
    f.request.add_capabilities = {"NOT_A_CAP"};
    CHECK_THAT(f.build().status().message(), Catch::Contains("NOT_A_CAP"));
  }
  SECTION("a mount source that may not be created") {
    std::string absent = f.dir / "absent";
    f.defaults.absent_mount_sources_to_reject = {absent};
    f.request.mounts.push_back({"/data", absent, false, 0});
    auto s = f.build();
    CHECK(s.status().code() == Code::kInvalidArgument);
    CHECK_THAT(s.status().message(), Catch::Contains(absent));
    CHECK_FALSE(stdfs::exists(absent));
  }
  SECTION("a swap limit below the memory limit") {
    f.request.resources.memory_limit = 64 << 20;
    f.request.resources.memory_swap_limit = 32 << 20;
    CHECK_THAT(f.build().status().message(), Catch::Contains("memory_swap_limit_in_bytes"));
  }
}

namespace {

const Device* device_at(const Spec& s, const std::string& path) {
  for (const auto& d : s.devices) {
    if (d.path == path) return &d;
  }
  return nullptr;
}

bool has_rule(const Spec& s, int64_t major, int64_t minor, const std::string& access) {
  return std::any_of(s.resources.devices.begin(), s.resources.devices.end(), [&](const DeviceRule& r) {
    return r.allow && r.major == major && r.minor == minor && r.access == access;
  });
}

}  // namespace

TEST_CASE("Devices: the request's, additional_devices and the pod's annotation when its handler allows it",
          "[spec][devices]") {
  Fixture f;
  SECTION("a CRI device gets its node and its cgroup rule; a missing one is refused by name") {
    f.request.devices = {{"/dev/mynull", "/dev/null", "rw"}};
    auto s = f.build();
    REQUIRE(s.ok());
    REQUIRE(device_at(*s, "/dev/mynull"));
    CHECK(device_at(*s, "/dev/mynull")->type == "c");
    CHECK(device_at(*s, "/dev/mynull")->major == 1);
    CHECK(device_at(*s, "/dev/mynull")->minor == 3);
    CHECK(has_rule(*s, 1, 3, "rw"));
    f.request.devices = {{"/dev/gone", "/dev/crio-test-no-such-device", "rwm"}};
    auto missing = f.build();
    CHECK(missing.status().code() == Code::kInvalidArgument);
    CHECK_THAT(missing.status().message(), Catch::Contains("/dev/crio-test-no-such-device"));
    f.request.devices = {{"/dev/x", "/dev/null", "rwx"}};
    CHECK(f.build().status().code() == Code::kInvalidArgument);
  }
  SECTION("additional_devices: src:dst:mode, dst:mode or src alone") {
    f.defaults.additional_devices = {"/dev/null:/dev/qifoo:rwm", "/dev/zero:w", "/dev/full"};
    auto s = f.build();
    REQUIRE(s.ok());
    CHECK(device_at(*s, "/dev/qifoo"));
    CHECK(has_rule(*s, 1, 5, "w"));
    CHECK(device_at(*s, "/dev/full"));
    f.defaults.additional_devices = {"/dev/null:/etc/qifoo"};
    CHECK_THAT(f.build().status().message(), Catch::Contains("not under /dev"));
  }
  SECTION("the Devices annotation acts only when the handler allows it, and only on allowed_devices") {
    f.pod.annotations[kDevicesAnnotation] = "/dev/null:/dev/qifoo:rwm,/dev/zero:/dev/peterfoo:r";
    f.defaults.allowed_devices = {"/dev/null", "/dev/zero"};
    auto ignored = f.build();
    REQUIRE(ignored.ok());
    CHECK_FALSE(device_at(*ignored, "/dev/qifoo"));
    f.pod.allowed_annotations = {kDevicesAnnotation};
    f.defaults.additional_devices = {"/dev/zero:/dev/qifoo:rwm"};
    auto s = f.build();
    REQUIRE(s.ok());
    REQUIRE(device_at(*s, "/dev/qifoo"));
    CHECK(device_at(*s, "/dev/qifoo")->minor == 3);  // the annotation's /dev/null wins over additional_devices
    CHECK(device_at(*s, "/dev/peterfoo"));
    f.defaults.allowed_devices = {"/dev/fuse"};
    auto refused = f.build();
    CHECK(refused.status().code() == Code::kInvalidArgument);
    CHECK_THAT(refused.status().message(), Catch::Contains("allowed_devices") && Catch::Contains("/dev/null"));
  }
  SECTION("privileged_without_host_devices keeps the host's devices out of a privileged container") {
    f.request.privileged = true;
    auto with_host = f.build();
    REQUIRE(with_host.ok());
    CHECK(device_at(*with_host, "/dev/null"));
    f.pod.privileged_without_host_devices = true;
    auto without = f.build();
    REQUIRE(without.ok());
    CHECK_FALSE(device_at(*without, "/dev/null"));
  }
}

TEST_CASE("Spec behaviours CRI-O has: seccomp default, env, umask, read-only files and mounts", "[spec]") {
  Fixture f;
  SECTION("no profile named is RuntimeDefault unless seccomp_use_default_when_empty is off") {
    f.request.seccomp.kind = SeccompProfile::Kind::kDefault;
    CHECK(f.build()->seccomp.kind == Seccomp::Kind::kRuntimeDefault);
    f.defaults.seccomp_use_default_when_empty = false;
    CHECK(f.build()->seccomp.kind == Seccomp::Kind::kUnconfined);
  }
  SECTION("the pod's annotations reach the spec, but the gated ones its handler does not allow") {
    f.pod.annotations = {{"com.example.test", "sandbox annotation"}, {"io.kubernetes.cri-o.umask", "077"}};
    f.request.labels = {{"app", "web"}};
    auto s = f.build();
    REQUIRE(s.ok());
    CHECK(s->annotations.at("com.example.test") == "sandbox annotation");
    CHECK(s->annotations.at("app") == "web");
    CHECK_FALSE(s->annotations.count("io.kubernetes.cri-o.umask"));
  }
  SECTION("an environment value with a newline is refused") {
    f.request.envs = {{"GOOD", "x"}, {"BAD", "a\nb"}};
    auto s = f.build();
    CHECK(s.status().code() == Code::kInvalidArgument);
    CHECK_THAT(s.status().message(), Catch::Contains("BAD") && Catch::Contains("newline"));
  }
  SECTION("the umask annotation acts when the handler allows it") {
    f.pod.annotations[kUmaskAnnotation] = "077";
    CHECK_FALSE(f.build()->process.user.umask);
    f.pod.allowed_annotations = {"io.kubernetes.cri-o.umask"};
    CHECK(f.build()->process.user.umask == 077u);
    f.pod.annotations[kUmaskAnnotation] = "9";
    CHECK(f.build().status().code() == Code::kInvalidArgument);
  }
  SECTION("readonly_rootfs makes resolv.conf, hostname and .containerenv read-only") {
    f.pod.containerenv_path = f.dir / "pod/containerenv";
    f.request.readonly_rootfs = true;
    auto s = f.build();
    REQUIRE(s.ok());
    CHECK(s->root_readonly);
    for (const char* dest : {"/etc/resolv.conf", "/etc/hostname", "/run/.containerenv"}) {
      INFO(dest);
      REQUIRE(mount_at(*s, dest));
      CHECK(std::count(mount_at(*s, dest)->options.begin(), mount_at(*s, dest)->options.end(), "ro") == 1);
    }
    CHECK(stdfs::exists(f.pod.containerenv_path));
  }
  SECTION("read_only: every rootfs read-only with tmpfs on /run, /tmp and /var/tmp") {
    f.defaults.read_only = true;
    f.request.mounts.push_back({"/tmp", f.dir / "mytmp", false, 0});
    auto s = f.build();
    REQUIRE(s.ok());
    CHECK(s->root_readonly);
    REQUIRE(mount_at(*s, "/run"));
    CHECK(mount_at(*s, "/run")->type == "tmpfs");
    CHECK(mount_at(*s, "/var/tmp")->type == "tmpfs");
    CHECK(mount_at(*s, "/tmp")->source == f.dir / "mytmp");  // the request's mount wins
  }
  SECTION("default_mounts_file, bind_mount_prefix, parents mounted before children") {
    crio::test::write_file(f.dir / "secrets/a.txt", "x");
    crio::test::write_file(f.dir / "mounts.conf", "# secrets\n" + (f.dir / "secrets") + ":/run/secrets\n");
    f.defaults.default_mounts_file = f.dir / "mounts.conf";
    f.defaults.bind_mount_prefix = f.dir / "prefix";
    f.request.mounts.push_back({"/run/secrets/clash", "/clash", false, 0});
    auto s = f.build();
    REQUIRE(s.ok());
    REQUIRE(mount_at(*s, "/run/secrets"));
    CHECK(mount_at(*s, "/run/secrets")->source == f.dir / "run/run/secrets");
    REQUIRE(mount_at(*s, "/run/secrets/clash"));
    CHECK(mount_at(*s, "/run/secrets/clash")->source == f.dir / "prefix/clash");
    CHECK(stdfs::is_directory(f.dir / "prefix/clash"));
    CHECK(mount_at(*s, "/run/secrets") < mount_at(*s, "/run/secrets/clash"));
    crio::test::write_file(f.dir / "mounts.conf", "relative:/x\n");
    CHECK_THAT(f.build().status().message(), Catch::Contains("mounts.conf:1"));
    crio::test::write_file(f.dir / "mounts.conf", f.dir / "secrets:/run/../../escape\n");
    CHECK_THAT(f.build().status().message(), Catch::Contains("mounts.conf:1"));
    f.defaults.default_mounts_file = f.dir / "absent.conf";
    CHECK(f.build().ok());
  }
  SECTION("image volumes: mkdir in the rootfs, bind from the volumes directory, or ignore") {
    f.image.volumes = {"/data/cache"};
    REQUIRE(f.build().ok());
    CHECK(stdfs::is_directory(f.dir / "rootfs/data/cache"));
    f.defaults.image_volumes = "bind";
    f.target.volumes_dir = f.dir / "volumes";
    auto s = f.build();
    REQUIRE(s.ok());
    REQUIRE(mount_at(*s, "/data/cache"));
    CHECK(mount_at(*s, "/data/cache")->source == f.dir / "volumes/data/cache");
    f.defaults.image_volumes = "ignore";
    CHECK_FALSE(mount_at(*f.build(), "/data/cache"));
  }
}

TEST_CASE("default_mounts_file sources are copied into the run directory, symlinks followed", "[spec]") {
  Fixture f;
  crio::test::write_file(f.dir / "host/secrets/test.txt", "mounted");
  crio::test::write_file(f.dir / "host/secrets/sub/key", "k");
  crio::test::write_file(f.dir / "host/target/key.pem", "pem");
  crio::test::write_file(f.dir / "host/file.conf", "conf");
  REQUIRE(::chmod((f.dir / "host/secrets/sub/key").c_str(), 0600) == 0);
  REQUIRE(::chmod((f.dir / "host/secrets/sub").c_str(), 0750) == 0);
  REQUIRE(::chmod((f.dir / "host/file.conf").c_str(), 0640) == 0);
  stdfs::create_symlink(f.dir / "host/target", f.dir / "host/secrets/mysymlink");
  stdfs::create_symlink(f.dir / "host/nowhere", f.dir / "host/secrets/dangling");
  crio::test::write_file(f.dir / "mounts.conf",
                         f.dir / "host/secrets:/run/secrets\n" + f.dir / "host/file.conf:/etc/app/file.conf\n");
  f.defaults.default_mounts_file = f.dir / "mounts.conf";
  auto s = f.build();
  INFO(s.status().message());
  REQUIRE(s.ok());
  const std::string copy = f.dir / "run/run/secrets";
  REQUIRE(mount_at(*s, "/run/secrets"));
  CHECK(mount_at(*s, "/run/secrets")->source == copy);
  CHECK(std::count(mount_at(*s, "/run/secrets")->options.begin(), mount_at(*s, "/run/secrets")->options.end(),
                   "ro") == 0);
  CHECK(crio::test::read_file(copy + "/test.txt") == "mounted");
  CHECK_FALSE(stdfs::is_symlink(copy + "/mysymlink"));
  CHECK(crio::test::read_file(copy + "/mysymlink/key.pem") == "pem");
  CHECK_FALSE(stdfs::exists(stdfs::symlink_status(copy + "/dangling")));
  CHECK((stdfs::status(copy + "/sub/key").permissions() & stdfs::perms::mask) == stdfs::perms(0600));
  CHECK((stdfs::status(copy + "/sub").permissions() & stdfs::perms::mask) == stdfs::perms(0750));
  REQUIRE(mount_at(*s, "/etc/app/file.conf"));
  CHECK(mount_at(*s, "/etc/app/file.conf")->source == f.dir / "run/etc/app/file.conf");
  CHECK(crio::test::read_file(f.dir / "run/etc/app/file.conf") == "conf");
  CHECK((stdfs::status(f.dir / "run/etc/app/file.conf").permissions() & stdfs::perms::mask) == stdfs::perms(0640));

  // The copy is the container's: a later change on the host does not reach it, and a
  // second build (a restart) keeps it.
  crio::test::write_file(f.dir / "host/secrets/test.txt", "changed");
  REQUIRE(f.build().ok());
  CHECK(crio::test::read_file(copy + "/test.txt") == "mounted");

  f.target.run_dir.clear();
  CHECK(f.build().status().code() == Code::kInternal);
}

TEST_CASE("A uid or gid the image lacks gets an entry in a copy of its /etc/passwd or /etc/group", "[spec]") {
  Fixture f;
  REQUIRE(::chmod((f.dir / "rootfs/etc/group").c_str(), 0644) == 0);
  f.request.run_as_user = 1001;
  f.request.run_as_group = 1002;
  auto s = f.build();
  INFO(s.status().message());
  REQUIRE(s.ok());
  CHECK(s->process.user.uid == 1001u);
  CHECK(s->process.user.gid == 1002u);
  CHECK(s->process.user.additional_gids == std::vector<uint32_t>{1002});
  REQUIRE(mount_at(*s, "/etc/passwd"));
  CHECK(mount_at(*s, "/etc/passwd")->source == f.dir / "run/passwd");
  CHECK(mount_at(*s, "/etc/passwd")->options == std::vector<std::string>{"rw", "bind", "nodev", "nosuid", "noexec"});
  CHECK(
      crio::test::read_file(f.dir / "run/passwd") ==
      "root:x:0:0:root:/root:/bin/sh\nweb:x:1000:1000:web:/srv/web:/bin/sh\n1001:x:1001:0:1001 user:/:/sbin/nologin\n");
  REQUIRE(mount_at(*s, "/etc/group"));
  CHECK(crio::test::read_file(f.dir / "run/group") == "root:x:0:\nweb:x:1000:\nlogs:x:4:web\n1002:x:1002:\n");
  CHECK((stdfs::status(f.dir / "run/group").permissions() & stdfs::perms::mask) == stdfs::perms(0644));
  // The image's own files are untouched.
  CHECK(crio::test::read_file(f.dir / "rootfs/etc/group") == "root:x:0:\nweb:x:1000:\nlogs:x:4:web\n");

  SECTION("known ids need no copies") {
    f.request.run_as_user = 1000;
    f.request.run_as_group = 4;
    auto known = f.build();
    REQUIRE(known.ok());
    CHECK_FALSE(mount_at(*known, "/etc/passwd"));
    CHECK_FALSE(mount_at(*known, "/etc/group"));
    CHECK(known->process.user.additional_gids == std::vector<uint32_t>{4});
  }
  SECTION("a request mounting the file, or /etc, keeps its own") {
    f.request.mounts.push_back({"/etc/group", f.dir / "mygroup", false, 0});
    auto own = f.build();
    REQUIRE(own.ok());
    CHECK(mount_at(*own, "/etc/group")->source == f.dir / "mygroup");
    CHECK(mount_at(*own, "/etc/passwd"));
    f.request.mounts = {{"/etc", f.dir / "myetc", false, 0}};
    own = f.build();
    REQUIRE(own.ok());
    CHECK(mount_at(*own, "/etc")->source == f.dir / "myetc");
    CHECK_FALSE(mount_at(*own, "/etc/passwd"));
    CHECK_FALSE(mount_at(*own, "/etc/group"));
  }
  SECTION("a file the container's user may write itself is left alone") {
    REQUIRE(::chmod((f.dir / "rootfs/etc/group").c_str(), 0666) == 0);
    auto writable = f.build();
    REQUIRE(writable.ok());
    CHECK_FALSE(mount_at(*writable, "/etc/group"));
    CHECK(mount_at(*writable, "/etc/passwd"));
  }
  SECTION("an image without the files gets none") {
    stdfs::remove(f.dir / "rootfs/etc/passwd");
    stdfs::remove(f.dir / "rootfs/etc/group");
    auto none = f.build();
    REQUIRE(none.ok());
    CHECK_FALSE(mount_at(*none, "/etc/passwd"));
    CHECK_FALSE(mount_at(*none, "/etc/group"));
  }
}

TEST_CASE("The spec carries cpu shares 0 when the request asks none, as CRI-O writes it", "[spec]") {
  Fixture f;
  auto s = f.build();
  REQUIRE(s.ok());
  REQUIRE(s->resources.cpu.shares);
  CHECK(*s->resources.cpu.shares == 0u);
  CHECK(s->resources.cpu.cpus.empty());
  f.request.resources.cpu_shares = 512;
  CHECK(*f.build()->resources.cpu.shares == 512u);
}

TEST_CASE("Resources map one way for create and update", "[spec]") {
  HostCgroups v1{.v2 = false, .memory_swap = true};
  ResourceRequest r;
  r.memory_limit = 100 << 20;
  auto m = container_resources(r, "c", v1);
  REQUIRE(m.ok());
  CHECK(m->memory.limit == 100 << 20);
  CHECK(m->memory.swap == 100 << 20);  // no swap beyond the limit unless asked
  r.memory_swap_limit = 200 << 20;
  CHECK(container_resources(r, "c", v1)->memory.swap == 200 << 20);
  r.memory_swap_limit = -1;
  CHECK(container_resources(r, "c", v1)->memory.swap == -1);
  r.memory_swap_limit = 50 << 20;
  CHECK(container_resources(r, "c", v1).status().code() == Code::kInvalidArgument);
  r.memory_swap_limit = 0;
  CHECK_FALSE(container_resources(r, "c", HostCgroups{.v2 = false, .memory_swap = false})->memory.swap);

  r.unified = {{"memory.high", "50000000"}};
  auto refused = container_resources(r, "c", v1);
  CHECK(refused.status().code() == Code::kInvalidArgument);
  CHECK_THAT(refused.status().message(), Catch::Contains("memory.high") && Catch::Contains("cgroup v2"));
  auto v2 = container_resources(r, "c", HostCgroups{.v2 = true, .memory_swap = true});
  REQUIRE(v2.ok());
  CHECK(v2->unified.at("memory.high") == "50000000");

  ResourceRequest cpu;
  cpu.cpu_shares = 2;
  cpu.cpuset_cpus = "0";
  cpu.hugepages = {{"2MB", 4 << 20}};
  auto c = container_resources(cpu, "c", v1);
  CHECK(c->cpu.shares == 2u);
  CHECK_FALSE(c->cpu.quota);
  CHECK(c->cpu.cpus == "0");
  CHECK(c->hugepages.size() == 1);
  CHECK_FALSE(c->memory.limit);
}

TEST_CASE("Spec helpers: argv, signals and users from the image", "[spec]") {
  ImageDefaults image;
  image.entrypoint = {"/entry"};
  image.cmd = {"default"};
  ContainerRequest spec;
  spec.name = "c";
  CHECK(container_argv(spec, image).value() == std::vector<std::string>{"/entry", "default"});
  spec.args = {"a"};
  CHECK(container_argv(spec, image).value() == std::vector<std::string>{"/entry", "a"});
  spec.command = {"/cmd"};
  CHECK(container_argv(spec, image).value() == std::vector<std::string>{"/cmd", "a"});
  spec.args.clear();
  CHECK(container_argv(spec, image).value() == std::vector<std::string>{"/cmd"});
  CHECK(container_argv(ContainerRequest{}, ImageDefaults{}).status().code() == crio::Code::kInvalidArgument);

  CHECK(parse_signal("SIGINT").value() == SIGINT);
  CHECK(parse_signal("KILL").value() == SIGKILL);
  CHECK(parse_signal("15").value() == SIGTERM);
  CHECK(parse_signal("").value() == SIGTERM);
  CHECK(parse_signal("SIGNOPE").status().code() == crio::Code::kInvalidArgument);

  crio::test::TempDir root("crio-rootfs");
  crio::test::write_file(root / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1001:1002:app:/home/app:/bin/sh\n");
  crio::test::write_file(root / "etc/group", "root:x:0:\nstaff:x:50:\nextra:x:60:app,other\n");
  std::string home;
  ContainerRequest by_image;
  by_image.name = "c";
  ImageDefaults user_image;
  user_image.user = "app:staff";
  auto user = resolve_user(root.path(), by_image, user_image, &home);
  REQUIRE(user.ok());
  CHECK(user->uid == 1001);
  CHECK(user->gid == 50);
  CHECK(user->additional_gids == std::vector<uint32_t>{50, 60});  // the primary group stays
  CHECK(home == "/home/app");
  user_image.user = "1001";
  CHECK(resolve_user(root.path(), by_image, user_image, &home)->gid == 1002);
  user_image.user = "4242:7";
  user = resolve_user(root.path(), by_image, user_image, &home);
  CHECK(user->uid == 4242);
  CHECK(user->gid == 7);
  CHECK(home == "/");
  user_image.user = "ghost";
  CHECK(resolve_user(root.path(), by_image, user_image, &home).status().code() == crio::Code::kInvalidArgument);
  user_image.user = "app:nogroup";
  CHECK(resolve_user(root.path(), by_image, user_image, &home).status().code() == crio::Code::kInvalidArgument);
  ContainerRequest by_request;
  by_request.run_as_user = 0;
  by_request.run_as_group = 9;
  by_request.supplemental_groups = {77};
  user = resolve_user(root.path(), by_request, user_image, &home);
  CHECK(user->uid == 0);
  CHECK(user->gid == 9);
  CHECK(user->additional_gids == std::vector<uint32_t>{9, 77});

  // supplemental_groups_policy: Merge (the default) adds the groups /etc/group gives
  // the user; Strict keeps only what the request names.
  ContainerRequest merged;
  merged.run_as_username = "app";
  merged.supplemental_groups = {77};
  CHECK(resolve_user(root.path(), merged, ImageDefaults{}, &home)->additional_gids ==
        std::vector<uint32_t>{60, 77, 1002});
  ContainerRequest strict = merged;
  strict.supplemental_groups_strict = true;
  CHECK(resolve_user(root.path(), strict, ImageDefaults{}, &home)->additional_gids ==
        std::vector<uint32_t>{77, 1002});

  // /etc/passwd as a symlink to a host file is read inside the rootfs, not on the host.
  crio::test::TempDir evil("crio-rootfs");
  stdfs::create_directories(evil / "etc");
  stdfs::create_symlink("/etc/passwd", evil / "etc/passwd");
  ContainerRequest as_name;
  as_name.run_as_username = "root";
  auto resolved = resolve_user(evil.path(), as_name, ImageDefaults{}, &home);
  // The link resolves to <rootfs>/etc/passwd, itself: a loop, or absent, never the host's root entry.
  CHECK_FALSE(resolved.ok());
}

TEST_CASE("seccomp_use_default_when_empty = false runs a container that names no profile unconfined", "[spec]") {
  Fixture f;
  crio::core::Config config = crio::core::default_config();
  CHECK(crio::oci::spec_defaults(config).seccomp_use_default_when_empty);
  config.seccomp_use_default_when_empty = false;
  f.defaults = crio::oci::spec_defaults(config);
  f.request.seccomp.kind = SeccompProfile::Kind::kDefault;
  CHECK(f.build()->seccomp.kind == Seccomp::Kind::kUnconfined);
  // A profile the request names is still applied.
  f.request.seccomp.kind = SeccompProfile::Kind::kRuntimeDefault;
  CHECK(f.build()->seccomp.kind == Seccomp::Kind::kRuntimeDefault);
}

TEST_CASE("add_inheritable_capabilities makes the capabilities inheritable too", "[spec]") {
  Fixture f;
  crio::core::Config config = crio::core::default_config();
  f.defaults = crio::oci::spec_defaults(config);
  CHECK(f.build()->process.capabilities.inheritable.empty());
  config.add_inheritable_capabilities = true;
  f.defaults = crio::oci::spec_defaults(config);
  auto s = f.build();
  REQUIRE(s.ok());
  CHECK_FALSE(s->process.capabilities.inheritable.empty());
  CHECK(s->process.capabilities.inheritable == s->process.capabilities.bounding);
}
