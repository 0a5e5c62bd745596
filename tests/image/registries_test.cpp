#include <crio/image/registries.hpp>

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>
#include <vector>

using crio::Code;
using namespace crio::image;

namespace {

RegistriesConfig parse_ok(const std::string& text) {
  auto r = parse_registries_config(text, "test.conf");
  INFO(r.status().to_string());
  REQUIRE(r.ok());
  return *r;
}

std::string parse_error(const std::string& text) {
  auto r = parse_registries_config(text, "test.conf");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kInvalidArgument);
  CHECK(r.status().message().rfind("test.conf", 0) == 0);
  return r.status().message();
}

Reference ref(const std::string& text) {
  auto r = parse_reference(text);
  REQUIRE(r.ok());
  return *r;
}

std::vector<std::string> sources(const RegistriesConfig& c, const std::string& text) {
  auto r = pull_sources(c, ref(text));
  INFO(r.status().to_string());
  REQUIRE(r.ok());
  std::vector<std::string> out;
  for (const PullSource& s : *r) out.push_back(s.reference.string() + (s.insecure ? " insecure" : "") + (s.mirror ? " mirror" : ""));
  return out;
}

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had_) ::setenv(name_, old_.c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

RegistriesLoadOptions path_only(const std::string& path) {
  RegistriesLoadOptions o;
  o.path = path;
  return o;
}

const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

}  // namespace

TEST_CASE("registries: no entry pulls from the reference itself", "[registries]") {
  RegistriesConfig c = parse_ok("");
  CHECK(sources(c, "quay.io/a/b:1") == std::vector<std::string>{"quay.io/a/b:1"});
}

TEST_CASE("registries: longest prefix wins and the path is rewritten", "[registries]") {
  RegistriesConfig c = parse_ok(R"(
[[registry]]
prefix = "example.com"
location = "primary.local:5000"

[[registry]]
prefix = "example.com/team"
location = "team.local/mirror/team"
insecure = true

[[registry]]
prefix = "example.com/teamx"
location = "other.local"
)");
  REQUIRE(c.registries.size() == 3);
  CHECK(sources(c, "example.com/app:1") == std::vector<std::string>{"primary.local:5000/app:1"});
  CHECK(sources(c, "example.com/team/app:2") == std::vector<std::string>{"team.local/mirror/team/app:2 insecure"});
  // "example.com/teamx" must not match the "example.com/team" prefix half-way.
  CHECK(sources(c, "example.com/teamx/app") == std::vector<std::string>{"other.local/app:latest"});
  CHECK(sources(c, "example.com/teamy/app") == std::vector<std::string>{"primary.local:5000/teamy/app:latest"});
  // "example.comx" is another host.
  CHECK(sources(c, "example.comx/app") == std::vector<std::string>{"example.comx/app:latest"});
  CHECK(find_registry(c, ref("example.com/team/x"))->prefix == "example.com/team");
  CHECK(find_registry(c, ref("quay.io/x")) == nullptr);
}

TEST_CASE("registries: prefix with a tag matches only that tag", "[registries]") {
  RegistriesConfig c = parse_ok(R"(
[[registry]]
prefix = "example.com/app:v1"
location = "pinned.local/app-fixed"
)");
  CHECK(sources(c, "example.com/app:v1") == std::vector<std::string>{"pinned.local/app-fixed:v1"});
  CHECK(sources(c, "example.com/app:v10") == std::vector<std::string>{"example.com/app:v10"});
}

TEST_CASE("registries: wildcard prefix applies settings without rewriting", "[registries]") {
  RegistriesConfig c = parse_ok(R"(
[[registry]]
prefix = "*.example.com"
insecure = true
[[registry.mirror]]
location = "cache.local"

[[registry]]
prefix = "special.example.com"
location = "special.local"
)");
  CHECK(sources(c, "a.b.example.com/x:1") ==
        std::vector<std::string>{"cache.local/x:1 mirror", "a.b.example.com/x:1 insecure"});
  // The explicit host prefix is as long as the matched host: the exact entry wins
  // only when it is longer, here equal — the first of equals is kept.
  CHECK(sources(c, "special.example.com/x")[0] == "cache.local/x:latest mirror");
  CHECK(sources(c, "example.com/x") == std::vector<std::string>{"example.com/x:latest"});
}

