#pragma once
// Safe unpacking of an uncompressed layer tar into an empty directory, in the
// overlay's diff format: ".wh.NAME" becomes a 0:0 character device NAME and
// ".wh..wh..opq" sets trusted.overlay.opaque=y on its directory.

#include <crio/core/status.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace crio::storage::detail {

using ReadFn = std::function<Result<size_t>(char* buf, size_t len)>;

// Reads the stream to its end (so a caller hashing it sees every byte) and returns
// the number of bytes read. Every path is resolved below `dest` one component at a
// time without following symlinks; an unsafe entry is InvalidArgument naming it.
Result<int64_t> unpack_tar(const std::string& dest, const ReadFn& read);

}  // namespace crio::storage::detail
