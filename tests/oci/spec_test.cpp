// The OCI spec builder: what lands in config.json, and what is refused.

#include <crio/oci/spec.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "temp_dir.hpp"

#include <sys/stat.h>

#include <cerrno>

using crio::Code;
using nlohmann::json;
namespace oci = crio::oci;

namespace {

json to_json(const oci::Spec& s) {
  auto text = oci::spec_to_json(s);
  REQUIRE(text.ok());
  return json::parse(*text);
}

bool has_name(const json& profile, const std::string& action, const std::string& name) {
  for (const auto& rule : profile["syscalls"]) {
    if (rule["action"] != action || rule.contains("args")) continue;
    for (const auto& n : rule["names"]) {
      if (n == name) return true;
    }
  }
  return false;
}

}  // namespace

TEST_CASE("default spec carries CRI-O's defaults", "[oci][spec]") {
  json j = to_json(oci::default_spec({"/bin/sh"}));
  CHECK(j["ociVersion"] == "1.0.2-dev");
  CHECK(j["process"]["args"] == json::array({"/bin/sh"}));
  CHECK(j["process"]["noNewPrivileges"] == true);
  CHECK(j["process"]["capabilities"]["bounding"].size() == oci::default_capabilities().size());
  CHECK(j["process"]["capabilities"]["effective"] == j["process"]["capabilities"]["bounding"]);
  CHECK(j["process"]["capabilities"]["ambient"].empty());
  CHECK(j["root"]["path"] == "rootfs");
  std::vector<std::string> dests;
  for (const auto& m : j["mounts"]) dests.push_back(m["destination"]);
  CHECK(dests == std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys",
                                          "/sys/fs/cgroup"});
  CHECK(j["linux"]["maskedPaths"].size() == oci::default_masked_paths().size());
  CHECK(j["linux"]["readonlyPaths"][4] == "/proc/sys");
  CHECK(j["linux"]["namespaces"].size() == 5);
  CHECK(j["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO");
  CHECK(j["linux"]["resources"]["devices"][0] == json{{"allow", false}, {"access", "rwm"}});
  // No LSM on this kind of host: the fields must be absent, not empty.
  CHECK_FALSE(j["process"].contains("apparmorProfile"));
  CHECK_FALSE(j["process"].contains("selinuxLabel"));
  CHECK_FALSE(j["linux"].contains("mountLabel"));
}

TEST_CASE("every modelled field is serialized", "[oci][spec]") {
  oci::Spec s = oci::default_spec({"sleep", "1"});
  s.process.env.push_back("A=b");
  s.process.cwd = "/work";
  s.process.user = {1000, 2000, {3000, 3001}, 022};
  s.process.terminal = true;
  s.process.rlimits = {{"RLIMIT_NOFILE", 1024, 512}};
  s.process.oom_score_adj = 500;
  s.root_readonly = true;
  s.hostname = "pod-a";
  s.mounts.push_back(oci::bind_mount("/host/data", "/data", true, oci::Propagation::kSlave));
  s.mounts.push_back(oci::bind_mount("/host/x", "/x", false, oci::Propagation::kShared, false));
  oci::set_namespace(s, "network", "/run/netns/pod-a");
  oci::remove_namespace(s, "pid");
  s.seccomp.kind = oci::Seccomp::Kind::kUnconfined;
  s.resources.cpu = {512, 50000, 100000, "0-1", "0"};
  s.resources.memory = {64 << 20, 128 << 20};
  s.resources.hugepages = {{"2MB", 0}};
  s.resources.pids_limit = 100;
  s.cgroups_path = oci::cgroupfs_path("kubepods/pod1/", "abc");
  s.rootfs_propagation = "rshared";
  s.sysctl = {{"net.ipv4.ip_forward", "1"}};
  s.devices = {{"/dev/fuse", "c", 10, 229, 0666, 0, 0}};
  s.annotations = {{"io.kubernetes.pod.name", "a"}};
  s.hooks.prestart = {{"/bin/true", {"true", "x"}, {"K=v"}, 5}};
  s.hooks.poststop = {{"/bin/false", {}, {}, std::nullopt}};

  json j = to_json(s);
  CHECK(j["process"]["user"] == json{{"uid", 1000}, {"gid", 2000}, {"additionalGids", {3000, 3001}}, {"umask", 022}});
  CHECK(j["process"]["terminal"] == true);
  CHECK(j["process"]["cwd"] == "/work");
  CHECK(j["process"]["rlimits"][0] == json{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 512}});
  CHECK(j["process"]["oomScoreAdj"] == 500);
  CHECK(j["root"]["readonly"] == true);
  CHECK(j["hostname"] == "pod-a");
  CHECK(j["mounts"][7] ==
        json{{"destination", "/data"}, {"type", "bind"}, {"source", "/host/data"}, {"options", {"rbind", "ro", "rslave"}}});
  CHECK(j["mounts"][8]["options"] == json::array({"bind", "shared"}));
  bool joined = false;
  for (const auto& ns : j["linux"]["namespaces"]) {
    CHECK(ns["type"] != "pid");
    if (ns["type"] == "network") joined = ns["path"] == "/run/netns/pod-a";
  }
  CHECK(joined);
  CHECK_FALSE(j["linux"].contains("seccomp"));
  CHECK(j["linux"]["resources"]["cpu"] ==
        json{{"shares", 512}, {"quota", 50000}, {"period", 100000}, {"cpus", "0-1"}, {"mems", "0"}});
  CHECK(j["linux"]["resources"]["memory"] == json{{"limit", 64 << 20}, {"swap", 128 << 20}});
  CHECK(j["linux"]["resources"]["hugepageLimits"][0] == json{{"pageSize", "2MB"}, {"limit", 0}});
  CHECK(j["linux"]["resources"]["pids"]["limit"] == 100);
  CHECK(j["linux"]["cgroupsPath"] == "/kubepods/pod1/crio-abc");
  CHECK(j["linux"]["rootfsPropagation"] == "rshared");
  CHECK(j["linux"]["sysctl"]["net.ipv4.ip_forward"] == "1");
  CHECK(j["linux"]["devices"][0] == json{{"path", "/dev/fuse"}, {"type", "c"}, {"major", 10}, {"minor", 229},
                                         {"fileMode", 0666}, {"uid", 0}, {"gid", 0}});
  CHECK(j["annotations"]["io.kubernetes.pod.name"] == "a");
  CHECK(j["hooks"]["prestart"][0] ==
        json{{"path", "/bin/true"}, {"args", {"true", "x"}}, {"env", {"K=v"}}, {"timeout", 5}});
  CHECK(j["hooks"]["poststop"][0] == json{{"path", "/bin/false"}});
  CHECK_FALSE(j["hooks"].contains("poststart"));
}

