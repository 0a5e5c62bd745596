// storage.conf (containers-storage.conf(5)): the storage defaults crio starts from.
// It is only ever read from a file, so each input is written to one first.
#include <crio/core/config.hpp>

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {
std::string conf_path() {
  static const std::string path = [] {
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp && *tmp ? tmp : "/tmp") + "/crio-fuzz-storage-" + std::to_string(::getpid()) + ".conf";
  }();
  return path;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = conf_path();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  crio::core::ConfigSources sources;
  sources.storage_conf = path;
  auto config = crio::core::defaults_for(sources);
  if (config.ok()) (void)crio::core::validate(*config);
  ::unlink(path.c_str());
  return 0;
}
