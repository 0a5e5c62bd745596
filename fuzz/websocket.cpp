// WebSocket frames (RFC 6455) and the Kubernetes channel messages inside them, as a
// client sends them after the upgrade: attach with a terminal (stdin and resize JSON
// on channels 0 and 4, v5's close channel 255), attach without one, and port-forward.
// The first byte picks the request; the rest is what the client sent.
#include "stream/websocket.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using namespace crio;
using namespace crio::daemon::stream;

// A container console and a pod's ports, as socket pairs whose far ends the harness
// keeps open (the server's side only sees silence from them).
class FakeBackend final : public Backend {
 public:
  ~FakeBackend() override {
    for (int fd : far_ends_) ::close(fd);
  }
  Result<std::unique_ptr<oci::ExecSession>> exec(const ExecRequest&, std::optional<oci::TerminalSize>) override {
    return error(Code::kUnimplemented, "no exec in the fuzz harness");
  }
  Result<fs::UniqueFd> attach(const std::string&) override { return pair(SOCK_SEQPACKET); }
  Status resize(const std::string&, oci::TerminalSize) override { return ok_status(); }
  Result<fs::UniqueFd> dial(const std::string&, uint16_t port) override {
    if (port == 9090) return error(Code::kUnavailable, "connection refused");
    return pair(SOCK_STREAM);
  }

 private:
  Result<fs::UniqueFd> pair(int type) {
    int fds[2];
    if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
    far_ends_.push_back(fds[1]);
    return fs::UniqueFd(fds[0]);
  }
  std::vector<int> far_ends_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string frames(reinterpret_cast<const char*>(data) + 1, size - 1);
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
  // The client has said everything: the server reads the frames, then end of stream.
  ::shutdown(fds[1], SHUT_WR);
  FakeBackend backend;
  const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
  switch (data[0] % 3) {
    case 0:
      serve_websocket(fds[0], key, {"v5.channel.k8s.io"}, {}, std::move(frames),
                      AttachRequest{"ctr", true, true, true, false}, backend, std::chrono::milliseconds::zero());
      break;
    case 1:
      serve_websocket(fds[0], key, {"v4.channel.k8s.io"}, {}, std::move(frames),
                      AttachRequest{"ctr", false, true, true, true}, backend, std::chrono::milliseconds::zero());
      break;
    case 2:
      serve_websocket(fds[0], key, {"portforward.k8s.io"}, {"8080", "9090"}, std::move(frames),
                      PortForwardRequest{"pod", {8080, 9090}}, backend, std::chrono::milliseconds::zero());
      break;
  }
  ::close(fds[0]);
  ::close(fds[1]);
  return 0;
}