TEST_CASE("registries: mirrors by tag and by digest", "[registries]") {
  RegistriesConfig c = parse_ok(R"(
[[registry]]
prefix = "docker.io"
location = "docker.io"

[[registry.mirror]]
location = "mirror-all.local"

[[registry.mirror]]
location = "mirror-digest.local/dh"
pull-from-mirror = "digest-only"
insecure = true

[[registry.mirror]]
location = "mirror-tag.local"
pull-from-mirror = "tag-only"

[[registry]]
prefix = "quay.io"
mirror-by-digest-only = true
[[registry.mirror]]
location = "q.local"
)");
  CHECK(sources(c, "busybox") == std::vector<std::string>{"mirror-all.local/library/busybox:latest mirror",
                                                           "mirror-tag.local/library/busybox:latest mirror",
                                                           "docker.io/library/busybox:latest"});
  CHECK(sources(c, "busybox@sha256:" + kHex) ==
        std::vector<std::string>{"mirror-all.local/library/busybox@sha256:" + kHex + " mirror",
                                 "mirror-digest.local/dh/library/busybox@sha256:" + kHex + " insecure mirror",
                                 "docker.io/library/busybox@sha256:" + kHex});
  CHECK(sources(c, "quay.io/a:1") == std::vector<std::string>{"quay.io/a:1"});
  CHECK(sources(c, "quay.io/a@sha256:" + kHex) ==
        std::vector<std::string>{"q.local/a@sha256:" + kHex + " mirror", "quay.io/a@sha256:" + kHex});
}

