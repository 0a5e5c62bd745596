#include "listener.hpp"

#include <crio/core/fs.hpp>
#include <crio/core/log.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace crio::daemon {
namespace {

namespace asio = boost::asio;

constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// A client that connects and says nothing is dropped after this long.
constexpr auto kSniffTimeout = std::chrono::seconds(30);

std::string parent_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

Status prepare_socket_path(const std::string& path) {
  if (path.empty() || path.front() != '/') {
    return error(Code::kInvalidArgument, "listen address \"{}\" is not an absolute socket path", path);
  }
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return error(Code::kInvalidArgument, "listen address {} is longer than a unix socket path may be ({} bytes)", path,
                 sizeof(sockaddr_un{}.sun_path) - 1);
  }
  CRIO_RETURN_IF_ERROR(fs::make_dirs(parent_of(path), 0755));
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return ok_status();
    return error(Code::kInternal, "checking {}: {}", path, std::strerror(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return error(Code::kFailedPrecondition, "{} exists and is not a socket; refusing to replace it", path);
  }
  fs::UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    return error(Code::kAlreadyExists, "another daemon is already listening on {}", path);
  }
  if (errno != ECONNREFUSED) {
    return error(Code::kFailedPrecondition, "cannot tell whether {} is in use: {}", path, std::strerror(errno));
  }
  log::info("removing stale socket", {{"socket", path}});
  return fs::remove_file(path);
}

Listener::Listener(asio::io_context& io, ListenerHandlers handlers)
    : io_(io), handlers_(std::move(handlers)), acceptor_(io) {}

Listener::~Listener() { close(); }

Status Listener::listen(const std::string& path) {
  CRIO_RETURN_IF_ERROR(prepare_socket_path(path));
  boost::system::error_code ec;
  asio::local::stream_protocol::endpoint endpoint(path);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (ec) return error(Code::kUnavailable, "binding {}: {}", path, ec.message());
  path_ = path;
  if (::chmod(path.c_str(), 0660) != 0) {
    return error(Code::kInternal, "setting the mode of {}: {}", path, std::strerror(errno));
  }
  acceptor_.listen(SOMAXCONN, ec);
  if (ec) return error(Code::kUnavailable, "listening on {}: {}", path, ec.message());
  accept_next();
  return ok_status();
}

void Listener::close() {
  if (!acceptor_.is_open()) return;
  boost::system::error_code ec;
  acceptor_.close(ec);
  if (!path_.empty()) ::unlink(path_.c_str());
}

void Listener::accept_next() {
  acceptor_.async_accept([this](boost::system::error_code ec, LocalSocket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      log::warn("accepting a connection failed", {{"error", ec.message()}});
    } else {
      auto s = std::make_shared<LocalSocket>(std::move(socket));
      auto deadline = std::make_shared<asio::steady_timer>(io_, kSniffTimeout);
      deadline->async_wait([s](boost::system::error_code timer_ec) {
        if (!timer_ec) {
          boost::system::error_code ignored;
          s->close(ignored);
        }
      });
      sniff(std::move(s), std::move(deadline));
    }
    accept_next();
  });
}

void Listener::sniff(std::shared_ptr<LocalSocket> socket, std::shared_ptr<asio::steady_timer> deadline) {
  socket->async_wait(asio::socket_base::wait_read, [this, socket, deadline](boost::system::error_code ec) {
    if (ec || !socket->is_open()) return;
    char buf[kHttp2Preface.size()];
    ssize_t n = ::recv(socket->native_handle(), buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      sniff(socket, deadline);
      return;
    }
    if (n <= 0) {
      deadline->cancel();
      return;  // closed before saying anything
    }
    std::string_view got(buf, static_cast<size_t>(n));
    bool preface_so_far = kHttp2Preface.substr(0, got.size()) == got;
    if (preface_so_far && got.size() < kHttp2Preface.size()) {
      // The rest of the preface is still on its way. The socket stays readable while
      // the peeked bytes sit in it, so poll again shortly instead of spinning.
      auto again = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(2));
      again->async_wait([this, socket, deadline, again](boost::system::error_code timer_ec) {
        if (!timer_ec) sniff(socket, deadline);
      });
      return;
    }
    deadline->cancel();
    if (preface_so_far) {
      boost::system::error_code release_ec;
      int fd = socket->release(release_ec);
      if (release_ec) return;
      handlers_.grpc(fd);
    } else {
      handlers_.http(std::move(*socket));
    }
  });
}

}  // namespace crio::daemon
