// The registry client against Debian's docker-registry (plain HTTP, and TLS +
// htpasswd) and against fake_registry.py for tokens, redirects, retries, stalls.

#include <crio/core/digest.hpp>
#include <crio/image/manifest.hpp>
#include <crio/image/registry_client.hpp>

#include "registry_fixture.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string>

using crio::Code;
using namespace crio::image;
using crio::test::TempDir;
using crio::test::TestRegistry;

namespace {

RepositoryTarget target(const std::string& host, const std::string& repo, bool insecure) {
  RepositoryTarget t;
  t.registry = host;
  t.repository = repo;
  t.insecure = insecure;
  t.display = host + "/" + repo;
  return t;
}

size_t file_size(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  return in ? static_cast<size_t>(in.tellg()) : 0;
}

AuthConfig user_pass(const std::string& u, const std::string& p) {
  AuthConfig a;
  a.username = u;
  a.password = p;
  return a;
}

struct Blob {
  std::string data;
  crio::Status status;
};

Blob fetch_blob(RegistryClient& c, const RepositoryTarget& t, const std::string& digest) {
  Blob b;
  b.status = c.get_blob(t, digest, [&](const char* p, size_t n) {
    b.data.append(p, n);
    return crio::ok_status();
  });
  return b;
}

// The fake registry: a child process on two free ports, its request log in a file.
class FakeRegistry {
 public:
  FakeRegistry() {
    port_ = crio::test::free_port();
    blob_port_ = crio::test::free_port();
    log_ = dir_ / "requests.log";
    crio::test::write_file(log_, "");
    child_ = crio::test::Child({"/usr/bin/python3", std::string(CRIO_IMAGE_TEST_DIR) + "/fake_registry.py",
                                std::to_string(port_), std::to_string(blob_port_), log_},
                               dir_ / "out.log");
    REQUIRE(crio::test::eventually([&] { return file_size(dir_ / "out.log") > 70; }, std::chrono::seconds(10)));
    digest_ = crio::test::read_file(dir_ / "out.log").substr(0, 71);
  }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& digest() const { return digest_; }
  std::vector<nlohmann::json> requests() const {
    std::vector<nlohmann::json> out;
    std::istringstream in(crio::test::read_file(log_));
    std::string line;
    while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
    return out;
  }
  int blob_port() const { return blob_port_; }

 private:
  TempDir dir_{"crio-fake-registry"};
  int port_ = 0, blob_port_ = 0;
  std::string log_, digest_;
  crio::test::Child child_;
};

}  // namespace

TEST_CASE("registry client: manifests and blobs from a plain HTTP registry", "[registry][integration]") {
  TestRegistry reg;
  TempDir escape;
  auto images = nlohmann::json::parse(reg.push_test_images(escape.path(), "multi,docker,index"));
  RegistryClient client;

  auto multi = target(reg.host(), "test/multi", true);
  REQUIRE(client.ping(multi).ok());

  auto m = client.get_manifest(multi, "v1");
  INFO(m.status().to_string());
  REQUIRE(m.ok());
  CHECK(m->media_type == media_type::kOciManifest);
  CHECK(m->digest == images["test/multi:v1"]["manifest_digest"]);

  // By digest: verified against the body.
  auto by_digest = client.get_manifest(multi, m->digest);
  REQUIRE(by_digest.ok());
  CHECK(by_digest->body == m->body);

  // The Accept header keeps a Docker schema 2 manifest as it is (no schema 1 conversion).
  auto docker = client.get_manifest(target(reg.host(), "test/docker", true), "v1");
  REQUIRE(docker.ok());
  CHECK(docker->media_type == media_type::kDockerManifest);
  CHECK(docker->digest == images["test/docker:v1"]["manifest_digest"]);
  auto list = client.get_manifest(target(reg.host(), "test/index", true), "docker");
  REQUIRE(list.ok());
  CHECK(list->media_type == media_type::kDockerManifestList);
  auto index = client.get_manifest(target(reg.host(), "test/index", true), "oci");
  REQUIRE(index.ok());
  CHECK(index->media_type == media_type::kOciIndex);

  // A blob streams through the sink with the right bytes.
  std::string layer = images["test/multi:v1"]["layers"][0];
  Blob b = fetch_blob(client, multi, layer);
  REQUIRE(b.status.ok());
  CHECK(crio::core::sha256_of(b.data) == layer);
  CHECK(b.data.size() > 500000);  // busybox inside

  // A failing sink stops the transfer with its own status.
  auto s = client.get_blob(multi, layer, [](const char*, size_t) { return crio::Status(Code::kAborted, "stop here"); });
  CHECK(s.code() == Code::kAborted);
  CHECK(s.message() == "stop here");
}