TEST_CASE("bad specs are refused with InvalidArgument", "[oci][spec]") {
  auto code_of = [](const oci::Spec& s) { return oci::spec_to_json(s).status().code(); };
  oci::Spec s = oci::default_spec({"x"});
  CHECK(code_of(s) == Code::kOk);

  auto bad = s;
  bad.process.args.clear();
  CHECK(code_of(bad) == Code::kInvalidArgument);
  bad = s;
  bad.mounts.push_back({"relative", "tmpfs", "tmpfs", {}});
  CHECK(code_of(bad) == Code::kInvalidArgument);
  bad = s;
  bad.namespaces.push_back({"bogus", ""});
  CHECK(code_of(bad) == Code::kInvalidArgument);
  bad = s;
  bad.process.rlimits = {{"RLIMIT_NOFILE", 10, 20}};
  CHECK(code_of(bad) == Code::kInvalidArgument);
  bad = s;
  bad.process.capabilities.bounding.push_back("CHOWN");
  CHECK(code_of(bad) == Code::kInvalidArgument);
  bad = s;
  bad.hooks.poststop = {{"true", {}, {}, std::nullopt}};
  CHECK(code_of(bad) == Code::kInvalidArgument);
  bad = s;
  bad.seccomp = {oci::Seccomp::Kind::kLocalhost, "/nonexistent/profile.json"};
  auto r = oci::spec_to_json(bad);
  CHECK(r.status().code() == Code::kInvalidArgument);
  CHECK_THAT(r.status().message(), Catch::Contains("/nonexistent/profile.json"));
}

