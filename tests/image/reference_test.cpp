#include <crio/image/reference.hpp>

#include <catch2/catch.hpp>

#include <string>

using crio::Code;
using crio::image::parse_reference;
using crio::image::ParseOptions;

namespace {

std::string normalized(const std::string& text) {
  auto r = parse_reference(text);
  INFO(text << " → " << r.status().to_string());
  REQUIRE(r.ok());
  return r->string();
}

std::string error_of(const std::string& text) {
  auto r = parse_reference(text);
  INFO(text);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kInvalidArgument);
  // Every error names the reference it is about.
  CHECK(r.status().message().find("\"" + text + "\"") != std::string::npos);
  return r.status().message();
}

const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

}  // namespace

TEST_CASE("reference: docker hub normalisation", "[reference]") {
  CHECK(normalized("busybox") == "docker.io/library/busybox:latest");
  CHECK(normalized("busybox:1.36") == "docker.io/library/busybox:1.36");
  CHECK(normalized("user/img") == "docker.io/user/img:latest");
  CHECK(normalized("library/busybox") == "docker.io/library/busybox:latest");
  CHECK(normalized("docker.io/busybox") == "docker.io/library/busybox:latest");
  CHECK(normalized("index.docker.io/busybox") == "docker.io/library/busybox:latest");
  CHECK(normalized("docker.io/library/busybox:latest") == "docker.io/library/busybox:latest");
  CHECK(normalized("a/b/c/d") == "docker.io/a/b/c/d:latest");
}

TEST_CASE("reference: registries, ports and digests", "[reference]") {
  CHECK(normalized("localhost:5000/x:tag") == "localhost:5000/x:tag");
  CHECK(normalized("localhost/x") == "localhost/x:latest");
  CHECK(normalized("quay.io/a/b") == "quay.io/a/b:latest");
  CHECK(normalized("127.0.0.1:41234/ns/img:v1.2_3-rc") == "127.0.0.1:41234/ns/img:v1.2_3-rc");
  CHECK(normalized("[::1]:5000/img") == "[::1]:5000/img:latest");
  CHECK(normalized("host.example.com/x@sha256:" + kHex) == "host.example.com/x@sha256:" + kHex);
  CHECK(normalized("registry.k8s.io/pause:3.9@sha256:" + kHex) == "registry.k8s.io/pause:3.9@sha256:" + kHex);
  CHECK(normalized("busybox@sha256:" + kHex) == "docker.io/library/busybox@sha256:" + kHex);

  auto r = parse_reference("localhost:5000/a/b:t@sha256:" + kHex);
  REQUIRE(r.ok());
  CHECK(r->registry == "localhost:5000");
  CHECK(r->repository == "a/b");
  CHECK(r->tag == "t");
  CHECK(r->digest == "sha256:" + kHex);
  CHECK(r->manifest_ref() == "sha256:" + kHex);
  CHECK(r->name() == "localhost:5000/a/b");
  CHECK_FALSE(r->short_name);
}

TEST_CASE("reference: separators and tag grammar", "[reference]") {
  CHECK(normalized("x/a.b_c__d-e---f/g") == "docker.io/x/a.b_c__d-e---f/g:latest");
  CHECK(normalized("x:" + std::string(128, 'a')) == "docker.io/library/x:" + std::string(128, 'a'));
  CHECK(normalized("x:_tag") == "docker.io/library/x:_tag");
  CHECK(normalized("x:A.b-C") == "docker.io/library/x:A.b-C");
}

TEST_CASE("reference: short names", "[reference]") {
  using crio::image::is_short_name;
  CHECK(is_short_name("busybox"));
  CHECK(is_short_name("user/img:tag"));
  CHECK_FALSE(is_short_name("docker.io/busybox"));
  CHECK_FALSE(is_short_name("localhost/busybox"));
  CHECK_FALSE(is_short_name("host:5000/busybox"));
  CHECK(parse_reference("busybox")->short_name);
  CHECK(parse_reference("user/img")->short_name);
  CHECK_FALSE(parse_reference("docker.io/busybox")->short_name);
}

TEST_CASE("reference: default tag can be left out", "[reference]") {
  auto r = parse_reference("busybox", ParseOptions{.default_tag = false});
  REQUIRE(r.ok());
  CHECK(r->tag.empty());
  CHECK(r->string() == "docker.io/library/busybox");
  auto d = parse_reference("x@sha256:" + kHex);
  REQUIRE(d.ok());
  CHECK(d->tag.empty());  // a digest alone gets no default tag
}

TEST_CASE("reference: invalid references name the problem", "[reference]") {
  CHECK(crio::image::parse_reference("").status().message().find("empty") != std::string::npos);
  CHECK(error_of("Busybox").find("lowercase") != std::string::npos);
  CHECK(error_of("docker.io/User/img").find("lowercase") != std::string::npos);
  CHECK(error_of("busybox:").find("empty tag") != std::string::npos);
  CHECK(error_of("busybox:-bad").find("tag \"-bad\"") != std::string::npos);
  CHECK(error_of("busybox:" + std::string(129, 'a')).find("tag") != std::string::npos);
  CHECK(error_of("busybox:a/b").find("registry host") != std::string::npos);
  CHECK(error_of("busybox@").find("empty digest") != std::string::npos);
  CHECK(error_of("busybox@sha256:abc").find("64 hex") != std::string::npos);
  CHECK(error_of("busybox@sha256:" + std::string(64, 'A')).find("lowercase hex") != std::string::npos);
  CHECK(error_of("busybox@md5:" + kHex).find("unsupported algorithm") != std::string::npos);
  CHECK(error_of("busybox@" + kHex).find("no algorithm") != std::string::npos);
  CHECK(error_of(kHex).find("image ID") != std::string::npos);
  CHECK(error_of("a//b").find("repository path") != std::string::npos);
  CHECK(error_of("a/b/").find("repository path") != std::string::npos);
  CHECK(error_of("-a/b").find("repository path") != std::string::npos);
  CHECK(error_of("a.-b").find("repository path") != std::string::npos);
  CHECK(error_of("a..b").find("repository path") != std::string::npos);
  CHECK(error_of("a___b").find("repository path") != std::string::npos);
  CHECK(error_of("bad_host.com/x").find("registry host") != std::string::npos);
  CHECK(error_of("host:port/x").find("registry host") != std::string::npos);
  CHECK(error_of("host:/x").find("registry host") != std::string::npos);
  CHECK(error_of("-host.com/x").find("registry host") != std::string::npos);
  CHECK(error_of("localhost:5000/").find("empty") != std::string::npos);
  CHECK(error_of("busy box").find("whitespace") != std::string::npos);
  CHECK(error_of("a@sha256:" + kHex + "@sha256:" + kHex).find("more than one") != std::string::npos);
  CHECK(error_of("quay.io/" + std::string(250, 'a')).find("longer than 255") != std::string::npos);
}

TEST_CASE("reference: digest validation", "[reference]") {
  using crio::image::validate_digest;
  CHECK(validate_digest("sha256:" + kHex, "x").ok());
  CHECK(validate_digest("sha512:" + kHex + kHex, "x").ok());
  auto s = validate_digest("sha256:" + kHex.substr(1), "layer 3");
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message().rfind("layer 3: ", 0) == 0);
  CHECK(crio::image::looks_like_image_id(kHex));
  CHECK(crio::image::looks_like_image_id("sha256:" + kHex));
  CHECK_FALSE(crio::image::looks_like_image_id("busybox"));
}
