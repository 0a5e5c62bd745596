#include "stream/websocket.hpp"

#include "stream/channels.hpp"

#include <crio/core/log.hpp>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace crio::daemon::stream {
namespace {

constexpr uint8_t kOpContinuation = 0x0;
constexpr uint8_t kOpText = 0x1;
constexpr uint8_t kOpBinary = 0x2;
constexpr uint8_t kOpClose = 0x8;
constexpr uint8_t kOpPing = 0x9;
constexpr uint8_t kOpPong = 0xa;
constexpr size_t kMaxMessage = 16 * 1024 * 1024;
constexpr size_t kMaxFramePayload = 64 * 1024;
constexpr uint8_t kChannelClose = 255;

std::string accept_key(const std::string& key) {
  std::string input = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";  // RFC 6455's fixed GUID
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char out[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n));
}

// One WebSocket connection, server side: a reader thread hands complete data
// messages to `on_message`; any thread may send.
class WsConnection {
 public:
  WsConnection(int fd, std::string already_read, std::chrono::milliseconds idle_timeout,
               std::function<void(std::string)> on_message)
      : fd_(::fcntl(fd, F_DUPFD_CLOEXEC, 0)),
        pending_(std::move(already_read)),
        idle_timeout_(idle_timeout),
        on_message_(std::move(on_message)),
        closed_event_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

  ~WsConnection() {
    end();
    ::shutdown(fd_.get(), SHUT_RDWR);
    if (reader_.joinable()) reader_.join();
  }

  void start() { reader_ = std::thread([this] { read_loop(); }); }

  bool send_message(std::string_view payload, uint8_t opcode = kOpBinary) {
    std::lock_guard lock(write_mu_);
    if (closed()) return false;
    return send_frame(opcode, payload);
  }

  // A message on `channel`, split into frames of bounded size.
  bool send_channel(uint8_t channel, std::string_view data) {
    std::string message(1, static_cast<char>(channel));
    message.append(data);
    return send_message(message);
  }

  // Close frame (normal closure), then up to `linger` for the peer's close.
  void finish(std::chrono::milliseconds linger = std::chrono::seconds(2)) {
    {
      std::lock_guard lock(write_mu_);
      if (!sent_close_ && !closed()) send_frame(kOpClose, std::string("\x03\xe8", 2));
      sent_close_ = true;
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, linger, [&] { return ended_; });
    lock.unlock();
    end();
    ::shutdown(fd_.get(), SHUT_RDWR);
    if (reader_.joinable()) reader_.join();
  }

  int closed_fd() const { return closed_event_.get(); }
  bool closed() const {
    std::lock_guard lock(mu_);
    return ended_;
  }

 private:
  bool send_frame(uint8_t opcode, std::string_view payload) {  // needs write_mu_
    std::string frame;
    frame.push_back(static_cast<char>(0x80 | opcode));
    if (payload.size() < 126) {
      frame.push_back(static_cast<char>(payload.size()));
    } else if (payload.size() <= 0xffff) {
      frame.push_back(126);
      frame.push_back(static_cast<char>(payload.size() >> 8));
      frame.push_back(static_cast<char>(payload.size() & 0xff));
    } else {
      frame.push_back(127);
      for (int i = 7; i >= 0; --i) frame.push_back(static_cast<char>((static_cast<uint64_t>(payload.size()) >> (8 * i)) & 0xff));
    }
    frame.append(payload);
    if (!send_all(fd_.get(), frame)) {
      end();
      return false;
    }
    touch();
    return true;
  }

  void touch() {
    std::lock_guard lock(mu_);
    last_activity_ = std::chrono::steady_clock::now();
  }

  void end() {
    {
      std::lock_guard lock(mu_);
      if (ended_) return;
      ended_ = true;
      cv_.notify_all();
    }
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(closed_event_.get(), &one, sizeof one);
  }

