// The cgroup driver model (cgroupfs vs systemd): pod parents, cgroup paths, the OCI
// cgroupsPath, conmon's placement and the runtime/conmon flags. No root, no systemd:
// what systemd would be asked is checked as the command that asks it.

#include <crio/oci/cgroup_driver.hpp>
#include <crio/oci/runtime.hpp>

#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

using crio::Code;
using crio::oci::CgroupDriver;

namespace {

const CgroupDriver kCgroupfs(CgroupDriver::Kind::kCgroupfs);
const CgroupDriver kSystemd(CgroupDriver::Kind::kSystemd);

bool contains(const std::vector<std::string>& v, const std::string& word) {
  return std::find(v.begin(), v.end(), word) != v.end();
}

}  // namespace

TEST_CASE("Slices expand into the cgroupfs path systemd gives them", "[oci][unit][cgroup]") {
  using crio::oci::expand_slice;
  CHECK(expand_slice("kubepods-burstable-pod0123.slice").value() ==
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0123.slice");
  CHECK(expand_slice("system.slice").value() == "/system.slice");
  CHECK(expand_slice("-.slice").value() == "/");
  for (const char* bad : {"kubepods", "a/b.slice", ".slice", "-a.slice", "a-.slice", "a--b.slice", "a.scope"}) {
    INFO(bad);
    auto r = expand_slice(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Catch::Contains(bad));
  }
}

TEST_CASE("A pod's cgroup parent: any path with cgroupfs, a slice with systemd", "[oci][unit][cgroup]") {
  CHECK(CgroupDriver::from_name("systemd").value().systemd());
  CHECK_FALSE(CgroupDriver::from_name("cgroupfs").value().systemd());
  CHECK(CgroupDriver::from_name("cgroupv3").status().code() == Code::kInvalidArgument);

  CHECK(kCgroupfs.pod_parent("web", "/kubepods/burstable/pod0123").value() == "/kubepods/burstable/pod0123");
  CHECK(kSystemd.pod_parent("web", "kubepods-burstable-pod0123.slice").value() == "kubepods-burstable-pod0123.slice");
  // The expanded form is taken by its last element, as CRI-O takes it.
  CHECK(kSystemd.pod_parent("web", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0123.slice")
            .value() == "kubepods-burstable-pod0123.slice");
  CHECK(kSystemd.pod_parent("web", "").value().empty());
  for (const char* bad : {"/kubepods/burstable/pod0123", "kubepods", "a--b.slice"}) {
    INFO(bad);
    auto r = kSystemd.pod_parent("web", bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Catch::Contains("pod sandbox web") && Catch::Contains(bad));
  }
}

TEST_CASE("Container cgroups: <parent>/crio-<id> with cgroupfs, <slice>:crio:<id> and a scope with systemd",
          "[oci][unit][cgroup]") {
  CHECK(kCgroupfs.cgroups_path("/kubepods/pod1", "abc") == "/kubepods/pod1/crio-abc");
  CHECK(kCgroupfs.cgroups_path("", "abc") == "/crio/crio-abc");
  CHECK(kCgroupfs.container_cgroup("kubepods/pod1/", "abc").value() == "/kubepods/pod1/crio-abc");

  CHECK(kSystemd.cgroups_path("kubepods-burstable-pod1.slice", "abc") == "kubepods-burstable-pod1.slice:crio:abc");
  CHECK(kSystemd.cgroups_path("", "abc") == "system.slice:crio:abc");
  CHECK(kSystemd.container_cgroup("kubepods-burstable-pod1.slice", "abc").value() ==
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/crio-abc.scope");
  CHECK(kSystemd.container_cgroup("", "abc").value() == "/system.slice/crio-abc.scope");
  CHECK(kSystemd.container_cgroup("-.slice", "abc").value() == "/crio-abc.scope");

  // A pod without infra container: a plain cgroup named like a container's, no scope.
  CHECK(kCgroupfs.dropped_infra_cgroup("/kubepods/pod1", "p0d").value() == "/kubepods/pod1/crio-p0d");
  CHECK(kCgroupfs.dropped_infra_cgroup("", "p0d").value() == "/crio-p0d");
  CHECK(kSystemd.dropped_infra_cgroup("kubepods-pod1.slice", "p0d").value() ==
        "/kubepods.slice/kubepods-pod1.slice/crio-p0d");
  CHECK(kSystemd.dropped_infra_cgroup("", "p0d").value().empty());
}

TEST_CASE("conmon's cgroup follows conmon_cgroup as CRI-O places it", "[oci][unit][cgroup]") {
  auto fs = kCgroupfs.conmon_cgroup("pod", "/kubepods/pod1", "abc").value();
  CHECK(fs.cgroupfs_path == "/kubepods/pod1/crio-conmon-abc");
  CHECK(fs.scope.empty());
  CHECK(kCgroupfs.conmon_cgroup("", "", "abc").value().cgroupfs_path == "/crio-conmon-abc");
  auto refused = kCgroupfs.conmon_cgroup("system.slice", "/kubepods/pod1", "abc");
  CHECK(refused.status().code() == Code::kInvalidArgument);
  CHECK_THAT(refused.status().message(), Catch::Contains("container abc") && Catch::Contains("system.slice"));

  auto in_pod = kSystemd.conmon_cgroup("pod", "kubepods-besteffort-pod1.slice", "abc").value();
  CHECK(in_pod.cgroupfs_path.empty());
  CHECK(in_pod.scope == "crio-conmon-abc.scope");
  CHECK(in_pod.slice == "kubepods-besteffort-pod1.slice");
  auto named = kSystemd.conmon_cgroup("system.slice", "kubepods-besteffort-pod1.slice", "abc").value();
  CHECK(named.scope == "crio-conmon-abc.scope");
  CHECK(named.slice == "system.slice");
  for (const char* bad : {"conmon", "/system.slice", "a--b.slice"}) {
    INFO(bad);
    CHECK(kSystemd.conmon_cgroup(bad, "kubepods.slice", "abc").status().code() == Code::kInvalidArgument);
    CHECK_FALSE(kSystemd.check_monitor_cgroup(bad).empty());
  }
}

TEST_CASE("With systemd, runc/crun get --systemd-cgroup and conmon -s", "[oci][unit][cgroup]") {
  crio::oci::RuntimeHandler h;
  h.name = "runc";
  h.runtime_path = "/usr/sbin/runc";
  h.runtime_root = "/run/test-runc";
  crio::oci::ContainerCreateOptions o;
  o.id = "abc";
  o.bundle = "/b";
  o.log_path = "/l/abc.log";
  o.exit_dir = "/e";
  o.persist_dir = "/b";
  o.socket_dir = "/s";

  CHECK(crio::oci::runtime_global_args(h) == std::vector<std::string>{"--root", "/run/test-runc"});
  auto plain = crio::oci::conmon_create_args(h, o);
  CHECK_FALSE(contains(plain, "-s"));
  CHECK_FALSE(contains(plain, "--systemd-cgroup"));

  h.cgroup_driver = kSystemd;
  CHECK(crio::oci::runtime_global_args(h) ==
        std::vector<std::string>{"--root", "/run/test-runc", "--systemd-cgroup"});
  auto args = crio::oci::conmon_create_args(h, o);
  CHECK(contains(args, "-s"));
  CHECK(std::vector<std::string>(args.begin(), args.end() - 1) == plain);
  CHECK(args.back() == "-s");
}

TEST_CASE("conmon's systemd scope is asked of systemd as CRI-O asks it", "[oci][unit][cgroup]") {
  crio::oci::ConmonCgroup c{"", "crio-conmon-abc.scope", "kubepods-pod1.slice"};
  const std::vector<std::string> head = {"busctl", "call", "--system", "--quiet", "org.freedesktop.systemd1",
                                         "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                         "StartTransientUnit", "ssa(sv)a(sa(sv))", "crio-conmon-abc.scope", "fail"};
  const std::vector<std::string> base = {"PIDs", "au", "1", "4242", "Delegate", "b", "true", "DefaultDependencies",
                                         "b", "false", "KillSignal", "i", "13", "After", "as", "1", "crio.service"};
  auto expect = [&](size_t count, std::vector<std::string> extra) {
    std::vector<std::string> argv = head;
    argv.push_back(std::to_string(count));
    argv.insert(argv.end(), base.begin(), base.end());
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("0");
    return argv;
  };
  CHECK(crio::oci::systemd_scope_command(4242, c, {}) == expect(6, {"Slice", "s", "kubepods-pod1.slice"}));

  crio::oci::CpuResources cpu;
  cpu.cpus = "0-1,9";
  cpu.shares = 512;
  cpu.quota = 50000;
  cpu.period = 100000;
  c.slice.clear();
  CHECK(crio::oci::systemd_scope_command(4242, c, cpu) ==
        expect(9, {"AllowedCPUs", "ay", "2", "3", "2", "CPUShares", "t", "512", "CPUQuotaPerSecUSec", "t", "500000",
                   "CPUQuotaPeriodUSec", "t", "100000"}));
}

TEST_CASE("Stats by cgroup path read the same cgroup as stats by process", "[oci][unit][cgroup]") {
  // Our own memory cgroup (v1), or our cgroup on a v2-only host.
  std::ifstream in("/proc/self/cgroup");
  std::string line, memory, unified;
  while (std::getline(in, line)) {
    auto a = line.find(':'), b = line.find(':', a + 1);
    std::string controllers = line.substr(a + 1, b - a - 1);
    if (controllers.empty()) unified = line.substr(b + 1);
    if (("," + controllers + ",").find(",memory,") != std::string::npos) memory = line.substr(b + 1);
  }
  if (memory.empty()) memory = unified;
  auto by_path = crio::oci::cgroup_stats_at(memory);
  INFO(memory);
  REQUIRE(by_path.ok());
  auto by_pid = crio::oci::cgroup_stats(::getpid());
  REQUIRE(by_pid.ok());
  CHECK(by_path->version == by_pid->version);
  CHECK(by_path->memory_usage_bytes > 0);
  CHECK(by_path->memory_limit_bytes == by_pid->memory_limit_bytes);

  auto gone = crio::oci::cgroup_stats_at("/no-such-cgroup-for-crio-tests/crio-abc.scope");
  CHECK(gone.status().code() == Code::kNotFound);
  auto scope = kSystemd.container_stats("no-such-crio-test.slice", "abc", ::getpid());
  CHECK(scope.status().code() == Code::kNotFound);
}
