// SPDY/3.1 frames and their zlib header blocks, as a client sends them after the
// upgrade to the server side of a session; every stream it opens is then read to
// its end, as the exec and attach code would.
#include "stream/spdy.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

using namespace crio;
using namespace crio::daemon::stream;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
  ::shutdown(fds[1], SHUT_WR);  // the client has said everything
  {
    SpdySession session(fs::UniqueFd(fds[0]), SpdySession::Role::kServer,
                        std::string(reinterpret_cast<const char*>(data), size));
    // The reader ends the session at the end of the input; a hang here is a finding
    // (libFuzzer's -timeout reports it).
    pollfd p{session.closed_fd(), POLLIN, 0};
    while (::poll(&p, 1, -1) < 0) {
    }
    while (auto stream = session.accept(std::chrono::steady_clock::now())) {
      (void)stream->header("streamtype");
      (void)stream->read_all();
    }
  }
  ::close(fds[1]);
  return 0;
}
