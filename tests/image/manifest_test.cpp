#include <crio/image/manifest.hpp>

#include <catch2/catch.hpp>

#include <string>

using crio::Code;
using namespace crio::image;

namespace {

std::string hex(char c) { return std::string(64, c); }
std::string dg(char c) { return "sha256:" + hex(c); }

std::string entry(const std::string& mt, char d, const std::string& platform) {
  return R"({"mediaType":")" + mt + R"(","digest":")" + dg(d) + R"(","size":100,"platform":)" + platform + "}";
}

std::string index_json(const std::string& mt, const std::string& entries) {
  return R"({"schemaVersion":2,"mediaType":")" + mt + R"(","manifests":[)" + entries + "]}";
}

std::string image_json(const std::string& mt, const std::string& config_mt, const std::string& layers) {
  return R"({"schemaVersion":2,"mediaType":")" + mt + R"(","config":{"mediaType":")" + config_mt +
         R"(","digest":")" + dg('c') + R"(","size":10},"layers":[)" + layers + "]}";
}

std::string layer(const std::string& mt, char d) {
  return R"({"mediaType":")" + mt + R"(","digest":")" + dg(d) + R"(","size":5})";
}

}  // namespace

TEST_CASE("manifest: OCI index and platform selection", "[manifest]") {
  std::string body = index_json(std::string(media_type::kOciIndex),
                                entry(std::string(media_type::kOciManifest), 'a', R"({"os":"linux","architecture":"arm64","variant":"v8"})") + "," +
                                entry(std::string(media_type::kOciManifest), 'b', R"({"os":"linux","architecture":"amd64"})") + "," +
                                entry(std::string(media_type::kOciManifest), 'c', R"({"os":"linux","architecture":"arm","variant":"v6"})") + "," +
                                entry(std::string(media_type::kOciManifest), 'd', R"({"os":"linux","architecture":"arm","variant":"v7"})") + "," +
                                entry(std::string(media_type::kOciManifest), 'e', R"({"os":"unknown","architecture":"unknown"})"));
  auto p = parse_manifest(body, "", "image x");
  REQUIRE(p.ok());
  REQUIRE(p->is_index);
  CHECK(p->index.manifests.size() == 5);

  CHECK(select_platform(p->index, host_platform(), "image x")->digest == dg('b'));
  CHECK(select_platform(p->index, *parse_platform("linux/amd64"), "x")->digest == dg('b'));
  CHECK(select_platform(p->index, *parse_platform("linux/x86_64"), "x")->digest == dg('b'));
  CHECK(select_platform(p->index, *parse_platform("linux/arm64"), "x")->digest == dg('a'));  // v8 == ""
  CHECK(select_platform(p->index, *parse_platform("linux/aarch64/v8"), "x")->digest == dg('a'));
  CHECK(select_platform(p->index, *parse_platform("linux/arm/v7"), "x")->digest == dg('d'));
  CHECK(select_platform(p->index, *parse_platform("linux/arm/v6"), "x")->digest == dg('c'));

  auto none = select_platform(p->index, *parse_platform("linux/s390x"), "image x");
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().code() == Code::kNotFound);
  CHECK(none.status().message().find("linux/s390x") != std::string::npos);
  CHECK(none.status().message().find("linux/arm64/v8") != std::string::npos);
  CHECK(none.status().message().find("unknown") == std::string::npos);

  CHECK(host_platform().to_string() == "linux/amd64");
  CHECK_FALSE(parse_platform("linux").ok());
}

TEST_CASE("manifest: Docker manifest list prefers the exact variant", "[manifest]") {
  std::string mt(media_type::kDockerManifest);
  std::string body = index_json(std::string(media_type::kDockerManifestList),
                                entry(mt, 'a', R"({"os":"linux","architecture":"arm"})") + "," +
                                entry(mt, 'b', R"({"os":"linux","architecture":"arm","variant":"v7"})"));
  auto p = parse_manifest(body, "", "x");
  REQUIRE(p.ok());
  CHECK(select_platform(p->index, *parse_platform("linux/arm/v7"), "x")->digest == dg('b'));
  CHECK(select_platform(p->index, *parse_platform("linux/arm/v5"), "x")->digest == dg('a'));
}

TEST_CASE("manifest: OCI and Docker image manifests with layer compression", "[manifest]") {
  auto oci = parse_manifest(image_json(std::string(media_type::kOciManifest), std::string(media_type::kOciConfig),
                                       layer(std::string(media_type::kOciLayerGzip), '1') + "," +
                                       layer(std::string(media_type::kOciLayerZstd), '2') + "," +
                                       layer(std::string(media_type::kOciLayer), '3')),
                            "", "x");
  REQUIRE(oci.ok());
  REQUIRE_FALSE(oci->is_index);
  CHECK(oci->manifest.config.digest == dg('c'));
  REQUIRE(oci->manifest.layers.size() == 3);
  CHECK(oci->manifest.compression ==
        std::vector<Compression>{Compression::kGzip, Compression::kZstd, Compression::kNone});

  auto docker = parse_manifest(image_json(std::string(media_type::kDockerManifest), std::string(media_type::kDockerConfig),
                                          layer(std::string(media_type::kDockerLayerGzip), '1')),
                               "", "x");
  REQUIRE(docker.ok());
  CHECK(docker->manifest.media_type == media_type::kDockerManifest);
  CHECK(docker->manifest.compression == std::vector<Compression>{Compression::kGzip});

  // No mediaType in the body: the Content-Type decides.
  std::string bare = R"({"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                     dg('c') + R"(","size":1},"layers":[]})";
  auto byct = parse_manifest(bare, media_type::kOciManifest, "x");
  REQUIRE(byct.ok());
  CHECK(byct->manifest.layers.empty());
}

