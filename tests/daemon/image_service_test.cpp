// ImageService through a real daemon and a real registry: pull, status by every kind
// of name, list, remove, fs info, hostile images, restarts and a crash mid-pull.

#include "daemon_fixture.hpp"
#include "registry_fixture.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>

using crio::test::Daemon;
using crio::test::set_deadline;
using crio::test::TestRegistry;
namespace v1 = runtime::v1;
namespace stdfs = std::filesystem;

namespace {

// The daemon resolves short names through the test registry and reaches it over
// plain HTTP.
void point_at_registry(const Daemon& daemon, const std::string& host) {
  crio::test::write_file(daemon.dir() / "registries.conf",
                         "unqualified-search-registries = [\"" + host + "\"]\n"
                         "short-name-mode = \"permissive\"\n"
                         "[[registry]]\nlocation = \"" + host + "\"\ninsecure = true\n");
}

struct ImageClient {
  explicit ImageClient(const Daemon& daemon) : stub(daemon.image_stub()) {}

  grpc::Status pull(const std::string& image, std::string* ref = nullptr, const std::string& pod_namespace = "") {
    grpc::ClientContext context;
    set_deadline(context, 60);
    v1::PullImageRequest request;
    request.mutable_image()->set_image(image);
    if (!pod_namespace.empty()) request.mutable_sandbox_config()->mutable_metadata()->set_namespace_(pod_namespace);
    v1::PullImageResponse response;
    grpc::Status status = stub->PullImage(&context, request, &response);
    if (ref) *ref = response.image_ref();
    return status;
  }
  v1::ImageStatusResponse status(const std::string& image, bool verbose = false) {
    grpc::ClientContext context;
    set_deadline(context);
    v1::ImageStatusRequest request;
    request.mutable_image()->set_image(image);
    request.set_verbose(verbose);
    v1::ImageStatusResponse response;
    grpc::Status s = stub->ImageStatus(&context, request, &response);
    REQUIRE(s.ok());
    return response;
  }
  std::vector<v1::Image> list(const std::string& filter = "") {
    grpc::ClientContext context;
    set_deadline(context);
    v1::ListImagesRequest request;
    if (!filter.empty()) request.mutable_filter()->mutable_image()->set_image(filter);
    v1::ListImagesResponse response;
    REQUIRE(stub->ListImages(&context, request, &response).ok());
    return {response.images().begin(), response.images().end()};
  }
  grpc::Status remove(const std::string& image) {
    grpc::ClientContext context;
    set_deadline(context);
    v1::RemoveImageRequest request;
    request.mutable_image()->set_image(image);
    v1::RemoveImageResponse response;
    return stub->RemoveImage(&context, request, &response);
  }

  std::unique_ptr<v1::ImageService::Stub> stub;
};

bool has(const google::protobuf::RepeatedPtrField<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// Every file under `dir` (recursively) whose path contains `part`.
std::vector<std::string> files_containing(const std::string& dir, const std::string& part) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = stdfs::recursive_directory_iterator(dir, ec); !ec && it != stdfs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->path().string().find(part) != std::string::npos) out.push_back(it->path().string());
  }
  return out;
}

}  // namespace

