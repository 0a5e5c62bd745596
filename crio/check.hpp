#pragma once
// `crio check`, and the daemon's internal_repair: both go through the store's
// check and repair (storage::Store::check / repair).

#include "cli.hpp"

#include <crio/core/config.hpp>
#include <crio/core/status.hpp>

namespace crio::daemon {

// `crio check [--age|-a DURATION] [--force|-f] [--repair|-r] [--quick|-q] [--wipe|-w]`;
// returns the exit code: 0 when the store is (now) sound, 1 otherwise, 2 for bad usage.
int run_check(const CommandLine& command_line);

// After an unclean shutdown: checks the store and removes what is damaged (containers
// included); when the check or the repair fails, wipes the storage directory.
Status repair_storage_at_start(const core::Config& config);

}  // namespace crio::daemon
