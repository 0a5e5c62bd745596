// The HTTP/1.1 status API's request parsing and routing: whatever a client writes to
// the CRI socket once it is known not to be gRPC, pipelined requests included.
#include "crio/http/status_api.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cstdint>
#include <string>

namespace asio = boost::asio;
using crio::daemon::http::StatusApi;
using crio::daemon::http::StatusHandlers;

namespace {

StatusHandlers handlers() {
  StatusHandlers h;
  h.info = [] { return nlohmann::json{{"storage_driver", "overlay"}}; };
  h.config = [] { return std::string("[crio]\n"); };
  h.container = [](const std::string& id) -> crio::Result<nlohmann::json> {
    if (id == "known") return nlohmann::json{{"name", id}};
    return crio::error(crio::Code::kNotFound, "container {:?} not found", id);
  };
  h.pause = [](const std::string& id) -> crio::Status {
    if (id == "known") return crio::ok_status();
    return crio::error(crio::Code::kFailedPrecondition, "container {:?} is not running", id);
  };
  return h;  // unpause left empty: its endpoint answers 501
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  asio::io_context io;
  asio::local::stream_protocol::socket server(io), client(io);
  asio::local::connect_pair(server, client);
  crio::daemon::http::StatusApiLimits limits;
  limits.max_body_bytes = 4096;
  limits.max_header_bytes = 2048;
  limits.read_timeout = std::chrono::seconds(5);
  limits.write_timeout = std::chrono::seconds(5);
  StatusApi api(handlers(), limits);
  // The daemon's protocol sniffer reads the first bytes before it hands the socket
  // over; the rest is on the socket, and then the client's end of stream.
  size_t sniffed = std::min<size_t>(size, 24);
  std::string rest(reinterpret_cast<const char*>(data) + sniffed, size - sniffed);
  asio::write(client, asio::buffer(rest));
  client.shutdown(asio::socket_base::shutdown_send);
  api.serve(std::move(server), std::string(reinterpret_cast<const char*>(data), sniffed));
  // Drain the answers so a long pipeline never blocks the server's writes.
  asio::streambuf answers;
  asio::async_read(client, answers, [](boost::system::error_code, std::size_t) {});
  io.run();
  return 0;
}
