#include <crio/image/lookaside.hpp>

#include "trust_fixtures.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

using crio::Code;
using namespace crio::image;
using crio::test::image_ref;
using crio::test::kDigestA;

namespace {

RegistriesD parse(const std::string& yaml, const std::string& source = "test.yaml") {
  auto r = parse_registries_d(yaml, source);
  INFO(r.status().to_string());
  REQUIRE(r.ok());
  return *r;
}

}  // namespace

TEST_CASE("registries.d: each setting comes from the most specific scope that sets it", "[lookaside]") {
  auto config = parse(R"(
default-docker:
  lookaside: https://default.example.com/sigs/
  use-sigstore-attachments: false
docker:
  quay.io:
    lookaside: https://quay-sigs.example.com
  quay.io/vendor:
    use-sigstore-attachments: true
  quay.io/vendor/app:
    sigstore: file:///srv/app-sigs
  registry.local:5000:
    lookaside: http://registry.local/sigs
  "*.corp.example.com":
    lookaside: https://corp-sigs.example.com
)");
  CHECK(lookaside_for(config, image_ref("quay.io/vendor/app:1")) == "file:///srv/app-sigs");  // old key name
  CHECK(lookaside_for(config, image_ref("quay.io/vendor/tool:1")) == "https://quay-sigs.example.com");
  CHECK(lookaside_for(config, image_ref("busybox")) == "https://default.example.com/sigs");  // trailing '/' dropped
  CHECK(lookaside_for(config, image_ref("registry.local:5000/x")) == "http://registry.local/sigs");
  CHECK(lookaside_for(config, image_ref("registry.local/x")) == "https://default.example.com/sigs");
  CHECK(lookaside_for(config, image_ref("a.corp.example.com/x")) == "https://corp-sigs.example.com");

  CHECK(use_sigstore_attachments(config, image_ref("quay.io/vendor/app:1")));  // inherited from quay.io/vendor
  CHECK_FALSE(use_sigstore_attachments(config, image_ref("quay.io/other/app:1")));
  CHECK_FALSE(use_sigstore_attachments(RegistriesD{}, image_ref("quay.io/vendor/app:1")));

  // Nothing configured: the built-in default, or nothing when there is none.
  CHECK(lookaside_for(RegistriesD{}, image_ref("busybox")) == "file:///var/lib/containers/sigstore");
  CHECK(lookaside_for(RegistriesD{}, image_ref("busybox"), "").empty());
}

TEST_CASE("registries.d: signature URLs use the repository path and algo=hex", "[lookaside]") {
  CHECK(*lookaside_signature_url("https://sigs.example.com", image_ref("busybox:latest"), kDigestA, 1) ==
        "https://sigs.example.com/library/busybox@sha256=" + std::string(64, 'a') + "/signature-1");
  CHECK(*lookaside_signature_url("file:///s", image_ref("example.com:5000/ns1/ns2/repo@" + kDigestA), kDigestA, 12) ==
        "file:///s/ns1/ns2/repo@sha256=" + std::string(64, 'a') + "/signature-12");
  CHECK(lookaside_signature_url("file:///s", image_ref("busybox"), "sha256:nothex", 1).status().code() ==
        Code::kInvalidArgument);
  CHECK(*sigstore_attachment_tag(kDigestA) == "sha256-" + std::string(64, 'a') + ".sig");
}

TEST_CASE("registries.d: files merge, and a scope defined twice is refused naming both files", "[lookaside]") {
  crio::test::TempDir dir("crio-regd");
  crio::test::write_file(dir / "a.yaml", "docker:\n  quay.io:\n    lookaside: https://a.example.com\n");
  crio::test::write_file(dir / "b.yaml", "default-docker:\n  lookaside: https://b.example.com\n");
  crio::test::write_file(dir / "ignored.conf", "not: [yaml");
  auto config = load_registries_d(dir.path());
  REQUIRE(config.ok());
  CHECK(config->files == std::vector<std::string>{dir / "a.yaml", dir / "b.yaml"});
  CHECK(lookaside_for(*config, image_ref("quay.io/x/y")) == "https://a.example.com");
  CHECK(lookaside_for(*config, image_ref("busybox")) == "https://b.example.com");

  crio::test::write_file(dir / "c.yaml", "docker:\n  quay.io:\n    use-sigstore-attachments: true\n");
  auto dup = load_registries_d(dir.path());
  CHECK(dup.status().code() == Code::kInvalidArgument);
  CHECK(dup.status().message() ==
        "registries.d: docker scope \"quay.io\" is defined in both " + (dir / "a.yaml") + " and " + (dir / "c.yaml"));
  crio::test::write_file(dir / "c.yaml", "default-docker:\n  use-sigstore-attachments: true\n");
  dup = load_registries_d(dir.path());
  CHECK(dup.status().message().find("default-docker is defined in both") != std::string::npos);

  auto missing = load_registries_d(dir / "does-not-exist");
  REQUIRE(missing.ok());
  CHECK(missing->docker.empty());
  CHECK_FALSE(missing->default_docker);
}

