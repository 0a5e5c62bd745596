#pragma once
// Creating pods and containers by name the way the kubelet retries, as CRI-O does:
//
// - one creation per name at a time;
// - an object is published (listed, found, operated on) only once a caller received
//   its ID. When the caller's deadline passed during the creation, the object is kept
//   unpublished, "unclaimed": the kubelet's retry with the same name claims it and gets
//   its ID, and an object nobody claims within a while is removed;
// - a retry that arrives while the first creation still runs waits until its own
//   deadline and fails, saying at which stage the creation is: answering it early
//   would make the kubelet bump the attempt and start all over. The next retry then
//   claims the object;
// - a request for a name whose object is published gets that object.

#include <crio/core/status.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace crio::daemon {

// What a table of pods or containers does for Creations. Creations calls these with
// its own lock held; they take only the table's lock.
class CreationTable {
 public:
  virtual ~CreationTable() = default;
  // The published object holding `name`, if any.
  virtual std::optional<std::string> published_holder(const std::string& name) const = 0;
  // Makes the object, created unpublished, visible.
  virtual void publish(const std::string& id) = 0;
  // The object's caller has gone: record that it is unclaimed so that a restart keeps
  // it unpublished (and still claimable).
  virtual void keep_unclaimed(const std::string& id) = 0;
};

// The objects of a table (pods or containers) that no caller has received yet, and
// which of those are marked on disk as unclaimed (their caller left), so that a restart
// keeps them unpublished. Its own lock; it takes no other.
class Unpublished {
 public:
  // Marks are `<state_dir>/<id>.unclaimed`, beside the objects' state files.
  explicit Unpublished(std::string state_dir) : state_dir_(std::move(state_dir)) {}

  void add(const std::string& id);
  bool contains(const std::string& id) const;
  // Visible from now on; its mark, if any, goes.
  void publish(const std::string& id);
  // Its caller left: marked on disk.
  void mark_unclaimed(const std::string& id);
  // At start-up: true, and unpublished again, when `id` was marked.
  bool restore_marked(const std::string& id);
  // The object is gone, and its mark.
  void erase(const std::string& id);

 private:
  std::string marker(const std::string& id) const { return state_dir_ + "/" + id + ".unclaimed"; }

  const std::string state_dir_;
  mutable std::mutex mutex_;
  std::set<std::string> ids_;     // guarded by mutex_
  std::set<std::string> marked_;  // guarded by mutex_
};

class Creations {
 public:
  using Clock = std::chrono::steady_clock;

  // `kind` names the objects in messages ("sandbox", "container"); CRI-O's stage names
  // start with it.
  Creations(CreationTable& table, std::string kind) : table_(table), kind_(std::move(kind)) {}

  // `create()` makes the object unpublished and returns its ID. `client_gone` tells
  // whether the caller stopped waiting (its deadline passed or it cancelled); without
  // one, the caller waits for whatever is in flight.
  Result<std::string> run(const std::string& name, const std::function<Result<std::string>()>& create,
                          const std::function<bool()>& client_gone);

  // The stage the creation of `name` has reached ("sandbox network creation"), what a
  // stalled retry is told and what the stall metric counts.
  void stage(const std::string& name, std::string_view stage);

  // Called with the stage each time a retry finds its creation still running.
  void set_stall_observer(std::function<void(const std::string& stage)> observer);

  // An unclaimed object found at start-up, or an expired one whose removal failed:
  // claimable again, its time unclaimed counted from now.
  void adopt_unclaimed(const std::string& name, const std::string& id);

  // The objects unclaimed for longer than `age`; each is handed out once, and the
  // caller removes them.
  struct Expired {
    std::string name;
    std::string id;
  };
  std::vector<Expired> take_expired(Clock::duration age);

  // The object is gone: nothing more is kept for it.
  void forget(const std::string& id);

  // How long a retry waits beyond its own deadline when it never ends (CRI-O's bound).
  static constexpr auto kRetryWaitLimit = std::chrono::minutes(4);

 private:
  struct InFlight {
    std::string stage;
    bool done = false;
    bool made = false;  // done, and the object exists
  };
  struct Unclaimed {
    std::string id;
    Clock::time_point since;
  };

  Result<std::string> wait_for(const std::string& name, const std::shared_ptr<InFlight>& first, std::string stage,
                               const std::function<bool()>& client_gone);

  CreationTable& table_;
  const std::string kind_;
  std::mutex mutex_;
  std::condition_variable done_cv_;
  std::map<std::string, std::shared_ptr<InFlight>> in_flight_;  // by name; guarded by mutex_
  std::map<std::string, Unclaimed> unclaimed_;                  // by name; guarded by mutex_
  std::function<void(const std::string&)> stall_observer_;      // guarded by mutex_
};

}  // namespace crio::daemon
