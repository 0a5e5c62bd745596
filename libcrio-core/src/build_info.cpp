#include <crio/core/build_info.hpp>

#include <fmt/format.h>

namespace crio {

const BuildInfo& build_info() {
  static const BuildInfo info = [] {
    BuildInfo b;
    b.version = CRIO_VERSION;
    b.git_commit = CRIO_GIT_COMMIT;
    b.git_tree_state = CRIO_GIT_TREE_STATE;
    b.build_date = CRIO_BUILD_DATE;
#if defined(__clang__)
    b.compiler = fmt::format("clang++ {}.{}.{}", __clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
    b.compiler = fmt::format("g++ {}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#else
    b.compiler = "unknown";
#endif
#if defined(__x86_64__)
    b.platform = "linux/amd64";
#elif defined(__aarch64__)
    b.platform = "linux/arm64";
#else
    b.platform = "linux/unknown";
#endif
    return b;
  }();
  return info;
}

}  // namespace crio
