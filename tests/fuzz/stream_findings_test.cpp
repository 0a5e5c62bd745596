// What fuzzing found in the stream code, replayed from the inputs kept in fuzz/corpus/.
#include "stream/spdy.hpp"

#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace crio::daemon::stream;

TEST_CASE("fuzz: a duplicate SYN_STREAM ends the stream that had its id instead of orphaning it", "[fuzz][stream]") {
  std::ifstream in(std::string(CRIO_SOURCE_DIR) + "/fuzz/corpus/spdy/finding-duplicate-stream-hang", std::ios::binary);
  REQUIRE(in);
  std::string frames{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  ::shutdown(fds[1], SHUT_WR);
  auto session = std::make_unique<SpdySession>(crio::fs::UniqueFd(fds[0]), SpdySession::Role::kServer, frames);
  pollfd p{session->closed_fd(), POLLIN, 0};
  REQUIRE(::poll(&p, 1, 10000) == 1);
  std::vector<std::shared_ptr<SpdyStream>> streams;
  while (auto s = session->accept(std::chrono::steady_clock::now())) streams.push_back(s);
  REQUIRE(streams.size() >= 2);
  for (auto& s : streams) {
    INFO("stream " << s->id());
    // A reader must see the end of every stream once the session is over; on failure
    // the reader thread is left blocked (detached) rather than hanging the test.
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::thread([s, done] {
      (void)s->read_all();
      *done = true;
    }).detach();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!*done && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(*done);
  }
  session.reset();
  ::close(fds[1]);
}
