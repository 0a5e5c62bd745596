#pragma once
// The HTTP/1.1 status API that crio serves on its CRI socket next to gRPC, in the
// shape CRI-O serves it (what `crio-status` and `curl --unix-socket` talk to):
//
//   GET       /info            daemon facts as JSON (storage and cgroup driver, ID mappings)
//   GET       /config          the effective configuration as TOML
//   GET       /containers/:id  one container as JSON
//   GET|POST  /pause/:id       pause a container   (CRI-O answers GET; POST is accepted too)
//   GET|POST  /unpause/:id     resume it
//
// Errors are JSON {"error": "<message>"}; a handler's crio::Status picks the HTTP code
// (NotFound 404, InvalidArgument 400, FailedPrecondition 409, Unimplemented 501, else 500).

#include <crio/core/status.hpp>

#include <boost/asio/local/stream_protocol.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace crio::daemon::http {

// What the daemon answers with. Each is called on the socket's executor, so it should
// not block for long; an empty function makes its endpoint answer 501.
struct StatusHandlers {
  std::function<nlohmann::json()> info;                                    // GET /info
  std::function<std::string()> config;                                     // GET /config (TOML)
  std::function<Result<nlohmann::json>(const std::string& id)> container;  // GET /containers/:id
  std::function<Status(const std::string& id)> pause;                      // /pause/:id
  std::function<Status(const std::string& id)> unpause;                    // /unpause/:id
};

// Bounds that keep one client from holding a connection or memory forever.
struct StatusApiLimits {
  std::size_t max_body_bytes = 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  // Time allowed for a whole request to arrive (including the idle time before it on a
  // kept-alive connection), and for a response to be taken by the peer.
  std::chrono::milliseconds read_timeout = std::chrono::seconds(30);
  std::chrono::milliseconds write_timeout = std::chrono::seconds(30);
};

// Where a request's header block stands in the bytes read so far.
enum class HeaderBlock { kIncomplete, kComplete, kTooLarge };

// Drops empty lines before the request line and, once the header block is complete,
// ends each of its lines with CRLF: clients such as `echo -e '...\r\n' | socat` end the
// block with a bare LF, which Go's server (CRI-O's) accepts and a strict parser does not.
// Bytes after the block are kept as they are.
HeaderBlock normalize_header_block(std::string& data, std::size_t max_header_bytes);

// Maps a handler's status code to the HTTP status the API answers with.
int http_status_for(Code code);

class StatusApi {
 public:
  explicit StatusApi(StatusHandlers handlers, StatusApiLimits limits = {});

  // Serves HTTP/1.1 (keep-alive) on the connected socket until the peer closes, an error
  // or a timeout. Asynchronous on the socket's executor; returns at once and never
  // throws. A malformed request gets 400 and the connection is closed. Connections being
  // served keep what they need alive, so the StatusApi may be destroyed before them.
  void serve(boost::asio::local::stream_protocol::socket socket);

  // The same, for a caller that has already read the first bytes off the socket (to
  // tell HTTP/1.1 from the HTTP/2 preface): they are parsed before anything else.
  void serve(boost::asio::local::stream_protocol::socket socket, std::string already_read);

  struct Shared;  // handlers and limits, shared with the connections (defined in the .cpp)

 private:
  std::shared_ptr<const Shared> shared_;
};

}  // namespace crio::daemon::http
