// The HTTP status API, driven with real HTTP/1.1 over a unix socket.

#include "test_server.hpp"

#include <catch2/catch.hpp>

using crio::daemon::http::StatusHandlers;
using crio::test::FakeDaemon;
using crio::test::HttpResponse;
using crio::test::RawClient;
using crio::test::TestServer;
using nlohmann::json;

namespace {

std::string header(const HttpResponse& res, boost::beast::http::field f) { return std::string(res[f]); }

json error_body(const HttpResponse& res) {
  REQUIRE(header(res, boost::beast::http::field::content_type) == "application/json");
  json j = json::parse(res.body());
  REQUIRE(j.contains("error"));
  return j["error"];
}

}  // namespace

TEST_CASE("GET /info answers the daemon's facts as JSON") {
  TestServer server(crio::test::fake_handlers(std::make_shared<FakeDaemon>()));
  RawClient client(server.path());
  auto res = client.request("GET", "/info");
  REQUIRE(res);
  CHECK(res->result_int() == 200);
  CHECK(header(*res, boost::beast::http::field::content_type) == "application/json");
  CHECK(json::parse(res->body()) == crio::test::sample_info());
}

TEST_CASE("GET /config answers the TOML text") {
  TestServer server(crio::test::fake_handlers(std::make_shared<FakeDaemon>()));
  RawClient client(server.path());
  auto res = client.request("GET", "/config");
  REQUIRE(res);
  CHECK(res->result_int() == 200);
  CHECK(header(*res, boost::beast::http::field::content_type) == "application/toml");
  CHECK(res->body() == crio::test::kSampleToml);
}

TEST_CASE("GET /containers/:id answers the container or a 404 JSON error") {
  TestServer server(crio::test::fake_handlers(std::make_shared<FakeDaemon>()));
  RawClient client(server.path());

  auto found = client.request("GET", "/containers/c1");
  REQUIRE(found);
  CHECK(found->result_int() == 200);
  CHECK(json::parse(found->body())["name"] == "k8s_app_c1");

  auto missing = client.request("GET", "/containers/x");
  REQUIRE(missing);
  CHECK(missing->result_int() == 404);
  CHECK(error_body(*missing) == "can't find the container with id x");

  // The ID is percent-decoded, and a query string is not part of it.
  auto escaped = client.request("GET", "/containers/a%20b?verbose=1");
  REQUIRE(escaped);
  CHECK(escaped->result_int() == 200);
  CHECK(json::parse(escaped->body())["name"] == "k8s_app_a b");

  auto bad_escape = client.request("GET", "/containers/a%2");
  REQUIRE(bad_escape);
  CHECK(bad_escape->result_int() == 400);
}

TEST_CASE("/pause/:id and /unpause/:id reach their handlers with GET and POST") {
  auto fake = std::make_shared<FakeDaemon>();
  TestServer server(crio::test::fake_handlers(fake));
  RawClient client(server.path());

  auto paused = client.request("GET", "/pause/c1");
  REQUIRE(paused);
  CHECK(paused->result_int() == 200);
  CHECK(json::parse(paused->body()) == json{{"id", "c1"}, {"paused", true}});

  auto unpaused = client.request("POST", "/unpause/c1", "Content-Length: 0\r\n");
  REQUIRE(unpaused);
  CHECK(unpaused->result_int() == 200);
  CHECK(json::parse(unpaused->body()) == json{{"id", "c1"}, {"paused", false}});

  CHECK(fake->seen() == std::vector<std::string>{"pause c1", "unpause c1"});
}

TEST_CASE("a handler's status code picks the HTTP status") {
  TestServer server(crio::test::fake_handlers(std::make_shared<FakeDaemon>()));
  RawClient client(server.path());
  struct Case {
    const char* target;
    unsigned status;
    const char* message;
  };
  for (const Case& c :
       {Case{"/pause/nosuch", 404, "can't find the container with id nosuch"},
        Case{"/pause/bad", 400, "container ID bad is malformed"},
        Case{"/pause/stopped", 409, "container stopped is not running"},
        Case{"/unpause/unimpl", 501, "pausing is not supported"}, Case{"/unpause/broken", 500, "runc pause failed"}}) {
    INFO(c.target);
    auto res = client.request("GET", c.target);
    REQUIRE(res);
    CHECK(res->result_int() == c.status);
    CHECK(error_body(*res) == c.message);
  }
  CHECK(crio::daemon::http::http_status_for(crio::Code::kAlreadyExists) == 500);
}

