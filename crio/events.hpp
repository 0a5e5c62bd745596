#pragma once
// Container lifecycle events fanned out to every GetContainerEvents subscriber. Each
// subscriber has its own bounded queue: a subscriber that falls behind loses events
// (counted) instead of holding up the container operation that published them.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace crio::daemon {

// Values match CRI ContainerEventType.
enum class ContainerEventType { kCreated = 0, kStarted = 1, kStopped = 2, kDeleted = 3 };

struct ContainerEvent {
  std::string container_id;
  std::string pod_id;
  ContainerEventType type = ContainerEventType::kCreated;
  int64_t created_at = 0;  // ns since the epoch
};

class EventBus;

class EventSubscription {
 public:
  ~EventSubscription();
  EventSubscription(const EventSubscription&) = delete;
  EventSubscription& operator=(const EventSubscription&) = delete;

  // The next event, or nullopt when `timeout` passes first or the bus is closed
  // (closed() tells which).
  std::optional<ContainerEvent> next(std::chrono::milliseconds timeout);
  bool closed() const;
  uint64_t dropped() const;

 private:
  friend class EventBus;
  EventSubscription(EventBus& bus, size_t capacity) : bus_(bus), capacity_(capacity) {}
  void push(const ContainerEvent& event);
  void close();

  EventBus& bus_;
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<ContainerEvent> queue_;  // guarded by mutex_
  bool closed_ = false;
  uint64_t dropped_ = 0;
};

class EventBus {
 public:
  static constexpr size_t kDefaultCapacity = 1000;

  explicit EventBus(size_t capacity = kDefaultCapacity) : capacity_(capacity) {}
  ~EventBus();

  // Never blocks on a subscriber.
  void publish(const ContainerEvent& event);
  std::unique_ptr<EventSubscription> subscribe();
  // Wakes every subscriber with "closed"; later subscriptions start closed.
  void close();

  size_t subscriber_count() const;
  uint64_t dropped() const;  // over all subscriptions, past and present

 private:
  friend class EventSubscription;
  void unsubscribe(EventSubscription* subscription);

  const size_t capacity_;
  mutable std::mutex mutex_;
  std::vector<EventSubscription*> subscribers_;  // guarded by mutex_
  bool closed_ = false;
  uint64_t dropped_gone_ = 0;  // drops of subscriptions already ended
};

}  // namespace crio::daemon
