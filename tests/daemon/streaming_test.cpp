// Exec, Attach and PortForward end to end: the RPC hands out a URL, a SPDY client
// (the project's own framing, client role) opens the streams, and real containers on
// runc and crun answer.

#include "container_fixture.hpp"
#include "stream/spdy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

using namespace crio::test::containers;
using crio::daemon::stream::SpdySession;
using crio::daemon::stream::SpdyStream;
using namespace std::chrono_literals;

namespace {

struct Url {
  uint16_t port = 0;
  std::string path;
};

Url parse_url(const std::string& url) {
  std::smatch m;
  REQUIRE(std::regex_match(url, m, std::regex(R"(^http://127\.0\.0\.1:(\d+)(/.*)$)")));
  return {static_cast<uint16_t>(std::stoi(m[1].str())), m[2].str()};
}

// Connects, upgrades to SPDY/3.1 with `protocol` and returns the client session.
std::unique_ptr<SpdySession> upgrade(const std::string& url, const std::string& protocol) {
  Url u = parse_url(url);
  crio::fs::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(u.port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  std::string req = "POST " + u.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n" +
                    "X-Stream-Protocol-Version: " + protocol + "\r\n\r\n";
  REQUIRE(::send(fd.get(), req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
  std::string buf;
  while (buf.find("\r\n\r\n") == std::string::npos) {
    char tmp[1024];
    ssize_t n = ::read(fd.get(), tmp, sizeof tmp);
    REQUIRE(n > 0);
    buf.append(tmp, static_cast<size_t>(n));
  }
  INFO(buf);
  REQUIRE(buf.rfind("HTTP/1.1 101", 0) == 0);
  std::string rest = buf.substr(buf.find("\r\n\r\n") + 4);
  return std::make_unique<SpdySession>(std::move(fd), SpdySession::Role::kClient, rest);
}

std::shared_ptr<SpdyStream> open(SpdySession& session, crio::daemon::stream::Headers headers) {
  auto s = session.open(headers, 10s);
  INFO(s.status().message());
  REQUIRE(s.ok());
  return *s;
}

// Exec, Attach or PortForward: the status, and the URL in *url.
template <typename Request, typename Response>
grpc::Status stream_url(Client& client,
                        grpc::Status (v1::RuntimeService::Stub::*rpc)(grpc::ClientContext*, const Request&, Response*),
                        const Request& request, std::string* url) {
  grpc::ClientContext context;
  crio::test::set_deadline(context);
  Response response;
  grpc::Status s = (client.stub.get()->*rpc)(&context, request, &response);
  *url = response.url();
  return s;
}

grpc::Status exec_url(Client& client, const v1::ExecRequest& request, std::string* url) {
  return stream_url(client, &v1::RuntimeService::Stub::Exec, request, url);
}
grpc::Status attach_url(Client& client, const v1::AttachRequest& request, std::string* url) {
  return stream_url(client, &v1::RuntimeService::Stub::Attach, request, url);
}
grpc::Status port_forward_url(Client& client, const v1::PortForwardRequest& request, std::string* url) {
  return stream_url(client, &v1::RuntimeService::Stub::PortForward, request, url);
}

}  // namespace

TEMPLATE_TEST_CASE("Exec and Attach stream a container's stdio through the streaming server", "[daemon][stream]",
                   Runc, Crun) {
  const std::string handler = TestType::kHandler;
  Env env;
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("stream-" + handler, handler)};
  std::string sleeper = client.create_ok(pod.id, Client::config("sleeper", env.image, {"/bin/busybox", "sleep", "1000"}));
  REQUIRE(client.start(sleeper).ok());

  SECTION("exec with separate stdout and stderr reports the exit code") {
    v1::ExecRequest request;
    request.set_container_id(sleeper);
    for (const char* a : {"/bin/busybox", "sh", "-c", "echo to-out; echo to-err >&2; exit 5"}) request.add_cmd(a);
    request.set_stdout(true);
    request.set_stderr(true);
    std::string url;
    REQUIRE(exec_url(client, request, &url).ok());
    auto session = upgrade(url, "v4.channel.k8s.io");
    auto error = open(*session, {{"streamType", "error"}});
    auto out = open(*session, {{"streamType", "stdout"}});
    auto err = open(*session, {{"streamType", "stderr"}});
    std::string err_text;
    std::thread t([&] { err_text = err->read_all(); });
    CHECK(out->read_all() == "to-out\n");
    t.join();
    CHECK(err_text == "to-err\n");
    auto status = nlohmann::json::parse(error->read_all());
    CHECK(status["reason"] == "NonZeroExitCode");
    CHECK(status["details"]["causes"][0]["message"] == "5");
  }

  SECTION("exec with a terminal and stdin") {
    v1::ExecRequest request;
    request.set_container_id(sleeper);
    for (const char* a : {"/bin/busybox", "sh", "-c", "read line; tty; stty size; echo got-$line"}) request.add_cmd(a);
    request.set_stdout(true);
    request.set_stdin(true);
    request.set_tty(true);
    std::string url;
    REQUIRE(exec_url(client, request, &url).ok());
    auto session = upgrade(url, "v4.channel.k8s.io");
    auto error = open(*session, {{"streamType", "error"}});
    auto in = open(*session, {{"streamType", "stdin"}});
    auto out = open(*session, {{"streamType", "stdout"}});
    auto resize = open(*session, {{"streamType", "resize"}});
    REQUIRE(resize->write("{\"Width\":91,\"Height\":33}\n"));
    REQUIRE(in->write("typed\r"));
    std::string text = out->read_all();
    CHECK_THAT(text, Catch::Contains("/dev/pts/"));
    CHECK_THAT(text, Catch::Contains("33 91"));
    CHECK_THAT(text, Catch::Contains("got-typed"));
    CHECK(nlohmann::json::parse(error->read_all())["status"] == "Success");
  }

  SECTION("attach relays a shell's stdin and output, and stdin_once ends it") {
    v1::ContainerConfig config = Client::config("shell", env.image, {"/bin/busybox", "sh"});
    config.set_stdin(true);
    config.set_stdin_once(true);
    std::string shell = client.create_ok(pod.id, config);
    REQUIRE(client.start(shell).ok());
    v1::AttachRequest request;
    request.set_container_id(shell);
    request.set_stdin(true);
    request.set_stdout(true);
    request.set_stderr(true);
    std::string url;
    REQUIRE(attach_url(client, request, &url).ok());
    auto session = upgrade(url, "v4.channel.k8s.io");
    auto error = open(*session, {{"streamType", "error"}});
    auto in = open(*session, {{"streamType", "stdin"}});
    auto out = open(*session, {{"streamType", "stdout"}});
    auto err = open(*session, {{"streamType", "stderr"}});
    REQUIRE(in->write("echo attached-out; echo attached-err >&2\n"));
    std::string err_text;
    std::thread t([&] { err_text = err->read_all(); });
    char buf[64];
    std::string got;
    while (got.find('\n') == std::string::npos) {
      size_t n = out->read(buf, sizeof buf);
      REQUIRE(n > 0);
      got.append(buf, n);
    }
    CHECK(got == "attached-out\n");
    in->close();  // stdin_once: the shell sees the end of its input and exits
    CHECK(out->read_all().empty());
    t.join();
    CHECK(err_text == "attached-err\n");
    CHECK(nlohmann::json::parse(error->read_all())["status"] == "Success");
    auto status = client.wait_state(shell, v1::CONTAINER_EXITED);
    CHECK(status.state() == v1::CONTAINER_EXITED);
    CHECK(status.exit_code() == 0);
  }

  SECTION("bad requests are refused with the reason") {
    v1::ExecRequest request;
    request.set_container_id(sleeper);
    request.add_cmd("/bin/busybox");
    request.set_stdout(true);
    request.set_stderr(true);
    request.set_tty(true);
    std::string url;
    grpc::Status s = exec_url(client, request, &url);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(s.error_message(), Catch::Contains("tty and stderr"));

    request.set_tty(false);
    request.set_container_id("0123456789abcdef");
    s = exec_url(client, request, &url);
    CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);

    request.set_container_id(sleeper);
    request.clear_cmd();
    s = exec_url(client, request, &url);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(s.error_message(), Catch::Contains("cmd is required"));

    v1::AttachRequest attach;
    attach.set_container_id(sleeper);
    attach.set_stdin(true);
    s = attach_url(client, attach, &url);
    CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    CHECK_THAT(s.error_message(), Catch::Contains("not created with stdin"));

    REQUIRE(client.stop(sleeper, 0).ok());
    request.add_cmd("/bin/busybox");
    s = exec_url(client, request, &url);
    CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    CHECK_THAT(s.error_message(), Catch::Contains("is not created or running"));
  }
}

TEMPLATE_TEST_CASE("PortForward reaches a port on the pod's own loopback", "[daemon][stream]", Runc, Crun) {
  const std::string handler = TestType::kHandler;
  Env env;
  TestNetwork network(*env.daemon);
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("pf-" + handler, handler, false)};
  std::string web = client.create_ok(
      pod.id, Client::config("web", env.image,
                             {"/bin/busybox", "sh", "-c",
                              "mkdir -p /tmp/www && echo served-page > /tmp/www/index.html && "
                              "exec /bin/busybox httpd -f -p 127.0.0.1:8080 -h /tmp/www"}));
  REQUIRE(client.start(web).ok());
  // httpd listens only on the pod's loopback: nothing outside the pod reaches it
  // except through the port-forward.
  for (int i = 0; i < 100; ++i) {
    v1::ExecSyncResponse r;
    if (client.exec(web, {"/bin/busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/index.html"}, 5, &r).ok() &&
        r.exit_code() == 0) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }

