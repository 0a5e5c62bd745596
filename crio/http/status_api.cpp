#include "crio/http/status_api.hpp"

#include <crio/core/log.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <unistd.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <string_view>
#include <utility>

namespace crio::daemon::http {

struct StatusApi::Shared {
  StatusHandlers handlers;
  StatusApiLimits limits;
};

int http_status_for(Code code) {
  switch (code) {
    case Code::kOk:
      return 200;
    case Code::kNotFound:
      return 404;
    case Code::kInvalidArgument:
      return 400;
    case Code::kFailedPrecondition:
      return 409;
    case Code::kUnimplemented:
      return 501;
    default:
      return 500;
  }
}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Protocol = asio::local::stream_protocol;
using Stream = beast::basic_stream<Protocol>;
using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;

constexpr const char* kJsonType = "application/json";
constexpr const char* kTomlType = "application/toml";

std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }

// Handlers may hand back strings that are not valid UTF-8 (a label, a path); the
// answer must still be JSON, so bad bytes are replaced instead of failing the dump.
std::string to_json_text(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Response make_response(int status, const char* content_type, std::string body) {
  Response res{static_cast<bhttp::status>(status), 11};
  res.set(bhttp::field::server, "crio");
  res.set(bhttp::field::content_type, content_type);
  res.body() = std::move(body);
  return res;
}

Response error_response(int status, std::string_view message) {
  return make_response(status, kJsonType, to_json_text(nlohmann::json{{"error", message}}));
}

Response status_response(const Status& status) {
  return error_response(http_status_for(status.code()), status.message());
}

// "%2F" → "/"; nullopt when an escape is cut short or not hex.
std::optional<std::string> percent_decode(std::string_view in) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

enum class Endpoint { kUnknown, kInfo, kConfig, kContainer, kPause, kUnpause };

struct Route {
  Endpoint endpoint = Endpoint::kUnknown;
  std::string_view raw_id;
};

// The ID is one non-empty path segment; "/containers/" or "/containers/a/b" are not
// endpoints at all, as in CRI-O's router.
Route match(std::string_view path) {
  if (path == "/info") return {Endpoint::kInfo, {}};
  if (path == "/config") return {Endpoint::kConfig, {}};
  static constexpr std::pair<std::string_view, Endpoint> kWithId[] = {
      {"/containers/", Endpoint::kContainer},
      {"/pause/", Endpoint::kPause},
      {"/unpause/", Endpoint::kUnpause},
  };
  for (const auto& [prefix, endpoint] : kWithId) {
    if (path.substr(0, prefix.size()) != prefix) continue;
    std::string_view id = path.substr(prefix.size());
    if (id.empty() || id.find('/') != std::string_view::npos) return {};
    return {endpoint, id};
  }
  return {};
}

template <typename F>
Response guarded(std::string_view what, F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    log::warn("status API handler failed", {{"endpoint", what}, {"error", e.what()}});
    return error_response(500, std::string(what) + ": internal error: " + e.what());
  } catch (...) {
    log::warn("status API handler failed", {{"endpoint", what}});
    return error_response(500, std::string(what) + ": internal error");
  }
}

Response not_implemented(std::string_view path) {
  return error_response(501, std::string(path) + ": not implemented by this daemon");
}

Response pause_like(const std::function<Status(const std::string&)>& handler, std::string_view name,
                    const std::string& id, bool paused) {
  if (!handler) return not_implemented(name);
  return guarded(name, [&] {
    Status st = handler(id);
    if (!st.ok()) return status_response(st);
    return make_response(200, kJsonType, to_json_text({{"id", id}, {"paused", paused}}));
  });
}

