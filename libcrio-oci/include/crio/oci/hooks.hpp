#pragma once
// OCI hooks from hooks.d directories (the containers "oci-hooks" JSON format, version
// 1.0.0) and the rule that decides which of them a container gets.

#include <crio/core/status.hpp>
#include <crio/oci/spec.hpp>

#include <map>
#include <regex>
#include <string>
#include <vector>

namespace crio::daemon {

struct HookDefinition {
  std::string file;  // where it was read from, for messages
  oci::Hook hook;
  bool always = false;
  bool has_bind_mounts = false;
  std::vector<std::pair<std::regex, std::regex>> annotations;
  std::vector<std::regex> commands;
  std::vector<std::string> stages;  // "prestart", "createRuntime", ...
};

// One hook file; InvalidArgument naming the file and the reason when it is not a
// valid version 1.0.0 hook.
Result<HookDefinition> parse_hook(const std::string& file, const std::string& json);

// Every *.json file of `dirs`, in file-name order; for the same file name the later
// directory wins. Missing directories are skipped; invalid files are logged and skipped.
std::vector<HookDefinition> load_hooks(const std::vector<std::string>& dirs);

// What the `when` conditions look at.
struct HookTarget {
  const std::map<std::string, std::string>* annotations = nullptr;
  std::string argv0;
  bool has_bind_mounts = false;
};

// Whether any of the hook's conditions holds for the container.
bool hook_matches(const HookDefinition& hook, const HookTarget& target);

// Appends the matching hooks to the spec's stages.
void apply_hooks(const std::vector<HookDefinition>& hooks, const HookTarget& target, oci::Hooks& out);

}  // namespace crio::daemon