TEST_CASE("a Localhost seccomp profile is embedded as given", "[oci][spec]") {
  crio::test::TempDir tmp("crio-oci-spec");
  crio::test::write_file(tmp / "p.json", R"({"defaultAction":"SCMP_ACT_LOG","syscalls":[]})");
  crio::test::write_file(tmp / "bad.json", "not json");
  oci::Spec s = oci::default_spec({"x"});
  s.seccomp = {oci::Seccomp::Kind::kLocalhost, tmp / "p.json"};
  CHECK(to_json(s)["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_LOG");
  s.seccomp.localhost_path = tmp / "bad.json";
  CHECK(oci::spec_to_json(s).status().code() == Code::kInvalidArgument);
}

TEST_CASE("RuntimeDefault seccomp follows the capabilities", "[oci][spec][seccomp]") {
  json plain = json::parse(oci::runtime_default_seccomp_json(oci::default_capabilities()));
  CHECK(plain["defaultErrnoRet"] == 38);
  CHECK(has_name(plain, "SCMP_ACT_ALLOW", "read"));
  CHECK(has_name(plain, "SCMP_ACT_ALLOW", "chown"));
  // Networking works under the default profile: a socket is an everyday call.
  CHECK(has_name(plain, "SCMP_ACT_ALLOW", "socket"));
  CHECK(has_name(plain, "SCMP_ACT_ALLOW", "connect"));
  CHECK(has_name(plain, "SCMP_ACT_ERRNO", "unshare"));
  CHECK(has_name(plain, "SCMP_ACT_ERRNO", "mount"));
  CHECK(has_name(plain, "SCMP_ACT_ERRNO", "ptrace"));
  CHECK(has_name(plain, "SCMP_ACT_ERRNO", "kexec_load"));
  CHECK_FALSE(has_name(plain, "SCMP_ACT_ALLOW", "clone"));  // only with a flags filter
  // A clone asking for any new namespace gets EPERM, one rule per namespace flag.
  int eperm_clone_rules = 0;
  for (const auto& rule : plain["syscalls"]) {
    if (rule["names"] == json::array({"clone"}) && rule["action"] == "SCMP_ACT_ERRNO" && rule["errnoRet"] == EPERM) {
      REQUIRE(rule["args"].size() == 1);
      CHECK(rule["args"][0]["value"] == rule["args"][0]["valueTwo"]);
      ++eperm_clone_rules;
    }
  }
  CHECK(eperm_clone_rules == 7);

  auto caps = oci::default_capabilities();
  caps.push_back("CAP_SYS_ADMIN");
  caps.push_back("CAP_SYS_PTRACE");
  json admin = json::parse(oci::runtime_default_seccomp_json(caps));
  CHECK(has_name(admin, "SCMP_ACT_ALLOW", "unshare"));
  CHECK(has_name(admin, "SCMP_ACT_ALLOW", "mount"));
  CHECK(has_name(admin, "SCMP_ACT_ALLOW", "clone"));
  CHECK(has_name(admin, "SCMP_ACT_ALLOW", "ptrace"));
  CHECK(has_name(admin, "SCMP_ACT_ERRNO", "kexec_load"));

#if defined(__x86_64__)
  CHECK(plain["architectures"] == json::array({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  json native = json::parse(oci::runtime_default_seccomp_json(oci::default_capabilities(), true));
  CHECK(native["architectures"] == json::array({"SCMP_ARCH_X86_64"}));
  CHECK(native["syscalls"] == plain["syscalls"]);
#endif
}

TEST_CASE("limits are clamped to what the host allows without CAP_SYS_RESOURCE", "[oci][spec]") {
  oci::HostLimits host;
  host.has_sys_resource = false;
  host.oom_score_adj = 0;
  host.hard["RLIMIT_NOFILE"] = 20000;
  oci::Spec s = oci::default_spec({"x"});
  s.process.oom_score_adj = -997;
  s.process.rlimits = {{"RLIMIT_NOFILE", 1048576, 1048576}, {"RLIMIT_CORE", 5, 5}};
  oci::Spec clamped = s;
  oci::clamp_to_host(clamped, host);
  CHECK(*clamped.process.oom_score_adj == 0);
  CHECK(clamped.process.rlimits[0].hard == 20000);
  CHECK(clamped.process.rlimits[0].soft == 20000);
  CHECK(clamped.process.rlimits[1].hard == 5);

  host.has_sys_resource = true;
  oci::Spec untouched = s;
  oci::clamp_to_host(untouched, host);
  CHECK(*untouched.process.oom_score_adj == -997);

  // This host's own limits, as the daemon would see them.
  auto mine = oci::host_limits();
  CHECK(mine.hard.count("RLIMIT_NOFILE") == 1);
}

TEST_CASE("write_bundle writes config.json and checks the rootfs", "[oci][spec]") {
  crio::test::TempDir tmp("crio-oci-bundle");
  oci::Spec s = oci::default_spec({"/bin/sh"});
  s.process.oom_score_adj = -1000;
  auto missing = oci::write_bundle(tmp / "b", s);
  CHECK(missing.code() == Code::kFailedPrecondition);
  CHECK_THAT(missing.message(), Catch::Contains("rootfs"));

  ::mkdir((tmp / "b").c_str(), 0700);
  ::mkdir((tmp / "b/rootfs").c_str(), 0755);
  REQUIRE(oci::write_bundle(tmp / "b", s).ok());
  json j = json::parse(crio::test::read_file(tmp / "b/config.json"));
  CHECK(j["process"]["args"][0] == "/bin/sh");
  if (!oci::host_limits().has_sys_resource) CHECK(j["process"]["oomScoreAdj"] >= oci::host_limits().oom_score_adj);

  CHECK(oci::write_bundle("relative", s).code() == Code::kInvalidArgument);
  CHECK(oci::cgroupfs_path("", "x") == "/crio-x");
  CHECK(oci::cgroupfs_path("/a/b", "x") == "/a/b/crio-x");
}
