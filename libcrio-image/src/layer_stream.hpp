#pragma once
// Pieces of the layer pipeline: streaming decompressors and a bounded byte pipe
// between the download thread (which decompresses) and the unpacking thread.

#include <crio/core/status.hpp>
#include <crio/image/manifest.hpp>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace crio::image::detail {

using ChunkSink = std::function<Status(const char* data, size_t len)>;

class Decompressor {
 public:
  virtual ~Decompressor() = default;
  // Feeds compressed bytes; decompressed ones go to `out` as they come.
  virtual Status update(const char* data, size_t len, const ChunkSink& out) = 0;
  // After the last input byte: an error when the stream ended early.
  virtual Status finish() = 0;
};

Result<std::unique_ptr<Decompressor>> make_decompressor(Compression c, std::string what);

// One writer thread, one reader thread. The writer blocks while `capacity` bytes
// are waiting. When the reader stops early with OK (a tar's end-of-archive comes
// before the padding), later writes are dropped; when it stops with an error,
// writes fail with that error.
class BytePipe {
 public:
  explicit BytePipe(size_t capacity = 4 << 20) : capacity_(capacity) {}

  Status write(const char* data, size_t len);
  // No more writes; a non-OK status reaches the reader instead of EOF.
  void close(Status status);
  // Bytes read, 0 at EOF, or the writer's error.
  Result<size_t> read(char* buf, size_t len);
  void reader_done(Status status);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_:
  std::deque<std::string> chunks_;
  size_t front_offset_ = 0;
  size_t buffered_ = 0;
  bool closed_ = false;
  Status writer_status_;
  bool reader_finished_ = false;
  Status reader_status_;
  size_t capacity_;
};

}  // namespace crio::image::detail
