// The pull pipeline into a real store (vfs driver), from Debian's docker-registry
// with images built by make_images.py: multi-layer with whiteouts, Docker schema 2,
// an index, zstd, mirrors and short names, TLS + auth, concurrency, hostile images.

#include <crio/core/storage/store.hpp>
#include <crio/image/pull.hpp>

#include "registry_fixture.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

using crio::Code;
using namespace crio::image;
using crio::test::TempDir;
using crio::test::TestRegistry;
namespace stdfs = std::filesystem;

namespace {

struct StoreFixture {
  TempDir dir{"crio-pull"};
  std::unique_ptr<crio::storage::Store> store;

  StoreFixture() {
    crio::storage::StoreOptions o;
    o.root = dir / "root";
    o.runroot = dir / "runroot";
    o.driver = "vfs";
    auto s = crio::storage::Store::open(o);
    INFO(s.status().to_string());
    REQUIRE(s.ok());
    store = std::move(*s);
  }

  // The image's root filesystem, through a container layer over it.
  std::string rootfs(const std::string& image_id, const std::string& container) {
    auto c = store->create_container(container, image_id);
    INFO(c.status().to_string());
    REQUIRE(c.ok());
    auto path = store->mount(container);
    REQUIRE(path.ok());
    return *path;
  }
};

RegistriesConfig insecure_registry(const std::string& host) {
  auto c = parse_registries_config("[[registry]]\nlocation = \"" + host + "\"\ninsecure = true\n", "test");
  REQUIRE(c.ok());
  return *c;
}

PullerOptions options_for(const RegistriesConfig& reg) {
  PullerOptions o;
  o.registries = reg;
  o.client.retry_backoff = std::chrono::milliseconds(20);
  return o;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

// Every path below `dir` whose file name is `name`.
std::vector<std::string> find_named(const std::string& dir, const std::string& name) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = stdfs::recursive_directory_iterator(dir, stdfs::directory_options::none, ec);
       it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->path().filename() == name) out.push_back(it->path().string());
  }
  return out;
}

std::string hex_of(const std::string& digest) { return digest.substr(digest.find(':') + 1); }

}  // namespace

TEST_CASE("pull: multi-layer OCI image with whiteouts into the store", "[pull][integration]") {
  TestRegistry reg;
  TempDir escape;
  auto images = nlohmann::json::parse(reg.push_test_images(escape.path(), "multi"));
  const auto& info = images["test/multi:v1"];
  StoreFixture fx;
  Puller puller(*fx.store, options_for(insecure_registry(reg.host())));

  std::string name = reg.host() + "/test/multi:v1";
  auto r = puller.pull(name);
  INFO(r.status().to_string());
  REQUIRE(r.ok());
  CHECK(r->image_id == hex_of(info["config_digest"]));
  CHECK(r->manifest_digest == info["manifest_digest"]);
  CHECK(r->repo_digest == reg.host() + "/test/multi@" + std::string(info["manifest_digest"]));
  CHECK(r->reference.string() == name);
  CHECK(r->layers_pulled == 3);
  CHECK(r->layers_reused == 0);
  CHECK(r->config.user == "1000:1000");
  CHECK(r->config.working_dir == "/data");
  CHECK(r->config.entrypoint == std::vector<std::string>{"/bin/sh", "-c"});
  CHECK(r->config.cmd == std::vector<std::string>{"/bin/sh"});
  CHECK(r->config.exposed_ports == std::vector<std::string>{"8080/tcp"});
  CHECK(r->config.labels.at("suite") == "crio-image");
  CHECK(r->config.stop_signal == "SIGINT");

  auto img = fx.store->image(name);
  REQUIRE(img);
  CHECK(img->id == r->image_id);
  CHECK(img->names == std::vector<std::string>{name});
  CHECK(img->digests == std::vector<std::string>{r->repo_digest});
  CHECK(fx.store->image(r->repo_digest));
  CHECK(fx.store->layers().size() == 3);
  auto top = fx.store->layer(img->top_layer);
  REQUIRE(top);
  CHECK(top->diff_id == info["diff_ids"][2]);
  CHECK(top->compressed_digest == info["layers"][2]);

  std::string root = fx.rootfs(r->image_id, "c1");
  CHECK(slurp(root + "/bin/busybox") == slurp("/bin/busybox"));
  CHECK(slurp(root + "/etc/passwd").rfind("root:x:0:0", 0) == 0);
  CHECK(exists(root + "/bin/sh"));
  CHECK(stdfs::is_symlink(root + "/bin/ls"));
  CHECK_FALSE(exists(root + "/etc/gone"));         // whiteout
  CHECK_FALSE(exists(root + "/etc/removed/old"));  // opaque directory
  CHECK(slurp(root + "/etc/removed/new") == "after the opaque marker\n");
  CHECK(slurp(root + "/data/file2") == "second layer\n");
  CHECK(slurp(root + "/hello.txt") == "hello from an uncompressed layer\n");
  CHECK(find_named(root, ".wh.gone").empty());

  const PullMetrics& m = puller.metrics();
  CHECK(m.pull_successes == 1);
  CHECK(m.pull_failures == 0);
  CHECK(m.layers_pulled == 3);
  CHECK(m.bytes_pulled > 500000);

  // Again: everything is reused, nothing downloaded but manifest and config.
  uint64_t before = m.bytes_pulled;
  auto again = puller.pull(name);
  REQUIRE(again.ok());
  CHECK(again->layers_pulled == 0);
  CHECK(again->layers_reused == 3);
  CHECK(m.bytes_pulled - before < 10000);
  CHECK(fx.store->images().size() == 1);
}

