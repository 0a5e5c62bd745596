#include "stream/server.hpp"

#include "stream/channels.hpp"
#include "stream/spdy.hpp"
#include "stream/websocket.hpp"

#include <crio/core/log.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace crio::daemon::stream {
namespace {

constexpr size_t kMaxRequestHead = 16 * 1024;
constexpr auto kRequestHeadTimeout = std::chrono::seconds(10);

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

struct HttpRequest {
  std::string method;
  std::string path;
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower case
  std::string rest;  // bytes after the head

  std::string header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return "";
  }
  // Every comma-separated value of every line of the header.
  std::vector<std::string> values(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : headers) {
      if (k != name) continue;
      size_t pos = 0;
      while (pos <= v.size()) {
        size_t comma = v.find(',', pos);
        std::string item = trim(std::string_view(v).substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
        if (!item.empty()) out.push_back(item);
        if (comma == std::string::npos) break;
        pos = comma + 1;
      }
    }
    return out;
  }
};

Result<HttpRequest> read_request_head(int fd) {
  std::string buf;
  auto deadline = std::chrono::steady_clock::now() + kRequestHeadTimeout;
  size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    if (buf.size() > kMaxRequestHead) return error(Code::kInvalidArgument, "request head larger than {} bytes", kMaxRequestHead);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return error(Code::kDeadlineExceeded, "no complete request within {}s", kRequestHeadTimeout.count());
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char tmp[4096];
    ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return error(Code::kCancelled, "client closed the connection");
    buf.append(tmp, static_cast<size_t>(n));
  }
  HttpRequest req;
  req.rest = buf.substr(end + 4);
  std::string_view head(buf.data(), end);
  size_t line_end = head.find("\r\n");
  std::string_view request_line = head.substr(0, line_end);
  size_t sp1 = request_line.find(' ');
  size_t sp2 = request_line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return error(Code::kInvalidArgument, "malformed request line");
  req.method = std::string(request_line.substr(0, sp1));
  req.path = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
  if (auto q = req.path.find('?'); q != std::string::npos) {
    req.query = req.path.substr(q + 1);
    req.path.resize(q);
  }
  size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t next = head.find("\r\n", pos);
    std::string_view line = head.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    pos = next == std::string_view::npos ? head.size() : next + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    req.headers.emplace_back(lower(trim(line.substr(0, colon))), trim(line.substr(colon + 1)));
  }
  return req;
}

void reply_error(int fd, int code, std::string_view reason, const std::string& body,
                 const std::vector<std::string>& extra_headers = {}) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n"
                                "Connection: close\r\n",
                                code, reason, body.size() + 1);
  for (const auto& h : extra_headers) out += h + "\r\n";
  out += "\r\n" + body + "\n";
  send_all(fd, out);
}

std::string random_token() {
  unsigned char bytes[12];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    got += static_cast<size_t>(n);
  }
  std::string out;
  for (unsigned char b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

// The values of `name` in a query string (no percent-decoding: ports are digits).
std::vector<std::string> query_values(const std::string& query, std::string_view name) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < query.size()) {
    size_t amp = query.find('&', pos);
    std::string_view item = std::string_view(query).substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    pos = amp == std::string::npos ? query.size() : amp + 1;
    if (item.size() > name.size() && item.substr(0, name.size()) == name && item[name.size()] == '=') {
      out.emplace_back(item.substr(name.size() + 1));
    }
  }
  return out;
}

std::string negotiate(const std::vector<std::string>& offered, const std::vector<std::string_view>& supported) {
  for (const auto& o : offered) {
    for (auto s : supported) {
      if (o == s) return o;
    }
  }
  return "";
}

}  // namespace

Server::Server(ServerOptions options, Backend& backend) : options_(std::move(options)), backend_(backend) {}

Server::~Server() { stop(); }

