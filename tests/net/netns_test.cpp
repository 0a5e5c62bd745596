// Pinned namespaces (real root): creation from a throwaway thread, hostname in the
// UTS namespace, removal, liveness, stale pins.

#include "net_fixture.hpp"

#include <crio/core/fs.hpp>
#include <crio/net/netns.hpp>

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

using namespace crio;
using namespace crio::net;
using crio::test::run_command;
using crio::test::TempDir;

namespace {

ino_t inode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_ino;
}

std::string self_ns(const char* kind) {
  char buf[256] = {};
  ssize_t n = ::readlink((std::string("/proc/thread-self/ns/") + kind).c_str(), buf, sizeof buf - 1);
  REQUIRE(n > 0);
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

TEST_CASE("pin_new_namespace pins a new network namespace without moving the caller", "[net][netns][root]") {
  TempDir dir("crio-netns");
  const std::string before = self_ns("net");
  std::string path;
  {
    auto ns = pin_new_namespace(NamespaceType::kNet, dir.path(), "pod1");
    REQUIRE_OK(ns);
    path = ns->path();
    CHECK(path == dir.path() + "/netns/pod1");
    CHECK(path == pinned_namespace_path(NamespaceType::kNet, dir.path(), "pod1"));
    CHECK(namespace_alive(path));
    CHECK(inode_of(path) != inode_of("/proc/self/ns/net"));
    CHECK(self_ns("net") == before);

    // Only lo, and it is down until someone brings it up.
    auto links = nettest::in_netns(path, {"/usr/sbin/ip", "-o", "link", "show"});
    REQUIRE(links.exit_code == 0);
    CHECK_THAT(links.out, Catch::Contains("lo:"));
    CHECK_THAT(links.out, !Catch::Contains("eth0"));
    CHECK_THAT(links.out, !Catch::Contains(",UP"));
    REQUIRE_OK(bring_up_loopback(path));
    auto up = nettest::in_netns(path, {"/usr/sbin/ip", "-o", "link", "show", "lo"});
    CHECK_THAT(up.out, Catch::Contains("LOOPBACK,UP"));
    REQUIRE_OK(bring_up_loopback(path));  // already up: fine

    // A second pin under the same name while the first lives is refused.
    auto again = pin_new_namespace(NamespaceType::kNet, dir.path(), "pod1");
    REQUIRE_FALSE(again.ok());
    CHECK(again.status().code() == Code::kAlreadyExists);
    CHECK(namespace_alive(path));
  }
  // The RAII owner removed it.
  CHECK_FALSE(namespace_alive(path));
  CHECK_FALSE(fs::exists(path));
  CHECK(nettest::mounts_under(dir.path()).empty());
  CHECK(remove_pinned_namespace(path).ok());  // idempotent
}

TEST_CASE("UTS pins carry the hostname and IPC pins are separate namespaces", "[net][netns][root]") {
  TempDir dir("crio-netns");
  char host_before[256] = {};
  ::gethostname(host_before, sizeof host_before);

  auto uts = pin_new_namespace(NamespaceType::kUts, dir.path(), "p", std::string("my-pod-host"));
  REQUIRE_OK(uts);
  CHECK(uts->path() == dir.path() + "/utsns/p");
  auto hn = run_command({"/usr/bin/nsenter", "--uts=" + uts->path(), "/bin/busybox", "hostname"});
  REQUIRE(hn.exit_code == 0);
  CHECK(hn.out == "my-pod-host\n");
  char host_after[256] = {};
  ::gethostname(host_after, sizeof host_after);
  CHECK(std::string(host_after) == host_before);

  auto ipc = pin_new_namespace(NamespaceType::kIpc, dir.path(), "p");
  REQUIRE_OK(ipc);
  CHECK(ipc->path() == dir.path() + "/ipcns/p");
  CHECK(namespace_alive(ipc->path()));
  CHECK(inode_of(ipc->path()) != inode_of("/proc/self/ns/ipc"));

  // release() hands the pin over; the caller removes it.
  const std::string kept = ipc->release();
  CHECK(ipc->path().empty());
  CHECK(namespace_alive(kept));
  REQUIRE_OK(remove_pinned_namespace(kept));
  CHECK_FALSE(fs::exists(kept));
  REQUIRE_OK(uts->remove());
  CHECK_FALSE(fs::exists(dir.path() + "/utsns/p"));
  CHECK(nettest::mounts_under(dir.path()).empty());
}

TEST_CASE("a stale pin is replaced and bad arguments are refused", "[net][netns][root]") {
  TempDir dir("crio-netns");
  // What a pin looks like after a reboot: the file, no mount.
  crio::test::write_file(dir.path() + "/netns/old", "");
  CHECK_FALSE(namespace_alive(dir.path() + "/netns/old"));
  CHECK_FALSE(namespace_alive(dir.path() + "/netns/missing"));
  auto ns = pin_new_namespace(NamespaceType::kNet, dir.path(), "old");
  REQUIRE_OK(ns);
  CHECK(namespace_alive(ns->path()));

  for (const char* name : {"", ".", "..", "a/b"}) {
    INFO(name);
    auto bad = pin_new_namespace(NamespaceType::kNet, dir.path(), name);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == Code::kInvalidArgument);
  }
  auto host_on_net = pin_new_namespace(NamespaceType::kNet, dir.path(), "x", std::string("h"));
  REQUIRE_FALSE(host_on_net.ok());
  CHECK(host_on_net.status().code() == Code::kInvalidArgument);
  auto long_host = pin_new_namespace(NamespaceType::kUts, dir.path(), "x", std::string(65, 'h'));
  REQUIRE_FALSE(long_host.ok());
  CHECK_FALSE(fs::exists(dir.path() + "/utsns/x"));
  CHECK_FALSE(fs::exists(dir.path() + "/netns/x"));
}
