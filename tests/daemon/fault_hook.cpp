// What makes crio-fault of crio: at start-up, CRIO_FAULT_POINT=name[:count] arms the
// crash point `name` (crio/core/fault.hpp); its count-th passage (the first by
// default) kills the daemon with SIGKILL, as a power cut or the OOM killer would.

#include <crio/core/fault.hpp>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

std::atomic<int> g_point{-1};
std::atomic<long> g_remaining{0};

void write_stderr(const std::string& text) {
  // write(2) only: the message must be out before the kill, whatever the state of stdio.
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
}

void on_point(crio::core::FaultPoint point) {
  if (static_cast<int>(point) != g_point.load()) return;
  if (g_remaining.fetch_sub(1) != 1) return;
  write_stderr("crio-fault: crash point " + std::string(crio::core::fault_point_name(point)) + " reached: SIGKILL\n");
  ::kill(::getpid(), SIGKILL);
  ::pause();
}

const bool armed = [] {
  const char* spec = std::getenv("CRIO_FAULT_POINT");
  if (spec == nullptr || *spec == '\0') return false;
  std::string name = spec;
  long count = 1;
  if (auto colon = name.find(':'); colon != std::string::npos) {
    char* end = nullptr;
    count = std::strtol(name.c_str() + colon + 1, &end, 10);
    if (*end != '\0' || count < 1) {
      write_stderr("crio-fault: CRIO_FAULT_POINT=" + name + ": the count must be a positive number\n");
      std::_Exit(2);
    }
    name.resize(colon);
  }
  for (const auto& p : crio::core::kFaultPoints) {
    if (p.name == name) {
      g_point = static_cast<int>(p.point);
      g_remaining = count;
      crio::core::set_fault_hook(on_point);
      return true;
    }
  }
  write_stderr("crio-fault: CRIO_FAULT_POINT=" + name + ": no such crash point (see crio/core/fault.hpp)\n");
  std::_Exit(2);
}();

}  // namespace
