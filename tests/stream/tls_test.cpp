// The streaming server over TLS: certificates made with the openssl tool, a client
// that does its handshake with OpenSSL and bridges the plain bytes into a socket
// pair (with the server's own relay, in client role), and SPDY on top of that.

#include "process.hpp"
#include "stream/server.hpp"
#include "stream/spdy.hpp"
#include "stream/tls.hpp"
#include "streaming.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <regex>
#include <string>
#include <thread>
#include <tuple>

namespace {

using namespace std::chrono_literals;
using crio::daemon::stream::ExecRequest;
using crio::daemon::stream::Server;
using crio::daemon::stream::ServerOptions;
using crio::daemon::stream::SpdySession;
using crio::daemon::stream::SpdyStream;
using crio::daemon::stream::SslCtxPtr;
using crio::daemon::stream::SslPtr;
namespace fs = crio::fs;
namespace oci = crio::oci;
namespace stream = crio::daemon::stream;

// A CA, a server certificate for 127.0.0.1 and client certificates: one signed by the
// CA, one by an unrelated CA.
struct Certs {
  crio::test::TempDir dir{"crio-tls-test"};
  std::string ca = dir / "ca.crt", server_cert = dir / "server.crt", server_key = dir / "server.key";
  std::string client_cert = dir / "client.crt", client_key = dir / "client.key";
  std::string rogue_cert = dir / "rogue.crt", rogue_key = dir / "rogue.key";

  static void openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "/usr/bin/openssl");
    auto r = crio::test::run_command(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  }
  void make_ca(const std::string& name) {
    openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             dir / (name + ".key"), "-out", dir / (name + ".crt"), "-days", "2", "-subj", "/CN=" + name});
  }
  void make_leaf(const std::string& name, const std::string& ca_name, const std::string& extensions) {
    openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             dir / (name + ".key"), "-out", dir / (name + ".csr"), "-subj", "/CN=" + name});
    crio::test::write_file(dir / (name + ".ext"), extensions);
    openssl({"x509", "-req", "-in", dir / (name + ".csr"), "-CA", dir / (ca_name + ".crt"), "-CAkey",
             dir / (ca_name + ".key"), "-set_serial", "2", "-days", "2", "-extfile", dir / (name + ".ext"), "-out",
             dir / (name + ".crt")});
  }
  Certs() {
    make_ca("ca");
    make_ca("other-ca");
    make_leaf("server", "ca", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    make_leaf("client", "ca", "extendedKeyUsage=clientAuth\n");
    make_leaf("rogue", "other-ca", "extendedKeyUsage=clientAuth\n");
  }
};

// An "exec" whose stdin is piped straight to its stdout, like cat; exits with 3.
class LoopbackExec final : public oci::ExecSession {
 public:
  LoopbackExec() {
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    out_.reset(p[0]);
    in_.reset(p[1]);
  }
  int stdin_fd() const override { return in_.valid() ? in_.get() : -1; }
  int stdout_fd() const override { return out_.get(); }
  int stderr_fd() const override { return -1; }
  void close_stdin() override { in_.reset(); }
  crio::Status resize(oci::TerminalSize) override { return crio::ok_status(); }
  crio::Result<int> wait(std::chrono::milliseconds) override { return 3; }
  void kill() override {}

 private:
  fs::UniqueFd in_, out_;
};

class LoopbackBackend final : public stream::Backend {
 public:
  crio::Result<std::unique_ptr<oci::ExecSession>> exec(const ExecRequest&, std::optional<oci::TerminalSize>) override {
    ++execs;
    return std::unique_ptr<oci::ExecSession>(new LoopbackExec());
  }
  crio::Result<fs::UniqueFd> attach(const std::string&) override { return crio::error(crio::Code::kUnimplemented, "no"); }
  crio::Status resize(const std::string&, oci::TerminalSize) override { return crio::ok_status(); }
  crio::Result<fs::UniqueFd> dial(const std::string&, uint16_t) override {
    return crio::error(crio::Code::kUnimplemented, "no");
  }
  std::atomic<int> execs{0};
};

fs::UniqueFd connect_to(uint16_t port) {
  fs::UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  timeval tv{10, 0};  // a test that goes wrong fails instead of hanging
  ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return s;
}

std::string read_to_eof(int fd) {
  std::string out;
  char tmp[4096];
  ssize_t n;
  while ((n = ::read(fd, tmp, sizeof tmp)) > 0) out.append(tmp, static_cast<size_t>(n));
  return out;
}