TEST_CASE("PullImage, ImageStatus, ListImages and RemoveImage through the daemon", "[daemon][image]") {
  TestRegistry registry;
  auto pushed = nlohmann::json::parse(registry.push_test_images("/nonexistent", "multi,index"));
  Daemon daemon("", false);
  point_at_registry(daemon, registry.host());
  daemon.start();
  ImageClient images(daemon);
  const std::string name = registry.host() + "/test/multi:v1";

  std::string ref;
  REQUIRE(images.pull(name, &ref).ok());
  const std::string config_digest = pushed["test/multi:v1"]["config_digest"];
  CHECK(ref == config_digest.substr(7));

  auto by_tag = images.status(name);
  REQUIRE(by_tag.has_image());
  CHECK(by_tag.image().id() == ref);
  CHECK(has(by_tag.image().repo_tags(), name));
  const std::string repo_digest =
      registry.host() + "/test/multi@" + pushed["test/multi:v1"]["manifest_digest"].get<std::string>();
  CHECK(has(by_tag.image().repo_digests(), repo_digest));
  CHECK(by_tag.image().size() > 0);
  CHECK(by_tag.image().uid().value() == 1000);
  CHECK(by_tag.image().username().empty());

  // Every name a client may use finds the same image.
  for (const std::string& alias : {ref, "sha256:" + ref, ref.substr(0, 12), repo_digest, std::string("test/multi:v1")}) {
    INFO(alias);
    auto found = images.status(alias);
    REQUIRE(found.has_image());
    CHECK(found.image().id() == ref);
  }
  auto verbose = images.status(name, true);
  REQUIRE(verbose.info().count("info") == 1);
  CHECK(nlohmann::json::parse(verbose.info().at("info"))["imageSpec"]["config"]["User"] == "1000:1000");

  // An absent image is an empty answer, not an error.
  CHECK_FALSE(images.status(registry.host() + "/test/nothing:here").has_image());

  // An index resolves to this machine's platform.
  REQUIRE(images.pull(registry.host() + "/test/index:oci").ok());
  CHECK(images.list().size() == 2);
  auto filtered = images.list(name);
  REQUIRE(filtered.size() == 1);
  CHECK(filtered[0].id() == ref);

  {
    grpc::ClientContext context;
    set_deadline(context);
    v1::ImageFsInfoResponse fs;
    REQUIRE(images.stub->ImageFsInfo(&context, v1::ImageFsInfoRequest(), &fs).ok());
    REQUIRE(fs.image_filesystems_size() == 1);
    CHECK(fs.image_filesystems(0).used_bytes().value() > 100 * 1024);
    CHECK(fs.image_filesystems(0).inodes_used().value() > 3);
    CHECK_THAT(fs.image_filesystems(0).fs_id().mountpoint(), Catch::StartsWith(daemon.dir() / "storage"));
    CHECK(fs.container_filesystems_size() == 1);
  }

  // A second tag of the same manifest: removing one of the two tags untags only.
  const std::string second = registry.host() + "/test/multi:second";
  auto copied = crio::test::run_command({"/usr/bin/skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
                                         "docker://" + name, "docker://" + second});
  INFO(copied.err);
  REQUIRE(copied.exit_code == 0);
  std::string second_ref;
  REQUIRE(images.pull(second, &second_ref).ok());
  CHECK(second_ref == ref);
  REQUIRE(images.remove(second).ok());
  auto untagged = images.status(ref);
  REQUIRE(untagged.has_image());
  CHECK(has(untagged.image().repo_tags(), name));
  CHECK_FALSE(has(untagged.image().repo_tags(), second));

  // Removal of the last tag removes the image with every name; a second removal is fine.
  REQUIRE(images.remove(name).ok());
  CHECK_FALSE(images.status(ref).has_image());
  CHECK_FALSE(images.status(repo_digest).has_image());
  CHECK(images.remove(name).ok());
  CHECK(images.remove(ref).ok());
  CHECK(images.list().size() == 1);
}