TEST_CASE("a handler that throws answers 500 and the connection goes on") {
  TestServer server(crio::test::fake_handlers(std::make_shared<FakeDaemon>()));
  RawClient client(server.path());
  auto res = client.request("GET", "/pause/throws");
  REQUIRE(res);
  CHECK(res->result_int() == 500);
  CHECK(error_body(*res).get<std::string>().find("boom") != std::string::npos);
  auto next = client.request("GET", "/info");
  REQUIRE(next);
  CHECK(next->result_int() == 200);
}

TEST_CASE("an endpoint without a handler answers 501") {
  StatusHandlers handlers;
  handlers.info = [] { return crio::test::sample_info(); };
  TestServer server(handlers);
  RawClient client(server.path());
  auto res = client.request("GET", "/config");
  REQUIRE(res);
  CHECK(res->result_int() == 501);
  CHECK(error_body(*res).get<std::string>().find("/config") != std::string::npos);
}

TEST_CASE("an unknown path answers 404 JSON") {
  TestServer server(crio::test::fake_handlers(std::make_shared<FakeDaemon>()));
  RawClient client(server.path());
  for (const char* target : {"/nope", "/containers/", "/containers/a/b", "/info/", "/"}) {
    INFO(target);
    auto res = client.request("GET", target);
    REQUIRE(res);
    CHECK(res->result_int() == 404);
    CHECK(error_body(*res).get<std::string>().find("no such endpoint") != std::string::npos);
  }
}

TEST_CASE("a known path with the wrong method answers 405 with Allow") {
  auto fake = std::make_shared<FakeDaemon>();
  TestServer server(crio::test::fake_handlers(fake));
  RawClient client(server.path());

  auto info = client.request("POST", "/info", "Content-Length: 0\r\n");
  REQUIRE(info);
  CHECK(info->result_int() == 405);
  CHECK(header(*info, boost::beast::http::field::allow) == "GET");
  CHECK(error_body(*info).get<std::string>().find("POST") != std::string::npos);

  auto pause = client.request("DELETE", "/pause/c1");
  REQUIRE(pause);
  CHECK(pause->result_int() == 405);
  CHECK(header(*pause, boost::beast::http::field::allow) == "GET, POST");
  CHECK(fake->seen().empty());
}

TEST_CASE("garbage gets 400, the connection closes, and the next client is served") {
  TestServer server(crio::test::fake_handlers(std::make_shared<FakeDaemon>()));
  {
    RawClient bad(server.path());
    bad.send("\x01\x02 this is not HTTP at all\r\n\r\n");
    auto res = bad.read_response();
    REQUIRE(res);
    CHECK(res->result_int() == 400);
    CHECK(error_body(*res).get<std::string>().find("malformed HTTP request") != std::string::npos);
    CHECK(bad.closed_by_peer());
  }
  RawClient good(server.path());
  auto res = good.request("GET", "/info");
  REQUIRE(res);
  CHECK(res->result_int() == 200);
}

TEST_CASE("keep-alive serves several requests on one connection") {
  TestServer::Options options;
  options.threads = 2;  // the connection's strand must keep its steps in order
  TestServer server(crio::test::fake_handlers(std::make_shared<FakeDaemon>()), options);
  RawClient client(server.path());

  auto first = client.request("GET", "/info");
  REQUIRE(first);
  CHECK(first->result_int() == 200);
  CHECK(first->keep_alive());
  auto second = client.request("GET", "/config");
  REQUIRE(second);
  CHECK(second->result_int() == 200);
  CHECK(second->body() == crio::test::kSampleToml);

  // Two requests in one write are answered in order.
  client.send("GET /containers/c1 HTTP/1.1\r\nHost: x\r\n\r\nGET /containers/x HTTP/1.1\r\nHost: x\r\n\r\n");
  auto third = client.read_response();
  auto fourth = client.read_response();
  REQUIRE(third);
  REQUIRE(fourth);
  CHECK(third->result_int() == 200);
  CHECK(fourth->result_int() == 404);

  // "Connection: close" is honoured.
  auto last = client.request("GET", "/info", "Connection: close\r\n");
  REQUIRE(last);
  CHECK_FALSE(last->keep_alive());
  CHECK(client.closed_by_peer());
}