TEST_CASE("registries: blocked registry is PermissionDenied", "[registries]") {
  RegistriesConfig c = parse_ok(R"(
[[registry]]
prefix = "evil.example.com/bad"
blocked = true
)");
  auto r = pull_sources(c, ref("evil.example.com/bad/img:1"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kPermissionDenied);
  CHECK(r.status().message().find("evil.example.com/bad/img:1") != std::string::npos);
  CHECK(r.status().message().find("blocked") != std::string::npos);
  CHECK(pull_sources(c, ref("evil.example.com/good/img:1")).ok());
}

TEST_CASE("registries: aliases and search registries for short names", "[registries]") {
  RegistriesConfig c = parse_ok(R"(
unqualified-search-registries = ["registry.fedoraproject.org", "docker.io", "localhost:5000"]
short-name-mode = "permissive"

[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
"library/alpine" = "docker.io/library/alpine"
)");
  CHECK(c.short_name_mode == ShortNameMode::kPermissive);
  auto names = [&](const std::string& text) {
    auto r = resolve_name(c, text);
    INFO(r.status().to_string());
    REQUIRE(r.ok());
    std::vector<std::string> out;
    for (const auto& x : *r) out.push_back(x.string());
    return out;
  };
  CHECK(names("fedora:39") == std::vector<std::string>{"registry.fedoraproject.org/fedora:39"});
  CHECK(names("alpine") == std::vector<std::string>{"docker.io/library/alpine:latest"});  // key normalised
  CHECK(names("busybox@sha256:" + kHex) ==
        std::vector<std::string>{"registry.fedoraproject.org/busybox@sha256:" + kHex,
                                 "docker.io/library/busybox@sha256:" + kHex, "localhost:5000/busybox@sha256:" + kHex});
  CHECK(names("user/img:2") == std::vector<std::string>{"registry.fedoraproject.org/user/img:2",
                                                         "docker.io/user/img:2", "localhost:5000/user/img:2"});
  CHECK(names("quay.io/x/y") == std::vector<std::string>{"quay.io/x/y:latest"});

  RegistriesConfig empty = parse_ok("");
  auto r = resolve_name(empty, "busybox");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kNotFound);
  CHECK(r.status().message().find("busybox") != std::string::npos);
  CHECK(resolve_name(empty, "Bad").status().code() == Code::kInvalidArgument);
}

TEST_CASE("registries: invalid files name file, line and key", "[registries]") {
  CHECK(parse_error("unqualified-search-registries = \"docker.io\"").find("test.conf:1: \"unqualified-search-registries\" must be an array") != std::string::npos);
  CHECK(parse_error("unqualified-search-registries = [\"docker.io/library\"]").find("without a path") != std::string::npos);
  CHECK(parse_error("short-name-mode = \"sometimes\"").find("\"sometimes\" is not one of") != std::string::npos);
  CHECK(parse_error("[[registry]]\ninsecure = true\n").find("needs a prefix or a location") != std::string::npos);
  CHECK(parse_error("[[registry]]\nprefix = \"x.io\"\ninsecure = \"yes\"\n").find("test.conf:3: \"insecure\" must be true or false") != std::string::npos);
  CHECK(parse_error("[[registry]]\nprefix = \"*.x.io\"\nlocation = \"y.io\"\n").find("must be empty for the wildcard") != std::string::npos);
  CHECK(parse_error("[[registry]]\nprefix = \"a.*.io\"\n").find("wildcard") != std::string::npos);
  CHECK(parse_error("[[registry]]\nprefix = \"x.io\"\nlocation = \"https://y.io\"\n").find("URL scheme") != std::string::npos);
  CHECK(parse_error("[[registry]]\nprefix = \"x.io\"\n[[registry]]\nprefix = \"x.io\"\n").find("defined twice") != std::string::npos);
  CHECK(parse_error("[[registry]]\nprefix = \"x.io\"\n[[registry.mirror]]\ninsecure = true\n").find("has no location") != std::string::npos);
  CHECK(parse_error("[[registry]]\nprefix = \"x.io\"\n[[registry.mirror]]\nlocation = \"m.io\"\npull-from-mirror = \"never\"\n").find("\"never\" is not one of") != std::string::npos);
  CHECK(parse_error("[aliases]\n\"quay.io/x\" = \"quay.io/x\"\n").find("short name") != std::string::npos);
  CHECK(parse_error("[aliases]\n\"x\" = \"y\"\n").find("fully qualified") != std::string::npos);
  CHECK(parse_error("[aliases]\n\"x\" = \"quay.io/y:1\"\n").find("tag or digest") != std::string::npos);
  CHECK(parse_error("this is not toml").find("invalid TOML") != std::string::npos);
  CHECK(parse_error("unqualified-search-registries = [\"b.io\"]\n[registries.search]\nregistries = [\"a.io\"]\n").find("version 1") != std::string::npos);
}

TEST_CASE("registries: version 1 format", "[registries]") {
  RegistriesConfig c = parse_ok(R"(
[registries.search]
registries = ["a.io", "b.io"]
[registries.insecure]
registries = ["b.io"]
[registries.block]
registries = ["c.io"]
)");
  CHECK(c.unqualified_search_registries == std::vector<std::string>{"a.io", "b.io"});
  CHECK(sources(c, "b.io/x") == std::vector<std::string>{"b.io/x:latest insecure"});
  CHECK(pull_sources(c, ref("c.io/x")).status().code() == Code::kPermissionDenied);
}

TEST_CASE("registries: drop-ins override in name order and crio.conf insecure list merges", "[registries]") {
  crio::test::TempDir dir;
  crio::test::write_file(dir / "registries.conf", R"(
unqualified-search-registries = ["a.io"]
[[registry]]
prefix = "x.io"
location = "x-main.io"
[aliases]
"one" = "a.io/one"
"two" = "a.io/two"
)");
  crio::test::write_file(dir / "registries.conf.d/20-second.conf", R"(
[[registry]]
prefix = "x.io"
location = "x-second.io"
[aliases]
"two" = ""
)");
  crio::test::write_file(dir / "registries.conf.d/10-first.conf", R"(
unqualified-search-registries = ["b.io", "c.io"]
[[registry]]
prefix = "x.io"
location = "x-first.io"
[[registry]]
prefix = "y.io"
blocked = true
[aliases]
"three" = "a.io/three"
)");
  crio::test::write_file(dir / "registries.conf.d/30-ignored.txt", "this is not toml");

  RegistriesLoadOptions options;
  options.path = dir / "registries.conf";
  options.insecure_registries = {"x-second.io", "http://z.io/"};
  auto r = load_registries_config(options);
  INFO(r.status().to_string());
  REQUIRE(r.ok());
  const RegistriesConfig& c = *r;
  CHECK(c.files.size() == 3);
  CHECK(c.unqualified_search_registries == std::vector<std::string>{"b.io", "c.io"});
  CHECK(sources(c, "x.io/app") == std::vector<std::string>{"x-second.io/app:latest insecure"});
  CHECK(sources(c, "z.io/app") == std::vector<std::string>{"z.io/app:latest insecure"});
  CHECK(is_insecure_location(c, "z.io/anything"));
  CHECK_FALSE(is_insecure_location(c, "zz.io"));
  CHECK(pull_sources(c, ref("y.io/app")).status().code() == Code::kPermissionDenied);
  CHECK(c.aliases.count("docker.io/library/one") == 1);
  CHECK(c.aliases.count("docker.io/library/two") == 0);
  CHECK(c.aliases.count("docker.io/library/three") == 1);

  crio::test::write_file(dir / "registries.conf.d/40-bad.conf", "[[registry]]\nprefix = 3\n");
  auto bad = load_registries_config(path_only(dir / "registries.conf"));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("40-bad.conf:2") != std::string::npos);
}

TEST_CASE("registries: file location from the environment", "[registries]") {
  crio::test::TempDir dir;
  crio::test::write_file(dir / "custom.conf", "unqualified-search-registries = [\"env.io\"]\n");
  {
    ScopedEnv env("CONTAINERS_REGISTRIES_CONF", dir / "custom.conf");
    auto r = load_registries_config();
    REQUIRE(r.ok());
    CHECK(r->unqualified_search_registries == std::vector<std::string>{"env.io"});
    // An explicit path wins over the variable.
    crio::test::write_file(dir / "explicit.conf", "unqualified-search-registries = [\"explicit.io\"]\n");
    auto e = load_registries_config(path_only(dir / "explicit.conf"));
    REQUIRE(e.ok());
    CHECK(e->unqualified_search_registries == std::vector<std::string>{"explicit.io"});
  }
  {
    // A missing file named by the variable is an empty configuration; a missing
    // explicit one is an error.
    ScopedEnv env("CONTAINERS_REGISTRIES_CONF", dir / "missing.conf");
    auto r = load_registries_config();
    REQUIRE(r.ok());
    CHECK(r->registries.empty());
    auto e = load_registries_config(path_only(dir / "missing.conf"));
    CHECK(e.status().code() == Code::kNotFound);
  }
}