TEST_CASE("Bad pulls get clear errors and leave no image", "[daemon][image]") {
  TestRegistry registry;
  crio::test::TempDir outside("crio-outside");
  registry.push_test_images(outside.path(), "hostile");
  Daemon daemon("", false);
  point_at_registry(daemon, registry.host());
  daemon.start();
  ImageClient images(daemon);

  grpc::Status empty = images.pull("");
  CHECK(empty.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  grpc::Status malformed = images.pull("UPPER/Case:tag");
  CHECK(malformed.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(malformed.error_message(), Catch::Contains("UPPER/Case"));
  grpc::Status missing = images.pull(registry.host() + "/test/absent:v1");
  CHECK(missing.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK_THAT(missing.error_message(), Catch::Contains("test/absent"));

  for (const char* hostile : {"hostile/diffid:v1", "hostile/dotdot:v1", "hostile/symlink:v1",
                              "hostile/symlink-relative:v1", "hostile/blobdigest:v1"}) {
    INFO(hostile);
    grpc::Status s = images.pull(registry.host() + "/" + hostile);
    CHECK_FALSE(s.ok());
    CHECK_FALSE(s.error_message().empty());
  }
  CHECK(images.list().empty());
  CHECK(stdfs::is_empty(outside.path()));
  CHECK(files_containing(daemon.dir().path(), "escaped-dotdot").empty());
  CHECK(files_containing("/tmp", "escaped-dotdot").empty());
}

TEST_CASE("Pulled images survive a graceful restart and a kill -9", "[daemon][image]") {
  TestRegistry registry;
  registry.push_test_images("/nonexistent", "multi");
  Daemon daemon("", false);
  point_at_registry(daemon, registry.host());
  daemon.start();
  const std::string name = registry.host() + "/test/multi:v1";
  std::string ref;
  REQUIRE(ImageClient(daemon).pull(name, &ref).ok());

  daemon.stop(SIGTERM);
  REQUIRE(daemon.exit_code() == 0);
  daemon.start();
  CHECK(ImageClient(daemon).status(name).image().id() == ref);

  daemon.stop(SIGKILL);
  daemon.start();
  ImageClient images(daemon);
  CHECK(images.status(name).image().id() == ref);
  CHECK(images.remove(name).ok());
}

TEST_CASE("imagestore keeps pulled images apart from root, and a daemon started without it does not see them",
          "[daemon][image]") {
  TestRegistry registry;
  registry.push_test_images("/nonexistent", "multi");
  Daemon daemon("", false);
  point_at_registry(daemon, registry.host());
  const std::string image_store = daemon.dir() / "imagestore";
  const std::string drop_in = daemon.dir() / "crio.conf.d/40-imagestore.conf";
  crio::test::write_file(drop_in, "[crio]\nimagestore = \"" + image_store + "\"\n");
  daemon.start();
  const std::string name = registry.host() + "/test/multi:v1";
  std::string ref;
  REQUIRE(ImageClient(daemon).pull(name, &ref).ok());
  CHECK(ImageClient(daemon).status(name).image().id() == ref);
  CHECK_THAT(crio::test::read_file(image_store + "/overlay-images/images.json"), Catch::Contains(name));
  CHECK(stdfs::is_directory(image_store + "/overlay/l"));

  daemon.stop(SIGTERM);
  REQUIRE(daemon.exit_code() == 0);
  stdfs::remove(drop_in);
  daemon.start();
  CHECK_FALSE(ImageClient(daemon).status(name).has_image());

  daemon.stop(SIGTERM);
  crio::test::write_file(drop_in, "[crio]\nimagestore = \"" + image_store + "\"\n");
  daemon.start();
  ImageClient images(daemon);
  CHECK(images.status(name).image().id() == ref);
  CHECK(images.remove(name).ok());
}

TEST_CASE("A kill -9 in the middle of a pull leaves a consistent store and the pull can be repeated",
          "[daemon][image]") {
  TestRegistry registry;
  registry.push_test_images("/nonexistent", "multi");
  int proxy_port = crio::test::free_port();
  crio::test::TempDir proxy_dir("crio-proxy");
  crio::test::Child proxy({"/usr/bin/python3", std::string(CRIO_SOURCE_DIR) + "/tests/daemon/stalling_proxy.py",
                           std::to_string(proxy_port), registry.host(), proxy_dir / "stalled"},
                          proxy_dir / "proxy.log");
  const std::string proxy_host = "127.0.0.1:" + std::to_string(proxy_port);
  REQUIRE(crio::test::eventually([&] { return crio::test::run_command({"/usr/bin/curl", "-sf", "http://" + proxy_host + "/v2/"}).exit_code == 0; }));

  Daemon daemon("", false);
  point_at_registry(daemon, proxy_host);
  daemon.start();
  std::thread puller([&] { ImageClient(daemon).pull(proxy_host + "/test/multi:v1"); });
  bool stalled = crio::test::eventually([&] { return stdfs::exists(proxy_dir / "stalled"); }, std::chrono::seconds(20));
  daemon.stop(SIGKILL);
  puller.join();
  REQUIRE(stalled);

  // The next start discards what the pull left half-done; the same pull then works
  // from the real registry.
  point_at_registry(daemon, registry.host());
  daemon.start();
  ImageClient images(daemon);
  CHECK(images.list().empty());
  CHECK(files_containing(daemon.dir() / "storage", "staging/").empty());
  REQUIRE(images.pull(registry.host() + "/test/multi:v1").ok());
  CHECK(images.list().size() == 1);
}

TEST_CASE("policy.json decides: reject, per-namespace policies and cosign signatures", "[daemon][image][trust]") {
  TestRegistry registry;
  auto pushed = nlohmann::json::parse(registry.push_test_images("/nonexistent", "multi,docker"));
  Daemon daemon("", false);
  point_at_registry(daemon, registry.host());
  const std::string multi = registry.host() + "/test/multi";
  const std::string docker = registry.host() + "/test/docker";

  // A key pair made here; the manifest of test/multi:v1 is signed with it.
  const std::string key = daemon.dir() / "cosign.key";
  const std::string pub = daemon.dir() / "cosign.pub";
  REQUIRE(crio::test::run_command({"/usr/bin/openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
                                   key}).exit_code == 0);
  REQUIRE(crio::test::run_command({"/usr/bin/openssl", "ec", "-in", key, "-pubout", "-out", pub}).exit_code == 0);
  auto signed_tag = crio::test::run_command({"/usr/bin/python3", std::string(CRIO_SOURCE_DIR) + "/tests/daemon/cosign_sign.py",
                                             registry.host(), "test/multi",
                                             pushed["test/multi:v1"]["manifest_digest"], multi + ":v1", key});
  INFO(signed_tag.err);
  REQUIRE(signed_tag.exit_code == 0);
  crio::test::write_file(daemon.dir() / "registries.d/test.yaml",
                         "docker:\n  " + registry.host() + ":\n    use-sigstore-attachments: true\n");
  nlohmann::json sigstore = {{"type", "sigstoreSigned"}, {"keyPath", pub}};
  crio::test::write_file(daemon.dir() / "policy.json",
                         nlohmann::json{{"default", {{{"type", "insecureAcceptAnything"}}}},
                                        {"transports", {{"docker", {{multi, {sigstore}}, {docker, {sigstore}}}}}}}
                             .dump());
  // Pulls for pods in namespace "locked" obey a stricter policy.
  crio::test::write_file(daemon.dir() / "policies/locked.json", R"({"default": [{"type": "reject"}]})");
  daemon.start();
  ImageClient images(daemon);

  grpc::Status locked = images.pull(multi + ":v1", nullptr, "locked");
  CHECK(locked.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK_THAT(locked.error_message(), Catch::Contains("reject"));
  CHECK(images.list().empty());

  grpc::Status good = images.pull(multi + ":v1", nullptr, "open");
  INFO(good.error_message());
  CHECK(good.ok());

  // Same requirement, no signature: refused, and nothing of it is stored.
  grpc::Status unsigned_pull = images.pull(docker + ":v1");
  CHECK(unsigned_pull.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK_THAT(unsigned_pull.error_message(), Catch::Contains("sigstoreSigned"));
  CHECK(images.list().size() == 1);

  // A key that did not sign it: refused.
  const std::string other = daemon.dir() / "other.key";
  REQUIRE(crio::test::run_command({"/usr/bin/openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
                                   other}).exit_code == 0);
  REQUIRE(crio::test::run_command({"/usr/bin/openssl", "ec", "-in", other, "-pubout", "-out", pub}).exit_code == 0);
  REQUIRE(images.remove(multi + ":v1").ok());
  CHECK(images.pull(multi + ":v1").error_code() == grpc::StatusCode::PERMISSION_DENIED);
}

TEST_CASE("An ambiguous short name is refused in enforcing mode and tried in order in permissive mode",
          "[daemon][image]") {
  TestRegistry registry;
  registry.push_test_images("/nonexistent", "multi");
  const std::string nowhere = "127.0.0.1:" + std::to_string(crio::test::free_port());
  Daemon daemon("", false);
  crio::test::write_file(daemon.dir() / "registries.conf",
                         "unqualified-search-registries = [\"" + nowhere + "\", \"" + registry.host() + "\"]\n"
                         "[[registry]]\nlocation = \"" + registry.host() + "\"\ninsecure = true\n"
                         "[[registry]]\nlocation = \"" + nowhere + "\"\ninsecure = true\n");
  daemon.start();
  grpc::Status ambiguous = ImageClient(daemon).pull("test/multi:v1");
  CHECK(ambiguous.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(ambiguous.error_message(), Catch::Contains("ambiguous"));
  CHECK_THAT(ambiguous.error_message(), Catch::Contains(nowhere + "/test/multi:v1"));

  daemon.stop(SIGTERM);
  crio::test::write_file(daemon.dir() / "crio.conf.d/10-permissive.conf", "[crio.image]\nshort_name_mode = \"permissive\"\n");
  daemon.start();
  ImageClient images(daemon);
  grpc::Status found = images.pull("test/multi:v1");
  INFO(found.error_message());
  CHECK(found.ok());
  CHECK(images.status(registry.host() + "/test/multi:v1").has_image());
}

TEST_CASE("crio.image.registries (--registry) is searched for short names before registries.conf's list",
          "[daemon][image]") {
  TestRegistry registry;
  registry.push_test_images("/nonexistent", "multi");
  // registries.conf knows the registry but lists no search registries: short names
  // resolve only through crio's own list.
  Daemon daemon("", false);
  crio::test::write_file(daemon.dir() / "registries.conf",
                         "[[registry]]\nlocation = \"" + registry.host() + "\"\ninsecure = true\n");
  daemon.start();
  CHECK_FALSE(ImageClient(daemon).pull("test/multi:v1").ok());
  daemon.stop(SIGTERM);

  crio::test::write_file(daemon.dir() / "crio.conf.d/10-registry.conf",
                         "[crio.image]\nregistries = [\"" + registry.host() + "\"]\n");
  daemon.start();
  ImageClient images(daemon);
  grpc::Status found = images.pull("test/multi:v1");
  INFO(found.error_message());
  CHECK(found.ok());
  CHECK(images.status(registry.host() + "/test/multi:v1").has_image());
}

TEST_CASE("pinned_images marks images by exact name and by glob", "[daemon][image]") {
  TestRegistry registry;
  registry.push_test_images("/nonexistent", "multi,docker,zstd");
  Daemon daemon("", false);
  point_at_registry(daemon, registry.host());
  crio::test::write_file(daemon.dir() / "crio.conf.d/10-pinned.conf",
                         "[crio.image]\npinned_images = [\"" + registry.host() + "/test/multi:v1\", \"" +
                             registry.host() + "/test/dock*\"]\n");
  daemon.start();
  ImageClient images(daemon);
  for (const char* name : {"/test/multi:v1", "/test/docker:v1", "/test/zstd:v1"}) {
    REQUIRE(images.pull(registry.host() + name).ok());
  }
  CHECK(images.status(registry.host() + "/test/multi:v1").image().pinned());
  CHECK(images.status(registry.host() + "/test/docker:v1").image().pinned());
  CHECK_FALSE(images.status(registry.host() + "/test/zstd:v1").image().pinned());
  size_t pinned = 0;
  for (const auto& image : images.list()) pinned += image.pinned() ? 1 : 0;
  CHECK(pinned == 2);
}