Response route(const StatusApi::Shared& shared, const Request& req) {
  std::string_view target = sv(req.target());
  std::string_view path = target.substr(0, target.find('?'));
  Route r = match(path);
  if (r.endpoint == Endpoint::kUnknown) return error_response(404, "no such endpoint: " + std::string(path));

  const bool allows_post = r.endpoint == Endpoint::kPause || r.endpoint == Endpoint::kUnpause;
  const bool method_ok = req.method() == bhttp::verb::get || (allows_post && req.method() == bhttp::verb::post);
  if (!method_ok) {
    Response res =
        error_response(405, "method " + std::string(sv(req.method_string())) + " not allowed on " + std::string(path));
    res.set(bhttp::field::allow, allows_post ? "GET, POST" : "GET");
    return res;
  }

  std::string id;
  if (!r.raw_id.empty()) {
    auto decoded = percent_decode(r.raw_id);
    if (!decoded) return error_response(400, "bad percent-encoding in path " + std::string(path));
    id = std::move(*decoded);
  }

  const StatusHandlers& h = shared.handlers;
  switch (r.endpoint) {
    case Endpoint::kInfo:
      if (!h.info) return not_implemented(path);
      return guarded(path, [&] { return make_response(200, kJsonType, to_json_text(h.info())); });
    case Endpoint::kConfig:
      if (!h.config) return not_implemented(path);
      return guarded(path, [&] { return make_response(200, kTomlType, h.config()); });
    case Endpoint::kContainer:
      if (!h.container) return not_implemented(path);
      return guarded(path, [&] {
        Result<nlohmann::json> info = h.container(id);
        if (!info.ok()) return status_response(info.status());
        return make_response(200, kJsonType, to_json_text(*info));
      });
    case Endpoint::kPause:
      return pause_like(h.pause, "/pause", id, true);
    case Endpoint::kUnpause:
      return pause_like(h.unpause, "/unpause", id, false);
    case Endpoint::kUnknown:
      break;
  }
  return error_response(404, "no such endpoint: " + std::string(path));
}

}  // namespace

HeaderBlock normalize_header_block(std::string& data, std::size_t max_header_bytes) {
  // Empty lines before the request line are skipped, as RFC 9112 (2.2) allows.
  data.erase(0, std::min(data.find_first_not_of("\r\n"), data.size()));
  // The block ends at the first empty line, whichever way its lines end.
  std::size_t end = std::string::npos;
  for (std::size_t nl = data.find('\n'); nl != std::string::npos; nl = data.find('\n', nl + 1)) {
    std::size_t next = nl + 1;
    if (next < data.size() && data[next] == '\r') ++next;
    if (next < data.size() && data[next] == '\n') {
      end = next + 1;
      break;
    }
  }
  if (end == std::string::npos) {
    return data.size() > max_header_bytes ? HeaderBlock::kTooLarge : HeaderBlock::kIncomplete;
  }
  if (end > max_header_bytes) return HeaderBlock::kTooLarge;
  std::string normalized;
  normalized.reserve(data.size() + 16);
  for (std::size_t i = 0; i < end; ++i) {
    if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r')) normalized.push_back('\r');
    normalized.push_back(data[i]);
  }
  normalized.append(data, end, std::string::npos);
  data = std::move(normalized);
  return HeaderBlock::kComplete;
}

