// Pulling images skopeo encrypted (ocicrypt's JWE protocol, RSA-OAEP and ECDH-ES+A256KW
// recipients; gzip, zstd and uncompressed layers) from Debian's docker-registry into a
// real store, with the keys openssl made here; and skopeo's pgp protocol refused.

#include <crio/core/storage/store.hpp>
#include <crio/image/decrypt.hpp>
#include <crio/image/pull.hpp>

#include "process.hpp"
#include "registry_fixture.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using crio::Code;
using namespace crio::image;
using crio::test::run_command;
using crio::test::TempDir;
using crio::test::TestRegistry;
namespace stdfs = std::filesystem;

namespace {

struct Store {
  TempDir dir{"crio-decrypt"};
  std::unique_ptr<crio::storage::Store> store;

  Store() {
    crio::storage::StoreOptions o;
    o.root = dir / "root";
    o.runroot = dir / "runroot";
    o.driver = "vfs";
    auto s = crio::storage::Store::open(o);
    REQUIRE(s.ok());
    store = std::move(*s);
  }

  std::string rootfs(const std::string& image_id) {
    auto c = store->create_container("c-" + image_id.substr(0, 12), image_id);
    REQUIRE(c.ok());
    auto path = store->mount("c-" + image_id.substr(0, 12));
    REQUIRE(path.ok());
    return *path;
  }

  bool empty() const { return store->images().empty() && store->layers().empty(); }
};

void must_run(const std::vector<std::string>& argv) {
  auto r = run_command(argv);
  INFO(argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << ": " << r.out << r.err);
  REQUIRE(r.exit_code == 0);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The key pairs of the test: RSA (PKCS#8 PEM), a second RSA key that decrypts nothing,
// EC P-256 (SEC 1 PEM and PKCS#8 DER).
struct Keys {
  TempDir dir{"crio-decrypt-keys"};
  Keys() {
    stdfs::create_directories(dir / "priv/rsa");
    stdfs::create_directories(dir / "priv/other");
    stdfs::create_directories(dir / "priv/ec");
    stdfs::create_directories(dir / "priv/ec-der");
    stdfs::create_directories(dir / "pub");
    must_run({"/usr/bin/openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
              dir / "priv/rsa/key.pem"});
    must_run({"/usr/bin/openssl", "pkey", "-in", dir / "priv/rsa/key.pem", "-pubout", "-out", dir / "pub/rsa.pem"});
    must_run({"/usr/bin/openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
              dir / "priv/other/key.pem"});
    must_run({"/usr/bin/openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", dir / "priv/ec/key.pem"});
    must_run({"/usr/bin/openssl", "pkey", "-in", dir / "priv/ec/key.pem", "-pubout", "-out", dir / "pub/ec.pem"});
    must_run({"/usr/bin/openssl", "pkcs8", "-topk8", "-nocrypt", "-in", dir / "priv/ec/key.pem", "-outform", "DER",
              "-out", dir / "priv/ec-der/key.der"});
  }
  std::shared_ptr<const DecryptionKeys> load(const std::string& sub) const {
    auto k = DecryptionKeys::load_dir(sub.empty() ? dir / "priv" : dir / ("priv/" + sub));
    INFO(k.status().to_string());
    REQUIRE(k.ok());
    return std::make_shared<const DecryptionKeys>(std::move(*k));
  }
};

PullerOptions options_for(const std::string& host) {
  auto c = parse_registries_config("[[registry]]\nlocation = \"" + host + "\"\ninsecure = true\n", "test");
  REQUIRE(c.ok());
  PullerOptions o;
  o.registries = *c;
  o.client.retry_backoff = std::chrono::milliseconds(20);
  return o;
}

// skopeo copy SRC to DST in the registry, encrypting with `extra` arguments.
void skopeo_copy(const TestRegistry& reg, const std::string& src, const std::string& dst,
                 std::vector<std::string> extra) {
  std::vector<std::string> argv = {"/usr/bin/skopeo",        "--insecure-policy",       "copy",
                                   "--src-tls-verify=false", "--dest-tls-verify=false", "--quiet"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("docker://" + reg.host() + "/" + src);
  argv.push_back("docker://" + reg.host() + "/" + dst);
  must_run(argv);
}

std::string hex_of(const std::string& digest) { return digest.substr(digest.find(':') + 1); }

}  // namespace

TEST_CASE("decrypt pull: images skopeo encrypted with JWE are decrypted into the store", "[decrypt][integration]") {
  TestRegistry reg;
  TempDir escape;
  auto images = nlohmann::json::parse(reg.push_test_images(escape.path(), "multi"));
  const auto& info = images["test/multi:v1"];
  Keys keys;
  const std::string rsa_pub = "jwe:" + (keys.dir / "pub/rsa.pem");
  const std::string ec_pub = "jwe:" + (keys.dir / "pub/ec.pem");
  skopeo_copy(reg, "test/multi:v1", "enc/multi:rsa", {"--encryption-key", rsa_pub});
  skopeo_copy(reg, "test/multi:v1", "enc/multi:ec", {"--encryption-key", ec_pub});
  skopeo_copy(reg, "test/multi:v1", "enc/multi:both", {"--encryption-key", ec_pub, "--encryption-key", rsa_pub});
  skopeo_copy(reg, "test/multi:v1", "enc/multi:zstd",
              {"--dest-compress-format", "zstd", "--encryption-key", rsa_pub});
  skopeo_copy(reg, "test/multi:v1", "enc/multi:last", {"--encryption-key", rsa_pub, "--encrypt-layer", "-1"});

  struct Case {
    std::string tag, keys;
  };
  for (const Case& c : std::vector<Case>{{"rsa", "rsa"},
                                         {"ec", "ec"},
                                         {"ec", "ec-der"},
                                         {"both", "rsa"},
                                         {"both", "ec"},
                                         {"zstd", "rsa"},
                                         {"last", "rsa"},
                                         {"rsa", ""}}) {
    {
      INFO(c.tag << " with the keys of " << (c.keys.empty() ? "the whole key directory" : c.keys));
      Store fx;
      Puller puller(*fx.store, options_for(reg.host()));
      PullOptions opts;
      opts.decryption_keys = keys.load(c.keys);
      // A directory of several keys: those that decrypt nothing are passed over.
      if (c.keys.empty()) CHECK(opts.decryption_keys->private_key_count() == 4);
      std::string name = reg.host() + "/enc/multi:" + c.tag;
      auto r = puller.pull(name, opts);
      INFO(r.status().to_string());
      REQUIRE(r.ok());
      // Decrypted, the layers are those of the plain image: same config, same diff IDs.
      CHECK(r->image_id == hex_of(info["config_digest"]));
      CHECK(r->layers_pulled == 3);
      std::string root = fx.rootfs(r->image_id);
      CHECK(slurp(root + "/bin/busybox") == slurp("/bin/busybox"));
      CHECK(slurp(root + "/data/file2") == "second layer\n");
      CHECK(slurp(root + "/hello.txt") == "hello from an uncompressed layer\n");
      CHECK_FALSE(stdfs::exists(root + "/etc/gone"));

      // The layers are in the store now, but a pull without a key that decrypts them
      // still fails, as CRI-O never takes encrypted layers from the store.
      PullOptions other;
      other.decryption_keys = keys.load("other");
      auto again = puller.pull(name, other);
      CHECK(again.status().code() == Code::kUnknown);
    }
  }

  {
    // No key, a wrong key, no keys given: the pull fails naming the image and leaves nothing.
    Store fx;
    Puller puller(*fx.store, options_for(reg.host()));
    std::string name = reg.host() + "/enc/multi:rsa";

    PullOptions wrong;
    wrong.decryption_keys = keys.load("other");
    auto r = puller.pull(name, wrong);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kUnknown);
    CHECK_THAT(r.status().message(), Catch::Contains(name) && Catch::Contains("encrypted") &&
                                         Catch::Contains("none of the 1 private keys of decryption_keys_path " +
                                                         (keys.dir / "priv/other")) &&
                                         Catch::Contains("decrypts it"));
    CHECK(fx.empty());

    PullOptions none;
    none.decryption_keys = keys.load("missing");
    r = puller.pull(name, none);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kUnknown);
    CHECK_THAT(r.status().message(), Catch::Contains(name) && Catch::Contains("no private key to decrypt it"));
    CHECK(fx.empty());

    r = puller.pull(name);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kUnknown);
    CHECK_THAT(r.status().message(), Catch::Contains(name) && Catch::Contains("no private key to decrypt it"));
    CHECK(fx.empty());

    // An EC key cannot decrypt an RSA recipient, nor an RSA key an EC one.
    PullOptions ec;
    ec.decryption_keys = keys.load("ec");
    CHECK(puller.pull(name, ec).status().code() == Code::kUnknown);
    PullOptions rsa;
    rsa.decryption_keys = keys.load("rsa");
    CHECK(puller.pull(reg.host() + "/enc/multi:ec", rsa).status().code() == Code::kUnknown);
    CHECK(fx.empty());
    CHECK(puller.metrics().pull_failures == 5);
  }
}