const std::string kUpgrade =
    "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n";

std::string upgrade_request(const std::string& path) {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + kUpgrade;
}

// The port and path of an https URL from the server.
std::pair<uint16_t, std::string> parse_https(const std::string& url) {
  std::smatch m;
  REQUIRE(std::regex_match(url, m, std::regex(R"(^https://127\.0\.0\.1:(\d+)(/exec/[0-9a-f]+)$)")));
  return {static_cast<uint16_t>(std::stoi(m[1].str())), m[2].str()};
}

// A client context that trusts the test CA and checks the server's IP address.
SslCtxPtr client_ctx(const Certs& certs, const std::string& cert = "", const std::string& key = "") {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  REQUIRE(ctx);
  REQUIRE(SSL_CTX_load_verify_locations(ctx.get(), certs.ca.c_str(), nullptr) == 1);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  REQUIRE(X509_VERIFY_PARAM_set1_ip_asc(SSL_CTX_get0_param(ctx.get()), "127.0.0.1") == 1);
  if (!cert.empty()) {
    REQUIRE(SSL_CTX_use_certificate_chain_file(ctx.get(), cert.c_str()) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) == 1);
  }
  return ctx;
}

// A TLS connection to the server whose plain bytes are read and written on `fd`.
struct TlsBridge {
  fs::UniqueFd tcp, relay_end, fd;
  SslPtr ssl;
  std::thread relay;
  ~TlsBridge() {
    fd.reset();
    if (relay.joinable()) relay.join();
  }
};

