#pragma once
// The streaming server behind Exec, Attach and PortForward. The RPC only validates
// the request and returns a URL with a one-time token; the client (the kubelet,
// crictl) then connects to that URL over HTTP and upgrades the connection to SPDY/3.1
// or WebSocket, and the streams flow here, outside gRPC.
//
// The server knows nothing of containers: a Backend starts the command, connects to
// a container's console or dials a pod's port.

#include "stream/tls.hpp"

#include <crio/core/fs.hpp>
#include <crio/core/status.hpp>
#include <crio/oci/runtime.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace crio::daemon::stream {

struct ExecRequest {
  std::string container_id;
  std::vector<std::string> cmd;
  bool tty = false;
  bool stdin = false;
  bool stdout = false;
  bool stderr = false;
};

struct AttachRequest {
  std::string container_id;
  bool tty = false;
  bool stdin = false;
  bool stdout = false;
  bool stderr = false;
};

struct PortForwardRequest {
  std::string pod_id;
  std::vector<int32_t> ports;  // informational: a client may forward any port
};

class Backend {
 public:
  virtual ~Backend() = default;
  // `size`: the terminal's initial size with tty, when the client sent one.
  virtual Result<std::unique_ptr<oci::ExecSession>> exec(const ExecRequest& request,
                                                         std::optional<oci::TerminalSize> size) = 0;
  virtual Result<fs::UniqueFd> attach(const std::string& container_id) = 0;
  virtual Status resize(const std::string& container_id, oci::TerminalSize size) = 0;
  // A TCP connection to `port` on the pod's loopback (in its network namespace).
  virtual Result<fs::UniqueFd> dial(const std::string& pod_id, uint16_t port) = 0;
};

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::string port = "0";  // "0": any free port
  // A session with no traffic either way for this long is closed; zero: never.
  std::chrono::milliseconds idle_timeout{0};
  // How long a client has to open the streams it announced after the upgrade.
  std::chrono::milliseconds stream_creation_timeout{std::chrono::seconds(30)};
  // How long a URL stays valid before it is used.
  std::chrono::milliseconds token_ttl{std::chrono::minutes(1)};
  size_t max_pending_tokens = 1000;
  // HTTPS with this certificate (PEM, a chain may follow it) and key; URLs then
  // start with https://.
  bool tls = false;
  std::string tls_cert;
  std::string tls_key;
  // With TLS: when set, clients must present a certificate signed by a CA of this
  // PEM bundle; others are refused in the handshake.
  std::string tls_ca;
  // How long a client has to complete the TLS handshake.
  std::chrono::milliseconds tls_handshake_timeout{std::chrono::seconds(10)};
};

class Server {
 public:
  Server(ServerOptions options, Backend& backend);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads the TLS certificate and key (with options.tls), binds the address and
  // starts serving.
  Status start();
  // Closes the listener and every session, and waits for their threads.
  void stop();
  // http://host:port (https:// with TLS), with the port actually bound.
  std::string base_url() const;

  // A one-time URL for the request; ResourceExhausted when too many are pending.
  Result<std::string> url_for(ExecRequest request);
  Result<std::string> url_for(AttachRequest request);
  Result<std::string> url_for(PortForwardRequest request);

 private:
  using Request = std::variant<ExecRequest, AttachRequest, PortForwardRequest>;
  struct Connection {
    fs::UniqueFd socket;  // the client's TCP connection
    fs::UniqueFd local;   // with TLS: the protocol code's end of the relay's socket pair
    std::thread thread;
    std::atomic<bool> done{false};
  };

  Result<std::string> remember(Request request, std::string_view kind);
  std::optional<Request> take(const std::string& token);
  void accept_loop();
  void serve_tls(Connection& connection);
  // Reads the request on `fd` and runs the session it asks for.
  void serve(int fd);
  void reap_finished_connections();  // needs connections_mu_

  ServerOptions options_;
  Backend& backend_;
  SslCtxPtr tls_;  // set by start() with options_.tls
  fs::UniqueFd listener_;
  std::string host_;  // as written in URLs
  uint16_t bound_port_ = 0;
  std::thread acceptor_;
  std::atomic<bool> stopping_{false};

  std::mutex tokens_mu_;
  std::map<std::string, std::pair<Request, std::chrono::steady_clock::time_point>> tokens_;  // guarded

  std::mutex connections_mu_;
  std::list<Connection> connections_;  // guarded by connections_mu_
};

}  // namespace crio::daemon::stream
