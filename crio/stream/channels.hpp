#pragma once
// The exec and attach protocol ("remotecommand") apart from its transport: the same
// handler serves a SPDY session (one stream per channel) and a WebSocket (one byte
// of channel number in front of every message).

#include "stream/server.hpp"
#include "stream/spdy.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace crio::daemon::stream {

// The protocol versions of the remotecommand subprotocol, in the server's order of
// preference. v4 reports the exit status as a JSON Status on the error channel, v3
// added the resize channel, v2 and v1 report errors as plain text.
inline constexpr std::string_view kRemoteCommandV5 = "v5.channel.k8s.io";
inline constexpr std::string_view kRemoteCommandV4 = "v4.channel.k8s.io";
inline constexpr std::string_view kRemoteCommandV3 = "v3.channel.k8s.io";
inline constexpr std::string_view kRemoteCommandV2 = "v2.channel.k8s.io";
inline constexpr std::string_view kRemoteCommandV1 = "channel.k8s.io";
inline constexpr std::string_view kPortForwardV1 = "portforward.k8s.io";

int remote_command_version(std::string_view protocol);  // 1..5, 0 when unknown

// What goes on the error channel when a command ends (nullopt: success; an exit
// code; or -1 with `message` for a failure that is not the command's): a
// Kubernetes Status object from protocol v4 on, plain text before (empty on success).
std::string remote_command_result(int protocol_version, std::optional<int> exit_code, const std::string& message);

// Writes all of `data` to a socket (no SIGPIPE); false once the peer is gone.
bool send_all(int fd, std::string_view data);
// Copies from `read` (0 at its end) to the socket `fd` until either side ends, then
// shuts down the socket's write side when the input ended: the peer sees the end.
void copy_to_socket(const std::function<size_t(char*, size_t)>& read, int fd, size_t chunk);

// What a remotecommand handler needs from its transport. Reads block; every call
// returns promptly once the connection is gone.
class Channels {
 public:
  virtual ~Channels() = default;
  // Waits for the client to open what the request announced; false (after writing
  // the reason where possible) when it does not in time.
  virtual bool ready() = 0;
  virtual bool has_stdin() const = 0;
  virtual bool has_stdout() const = 0;
  virtual bool has_stderr() const = 0;
  // 0 at the end of the client's input.
  virtual size_t read_stdin(char* buffer, size_t size) = 0;
  // The next terminal size the client sends; nullopt once it sends no more.
  virtual std::optional<oci::TerminalSize> next_resize() = 0;
  virtual bool write_stdout(std::string_view data) = 0;
  virtual bool write_stderr(std::string_view data) = 0;
  // Reports the outcome (nullopt: success; otherwise the exit code, or -1 with
  // `message` for a failure that is not the command's) and closes every channel.
  virtual void finish(std::optional<int> exit_code, const std::string& message) = 0;
  // Readable once the client went away.
  virtual int closed_fd() const = 0;
};

struct ChannelRequest {
  bool tty = false;
  bool stdin = false;
  bool stdout = false;
  bool stderr = false;
};

std::unique_ptr<Channels> spdy_channels(SpdySession& session, int protocol_version, ChannelRequest request,
                                        std::chrono::milliseconds creation_timeout);

// The handlers run on the connection's thread until the command ends or the client
// leaves.
void serve_exec(Channels& channels, Backend& backend, const ExecRequest& request);
void serve_attach(Channels& channels, Backend& backend, const AttachRequest& request);
void serve_port_forward(SpdySession& session, Backend& backend, const PortForwardRequest& request);

}  // namespace crio::daemon::stream