TEST_CASE("registries.d: malformed files are InvalidArgument naming the file", "[lookaside]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"docker: [", "invalid YAML"},
      {"- a\n- b\n", "top level: must be a mapping"},
      {"docker: [a, b]\n", "docker: must be a mapping of scopes"},
      {"docker:\n  quay.io: [x]\n", "docker[\"quay.io\"]: must be a mapping"},
      {"docker:\n  quay.io:\n    lookaside: ftp://x\n", "is not a file://, http:// or https:// URL"},
      {"docker:\n  quay.io:\n    lookaside: file://relative\n", "must be file:///absolute/path"},
      {"docker:\n  quay.io:\n    lookaside: [a]\n", "must be a URL string"},
      {"docker:\n  quay.io:\n    use-sigstore-attachments: maybe\n", "must be true or false"},
      {"docker:\n  \"quay*.io\":\n    lookaside: https://x\n", "'*' is only allowed"},
  };
  for (const auto& [text, want] : cases) {
    auto r = parse_registries_d(text, "/etc/containers/registries.d/bad.yaml");
    INFO(text);
    REQUIRE_FALSE(r.ok());
    INFO(r.status().message());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK(r.status().message().find("/etc/containers/registries.d/bad.yaml") != std::string::npos);
    CHECK(r.status().message().find(want) != std::string::npos);
  }
  // Unknown keys are tolerated, as containers/image does.
  CHECK(parse_registries_d("docker:\n  quay.io:\n    lookaside-future: x\nfuture: 1\n", "x.yaml").ok());
  CHECK(parse_registries_d("", "empty.yaml").ok());
}

TEST_CASE("registries.d: http lookaside signatures are read until the first missing index", "[lookaside]") {
  auto config = parse("docker:\n  quay.io/vendor:\n    lookaside: https://sigs.example.com/store\n");
  const std::string base = "https://sigs.example.com/store/vendor/app@sha256=" + std::string(64, 'a');
  std::map<std::string, std::string> served{{base + "/signature-1", "one"},
                                            {base + "/signature-2", "two"},
                                            {base + "/signature-4", "after a gap: never read"}};
  std::vector<std::string> asked;
  SignatureFetcher fetcher;
  fetcher.get_url = [&](const std::string& url) -> crio::Result<std::optional<std::string>> {
    asked.push_back(url);
    auto it = served.find(url);
    if (it == served.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  };
  RegistrySignatureSource source(config, fetcher);
  auto sigs = source.simple_signing_signatures(image_ref("quay.io/vendor/app:1"), kDigestA);
  REQUIRE(sigs.ok());
  CHECK(*sigs == std::vector<std::string>{"one", "two"});
  CHECK(asked == std::vector<std::string>{base + "/signature-1", base + "/signature-2", base + "/signature-3"});

  // A fetch error (not a 404) is the evaluation's error.
  fetcher.get_url = [](const std::string&) -> crio::Result<std::optional<std::string>> {
    return crio::Status(Code::kUnavailable, "HTTP 503");
  };
  RegistrySignatureSource failing(config, fetcher);
  auto err = failing.simple_signing_signatures(image_ref("quay.io/vendor/app:1"), kDigestA);
  CHECK(err.status().code() == Code::kUnavailable);
  CHECK(err.status().message().find(base + "/signature-1") != std::string::npos);

  // No HTTP fetcher plugged in.
  RegistrySignatureSource no_http(config, SignatureFetcher{});
  CHECK(no_http.simple_signing_signatures(image_ref("quay.io/vendor/app:1"), kDigestA).status().code() ==
        Code::kFailedPrecondition);
}

TEST_CASE("registries.d: file lookaside signatures, with the built-in default when unconfigured", "[lookaside]") {
  crio::test::TempDir dir("crio-lookaside");
  const std::string sig_dir = dir / ("library/busybox@sha256=" + std::string(64, 'a'));
  crio::test::write_file(sig_dir + "/signature-1", "first");
  crio::test::write_file(sig_dir + "/signature-2", "second");
  RegistrySignatureSourceOptions options;
  options.builtin_lookaside = "file://" + dir.path();
  RegistrySignatureSource source(RegistriesD{}, SignatureFetcher{}, options);
  auto sigs = source.simple_signing_signatures(image_ref("busybox"), kDigestA);
  REQUIRE(sigs.ok());
  CHECK(*sigs == std::vector<std::string>{"first", "second"});

  auto none = source.simple_signing_signatures(image_ref("quay.io/a/b"), kDigestA);
  REQUIRE(none.ok());
  CHECK(none->empty());

  options.max_signatures = 1;
  RegistrySignatureSource limited(RegistriesD{}, SignatureFetcher{}, options);
  CHECK(limited.simple_signing_signatures(image_ref("busybox"), kDigestA)->size() == 1);
}
