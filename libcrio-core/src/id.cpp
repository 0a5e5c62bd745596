#include <crio/core/id.hpp>

#include <crio/core/fs.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace crio::core {

Result<std::string> random_id() {
  unsigned char bytes[32];
  fs::UniqueFd fd(::open("/dev/urandom", O_RDONLY | O_CLOEXEC));
  if (!fd.valid() || ::read(fd.get(), bytes, sizeof bytes) != static_cast<ssize_t>(sizeof bytes)) {
    return error(Code::kInternal, "reading /dev/urandom: {}", std::strerror(errno));
  }
  std::string hex;
  hex.reserve(2 * sizeof bytes);
  for (unsigned char b : bytes) hex += fmt::format("{:02x}", b);
  return hex;
}

std::string random_hex(size_t chars) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string s;
  s.reserve(chars + 16);
  while (s.size() < chars) s += fmt::format("{:016x}", rng());
  s.resize(chars);
  return s;
}

}  // namespace crio::core
