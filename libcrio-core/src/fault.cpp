#include <crio/core/fault.hpp>

#include <atomic>

namespace crio::core {

namespace {
std::atomic<FaultHook> g_hook{nullptr};
}  // namespace

void set_fault_hook(FaultHook hook) { g_hook.store(hook); }

void fault_point_reached(FaultPoint point) {
  if (FaultHook hook = g_hook.load(std::memory_order_relaxed)) hook(point);
}

}  // namespace crio::core