  bool read_exact(char* out, size_t n) {
    while (pending_.size() < n) {
      if (idle_timeout_.count() > 0) {
        pollfd p{fd_.get(), POLLIN, 0};
        int r = ::poll(&p, 1, 1000);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) {
          std::lock_guard lock(mu_);
          if (ended_ || std::chrono::steady_clock::now() - last_activity_ >= idle_timeout_) return false;
          continue;
        }
      }
      char buf[65536];
      ssize_t r = ::read(fd_.get(), buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      pending_.append(buf, static_cast<size_t>(r));
      touch();
    }
    std::memcpy(out, pending_.data(), n);
    pending_.erase(0, n);
    return true;
  }

  void read_loop() {
    std::string message;
    uint8_t message_op = 0;
    for (;;) {
      unsigned char h[2];
      if (!read_exact(reinterpret_cast<char*>(h), 2)) break;
      bool fin = h[0] & 0x80;
      uint8_t op = h[0] & 0x0f;
      bool masked = h[1] & 0x80;
      uint64_t len = h[1] & 0x7f;
      if (len == 126 || len == 127) {
        unsigned char ext[8];
        size_t n = len == 126 ? 2 : 8;
        if (!read_exact(reinterpret_cast<char*>(ext), n)) break;
        len = 0;
        for (size_t i = 0; i < n; ++i) len = len << 8 | ext[i];
      }
      if (!masked || len > kMaxMessage) break;  // clients must mask (RFC 6455 5.1)
      unsigned char mask[4];
      if (!read_exact(reinterpret_cast<char*>(mask), 4)) break;
      std::string payload(len, '\0');
      if (len > 0 && !read_exact(payload.data(), len)) break;
      for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(payload[i] ^ mask[i % 4]);
      if (op == kOpPing) {
        send_message(payload, kOpPong);
      } else if (op == kOpPong) {
      } else if (op == kOpClose) {
        std::lock_guard lock(write_mu_);
        if (!sent_close_) send_frame(kOpClose, payload.substr(0, 2));
        sent_close_ = true;
        break;
      } else if (op == kOpText || op == kOpBinary || op == kOpContinuation) {
        if (op != kOpContinuation) message_op = op;
        message += payload;
        if (message.size() > kMaxMessage) break;
        if (fin) {
          if (message_op == kOpBinary) on_message_(std::move(message));
          message.clear();
        }
      }
    }
    end();
  }

  fs::UniqueFd fd_;
  std::string pending_;
  const std::chrono::milliseconds idle_timeout_;
  std::function<void(std::string)> on_message_;
  fs::UniqueFd closed_event_;
  std::thread reader_;
  std::mutex write_mu_;
  bool sent_close_ = false;  // guarded by write_mu_
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool ended_ = false;  // guarded by mu_
  std::chrono::steady_clock::time_point last_activity_ = std::chrono::steady_clock::now();  // guarded by mu_
};

// A FIFO of messages for one channel; empty + closed is the end.
class Inbox {
 public:
  void push(std::string data) {
    std::lock_guard lock(mu_);
    if (closed_) return;
    queue_.push_back(std::move(data));
    cv_.notify_all();
  }
  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  std::optional<std::string> pop() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !queue_.empty() || closed_; });
    if (queue_.empty()) return std::nullopt;
    std::string s = std::move(queue_.front());
    queue_.pop_front();
    return s;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool closed_ = false;
};