TEST_CASE("pull: Docker schema 2, an index per platform, a zstd layer", "[pull][integration]") {
  TestRegistry reg;
  TempDir escape;
  auto images = nlohmann::json::parse(reg.push_test_images(escape.path(), "multi,docker,index,zstd"));
  StoreFixture fx;
  Puller puller(*fx.store, options_for(insecure_registry(reg.host())));

  auto multi = puller.pull(reg.host() + "/test/multi:v1");
  REQUIRE(multi.ok());
  // The Docker image shares the base layer.
  auto docker = puller.pull(reg.host() + "/test/docker:v1");
  INFO(docker.status().to_string());
  REQUIRE(docker.ok());
  CHECK(docker->layers_reused == 1);
  CHECK(docker->layers_pulled == 1);
  CHECK(docker->manifest_digest == images["test/docker:v1"]["manifest_digest"]);
  CHECK(slurp(fx.rootfs(docker->image_id, "d") + "/docker.txt") == "docker\n");

  for (std::string kind : {"oci", "docker"}) {
    const auto& idx = images["test/index:" + kind];
    auto amd = puller.pull(reg.host() + "/test/index:" + kind);
    INFO(kind << ": " << amd.status().to_string());
    REQUIRE(amd.ok());
    CHECK(amd->repo_digest == reg.host() + "/test/index@" + std::string(idx["manifest_digest"]));
    CHECK(amd->manifest_digest == idx["amd64"]["manifest_digest"]);
    CHECK(amd->image_id == hex_of(idx["amd64"]["config_digest"]));
    auto img = fx.store->image(amd->image_id);
    REQUIRE(img);
    // Both the index digest and the instance digest find the image.
    CHECK(fx.store->image(reg.host() + "/test/index@" + std::string(idx["amd64"]["manifest_digest"])));
    CHECK(fx.store->image(amd->repo_digest));
    CHECK(slurp(fx.rootfs(amd->image_id, "amd-" + kind) + "/arch") == "amd64\n");

    PullOptions arm;
    arm.platform = *parse_platform("linux/arm64");
    auto a = puller.pull(reg.host() + "/test/index:" + kind, arm);
    REQUIRE(a.ok());
    CHECK(a->image_id == hex_of(idx["arm64"]["config_digest"]));
    CHECK(slurp(fx.rootfs(a->image_id, "arm-" + kind) + "/arch") == "arm64\n");

    PullOptions s390;
    s390.platform = *parse_platform("linux/s390x");
    auto none = puller.pull(reg.host() + "/test/index:" + kind, s390);
    CHECK(none.status().code() == Code::kNotFound);
    CHECK(none.status().message().find("linux/s390x") != std::string::npos);
  }

  auto z = puller.pull(reg.host() + "/test/zstd:v1");
  INFO(z.status().to_string());
  REQUIRE(z.ok());
  std::string expected;
  for (int i = 0; i < 100; ++i) expected += "zstd compressed layer\n";
  CHECK(slurp(fx.rootfs(z->image_id, "z") + "/zstd.txt") == expected);

  // By digest: recorded under the repo digest only.
  std::string by_digest = reg.host() + "/test/zstd@" + std::string(images["test/zstd:v1"]["manifest_digest"]);
  auto d = puller.pull(by_digest);
  REQUIRE(d.ok());
  CHECK(d->image_id == z->image_id);
  CHECK(d->repo_digest == by_digest);
}

