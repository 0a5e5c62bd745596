#include <crio/oci/hooks.hpp>

#include <crio/core/fs.hpp>
#include <crio/core/log.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <filesystem>
#include <mutex>

namespace crio::oci {
namespace {

namespace stdfs = std::filesystem;

constexpr std::array<const char*, 6> kStages = {"prestart",       "createRuntime", "createContainer",
                                                "startContainer", "poststart",     "poststop"};

Result<std::regex> compile(const std::string& file, const std::string& what, const std::string& pattern) {
  try {
    return std::regex(pattern, std::regex::extended);
  } catch (const std::regex_error& e) {
    return error(Code::kInvalidArgument, "hook {}: {} \"{}\" is not a valid regular expression: {}", file, what,
                 pattern, e.what());
  }
}

Result<std::vector<std::string>> strings(const std::string& file, const nlohmann::json& j, const char* what) {
  std::vector<std::string> out;
  if (j.is_null()) return out;
  if (!j.is_array()) return error(Code::kInvalidArgument, "hook {}: {} is not an array of strings", file, what);
  for (const auto& v : j) {
    if (!v.is_string()) return error(Code::kInvalidArgument, "hook {}: {} is not an array of strings", file, what);
    out.push_back(v.get<std::string>());
  }
  return out;
}

// Patterns are unanchored: a match anywhere in the value counts, as the hooks.d format
// defines it; a hook that wants the whole value writes ^...$.
bool found(const std::regex& re, const std::string& s) { return std::regex_search(s, re); }

}  // namespace

Result<HookDefinition> parse_hook(const std::string& file, const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return error(Code::kInvalidArgument, "hook {}: not a JSON object", file);
  }
  if (!j.contains("version") || !j["version"].is_string()) {
    return error(Code::kInvalidArgument, "hook {}: no version", file);
  }
  if (j["version"].get<std::string>() != "1.0.0") {
    return error(Code::kInvalidArgument, "hook {}: unsupported version \"{}\" (only 1.0.0)", file,
                 j["version"].get<std::string>());
  }
  HookDefinition d;
  d.file = file;
  const auto& h = j.value("hook", nlohmann::json());
  if (!h.is_object() || !h.contains("path") || !h["path"].is_string()) {
    return error(Code::kInvalidArgument, "hook {}: hook.path is missing", file);
  }
  d.hook.path = h["path"].get<std::string>();
  if (d.hook.path.empty() || d.hook.path[0] != '/') {
    return error(Code::kInvalidArgument, "hook {}: hook.path \"{}\" is not absolute", file, d.hook.path);
  }
  std::error_code ec;
  if (!stdfs::is_regular_file(d.hook.path, ec)) {
    return error(Code::kInvalidArgument, "hook {}: hook.path {} is not a file", file, d.hook.path);
  }
  CRIO_ASSIGN_OR_RETURN(d.hook.args, strings(file, h.value("args", nlohmann::json()), "hook.args"));
  CRIO_ASSIGN_OR_RETURN(d.hook.env, strings(file, h.value("env", nlohmann::json()), "hook.env"));
  if (h.contains("timeout") && !h["timeout"].is_null()) {
    if (!h["timeout"].is_number_integer() || h["timeout"].get<int64_t>() <= 0) {
      return error(Code::kInvalidArgument, "hook {}: hook.timeout is not a positive integer", file);
    }
    d.hook.timeout = static_cast<int>(h["timeout"].get<int64_t>());
  }

  const auto& w = j.value("when", nlohmann::json());
  if (!w.is_object()) return error(Code::kInvalidArgument, "hook {}: when is missing", file);
  if (w.contains("always")) {
    if (!w["always"].is_boolean()) return error(Code::kInvalidArgument, "hook {}: when.always is not a boolean", file);
    d.always = w["always"].get<bool>();
  }
  if (w.contains("hasBindMounts")) {
    if (!w["hasBindMounts"].is_boolean()) {
      return error(Code::kInvalidArgument, "hook {}: when.hasBindMounts is not a boolean", file);
    }
    d.has_bind_mounts = w["hasBindMounts"].get<bool>();
  }
  if (w.contains("annotations") && !w["annotations"].is_null()) {
    if (!w["annotations"].is_object()) {
      return error(Code::kInvalidArgument, "hook {}: when.annotations is not an object", file);
    }
    for (const auto& [k, v] : w["annotations"].items()) {
      if (!v.is_string()) {
        return error(Code::kInvalidArgument, "hook {}: when.annotations[\"{}\"] is not a string", file, k);
      }
      CRIO_ASSIGN_OR_RETURN(std::regex kr, compile(file, "annotation key", k));
      CRIO_ASSIGN_OR_RETURN(std::regex vr, compile(file, "annotation value", v.get<std::string>()));
      d.annotations.emplace_back(std::move(kr), std::move(vr));
    }
  }
  CRIO_ASSIGN_OR_RETURN(std::vector<std::string> commands,
                        strings(file, w.value("commands", nlohmann::json()), "when.commands"));
  for (const auto& c : commands) {
    CRIO_ASSIGN_OR_RETURN(std::regex r, compile(file, "command", c));
    d.commands.push_back(std::move(r));
  }
  if (!d.always && !d.has_bind_mounts && d.annotations.empty() && d.commands.empty()) {
    return error(Code::kInvalidArgument, "hook {}: when has no condition", file);
  }

