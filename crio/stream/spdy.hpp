#pragma once
// SPDY/3.1 framing over one connected socket, the transport Kubernetes clients use
// for exec, attach and port-forward after an HTTP upgrade. One session multiplexes
// streams; each stream carries one kind of data (stdin, stdout, a forwarded port...)
// named by its opening headers.
//
// Flow control is not enforced in either direction: the Go clients neither send nor
// honour WINDOW_UPDATE, so a peer that waited for one would stall after 64 KiB. TCP's
// own back-pressure bounds what is in flight instead.
//
// Threading: a reader thread owns the socket's read side and the header inflater;
// writes (any thread) are serialized by one mutex that also guards the deflater, so
// compressed header blocks go out in the order they were compressed.

#include <crio/core/fs.hpp>
#include <crio/core/status.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace crio::daemon::stream {

// Header names as sent on the wire: lower case.
using Headers = std::vector<std::pair<std::string, std::string>>;

class SpdySession;

class SpdyStream {
 public:
  uint32_t id() const { return id_; }
  const Headers& headers() const { return headers_; }
  // The first value of `name` (lower case), or "".
  std::string header(std::string_view name) const;

  // Blocks until data arrives; 0 at the end of the stream (the peer's FIN, a reset,
  // or the session's end).
  size_t read(char* buffer, size_t size);
  // Everything until the end of the stream, at most `limit` bytes.
  std::string read_all(size_t limit = 1 << 20);
  // False once the stream or the session can no longer send.
  bool write(std::string_view data);
  // Half-closes our side (FIN); idempotent.
  void close();
  // Ends both sides at once (RST_STREAM CANCEL).
  void reset();
  // Stops taking input without telling the peer: a blocked read() returns 0 and later
  // data is dropped. For when our side is done but the peer may still be reading.
  void stop_reading();

 private:
  friend class SpdySession;
  SpdyStream(SpdySession& session, uint32_t id, Headers headers)
      : session_(session), id_(id), headers_(std::move(headers)) {}

  SpdySession& session_;
  const uint32_t id_;
  const Headers headers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> chunks_;  // guarded by mu_
  size_t buffered_ = 0;             // guarded by mu_
  bool remote_closed_ = false;      // guarded by mu_
  bool local_closed_ = false;       // guarded by mu_
  bool replied_ = false;            // guarded by mu_ (client streams: SYN_REPLY seen)
};

class SpdySession {
 public:
  enum class Role { kServer, kClient };

  // Takes the socket. `already_read` holds bytes read past the HTTP upgrade response
  // or request that belong to the session.
  SpdySession(fs::UniqueFd socket, Role role, std::string already_read = {},
              std::chrono::milliseconds idle_timeout = std::chrono::milliseconds::zero());
  ~SpdySession();
  SpdySession(const SpdySession&) = delete;
  SpdySession& operator=(const SpdySession&) = delete;

  // The next stream the peer opened (already answered with SYN_REPLY); nullptr when
  // the session ended or the deadline passed.
  std::shared_ptr<SpdyStream> accept(std::chrono::steady_clock::time_point deadline);
  // Opens a stream and waits for the peer's SYN_REPLY.
  Result<std::shared_ptr<SpdyStream>> open(const Headers& headers, std::chrono::milliseconds timeout);

  // Readable (an eventfd) once the session ended: the peer closed, went idle past
  // the timeout, sent GOAWAY, or broke the protocol.
  int closed_fd() const { return closed_event_.get(); }
  bool closed() const;
  // Why the session ended, for logs.
  std::string close_reason() const;

  // Graceful end: GOAWAY, our write side shut, then up to `linger` for the peer to
  // close, so the data already sent is not lost to a reset.
  void finish(std::chrono::milliseconds linger = std::chrono::seconds(2));

 private:
  friend class SpdyStream;

  void read_loop();
  bool read_exact(char* out, size_t n);
  Status handle_control(uint16_t type, uint8_t flags, std::string body);
  void handle_data(uint32_t stream_id, uint8_t flags, std::string body);
  Result<Headers> inflate_headers(std::string_view block);
  std::string deflate_headers(const Headers& headers);  // needs write_mu_
  bool send_frame(const std::string& frame);             // needs write_mu_
  bool send_data(uint32_t stream_id, std::string_view data, bool fin);
  bool send_control(uint16_t type, uint8_t flags, const std::string& body);
  bool send_syn_reply(uint32_t stream_id);
  void send_rst(uint32_t stream_id, uint32_t status);
  // Forgets the stream and closes it for both sides, waking a reader blocked on it.
  void drop_stream(uint32_t stream_id);
  void end(std::string reason);

  fs::UniqueFd socket_;
  const Role role_;
  const std::chrono::milliseconds idle_timeout_;
  fs::UniqueFd closed_event_;
  std::string pending_;  // reader: bytes not yet consumed

  struct Zlib;
  std::unique_ptr<Zlib> zlib_;

  std::mutex write_mu_;
  uint32_t next_stream_id_;  // guarded by write_mu_
  std::chrono::steady_clock::time_point last_activity_;  // guarded by mu_

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint32_t, std::shared_ptr<SpdyStream>> streams_;  // guarded by mu_
  std::deque<std::shared_ptr<SpdyStream>> accept_queue_;     // guarded by mu_
  bool ended_ = false;                                       // guarded by mu_
  std::string end_reason_;                                   // guarded by mu_

  std::thread reader_;
};

}  // namespace crio::daemon::stream
