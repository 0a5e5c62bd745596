// Clients that misbehave on purpose: a thousand connections that never speak, a
// 100 MiB gRPC message, a flood of half-open upgrades on the streaming server, huge
// headers to the status API. Each gets an error or a timeout, and everyone else keeps
// being served within twice their normal latency.

#include "daemon_fixture.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

using crio::test::Daemon;
namespace v1 = runtime::v1;

namespace {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

Fd connect_unix(const std::string& path) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

Fd connect_tcp(int port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

void send_all(int fd, const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Everything the peer sends until it closes (or `limit` passes).
std::string read_until_closed(int fd, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + limit;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// The median of `runs` timings of `call`, in microseconds; `call` must succeed.
double median_us(int runs, const std::function<bool()>& call) {
  std::vector<double> took;
  for (int i = 0; i < runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    REQUIRE(call());
    took.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(took.begin(), took.end());
  return took[took.size() / 2];
}

bool version_ok(v1::RuntimeService::Stub& stub) {
  grpc::ClientContext context;
  crio::test::set_deadline(context, 5);
  v1::VersionRequest request;
  v1::VersionResponse response;
  return stub.Version(&context, request, &response).ok();
}

int open_fds(pid_t pid) {
  int n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

// A TCP port nothing listens on right now (the kernel's pick for port 0).
int free_port() {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

// Twice the normal latency, with a floor for calls that take a fraction of a
// millisecond, where scheduling noise alone can double a median.
double allowed_us(double normal_us) { return std::max(2 * normal_us, normal_us + 2000); }

}  // namespace

TEST_CASE("A thousand connections that never speak do not keep other clients from being served",
          "[daemon][hostile]") {
  Daemon daemon;
  auto stub = daemon.runtime_stub();
  REQUIRE(version_ok(*stub));
  const double normal = median_us(50, [&] { return version_ok(*stub); });
  const int fds_before = open_fds(daemon.child().pid());

  std::vector<Fd> silent;
  for (int i = 0; i < 1000; ++i) silent.push_back(connect_unix(daemon.socket()));
  // The daemon took them all (one descriptor each) and waits for their first bytes.
  CHECK(crio::test::eventually([&] { return open_fds(daemon.child().pid()) >= fds_before + 1000; },
                               std::chrono::seconds(10)));

  const double loaded = median_us(50, [&] { return version_ok(*stub); });
  INFO("Version median: " << normal << " us normally, " << loaded << " us with 1000 silent connections");
  CHECK(loaded <= allowed_us(normal));
  // A new gRPC client and a status API client are served too.
  CHECK(version_ok(*daemon.runtime_stub()));
  CHECK(crio::test::http_request(daemon.socket(), "GET", "/info").status == 200);
  CHECK(daemon.child().running());
}

TEST_CASE("A 100 MiB gRPC message is refused as ResourceExhausted and the daemon goes on", "[daemon][hostile]") {
  Daemon daemon;
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(-1);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel("unix://" + daemon.socket(), grpc::InsecureChannelCredentials(), args);
  auto big_stub = v1::RuntimeService::NewStub(channel);

  v1::RunPodSandboxRequest request;
  request.mutable_config()->mutable_metadata()->set_name("huge");
  (*request.mutable_config()->mutable_annotations())["blob"] = std::string(100 * 1024 * 1024, 'x');
  grpc::ClientContext context;
  crio::test::set_deadline(context, 60);
  v1::RunPodSandboxResponse response;
  grpc::Status s = big_stub->RunPodSandbox(&context, request, &response);
  INFO(s.error_message());
  CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK_THAT(s.error_message(), Catch::Contains("larger than max"));

  // Nothing was made, and the daemon answers everyone, the same client included.
  auto stub = daemon.runtime_stub();
  CHECK(version_ok(*stub));
  CHECK(version_ok(*big_stub));
  grpc::ClientContext list_context;
  crio::test::set_deadline(list_context);
  v1::ListPodSandboxRequest list;
  v1::ListPodSandboxResponse pods;
  REQUIRE(stub->ListPodSandbox(&list_context, list, &pods).ok());
  CHECK(pods.items_size() == 0);
}

TEST_CASE("Half-open upgrades flooding the streaming server time out, and other requests are answered",
          "[daemon][hostile]") {
  const int port = free_port();
  Daemon daemon("", false);
  crio::test::write_file(daemon.dir() / "crio.conf.d/20-stream.conf",
                         "[crio.api]\nstream_address = \"127.0.0.1\"\nstream_port = \"" + std::to_string(port) + "\"\n");
  daemon.start();
  // What any client gets for a request the server can answer at once: an unknown token.
  auto probe = [&] {
    Fd fd = connect_tcp(port);
    send_all(fd.get(), "POST /exec/no-such-token HTTP/1.1\r\nHost: crio\r\nUpgrade: SPDY/3.1\r\n\r\n");
    std::string answer = read_until_closed(fd.get());
    return answer.rfind("HTTP/1.1 404", 0) == 0;
  };
  const double normal = median_us(30, probe);

  // 300 clients that start an upgrade and never finish its header block.
  std::vector<Fd> half_open;
  for (int i = 0; i < 300; ++i) {
    half_open.push_back(connect_tcp(port));
    send_all(half_open.back().get(), "POST /exec/abc HTTP/1.1\r\nHost: crio\r\nUpgrade: SPDY/3.1\r\n");
  }
  const double loaded = median_us(30, probe);
  INFO("stream server median: " << normal << " us normally, " << loaded << " us with 300 half-open upgrades");
  CHECK(loaded <= allowed_us(normal));
  CHECK(version_ok(*daemon.runtime_stub()));

  // Each half-open client is dropped once its header block is overdue (10 s).
  std::string dropped = read_until_closed(half_open.front().get(), std::chrono::seconds(15));
  CHECK((dropped.rfind("HTTP/1.1 4", 0) == 0 || dropped.empty()));
  pollfd p{half_open.back().get(), POLLIN, 0};
  CHECK(::poll(&p, 1, 5000) == 1);  // closed (readable at EOF) by now as well
}

TEST_CASE("Huge headers to the status API get 431, and other clients are served meanwhile", "[daemon][hostile]") {
  Daemon daemon;
  const double normal = median_us(30, [&] { return crio::test::http_request(daemon.socket(), "GET", "/info").status == 200; });

  // A header block that never ends, and one that ends after 1 MiB.
  Fd endless = connect_unix(daemon.socket());
  send_all(endless.get(), "GET /info HTTP/1.1\r\nHost: crio\r\nX-Filler: " + std::string(64 * 1024, 'a'));
  std::string endless_answer = read_until_closed(endless.get());
  CHECK(endless_answer.rfind("HTTP/1.1 431", 0) == 0);

  Fd huge = connect_unix(daemon.socket());
  send_all(huge.get(), "GET /info HTTP/1.1\r\nHost: crio\r\nX-Filler: " + std::string(1024 * 1024, 'a') + "\r\n\r\n");
  std::string huge_answer = read_until_closed(huge.get());
  CHECK(huge_answer.rfind("HTTP/1.1 431", 0) == 0);
  CHECK_THAT(huge_answer, Catch::Contains("request header is larger than 16384 bytes"));

  // 200 clients each holding a half-sent 15 KiB header.
  std::vector<Fd> slow;
  for (int i = 0; i < 200; ++i) {
    slow.push_back(connect_unix(daemon.socket()));
    send_all(slow.back().get(), "GET /info HTTP/1.1\r\nX-Filler: " + std::string(15 * 1024, 'b'));
  }
  const double loaded =
      median_us(30, [&] { return crio::test::http_request(daemon.socket(), "GET", "/info").status == 200; });
  INFO("/info median: " << normal << " us normally, " << loaded << " us with 200 slow senders");
  CHECK(loaded <= allowed_us(normal));
  CHECK(version_ok(*daemon.runtime_stub()));
}
