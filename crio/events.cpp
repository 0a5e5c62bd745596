#include "events.hpp"

#include <algorithm>

namespace crio::daemon {

EventSubscription::~EventSubscription() { bus_.unsubscribe(this); }

std::optional<ContainerEvent> EventSubscription::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, timeout, [this] { return closed_ || !queue_.empty(); });
  if (queue_.empty()) return std::nullopt;
  ContainerEvent event = std::move(queue_.front());
  queue_.pop_front();
  return event;
}

bool EventSubscription::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

uint64_t EventSubscription::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

void EventSubscription::push(const ContainerEvent& event) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    if (queue_.size() >= capacity_) {
      ++dropped_;
      return;
    }
    queue_.push_back(event);
  }
  cv_.notify_one();
}

void EventSubscription::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  cv_.notify_all();
}

EventBus::~EventBus() { close(); }

void EventBus::publish(const ContainerEvent& event) {
  std::lock_guard lock(mutex_);
  for (EventSubscription* s : subscribers_) s->push(event);
}

std::unique_ptr<EventSubscription> EventBus::subscribe() {
  std::unique_ptr<EventSubscription> s(new EventSubscription(*this, capacity_));
  std::lock_guard lock(mutex_);
  if (closed_) s->close();
  subscribers_.push_back(s.get());
  return s;
}

void EventBus::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  for (EventSubscription* s : subscribers_) s->close();
}

size_t EventBus::subscriber_count() const {
  std::lock_guard lock(mutex_);
  return subscribers_.size();
}

uint64_t EventBus::dropped() const {
  std::lock_guard lock(mutex_);
  uint64_t total = dropped_gone_;
  for (EventSubscription* s : subscribers_) total += s->dropped();
  return total;
}

void EventBus::unsubscribe(EventSubscription* subscription) {
  std::lock_guard lock(mutex_);
  auto it = std::find(subscribers_.begin(), subscribers_.end(), subscription);
  if (it == subscribers_.end()) return;
  dropped_gone_ += subscription->dropped();
  subscribers_.erase(it);
}

}  // namespace crio::daemon
