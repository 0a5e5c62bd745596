#pragma once
// Pod namespaces without an infra container: a new network, UTS or IPC namespace is
// created by a short-lived thread and kept alive by bind-mounting it onto a file
// (`<dir>/netns/<name>`, `<dir>/utsns/<name>`, `<dir>/ipcns/<name>`). Containers join
// it by path; the daemon's own threads never change namespace.

#include <crio/core/fs.hpp>
#include <crio/core/status.hpp>
#include <crio/net/export.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crio::net {

enum class NamespaceType { kNet, kUts, kIpc };

// "network", "uts", "ipc": the names the OCI runtime spec uses.
CRIO_NET_EXPORT std::string_view namespace_type_name(NamespaceType type);

// A pin file. Owning: the destructor removes the pin (unmount + unlink) unless
// release() was called, so an early return after pin_new_namespace() leaves nothing
// behind. Move-only.
class CRIO_NET_EXPORT PinnedNamespace {
 public:
  PinnedNamespace() = default;
  // Takes ownership of an existing pin, e.g. one read back from state after a restart.
  PinnedNamespace(NamespaceType type, std::string path) : type_(type), path_(std::move(path)) {}
  PinnedNamespace(PinnedNamespace&& o) noexcept : type_(o.type_), path_(std::move(o.path_)) { o.path_.clear(); }
  PinnedNamespace& operator=(PinnedNamespace&& o) noexcept;
  PinnedNamespace(const PinnedNamespace&) = delete;
  PinnedNamespace& operator=(const PinnedNamespace&) = delete;
  ~PinnedNamespace();

  NamespaceType type() const { return type_; }
  // Empty once released, removed or moved from.
  const std::string& path() const { return path_; }
  bool owns() const { return !path_.empty(); }

  // Stops owning the pin and returns its path; the caller now removes it.
  std::string release();
  // Removes the pin now and reports how it went; idempotent.
  Status remove();

 private:
  NamespaceType type_ = NamespaceType::kNet;
  std::string path_;
};

// Creates a new namespace of `type` and pins it at `<dir>/<netns|utsns|ipcns>/<name>`
// (directories are created). For kUts, `hostname` is set inside the new namespace.
// AlreadyExists if a live pin is already there; a stale file (its namespace gone, e.g.
// after a reboot) is replaced. On error nothing is left behind.
CRIO_NET_EXPORT Result<PinnedNamespace> pin_new_namespace(NamespaceType type, const std::string& dir,
                                                          const std::string& name,
                                                          const std::optional<std::string>& hostname = std::nullopt);

// The same pins made by CRI-O's pinns helper at `helper` (`pinns -d DIR -f NAME
// --net --uts --ipc`), for an operator who names one with pinns_path; pinns leaves
// the hostname to its caller, so for kUts `hostname` is set afterwards from a
// throwaway thread. On error nothing is left behind.
CRIO_NET_EXPORT Result<std::vector<PinnedNamespace>> pin_namespaces_with_helper(
    const std::string& helper, const std::string& dir, const std::string& name, const std::vector<NamespaceType>& types,
    const std::optional<std::string>& hostname = std::nullopt);

// The path pin_new_namespace() uses for (type, dir, name).
CRIO_NET_EXPORT std::string pinned_namespace_path(NamespaceType type, const std::string& dir, const std::string& name);

// Unmounts (lazily) and unlinks a pin. A missing file or one that is no longer a
// mount is fine: removing twice succeeds.
CRIO_NET_EXPORT Status remove_pinned_namespace(const std::string& path);

// True when `path` is a mounted namespace file (nsfs). A pin whose mount vanished
// (reboot, someone unmounted it) reports false.
CRIO_NET_EXPORT bool namespace_alive(const std::string& path);

// Sets `lo` up inside the network namespace at `netns_path` (from a throwaway thread,
// so no exec and no change to the caller's namespace).
CRIO_NET_EXPORT Status bring_up_loopback(const std::string& netns_path);

// A TCP connection to `port` on the loopback of the network namespace at
// `netns_path` (the caller's own namespace when empty): 127.0.0.1 first, then ::1.
// The socket lives in that namespace; the caller's thread never enters it.
CRIO_NET_EXPORT Result<fs::UniqueFd> connect_loopback(const std::string& netns_path, uint16_t port,
                                                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace crio::net