Status Server::start() {
  SslCtxPtr tls;
  if (options_.tls) {
    if (options_.tls_cert.empty() || options_.tls_key.empty()) {
      return error(Code::kInvalidArgument, "stream server: TLS needs a certificate and a key");
    }
    CRIO_ASSIGN_OR_RETURN(tls, load_server_tls(options_.tls_cert, options_.tls_key, options_.tls_ca));
  }
  uint16_t port = 0;
  {
    int p = 0;
    auto [end, ec] = std::from_chars(options_.port.data(), options_.port.data() + options_.port.size(), p);
    if (ec != std::errc() || end != options_.port.data() + options_.port.size() || p < 0 || p > 65535) {
      return error(Code::kInvalidArgument, "stream server: invalid port {:?}", options_.port);
    }
    port = static_cast<uint16_t>(p);
  }
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  int family = AF_INET;
  std::string address = options_.address.empty() ? "127.0.0.1" : options_.address;
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') address = address.substr(1, address.size() - 2);
  if (auto* v4 = reinterpret_cast<sockaddr_in*>(&addr); ::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    addr_len = sizeof(sockaddr_in);
    host_ = address == "0.0.0.0" ? "127.0.0.1" : address;
  } else if (auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr); ::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    addr_len = sizeof(sockaddr_in6);
    host_ = address == "::" ? "[::1]" : "[" + address + "]";
  } else {
    return error(Code::kInvalidArgument, "stream server: {:?} is not an IP address", options_.address);
  }
  fs::UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return error(Code::kInternal, "stream server: socket: {}", std::strerror(errno));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
    return error(Code::kFailedPrecondition, "stream server: binding {}:{}: {}", address, options_.port, std::strerror(errno));
  }
  if (::listen(fd.get(), 128) != 0) return error(Code::kInternal, "stream server: listen: {}", std::strerror(errno));
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &bound_len);
  bound_port_ = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                        : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  listener_ = std::move(fd);
  tls_ = std::move(tls);
  acceptor_ = std::thread([this] { accept_loop(); });
  log::info("stream server listening", {{"url", base_url()}, {"client_certificates", tls_ && !options_.tls_ca.empty()}});
  return ok_status();
}

