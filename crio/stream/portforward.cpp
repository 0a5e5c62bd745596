// Port forwarding over SPDY (portforward.k8s.io): for every local connection the
// client opens a pair of streams, "error" and "data", sharing a requestID and naming
// the pod port. The data stream is joined to a fresh TCP connection to that port in
// the pod; what goes wrong is written on the error stream.

#include "stream/channels.hpp"

#include <crio/core/log.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <list>
#include <map>
#include <thread>

namespace crio::daemon::stream {
namespace {

struct Pair {
  std::shared_ptr<SpdyStream> error;
  std::shared_ptr<SpdyStream> data;
};

std::optional<uint16_t> parse_port(const std::string& text) {
  int port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port < 1 || port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

void forward(SpdySession& session, Backend& backend, const std::string& pod_id, Pair pair) {
  std::string port_text = pair.data->header("port");
  auto port = parse_port(port_text);
  if (!port) {
    pair.error->write(fmt::format("invalid port {:?} in the port-forward request", port_text));
    pair.error->close();
    pair.data->close();
    pair.data->stop_reading();
    return;
  }
  auto dialed = backend.dial(pod_id, *port);
  if (!dialed.ok()) {
    pair.error->write(fmt::format("an error occurred forwarding port {} of pod {}: {}", *port, pod_id,
                                  dialed.status().message()));
    pair.error->close();
    pair.data->close();
    pair.data->stop_reading();
    return;
  }
  fs::UniqueFd conn = std::move(*dialed);
  int fd = conn.get();

  // Client → pod on its own thread; pod → client here.
  std::thread upstream([&] { copy_to_socket([&](char* b, size_t n) { return pair.data->read(b, n); }, fd, 32768); });
  char buf[32768];
  for (;;) {
    pollfd p[2] = {{fd, POLLIN, 0}, {session.closed_fd(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents & POLLIN) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (!pair.data->write(std::string_view(buf, static_cast<size_t>(n)))) break;
  }
  // The pod side is done: the client gets the end of the data, and our reader of the
  // client's side stops too (it may never send its own end).
  pair.data->close();
  pair.error->close();
  pair.data->stop_reading();
  ::shutdown(fd, SHUT_RDWR);
  upstream.join();
}

}  // namespace

void serve_port_forward(SpdySession& session, Backend& backend, const PortForwardRequest& request) {
  std::map<std::string, Pair> waiting;  // by requestID, until both streams arrived
  // One thread per forwarded connection; finished ones are joined as new ones come,
  // so a long session with many connections does not keep them all.
  struct Forward {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done = std::make_shared<std::atomic<bool>>(false);
  };
  std::list<Forward> forwards;
  while (!session.closed()) {
    auto s = session.accept(std::chrono::steady_clock::now() + std::chrono::minutes(1));
    if (!s) continue;
    std::string type = s->header("streamtype");
    if (type != "error" && type != "data") {
      s->reset();
      continue;
    }
    // Clients older than requestID pair streams by port.
    std::string key = s->header("requestid");
    if (key.empty()) key = "port:" + s->header("port");
    Pair& pair = waiting[key];
    auto& slot = type == "error" ? pair.error : pair.data;
    if (slot) {
      s->reset();
      continue;
    }
    slot = std::move(s);
    if (pair.error && pair.data) {
      std::erase_if(forwards, [](Forward& f) {
        if (!f.done->load()) return false;
        f.thread.join();
        return true;
      });
      auto& f = forwards.emplace_back();
      f.thread = std::thread([&session, &backend, pod = request.pod_id, pair = std::move(pair), done = f.done] {
        forward(session, backend, pod, pair);
        done->store(true);
      });
      waiting.erase(key);
    }
  }
  for (auto& f : forwards) f.thread.join();
}

}  // namespace crio::daemon::stream