TEST_CASE("a request body over the limit gets 413 and the connection closes") {
  TestServer::Options options;
  options.limits.max_body_bytes = 1024;
  auto fake = std::make_shared<FakeDaemon>();
  TestServer server(crio::test::fake_handlers(fake), options);
  RawClient client(server.path());
  client.send("POST /pause/c1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'a'));
  auto res = client.read_response();
  REQUIRE(res);
  CHECK(res->result_int() == 413);
  CHECK(error_body(*res).get<std::string>().find("1024") != std::string::npos);
  CHECK(fake->seen().empty());
}

TEST_CASE("a client that sends nothing is disconnected after the read timeout") {
  TestServer::Options options;
  options.limits.read_timeout = std::chrono::milliseconds(200);
  TestServer server(crio::test::fake_handlers(std::make_shared<FakeDaemon>()), options);

  RawClient idle(server.path());
  auto start = std::chrono::steady_clock::now();
  CHECK(idle.closed_by_peer(std::chrono::seconds(5)));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));

  // A slow client that started a request but never finished it goes the same way.
  RawClient slow(server.path());
  slow.send("GET /info HTTP/1.1\r\nHost: x\r\n");
  CHECK(slow.closed_by_peer(std::chrono::seconds(5)));
}

TEST_CASE("bytes the daemon read to sniff the protocol are parsed first") {
  TestServer::Options options;
  options.sniff_bytes = 7;  // "GET /in"
  TestServer server(crio::test::fake_handlers(std::make_shared<FakeDaemon>()), options);
  RawClient client(server.path());
  auto res = client.request("GET", "/info");
  REQUIRE(res);
  CHECK(res->result_int() == 200);
  CHECK(json::parse(res->body()) == crio::test::sample_info());
}

TEST_CASE("HTTP/1.0 requests are answered and the connection closes") {
  TestServer server(crio::test::fake_handlers(std::make_shared<FakeDaemon>()));
  RawClient client(server.path());
  client.send("GET /config HTTP/1.0\r\n\r\n");
  auto res = client.read_response();
  REQUIRE(res);
  CHECK(res->result_int() == 200);
  CHECK(res->version() == 10);
  CHECK(client.closed_by_peer());
}

TEST_CASE("header lines ending in a bare LF are read as Go's server reads them") {
  TestServer server(crio::test::fake_handlers(std::make_shared<FakeDaemon>()));
  {
    // What `echo -e 'GET /info HTTP/1.1\r\nHost: crio\r\n' | socat ...` sends.
    RawClient client(server.path());
    client.send("GET /info HTTP/1.1\r\nHost: crio\r\n\n");
    auto res = client.read_response();
    REQUIRE(res);
    CHECK(res->result_int() == 200);
    CHECK(json::parse(res->body()) == crio::test::sample_info());
  }
  {
    // Every line with a bare LF, empty lines before the request, and a second request
    // on the same connection after it.
    RawClient client(server.path());
    client.send("\r\n\nGET /containers/c1 HTTP/1.1\nHost: crio\n\nGET /containers/zz HTTP/1.1\nHost: crio\n\n");
    auto first = client.read_response();
    auto second = client.read_response();
    REQUIRE(first);
    REQUIRE(second);
    CHECK(first->result_int() == 200);
    CHECK(json::parse(first->body())["name"] == "k8s_app_c1");
    CHECK(second->result_int() == 404);
    CHECK(error_body(*second).get<std::string>() == "can't find the container with id zz");
  }
}

TEST_CASE("a header block over the limit gets 431 whether or not it ended") {
  TestServer::Options options;
  options.limits.max_header_bytes = 512;
  TestServer server(crio::test::fake_handlers(std::make_shared<FakeDaemon>()), options);
  for (const char* end : {"", "\n\n"}) {
    RawClient client(server.path());
    client.send("GET /info HTTP/1.1\nHost: x\nX-Big: " + std::string(2000, 'a') + end);
    auto res = client.read_response();
    REQUIRE(res);
    CHECK(res->result_int() == 431);
    CHECK(client.closed_by_peer());
  }
}

TEST_CASE("normalize_header_block ends the block's lines with CRLF and keeps what follows") {
  using crio::daemon::http::HeaderBlock;
  using crio::daemon::http::normalize_header_block;
  std::string data = "\n\r\nGET / HTTP/1.1\nA: b\r\n\nbody\nbytes";
  CHECK(normalize_header_block(data, 1024) == HeaderBlock::kComplete);
  CHECK(data == "GET / HTTP/1.1\r\nA: b\r\n\r\nbody\nbytes");

  std::string partial = "GET / HTTP/1.1\nA: b\n";
  CHECK(normalize_header_block(partial, 1024) == HeaderBlock::kIncomplete);
  CHECK(partial == "GET / HTTP/1.1\nA: b\n");
  CHECK(normalize_header_block(partial, 8) == HeaderBlock::kTooLarge);

  std::string blank = "\r\n\r\n";
  CHECK(normalize_header_block(blank, 1024) == HeaderBlock::kIncomplete);
  CHECK(blank.empty());
}
