#include <crio/oci/hooks.hpp>

#include <crio/core/fs.hpp>
#include <crio/core/log.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <filesystem>
#include <mutex>
#include <optional>

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

Status check_hook_path(const std::string& file, const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return error(Code::kInvalidArgument, "hook {}: hook path \"{}\" is not absolute", file, path);
  }
  std::error_code ec;
  if (!stdfs::is_regular_file(path, ec)) {
    return error(Code::kInvalidArgument, "hook {}: hook path {} is not a file", file, path);
  }
  return ok_status();
}

Status check_stages(const std::string& file, const std::vector<std::string>& stages) {
  if (stages.empty()) return error(Code::kInvalidArgument, "hook {}: stages is empty", file);
  for (const auto& s : stages) {
    if (std::find_if(kStages.begin(), kStages.end(), [&](const char* k) { return s == k; }) == kStages.end()) {
      return error(Code::kInvalidArgument, "hook {}: unknown stage \"{}\"", file, s);
    }
  }
  return ok_status();
}

// One of two spellings of a 0.1.0 property ("stage"/"stages"); both is an error.
Result<std::vector<std::string>> either(const std::string& file, const nlohmann::json& j, const char* a,
                                        const char* b) {
  bool has_a = j.contains(a) && !j[a].is_null(), has_b = j.contains(b) && !j[b].is_null();
  if (has_a && has_b) return error(Code::kInvalidArgument, "hook {}: both \"{}\" and \"{}\" are set", file, a, b);
  return strings(file, has_a ? j[a] : has_b ? j[b] : nlohmann::json(), has_a ? a : b);
}

// The legacy format: any one condition runs the hook; "arguments" follow the path as
// argv[0]; "annotation(s)" are value patterns of any annotation.
Result<HookDefinition> parse_legacy_hook(const std::string& file, const nlohmann::json& j) {
  HookDefinition d;
  d.file = file;
  d.any = true;
  if (!j.contains("hook") || !j["hook"].is_string()) {
    return error(Code::kInvalidArgument, "hook {}: hook (the path) is missing", file);
  }
  d.hook.path = j["hook"].get<std::string>();
  CRIO_RETURN_IF_ERROR(check_hook_path(file, d.hook.path));
  if (j.contains("arguments") && !j["arguments"].is_null()) {
    CRIO_ASSIGN_OR_RETURN(std::vector<std::string> args, strings(file, j["arguments"], "arguments"));
    d.hook.args = {d.hook.path};
    d.hook.args.insert(d.hook.args.end(), args.begin(), args.end());
  }
  CRIO_ASSIGN_OR_RETURN(d.stages, either(file, j, "stages", "stage"));
  CRIO_RETURN_IF_ERROR(check_stages(file, d.stages));
  CRIO_ASSIGN_OR_RETURN(std::vector<std::string> commands, either(file, j, "cmds", "cmd"));
  for (const auto& c : commands) {
    CRIO_ASSIGN_OR_RETURN(std::regex r, compile(file, "command", c));
    d.commands.push_back(std::move(r));
  }
  CRIO_ASSIGN_OR_RETURN(std::vector<std::string> annotations, either(file, j, "annotations", "annotation"));
  if (!annotations.empty()) {
    std::string values;
    for (const auto& a : annotations) values += (values.empty() ? "" : "|") + a;
    CRIO_ASSIGN_OR_RETURN(std::regex kr, compile(file, "annotation key", ".*"));
    CRIO_ASSIGN_OR_RETURN(std::regex vr, compile(file, "annotation", values));
    d.annotations.emplace_back(std::move(kr), std::move(vr));
  }
  if (j.contains("hasbindmounts") && !j["hasbindmounts"].is_null()) {
    if (!j["hasbindmounts"].is_boolean()) {
      return error(Code::kInvalidArgument, "hook {}: hasbindmounts is not a boolean", file);
    }
    d.has_bind_mounts = j["hasbindmounts"].get<bool>();
  }
  return d;
}

}  // namespace

Result<HookDefinition> parse_hook(const std::string& file, const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return error(Code::kInvalidArgument, "hook {}: not a JSON object", file);
  }
  std::string version;
  if (j.contains("version")) {
    if (!j["version"].is_string()) return error(Code::kInvalidArgument, "hook {}: version is not a string", file);
    version = j["version"].get<std::string>();
  }
  if (version.empty() || version == "0.1.0") return parse_legacy_hook(file, j);
  if (version != "1.0.0") {
    return error(Code::kInvalidArgument, "hook {}: unsupported version \"{}\" (1.0.0 or 0.1.0)", file, version);
  }
  HookDefinition d;
  d.file = file;
  const auto& h = j.value("hook", nlohmann::json());
  if (!h.is_object() || !h.contains("path") || !h["path"].is_string()) {
    return error(Code::kInvalidArgument, "hook {}: hook.path is missing", file);
  }
  d.hook.path = h["path"].get<std::string>();
  CRIO_RETURN_IF_ERROR(check_hook_path(file, d.hook.path));
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
  if (w.contains("always") && !w["always"].is_null()) {
    if (!w["always"].is_boolean()) return error(Code::kInvalidArgument, "hook {}: when.always is not a boolean", file);
    d.always = w["always"].get<bool>();
  }
  if (w.contains("hasBindMounts") && !w["hasBindMounts"].is_null()) {
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
  CRIO_RETURN_IF_ERROR(check_stages(file, d.stages));
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
  // Each set condition either decides (any one suffices) or must hold (all of them).
  int held = 0;
  auto verdict = [&](bool holds) -> std::optional<bool> {
    if (holds && hook.any) return true;
    if (!holds && !hook.any) return false;
    if (holds) ++held;
    return std::nullopt;
  };
  if (hook.always) {
    if (auto v = verdict(*hook.always)) return *v;
  }
  if (hook.has_bind_mounts) {
    if (auto v = verdict(*hook.has_bind_mounts && target.has_bind_mounts)) return *v;
  }
  for (const auto& [kr, vr] : hook.annotations) {
    bool any_annotation = false;
    if (target.annotations) {
      for (const auto& [k, v] : *target.annotations) {
        if (found(kr, k) && found(vr, v)) {
          any_annotation = true;
          break;
        }
      }
    }
    if (auto v = verdict(any_annotation)) return *v;
  }
  if (!hook.commands.empty()) {
    return std::any_of(hook.commands.begin(), hook.commands.end(),
                       [&](const std::regex& re) { return found(re, target.argv0); });
  }
  return held > 0;
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
