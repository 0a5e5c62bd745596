// Creations: the kubelet's retries of RunPodSandbox and CreateContainer, against a
// table in memory. No root, no runtime.

#include "creations.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

using crio::Code;
using crio::Result;
using crio::daemon::CreationTable;
using crio::daemon::Creations;

namespace {

class Table : public CreationTable {
 public:
  std::optional<std::string> published_holder(const std::string& name) const override {
    std::lock_guard lock(mutex_);
    auto it = names.find(name);
    if (it == names.end() || !published.count(it->second)) return std::nullopt;
    return it->second;
  }
  void publish(const std::string& id) override {
    std::lock_guard lock(mutex_);
    published.insert(id);
  }
  void keep_unclaimed(const std::string& id) override {
    std::lock_guard lock(mutex_);
    marked.insert(id);
  }
  // What a create() does: the object exists, unpublished.
  std::string make(const std::string& name) {
    std::lock_guard lock(mutex_);
    const std::string id = "id-" + std::to_string(++made);
    names[name] = id;
    return id;
  }
  bool is_published(const std::string& id) const {
    std::lock_guard lock(mutex_);
    return published.count(id) > 0;
  }

  mutable std::mutex mutex_;
  std::map<std::string, std::string> names;
  std::set<std::string> published, marked;
  int made = 0;
};

auto never_gone = [] { return false; };
auto always_gone = [] { return true; };

}  // namespace

TEST_CASE("A creation whose caller waits is published, and a duplicate request gets the same object",
          "[creations]") {
  Table table;
  Creations creations(table, "sandbox");
  auto first = creations.run("pod-a", [&] { return Result<std::string>(table.make("pod-a")); }, never_gone);
  REQUIRE(first.ok());
  CHECK(table.is_published(*first));
  auto again = creations.run("pod-a", [&] { return Result<std::string>(table.make("pod-a")); }, never_gone);
  REQUIRE(again.ok());
  CHECK(*again == *first);
  CHECK(table.made == 1);
}

TEST_CASE("An object whose caller left is kept unpublished and the retry with the same name claims it",
          "[creations]") {
  Table table;
  Creations creations(table, "container");
  auto first = creations.run("ctr", [&] { return Result<std::string>(table.make("ctr")); }, always_gone);
  REQUIRE_FALSE(first.ok());
  CHECK(first.status().code() == Code::kDeadlineExceeded);
  CHECK_THAT(first.status().message(), Catch::Contains("container ctr"));
  REQUIRE(table.made == 1);
  const std::string id = table.names["ctr"];
  CHECK_FALSE(table.is_published(id));
  CHECK(table.marked.count(id) == 1);

  auto retry = creations.run("ctr", [&] { return Result<std::string>(table.make("ctr")); }, never_gone);
  REQUIRE(retry.ok());
  CHECK(*retry == id);
  CHECK(table.is_published(id));
  CHECK(table.made == 1);
  // Claimed: nothing is left to expire.
  CHECK(creations.take_expired(std::chrono::seconds(0)).empty());
}

TEST_CASE("A retry that finds the creation still running waits for its own deadline and names the stage",
          "[creations]") {
  Table table;
  Creations creations(table, "sandbox");
  std::vector<std::string> stalls;
  creations.set_stall_observer([&](const std::string& stage) { stalls.push_back(stage); });
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> staged{false};
  auto first = std::async(std::launch::async, [&] {
    return creations.run(
        "pod-slow",
        [&] {
          creations.stage("pod-slow", "sandbox network creation");
          staged = true;
          released.wait();
          return Result<std::string>(table.make("pod-slow"));
        },
        always_gone);
  });
  while (!staged) std::this_thread::sleep_for(std::chrono::milliseconds(5));

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  auto retry = creations.run(
      "pod-slow", [&] { return Result<std::string>(table.make("pod-slow")); },
      [&] { return std::chrono::steady_clock::now() > deadline; });
  REQUIRE_FALSE(retry.ok());
  CHECK(retry.status().code() == Code::kDeadlineExceeded);
  CHECK_THAT(retry.status().message(), Catch::Contains("sandbox network creation"));
  CHECK(stalls == std::vector<std::string>{"sandbox network creation"});

  release.set_value();
  CHECK_FALSE(first.get().ok());  // its caller had left
  CHECK(table.made == 1);
  auto claimed = creations.run("pod-slow", [&] { return Result<std::string>(table.make("pod-slow")); }, never_gone);
  REQUIRE(claimed.ok());
  CHECK(*claimed == table.names["pod-slow"]);
  CHECK(table.made == 1);
}

TEST_CASE("A retry waiting on a creation that fails is told so, and the next request creates anew",
          "[creations]") {
  Table table;
  Creations creations(table, "container");
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> started{false};
  auto first = std::async(std::launch::async, [&] {
    return creations.run(
        "ctr",
        [&]() -> Result<std::string> {
          started = true;
          released.wait();
          return crio::error(Code::kNotFound, "image gone");
        },
        never_gone);
  });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::atomic<bool> retry_gone{false};
  auto retry = std::async(std::launch::async, [&] {
    return creations.run("ctr", [&] { return Result<std::string>(table.make("ctr")); },
                         [&] { return retry_gone.load(); });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  release.set_value();
  CHECK(first.get().status().code() == Code::kNotFound);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  retry_gone = true;
  auto waited = retry.get();
  CHECK(waited.status().code() == Code::kUnavailable);
  CHECK_THAT(waited.status().message(), Catch::Contains("failed"));

  auto fresh = creations.run("ctr", [&] { return Result<std::string>(table.make("ctr")); }, never_gone);
  REQUIRE(fresh.ok());
  CHECK(table.made == 1);
}

TEST_CASE("Unclaimed objects expire once, and an adopted one is claimable", "[creations]") {
  Table table;
  Creations creations(table, "sandbox");
  REQUIRE_FALSE(creations.run("old", [&] { return Result<std::string>(table.make("old")); }, always_gone).ok());
  CHECK(creations.take_expired(std::chrono::hours(1)).empty());
  auto expired = creations.take_expired(std::chrono::seconds(0));
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].name == "old");
  CHECK(expired[0].id == table.names["old"]);
  CHECK(creations.take_expired(std::chrono::seconds(0)).empty());

  // After an expiry the name is free: a request makes a new object.
  auto fresh = creations.run("old", [&] { return Result<std::string>(table.make("old")); }, never_gone);
  REQUIRE(fresh.ok());
  CHECK(*fresh != expired[0].id);

  // One found at start-up (or one whose removal failed) is claimable again.
  creations.adopt_unclaimed("restored", "id-restored");
  auto claimed = creations.run("restored", [&] { return Result<std::string>(table.make("restored")); }, never_gone);
  REQUIRE(claimed.ok());
  CHECK(*claimed == "id-restored");
  CHECK(table.is_published("id-restored"));
}