class WsChannels final : public Channels {
 public:
  WsChannels(int fd, std::string already_read, std::chrono::milliseconds idle, int version, ChannelRequest request)
      : version_(version),
        request_(request),
        conn_(fd, std::move(already_read), idle, [this](std::string m) { dispatch(std::move(m)); }) {
    conn_.start();
    watcher_ = std::thread([this] {
      pollfd p{conn_.closed_fd(), POLLIN, 0};
      while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
      }
      stdin_.close();
      resize_.close();
    });
  }
  ~WsChannels() override {
    conn_.finish(std::chrono::milliseconds::zero());
    if (watcher_.joinable()) watcher_.join();
  }

  bool ready() override { return true; }
  bool has_stdin() const override { return request_.stdin; }
  bool has_stdout() const override { return request_.stdout; }
  bool has_stderr() const override { return request_.stderr; }

  size_t read_stdin(char* buffer, size_t size) override {
    while (stdin_rest_.empty()) {
      auto m = stdin_.pop();
      if (!m) return 0;
      stdin_rest_ = std::move(*m);
    }
    size_t n = std::min(size, stdin_rest_.size());
    std::memcpy(buffer, stdin_rest_.data(), n);
    stdin_rest_.erase(0, n);
    return n;
  }

  std::optional<oci::TerminalSize> next_resize() override {
    for (;;) {
      auto m = resize_.pop();
      if (!m) return std::nullopt;
      auto j = nlohmann::json::parse(*m, nullptr, false);
      if (j.is_discarded() || !j.is_object()) continue;
      auto dim = [&](const char* key) -> uint16_t {
        return j.contains(key) && j[key].is_number_unsigned()
                   ? static_cast<uint16_t>(std::min<uint64_t>(j[key].get<uint64_t>(), 0xffff))
                   : 0;
      };
      return oci::TerminalSize{dim("Width"), dim("Height")};
    }
  }

  bool write_stdout(std::string_view data) override { return request_.stdout && write_chunked(1, data); }
  bool write_stderr(std::string_view data) override { return request_.stderr && write_chunked(2, data); }

  void finish(std::optional<int> exit_code, const std::string& message) override {
    if (std::string result = remote_command_result(version_, exit_code, message); !result.empty()) {
      conn_.send_channel(3, result);
    }
    stdin_.close();
    resize_.close();
    conn_.finish();
  }

  int closed_fd() const override { return conn_.closed_fd(); }

 private:
  bool write_chunked(uint8_t channel, std::string_view data) {
    while (!data.empty()) {
      size_t n = std::min(data.size(), kMaxFramePayload);
      if (!conn_.send_channel(channel, data.substr(0, n))) return false;
      data.remove_prefix(n);
    }
    return true;
  }

  void dispatch(std::string message) {
    if (message.empty()) return;
    uint8_t channel = static_cast<uint8_t>(message[0]);
    message.erase(0, 1);
    if (channel == 0) {
      if (!message.empty()) stdin_.push(std::move(message));
    } else if (channel == 4) {
      resize_.push(std::move(message));
    } else if (channel == kChannelClose && version_ >= 5 && !message.empty()) {
      if (message[0] == 0) stdin_.close();
      if (static_cast<uint8_t>(message[0]) == 4) resize_.close();
    }
  }

  const int version_;
  const ChannelRequest request_;
  Inbox stdin_, resize_;
  std::string stdin_rest_;
  WsConnection conn_;
  std::thread watcher_;
};

