#pragma once
// Watches conmon's exit directory with inotify and calls back, from its own thread, as
// soon as an exit file `<dir>/<container id>` appears.

#include <crio/core/status.hpp>
#include <crio/oci/export.hpp>

#include <functional>
#include <memory>
#include <string>

namespace crio::oci {

class CRIO_OCI_EXPORT ExitWatcher {
 public:
  using Callback = std::function<void(const std::string& id)>;

  // Creates `dir` if needed and starts watching. With `report_existing`, files already
  // there are reported first (exits that happened while nobody watched). A callback
  // may be called more than once for one id; it must not block for long.
  static Result<std::unique_ptr<ExitWatcher>> start(const std::string& dir, Callback callback,
                                                    bool report_existing = false);
  ~ExitWatcher();  // stops the thread; no callback runs after it returns
  ExitWatcher(const ExitWatcher&) = delete;
  ExitWatcher& operator=(const ExitWatcher&) = delete;

  const std::string& dir() const;

 private:
  struct Impl;
  explicit ExitWatcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crio::oci
