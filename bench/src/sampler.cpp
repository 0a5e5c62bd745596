#include "sampler.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>
#include <thread>

namespace crio::bench {

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  double rank = p / 100.0 * static_cast<double>(sorted.size() - 1);
  auto lo = static_cast<size_t>(std::floor(rank));
  auto hi = static_cast<size_t>(std::ceil(rank));
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - static_cast<double>(lo));
}

Summary summarize(std::vector<double> samples) {
  Summary s;
  s.count = samples.size();
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.min = samples.front();
  s.max = samples.back();
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
  s.median = percentile(samples, 50);
  s.p95 = percentile(samples, 95);
  return s;
}

namespace {
double round3(double v) { return std::round(v * 1000.0) / 1000.0; }
}  // namespace

nlohmann::json Series::to_json(const std::string& unit) const {
  Summary s = summarize(samples_);
  nlohmann::json samples = nlohmann::json::array();
  for (double v : samples_) samples.push_back(round3(v));
  nlohmann::json j = {{"unit", unit},          {"count", s.count},
                      {"errors", errors_.size()}, {"median", round3(s.median)},
                      {"p95", round3(s.p95)},     {"mean", round3(s.mean)},
                      {"min", round3(s.min)},     {"max", round3(s.max)},
                      {"samples", samples}};
  if (!errors_.empty()) {
    // The distinct messages are what a reader needs; a thousand copies are not.
    std::vector<std::string> distinct;
    for (const auto& e : errors_) {
      if (std::find(distinct.begin(), distinct.end(), e) == distinct.end() && distinct.size() < 10)
        distinct.push_back(e);
    }
    j["error_messages"] = distinct;
  }
  return j;
}

std::optional<ProcSnapshot> read_proc(pid_t pid) {
  ProcSnapshot snap;
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(stat, line)) return std::nullopt;
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 2));
  std::vector<std::string> f;
  for (std::string x; fields >> x;) f.push_back(x);
  // f[0] is field 3 (state); utime..cstime are fields 14..17.
  if (f.size() < 15) return std::nullopt;
  static const double tick_ms = 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  double ticks = 0;
  for (int i = 11; i <= 14; ++i) ticks += std::stod(f[i]);
  snap.cpu_ms = ticks * tick_ms;

  std::ifstream status(fmt::format("/proc/{}/status", pid));
  while (std::getline(status, line)) {
    auto value = [&line] { return std::stoll(line.substr(line.find(':') + 1)); };
    if (line.rfind("VmRSS:", 0) == 0) snap.rss_kib = value();
    if (line.rfind("VmHWM:", 0) == 0) snap.hwm_kib = value();
  }
  return snap;
}

bool reset_peak_rss(pid_t pid) {
  std::ofstream out(fmt::format("/proc/{}/clear_refs", pid));
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

DaemonProbe::DaemonProbe(std::optional<pid_t> pid) : pid_(pid) {
  if (pid_) start_ = read_proc(*pid_);
}

void DaemonProbe::begin() {
  if (!pid_) return;
  if (peak_resettable_) peak_resettable_ = reset_peak_rss(*pid_);
  at_begin_ = read_proc(*pid_);
  if (!first_) first_ = at_begin_;
}

void DaemonProbe::end() {
  if (!pid_ || !at_begin_) return;
  auto now = read_proc(*pid_);
  if (!now) {
    cpu_ms_.fail(fmt::format("daemon pid {} is gone", *pid_));
    return;
  }
  cpu_ms_.add(now->cpu_ms - at_begin_->cpu_ms);
  peak_rss_mib_.add(static_cast<double>(now->hwm_kib) / 1024.0);
  rss_after_mib_.add(static_cast<double>(now->rss_kib) / 1024.0);
  last_ = now;
}

nlohmann::json DaemonProbe::to_json() const {
  if (!pid_) return nullptr;
  nlohmann::json j = {{"pid", *pid_},
                      {"peak_rss_is_per_round", peak_resettable_},
                      {"cpu_ms", cpu_ms_.to_json("ms")},
                      {"peak_rss", peak_rss_mib_.to_json("MiB")},
                      {"rss_after", rss_after_mib_.to_json("MiB")}};
  if (start_) j["rss_start_mib"] = round3(static_cast<double>(start_->rss_kib) / 1024.0);
  if (!start_) j["error"] = fmt::format("cannot read /proc/{}", *pid_);
  if (first_ && last_) j["cpu_ms_total"] = round3(last_->cpu_ms - first_->cpu_ms);
  if (last_) {
    j["rss_end_mib"] = round3(static_cast<double>(last_->rss_kib) / 1024.0);
    j["peak_rss_end_mib"] = round3(static_cast<double>(last_->hwm_kib) / 1024.0);
  }
  return j;
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

StepError Sampler::timed(const std::string& name, const std::function<StepError()>& body) {
  auto start = Clock::now();
  StepError err = body();
  double ms = ms_since(start);
  if (!recording_) return err;
  std::lock_guard lock(mutex_);
  if (err)
    series_[name].fail(*err);
  else
    series_[name].add(ms);
  return err;
}

StepError Sampler::timed_parallel(const std::string& name, int parallel,
                                  const std::function<StepError(int worker)>& body) {
  if (parallel <= 1) return timed(name, [&] { return body(0); });
  std::vector<StepError> errors(static_cast<size_t>(parallel));
  std::barrier gate(parallel);
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(parallel));
  for (int w = 0; w < parallel; ++w) {
    workers.emplace_back([&, w] {
      gate.arrive_and_wait();
      errors[static_cast<size_t>(w)] = timed(name, [&] { return body(w); });
    });
  }
  for (auto& t : workers) t.join();
  for (auto& e : errors) {
    if (e) return e;
  }
  return std::nullopt;
}

void Sampler::run(const RoundPlan& plan) {
  int total = plan.warmup + plan.rounds;
  for (int i = 0; i < total; ++i) {
    recording_ = i >= plan.warmup;
    int round = i - plan.warmup;  // negative during warm-up
    if (plan.setup) {
      if (StepError err = plan.setup(round)) {
        if (recording_) series_["setup"].fail(*err);
        if (plan.stop_on_setup_error) {
          aborted_ = fmt::format("round {}: setup failed: {}", round, *err);
          break;
        }
        continue;
      }
    }
    if (recording_) probe_.begin();
    auto start = Clock::now();
    if (plan.parallel <= 1) {
      timed(plan.op_name, [&] { return plan.op(round, 0); });
    } else {
      // All workers are released together so the round measures true concurrency,
      // not thread start-up.
      std::barrier gate(plan.parallel);
      std::vector<std::thread> workers;
      workers.reserve(static_cast<size_t>(plan.parallel));
      for (int w = 0; w < plan.parallel; ++w) {
        workers.emplace_back([&, w] {
          gate.arrive_and_wait();
          timed(plan.op_name, [&] { return plan.op(round, w); });
        });
      }
      for (auto& t : workers) t.join();
    }
    double round_ms = ms_since(start);
    if (recording_) {
      probe_.end();
      if (plan.parallel > 1) series_["round"].add(round_ms);
    }
    if (plan.teardown) {
      if (StepError err = plan.teardown(round)) {
        if (recording_) series_["teardown"].fail(*err);
        aborted_ = fmt::format("round {}: teardown failed: {}", round, *err);
        break;
      }
    }
  }
  recording_ = true;
}

nlohmann::json Sampler::to_json() const {
  nlohmann::json ops = nlohmann::json::object();
  for (const auto& [name, series] : series_) ops[name] = series.to_json();
  return ops;
}

}  // namespace crio::bench
