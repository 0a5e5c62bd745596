// What the configuration asks of the host when the daemon starts, as opposed to what
// load_config checks on the values alone (which `crio config` must pass on any host).

#include <crio/core/config.hpp>

#include <crio/core/fs.hpp>
#include <crio/core/process.hpp>

#include <fmt/format.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>

namespace crio::core {
namespace {

constexpr std::string_view kBannedCpus = "IRQBALANCE_BANNED_CPUS";

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// Whether a CPU mask as /proc/irq/default_smp_affinity writes it ("ff,ffffffff") has
// every CPU set, by CRI-O's test: each byte of the mask is 2^k-1. That is the state
// after a boot, before anything banned CPUs from interrupts.
Result<bool> all_cpus_set(std::string_view mask) {
  std::string hex;
  for (char ch : mask) {
    if (ch == ',') continue;
    if (!std::isxdigit(static_cast<unsigned char>(ch))) {
      return error(Code::kInvalidArgument, "{} is not a hexadecimal CPU mask", mask);
    }
    hex += ch;
  }
  if (hex.size() % 2) hex.insert(hex.begin(), '0');
  for (size_t i = 0; i < hex.size(); i += 2) {
    auto b = static_cast<unsigned>(std::stoul(hex.substr(i, 2), nullptr, 16));
    if ((b & (b + 1)) != 0) return false;
  }
  return true;
}

// IRQBALANCE_BANNED_CPUS of an irqbalance configuration file ("" when it has none).
std::string banned_cpus_of(const std::string& text) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (line.rfind(std::string(kBannedCpus) + "=", 0) == 0) {
      std::string value = line.substr(kBannedCpus.size() + 1);
      auto eq = value.find('=');
      if (eq != std::string::npos) value.resize(eq);
      while (!value.empty() && value.front() == '"') value.erase(value.begin());
      while (!value.empty() && value.back() == '"') value.pop_back();
      return value;
    }
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return {};
}

std::string with_banned_cpus(const std::string& text, const std::string& mask) {
  std::string out;
  bool found = false;
  size_t start = 0;
  for (;;) {
    size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (line.rfind(std::string(kBannedCpus) + "=", 0) == 0) {
      line = fmt::format("{}=\"{}\"", kBannedCpus, mask);
      found = true;
    }
    out += line;
    if (nl == std::string::npos) break;
    out += '\n';
    start = nl + 1;
  }
  if (!found) out += fmt::format("\n{}=\"{}\"\n", kBannedCpus, mask);
  return out;
}

bool host_has_apparmor() {
  auto text = fs::read_file("/sys/module/apparmor/parameters/enabled");
  return text.ok() && !text->empty() && (*text)[0] == 'Y';
}

}  // namespace

Result<std::string> restore_irqbalance_config(const std::string& config_file, const std::string& restore_file,
                                              const std::string& smp_affinity_file) {
  CRIO_ASSIGN_OR_RETURN(auto affinity, fs::read_file(smp_affinity_file));
  auto all_set = all_cpus_set(trim(affinity));
  if (!all_set.ok()) return all_set.status().wrap(smp_affinity_file);
  if (!*all_set) return std::string("irqbalance restore: not after a reboot (some CPUs are banned), nothing to do");

  auto config = fs::read_file(config_file);
  if (!config.ok()) {
    // irqbalance may simply not be installed.
    return fmt::format("irqbalance restore: cannot read {}, nothing to do", config_file);
  }
  std::string banned = banned_cpus_of(*config);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(restore_file, ec)) {
    CRIO_RETURN_IF_ERROR(fs::write_file_atomic(restore_file, banned, 0644));
    return fmt::format("irqbalance restore: saved the banned CPU mask \"{}\" in {}", banned, restore_file);
  }
  CRIO_ASSIGN_OR_RETURN(auto saved_text, fs::read_file(restore_file));
  std::string saved = trim(saved_text);
  if (saved == banned) return std::string("irqbalance restore: nothing to do");
  CRIO_RETURN_IF_ERROR(fs::write_file_atomic(config_file, with_banned_cpus(*config, saved), 0644));
  // CRI-O then restarts irqbalance through systemd; without systemd the service (if
  // any) reads the file when it next starts.
  return fmt::format("irqbalance restore: wrote the banned CPU mask \"{}\" back to {}", saved, config_file);
}

Status prepare_for_execution(Config& config, std::vector<std::string>& notes) {
  for (auto& [name, h] : config.runtimes) {
    if (!h.runtime_type.empty() && h.runtime_type != "oci") continue;
    std::string dotted = fmt::format("crio.runtime.runtimes.{}.monitor_path", name);
    if (h.monitor_path.empty()) {
      auto found = process::find_executable("conmon");
      if (!found) {
        return error(Code::kInvalidArgument, "{}: empty, and conmon is not in $PATH; set crio.runtime.conmon", dotted);
      }
      h.monitor_path = *found;
    } else if (!process::is_executable(h.monitor_path)) {
      return error(Code::kInvalidArgument, "{}: {} is not an executable file", dotted, h.monitor_path);
    }
  }
  // The systemd cgroup manager makes every container and conmon cgroup through systemd;
  // without it nothing could run, so start-up stops here (as sd_booted() tells).
  if (config.cgroup_manager == "systemd" && ::access("/run/systemd/system", F_OK) != 0) {
    return error(Code::kFailedPrecondition,
                 "crio.runtime.cgroup_manager: \"systemd\", but PID 1 is not systemd on this host (no "
                 "/run/systemd/system), so there is no systemd to make cgroups through; use \"cgroupfs\"");
  }
  // A pinns_path is run for every pod; checked at start as CRI-O checks it.
  if (!config.pinns_path.empty() && !process::is_executable(config.pinns_path)) {
    return error(Code::kInvalidArgument, "crio.runtime.pinns_path: {} is not an executable file", config.pinns_path);
  }
  if (!host_has_apparmor()) {
    notes.push_back(fmt::format(
        "AppArmor is not enabled on this host: AppArmor is disabled and crio.runtime.apparmor_profile (\"{}\") "
        "is not applied",
        config.apparmor_profile));
  }
  return ok_status();
}

}  // namespace crio::core