TEST_CASE("registry client: errors name the image and map to codes", "[registry][integration]") {
  TestRegistry reg;
  TempDir escape;
  reg.push_test_images(escape.path(), "multi");
  RegistryClient client;
  auto multi = target(reg.host(), "test/multi", true);

  auto missing = client.get_manifest(multi, "nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == Code::kNotFound);
  CHECK(missing.status().message().find(reg.host() + "/test/multi") != std::string::npos);
  CHECK(missing.status().message().find("manifest nope") != std::string::npos);

  auto no_repo = client.get_manifest(target(reg.host(), "no/such", true), "v1");
  CHECK(no_repo.status().code() == Code::kNotFound);

  std::string zero = "sha256:" + std::string(64, '0');
  CHECK(fetch_blob(client, multi, zero).status.code() == Code::kNotFound);
  CHECK(client.get_manifest(multi, "sha256:abc").status().code() == Code::kInvalidArgument);

  // Without "insecure" a plain HTTP registry is not used.
  RegistryClient strict;
  auto p = strict.ping(target(reg.host(), "test/multi", false));
  CHECK(p.code() == Code::kUnavailable);
  CHECK(p.message().find(reg.host()) != std::string::npos);

  // Nobody listening.
  auto dead = client.ping(target("127.0.0.1:" + std::to_string(crio::test::free_port()), "x", true));
  CHECK(dead.code() == Code::kUnavailable);
}

TEST_CASE("registry client: TLS with certs.d and htpasswd basic auth", "[registry][integration]") {
  TestRegistry reg({.tls = true, .user = "tester", .password = "s3cret"});
  TempDir escape;
  auto images = nlohmann::json::parse(reg.push_test_images(escape.path(), "multi"));
  std::string digest = images["test/multi:v1"]["manifest_digest"];

  RegistryClientOptions opts;
  opts.certs_dir = reg.certs_dir();

  // System CAs only: the registry's certificate is not trusted.
  RegistryClient no_ca;
  auto untrusted = no_ca.ping(target(reg.host(), "test/multi", false));
  CHECK(untrusted.code() == Code::kUnavailable);

  RegistryClient client(opts);
  auto t = target(reg.host(), "test/multi", false);
  REQUIRE(client.ping(t).ok());  // a 401 answer still says "a registry is here"

  auto anon = client.get_manifest(t, "v1");
  CHECK(anon.status().code() == Code::kUnauthenticated);
  CHECK(anon.status().message().find(reg.host() + "/test/multi") != std::string::npos);

  auto wrong = t;
  wrong.auth = user_pass("tester", "wrong");
  CHECK(client.get_manifest(wrong, "v1").status().code() == Code::kUnauthenticated);

  auto right = t;
  right.auth = user_pass("tester", "s3cret");
  auto m = client.get_manifest(right, "v1");
  INFO(m.status().to_string());
  REQUIRE(m.ok());
  CHECK(m->digest == digest);
  std::string layer = images["test/multi:v1"]["layers"][1];
  Blob b = fetch_blob(client, right, layer);
  REQUIRE(b.status.ok());
  CHECK(crio::core::sha256_of(b.data) == layer);

  // The base64 "auth" form.
  auto b64 = t;
  b64.auth = AuthConfig();
  b64.auth->auth = base64_encode("tester:s3cret");
  CHECK(client.get_manifest(b64, "v1").ok());

  // Credentials from an auth.json.
  TempDir dir;
  crio::test::write_file(dir / "auth.json", R"({"auths": {")" + reg.host() + R"(": {"auth": ")" +
                                                base64_encode("tester:s3cret") + R"("}}})");
  RegistryClientOptions with_file = opts;
  with_file.auth_file = dir / "auth.json";
  RegistryClient file_client(with_file);
  CHECK(file_client.get_manifest(t, "v1").ok());

  // An insecure target skips verification even without the CA.
  RegistryClient insecure_client;
  auto it = right;
  it.insecure = true;
  CHECK(insecure_client.get_manifest(it, "v1").ok());
}

