#pragma once
// The daemon's one unix socket. Every accepted connection is sniffed: one that
// opens with the HTTP/2 client preface belongs to the gRPC server, anything else
// is an HTTP/1.1 client of the status API.

#include <crio/core/status.hpp>

#include <boost/asio.hpp>

#include <functional>
#include <memory>
#include <string>

namespace crio::daemon {

using LocalSocket = boost::asio::local::stream_protocol::socket;

struct ListenerHandlers {
  std::function<void(int fd)> grpc;          // takes ownership of the fd
  std::function<void(LocalSocket)> http;     // takes the connected socket
};

// Prepares `path` for listening: creates its parent directory, refuses when a live
// daemon answers on it, removes a stale socket file left by a crash.
Status prepare_socket_path(const std::string& path);

class Listener {
 public:
  Listener(boost::asio::io_context& io, ListenerHandlers handlers);
  ~Listener();

  // Binds and listens on `path` with mode 0660.
  Status listen(const std::string& path);
  // Stops accepting and removes the socket file; connections already handed off live on.
  void close();

 private:
  void accept_next();
  void sniff(std::shared_ptr<LocalSocket> socket, std::shared_ptr<boost::asio::steady_timer> deadline);

  boost::asio::io_context& io_;
  ListenerHandlers handlers_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::string path_;
};

}  // namespace crio::daemon