  CRIO_ASSIGN_OR_RETURN(d.stages, strings(file, j.value("stages", nlohmann::json()), "stages"));
  if (d.stages.empty()) return error(Code::kInvalidArgument, "hook {}: stages is empty", file);
  for (const auto& s : d.stages) {
    if (std::find_if(kStages.begin(), kStages.end(), [&](const char* k) { return s == k; }) == kStages.end()) {
      return error(Code::kInvalidArgument, "hook {}: unknown stage \"{}\"", file, s);
    }
  }
  return d;
}

std::vector<HookDefinition> load_hooks(const std::vector<std::string>& dirs) {
  std::map<std::string, std::string> files;  // name → path; later directories win
  for (const auto& dir : dirs) {
    std::error_code ec;
    stdfs::directory_iterator it(dir, ec);
    if (ec) {
      if (ec != std::errc::no_such_file_or_directory) {
        log::warn("cannot read hooks directory", {{"dir", dir}, {"error", ec.message()}});
      }
      continue;
    }
    for (const auto& e : it) {
      std::string name = e.path().filename().string();
      if (name.size() < 5 || name.compare(name.size() - 5, 5, ".json") != 0) continue;
      files[name] = e.path().string();
    }
  }
  std::vector<HookDefinition> out;
  for (const auto& [name, path] : files) {
    auto text = fs::read_file(path);
    if (!text.ok()) {
      log::warn("skipping hook", {{"file", path}, {"error", text.status().message()}});
      continue;
    }
    auto d = parse_hook(path, *text);
    if (!d.ok()) {
      log::warn("skipping invalid hook", {{"file", path}, {"error", d.status().message()}});
      continue;
    }
    out.push_back(std::move(*d));
  }
  return out;
}

bool hook_matches(const HookDefinition& hook, const HookTarget& target) {
  if (hook.always) return true;
  if (hook.has_bind_mounts && target.has_bind_mounts) return true;
  for (const auto& re : hook.commands) {
    if (found(re, target.argv0)) return true;
  }
  if (target.annotations) {
    for (const auto& [kr, vr] : hook.annotations) {
      for (const auto& [k, v] : *target.annotations) {
        if (found(kr, k) && found(vr, v)) return true;
      }
    }
  }
  return false;
}

void apply_hooks(const std::vector<HookDefinition>& hooks, const HookTarget& target, Hooks& out) {
  for (const auto& h : hooks) {
    if (!hook_matches(h, target)) continue;
    for (const auto& s : h.stages) {
      if (s == "prestart") out.prestart.push_back(h.hook);
      else if (s == "createRuntime") out.create_runtime.push_back(h.hook);
      else if (s == "createContainer") out.create_container.push_back(h.hook);
      else if (s == "startContainer") out.start_container.push_back(h.hook);
      else if (s == "poststart") out.poststart.push_back(h.hook);
      else if (s == "poststop") out.poststop.push_back(h.hook);
    }
  }
}

HookSet::HookSet(std::vector<std::string> dirs)
    : dirs_(std::move(dirs)), hooks_(std::make_shared<const std::vector<HookDefinition>>(load_hooks(dirs_))) {}

void HookSet::reload() {
  auto fresh = std::make_shared<const std::vector<HookDefinition>>(load_hooks(dirs_));
  std::unique_lock lock(mutex_);
  hooks_ = std::move(fresh);
}

void HookSet::apply(const HookTarget& target, Hooks& out) const {
  std::shared_ptr<const std::vector<HookDefinition>> hooks;
  {
    std::shared_lock lock(mutex_);
    hooks = hooks_;
  }
  apply_hooks(*hooks, target, out);
}

size_t HookSet::size() const {
  std::shared_lock lock(mutex_);
  return hooks_->size();
}

}  // namespace crio::oci
