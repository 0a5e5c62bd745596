#pragma once
// A StatusApi served in-process on a socket in a TempDir, with fake handlers, and a
// raw HTTP client whose every wait is bounded so a broken server fails a test
// instead of hanging it.

#include "crio/http/status_api.hpp"
#include "temp_dir.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace crio::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Protocol = asio::local::stream_protocol;
using HttpResponse = bhttp::response<bhttp::string_body>;

inline nlohmann::json sample_info() {
  nlohmann::json mapping = {{"container_id", 0}, {"host_id", 0}, {"size", 4294967295u}};
  return {{"storage_driver", "overlay"},
          {"storage_root", "/var/lib/containers/storage"},
          {"storage_image", ""},
          {"cgroup_driver", "cgroupfs"},
          {"default_id_mappings",
           {{"uids", nlohmann::json::array({mapping})},
            {"gids", nlohmann::json::array({mapping, {{"container_id", 1}, {"host_id", 100000}, {"size", 65536}}})}}}};
}

inline const std::string kSampleToml =
    "[crio]\nroot = \"/var/lib/containers/storage\"\n\n[crio.runtime]\ndefault_runtime = \"runc\"\n";

// Records which pause/unpause calls arrived; known containers are "c1" and "a b".
struct FakeDaemon {
  std::mutex mu;
  std::vector<std::string> calls;  // guarded by mu

  void record(const std::string& call) {
    std::lock_guard lock(mu);
    calls.push_back(call);
  }
  std::vector<std::string> seen() {
    std::lock_guard lock(mu);
    return calls;
  }
};

inline daemon::http::StatusHandlers fake_handlers(std::shared_ptr<FakeDaemon> fake) {
  daemon::http::StatusHandlers h;
  h.info = [] { return sample_info(); };
  h.config = [] { return kSampleToml; };
  h.container = [](const std::string& id) -> Result<nlohmann::json> {
    if (id == "c1" || id == "a b") {
      return nlohmann::json{{"name", "k8s_app_" + id},
                            {"pid", 42},
                            {"image", "quay.io/x/app:1"},
                            {"image_ref", "quay.io/x/app@sha256:ab"},
                            {"created_time", 1700000000000000000},
                            {"labels", {{"tier", "web"}}},
                            {"annotations", {{"a", "1"}, {"b", "2"}}},
                            {"crio_annotations", nlohmann::json::object()},
                            {"log_path", "/var/log/pods/c1.log"},
                            {"root", "/var/lib/crio/overlay/c1/merged"},
                            {"sandbox", "s1"},
                            {"ip_addresses", {"10.88.0.2", "fd00::2"}}};
    }
    return error(Code::kNotFound, "can't find the container with id {}", id);
  };
  // The ID picks the answer, so one handler covers every status mapping.
  auto pause_like = [fake](const char* verb) {
    return [fake, verb](const std::string& id) -> Status {
      fake->record(std::string(verb) + " " + id);
      if (id == "c1") return ok_status();
      if (id == "stopped") return error(Code::kFailedPrecondition, "container {} is not running", id);
      if (id == "bad") return error(Code::kInvalidArgument, "container ID {} is malformed", id);
      if (id == "unimpl") return error(Code::kUnimplemented, "pausing is not supported");
      if (id == "broken") return error(Code::kInternal, "runc pause failed");
      if (id == "throws") throw std::runtime_error("boom");
      return error(Code::kNotFound, "can't find the container with id {}", id);
    };
  };
  h.pause = pause_like("pause");
  h.unpause = pause_like("unpause");
  return h;
}

class TestServer {
 public:
  struct Options {
    daemon::http::StatusApiLimits limits{};
    std::size_t sniff_bytes = 0;  // read this many bytes before handing over, as the daemon does
    int threads = 1;
  };

  explicit TestServer(daemon::http::StatusHandlers handlers) : TestServer(std::move(handlers), Options{}) {}
  TestServer(daemon::http::StatusHandlers handlers, Options options)
      : api_(std::move(handlers), options.limits), sniff_bytes_(options.sniff_bytes) {
    path_ = dir_ / "crio.sock";
    acceptor_.open(Protocol());
    acceptor_.bind(Protocol::endpoint(path_));
    acceptor_.listen();
    accept();
    for (int i = 0; i < options.threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }
  ~TestServer() {
    ioc_.stop();
    for (auto& t : threads_) t.join();
  }

  const std::string& path() const { return path_; }

 private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, Protocol::socket socket) {
      if (ec) return;
      if (sniff_bytes_ > 0) {
        std::string first(sniff_bytes_, '\0');
        asio::read(socket, asio::buffer(first), ec);
        if (!ec) api_.serve(std::move(socket), std::move(first));
      } else {
        api_.serve(std::move(socket));
      }
      accept();
    });
  }

  TempDir dir_{"crio-status-test"};
  std::string path_;
  asio::io_context ioc_;
  Protocol::acceptor acceptor_{ioc_};
  daemon::http::StatusApi api_;
  std::size_t sniff_bytes_;
  std::vector<std::thread> threads_;
};

// One client connection speaking raw bytes.
class RawClient {
 public:
  explicit RawClient(const std::string& path) { socket_.connect(Protocol::endpoint(path)); }

  void send(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }

  // The next response, or nullopt when none arrives whole within the timeout.
  std::optional<HttpResponse> read_response(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    bhttp::response_parser<bhttp::string_body> parser;
    bool done = false;
    bhttp::async_read(socket_, buffer_, parser, [&](beast::error_code ec, std::size_t) { done = !ec; });
    run(timeout);
    if (!done) return std::nullopt;
    return parser.release();
  }

  // True when the server closes the connection within the timeout (EOF or reset,
  // with nothing more to read).
  bool closed_by_peer(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (buffer_.size() > 0) return false;
    char byte;
    std::optional<beast::error_code> result;
    socket_.async_read_some(asio::buffer(&byte, 1), [&](beast::error_code ec, std::size_t) { result = ec; });
    run(timeout);
    return result && (*result == asio::error::eof || *result == asio::error::connection_reset);
  }

  std::optional<HttpResponse> request(const std::string& method, const std::string& target,
                                      const std::string& extra_headers = "") {
    send(method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers + "\r\n");
    return read_response();
  }

 private:
  void run(std::chrono::milliseconds timeout) {
    ioc_.restart();
    ioc_.run_for(timeout);
    if (!ioc_.stopped()) {
      // Timed out: cancel the pending operation and let its handler run.
      beast::error_code ignored;
      socket_.cancel(ignored);
      ioc_.restart();
      ioc_.run();
    }
  }

  asio::io_context ioc_;
  Protocol::socket socket_{ioc_};
  beast::flat_buffer buffer_;
};

}  // namespace crio::test
