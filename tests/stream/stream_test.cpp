// The streaming server on its own: a backend that runs commands on the host (no
// containers), clients speaking SPDY/3.1 (the project's own framing in client role)
// and WebSocket (a minimal client written here), and the HTTP upgrade in between.

#include "stream/server.hpp"
#include "stream/spdy.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

using namespace std::chrono_literals;
using crio::daemon::stream::AttachRequest;
using crio::daemon::stream::ExecRequest;
using crio::daemon::stream::Headers;
using crio::daemon::stream::PortForwardRequest;
using crio::daemon::stream::Server;
using crio::daemon::stream::ServerOptions;
using crio::daemon::stream::SpdySession;
using crio::daemon::stream::SpdyStream;
namespace fs = crio::fs;
namespace oci = crio::oci;

// `sh -c` on the host with pipes for its stdio.
class HostExec final : public oci::ExecSession {
 public:
  HostExec(const std::vector<std::string>& argv, bool with_stdin, std::vector<oci::TerminalSize>* resizes,
           std::atomic<int>* kills)
      : resizes_(resizes), kills_(kills) {
    int in[2], out[2], err[2];
    REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (with_stdin) {
      posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    } else {
      posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    }
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    REQUIRE(::posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    in_.reset(in[1]);
    out_.reset(out[0]);
    err_.reset(err[0]);
    if (!with_stdin) in_.reset();
  }
  ~HostExec() override {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  int stdin_fd() const override { return in_.valid() ? in_.get() : -1; }
  int stdout_fd() const override { return out_.get(); }
  int stderr_fd() const override { return err_.get(); }
  void close_stdin() override { in_.reset(); }
  crio::Status resize(oci::TerminalSize size) override {
    if (resizes_) {
      std::lock_guard lock(mu_);
      resizes_->push_back(size);
    }
    return crio::ok_status();
  }
  crio::Result<int> wait(std::chrono::milliseconds) override {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  void kill() override {
    if (kills_) ++*kills_;
    ::kill(pid_, SIGKILL);
  }

 private:
  pid_t pid_ = 0;
  bool reaped_ = false;
  fs::UniqueFd in_, out_, err_;
  std::vector<oci::TerminalSize>* resizes_;
  std::atomic<int>* kills_;
  std::mutex mu_;
};

class HostBackend final : public crio::daemon::stream::Backend {
 public:
  crio::Result<std::unique_ptr<oci::ExecSession>> exec(const ExecRequest& request,
                                                       std::optional<oci::TerminalSize> size) override {
    if (request.container_id == "missing") return crio::error(crio::Code::kNotFound, "container missing: gone");
    initial_size = size;
    std::vector<std::string> argv = {"/bin/sh", "-c", request.cmd.at(0)};
    return std::unique_ptr<oci::ExecSession>(new HostExec(argv, request.stdin, &resizes, &kills));
  }
  crio::Result<fs::UniqueFd> attach(const std::string& container_id) override {
    // A SEQPACKET pair standing in for conmon's attach socket: the test plays conmon.
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    conmon_side.reset(sv[1]);
    attached.store(true);
    return fs::UniqueFd(sv[0]);
  }
  crio::Status resize(const std::string&, oci::TerminalSize) override { return crio::ok_status(); }
  crio::Result<fs::UniqueFd> dial(const std::string& pod_id, uint16_t port) override {
    if (port == 1) return crio::error(crio::Code::kUnavailable, "port 1 on localhost: connection refused");
    fs::UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      return crio::error(crio::Code::kUnavailable, "connect: {}", std::strerror(errno));
    }
    return s;
  }

  std::vector<oci::TerminalSize> resizes;
  std::optional<oci::TerminalSize> initial_size;
  std::atomic<int> kills{0};
  fs::UniqueFd conmon_side;
  std::atomic<bool> attached{false};
};

struct Url {
  uint16_t port = 0;
  std::string path;
};

Url parse(const std::string& url) {
  std::smatch m;
  std::regex re(R"(^http://127\.0\.0\.1:(\d+)(/.*)$)");
  REQUIRE(std::regex_match(url, m, re));
  return {static_cast<uint16_t>(std::stoi(m[1].str())), m[2].str()};
}

fs::UniqueFd connect_to(uint16_t port) {
  fs::UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return s;
}

struct Response {
  std::string head;  // status line and headers
  std::string rest;  // what followed the head
  int code = 0;
};

Response request(int fd, const std::string& path, const std::vector<std::string>& headers) {
  std::string req = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const auto& h : headers) req += h + "\r\n";
  req += "\r\n";
  REQUIRE(::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
  std::string buf;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (buf.find("\r\n\r\n") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    char tmp[4096];
    ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n <= 0) break;
    buf.append(tmp, static_cast<size_t>(n));
  }
  Response r;
  auto end = buf.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  r.head = buf.substr(0, end);
  r.rest = buf.substr(end + 4);
  r.code = std::stoi(r.head.substr(9, 3));
  return r;
}

std::string read_to_eof(int fd) {
  std::string out;
  char tmp[4096];
  ssize_t n;
  while ((n = ::read(fd, tmp, sizeof tmp)) > 0) out.append(tmp, static_cast<size_t>(n));
  return out;
}

const std::vector<std::string> kSpdyV4 = {"Connection: Upgrade", "Upgrade: SPDY/3.1",
                                          "X-Stream-Protocol-Version: v4.channel.k8s.io",
                                          "X-Stream-Protocol-Version: v3.channel.k8s.io"};

struct SpdyClient {
  std::unique_ptr<SpdySession> session;
  std::shared_ptr<SpdyStream> error, in, out, err, resize;