TEST_CASE("pull: short names, mirrors and blocked registries", "[pull][integration]") {
  TestRegistry reg;
  TempDir escape;
  reg.push_test_images(escape.path(), "multi");
  StoreFixture fx;
  int dead_port = crio::test::free_port();
  std::string conf = "unqualified-search-registries = [\"127.0.0.1:" + std::to_string(dead_port) + "\", \"" +
                     reg.host() + "\"]\n"
                     "[[registry]]\nlocation = \"" + reg.host() + "\"\ninsecure = true\n"
                     "[[registry]]\nlocation = \"127.0.0.1:" + std::to_string(dead_port) + "\"\ninsecure = true\n"
                     "[[registry]]\nprefix = \"upstream.example.invalid\"\nlocation = \"upstream.example.invalid\"\n"
                     "[[registry.mirror]]\nlocation = \"" + reg.host() + "/test\"\ninsecure = true\n"
                     "[[registry]]\nprefix = \"" + reg.host() + "/test/multi:blocked\"\nblocked = true\n";
  auto rc = parse_registries_config(conf, "test");
  REQUIRE(rc.ok());
  {
    // Enforcing (the default): two search registries make the short name ambiguous.
    Puller strict(*fx.store, options_for(*rc));
    auto ambiguous = strict.pull("test/multi:v1");
    REQUIRE_FALSE(ambiguous.ok());
    CHECK(ambiguous.status().code() == crio::Code::kInvalidArgument);
    CHECK_THAT(ambiguous.status().message(), Catch::Contains("ambiguous"));
  }
  rc->short_name_mode = ShortNameMode::kPermissive;
  Puller puller(*fx.store, options_for(*rc));

  // Short name: the first search registry is down, the second has it.
  auto s = puller.pull("test/multi:v1");
  INFO(s.status().to_string());
  REQUIRE(s.ok());
  CHECK(s->reference.string() == reg.host() + "/test/multi:v1");

  // Through a mirror: recorded under the name asked for.
  auto m = puller.pull("upstream.example.invalid/multi:v1");
  INFO(m.status().to_string());
  REQUIRE(m.ok());
  CHECK(m->source == reg.host() + "/test/multi:v1");
  CHECK(m->image_id == s->image_id);
  CHECK(fx.store->image("upstream.example.invalid/multi:v1"));
  CHECK(m->layers_reused == 3);

  auto blocked = puller.pull(reg.host() + "/test/multi:blocked");
  CHECK(blocked.status().code() == Code::kPermissionDenied);
  CHECK_FALSE(fx.store->image(reg.host() + "/test/multi:blocked"));

  // The verify hook sees the manifest first and can refuse the pull.
  PullOptions refuse;
  std::string seen_digest, seen_source;
  refuse.verify = [&](const ManifestCheck& c) {
    seen_digest = c.manifest_digest;
    seen_source = c.source.reference.string();
    return crio::Status(Code::kPermissionDenied, "image " + c.name.string() + " rejected by policy");
  };
  size_t layers_before = fx.store->layers().size();
  auto refused = puller.pull("upstream.example.invalid/multi:v1", refuse);
  CHECK(refused.status().code() == Code::kPermissionDenied);
  CHECK(refused.status().message() == "image upstream.example.invalid/multi:v1 rejected by policy");
  CHECK(seen_digest == m->manifest_digest);
  CHECK(seen_source == reg.host() + "/test/multi:v1");
  CHECK(fx.store->layers().size() == layers_before);

  auto missing = puller.pull(reg.host() + "/test/multi:nope");
  CHECK(missing.status().code() == Code::kNotFound);
  CHECK(missing.status().message().find(reg.host() + "/test/multi:nope") != std::string::npos);
  CHECK(puller.metrics().pull_failures == 3);
}

TEST_CASE("pull: TLS registry with basic auth", "[pull][integration]") {
  TestRegistry reg({.tls = true, .user = "puller", .password = "pw"});
  TempDir escape;
  reg.push_test_images(escape.path(), "multi");
  StoreFixture fx;
  PullerOptions o;
  o.client.certs_dir = reg.certs_dir();
  Puller puller(*fx.store, o);
  std::string name = reg.host() + "/test/multi:v1";

  auto anon = puller.pull(name);
  CHECK(anon.status().code() == Code::kUnauthenticated);
  CHECK(fx.store->images().empty());

  PullOptions with_auth;
  with_auth.auth = AuthConfig();
  with_auth.auth->username = "puller";
  with_auth.auth->password = "pw";
  auto r = puller.pull(name, with_auth);
  INFO(r.status().to_string());
  REQUIRE(r.ok());
  CHECK(r->layers_pulled == 3);
}

