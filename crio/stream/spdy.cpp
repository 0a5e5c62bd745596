#include "stream/spdy.hpp"

#include <crio/core/log.hpp>

#include <zlib.h>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace crio::daemon::stream {

namespace {

#include "stream/spdy_dictionary.inc"

constexpr uint16_t kVersion = 3;
enum FrameType : uint16_t {
  kSynStream = 1,
  kSynReply = 2,
  kRstStream = 3,
  kSettings = 4,
  kPing = 6,
  kGoAway = 7,
  kHeaders = 8,
  kWindowUpdate = 9,
};
constexpr uint8_t kFlagFin = 0x01;
constexpr uint32_t kRstProtocolError = 1;
constexpr uint32_t kRstInvalidStream = 2;
constexpr uint32_t kRstCancel = 5;
constexpr size_t kMaxDataFrame = 64 * 1024;
// Unread input one stream may hold before the reader waits for its consumer.
constexpr size_t kMaxBufferedPerStream = 4 * 1024 * 1024;
constexpr size_t kMaxHeaderBlock = 1 << 20;

void put32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

uint32_t get32(std::string_view in, size_t at) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(in[at + i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

std::string frame_header_control(uint16_t type, uint8_t flags, size_t length) {
  std::string out;
  out.push_back(static_cast<char>(0x80 | (kVersion >> 8)));
  out.push_back(static_cast<char>(kVersion & 0xff));
  out.push_back(static_cast<char>(type >> 8));
  out.push_back(static_cast<char>(type & 0xff));
  put32(out, static_cast<uint32_t>(flags) << 24 | static_cast<uint32_t>(length));
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

struct SpdySession::Zlib {
  z_stream inflater{};
  z_stream deflater{};
  bool inflater_ready = false;
  bool deflater_ready = false;
  ~Zlib() {
    if (inflater_ready) inflateEnd(&inflater);
    if (deflater_ready) deflateEnd(&deflater);
  }
};

// --- SpdyStream ---------------------------------------------------------------

std::string SpdyStream::header(std::string_view name) const {
  for (const auto& [k, v] : headers_) {
    if (k == name) return v.substr(0, v.find('\0'));
  }
  return "";
}

size_t SpdyStream::read(char* buffer, size_t size) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !chunks_.empty() || remote_closed_; });
  if (chunks_.empty()) return 0;
  std::string& front = chunks_.front();
  size_t n = std::min(size, front.size());
  std::memcpy(buffer, front.data(), n);
  if (n == front.size()) {
    chunks_.pop_front();
  } else {
    front.erase(0, n);
  }
  buffered_ -= n;
  cv_.notify_all();  // the reader may be waiting for room
  return n;
}

std::string SpdyStream::read_all(size_t limit) {
  std::string out;
  char buf[16384];
  while (out.size() < limit) {
    size_t n = read(buf, std::min(sizeof buf, limit - out.size()));
    if (n == 0) break;
    out.append(buf, n);
  }
  return out;
}

bool SpdyStream::write(std::string_view data) {
  {
    std::lock_guard lock(mu_);
    if (local_closed_) return false;
  }
  while (!data.empty()) {
    size_t n = std::min(data.size(), kMaxDataFrame);
    if (!session_.send_data(id_, data.substr(0, n), false)) return false;
    data.remove_prefix(n);
  }
  return true;
}

void SpdyStream::close() {
  {
    std::lock_guard lock(mu_);
    if (local_closed_) return;
    local_closed_ = true;
  }
  session_.send_data(id_, {}, true);
}

void SpdyStream::reset() {
  {
    std::lock_guard lock(mu_);
    if (local_closed_ && remote_closed_) return;
    local_closed_ = remote_closed_ = true;
    cv_.notify_all();
  }
  session_.send_rst(id_, kRstCancel);
}

void SpdyStream::stop_reading() {
  std::lock_guard lock(mu_);
  remote_closed_ = true;
  chunks_.clear();
  buffered_ = 0;
  cv_.notify_all();
}

// --- SpdySession --------------------------------------------------------------

SpdySession::SpdySession(fs::UniqueFd socket, Role role, std::string already_read,
                         std::chrono::milliseconds idle_timeout)
    : socket_(std::move(socket)),
      role_(role),
      idle_timeout_(idle_timeout),
      closed_event_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      pending_(std::move(already_read)),
      zlib_(std::make_unique<Zlib>()),
      next_stream_id_(role == Role::kClient ? 1 : 2),
      last_activity_(std::chrono::steady_clock::now()) {
  zlib_->inflater_ready = inflateInit(&zlib_->inflater) == Z_OK;
  zlib_->deflater_ready = deflateInit(&zlib_->deflater, Z_DEFAULT_COMPRESSION) == Z_OK &&
                          deflateSetDictionary(&zlib_->deflater, kSpdyHeaderDictionary,
                                               sizeof kSpdyHeaderDictionary) == Z_OK;
  if (!zlib_->inflater_ready || !zlib_->deflater_ready) {
    end("zlib initialisation failed");
    return;
  }
  reader_ = std::thread([this] { read_loop(); });
}

SpdySession::~SpdySession() {
  end("session closed");
  ::shutdown(socket_.get(), SHUT_RDWR);
  if (reader_.joinable()) reader_.join();
}

bool SpdySession::closed() const {
  std::lock_guard lock(mu_);
  return ended_;
}

std::string SpdySession::close_reason() const {
  std::lock_guard lock(mu_);
  return end_reason_;
}

void SpdySession::end(std::string reason) {
  std::map<uint32_t, std::shared_ptr<SpdyStream>> streams;
  {
    std::lock_guard lock(mu_);
    if (ended_) return;
    ended_ = true;
    end_reason_ = std::move(reason);
    streams = streams_;
    cv_.notify_all();
  }
  for (auto& [id, s] : streams) {
    std::lock_guard lock(s->mu_);
    s->remote_closed_ = true;
    s->local_closed_ = true;
    s->cv_.notify_all();
  }
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(closed_event_.get(), &one, sizeof one);
}

void SpdySession::finish(std::chrono::milliseconds linger) {
  ::shutdown(socket_.get(), SHUT_WR);
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, linger, [&] { return ended_; });
  lock.unlock();
  end("finished");
  ::shutdown(socket_.get(), SHUT_RDWR);
  if (reader_.joinable()) reader_.join();
}