TEST_CASE("decrypt pull: a layer skopeo wrapped only for pgp is refused naming the protocol", "[decrypt][integration]") {
  TestRegistry reg;
  TempDir escape;
  reg.push_test_images(escape.path(), "multi");
  Keys keys;
  TempDir gnupg{"crio-decrypt-gnupg"};
  const std::string home = "GNUPGHOME=" + gnupg.path();
  auto gen = run_command({"/usr/bin/gpg", "--batch", "--passphrase", "", "--quick-gen-key", "crio-test@example.com",
                          "default", "default", "never"},
                         {home});
  INFO(gen.err);
  REQUIRE(gen.exit_code == 0);
  auto copy = run_command({"/usr/bin/skopeo", "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false",
                           "--dest-tls-verify=false", "--encryption-key", "pgp:crio-test@example.com",
                           "docker://" + reg.host() + "/test/multi:v1", "docker://" + reg.host() + "/enc/multi:pgp"},
                          {home});
  run_command({"/usr/bin/gpgconf", "--kill", "gpg-agent"}, {home});
  INFO(copy.err);
  REQUIRE(copy.exit_code == 0);

  Store fx;
  Puller puller(*fx.store, options_for(reg.host()));
  PullOptions opts;
  opts.decryption_keys = keys.load("");
  auto r = puller.pull(reg.host() + "/enc/multi:pgp", opts);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kUnimplemented);
  CHECK_THAT(r.status().message(), Catch::Contains(reg.host() + "/enc/multi:pgp") &&
                                       Catch::Contains("only with the pgp protocol"));
  CHECK(fx.empty());
}
