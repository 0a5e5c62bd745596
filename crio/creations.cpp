#include "creations.hpp"

namespace crio::daemon {

Result<std::string> Creations::run(const std::string& name, std::string_view kind,
                                   const std::function<std::optional<std::string>(const std::string&)>& holder,
                                   const std::function<Result<std::string>()>& create,
                                   const std::function<bool()>& client_gone) {
  auto gone = [&] { return client_gone && client_gone(); };
  std::shared_ptr<Creation> creation;
  {
    std::unique_lock lock(mutex_);
    if (auto it = creating_.find(name); it != creating_.end()) {
      auto first = it->second;
      lock.unlock();
      Result<std::string> result = [&] {
        std::unique_lock wait(first->mutex);
        first->done_cv.wait(wait, [&] { return first->done; });
        return first->result;
      }();
      // Delivered only if this caller is still there; otherwise the next retry gets it.
      if (result.ok() && !gone()) {
        std::lock_guard relock(mutex_);
        undelivered_.erase(*result);
      }
      return result;
    }
    if (auto id = holder(name)) {
      // The answer an earlier caller missed, or a duplicate request for an object
      // already made: CRI-O answers both with the object.
      if (!gone()) undelivered_.erase(*id);
      return *id;
    }
    creation = std::make_shared<Creation>();
    creating_[name] = creation;
  }

  Result<std::string> result = create();
  {
    std::lock_guard lock(mutex_);
    creating_.erase(name);
    if (result.ok() && gone()) undelivered_.insert(*result);
  }
  {
    std::lock_guard done(creation->mutex);
    creation->result = result;
    creation->done = true;
  }
  creation->done_cv.notify_all();
  return result;
}

void Creations::forget(const std::string& id) {
  std::lock_guard lock(mutex_);
  undelivered_.erase(id);
}

}  // namespace crio::daemon
