#pragma once
// What a failed multi-step operation takes back: each step registers how to undo
// itself, and unless the operation succeeds (dismiss) they run newest first.

#include <functional>
#include <utility>
#include <vector>

namespace crio::core {

class Undo {
 public:
  Undo() = default;
  Undo(const Undo&) = delete;
  Undo& operator=(const Undo&) = delete;
  ~Undo() {
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) (*it)();
  }
  void add(std::function<void()> step) { steps_.push_back(std::move(step)); }
  void dismiss() { steps_.clear(); }

 private:
  std::vector<std::function<void()>> steps_;
};

}  // namespace crio::core
