#include "procs.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace crio::bench {
namespace {

double mib(int64_t kib) { return std::round(static_cast<double>(kib) / 1024.0 * 1000.0) / 1000.0; }

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// comm and ppid from /proc/PID/stat (the name may hold spaces and parentheses).
bool read_stat(pid_t pid, std::string& comm, pid_t& ppid) {
  std::string line = read_all(fmt::format("/proc/{}/stat", pid));
  auto open = line.find('(');
  auto close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close + 4 > line.size()) return false;
  comm = line.substr(open + 1, close - open - 1);
  std::istringstream rest(line.substr(close + 2));
  std::string state;
  rest >> state >> ppid;
  return static_cast<bool>(rest);
}

}  // namespace

std::optional<ProcMemory> read_memory(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/smaps_rollup", pid));
  if (!in) return std::nullopt;
  ProcMemory m;
  bool seen = false;
  for (std::string line; std::getline(in, line);) {
    auto value = [&line] { return std::stoll(line.substr(line.find(':') + 1)); };
    if (line.rfind("Rss:", 0) == 0) {
      m.rss_kib = value();
      seen = true;
    }
    if (line.rfind("Pss:", 0) == 0) m.pss_kib = value();
  }
  if (!seen) return std::nullopt;
  return m;
}

std::vector<RuntimeProcess> find_runtime_processes(const std::string& marker, pid_t daemon) {
  struct Entry {
    pid_t ppid = 0;
    std::string comm;
    bool matches = false;
  };
  std::map<pid_t, Entry> all;
  std::error_code ec;
  for (const auto& dir : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = dir.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    Entry e;
    if (!read_stat(pid, e.comm, e.ppid)) continue;  // exited meanwhile
    std::string cmdline = read_all(fmt::format("/proc/{}/cmdline", pid));
    for (char& c : cmdline) {
      if (c == '\0') c = ' ';
    }
    e.matches = !marker.empty() && cmdline.find(marker) != std::string::npos;
    all[pid] = std::move(e);
  }
  std::set<pid_t> excluded = {daemon};
  for (pid_t p = ::getpid(); p > 1;) {
    excluded.insert(p);
    auto it = all.find(p);
    if (it == all.end()) break;
    p = it->second.ppid;
  }
  auto counted = [&](pid_t pid) {
    // Walks up to init: a marked ancestor (not excluded) makes the process a runtime's.
    for (int depth = 0; pid > 1 && depth < 64; ++depth) {
      auto it = all.find(pid);
      if (it == all.end()) return false;
      if (it->second.matches && !excluded.count(pid)) return true;
      pid = it->second.ppid;
    }
    return false;
  };
  std::vector<RuntimeProcess> out;
  for (const auto& [pid, e] : all) {
    if (excluded.count(pid) || !counted(pid)) continue;
    auto memory = read_memory(pid);
    if (!memory) continue;  // exited, or a kernel thread
    out.push_back({pid, e.ppid, e.comm, *memory});
  }
  return out;
}

nlohmann::json summarize_processes(const std::vector<RuntimeProcess>& procs) {
  int64_t rss = 0, pss = 0;
  std::map<std::string, std::pair<int, int64_t>> by_comm;
  for (const auto& p : procs) {
    rss += p.memory.rss_kib;
    pss += p.memory.pss_kib;
    auto& slot = by_comm[p.comm];
    slot.first += 1;
    slot.second += p.memory.pss_kib;
  }
  nlohmann::json comms = nlohmann::json::object();
  for (const auto& [comm, v] : by_comm) comms[comm] = {{"count", v.first}, {"pss_mib", mib(v.second)}};
  return {{"count", procs.size()}, {"rss_mib", mib(rss)}, {"pss_mib", mib(pss)}, {"by_comm", comms}};
}

}  // namespace crio::bench
