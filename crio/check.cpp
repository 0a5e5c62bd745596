#include "check.hpp"

#include "images.hpp"

#include <crio/core/log.hpp>
#include <crio/core/storage/store.hpp>

#include <fmt/format.h>

#include <cctype>
#include <optional>
#include <string>

namespace crio::daemon {

namespace {

// "24h", "90m", "1h30m", "45s", "2d": seconds. nullopt when malformed.
std::optional<int64_t> parse_age(const std::string& text) {
  if (text.empty()) return std::nullopt;
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == start || i == text.size()) return std::nullopt;
    int64_t n = std::stoll(text.substr(start, i - start));
    switch (text[i++]) {
      case 'd': total += n * 86400; break;
      case 'h': total += n * 3600; break;
      case 'm': total += n * 60; break;
      case 's': total += n; break;
      default: return std::nullopt;
    }
  }
  return total;
}

void print_report(const storage::CheckReport& report) {
  for (const auto& d : report.layers) fmt::print("layer: {}: {}\n", d.id, d.reason);
  for (const auto& d : report.images) fmt::print("image: {}: {}\n", d.id, d.reason);
  for (const auto& d : report.containers) fmt::print("container: {}: {}\n", d.id, d.reason);
  for (const auto& d : report.orphans) fmt::print("orphan: {}: {}\n", d.id, d.reason);
}

}  // namespace

int run_check(const CommandLine& command_line) {
  const core::Config& config = command_line.config;
  bool force = false, repair = false, quick = false, wipe = false;
  std::string age = "24h";
  const auto& args = command_line.rest;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-f" || a == "--force") {
      force = true;
    } else if (a == "-r" || a == "--repair") {
      repair = true;
    } else if (a == "-q" || a == "--quick") {
      quick = true;
    } else if (a == "-w" || a == "--wipe") {
      wipe = true;
    } else if (a.rfind("--age=", 0) == 0 || a.rfind("-a=", 0) == 0) {
      age = a.substr(a.find('=') + 1);
    } else if ((a == "-a" || a == "--age") && i + 1 < args.size()) {
      age = args[++i];
    } else {
      fmt::print(stderr,
                 "crio check: unknown argument \"{}\" (takes --age/-a DURATION, --force/-f, --repair/-r, "
                 "--quick/-q, --wipe/-w)\n",
                 a);
      return 2;
    }
  }
  storage::CheckOptions options;
  options.contents = !quick;
  if (!age.empty()) {
    auto seconds = parse_age(age);
    if (!seconds) {
      fmt::print(stderr, "crio check: unable to parse age duration \"{}\" (e.g. 24h, 90m, 1h30m)\n", age);
      return 2;
    }
    options.unreferenced_age_seconds = *seconds;
  }

  const storage::StoreOptions store = store_options(config);
  log::info("checking the storage directory for errors", {{"root", config.root}});
  auto report = storage::Store::check(store, options);
  if (!report.ok()) {
    fmt::print(stderr, "crio check: unable to check storage: {}\n", report.status().message());
    return 1;
  }
  print_report(*report);
  // Orphans count with the layers, as containers/storage reports unaccounted files.
  const size_t layer_errors = report->layers.size() + report->orphans.size();
  if (!repair) {
    if (report->clean()) return 0;
    fmt::print(stderr, "crio check: {} layer errors, 0 read-only layer errors, {} image errors, "
                       "0 read-only image errors, {} container errors\n",
               layer_errors, report->images.size(), report->containers.size());
    return 1;
  }

  if (force) log::warn("--force: damaged containers are removed too");
  log::info("repairing the storage directory", {{"root", config.root}});
  auto failed = storage::Store::repair(store, *report, {.remove_containers = force});
  if (!failed.ok() || !failed->empty()) {
    if (failed.ok()) {
      for (const auto& f : *failed) fmt::print(stderr, "crio check: cannot remove {}: {}\n", f.id, f.reason);
    } else {
      fmt::print(stderr, "crio check: {}\n", failed.status().message());
    }
    if (wipe) {
      log::info("wiping the storage directory", {{"root", config.root}});
      if (Status s = storage::Store::wipe(store); !s.ok()) {
        fmt::print(stderr, "crio check: {}\n", s.message());
        return 1;
      }
      return 0;
    }
    return 1;
  }
  if (!force && !report->containers.empty()) {
    fmt::print(stderr, "crio check: 0 read-only layer errors, 0 read-only image errors, {} container errors\n",
               report->containers.size());
    return 1;
  }
  return 0;
}

Status repair_storage_at_start(const core::Config& config) {
  const storage::StoreOptions store = store_options(config);
  log::info("checking the storage after an unclean shutdown", {{"root", config.root}});
  auto report = storage::Store::check(store, {});
  Status failure = report.status();
  if (report.ok()) {
    for (const auto& d : report->layers) log::warn("damaged layer", {{"layer", d.id}, {"reason", d.reason}});
    for (const auto& d : report->images) log::warn("damaged image", {{"image", d.id}, {"reason", d.reason}});
    for (const auto& d : report->containers) {
      log::warn("damaged container", {{"container", d.id}, {"reason", d.reason}});
    }
    auto failed = storage::Store::repair(store, *report, {.remove_containers = true});
    if (!failed.ok()) {
      failure = failed.status();
    } else if (!failed->empty()) {
      failure = error(Code::kInternal, "cannot remove {}: {}", failed->front().id, failed->front().reason);
    }
  }
  if (failure.ok()) return ok_status();
  log::warn("storage repair failed: wiping the storage directory",
            {{"root", config.root}, {"error", failure.message()}});
  return storage::Store::wipe(store);
}

}  // namespace crio::daemon