void Server::stop() {
  if (stopping_.exchange(true)) return;
  if (listener_.valid()) ::shutdown(listener_.get(), SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  std::list<Connection> connections;
  {
    std::lock_guard lock(connections_mu_);
    for (auto& c : connections_) {
      // For a TLS connection, this ends both its relay and the protocol code.
      if (c.socket.valid()) ::shutdown(c.socket.get(), SHUT_RDWR);
      if (c.local.valid()) ::shutdown(c.local.get(), SHUT_RDWR);
    }
    connections.splice(connections.end(), connections_);
  }
  for (auto& c : connections) {
    if (c.thread.joinable()) c.thread.join();
  }
}

std::string Server::base_url() const {
  return fmt::format("{}://{}:{}", tls_ ? "https" : "http", host_, bound_port_);
}

Result<std::string> Server::remember(Request request, std::string_view kind) {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(tokens_mu_);
  if (tokens_.size() >= options_.max_pending_tokens) {
    std::erase_if(tokens_, [&](const auto& kv) { return kv.second.second <= now; });
  }
  if (tokens_.size() >= options_.max_pending_tokens) {
    return error(Code::kResourceExhausted, "{}: {} stream requests are already waiting for their client", kind,
                 tokens_.size());
  }
  std::string token = random_token();
  tokens_[token] = {std::move(request), now + options_.token_ttl};
  return fmt::format("{}/{}/{}", base_url(), kind, token);
}

Result<std::string> Server::url_for(ExecRequest request) { return remember(std::move(request), "exec"); }
Result<std::string> Server::url_for(AttachRequest request) { return remember(std::move(request), "attach"); }
Result<std::string> Server::url_for(PortForwardRequest request) { return remember(std::move(request), "portforward"); }

std::optional<Server::Request> Server::take(const std::string& token) {
  std::lock_guard lock(tokens_mu_);
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return std::nullopt;
  auto [request, expiry] = std::move(it->second);
  tokens_.erase(it);
  if (expiry <= std::chrono::steady_clock::now()) return std::nullopt;
  return std::move(request);
}

void Server::reap_finished_connections() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (it->done.load()) {
      if (it->thread.joinable()) it->thread.join();
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

void Server::accept_loop() {
  while (!stopping_.load()) {
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
        if (errno == EMFILE || errno == ENFILE) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      break;  // the listener was shut down
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(connections_mu_);
    reap_finished_connections();
    if (stopping_.load()) {
      ::close(fd);
      break;
    }
    auto& c = connections_.emplace_back();
    c.socket.reset(fd);
    c.thread = std::thread([this, &c] {
      if (tls_) {
        serve_tls(c);
      } else {
        serve(c.socket.get());
      }
      // Closed here, under the lock stop() shuts sockets down with, so the client
      // sees the end now rather than at the next accept.
      std::lock_guard lock(connections_mu_);
      c.local.reset();
      c.socket.reset();
      c.done.store(true);
    });
  }
}

void Server::serve_tls(Connection& connection) {
  auto ssl = tls_handshake(tls_.get(), connection.socket.get(), TlsRole::kServer, options_.tls_handshake_timeout);
  if (!ssl.ok()) {
    if (!stopping_.load()) log::warn("stream server: TLS connection refused", {{"error", ssl.status().message()}});
    return;
  }
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    log::warn("stream server: socketpair", {{"error", std::strerror(errno)}});
    return;
  }
  fs::UniqueFd relay_end(pair[1]);
  int local = pair[0];
  {
    // stop() sets stopping_ before it takes this lock to shut connections down: either
    // it sees `local` or this sees stopping_.
    std::lock_guard lock(connections_mu_);
    if (stopping_.load()) {
      ::close(local);
      return;
    }
    connection.local.reset(local);
  }
  std::thread relay([&] {
    tls_relay(ssl->get(), relay_end.get());
    relay_end.reset();  // the protocol code sees the end of the connection
  });
  serve(local);
  {
    // The relay sees this end close, sends what is left and then close_notify.
    std::lock_guard lock(connections_mu_);
    connection.local.reset();
  }
  relay.join();
}

void Server::serve(int fd) {
  auto head = read_request_head(fd);
  if (!head.ok()) {
    if (head.status().code() != Code::kCancelled) reply_error(fd, 400, "Bad Request", std::string(head.status().message()));
    return;
  }
  const HttpRequest& req = *head;
  std::string kind, token;
  for (std::string_view k : {"exec", "attach", "portforward"}) {
    std::string prefix = fmt::format("/{}/", k);
    if (req.path.rfind(prefix, 0) == 0) {
      kind = std::string(k);
      token = req.path.substr(prefix.size());
    }
  }
  if (kind.empty() || token.empty() || token.find('/') != std::string::npos) {
    reply_error(fd, 404, "Not Found", fmt::format("no stream at {}", req.path));
    return;
  }
  auto request = take(token);
  bool kind_matches = request && ((kind == "exec" && std::holds_alternative<ExecRequest>(*request)) ||
                                  (kind == "attach" && std::holds_alternative<AttachRequest>(*request)) ||
                                  (kind == "portforward" && std::holds_alternative<PortForwardRequest>(*request)));
  if (!kind_matches) {
    reply_error(fd, 404, "Not Found", fmt::format("{} token {} is unknown, used or expired", kind, token));
    return;
  }
  std::string upgrade = lower(req.header("upgrade"));
  bool connection_upgrade = lower(req.header("connection")).find("upgrade") != std::string::npos;
  if (!connection_upgrade || (upgrade != "spdy/3.1" && upgrade != "websocket")) {
    reply_error(fd, 400, "Bad Request",
                fmt::format("{} needs a connection upgrade to SPDY/3.1 or websocket (Upgrade: {:?})", kind,
                            req.header("upgrade")));
    return;
  }

  const bool port_forward = kind == "portforward";
  if (upgrade == "websocket") {
    serve_websocket(fd, req.header("sec-websocket-key"), req.values("sec-websocket-protocol"),
                    query_values(req.query, "port"), req.rest, *request, backend_, options_.idle_timeout);
    return;
  }

  std::vector<std::string_view> supported =
      port_forward ? std::vector<std::string_view>{kPortForwardV1}
                   : std::vector<std::string_view>{kRemoteCommandV4, kRemoteCommandV3, kRemoteCommandV2, kRemoteCommandV1};
  auto offered = req.values("x-stream-protocol-version");
  std::string protocol = negotiate(offered, supported);
  if (protocol.empty()) {
    std::vector<std::string> accepted;
    for (auto s : supported) accepted.push_back(fmt::format("X-Accepted-Stream-Protocol-Versions: {}", s));
    reply_error(fd, 403, "Forbidden",
                fmt::format("unable to upgrade: no common stream protocol (client offered {:?}, server accepts {})",
                            fmt::join(offered, ", "), fmt::join(supported, ", ")),
                accepted);
    return;
  }
  if (!send_all(fd, fmt::format("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                                "X-Stream-Protocol-Version: {}\r\n\r\n",
                                protocol))) {
    return;
  }
  fs::UniqueFd session_fd(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  SpdySession session(std::move(session_fd), SpdySession::Role::kServer, req.rest, options_.idle_timeout);
  if (auto* exec = std::get_if<ExecRequest>(&*request)) {
    auto channels = spdy_channels(session, remote_command_version(protocol),
                                  {exec->tty, exec->stdin, exec->stdout, exec->stderr && !exec->tty},
                                  options_.stream_creation_timeout);
    serve_exec(*channels, backend_, *exec);
  } else if (auto* attach = std::get_if<AttachRequest>(&*request)) {
    auto channels = spdy_channels(session, remote_command_version(protocol),
                                  {attach->tty, attach->stdin, attach->stdout, attach->stderr && !attach->tty},
                                  options_.stream_creation_timeout);
    serve_attach(*channels, backend_, *attach);
  } else {
    serve_port_forward(session, backend_, std::get<PortForwardRequest>(*request));
    session.finish();
  }
}

}  // namespace crio::daemon::stream