std::shared_ptr<SpdyStream> SpdySession::accept(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, deadline, [&] { return !accept_queue_.empty() || ended_; });
  if (accept_queue_.empty()) return nullptr;
  auto s = accept_queue_.front();
  accept_queue_.pop_front();
  return s;
}

Result<std::shared_ptr<SpdyStream>> SpdySession::open(const Headers& headers, std::chrono::milliseconds timeout) {
  std::shared_ptr<SpdyStream> s;
  {
    std::lock_guard wlock(write_mu_);
    uint32_t id = next_stream_id_;
    next_stream_id_ += 2;
    s.reset(new SpdyStream(*this, id, headers));
    {
      std::lock_guard lock(mu_);
      if (ended_) return error(Code::kUnavailable, "spdy session closed: {}", end_reason_);
      streams_[id] = s;
    }
    std::string body;
    put32(body, id);
    put32(body, 0);
    body.push_back(0);  // priority
    body.push_back(0);  // slot
    body += deflate_headers(headers);
    if (!send_frame(frame_header_control(kSynStream, 0, body.size()) + body)) {
      return error(Code::kUnavailable, "spdy session closed while opening a stream");
    }
  }
  std::unique_lock lock(s->mu_);
  if (!s->cv_.wait_for(lock, timeout, [&] { return s->replied_ || s->remote_closed_; })) {
    return error(Code::kDeadlineExceeded, "no SYN_REPLY for stream {} within {} ms", s->id(), timeout.count());
  }
  if (!s->replied_) return error(Code::kUnavailable, "stream {} was refused or the session closed", s->id());
  return s;
}

bool SpdySession::read_exact(char* out, size_t n) {
  while (pending_.size() < n) {
    if (idle_timeout_.count() > 0) {
      pollfd p{socket_.get(), POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(idle_timeout_.count(), 1000)));
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) {
        std::lock_guard lock(mu_);
        if (ended_) return false;
        if (std::chrono::steady_clock::now() - last_activity_ >= idle_timeout_) {
          end_reason_ = "idle timeout";
          return false;
        }
        continue;
      }
    }
    char buf[65536];
    ssize_t r = ::read(socket_.get(), buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    pending_.append(buf, static_cast<size_t>(r));
    std::lock_guard lock(mu_);
    last_activity_ = std::chrono::steady_clock::now();
  }
  std::memcpy(out, pending_.data(), n);
  pending_.erase(0, n);
  return true;
}