// nullptr when the handshake fails.
std::unique_ptr<TlsBridge> tls_connect(uint16_t port, SSL_CTX* ctx) {
  auto b = std::make_unique<TlsBridge>();
  b->tcp = connect_to(port);
  auto ssl = stream::tls_handshake(ctx, b->tcp.get(), stream::TlsRole::kClient, 5s);
  if (!ssl.ok()) {
    UNSCOPED_INFO("client handshake: " << ssl.status().message());
    return nullptr;
  }
  b->ssl = std::move(*ssl);
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  b->fd.reset(sv[0]);
  b->relay_end.reset(sv[1]);
  timeval tv{10, 0};
  ::setsockopt(b->fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  b->relay = std::thread([b = b.get()] {
    stream::tls_relay(b->ssl.get(), b->relay_end.get());
    b->relay_end.reset();
  });
  return b;
}

// The head of the server's answer to an upgrade request (what came before EOF if it
// was cut short); empty when the handshake fails or the server answers nothing.
std::string answer(uint16_t port, SSL_CTX* ctx, const std::string& path) {
  auto b = tls_connect(port, ctx);
  if (!b) return "";
  std::string req = upgrade_request(path);
  if (::send(b->fd.get(), req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) return "";
  std::string head;
  char c;
  while (head.find("\r\n\r\n") == std::string::npos && ::read(b->fd.get(), &c, 1) == 1) head += c;
  return head;
}

// An exec over TLS: SPDY on the bridge, stdin, stdout and the error stream open.
struct SpdyExec {
  std::unique_ptr<TlsBridge> bridge;  // outlives the session, which holds its fd
  std::unique_ptr<SpdySession> session;
  std::shared_ptr<SpdyStream> error, in, out;

  SpdyExec(uint16_t port, SSL_CTX* ctx, const std::string& path) {
    bridge = tls_connect(port, ctx);
    REQUIRE(bridge);
    std::string req = upgrade_request(path);
    REQUIRE(::send(bridge->fd.get(), req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
    std::string head;
    while (head.find("\r\n\r\n") == std::string::npos) {
      char c;
      REQUIRE(::read(bridge->fd.get(), &c, 1) == 1);  // byte by byte: SPDY frames follow the head
      head += c;
    }
    REQUIRE(head.rfind("HTTP/1.1 101 ", 0) == 0);
    session = std::make_unique<SpdySession>(std::move(bridge->fd), SpdySession::Role::kClient, "");
    auto open = [&](const char* type) {
      auto s = session->open({{"streamType", type}}, 5s);
      REQUIRE(s.ok());
      return *s;
    };
    error = open("error");
    in = open("stdin");
    out = open("stdout");
  }
};

// Sends `data` through the loopback exec and checks it comes back, with exit code 3.
void check_round_trip(SpdyExec& c, const std::string& data) {
  std::thread writer([&] {
    c.in->write(data);
    c.in->close();
  });
  std::string out = c.out->read_all(1 << 22);
  writer.join();
  CHECK(out == data);
  auto status = nlohmann::json::parse(c.error->read_all());
  CHECK(status["reason"] == "NonZeroExitCode");
  CHECK(status["details"]["causes"][0]["message"] == "3");
}

ServerOptions tls_options(const Certs& certs, bool client_ca) {
  ServerOptions o;
  o.tls = true;
  o.tls_cert = certs.server_cert;
  o.tls_key = certs.server_key;
  if (client_ca) o.tls_ca = certs.ca;
  return o;
}

// A TLS server with one `cat` exec URL waiting for its client.
struct TlsServerWithUrl {
  Certs certs;
  LoopbackBackend backend;
  Server server;
  uint16_t port = 0;
  std::string path;

  explicit TlsServerWithUrl(bool client_ca) : server(tls_options(certs, client_ca), backend) {
    REQUIRE(server.start().ok());
    auto url = server.url_for(ExecRequest{"c1", {"cat"}, false, true, true, false});
    REQUIRE(url.ok());
    std::tie(port, path) = parse_https(*url);
  }
};

}  // namespace

TEST_CASE("TLS: exec URLs are https and SPDY streams flow both ways through the TLS relay", "[stream][tls]") {
  TlsServerWithUrl t(false);
  auto& [certs, backend, server, port, path] = t;
  CHECK(server.base_url().rfind("https://127.0.0.1:", 0) == 0);
  auto ctx = client_ctx(certs);
  SpdyExec c(port, ctx.get(), path);
  // Several TLS records and more than a socket buffer each way.
  std::string data;
  for (int i = 0; data.size() < 300000; ++i) data += "line " + std::to_string(i) + "\n";
  check_round_trip(c, data);
  CHECK(backend.execs.load() == 1);
}

TEST_CASE("TLS: with stream_tls_ca only clients with a certificate signed by that CA are served", "[stream][tls]") {
  TlsServerWithUrl t(true);
  auto& [certs, backend, server, port, path] = t;

  auto anonymous = client_ctx(certs);
  CHECK(answer(port, anonymous.get(), path).empty());
  auto rogue = client_ctx(certs, certs.rogue_cert, certs.rogue_key);
  CHECK(answer(port, rogue.get(), path).empty());
  // Nothing was served to them: the one-time URL is still unused.
  CHECK(backend.execs.load() == 0);

  auto trusted = client_ctx(certs, certs.client_cert, certs.client_key);
  SpdyExec c(port, trusted.get(), path);
  check_round_trip(c, "from a trusted client\n");
  CHECK(backend.execs.load() == 1);
}

TEST_CASE("TLS: a plain HTTP client on the TLS port is served nothing", "[stream][tls]") {
  TlsServerWithUrl t(false);
  auto& [certs, backend, server, port, path] = t;
  fs::UniqueFd plain = connect_to(port);
  std::string req = upgrade_request(path);
  REQUIRE(::send(plain.get(), req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
  std::string reply = read_to_eof(plain.get());  // the server closes after the failed handshake
  CHECK(reply.find("HTTP/") == std::string::npos);
  auto ctx = client_ctx(certs);
  CHECK(answer(port, ctx.get(), path).rfind("HTTP/1.1 101 ", 0) == 0);  // the URL was not used up
}

TEST_CASE("TLS: stop() ends live sessions and clients stuck before their handshake", "[stream][tls]") {
  TlsServerWithUrl t(false);
  auto& [certs, backend, server, port, path] = t;
  auto ctx = client_ctx(certs);
  SpdyExec c(port, ctx.get(), path);
  REQUIRE(c.in->write("still typing\n"));
  std::string echoed;
  char buf[64];
  while (echoed.size() < 13) {
    size_t n = c.out->read(buf, sizeof buf);
    if (n == 0) break;
    echoed.append(buf, n);
  }
  CHECK(echoed == "still typing\n");
  fs::UniqueFd silent = connect_to(port);  // never starts a handshake
  std::this_thread::sleep_for(100ms);
  auto started = std::chrono::steady_clock::now();
  server.stop();
  CHECK(std::chrono::steady_clock::now() - started < 3s);  // not the 10 s handshake timeout
  CHECK(read_to_eof(silent.get()).empty());
  c.out->read_all();  // returns: the session ended
}

TEST_CASE("TLS: bad certificate, key or CA files make start() fail naming the file", "[stream][tls]") {
  Certs certs;
  LoopbackBackend backend;
  ServerOptions o = tls_options(certs, true);
  std::string garbage = certs.dir / "garbage.pem";
  crio::test::write_file(garbage, "not a PEM file\n");
  std::string named, reason;
  crio::Code code = crio::Code::kInvalidArgument;
  SECTION("missing certificate") {
    o.tls_cert = named = certs.dir / "absent.crt";
    reason = "No such file or directory";
    code = crio::Code::kFailedPrecondition;
  }
  SECTION("certificate not PEM") {
    o.tls_cert = named = garbage;
    reason = "not a PEM certificate";
  }
  SECTION("missing key") {
    o.tls_key = named = certs.dir / "absent.key";
    reason = "No such file or directory";
    code = crio::Code::kFailedPrecondition;
  }
  SECTION("key not PEM") {
    o.tls_key = named = garbage;
    reason = "not an unencrypted PEM private key";
  }
  SECTION("key of another certificate") {
    o.tls_key = named = certs.client_key;
    reason = "does not match the certificate " + certs.server_cert;
  }
  SECTION("missing CA") {
    o.tls_ca = named = certs.dir / "absent-ca.crt";
    reason = "No such file or directory";
    code = crio::Code::kFailedPrecondition;
  }
  SECTION("CA not PEM") {
    o.tls_ca = named = garbage;
    reason = "no PEM certificate";
  }
  Server server(o, backend);
  crio::Status s = server.start();
  INFO(s.message());
  CHECK(s.code() == code);
  CHECK(std::string(s.message()).find(named) != std::string::npos);
  CHECK(std::string(s.message()).find(reason) != std::string::npos);
}

TEST_CASE("TLS: crio.conf's stream_tls_* settings reach the server options", "[stream][tls]") {
  crio::core::Config config;
  auto plain = crio::daemon::stream_server_options(config);
  REQUIRE(plain.ok());
  CHECK_FALSE(plain->tls);
  config.stream_enable_tls = true;
  CHECK(crio::daemon::stream_server_options(config).status().code() == crio::Code::kInvalidArgument);
  config.stream_tls_cert = "/etc/crio/stream.crt";
  config.stream_tls_key = "/etc/crio/stream.key";
  config.stream_tls_ca = "/etc/crio/clients-ca.crt";
  auto options = crio::daemon::stream_server_options(config);
  REQUIRE(options.ok());
  CHECK(options->tls);
  CHECK(options->tls_cert == "/etc/crio/stream.crt");
  CHECK(options->tls_key == "/etc/crio/stream.key");
  CHECK(options->tls_ca == "/etc/crio/clients-ca.crt");
}

TEST_CASE("TLS relay: each side's end of input reaches the other while the reverse direction still flows",
          "[stream][tls]") {
  Certs certs;
  auto server_ctx = stream::load_server_tls(certs.server_cert, certs.server_key, "");
  REQUIRE(server_ctx.ok());
  auto ctx = client_ctx(certs);
  fs::UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(listener.get(), 1) == 0);
  socklen_t len = sizeof a;
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &len);

  // The server side, as Server does it: handshake, relay, and an "app" on a socket pair
  // that reads everything and only then answers.
  std::string server_got;
  std::jthread server([&] {  // joined on every way out
    fs::UniqueFd tcp(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    auto ssl = stream::tls_handshake(server_ctx->get(), tcp.get(), stream::TlsRole::kServer, 5s);
    if (!ssl.ok()) return;
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return;
    fs::UniqueFd app(sv[0]), relay_end(sv[1]);
    std::thread relay([&] {
      stream::tls_relay(ssl->get(), relay_end.get());
      relay_end.reset();
    });
    server_got = read_to_eof(app.get());  // ends with the client's close_notify
    std::string reply = "pong after " + std::to_string(server_got.size());
    ::send(app.get(), reply.data(), reply.size(), MSG_NOSIGNAL);
    app.reset();
    relay.join();
  });
  auto client = tls_connect(ntohs(a.sin_port), ctx.get());
  REQUIRE(client);
  std::string ping(100000, 'p');
  REQUIRE(::send(client->fd.get(), ping.data(), ping.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(ping.size()));
  REQUIRE(::shutdown(client->fd.get(), SHUT_WR) == 0);
  CHECK(read_to_eof(client->fd.get()) == "pong after 100000");
  server.join();
  CHECK(server_got == ping);
}
