#pragma once
// crio-status: asks a running crio for its status over the HTTP/1.1 API on its socket.
// The whole command line lives here, behind one function, so tests can drive it
// in-process; the executable is a one-line main around run_cli.

#include <iosfwd>

namespace crio::status {

// Exit codes (documented in crio-status(8)), CRI-O's: 0 on success, 1 for every failure
// (a usage error, an unreachable daemon, or an error crio answered with); the message
// on stderr says which.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;

inline constexpr const char* kDefaultSocket = "/var/run/crio/crio.sock";

// Runs `crio-status` with argv[0] being the program name. Output for the user goes to
// `out`, messages about failures to `err`. Returns the exit code; never throws.
int run_cli(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace crio::status