  SpdyClient(uint16_t port, const std::string& path, bool stdin, bool stderr, bool tty = false) {
    fs::UniqueFd fd = connect_to(port);
    Response r = request(fd.get(), path, kSpdyV4);
    REQUIRE(r.code == 101);
    REQUIRE(r.head.find("X-Stream-Protocol-Version: v4.channel.k8s.io") != std::string::npos);
    session = std::make_unique<SpdySession>(std::move(fd), SpdySession::Role::kClient, r.rest);
    auto open = [&](const char* type) {
      auto s = session->open({{"streamType", type}}, 5s);
      REQUIRE(s.ok());
      return *s;
    };
    error = open("error");
    if (stdin) in = open("stdin");
    out = open("stdout");
    if (stderr) err = open("stderr");
    if (tty) resize = open("resize");
  }
};

struct Fixture {
  HostBackend backend;
  Server server{ServerOptions{}, backend};
  Fixture() { REQUIRE(server.start().ok()); }
};

}  // namespace

TEST_CASE("SPDY exec separates stdout and stderr and reports the exit code as a v4 status", "[stream]") {
  Fixture f;
  auto url = f.server.url_for(ExecRequest{"c1", {"echo out-text; echo err-text >&2; exit 7"}, false, false, true, true});
  REQUIRE(url.ok());
  Url u = parse(*url);
  REQUIRE(u.path.rfind("/exec/", 0) == 0);
  SpdyClient c(u.port, u.path, false, true);
  std::string out, err;
  std::thread t([&] { err = c.err->read_all(); });
  out = c.out->read_all();
  t.join();
  auto status = nlohmann::json::parse(c.error->read_all());
  CHECK(out == "out-text\n");
  CHECK(err == "err-text\n");
  CHECK(status["status"] == "Failure");
  CHECK(status["reason"] == "NonZeroExitCode");
  CHECK(status["details"]["causes"][0]["reason"] == "ExitCode");
  CHECK(status["details"]["causes"][0]["message"] == "7");
}

TEST_CASE("SPDY exec feeds stdin, ends it on the client's FIN and reports success", "[stream]") {
  Fixture f;
  auto url = f.server.url_for(ExecRequest{"c1", {"tr a-z A-Z"}, false, true, true, false});
  REQUIRE(url.ok());
  Url u = parse(*url);
  SpdyClient c(u.port, u.path, true, false);
  std::string big(200000, 'x');  // more than one frame and one pipe buffer
  REQUIRE(c.in->write("hello " + big));
  c.in->close();
  std::string out = c.out->read_all(1 << 22);
  CHECK(out == "HELLO " + std::string(200000, 'X'));
  CHECK(nlohmann::json::parse(c.error->read_all())["status"] == "Success");
}