void SpdySession::read_loop() {
  std::string why = "peer closed the connection";
  for (;;) {
    char h[8];
    if (!read_exact(h, sizeof h)) break;
    std::string_view hv(h, sizeof h);
    uint8_t flags = static_cast<uint8_t>(h[4]);
    uint32_t length = get32(hv, 4) & 0xffffff;
    std::string body(length, '\0');
    if (length > 0 && !read_exact(body.data(), length)) break;
    if (static_cast<unsigned char>(h[0]) & 0x80) {
      uint16_t version = static_cast<uint16_t>((static_cast<unsigned char>(h[0]) & 0x7f) << 8 | static_cast<unsigned char>(h[1]));
      uint16_t type = static_cast<uint16_t>(static_cast<unsigned char>(h[2]) << 8 | static_cast<unsigned char>(h[3]));
      if (version != kVersion) {
        why = fmt::format("unsupported SPDY version {}", version);
        break;
      }
      if (auto st = handle_control(type, flags, std::move(body)); !st.ok()) {
        why = std::string(st.message());
        break;
      }
    } else {
      handle_data(get32(hv, 0) & 0x7fffffff, flags, std::move(body));
    }
  }
  {
    std::lock_guard lock(mu_);
    if (!end_reason_.empty()) why = end_reason_;
  }
  end(why);
}

Result<Headers> SpdySession::inflate_headers(std::string_view block) {
  z_stream& z = zlib_->inflater;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(block.data()));
  z.avail_in = static_cast<uInt>(block.size());
  std::string raw;
  for (;;) {
    char out[8192];
    z.next_out = reinterpret_cast<Bytef*>(out);
    z.avail_out = sizeof out;
    int rc = inflate(&z, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      if (inflateSetDictionary(&z, kSpdyHeaderDictionary, sizeof kSpdyHeaderDictionary) != Z_OK) {
        return error(Code::kInvalidArgument, "spdy: header dictionary rejected");
      }
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) return error(Code::kInvalidArgument, "spdy: corrupt header block ({})", rc);
    raw.append(out, sizeof out - z.avail_out);
    if (raw.size() > kMaxHeaderBlock) return error(Code::kInvalidArgument, "spdy: header block too large");
    if (z.avail_in == 0 && z.avail_out != 0) break;
  }
  Headers headers;
  size_t at = 0;
  auto need = [&](size_t n) { return raw.size() - at >= n; };
  if (!need(4)) return error(Code::kInvalidArgument, "spdy: truncated header block");
  uint32_t count = get32(raw, at);
  at += 4;
  for (uint32_t i = 0; i < count; ++i) {
    if (!need(4)) return error(Code::kInvalidArgument, "spdy: truncated header block");
    uint32_t nlen = get32(raw, at);
    at += 4;
    if (!need(nlen)) return error(Code::kInvalidArgument, "spdy: truncated header name");
    std::string name = lower(raw.substr(at, nlen));
    at += nlen;
    if (!need(4)) return error(Code::kInvalidArgument, "spdy: truncated header block");
    uint32_t vlen = get32(raw, at);
    at += 4;
    if (!need(vlen)) return error(Code::kInvalidArgument, "spdy: truncated header value");
    headers.emplace_back(std::move(name), raw.substr(at, vlen));
    at += vlen;
  }
  return headers;
}