TEST_CASE("pull: concurrent pulls share layer downloads", "[pull][integration]") {
  TestRegistry reg;
  TempDir escape;
  auto images = nlohmann::json::parse(reg.push_test_images(escape.path(), "multi,docker"));
  StoreFixture fx;
  PullerOptions o = options_for(insecure_registry(reg.host()));
  o.max_parallel_downloads = 2;
  Puller puller(*fx.store, o);

  std::vector<std::string> names = {reg.host() + "/test/multi:v1", reg.host() + "/test/multi:v1",
                                    reg.host() + "/test/docker:v1", reg.host() + "/test/multi:v1"};
  std::vector<std::optional<crio::Result<PullResult>>> results(names.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < names.size(); ++i) threads.emplace_back([&, i] { results[i] = puller.pull(names[i]); });
  for (auto& t : threads) t.join();
  for (auto& r : results) {
    INFO(r->status().to_string());
    REQUIRE(r->ok());
  }
  // Four layers exist (3 of multi, 1 of docker); each was unpacked once.
  CHECK(fx.store->layers().size() == 4);
  CHECK(puller.metrics().layers_pulled == 4);
  CHECK(puller.metrics().pull_successes == 4);
  int pulled = 0;
  for (auto& r : results) pulled += (*r)->layers_pulled;
  CHECK(pulled == 4);
  // The base layer (busybox, ~1 MB compressed) crossed the wire once.
  CHECK(puller.metrics().bytes_pulled < 1800000);
  CHECK(fx.store->images().size() == 2);
}

TEST_CASE("pull: hostile images fail cleanly and leave nothing behind", "[pull][integration]") {
  TestRegistry reg;
  TempDir escape;
  auto images = nlohmann::json::parse(reg.push_test_images(escape.path(), "hostile"));
  StoreFixture fx;
  Puller puller(*fx.store, options_for(insecure_registry(reg.host())));

  struct Case {
    std::string image;
    std::string message;
  };
  std::vector<Case> cases = {
      {"hostile/blobdigest:v1", "compressed digest mismatch"},
      {"hostile/diffid:v1", "diff ID mismatch"},
      {"hostile/dotdot:v1", "escaped-dotdot"},
      {"hostile/symlink:v1", "evil"},
      {"hostile/symlink-relative:v1", "rel"},
  };
  for (const auto& c : cases) {
    auto r = puller.pull(reg.host() + "/" + c.image);
    INFO(c.image << ": " << r.status().to_string());
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find(c.message) != std::string::npos);
    CHECK(r.status().message().find(reg.host() + "/" + c.image) != std::string::npos);
    CHECK((r.status().code() == Code::kDataLoss || r.status().code() == Code::kInvalidArgument));
    CHECK(fx.store->images().empty());
    CHECK(fx.store->layers().empty());
  }
  CHECK(puller.metrics().pull_failures == cases.size());
  CHECK(stdfs::is_empty(escape.path()));
  CHECK(find_named(fx.dir.path(), "escaped-dotdot").empty());
  CHECK_FALSE(exists(stdfs::current_path().string() + "/escaped-dotdot"));
  CHECK_FALSE(exists(stdfs::current_path().parent_path().string() + "/escaped-dotdot"));
  CHECK(find_named(fx.dir.path(), "pwned").empty());
  CHECK(find_named(fx.dir.path(), "pwned-relative").empty());
  // No staging directory is left either: the store holds no file from any layer.
  CHECK(find_named(fx.dir.path(), "good").empty());
  CHECK(find_named(fx.dir.path(), "x").empty());
}

TEST_CASE("pull: a failing pull does not fail another pull sharing its layer", "[pull][integration]") {
  TestRegistry reg;
  TempDir escape;
  reg.push_test_images(escape.path(), "hostile");
  for (int attempt = 0; attempt < 5; ++attempt) {
    StoreFixture fx;
    Puller puller(*fx.store, options_for(insecure_registry(reg.host())));
    std::optional<crio::Result<PullResult>> broken, sound;
    std::thread a([&] { broken = puller.pull(reg.host() + "/hostile/blobdigest:v1"); });
    std::this_thread::sleep_for(std::chrono::milliseconds(attempt * 2));
    std::thread b([&] { sound = puller.pull(reg.host() + "/hostile/goodonly:v1"); });
    a.join();
    b.join();
    CHECK((*broken).status().code() == Code::kDataLoss);
    INFO((*sound).status().to_string());
    REQUIRE((*sound).ok());
    // Only the sound image and its one layer are in the store.
    CHECK(fx.store->images().size() == 1);
    CHECK(fx.store->layers().size() == 1);
  }
}
