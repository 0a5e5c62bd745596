#pragma once
// Creating objects by name the way the kubelet retries: one create per name at a
// time; a retry that arrives while the first is running waits for it and gets its
// answer; a request for a name whose object exists gets that object (as CRI-O answers
// a duplicate RunPodSandbox or CreateContainer). Pods and containers share this.

#include <crio/core/status.hpp>

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace crio::daemon {

class Creations {
 public:
  // `holder(name)` tells which object already holds `name`, if any; `create()` makes
  // it (and must record it where `holder` looks before returning). `kind` names the
  // object in errors ("pod sandbox", "container").
  Result<std::string> run(const std::string& name, std::string_view kind,
                          const std::function<std::optional<std::string>(const std::string&)>& holder,
                          const std::function<Result<std::string>()>& create,
                          const std::function<bool()>& client_gone);

  // The object is gone: an answer still kept for it is dropped.
  void forget(const std::string& id);

 private:
  struct Creation {
    std::mutex mutex;
    std::condition_variable done_cv;
    bool done = false;                                                       // guarded by mutex
    Result<std::string> result = Status(Code::kUnavailable, "in progress");  // guarded by mutex
  };

  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Creation>> creating_;  // name → in flight; guarded by mutex_
  std::set<std::string> undelivered_;  // IDs whose creator gave up before the answer; guarded by mutex_
};

}  // namespace crio::daemon