namespace {

bool is_parse_error(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
}

// One connection: read a request, answer it, repeat while the peer keeps it alive.
// Every step runs on the connection's strand, and each pending operation holds the
// session alive through its handler.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Protocol::socket socket, std::shared_ptr<const StatusApi::Shared> shared, std::string already_read)
      : stream_(std::move(socket)), shared_(std::move(shared)) {
    if (!already_read.empty()) {
      auto dst = buffer_.prepare(already_read.size());
      buffer_.commit(asio::buffer_copy(dst, asio::buffer(already_read)));
    }
  }

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_request(); });
  }

 private:
  void read_request() {
    stream_.expires_after(shared_->limits.read_timeout);
    read_header_block();
  }

  // Reads until the header block is complete, so that its bare-LF line ends can be
  // made CRLF before the strict parser sees them.
  void read_header_block() {
    std::string pending(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    HeaderBlock block = normalize_header_block(pending, shared_->limits.max_header_bytes);
    if (pending != std::string_view(static_cast<const char*>(buffer_.data().data()), buffer_.size())) {
      buffer_.consume(buffer_.size());
      buffer_.commit(asio::buffer_copy(buffer_.prepare(pending.size()), asio::buffer(pending)));
    }
    switch (block) {
      case HeaderBlock::kComplete:
        return parse_request();
      case HeaderBlock::kTooLarge:
        return reply_and_close(error_response(
            431, "request header is larger than " + std::to_string(shared_->limits.max_header_bytes) + " bytes"));
      case HeaderBlock::kIncomplete:
        break;
    }
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (ec) return self->on_read(ec == asio::error::eof && self->buffer_.size() == 0
                                                               ? beast::error_code(bhttp::error::end_of_stream)
                                                               : ec);
                              self->buffer_.commit(n);
                              self->read_header_block();
                            });
  }

  void parse_request() {
    const StatusApiLimits& limits = shared_->limits;
    parser_.emplace();
    parser_->body_limit(limits.max_body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  static constexpr std::size_t kReadChunk = 4096;

  void on_read(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream) return close();
    if (ec == beast::error::timeout) {
      log::debug("status API: closing a connection that sent no complete request in time");
      return close();
    }
    if (ec == bhttp::error::body_limit) {
      return reply_and_close(error_response(
          413, "request body is larger than " + std::to_string(shared_->limits.max_body_bytes) + " bytes"));
    }
    if (ec == bhttp::error::header_limit) {
      return reply_and_close(error_response(
          431, "request header is larger than " + std::to_string(shared_->limits.max_header_bytes) + " bytes"));
    }
    // A peer that hung up half-way gets nothing; one that sent something that is not
    // HTTP/1.1 is told so before the connection closes.
    if (ec && ec != bhttp::error::partial_message && is_parse_error(ec)) {
      return reply_and_close(error_response(400, "malformed HTTP request: " + ec.message()));
    }
    if (ec) return close();

    Request req = parser_->release();
    Response res = route(*shared_, req);
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    log::debug("status API request",
               {{"method", sv(req.method_string())}, {"target", sv(req.target())}, {"status", res.result_int()}});
    write(std::move(res));
  }

  void reply_and_close(Response res) {
    res.keep_alive(false);
    write(std::move(res));
  }

  void write(Response res) {
    res_ = std::move(res);
    res_.prepare_payload();
    stream_.expires_after(shared_->limits.write_timeout);
    bhttp::async_write(stream_, res_,
                       [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(beast::error_code ec) {
    if (ec || !res_.keep_alive()) return close();
    read_request();
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(Protocol::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  Stream stream_;
  std::shared_ptr<const StatusApi::Shared> shared_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Response res_;
};

}  // namespace

StatusApi::StatusApi(StatusHandlers handlers, StatusApiLimits limits)
    : shared_(std::make_shared<const Shared>(Shared{std::move(handlers), limits})) {}

void StatusApi::serve(Protocol::socket socket) { serve(std::move(socket), std::string()); }

void StatusApi::serve(Protocol::socket socket, std::string already_read) {
  try {
    // The caller's executor may be an io_context run by several threads; a strand keeps
    // this connection's reads, writes and timer from running at the same time.
    beast::error_code ec;
    Protocol::socket stranded(asio::make_strand(socket.get_executor()));
    Protocol::socket::native_handle_type fd = socket.release(ec);
    if (ec) {
      log::warn("status API: cannot take over the connection", {{"error", ec.message()}});
      return;
    }
    stranded.assign(Protocol(), fd, ec);
    if (ec) {
      ::close(fd);
      log::warn("status API: cannot take over the connection", {{"error", ec.message()}});
      return;
    }
    std::make_shared<Session>(std::move(stranded), shared_, std::move(already_read))->start();
  } catch (const std::exception& e) {
    log::warn("status API: cannot serve a connection", {{"error", e.what()}});
  } catch (...) {
    log::warn("status API: cannot serve a connection");
  }
}

}  // namespace crio::daemon::http
