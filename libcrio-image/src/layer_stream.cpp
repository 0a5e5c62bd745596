#include "layer_stream.hpp"

#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <vector>

namespace crio::image::detail {

namespace {

constexpr size_t kOutChunk = 128 << 10;

class Identity final : public Decompressor {
 public:
  Status update(const char* data, size_t len, const ChunkSink& out) override { return out(data, len); }
  Status finish() override { return ok_status(); }
};

class Gzip final : public Decompressor {
 public:
  explicit Gzip(std::string what) : what_(std::move(what)), out_(kOutChunk) {
    std::memset(&z_, 0, sizeof z_);
    ok_ = inflateInit2(&z_, 15 + 16) == Z_OK;  // gzip wrapper only
  }
  ~Gzip() override {
    if (ok_) inflateEnd(&z_);
  }

  Status update(const char* data, size_t len, const ChunkSink& out) override {
    if (!ok_) return error(Code::kInternal, "{}: cannot initialise zlib", what_);
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    z_.avail_in = static_cast<uInt>(len);
    while (z_.avail_in > 0) {
      if (ended_) {
        // Another gzip member follows (concatenated gzip is valid gzip).
        inflateReset(&z_);
        ended_ = false;
      }
      z_.next_out = reinterpret_cast<Bytef*>(out_.data());
      z_.avail_out = static_cast<uInt>(out_.size());
      int r = inflate(&z_, Z_NO_FLUSH);
      size_t produced = out_.size() - z_.avail_out;
      if (r != Z_OK && r != Z_STREAM_END && !(r == Z_BUF_ERROR && produced > 0))
        return error(Code::kDataLoss, "{}: corrupt gzip stream: {}", what_, z_.msg ? z_.msg : "inflate failed");
      if (produced > 0) CRIO_RETURN_IF_ERROR(out(out_.data(), produced));
      if (r == Z_STREAM_END) ended_ = true;
    }
    // inflate may hold decompressed bytes back until there is room to write them.
    while (!ended_) {
      z_.next_out = reinterpret_cast<Bytef*>(out_.data());
      z_.avail_out = static_cast<uInt>(out_.size());
      int r = inflate(&z_, Z_NO_FLUSH);
      size_t produced = out_.size() - z_.avail_out;
      if (produced > 0) CRIO_RETURN_IF_ERROR(out(out_.data(), produced));
      if (r == Z_STREAM_END) ended_ = true;
      if (produced == 0 || (r != Z_OK && r != Z_STREAM_END)) break;
    }
    started_ = true;
    return ok_status();
  }

  Status finish() override {
    if (!started_ || !ended_) return error(Code::kDataLoss, "{}: gzip stream is truncated", what_);
    return ok_status();
  }

 private:
  std::string what_;
  z_stream z_;
  bool ok_ = false;
  bool ended_ = false;
  bool started_ = false;
  std::vector<char> out_;
};

class Zstd final : public Decompressor {
 public:
  explicit Zstd(std::string what) : what_(std::move(what)), ctx_(ZSTD_createDCtx()), out_(kOutChunk) {}
  ~Zstd() override { ZSTD_freeDCtx(ctx_); }

  Status update(const char* data, size_t len, const ChunkSink& out) override {
    if (!ctx_) return error(Code::kInternal, "{}: cannot initialise zstd", what_);
    ZSTD_inBuffer in{data, len, 0};
    for (;;) {
      ZSTD_outBuffer o{out_.data(), out_.size(), 0};
      size_t r = ZSTD_decompressStream(ctx_, &o, &in);
      if (ZSTD_isError(r)) return error(Code::kDataLoss, "{}: corrupt zstd stream: {}", what_, ZSTD_getErrorName(r));
      if (o.pos > 0) CRIO_RETURN_IF_ERROR(out(out_.data(), o.pos));
      last_ = r;
      started_ = true;
      // Done with this input once it is consumed and the output buffer was not full.
      if (in.pos == in.size && o.pos < o.size) break;
    }
    return ok_status();
  }

  Status finish() override {
    if (!started_ || last_ != 0) return error(Code::kDataLoss, "{}: zstd stream is truncated", what_);
    return ok_status();
  }

 private:
  std::string what_;
  ZSTD_DCtx* ctx_;
  std::vector<char> out_;
  size_t last_ = 1;
  bool started_ = false;
};

}  // namespace

Result<std::unique_ptr<Decompressor>> make_decompressor(Compression c, std::string what) {
  switch (c) {
    case Compression::kNone: return std::unique_ptr<Decompressor>(new Identity());
    case Compression::kGzip: return std::unique_ptr<Decompressor>(new Gzip(std::move(what)));
    case Compression::kZstd: return std::unique_ptr<Decompressor>(new Zstd(std::move(what)));
  }
  return error(Code::kInternal, "{}: unknown compression", what);
}

Status BytePipe::write(const char* data, size_t len) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return reader_finished_ || buffered_ < capacity_; });
  if (reader_finished_) return reader_status_;  // OK: the rest is dropped
  chunks_.emplace_back(data, len);
  buffered_ += len;
  cv_.notify_all();
  return ok_status();
}

void BytePipe::close(Status status) {
  std::lock_guard lock(mu_);
  closed_ = true;
  writer_status_ = std::move(status);
  cv_.notify_all();
}

Result<size_t> BytePipe::read(char* buf, size_t len) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return closed_ || !chunks_.empty(); });
  if (chunks_.empty()) {
    if (!writer_status_.ok()) return writer_status_;
    return size_t{0};
  }
  size_t done = 0;
  while (done < len && !chunks_.empty()) {
    std::string& front = chunks_.front();
    size_t n = std::min(len - done, front.size() - front_offset_);
    std::memcpy(buf + done, front.data() + front_offset_, n);
    done += n;
    front_offset_ += n;
    if (front_offset_ == front.size()) {
      chunks_.pop_front();
      front_offset_ = 0;
    }
  }
  buffered_ -= done;
  cv_.notify_all();
  return done;
}

void BytePipe::reader_done(Status status) {
  std::lock_guard lock(mu_);
  reader_finished_ = true;
  reader_status_ = std::move(status);
  chunks_.clear();
  buffered_ = 0;
  cv_.notify_all();
}

}  // namespace crio::image::detail