std::optional<uint16_t> parse_port(const std::string& text) {
  int port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port < 1 || port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

void serve_websocket_port_forward(int fd, std::string already_read, std::chrono::milliseconds idle,
                                  const std::vector<uint16_t>& ports, const PortForwardRequest& request,
                                  Backend& backend) {
  std::vector<fs::UniqueFd> conns(ports.size());
  std::mutex mu;
  WsConnection conn(fd, std::move(already_read), idle, [&](std::string m) {
    if (m.empty()) return;
    size_t channel = static_cast<uint8_t>(m[0]);
    if (channel % 2 != 0 || channel / 2 >= conns.size()) return;
    std::lock_guard lock(mu);
    int target = conns[channel / 2].get();
    if (target >= 0) send_all(target, std::string_view(m).substr(1));
  });
  for (size_t i = 0; i < ports.size(); ++i) {
    std::string port_le{static_cast<char>(ports[i] & 0xff), static_cast<char>(ports[i] >> 8)};
    auto dialed = backend.dial(request.pod_id, ports[i]);
    conn.send_channel(static_cast<uint8_t>(2 * i), port_le);
    conn.send_channel(static_cast<uint8_t>(2 * i + 1), port_le);
    if (!dialed.ok()) {
      conn.send_channel(static_cast<uint8_t>(2 * i + 1),
                        fmt::format("an error occurred forwarding port {} of pod {}: {}", ports[i], request.pod_id,
                                    dialed.status().message()));
      continue;
    }
    std::lock_guard lock(mu);
    conns[i] = std::move(*dialed);
  }
  conn.start();
  // Pod → client for every port until any side closes: one connection per WebSocket.
  std::vector<pollfd> polls;
  for (const auto& c : conns) polls.push_back({c.valid() ? c.get() : -1, POLLIN, 0});
  polls.push_back({conn.closed_fd(), POLLIN, 0});
  char buf[32768];
  bool open = true;
  while (open) {
    if (::poll(polls.data(), polls.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (polls.back().revents & POLLIN) break;
    for (size_t i = 0; i + 1 < polls.size(); ++i) {
      if (polls[i].fd < 0 || !(polls[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::recv(polls[i].fd, buf, sizeof buf, 0);
      if (n <= 0) {
        open = false;
        break;
      }
      conn.send_channel(static_cast<uint8_t>(2 * i), std::string_view(buf, static_cast<size_t>(n)));
    }
  }
  conn.finish();
  std::lock_guard lock(mu);
  for (auto& c : conns) c.reset();
}

void reply(int fd, int code, std::string_view reason, const std::string& body) {
  send_all(fd, fmt::format("HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n"
                           "Connection: close\r\n\r\n{}\n",
                           code, reason, body.size() + 1, body));
}

}  // namespace

void serve_websocket(int fd, const std::string& key, const std::vector<std::string>& protocols,
                     const std::vector<std::string>& ports, std::string already_read, const AnyRequest& request,
                     Backend& backend, std::chrono::milliseconds idle_timeout) {
  if (key.empty()) {
    reply(fd, 400, "Bad Request", "websocket upgrade without Sec-WebSocket-Key");
    return;
  }
  const bool port_forward = std::holds_alternative<PortForwardRequest>(request);
  // Binary channel protocols only: the base64 variants are for browsers.
  std::vector<std::string_view> supported =
      port_forward ? std::vector<std::string_view>{kPortForwardV1, kRemoteCommandV4, kRemoteCommandV1}
                   : std::vector<std::string_view>{kRemoteCommandV5, kRemoteCommandV4, kRemoteCommandV3,
                                                   kRemoteCommandV2, kRemoteCommandV1};
  std::string protocol;
  for (const auto& offered : protocols) {
    for (auto s : supported) {
      if (offered == s && protocol.empty()) protocol = offered;
    }
  }
  if (protocol.empty() && !protocols.empty()) {
    reply(fd, 403, "Forbidden",
          fmt::format("unable to upgrade: no common websocket protocol (client offered {}, server accepts {})",
                      fmt::join(protocols, ", "), fmt::join(supported, ", ")));
    return;
  }
  std::vector<uint16_t> port_numbers;
  if (port_forward) {
    for (const auto& p : ports) {
      auto n = parse_port(p);
      if (!n) {
        reply(fd, 400, "Bad Request", fmt::format("invalid port {:?}", p));
        return;
      }
      port_numbers.push_back(*n);
    }
    if (port_numbers.empty()) {
      reply(fd, 400, "Bad Request", "port-forward over websocket needs at least one port query parameter");
      return;
    }
  }
  std::string response = fmt::format("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                     "Sec-WebSocket-Accept: {}\r\n",
                                     accept_key(key));
  if (!protocol.empty()) response += fmt::format("Sec-WebSocket-Protocol: {}\r\n", protocol);
  response += "\r\n";
  if (!send_all(fd, response)) return;

  int version = protocol.empty() ? 1 : std::max(1, remote_command_version(protocol));
  if (auto* exec = std::get_if<ExecRequest>(&request)) {
    WsChannels channels(fd, std::move(already_read), idle_timeout, version,
                        {exec->tty, exec->stdin, exec->stdout, exec->stderr && !exec->tty});
    serve_exec(channels, backend, *exec);
  } else if (auto* attach = std::get_if<AttachRequest>(&request)) {
    WsChannels channels(fd, std::move(already_read), idle_timeout, version,
                        {attach->tty, attach->stdin, attach->stdout, attach->stderr && !attach->tty});
    serve_attach(channels, backend, *attach);
  } else {
    serve_websocket_port_forward(fd, std::move(already_read), idle_timeout, port_numbers,
                                 std::get<PortForwardRequest>(request), backend);
  }
}

}  // namespace crio::daemon::stream