TEST_CASE("SPDY exec with a terminal passes the first size at start and later ones as resizes", "[stream]") {
  Fixture f;
  auto url = f.server.url_for(ExecRequest{"c1", {"sleep 0.3; echo done"}, true, false, true, false});
  REQUIRE(url.ok());
  Url u = parse(*url);
  SpdyClient c(u.port, u.path, false, false, true);
  REQUIRE(c.resize->write("{\"Width\":120,\"Height\":40}\n"));
  std::this_thread::sleep_for(100ms);
  REQUIRE(c.resize->write("{\"Width\":80,\"Height\":25}\n"));
  CHECK(c.out->read_all() == "done\n");
  CHECK(nlohmann::json::parse(c.error->read_all())["status"] == "Success");
  REQUIRE(f.backend.initial_size.has_value());
  CHECK(f.backend.initial_size->width == 120);
  CHECK(f.backend.initial_size->height == 40);
  REQUIRE(f.backend.resizes.size() == 1);
  CHECK(f.backend.resizes[0].width == 80);
  CHECK(f.backend.resizes[0].height == 25);
}

TEST_CASE("A failed exec is reported on the error stream and a vanished client kills the command", "[stream]") {
  Fixture f;
  SECTION("backend error") {
    auto url = f.server.url_for(ExecRequest{"missing", {"true"}, false, false, true, false});
    Url u = parse(*url);
    SpdyClient c(u.port, u.path, false, false);
    auto status = nlohmann::json::parse(c.error->read_all());
    CHECK(status["status"] == "Failure");
    CHECK(status["message"].get<std::string>().find("container missing") != std::string::npos);
    CHECK(c.out->read_all().empty());
  }
  SECTION("client gone") {
    auto url = f.server.url_for(ExecRequest{"c1", {"sleep 30"}, false, false, true, false});
    Url u = parse(*url);
    {
      SpdyClient c(u.port, u.path, false, false);
      std::this_thread::sleep_for(200ms);
    }  // the connection closes here
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (f.backend.kills.load() == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
    CHECK(f.backend.kills.load() == 1);
  }
}

TEST_CASE("Stream URLs are single-use and the upgrade is checked", "[stream]") {
  Fixture f;
  auto url = f.server.url_for(ExecRequest{"c1", {"true"}, false, false, true, false});
  REQUIRE(url.ok());
  Url u = parse(*url);
  SECTION("a URL works once") {
    { SpdyClient c(u.port, u.path, false, false); c.error->read_all(); }
    fs::UniqueFd fd = connect_to(u.port);
    Response r = request(fd.get(), u.path, kSpdyV4);
    CHECK(r.code == 404);
    CHECK((r.head + r.rest + read_to_eof(fd.get())).find("unknown, used or expired") != std::string::npos);
  }
  SECTION("an exec token does not open an attach") {
    std::string token = u.path.substr(std::strlen("/exec/"));
    fs::UniqueFd fd = connect_to(u.port);
    CHECK(request(fd.get(), "/attach/" + token, kSpdyV4).code == 404);
  }
  SECTION("no upgrade") {
    fs::UniqueFd fd = connect_to(u.port);
    Response r = request(fd.get(), u.path, {});
    CHECK(r.code == 400);
    CHECK((r.rest + read_to_eof(fd.get())).find("upgrade") != std::string::npos);
  }
  SECTION("no common protocol") {
    fs::UniqueFd fd = connect_to(u.port);
    Response r = request(fd.get(), u.path, {"Connection: Upgrade", "Upgrade: SPDY/3.1", "X-Stream-Protocol-Version: v9.channel.k8s.io"});
    CHECK(r.code == 403);
    CHECK(r.head.find("X-Accepted-Stream-Protocol-Versions: v4.channel.k8s.io") != std::string::npos);
  }
  SECTION("an unknown path") {
    fs::UniqueFd fd = connect_to(u.port);
    CHECK(request(fd.get(), "/nothing/here", kSpdyV4).code == 404);
  }
}

TEST_CASE("Stream URLs expire and their number is bounded", "[stream]") {
  HostBackend backend;
  ServerOptions options;
  options.token_ttl = 50ms;
  options.max_pending_tokens = 3;
  Server server(options, backend);
  REQUIRE(server.start().ok());
  auto url = server.url_for(ExecRequest{"c1", {"true"}, false, false, true, false});
  REQUIRE(url.ok());
  REQUIRE(server.url_for(AttachRequest{"c1", false, false, true, false}).ok());
  REQUIRE(server.url_for(PortForwardRequest{"p1", {80}}).ok());
  auto full = server.url_for(PortForwardRequest{"p1", {80}});
  std::this_thread::sleep_for(100ms);
  CHECK(full.status().code() == crio::Code::kResourceExhausted);
  // Once they expired, room is made again.
  CHECK(server.url_for(PortForwardRequest{"p1", {80}}).ok());
  Url u = parse(*url);
  fs::UniqueFd fd = connect_to(u.port);
  CHECK(request(fd.get(), u.path, kSpdyV4).code == 404);
}

TEST_CASE("SPDY attach relays conmon's tagged packets and ends input with a shutdown", "[stream]") {
  Fixture f;
  auto url = f.server.url_for(AttachRequest{"c1", false, true, true, true});
  Url u = parse(*url);
  SpdyClient c(u.port, u.path, true, true);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!f.backend.attached.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  REQUIRE(f.backend.attached.load());
  int conmon = f.backend.conmon_side.get();
  REQUIRE(c.in->write("typed input\n"));
  char buf[256];
  ssize_t n = ::recv(conmon, buf, sizeof buf, 0);
  REQUIRE(n > 0);
  CHECK(std::string(buf, static_cast<size_t>(n)) == "typed input\n");
  c.in->close();
  CHECK(::recv(conmon, buf, sizeof buf, 0) == 0);  // our write side was shut
  REQUIRE(::send(conmon, "\x02out\n", 5, 0) == 5);
  REQUIRE(::send(conmon, "\x03" "err\n", 5, 0) == 5);
  f.backend.conmon_side.reset();  // the container exits: conmon closes
  std::string err;
  std::thread t([&] { err = c.err->read_all(); });
  CHECK(c.out->read_all() == "out\n");
  t.join();
  CHECK(err == "err\n");
  CHECK(nlohmann::json::parse(c.error->read_all())["status"] == "Success");
}

TEST_CASE("SPDY port-forward joins data streams to the pod port and reports dial errors", "[stream]") {
  Fixture f;
  // An echo server standing in for the pod's port: answers "pong:" + what it got.
  fs::UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(listener.get(), 8) == 0);
  socklen_t len = sizeof a;
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &len);
  uint16_t pod_port = ntohs(a.sin_port);
  std::thread echo([&] {
    for (int i = 0; i < 2; ++i) {
      fs::UniqueFd c(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c.valid()) return;
      std::string got = read_to_eof(c.get());
      std::string reply = "pong:" + got;
      ::send(c.get(), reply.data(), reply.size(), MSG_NOSIGNAL);
    }
  });

  auto url = f.server.url_for(PortForwardRequest{"p1", {pod_port}});
  Url u = parse(*url);
  REQUIRE(u.path.rfind("/portforward/", 0) == 0);
  fs::UniqueFd fd = connect_to(u.port);
  Response r = request(fd.get(), u.path, {"Connection: Upgrade", "Upgrade: SPDY/3.1", "X-Stream-Protocol-Version: portforward.k8s.io"});
  REQUIRE(r.code == 101);
  SpdySession session(std::move(fd), SpdySession::Role::kClient, r.rest);
  // Two connections over one session, as two local clients would make.
  for (int i = 0; i < 2; ++i) {
    std::string id = std::to_string(i);
    auto err = session.open({{"streamType", "error"}, {"port", std::to_string(pod_port)}, {"requestID", id}}, 5s);
    auto data = session.open({{"streamType", "data"}, {"port", std::to_string(pod_port)}, {"requestID", id}}, 5s);
    REQUIRE(err.ok());
    REQUIRE(data.ok());
    REQUIRE((*data)->write("ping" + id));
    (*data)->close();
    CHECK((*data)->read_all() == "pong:ping" + id);
    CHECK((*err)->read_all().empty());
  }
  auto err = session.open({{"streamType", "error"}, {"port", "1"}, {"requestID", "9"}}, 5s);
  auto data = session.open({{"streamType", "data"}, {"port", "1"}, {"requestID", "9"}}, 5s);
  REQUIRE(err.ok());
  REQUIRE(data.ok());
  std::string message = (*err)->read_all();
  CHECK(message.find("port 1 of pod p1") != std::string::npos);
  CHECK(message.find("connection refused") != std::string::npos);
  echo.join();
}

