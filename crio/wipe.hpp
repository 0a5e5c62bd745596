#pragma once
// Restart semantics, as CRI-O's: the version file (in the run directory, so gone after
// a reboot) says whether the pods and containers left from before still have their
// processes and namespaces; the persistent version file says whether this is the same
// major.minor release as the one that made the images; the clean-shutdown marker (and
// its ".supported" companion) says whether the last run stopped cleanly. The daemon acts
// on them at start-up (internal_wipe, internal_repair), and so does `crio wipe`.

#include "cli.hpp"

#include <crio/core/config.hpp>
#include <crio/core/status.hpp>

#include <string>

namespace crio::daemon {

class Pods;
class Containers;
class Images;

// True when `file` is missing, unreadable or malformed, or records another major.minor
// release than this build; false for an empty path (the check is off).
bool version_file_says_wipe(const std::string& file);
// Records this build's version in `file` (JSON string, as CRI-O writes it); "" is a no-op.
Status write_version_file(const std::string& file);

// "<clean_shutdown_file>.supported": written at every start, so that a missing marker
// means a crash rather than an upgrade from a daemon that never wrote one.
std::string clean_shutdown_supported_file(const core::Config& config);
// The marker is configured and supported, and absent.
bool shutdown_was_unclean(const core::Config& config);

// What the start-up wipe found to do.
struct WipeDecision {
  bool containers = false;
  bool images = false;
};
// Read before the version files are rewritten.
WipeDecision wipe_decision(const core::Config& config);

// Removes every pod and container (their processes, namespaces, mounts, cgroups, network
// and layers); with `images`, also the images they used. Best effort, as CRI-O: what
// cannot be removed is logged and left.
void wipe_pods_and_containers(Pods& pods, Containers& containers, Images& images, bool with_images);

// Removes the whole storage root (the layers, images, and crio's own pod and container
// records kept there), unmounting what is mounted below it first.
Status remove_storage_root(const core::Config& config);

// `crio wipe [-f|--force]`; returns the exit code.
int run_wipe(const CommandLine& command_line);

}  // namespace crio::daemon
