#include <crio/image/reference.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  auto ref = crio::image::parse_reference(argc > 1 ? argv[1] : "busybox");
  if (!ref.ok()) {
    std::fprintf(stderr, "%s\n", ref.status().message().c_str());
    return 1;
  }
  std::printf("%s\n", ref->string().c_str());
  return 0;
}