TEST_CASE("registry client: bearer tokens, and no credentials across a redirect", "[registry][integration]") {
  FakeRegistry fake;
  RegistryClient client;
  auto t = target(fake.host(), "secure/app", true);

  auto m = client.get_manifest(t, "v1");
  INFO(m.status().to_string());
  REQUIRE(m.ok());
  CHECK(m->media_type == media_type::kOciManifest);

  // Anonymous token is not enough for the private tag.
  auto priv = client.get_manifest(t, "private");
  CHECK(priv.status().code() == Code::kPermissionDenied);
  CHECK(priv.status().message().find("denied") != std::string::npos);

  auto creds = t;
  creds.auth = user_pass("user", "pass");
  CHECK(client.get_manifest(creds, "private").ok());

  auto bad = t;
  bad.auth = user_pass("user", "nope");
  CHECK(client.get_manifest(bad, "private").status().code() == Code::kUnauthenticated);

  auto refresh = t;
  refresh.auth = AuthConfig();
  refresh.auth->identity_token = "refresh-ok";
  CHECK(client.get_manifest(refresh, "private").ok());
  auto registry_token = t;
  registry_token.auth = AuthConfig();
  registry_token.auth->registry_token = "full";
  CHECK(client.get_manifest(registry_token, "private").ok());

  // The blob is a redirect to another origin: followed, without the token.
  Blob b = fetch_blob(client, creds, fake.digest());
  REQUIRE(b.status.ok());
  CHECK(crio::core::sha256_of(b.data) == fake.digest());
  bool saw_blob_host = false;
  for (const auto& r : fake.requests()) {
    if (r["port"] == fake.blob_port()) {
      saw_blob_host = true;
      CHECK(r["authorization"] == "");
    }
    if (std::string(r["path"]).rfind("/v2/secure/app/blobs/", 0) == 0) CHECK(r["authorization"] == "Bearer full");
  }
  CHECK(saw_blob_host);
  // Tokens are cached per scope: one token request per credential identity.
  int token_requests = 0;
  for (const auto& r : fake.requests())
    if (std::string(r["path"]).rfind("/token", 0) == 0) ++token_requests;
  CHECK(token_requests <= 6);
}

TEST_CASE("registry client: retries, resumption and stalls", "[registry][integration]") {
  FakeRegistry fake;
  RegistryClientOptions opts;
  opts.retry_backoff = std::chrono::milliseconds(10);
  // Generous for the retry and resume checks: a loaded CI machine may keep the fake
  // registry quiet for a second. The stall check below uses a short one.
  opts.stall_timeout = std::chrono::seconds(15);
  RegistryClient client(opts);

  // Two 503s, then the blob.
  Blob flaky = fetch_blob(client, target(fake.host(), "flaky/app", true), fake.digest());
  INFO(flaky.status.to_string());
  REQUIRE(flaky.status.ok());
  CHECK(crio::core::sha256_of(flaky.data) == fake.digest());

  // The connection breaks half-way: resumed with a Range request, no byte twice.
  Blob broken = fetch_blob(client, target(fake.host(), "broken/app", true), fake.digest());
  INFO(broken.status.to_string());
  REQUIRE(broken.status.ok());
  CHECK(broken.data.size() == 102400);
  CHECK(crio::core::sha256_of(broken.data) == fake.digest());
  bool ranged = false;
  for (const auto& r : fake.requests())
    if (std::string(r["range"]) == "bytes=51200-") ranged = true;
  CHECK(ranged);

  // No progress for the stall timeout: DeadlineExceeded.
  RegistryClientOptions short_stall = opts;
  short_stall.stall_timeout = std::chrono::seconds(1);
  RegistryClient stalling(short_stall);
  auto start = std::chrono::steady_clock::now();
  Blob stalled = fetch_blob(stalling, target(fake.host(), "stall/app", true), fake.digest());
  CHECK(stalled.status.code() == Code::kDeadlineExceeded);
  CHECK(stalled.status.message().find("stall/app") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));

  // Retries give up with Unavailable.
  RegistryClientOptions once = opts;
  once.max_retries = 0;
  RegistryClient impatient(once);
  FakeRegistry fresh;
  Blob gave_up = fetch_blob(impatient, target(fresh.host(), "flaky/app", true), fresh.digest());
  CHECK(gave_up.status.code() == Code::kUnavailable);
  CHECK(gave_up.status.message().find("503") != std::string::npos);
}

TEST_CASE("registry client: client certificate from certs.d", "[registry][integration]") {
  TestRegistry reg({.tls = true, .user = "", .password = "", .client_certs = true});
  TempDir escape;
  auto images = nlohmann::json::parse(reg.push_test_images(escape.path(), "multi"));

  RegistryClientOptions without;
  without.certs_dir = reg.ca_only_certs_dir();
  without.max_retries = 0;
  RegistryClient refused(without);
  auto t = target(reg.host(), "test/multi", false);
  auto r = refused.get_manifest(t, "v1");
  CHECK(r.status().code() == Code::kUnavailable);

  RegistryClientOptions with;
  with.certs_dir = reg.certs_dir();
  RegistryClient client(with);
  auto m = client.get_manifest(t, "v1");
  INFO(m.status().to_string());
  REQUIRE(m.ok());
  CHECK(m->digest == images["test/multi:v1"]["manifest_digest"]);

  // A certificate without its key is a configuration error naming the file.
  TempDir broken;
  crio::test::write_file(broken / (reg.host() + "/ca.crt"), crio::test::read_file(reg.ca_file()));
  crio::test::write_file(broken / (reg.host() + "/lonely.cert"), "x");
  RegistryClientOptions bad;
  bad.certs_dir = broken.path();
  RegistryClient misconfigured(bad);
  auto p = misconfigured.ping(t);
  CHECK(p.code() == Code::kFailedPrecondition);
  CHECK(p.message().find("lonely.cert") != std::string::npos);
}