TEST_CASE("manifest: rejected manifests say why", "[manifest]") {
  auto msg = [](const std::string& body, std::string_view ct = "") {
    auto r = parse_manifest(body, ct, "image q");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK(r.status().message().rfind("image q", 0) == 0);
    return r.status().message();
  };
  CHECK(msg(R"({"schemaVersion":1,"name":"x","fsLayers":[]})").find("schema 1") != std::string::npos);
  CHECK(msg(R"({"schemaVersion":2,"layers":[]})", media_type::kDockerSchema1Signed).find("schema 1") != std::string::npos);
  CHECK(msg(R"({"schemaVersion":2,"mediaType":"application/vnd.example+json"})").find("unsupported manifest media type") != std::string::npos);
  CHECK(msg("not json").find("not a JSON object") != std::string::npos);
  CHECK(msg(image_json(std::string(media_type::kOciManifest), "application/vnd.cncf.helm.config.v1+json", "")).find("not a container image config") != std::string::npos);
  CHECK(msg(image_json(std::string(media_type::kDockerManifest), std::string(media_type::kDockerConfig),
                       layer(std::string(media_type::kDockerForeignLayer), '1'))).find("foreign") != std::string::npos);
  CHECK(msg(image_json(std::string(media_type::kOciManifest), std::string(media_type::kOciConfig),
                       layer("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", '1'))).find("layer 0: foreign") != std::string::npos);
  CHECK(msg(image_json(std::string(media_type::kOciManifest), std::string(media_type::kOciConfig),
                       layer("application/vnd.oci.image.layer.v1.tar+bzip2+encrypted", '1'))).find("unsupported layer media type") != std::string::npos);
  // ocicrypt's encrypted layers parse, with the compression they have once decrypted.
  auto encrypted = parse_manifest(image_json(std::string(media_type::kOciManifest), std::string(media_type::kOciConfig),
                                             layer("application/vnd.oci.image.layer.v1.tar+gzip+encrypted", '1')),
                                  "", "image q");
  REQUIRE(encrypted.ok());
  CHECK(encrypted->manifest.compression == std::vector<Compression>{Compression::kGzip});
  CHECK(msg(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:abc","size":1},"layers":[]})").find("64 hex") != std::string::npos);
  CHECK(msg(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" + dg('c') + R"("},"layers":[]})").find("size") != std::string::npos);
}

TEST_CASE("manifest: image config into plain structs", "[manifest]") {
  std::string body = R"({
    "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
    "config": {
      "User": "1000:1000", "Env": ["PATH=/bin", "A=b"], "Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hi"],
      "WorkingDir": "/work", "ExposedPorts": {"80/tcp": {}, "53/udp": {}}, "Volumes": {"/data": {}},
      "Labels": {"k": "v"}, "StopSignal": "SIGTERM"
    },
    "rootfs": {"type": "layers", "diff_ids": [")" + dg('1') + R"(", ")" + dg('2') + R"("]},
    "history": [{"created_by": "ADD x"}, {"created_by": "ENV y", "empty_layer": true}, {"created_by": "RUN z"}]
  })";
  auto c = parse_image_config(body, "config of x");
  INFO(c.status().to_string());
  REQUIRE(c.ok());
  CHECK(c->architecture == "amd64");
  CHECK(c->user == "1000:1000");
  CHECK(c->env == std::vector<std::string>{"PATH=/bin", "A=b"});
  CHECK(c->entrypoint == std::vector<std::string>{"/bin/sh", "-c"});
  CHECK(c->cmd == std::vector<std::string>{"echo hi"});
  CHECK(c->working_dir == "/work");
  CHECK(c->exposed_ports == std::vector<std::string>{"53/udp", "80/tcp"});
  CHECK(c->volumes == std::vector<std::string>{"/data"});
  CHECK(c->labels.at("k") == "v");
  CHECK(c->stop_signal == "SIGTERM");
  CHECK(c->diff_ids == std::vector<std::string>{dg('1'), dg('2')});
  REQUIRE(c->history.size() == 3);
  CHECK(c->history[1].empty_layer);

  auto minimal = parse_image_config(R"({"rootfs":{"type":"layers","diff_ids":[]},"config":null})", "x");
  REQUIRE(minimal.ok());
  CHECK(minimal->cmd.empty());

  CHECK(parse_image_config(R"({"rootfs":{"type":"other","diff_ids":[]}})", "x").status().message().find("not \"layers\"") != std::string::npos);
  CHECK(parse_image_config(R"({"config":{}})", "x").status().message().find("rootfs") != std::string::npos);
  CHECK(parse_image_config(R"({"rootfs":{"type":"layers","diff_ids":["sha256:zz"]}})", "x").status().message().find("diff_ids[0]") != std::string::npos);
  CHECK(parse_image_config(R"({"config":{"Env":"A=b"},"rootfs":{"type":"layers"}})", "x").status().message().find("\"Env\" must be an array") != std::string::npos);
}