std::string SpdySession::deflate_headers(const Headers& headers) {
  std::string raw;
  put32(raw, static_cast<uint32_t>(headers.size()));
  for (const auto& [k, v] : headers) {
    std::string name = lower(k);
    put32(raw, static_cast<uint32_t>(name.size()));
    raw += name;
    put32(raw, static_cast<uint32_t>(v.size()));
    raw += v;
  }
  z_stream& z = zlib_->deflater;
  z.next_in = reinterpret_cast<Bytef*>(raw.data());
  z.avail_in = static_cast<uInt>(raw.size());
  std::string out;
  do {
    char buf[4096];
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    deflate(&z, Z_SYNC_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  } while (z.avail_out == 0);
  return out;
}

bool SpdySession::send_frame(const std::string& frame) {
  size_t off = 0;
  while (off < frame.size()) {
    ssize_t n = ::send(socket_.get(), frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      end(fmt::format("write failed: {}", std::strerror(errno)));
      return false;
    }
    off += static_cast<size_t>(n);
  }
  std::lock_guard lock(mu_);
  last_activity_ = std::chrono::steady_clock::now();
  return true;
}

bool SpdySession::send_data(uint32_t stream_id, std::string_view data, bool fin) {
  std::string frame;
  frame.reserve(8 + data.size());
  put32(frame, stream_id & 0x7fffffff);
  put32(frame, static_cast<uint32_t>(fin ? kFlagFin : 0) << 24 | static_cast<uint32_t>(data.size()));
  frame.append(data);
  std::lock_guard wlock(write_mu_);
  if (closed()) return false;
  return send_frame(frame);
}

bool SpdySession::send_control(uint16_t type, uint8_t flags, const std::string& body) {
  std::lock_guard wlock(write_mu_);
  if (closed()) return false;
  return send_frame(frame_header_control(type, flags, body.size()) + body);
}

bool SpdySession::send_syn_reply(uint32_t stream_id) {
  std::lock_guard wlock(write_mu_);
  if (closed()) return false;
  std::string body;
  put32(body, stream_id);
  body += deflate_headers({});
  return send_frame(frame_header_control(kSynReply, 0, body.size()) + body);
}

void SpdySession::send_rst(uint32_t stream_id, uint32_t status) {
  std::string body;
  put32(body, stream_id);
  put32(body, status);
  send_control(kRstStream, 0, body);
  // A reader blocked on the stream must wake now (a duplicate SYN_STREAM resets the
  // stream that had its id, which would otherwise wait forever; found by fuzzing).
  drop_stream(stream_id);
}

void SpdySession::drop_stream(uint32_t stream_id) {
  std::shared_ptr<SpdyStream> s;
  {
    std::lock_guard lock(mu_);
    if (auto it = streams_.find(stream_id); it != streams_.end()) {
      s = it->second;
      streams_.erase(it);
    }
  }
  if (s) {
    std::lock_guard lock(s->mu_);
    s->remote_closed_ = s->local_closed_ = true;
    s->cv_.notify_all();
  }
}

Status SpdySession::handle_control(uint16_t type, uint8_t flags, std::string body) {
  switch (type) {
    case kSynStream: {
      if (body.size() < 10) return error(Code::kInvalidArgument, "spdy: short SYN_STREAM");
      uint32_t id = get32(body, 0) & 0x7fffffff;
      CRIO_ASSIGN_OR_RETURN(Headers headers, inflate_headers(std::string_view(body).substr(10)));
      bool peer_parity = role_ == Role::kServer ? (id % 2 == 1) : (id % 2 == 0);
      std::shared_ptr<SpdyStream> s;
      {
        std::lock_guard lock(mu_);
        if (id == 0 || !peer_parity || streams_.count(id)) {
          s = nullptr;
        } else {
          s.reset(new SpdyStream(*this, id, std::move(headers)));
          s->remote_closed_ = (flags & kFlagFin) != 0;
          streams_[id] = s;
        }
      }
      if (!s) {
        send_rst(id, id == 0 ? kRstProtocolError : kRstInvalidStream);
        return ok_status();
      }
      send_syn_reply(id);
      std::lock_guard lock(mu_);
      accept_queue_.push_back(s);
      cv_.notify_all();
      return ok_status();
    }
    case kSynReply:
    case kHeaders: {
      if (body.size() < 4) return error(Code::kInvalidArgument, "spdy: short header frame");
      uint32_t id = get32(body, 0) & 0x7fffffff;
      // Inflated even when unused: the inflater's state spans the whole session.
      CRIO_RETURN_IF_ERROR(inflate_headers(std::string_view(body).substr(4)).status());
      std::shared_ptr<SpdyStream> s;
      {
        std::lock_guard lock(mu_);
        if (auto it = streams_.find(id); it != streams_.end()) s = it->second;
      }
      if (s) {
        std::lock_guard lock(s->mu_);
        if (type == kSynReply) s->replied_ = true;
        if (flags & kFlagFin) s->remote_closed_ = true;
        s->cv_.notify_all();
      }
      return ok_status();
    }
    case kRstStream: {
      if (body.size() < 8) return error(Code::kInvalidArgument, "spdy: short RST_STREAM");
      drop_stream(get32(body, 0) & 0x7fffffff);
      return ok_status();
    }
    case kPing: {
      if (body.size() < 4) return error(Code::kInvalidArgument, "spdy: short PING");
      uint32_t id = get32(body, 0);
      bool from_peer = role_ == Role::kServer ? (id % 2 == 1) : (id % 2 == 0);
      if (from_peer) send_control(kPing, 0, body.substr(0, 4));
      return ok_status();
    }
    case kGoAway: {
      std::lock_guard lock(mu_);
      end_reason_ = "peer sent GOAWAY";
      return error(Code::kCancelled, "peer sent GOAWAY");
    }
    case kSettings:
    case kWindowUpdate:
    default:
      return ok_status();  // no flow control (see the header); unknown types are ignored
  }
}

void SpdySession::handle_data(uint32_t stream_id, uint8_t flags, std::string body) {
  std::shared_ptr<SpdyStream> s;
  {
    std::lock_guard lock(mu_);
    if (auto it = streams_.find(stream_id); it != streams_.end()) s = it->second;
  }
  if (!s) return;  // a stream we reset: its late data is dropped
  std::unique_lock lock(s->mu_);
  if (s->remote_closed_) return;
  s->cv_.wait(lock, [&] { return s->buffered_ < kMaxBufferedPerStream || s->remote_closed_; });
  if (!body.empty()) {
    s->buffered_ += body.size();
    s->chunks_.push_back(std::move(body));
  }
  if (flags & kFlagFin) s->remote_closed_ = true;
  s->cv_.notify_all();
}

}  // namespace crio::daemon::stream
