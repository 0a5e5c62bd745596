#include <crio/core/status.hpp>

#include <cstdio>

// Builds a Status the way the daemon does and prints its message.
int main(int argc, char** argv) {
  crio::Status s = crio::error(crio::Code::kNotFound, "pod sandbox {}: not found", argc > 1 ? argv[1] : "web");
  std::printf("%s\n", s.message().c_str());
  return s.ok() ? 1 : 0;
}
