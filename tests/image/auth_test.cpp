#include <crio/image/registry_client.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using crio::Code;
using namespace crio::image;

TEST_CASE("auth: WWW-Authenticate bearer challenge", "[auth]") {
  auto c = parse_www_authenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull")");
  REQUIRE(c.size() == 1);
  CHECK(c[0].scheme == "bearer");
  CHECK(c[0].params.at("realm") == "https://auth.docker.io/token");
  CHECK(c[0].params.at("service") == "registry.docker.io");
  CHECK(c[0].params.at("scope") == "repository:library/busybox:pull");
}

TEST_CASE("auth: several challenges, unquoted values, escapes and odd spacing", "[auth]") {
  auto c = parse_www_authenticate(
      R"(Basic realm="Registry Realm" , BEARER Realm = "https://x/t?a=1,b=2", service=reg, error="invalid_token", note="say \"hi\"")");
  REQUIRE(c.size() == 2);
  CHECK(c[0].scheme == "basic");
  CHECK(c[0].params.at("realm") == "Registry Realm");
  CHECK(c[1].scheme == "bearer");
  CHECK(c[1].params.at("realm") == "https://x/t?a=1,b=2");  // a comma inside quotes is not a separator
  CHECK(c[1].params.at("service") == "reg");
  CHECK(c[1].params.at("error") == "invalid_token");
  CHECK(c[1].params.at("note") == "say \"hi\"");
  CHECK(parse_www_authenticate("").empty());
  auto bare = parse_www_authenticate("Negotiate");
  REQUIRE(bare.size() == 1);
  CHECK(bare[0].scheme == "negotiate");
  CHECK(bare[0].params.empty());
}

TEST_CASE("auth: base64 round trip and errors", "[auth]") {
  for (std::string s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", "user:pa:ss", std::string("\0\xff\x10", 3)}) {
    auto d = base64_decode(base64_encode(s));
    REQUIRE(d.ok());
    CHECK(*d == s);
  }
  CHECK(base64_encode("user:password") == "dXNlcjpwYXNzd29yZA==");
  CHECK(base64_decode("dXNlcjpwYXNzd29yZA==").value() == "user:password");
  CHECK_FALSE(base64_decode("dXN!").ok());
  CHECK_FALSE(base64_decode("d").ok());
}

TEST_CASE("auth: credentials from username/password or the auth field", "[auth]") {
  AuthConfig a;
  a.username = "u";
  a.password = "p";
  CHECK(basic_credentials(a).value() == std::make_pair(std::string("u"), std::string("p")));
  AuthConfig b;
  b.auth = base64_encode("alice:s3:cret");
  CHECK(basic_credentials(b).value() == std::make_pair(std::string("alice"), std::string("s3:cret")));
  AuthConfig bad;
  bad.auth = base64_encode("no-colon");
  CHECK(basic_credentials(bad).status().code() == Code::kInvalidArgument);
  CHECK(basic_credentials(AuthConfig{}).status().code() == Code::kInvalidArgument);
}

TEST_CASE("auth: auth.json lookup picks the most specific key", "[auth]") {
  std::string json = R"({"auths": {
    "quay.io": {"auth": ")" + base64_encode("host:1") + R"("},
    "quay.io/team": {"auth": ")" + base64_encode("team:2") + R"("},
    "quay.io/team/app": {"auth": ")" + base64_encode("app:3") + R"("},
    "https://index.docker.io/v1/": {"auth": ")" + base64_encode("hub:4") + R"("},
    "tok.io": {"identitytoken": "refresh-me"}
  }})";
  auto user = [&](const char* reg, const char* repo) -> std::string {
    auto r = lookup_auth_json(json, "auth.json", reg, repo);
    REQUIRE(r.ok());
    if (!r->has_value()) return "";
    return basic_credentials(**r).value().first;
  };
  CHECK(user("quay.io", "other/x") == "host");
  CHECK(user("quay.io", "team/x") == "team");
  CHECK(user("quay.io", "team/app") == "app");
  CHECK(user("quay.io", "teamx/app") == "host");  // whole components only
  CHECK(user("docker.io", "library/busybox") == "hub");
  CHECK(user("example.com", "x") == "");
  auto tok = lookup_auth_json(json, "auth.json", "tok.io", "x");
  REQUIRE(tok.ok());
  REQUIRE(tok->has_value());
  CHECK((*tok)->identity_token == "refresh-me");

  auto broken = lookup_auth_json("{\"auths\": {\"x.io\": {\"auth\": \"@@@\"}}}", "auth.json", "x.io", "y");
  CHECK(broken.status().code() == Code::kInvalidArgument);
  CHECK(broken.status().message().find("auth.json") != std::string::npos);
  CHECK(lookup_auth_json("[1]", "auth.json", "x.io", "y").status().code() == Code::kInvalidArgument);
  auto none = lookup_auth_json("{}", "auth.json", "x.io", "y");
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
}

TEST_CASE("auth: manifest Accept types cover OCI and Docker manifests and indexes", "[auth]") {
  const auto& t = manifest_accept_types();
  auto has = [&](const char* m) { return std::find(t.begin(), t.end(), m) != t.end(); };
  CHECK(has("application/vnd.oci.image.manifest.v1+json"));
  CHECK(has("application/vnd.oci.image.index.v1+json"));
  CHECK(has("application/vnd.docker.distribution.manifest.v2+json"));
  CHECK(has("application/vnd.docker.distribution.manifest.list.v2+json"));
  CHECK(RegistryClient::api_host("docker.io") == "registry-1.docker.io");
  CHECK(RegistryClient::api_host("localhost:5000") == "localhost:5000");
}
