// Exec and attach over any transport (see channels.hpp), and the SPDY transport.

#include "stream/channels.hpp"

#include <crio/core/log.hpp>

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace crio::daemon::stream {

int remote_command_version(std::string_view protocol) {
  if (protocol == kRemoteCommandV5) return 5;
  if (protocol == kRemoteCommandV4) return 4;
  if (protocol == kRemoteCommandV3) return 3;
  if (protocol == kRemoteCommandV2) return 2;
  if (protocol == kRemoteCommandV1) return 1;
  return 0;
}

std::string remote_command_result(int protocol_version, std::optional<int> exit_code, const std::string& message) {
  std::string failure = exit_code && *exit_code >= 0
                            ? fmt::format("command terminated with non-zero exit code: exit status {}", *exit_code)
                            : message;
  if (protocol_version < 4) return exit_code ? failure : "";
  nlohmann::json status = {{"metadata", nlohmann::json::object()}};
  if (!exit_code) {
    status["status"] = "Success";
  } else if (*exit_code >= 0) {
    status["status"] = "Failure";
    status["message"] = failure;
    status["reason"] = "NonZeroExitCode";
    status["details"] = {
        {"causes", nlohmann::json::array({{{"reason", "ExitCode"}, {"message", std::to_string(*exit_code)}}})}};
  } else {
    status["status"] = "Failure";
    status["message"] = message;
    status["reason"] = "InternalError";
    status["code"] = 500;
  }
  return status.dump();
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void copy_to_socket(const std::function<size_t(char*, size_t)>& read, int fd, size_t chunk) {
  std::vector<char> buf(chunk);
  for (;;) {
    size_t n = read(buf.data(), buf.size());
    if (n == 0) break;
    if (!send_all(fd, std::string_view(buf.data(), n))) return;
  }
  ::shutdown(fd, SHUT_WR);
}

namespace {

using json = nlohmann::json;

std::optional<oci::TerminalSize> parse_size(const std::string& line) {
  auto j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  auto dim = [&](const char* key) -> uint16_t {
    if (!j.contains(key) || !j[key].is_number_unsigned()) return 0;
    return static_cast<uint16_t>(std::min<uint64_t>(j[key].get<uint64_t>(), 0xffff));
  };
  return oci::TerminalSize{dim("Width"), dim("Height")};
}

class SpdyChannels final : public Channels {
 public:
  SpdyChannels(SpdySession& session, int version, ChannelRequest request, std::chrono::milliseconds timeout)
      : session_(session), version_(version), request_(request), timeout_(timeout) {}

  bool ready() override {
    size_t expected = 1 + request_.stdin + request_.stdout + request_.stderr +
                      (request_.tty && version_ >= 3 ? 1 : 0);
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    size_t got = 0;
    while (got < expected) {
      auto s = session_.accept(deadline);
      if (!s) break;
      std::string type = s->header("streamtype");
      std::shared_ptr<SpdyStream>* slot = type == "error"    ? &error_
                                          : type == "stdin"  ? &stdin_
                                          : type == "stdout" ? &stdout_
                                          : type == "stderr" ? &stderr_
                                          : type == "resize" ? &resize_
                                                             : nullptr;
      if (!slot || *slot) {
        s->reset();
        continue;
      }
      *slot = std::move(s);
      ++got;
    }
    if (got < expected) {
      std::string why = session_.closed() ? "the client closed the connection before opening its streams"
                                          : "timed out waiting for the client to open its streams";
      log::warn("stream: exec/attach session not started", {{"reason", why}});
      finish(-1, why);
      return false;
    }
    return true;
  }

  bool has_stdin() const override { return stdin_ != nullptr; }
  bool has_stdout() const override { return stdout_ != nullptr; }
  bool has_stderr() const override { return stderr_ != nullptr; }

  size_t read_stdin(char* buffer, size_t size) override { return stdin_ ? stdin_->read(buffer, size) : 0; }

  std::optional<oci::TerminalSize> next_resize() override {
    if (!resize_) return std::nullopt;
    for (;;) {
      if (auto nl = resize_buffer_.find('\n'); nl != std::string::npos) {
        std::string line = resize_buffer_.substr(0, nl);
        resize_buffer_.erase(0, nl + 1);
        if (auto size = parse_size(line)) return size;
        continue;
      }
      char buf[512];
      size_t n = resize_->read(buf, sizeof buf);
      if (n == 0) {
        if (resize_buffer_.empty()) return std::nullopt;
        std::string last = std::exchange(resize_buffer_, {});
        return parse_size(last);
      }
      resize_buffer_.append(buf, n);
      if (resize_buffer_.size() > 65536) return std::nullopt;  // not a size message
    }
  }

  bool write_stdout(std::string_view data) override { return stdout_ && stdout_->write(data); }
  bool write_stderr(std::string_view data) override { return stderr_ && stderr_->write(data); }

  void finish(std::optional<int> exit_code, const std::string& message) override {
    if (stdout_) stdout_->close();
    if (stderr_) stderr_->close();
    if (error_) {
      if (std::string result = remote_command_result(version_, exit_code, message); !result.empty()) error_->write(result);
      error_->close();
    }
    if (stdin_) stdin_->stop_reading();
    if (resize_) resize_->stop_reading();
    session_.finish();
  }

  int closed_fd() const override { return session_.closed_fd(); }

 private:
  SpdySession& session_;
  const int version_;
  const ChannelRequest request_;
  const std::chrono::milliseconds timeout_;
  std::shared_ptr<SpdyStream> error_, stdin_, stdout_, stderr_, resize_;
  std::string resize_buffer_;
};

bool readable(const pollfd& p) { return (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0; }

// Signalled when the handler is done: an eventfd its helper threads poll beside
// their own fds, so none stays blocked in a write.
struct Done {
  fs::UniqueFd fd{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  void signal() {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(fd.get(), &one, sizeof one);
  }
};

// Writes everything to a non-blocking fd, waiting for room; false when the reader
// is gone or `done` fired.
bool write_all(int fd, std::string_view data, int done_fd) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return false;
    pollfd p[2] = {{fd, POLLOUT, 0}, {done_fd, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0 && errno != EINTR) return false;
    if (p[1].revents & POLLIN) return false;
    if (p[0].revents & (POLLERR | POLLHUP)) return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<Channels> spdy_channels(SpdySession& session, int protocol_version, ChannelRequest request,
                                        std::chrono::milliseconds creation_timeout) {
  return std::make_unique<SpdyChannels>(session, protocol_version, request, creation_timeout);
}

void serve_exec(Channels& channels, Backend& backend, const ExecRequest& request) {
  if (!channels.ready()) return;
  ExecRequest effective = request;
  effective.stdin = request.stdin && channels.has_stdin();

  // Terminal sizes: the client sends its current size as soon as its streams are
  // open. The first one is given to the runtime at start, so that a command which
  // asks at once (`stty size`) already sees it; later ones resize the running session.
  struct {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<oci::TerminalSize> latest;
    oci::ExecSession* session = nullptr;
    bool ended = false;
  } sizes;
  std::thread resizer;
  if (request.tty) {
    resizer = std::thread([&] {
      while (auto size = channels.next_resize()) {
        std::lock_guard lock(sizes.mu);
        sizes.latest = size;
        // A failed resize leaves the old size; the session goes on.
        if (sizes.session) (void)sizes.session->resize(*size);
        sizes.cv.notify_all();
      }
      std::lock_guard lock(sizes.mu);
      sizes.ended = true;
      sizes.cv.notify_all();
    });
  }
  std::optional<oci::TerminalSize> initial;
  if (request.tty) {
    std::unique_lock lock(sizes.mu);
    sizes.cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return sizes.latest || sizes.ended; });
    initial = sizes.latest;
  }

  auto started = backend.exec(effective, initial);
  if (!started.ok()) {
    log::info("stream: exec failed", {{"container", request.container_id}, {"error", started.status().message()}});
    channels.finish(-1, std::string(started.status().message()));
    if (resizer.joinable()) resizer.join();
    return;
  }
  std::unique_ptr<oci::ExecSession> session = std::move(*started);
  {
    std::lock_guard lock(sizes.mu);
    sizes.session = session.get();
    bool changed = sizes.latest && (!initial || sizes.latest->width != initial->width ||
                                    sizes.latest->height != initial->height);
    if (changed) (void)session->resize(*sizes.latest);
  }
  Done done;

  int in_fd = session->stdin_fd();
  if (in_fd >= 0) ::fcntl(in_fd, F_SETFL, ::fcntl(in_fd, F_GETFL) | O_NONBLOCK);
  std::thread input;
  if (effective.stdin && in_fd >= 0) {
    input = std::thread([&] {
      char buf[32768];
      for (;;) {
        size_t n = channels.read_stdin(buf, sizeof buf);
        if (n == 0) break;
        if (!write_all(in_fd, std::string_view(buf, n), done.fd.get())) return;
      }
      session->close_stdin();
    });
  }
  // Copy the command's output until it closes both, or until the client leaves.
  int out_fd = session->stdout_fd();
  int err_fd = request.tty ? -1 : session->stderr_fd();
  bool client_gone = false;
  char buf[32768];
  while (out_fd >= 0 || err_fd >= 0) {
    pollfd p[3] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}, {channels.closed_fd(), POLLIN, 0}};
    if (::poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[2].revents & POLLIN) {
      client_gone = true;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (!readable(p[i])) continue;
      int& fd = i == 0 ? out_fd : err_fd;
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {  // EOF; EIO on a terminal whose other side closed
        fd = -1;
        continue;
      }
      std::string_view data(buf, static_cast<size_t>(n));
      if (i == 0) {
        channels.write_stdout(data);
      } else {
        channels.write_stderr(data);
      }
    }
  }
  if (client_gone) session->kill();
  auto exit_code = session->wait(std::chrono::milliseconds::zero());
  if (!exit_code.ok()) {
    channels.finish(-1, std::string(exit_code.status().message()));
  } else {
    channels.finish(*exit_code == 0 ? std::nullopt : std::optional<int>(*exit_code), "");
  }
  done.signal();
  if (input.joinable()) input.join();
  if (resizer.joinable()) resizer.join();
}

void serve_attach(Channels& channels, Backend& backend, const AttachRequest& request) {
  if (!channels.ready()) return;
  auto connected = backend.attach(request.container_id);
  if (!connected.ok()) {
    log::info("stream: attach failed", {{"container", request.container_id}, {"error", connected.status().message()}});
    channels.finish(-1, std::string(connected.status().message()));
    return;
  }
  fs::UniqueFd console = std::move(*connected);
  int fd = console.get();
  Done done;

  std::thread input;
  if (request.stdin && channels.has_stdin()) {
    // conmon reads one packet into a buffer of 8 KiB; a larger one would be cut.
    input = std::thread([&] { copy_to_socket([&](char* b, size_t n) { return channels.read_stdin(b, n); }, fd, 8192); });
  }
  std::thread resizer;
  if (request.tty) {
    resizer = std::thread([&] {
      while (auto size = channels.next_resize()) {
        if (auto st = backend.resize(request.container_id, *size); !st.ok()) {
          log::debug("stream: resize failed", {{"container", request.container_id}, {"error", st.message()}});
        }
      }
    });
  }

  std::vector<char> buf(65536 + 1);
  for (;;) {
    pollfd p[2] = {{fd, POLLIN, 0}, {channels.closed_fd(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents & POLLIN) break;
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // conmon closed: the container is gone
    if (n < 2) continue;
    // conmon tags each packet with its pipe: 2 stdout, 3 stderr.
    std::string_view data(buf.data() + 1, static_cast<size_t>(n) - 1);
    if (buf[0] == 3 && !request.tty) {
      if (request.stderr) channels.write_stderr(data);
    } else if (request.stdout) {
      channels.write_stdout(data);
    }
  }
  ::shutdown(fd, SHUT_RDWR);
  channels.finish(std::nullopt, "");
  done.signal();
  if (input.joinable()) input.join();
  if (resizer.joinable()) resizer.join();
}

}  // namespace crio::daemon::stream
