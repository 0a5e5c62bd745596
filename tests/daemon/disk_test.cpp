// A full disk: the daemon's storage on a small ext4 filesystem of the test's own (a
// sparse file on a loop device). A pull that does not fit fails with RESOURCE_EXHAUSTED
// naming the store and leaves nothing half-written; a container that fills its
// writable layer harms no other container and its removal gives the space back; a
// chatty container's log stays within log_size_max.

#include "container_fixture.hpp"
#include "loop_disk.hpp"

#include <fmt/format.h>

#include <sys/mount.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cctype>
#include <iterator>

using namespace crio::test::containers;
using crio::test::LoopDisk;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// The drop-in that puts the daemon's storage root on the disk.
std::string root_on(const LoopDisk& disk) { return "[crio]\nroot = \"" + disk.path() + "/storage\"\n"; }

grpc::Status pull(const crio::test::Daemon& daemon, const std::string& ref) {
  auto stub = daemon.image_stub();
  grpc::ClientContext context;
  crio::test::set_deadline(context, 120);
  v1::PullImageRequest request;
  request.mutable_image()->set_image(ref);
  v1::PullImageResponse response;
  return stub->PullImage(&context, request, &response);
}

std::vector<std::string> image_names(const crio::test::Daemon& daemon) {
  auto stub = daemon.image_stub();
  grpc::ClientContext context;
  crio::test::set_deadline(context);
  v1::ListImagesResponse response;
  REQUIRE(stub->ListImages(&context, v1::ListImagesRequest{}, &response).ok());
  std::vector<std::string> names;
  for (const auto& image : response.images()) {
    for (const auto& tag : image.repo_tags()) names.push_back(tag);
  }
  return names;
}

// Everything below `dir`, as paths relative to it (the store's layout at one moment).
std::set<std::string> tree(const std::string& dir) {
  std::set<std::string> out;
  walk_tree(dir, [&](const std::string& path, const std::string&, bool) { out.insert(path.substr(dir.size())); });
  return out;
}

std::string joined(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += x + "\n";
  return out;
}

}  // namespace

TEST_CASE("A pull that does not fit on the disk fails with RESOURCE_EXHAUSTED and leaves nothing behind",
          "[daemon][disk]") {
  LoopDisk disk(40);
  Env env([&](const std::string&) { return root_on(disk); });
  env.registry.push_test_images("/nonexistent", "big,docker");
  const std::string store = disk.path() + "/storage";
  const auto before = tree(store);
  const int64_t free_before = disk.free_bytes();
  REQUIRE(free_before < (64 << 20));

  grpc::Status s = pull(*env.daemon, env.registry.host() + "/test/big:v1");
  INFO("pull: " << s.error_code() << " " << s.error_message());
  CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(lower(s.error_message()).find("no space left on device") != std::string::npos);
  CHECK(s.error_message().find(store) != std::string::npos);
  CHECK(s.error_message().find("test/big:v1") != std::string::npos);

  // No layer, no staging or temporary file, no image record: the store is as it was,
  // and so is the space.
  const auto after = tree(store);
  std::set<std::string> added;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::inserter(added, added.end()));
  INFO("new in the store:\n" << joined(added));
  CHECK(added.empty());
  for (const auto& names = image_names(*env.daemon); const auto& n : names) CHECK(n.find("test/big") == std::string::npos);
  CHECK(disk.free_bytes() >= free_before - (256 << 10));

  // The daemon goes on: a pull that fits, then a pod and a container in it.
  grpc::Status small = pull(*env.daemon, env.registry.host() + "/test/docker:v1");
  INFO("small pull: " << small.error_message());
  CHECK(small.ok());
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("after-full", "runc")};
  const std::string id =
      client.create_ok(pod.id, Client::config("after", env.image, {"/bin/busybox", "sh", "-c", "exec sleep 600"}));
  REQUIRE(client.start(id).ok());
  auto out = client.exec_ok(id, {"/bin/busybox", "echo", "still here"});
  CHECK(out.stdout() == "still here\n");
}

