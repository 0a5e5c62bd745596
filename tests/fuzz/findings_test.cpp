// What fuzzing found, replayed from the inputs kept in fuzz/corpus/.
#include "storage/unpack.hpp"

#include <crio/net/cni_types.hpp>

#include <catch2/catch.hpp>

#include "temp_dir.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

namespace {

using crio::Code;

std::string finding(const std::string& harness, const std::string& name) {
  std::ifstream in(std::string(CRIO_SOURCE_DIR) + "/fuzz/corpus/" + harness + "/" + name, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

crio::Result<int64_t> unpack(const std::string& dest, const std::string& tar) {
  size_t at = 0;
  return crio::storage::detail::unpack_tar(dest, [&](char* buf, size_t len) -> crio::Result<size_t> {
    size_t n = std::min(len, tar.size() - at);
    std::memcpy(buf, tar.data() + at, n);
    at += n;
    return n;
  });
}

}  // namespace

TEST_CASE("fuzz: a tar header libarchive rejects without a message is InvalidArgument", "[fuzz][storage]") {
  crio::test::TempDir tmp;
  auto r = unpack(tmp.path(), finding("unpack_tar", "finding-null-archive-error"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kInvalidArgument);
  CHECK(r.status().message().find("layer tar") != std::string::npos);
}

TEST_CASE("fuzz: a CNI version component too large for an int compares as the largest", "[fuzz][net]") {
  CHECK(crio::net::compare_cni_versions("99999999999999999999.0.0", "1.0.0") > 0);
  CHECK(crio::net::compare_cni_versions("1.99999999999999999999.0", "1.2.0") > 0);
  CHECK(crio::net::compare_cni_versions("1.0.0", "1.0.99999999999999999999") < 0);
  // The result the fuzzer found: a pre-0.3 style result whose cniVersion is huge.
  std::string input = finding("cni", "finding-version-overflow");
  (void)crio::net::parse_cni_result(std::string_view(input).substr(1));
}
