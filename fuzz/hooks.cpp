// hooks.d JSON files (oci-hooks(5)), both formats, and a match of the parsed hook
// against a container.
#include <crio/oci/hooks.hpp>

#include <cstdint>
#include <map>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto hook = crio::oci::parse_hook("/etc/containers/oci/hooks.d/fuzz.json", text);
  if (!hook.ok()) return 0;
  std::map<std::string, std::string> annotations = {{"io.kubernetes.cri-o.fuzz", "yes"}, {"a", "b"}};
  crio::oci::HookTarget target;
  target.annotations = &annotations;
  target.argv0 = "/bin/sh";
  target.has_bind_mounts = true;
  (void)crio::oci::hook_matches(*hook, target);
  return 0;
}
