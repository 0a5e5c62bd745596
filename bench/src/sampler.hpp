#pragma once
// The measuring core shared by every scenario: a scenario describes rounds (untimed
// setup, P concurrent timed operations, untimed teardown) and the sampler runs them,
// keeps one series of samples per operation name, and — when it knows the daemon's
// pid — the daemon's CPU time and peak RSS for the timed part of each round.

#include <nlohmann/json.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace crio::bench {

// Median, p95 etc. of a set of samples (linear interpolation between closest ranks).
struct Summary {
  size_t count = 0;
  double min = 0, max = 0, mean = 0, median = 0, p95 = 0;
};
Summary summarize(std::vector<double> samples);
double percentile(const std::vector<double>& sorted, double p);

// One named series: successful samples in ms plus the errors of the failed attempts.
class Series {
 public:
  void add(double ms) { samples_.push_back(ms); }
  void fail(std::string message) { errors_.push_back(std::move(message)); }
  const std::vector<double>& samples() const { return samples_; }
  size_t errors() const { return errors_.size(); }
  nlohmann::json to_json(const std::string& unit = "ms") const;

 private:
  std::vector<double> samples_;
  std::vector<std::string> errors_;
};

// What /proc says about the daemon process: CPU time (its own and its reaped
// children's, so work it hands to helpers counts) and memory.
struct ProcSnapshot {
  double cpu_ms = 0;          // utime + stime + cutime + cstime
  int64_t rss_kib = 0;        // VmRSS
  int64_t hwm_kib = 0;        // VmHWM (peak since start or the last reset)
};
std::optional<ProcSnapshot> read_proc(pid_t pid);
// Resets VmHWM to the current RSS (clear_refs "5"); false when not permitted.
bool reset_peak_rss(pid_t pid);

class DaemonProbe {
 public:
  // Reads the daemon once here, so the report has its idle state before any work.
  explicit DaemonProbe(std::optional<pid_t> pid);
  bool enabled() const { return pid_.has_value(); }
  // Around a timed section: reset the peak, remember CPU; then add the deltas.
  void begin();
  void end();
  nlohmann::json to_json() const;

 private:
  std::optional<pid_t> pid_;
  bool peak_resettable_ = true;
  std::optional<ProcSnapshot> start_, first_, at_begin_, last_;
  Series cpu_ms_, peak_rss_mib_, rss_after_mib_;
};

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point start);

// A failed step carries its message; an empty optional is success.
using StepError = std::optional<std::string>;

struct RoundPlan {
  int rounds = 1;
  int parallel = 1;
  int warmup = 0;  // rounds run first and not recorded
  // Untimed, before the round's operations (e.g. make sure the image is absent).
  std::function<StepError(int round)> setup;
  // Timed, `parallel` at once; each call's wall time is one sample of `op_name`.
  std::function<StepError(int round, int worker)> op;
  // Untimed by the round clock but may record its own series (e.g. "remove").
  std::function<StepError(int round)> teardown;
  std::string op_name = "op";
  bool stop_on_setup_error = true;
};

class Sampler {
 public:
  explicit Sampler(DaemonProbe& probe) : probe_(probe) {}
  // Times `body` and files the sample (or the error) under `name`.
  StepError timed(const std::string& name, const std::function<StepError()>& body);
  // `parallel` calls of `body(worker)` released together, each timed under `name`
  // (e.g. stopping the P pods a round created); returns the first error.
  StepError timed_parallel(const std::string& name, int parallel, const std::function<StepError(int worker)>& body);
  void run(const RoundPlan& plan);
  // Aborted runs keep their samples; the reason is reported next to them.
  const std::optional<std::string>& aborted() const { return aborted_; }
  nlohmann::json to_json() const;

 private:
  DaemonProbe& probe_;
  std::mutex mutex_;  // guards series_ while workers run
  std::map<std::string, Series> series_;
  std::optional<std::string> aborted_;
  bool recording_ = true;
};

}  // namespace crio::bench