TEST_CASE("A container that fills the disk with its writable layer harms no other, and its removal frees the space",
          "[daemon][disk]") {
  LoopDisk disk(48);
  Env env([&](const std::string&) { return root_on(disk); });
  Client client(*env.daemon);

  PodGuard steady_pod{client, client.run_pod("steady", "runc")};
  const std::string steady = client.create_ok(
      steady_pod.id, Client::config("ticker", env.image,
                                    {"/bin/busybox", "sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"}));
  REQUIRE(client.start(steady).ok());
  const std::string steady_log = client.dir + "/logs/steady/ticker/0.log";
  const int64_t free_before = disk.free_bytes();

  PodGuard filler_pod{client, client.run_pod("filler", "runc")};
  const std::string filler = client.create_ok(
      filler_pod.id, Client::config("dd", env.image,
                                    {"/bin/busybox", "sh", "-c",
                                     "/bin/busybox dd if=/dev/zero of=/tmp/fill bs=1M; "
                                     "/bin/busybox dd if=/dev/zero of=/tmp/fill-rest bs=512; "
                                     "i=0; while /bin/busybox mkdir /tmp/d$i 2>/dev/null; do i=$((i+1)); done; "
                                     "echo dd-exited; exec sleep 600"}));
  REQUIRE(client.start(filler).ok());
  // dd stops at ENOSPC, and directories take what blocks are left: the disk is full.
  const std::string filler_log = client.dir + "/logs/filler/dd/0.log";
  REQUIRE(crio::test::eventually(
      [&] { return crio::test::read_file(filler_log).find("dd-exited") != std::string::npos; },
      std::chrono::seconds(60)));
  INFO("free after dd: " << disk.free_bytes());
  CHECK(disk.free_bytes() < (1 << 20));

  // The other container runs on, its log flows, and the daemon answers.
  const size_t ticks_then = log_entries(crio::test::read_file(steady_log), "stdout").size();
  CHECK(crio::test::eventually(
      [&] { return log_entries(crio::test::read_file(steady_log), "stdout").size() >= ticks_then + 5; },
      std::chrono::seconds(10)));
  CHECK(client.status(steady).status().state() == v1::CONTAINER_RUNNING);
  CHECK(client.status(filler).status().state() == v1::CONTAINER_RUNNING);
  CHECK(client.list().size() == 2);
  CHECK(client.exec_ok(steady, {"/bin/busybox", "echo", "alive"}).stdout() == "alive\n");

  // A new container needs room in the store for its writable layer: with none left,
  // it is refused as an exhausted resource, naming itself and the disk, and nothing of
  // it stays.
  REQUIRE(disk.free_bytes() == 0);
  const auto store_before = tree(disk.path() + "/storage");
  grpc::Status refused =
      client.create(steady_pod.id, Client::config("late", env.image, {"/bin/busybox", "sleep", "600"}));
  INFO("create on a full disk: " << refused.error_code() << " " << refused.error_message());
  CHECK(refused.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(lower(refused.error_message()).find("no space left on device") != std::string::npos);
  CHECK(refused.error_message().find("container late") != std::string::npos);
  CHECK(refused.error_message().find(disk.path() + "/storage") != std::string::npos);
  CHECK(client.list().size() == 2);
  CHECK(tree(disk.path() + "/storage") == store_before);

  // Removing the filler gives the space back, and a new container runs.
  REQUIRE(client.stop(filler, 0).ok());
  grpc::Status removed = client.remove(filler);
  INFO("removing the filler: " << removed.error_message());
  REQUIRE(removed.ok());
  CHECK(disk.free_bytes() >= free_before - (1 << 20));
  const std::string after = client.create_ok(
      steady_pod.id, Client::config("after", env.image, {"/bin/busybox", "sh", "-c", "exec sleep 600"}));
  REQUIRE(client.start(after).ok());
  CHECK(client.exec_ok(after, {"/bin/busybox", "echo", "room again"}).stdout() == "room again\n");
  CHECK(client.status(steady).status().state() == v1::CONTAINER_RUNNING);
}

TEST_CASE("A chatty container's log on a small disk stays within log_size_max", "[daemon][disk]") {
  LoopDisk disk(32);
  constexpr int64_t kLogMax = 1 << 20;
  Env env([&](const std::string&) {
    return root_on(disk) + fmt::format("[crio.runtime]\nlog_size_max = {}\n", kLogMax);
  });
  Client client(*env.daemon);
  const int64_t free_before = disk.free_bytes();
  // 64 MiB of output, twice the whole disk: without the limit the log would fill it.
  REQUIRE(free_before < (64 << 20));

  auto request = client.pod_request("chatty", "runc");
  request.mutable_config()->set_log_directory(disk.path() + "/logs/chatty");
  PodGuard pod{client, client.run_pod(request)};
  const std::string id = client.create_ok(
      pod.id, Client::config("talk", env.image,
                             {"/bin/busybox", "sh", "-c",
                              "/bin/busybox yes 'a line of chatter to fill the log with' | /bin/busybox head -c 67108864; "
                              "echo all-said; exec sleep 600"}));
  REQUIRE(client.start(id).ok());
  const std::string log = disk.path() + "/logs/chatty/talk/0.log";
  int64_t largest = 0;
  const bool said = crio::test::eventually(
      [&] {
        std::error_code ec;
        largest = std::max<int64_t>(largest, static_cast<int64_t>(std::filesystem::file_size(log, ec)));
        return crio::test::read_file(log).find("all-said") != std::string::npos;
      },
      std::chrono::seconds(120));
  REQUIRE(said);
  std::error_code ec;
  const auto size = static_cast<int64_t>(std::filesystem::file_size(log, ec));
  INFO("log size " << size << ", the largest seen " << largest << ", free " << disk.free_bytes() << " of "
                   << free_before);
  CHECK(size <= kLogMax);
  CHECK(largest <= kLogMax);
  CHECK(disk.free_bytes() >= free_before - 2 * kLogMax);
  // What is kept is whole CRI log lines, the last of them the end of the output.
  auto entries = log_entries(crio::test::read_file(log), "stdout");
  REQUIRE(!entries.empty());
  CHECK(entries.back() == "F all-said");
  CHECK(client.status(id).status().state() == v1::CONTAINER_RUNNING);
  CHECK(client.exec_ok(id, {"/bin/busybox", "echo", "fine"}).stdout() == "fine\n");
}
