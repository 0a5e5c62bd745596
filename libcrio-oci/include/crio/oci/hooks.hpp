#pragma once
// OCI hooks from hooks.d directories (the containers "oci-hooks" JSON format, version
// 1.0.0) and the rule that decides which of them a container gets.

#include <crio/core/status.hpp>
#include <crio/oci/export.hpp>
#include <crio/oci/spec.hpp>

#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <shared_mutex>
#include <string>
#include <vector>

namespace crio::oci {

struct HookDefinition {
  std::string file;  // where it was read from, for messages
  Hook hook;
  // Unset conditions are not looked at. All set ones must hold (version 1.0.0) or
  // any one (0.1.0 files, `any`); with `commands`, a matching argv[0] decides.
  std::optional<bool> always;
  std::optional<bool> has_bind_mounts;
  bool any = false;
  std::vector<std::pair<std::regex, std::regex>> annotations;
  std::vector<std::regex> commands;
  std::vector<std::string> stages;  // "prestart", "createRuntime", ...
};

// One hook file; InvalidArgument naming the file and the reason when it is not a
// valid hook of version 1.0.0, or of the legacy 0.1.0 format (no version, or "0.1.0":
// "hook", "arguments", "stage(s)", "cmd(s)", "annotation(s)", "hasbindmounts"), which
// is read as CRI-O reads it.
CRIO_OCI_EXPORT Result<HookDefinition> parse_hook(const std::string& file, const std::string& json);

// Every *.json file of `dirs`, in file-name order; for the same file name the later
// directory wins. Missing directories are skipped; invalid files are logged and skipped.
CRIO_OCI_EXPORT std::vector<HookDefinition> load_hooks(const std::vector<std::string>& dirs);

// What the `when` conditions look at.
struct HookTarget {
  const std::map<std::string, std::string>* annotations = nullptr;
  std::string argv0;
  bool has_bind_mounts = false;
};

// Whether any of the hook's conditions holds for the container.
CRIO_OCI_EXPORT bool hook_matches(const HookDefinition& hook, const HookTarget& target);

// Appends the matching hooks to the spec's stages.
CRIO_OCI_EXPORT void apply_hooks(const std::vector<HookDefinition>& hooks, const HookTarget& target, Hooks& out);

// The hooks of a list of directories, read once (at start-up) rather than on every
// container create; reload() reads them again. Safe to use from many threads.
class CRIO_OCI_EXPORT HookSet {
 public:
  explicit HookSet(std::vector<std::string> dirs);

  void reload();
  void apply(const HookTarget& target, Hooks& out) const;
  size_t size() const;

 private:
  std::vector<std::string> dirs_;
  mutable std::shared_mutex mutex_;
  std::shared_ptr<const std::vector<HookDefinition>> hooks_;  // guarded by mutex_
};

}  // namespace crio::oci