namespace {

// A minimal WebSocket client: masked binary frames out, unmasked frames in.
struct WsClient {
  fs::UniqueFd fd;
  std::string pending;

  void send(uint8_t channel, const std::string& data, uint8_t opcode = 2) {
    std::string payload(1, static_cast<char>(channel));
    payload += data;
    if (opcode != 2) payload = data;
    std::string frame;
    frame.push_back(static_cast<char>(0x80 | opcode));
    REQUIRE(payload.size() < 126);
    frame.push_back(static_cast<char>(0x80 | payload.size()));
    const char mask[4] = {0x11, 0x22, 0x33, 0x44};
    frame.append(mask, 4);
    for (size_t i = 0; i < payload.size(); ++i) frame.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
    REQUIRE(::send(fd.get(), frame.data(), frame.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(frame.size()));
  }
  bool fill(size_t n) {
    while (pending.size() < n) {
      char tmp[4096];
      ssize_t r = ::read(fd.get(), tmp, sizeof tmp);
      if (r <= 0) return false;
      pending.append(tmp, static_cast<size_t>(r));
    }
    return true;
  }
  // The next frame: opcode and payload; nullopt at EOF.
  std::optional<std::pair<int, std::string>> next() {
    if (!fill(2)) return std::nullopt;
    int op = pending[0] & 0x0f;
    uint64_t len = static_cast<unsigned char>(pending[1]) & 0x7f;
    size_t at = 2;
    if (len == 126) {
      if (!fill(4)) return std::nullopt;
      len = static_cast<unsigned char>(pending[2]) << 8 | static_cast<unsigned char>(pending[3]);
      at = 4;
    } else if (len == 127) {
      if (!fill(10)) return std::nullopt;
      len = 0;
      for (int i = 0; i < 8; ++i) len = len << 8 | static_cast<unsigned char>(pending[2 + i]);
      at = 10;
    }
    if (!fill(at + len)) return std::nullopt;
    std::string payload = pending.substr(at, len);
    pending.erase(0, at + len);
    return std::make_pair(op, payload);
  }
};

}  // namespace

TEST_CASE("WebSocket exec answers the handshake and multiplexes channels by their first byte", "[stream]") {
  Fixture f;
  auto url = f.server.url_for(ExecRequest{"c1", {"read line; echo got:$line; echo oops >&2; exit 3"}, false, true, true, true});
  Url u = parse(*url);
  WsClient ws{connect_to(u.port), ""};
  // The key and accept value of RFC 6455's example handshake.
  Response r = request(ws.fd.get(), u.path,
                       {"Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                        "Sec-WebSocket-Protocol: v5.channel.k8s.io, v4.channel.k8s.io"});
  REQUIRE(r.code == 101);
  CHECK(r.head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != std::string::npos);
  CHECK(r.head.find("Sec-WebSocket-Protocol: v5.channel.k8s.io") != std::string::npos);
  ws.pending = r.rest;
  ws.send(0, "typed\n");
  ws.send(255, std::string(1, '\0'));  // v5: close stdin
  std::string out, err, status;
  bool closed = false;
  while (auto frame = ws.next()) {
    if (frame->first == 8) {
      closed = true;
      ws.send(0, std::string("\x03\xe8", 2), 8);
      break;
    }
    REQUIRE(frame->first == 2);
    REQUIRE(!frame->second.empty());
    std::string data = frame->second.substr(1);
    switch (frame->second[0]) {
      case 1: out += data; break;
      case 2: err += data; break;
      case 3: status += data; break;
      default: FAIL("unexpected channel");
    }
  }
  CHECK(closed);
  CHECK(out == "got:typed\n");
  CHECK(err == "oops\n");
  auto j = nlohmann::json::parse(status);
  CHECK(j["reason"] == "NonZeroExitCode");
  CHECK(j["details"]["causes"][0]["message"] == "3");
}

TEST_CASE("A session idle past stream_idle_timeout is closed and its command killed", "[stream]") {
  HostBackend backend;
  ServerOptions options;
  options.idle_timeout = 300ms;
  Server server(options, backend);
  REQUIRE(server.start().ok());
  auto url = server.url_for(ExecRequest{"c1", {"sleep 30"}, false, false, true, false});
  REQUIRE(url.ok());
  Url u = parse(*url);
  SpdyClient c(u.port, u.path, false, false);
  auto t0 = std::chrono::steady_clock::now();
  // Nothing flows either way: the server ends the session, our streams see the end.
  CHECK(c.out->read_all().empty());
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (backend.kills.load() == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  CHECK(backend.kills.load() == 1);
}