  v1::PortForwardRequest request;
  request.set_pod_sandbox_id(pod.id);
  request.add_port(8080);
  std::string url;
  REQUIRE(port_forward_url(client, request, &url).ok());
  auto session = upgrade(url, "portforward.k8s.io");
  for (int i = 0; i < 2; ++i) {
    auto error = open(*session, {{"streamType", "error"}, {"port", "8080"}, {"requestID", std::to_string(i)}});
    auto data = open(*session, {{"streamType", "data"}, {"port", "8080"}, {"requestID", std::to_string(i)}});
    REQUIRE(data->write("GET /index.html HTTP/1.0\r\n\r\n"));
    std::string response = data->read_all();
    CHECK_THAT(response, Catch::StartsWith("HTTP/1.1 200"));
    CHECK_THAT(response, Catch::Contains("served-page"));
    CHECK(error->read_all().empty());
  }
  // Nothing listens on 8081: the error stream says so.
  auto error = open(*session, {{"streamType", "error"}, {"port", "8081"}, {"requestID", "9"}});
  auto data = open(*session, {{"streamType", "data"}, {"port", "8081"}, {"requestID", "9"}});
  CHECK_THAT(error->read_all(), Catch::Contains("port 8081"));

  v1::PortForwardRequest bad;
  bad.set_pod_sandbox_id("0123456789abcdef");
  CHECK(port_forward_url(client, bad, &url).error_code() == grpc::StatusCode::NOT_FOUND);
  bad.set_pod_sandbox_id(pod.id);
  bad.add_port(70000);
  CHECK(port_forward_url(client, bad, &url).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
}
