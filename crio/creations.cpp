#include "creations.hpp"

#include <crio/core/fs.hpp>
#include <crio/core/log.hpp>

#include <filesystem>

namespace crio::daemon {

void Unpublished::add(const std::string& id) {
  std::lock_guard lock(mutex_);
  ids_.insert(id);
}

bool Unpublished::contains(const std::string& id) const {
  std::lock_guard lock(mutex_);
  return ids_.count(id) > 0;
}

void Unpublished::publish(const std::string& id) {
  bool was_marked = false;
  {
    std::lock_guard lock(mutex_);
    ids_.erase(id);
    was_marked = marked_.erase(id) > 0;
  }
  if (was_marked) (void)fs::remove_file(marker(id));
}

void Unpublished::mark_unclaimed(const std::string& id) {
  {
    std::lock_guard lock(mutex_);
    marked_.insert(id);
  }
  if (Status s = fs::write_file_atomic(marker(id), "", 0600); !s.ok()) {
    log::warn("cannot mark an unclaimed object; a restart would publish it", {{"id", id}, {"error", s.message()}});
  }
}

bool Unpublished::restore_marked(const std::string& id) {
  std::error_code ec;
  if (!std::filesystem::exists(marker(id), ec)) return false;
  std::lock_guard lock(mutex_);
  ids_.insert(id);
  marked_.insert(id);
  return true;
}

void Unpublished::erase(const std::string& id) {
  bool was_marked = false;
  {
    std::lock_guard lock(mutex_);
    ids_.erase(id);
    was_marked = marked_.erase(id) > 0;
  }
  if (was_marked) (void)fs::remove_file(marker(id));
}

Result<std::string> Creations::run(const std::string& name, const std::function<Result<std::string>()>& create,
                                   const std::function<bool()>& client_gone) {
  auto gone = [&] { return client_gone && client_gone(); };
  std::shared_ptr<InFlight> creation;
  {
    std::unique_lock lock(mutex_);
    if (auto it = unclaimed_.find(name); it != unclaimed_.end()) {
      // The retry of a request whose caller left: it gets the object made for it.
      const std::string id = it->second.id;
      unclaimed_.erase(it);
      table_.publish(id);
      log::info("found the " + kind_ + " in the creation cache", {{"name", name}, {"id", id}});
      return id;
    }
    if (auto it = in_flight_.find(name); it != in_flight_.end()) {
      auto first = it->second;
      std::string stage = first->stage;
      auto observer = stall_observer_;
      lock.unlock();
      if (observer) observer(stage);
      return wait_for(name, first, std::move(stage), client_gone);
    }
    if (auto id = table_.published_holder(name)) return *id;  // a duplicate request
    creation = std::make_shared<InFlight>();
    creation->stage = kind_ + " creating";
    in_flight_[name] = creation;
  }

  Result<std::string> result = create();
  std::lock_guard lock(mutex_);
  in_flight_.erase(name);
  creation->done = true;
  creation->made = result.ok();
  done_cv_.notify_all();
  if (!result.ok()) return result;
  if (gone()) {
    unclaimed_[name] = Unclaimed{*result, Clock::now()};
    table_.keep_unclaimed(*result);
    log::info("the caller of a " + kind_ + " creation left before it finished; kept for its retry",
              {{"name", name}, {"id", *result}});
    return error(Code::kDeadlineExceeded, "{} {}: the request's deadline passed while it was created; a retry gets it",
                 kind_, name);
  }
  table_.publish(*result);
  return result;
}

Result<std::string> Creations::wait_for(const std::string& name, const std::shared_ptr<InFlight>& first,
                                        std::string stage, const std::function<bool()>& client_gone) {
  log::info("the creation of a " + kind_ + " is not finished yet; its retry waits",
            {{"name", name}, {"stage", stage}});
  std::unique_lock lock(mutex_);
  if (!client_gone) {
    // A caller with no deadline (the daemon itself) waits for the object.
    done_cv_.wait(lock, [&] { return first->done; });
    if (auto it = unclaimed_.find(name); it != unclaimed_.end()) {
      const std::string id = it->second.id;
      unclaimed_.erase(it);
      table_.publish(id);
      return id;
    }
    if (auto id = table_.published_holder(name)) return *id;
    return error(Code::kUnavailable, "{} {}: its creation failed", kind_, name);
  }
  // The sync gRPC server tells of a cancel or a passed deadline only when asked.
  const auto limit = Clock::now() + kRetryWaitLimit;
  while (!client_gone() && Clock::now() < limit) {
    if (!first->done) stage = first->stage;
    done_cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
  if (first->done && !first->made) {
    return error(Code::kUnavailable, "{} {}: the creation this request waited for failed; a retry starts anew", kind_,
                 name);
  }
  if (first->made) {
    return error(Code::kDeadlineExceeded,
                 "{} {} is now ready and will be given on the next retry (the kubelet may be retrying requests "
                 "that time out under load)",
                 kind_, name);
  }
  return error(Code::kDeadlineExceeded,
               "{} {} is still being created, at stage \"{}\" (the kubelet may be retrying requests that time out "
               "under load)",
               kind_, name, stage);
}

void Creations::stage(const std::string& name, std::string_view stage) {
  std::lock_guard lock(mutex_);
  if (auto it = in_flight_.find(name); it != in_flight_.end()) it->second->stage = stage;
}

void Creations::set_stall_observer(std::function<void(const std::string& stage)> observer) {
  std::lock_guard lock(mutex_);
  stall_observer_ = std::move(observer);
}

void Creations::adopt_unclaimed(const std::string& name, const std::string& id) {
  std::lock_guard lock(mutex_);
  unclaimed_[name] = Unclaimed{id, Clock::now()};
}

std::vector<Creations::Expired> Creations::take_expired(Clock::duration age) {
  std::vector<Expired> out;
  const auto now = Clock::now();
  std::lock_guard lock(mutex_);
  for (auto it = unclaimed_.begin(); it != unclaimed_.end();) {
    if (now - it->second.since >= age) {
      out.push_back(Expired{it->first, it->second.id});
      it = unclaimed_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

void Creations::forget(const std::string& id) {
  std::lock_guard lock(mutex_);
  for (auto it = unclaimed_.begin(); it != unclaimed_.end(); ++it) {
    if (it->second.id == id) {
      unclaimed_.erase(it);
      return;
    }
  }
}

}  // namespace crio::daemon
