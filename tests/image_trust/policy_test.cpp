#include <crio/image/policy.hpp>

#include "trust_fixtures.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

using crio::Code;
using namespace crio::image;
using crio::test::image_ref;
using crio::test::kDigestA;
using crio::test::kDigestB;
using crio::test::MemorySignatureSource;
using crio::test::policy;

namespace {

const std::string kAccept = R"([{"type":"insecureAcceptAnything"}])";
const std::string kReject = R"([{"type":"reject"}])";

}  // namespace

TEST_CASE("policy: every requirement type and signedIdentity kind parses", "[policy]") {
  auto p = policy(R"({
    "default": [{"type": "reject"}],
    "transports": {
      "docker": {
        "": [{"type": "insecureAcceptAnything"}],
        "a.example.com": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k.gpg"}],
        "b.example.com": [{"type": "signedBy", "keyType": "GPGKeys", "keyPaths": ["/k1", "/k2"],
                           "signedIdentity": {"type": "matchExact"}}],
        "c.example.com": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": "aGVsbG8=",
                           "signedIdentity": {"type": "exactReference", "dockerReference": "busybox:1"}}],
        "d.example.com": [{"type": "sigstoreSigned", "keyPath": "/cosign.pub",
                           "signedIdentity": {"type": "matchRepository"}}],
        "e.example.com": [{"type": "sigstoreSigned", "keyData": "aGk=",
                           "signedIdentity": {"type": "exactRepository", "dockerRepository": "quay.io/x/y"}}],
        "f.example.com": [{"type": "sigstoreSigned", "fulcio": {"caPath": "/ca", "oidcIssuer": "x", "subjectEmail": "y"},
                           "rekorPublicKeyPath": "/rekor.pub"}],
        "g.example.com/mirror": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k",
                           "signedIdentity": {"type": "remapIdentity", "prefix": "g.example.com/mirror",
                                              "signedPrefix": "vendor.example.com"}}],
        "h.example.com": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k",
                           "signedIdentity": {"type": "matchRepoDigestOrExact"}}],
        "i.example.com": [{"type": "sigstoreSigned", "keyDatas": ["aGk=", "aGVsbG8="]},
                          {"type": "sigstoreSigned", "keyPaths": ["/a.pub", "/b.pub"]}]
      },
      "docker-daemon": {"": [{"type": "insecureAcceptAnything"}]}
    }
  })");
  REQUIRE(p.default_requirements.size() == 1);
  CHECK(p.default_requirements[0].type == RequirementType::kReject);
  CHECK(p.docker.size() == 10);
  CHECK(p.docker.at("")[0].type == RequirementType::kInsecureAcceptAnything);

  const auto& a = p.docker.at("a.example.com")[0];
  CHECK(a.type == RequirementType::kSignedBy);
  CHECK(a.key_type == "GPGKeys");
  CHECK(a.key_paths == std::vector<std::string>{"/k.gpg"});
  CHECK(a.signed_identity.rule == IdentityRule::kMatchRepoDigestOrExact);  // the default

  const auto& b = p.docker.at("b.example.com")[0];
  CHECK(b.key_paths == std::vector<std::string>{"/k1", "/k2"});
  CHECK(b.signed_identity.rule == IdentityRule::kMatchExact);

  const auto& c = p.docker.at("c.example.com")[0];
  CHECK(c.key_data == std::vector<std::string>{"hello"});
  CHECK(c.signed_identity.rule == IdentityRule::kExactReference);
  CHECK(c.signed_identity.reference == "docker.io/library/busybox:1");  // normalised

  const auto& d = p.docker.at("d.example.com")[0];
  CHECK(d.type == RequirementType::kSigstoreSigned);
  CHECK(d.key_paths == std::vector<std::string>{"/cosign.pub"});
  CHECK(d.signed_identity.rule == IdentityRule::kMatchRepository);

  const auto& e = p.docker.at("e.example.com")[0];
  CHECK(e.key_data == std::vector<std::string>{"hi"});
  CHECK(e.signed_identity.rule == IdentityRule::kExactRepository);
  CHECK(e.signed_identity.repository == "quay.io/x/y");

  const auto& f = p.docker.at("f.example.com")[0];
  CHECK(f.unsupported == std::vector<std::string>{"fulcio", "rekorPublicKeyPath"});

  const auto& g = p.docker.at("g.example.com/mirror")[0];
  CHECK(g.signed_identity.rule == IdentityRule::kRemapIdentity);
  CHECK(g.signed_identity.prefix == "g.example.com/mirror");
  CHECK(g.signed_identity.signed_prefix == "vendor.example.com");

  CHECK(p.docker.at("h.example.com")[0].signed_identity.rule == IdentityRule::kMatchRepoDigestOrExact);
  CHECK(p.docker.at("i.example.com")[0].key_data == std::vector<std::string>{"hi", "hello"});
  CHECK(p.docker.at("i.example.com")[1].key_paths == std::vector<std::string>{"/a.pub", "/b.pub"});
}

TEST_CASE("policy: malformed policies are InvalidArgument naming the file and the problem", "[policy]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", "invalid JSON"},
      {"[]", "top level: must be a JSON object"},
      {R"({"transports": {}})", "has no \"default\""},
      {R"({"default": []})", "default: the requirement list is empty"},
      {R"({"default": {}})", "default: must be an array of requirements"},
      {R"({"default": [{"type":"reject"}], "default": [{"type":"reject"}]})",
       "member \"default\" appears more than once"},
      {R"({"default": [{"type":"reject"}], "extra": 1})", "unknown member \"extra\""},
      {R"({"default": [{"type":"acceptEverything"}]})", "unknown requirement type \"acceptEverything\""},
      {R"({"default": [{}]})", "default[0]: requirement has no \"type\""},
      {R"({"default": ["reject"]})", "default[0]: a requirement must be a JSON object"},
      {R"({"default": [{"type":"reject","keyPath":"/x"}]})", "default[0]: unknown member \"keyPath\""},
      {R"({"default": [{"type":"reject","type":"insecureAcceptAnything"}]})", "member \"type\" appears more than once"},
      {R"({"default": [{"type":"signedBy","keyPath":"/k"}]})", "signedBy needs \"keyType\""},
      {R"({"default": [{"type":"signedBy","keyType":"PGP","keyPath":"/k"}]})", "unknown keyType \"PGP\""},
      {R"({"default": [{"type":"signedBy","keyType":"GPGKeys"}]})",
       "signedBy needs exactly one of keyPath, keyPaths, keyData"},
      {R"({"default": [{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","keyData":"aGk="}]})",
       "signedBy has both \"keyPath\" and \"keyData\""},
      {R"({"default": [{"type":"signedBy","keyType":"GPGKeys","keyData":"not base64!"}]})", "invalid base64"},
      {R"({"default": [{"type":"signedBy","keyType":"GPGKeys","keyPaths":[]}]})",
       "\"keyPaths\" must be a non-empty array"},
      {R"({"default": [{"type":"signedBy","keyType":"GPGKeys","keyPath":""}]})", "\"keyPath\" must not be empty"},
      {R"({"default": [{"type":"signedBy","keyType":"GPGKeys","keyPath":7}]})", "\"keyPath\" must be a string"},
      {R"({"default": [{"type":"sigstoreSigned"}]})", "sigstoreSigned needs exactly one of keyPath"},
      {R"({"default": [{"type":"sigstoreSigned","keyPath":"/k","fulcio":{}}]})", "sigstoreSigned has both"},
      {R"({"default": [{"type":"sigstoreSigned","keyPath":"/k","signedIdentity":{"type":"matchAnything"}}]})",
       "default[0].signedIdentity: unknown signedIdentity type \"matchAnything\""},
      {R"({"default": [{"type":"sigstoreSigned","keyPath":"/k","signedIdentity":"matchExact"}]})",
       "signedIdentity: must be a JSON object"},
      {R"({"default": [{"type":"sigstoreSigned","keyPath":"/k","signedIdentity":{"type":"exactReference"}}]})",
       "exactReference needs \"dockerReference\""},
      {R"({"default": [{"type":"sigstoreSigned","keyPath":"/k","signedIdentity":{"type":"exactReference","dockerReference":"quay.io/x"}}]})",
       "must carry a tag or a digest"},
      {R"({"default": [{"type":"sigstoreSigned","keyPath":"/k","signedIdentity":{"type":"exactRepository","dockerRepository":"quay.io/Upper/x"}}]})",
       "\"dockerRepository\": invalid image reference"},
      {R"({"default": [{"type":"sigstoreSigned","keyPath":"/k","signedIdentity":{"type":"matchExact","prefix":"x"}}]})",
       "unknown member \"prefix\""},
      {R"({"default": [{"type":"sigstoreSigned","keyPath":"/k","signedIdentity":{"type":"remapIdentity","prefix":"quay.io/x:tag","signedPrefix":"y.io"}}]})",
       "without a tag or digest"},
      {R"({"default": [{"type":"sigstoreSigned","keyPath":"/k","signedIdentity":{"type":"remapIdentity","prefix":"quay.io"}}]})",
       "remapIdentity needs \"prefix\" and \"signedPrefix\""},
      {R"({"default": [{"type":"sigstoreSigned","keyPath":"/k","signedIdentity":{"type":"remapIdentity","prefix":"library/busybox","signedPrefix":"y.io"}}]})",
       "is not a fully expanded host[:port]"},
      {R"({"default": [{"type":"reject"}], "transports": []})", "transports: must be a JSON object"},
      {R"({"default": [{"type":"reject"}], "transports": {"docker": []}})",
       "transports.docker: must be a JSON object of scopes"},
      {R"({"default": [{"type":"reject"}], "transports": {"docker": {"quay.io": {}}}})",
       "transports.docker[\"quay.io\"]: must be an array of requirements"},
      {R"({"default": [{"type":"reject"}], "transports": {"docker": {"example*.*.com": [{"type":"reject"}]}}})",
       "'*' is only allowed as a leading \"*.\""},
      {R"({"default": [{"type":"reject"}], "transports": {"docker": {"*.example.com:5000": [{"type":"reject"}]}}})",
       "a wildcard must be \"*.\" followed by a domain name without a port"},
      {R"({"default": [{"type":"reject"}], "transports": {"atomic": {"x": [{"type":"bogus"}]}}})",
       "transports.atomic[\"x\"][0]: unknown requirement type \"bogus\""},
  };
  for (const auto& [text, want] : cases) {
    auto p = parse_policy(text, "/etc/containers/test-policy.json");
    INFO(text);
    REQUIRE_FALSE(p.ok());
    INFO(p.status().message());
    CHECK(p.status().code() == Code::kInvalidArgument);
    CHECK(p.status().message().find("policy /etc/containers/test-policy.json") != std::string::npos);
    CHECK(p.status().message().find(want) != std::string::npos);
  }
}

TEST_CASE("policy: scope candidates run from the image to its host, then wildcards", "[policy]") {
  CHECK(docker_scope_candidates(image_ref("registry.example.com:5000/ns/sub/repo:v1")) ==
        std::vector<std::string>{"registry.example.com:5000/ns/sub/repo:v1", "registry.example.com:5000/ns/sub/repo",
                                 "registry.example.com:5000/ns/sub", "registry.example.com:5000/ns",
                                 "registry.example.com:5000", "*.example.com", "*.com"});
  CHECK(docker_scope_candidates(image_ref("busybox@" + kDigestA)) ==
        std::vector<std::string>{"docker.io/library/busybox@" + kDigestA, "docker.io/library/busybox",
                                 "docker.io/library", "docker.io", "*.io"});
  CHECK(docker_scope_candidates(image_ref("localhost:5000/x")) ==
        std::vector<std::string>{"localhost:5000/x:latest", "localhost:5000/x", "localhost:5000"});
}

TEST_CASE("policy: the most specific docker scope wins", "[policy]") {
  auto p = policy(R"({
    "default": [{"type": "reject"}],
    "transports": {"docker": {
      "": [{"type": "reject"}],
      "docker.io": [{"type": "reject"}],
      "docker.io/library": [{"type": "insecureAcceptAnything"}],
      "docker.io/library/busybox": [{"type": "reject"}],
      "docker.io/library/busybox:stable": [{"type": "insecureAcceptAnything"}],
      "*.example.com": [{"type": "insecureAcceptAnything"}],
      "*.b.example.com": [{"type": "reject"}],
      "quay.io/team": [{"type": "insecureAcceptAnything"}]
    }}})");
  auto scope_of = [&](const std::string& image) { return find_policy_requirements(p, image_ref(image)).scope; };
  CHECK(scope_of("busybox:stable") == "scope \"docker.io/library/busybox:stable\"");
  CHECK(scope_of("busybox:latest") == "scope \"docker.io/library/busybox\"");
  CHECK(scope_of("alpine") == "scope \"docker.io/library\"");
  CHECK(scope_of("someone/tool") == "scope \"docker.io\"");
  CHECK(scope_of("quay.io/team/app:1") == "scope \"quay.io/team\"");
  CHECK(scope_of("quay.io/teamster/app:1") ==
        "the default scope \"\" of transport \"docker\"");  // no partial word match
  CHECK(scope_of("a.example.com/x") == "scope \"*.example.com\"");
  CHECK(scope_of("c.b.example.com:5000/x") == "scope \"*.b.example.com\"");  // the port is ignored for wildcards
  CHECK(scope_of("b.example.com/x") == "scope \"*.example.com\"");           // *.b.example.com is subdomains only
  CHECK(scope_of("example.com/x") == "the default scope \"\" of transport \"docker\"");

  MemorySignatureSource sigs;
  CHECK(evaluate_policy(p, image_ref("busybox:stable"), kDigestA, sigs).ok());
  CHECK(evaluate_policy(p, image_ref("busybox:latest"), kDigestA, sigs).code() == Code::kPermissionDenied);
  CHECK(evaluate_policy(p, image_ref("alpine:3"), kDigestA, sigs).ok());
  CHECK(evaluate_policy(p, image_ref("a.example.com/x"), kDigestA, sigs).ok());
  CHECK(evaluate_policy(p, image_ref("c.b.example.com/x"), kDigestA, sigs).code() == Code::kPermissionDenied);
}

TEST_CASE("policy: without a matching docker scope the global default applies", "[policy]") {
  auto p = policy(R"({"default": [{"type": "insecureAcceptAnything"}],
                      "transports": {"docker": {"quay.io": [{"type": "reject"}]},
                                     "docker-daemon": {"": [{"type": "reject"}]},
                                     "atomic": {"quay.io": [{"type": "reject"}]}}})");
  MemorySignatureSource sigs;
  CHECK(find_policy_requirements(p, image_ref("busybox")).scope == "the global \"default\"");
  CHECK(evaluate_policy(p, image_ref("busybox"), kDigestA, sigs).ok());
  CHECK(evaluate_policy(p, image_ref("quay.io/x/y"), kDigestA, sigs).code() == Code::kPermissionDenied);
}

TEST_CASE("policy: insecureAcceptAnything accepts without fetching signatures", "[policy]") {
  auto p = policy(R"({"default": [{"type": "insecureAcceptAnything"}]})");
  MemorySignatureSource sigs;
  sigs.fail = crio::Status(Code::kUnavailable, "must not be asked");
  CHECK(evaluate_policy(p, image_ref("busybox"), kDigestA, sigs).ok());
  CHECK(sigs.simple_calls == 0);
  CHECK(sigs.sigstore_calls == 0);
}

TEST_CASE("policy: reject refuses and names the requirement, scope and policy file", "[policy]") {
  auto p = policy(R"({"default": [{"type": "insecureAcceptAnything"}],
                      "transports": {"docker": {"docker.io": [{"type": "reject"}]}}})");
  MemorySignatureSource sigs;
  auto s = evaluate_policy(p, image_ref("busybox"), kDigestA, sigs);
  CHECK(s.code() == Code::kPermissionDenied);
  CHECK(s.message() ==
        "image docker.io/library/busybox:latest rejected by policy /etc/containers/policy.json: "
        "requirement \"reject\" for scope \"docker.io\"");

  auto global = policy(R"({"default": [{"type": "reject"}]})", "/tmp/p.json");
  s = evaluate_policy(global, image_ref("quay.io/a/b:1"), kDigestA, sigs);
  CHECK(s.message() ==
        "image quay.io/a/b:1 rejected by policy /tmp/p.json: requirement \"reject\" for the global "
        "\"default\"");
}

TEST_CASE("policy: every requirement of the scope must accept", "[policy]") {
  auto p = policy(R"({"default": [{"type": "insecureAcceptAnything"}, {"type": "reject"}]})");
  MemorySignatureSource sigs;
  CHECK(evaluate_policy(p, image_ref("busybox"), kDigestA, sigs).code() == Code::kPermissionDenied);
}

TEST_CASE("policy: load_policy reads the file, and a missing one is FailedPrecondition", "[policy]") {
  crio::test::TempDir dir("crio-policy");
  crio::test::write_file(dir / "policy.json", R"({"default": [{"type": "reject"}]})");
  auto p = load_policy(dir / "policy.json");
  REQUIRE(p.ok());
  CHECK(p->source == dir / "policy.json");

  auto missing = load_policy(dir / "nope.json");
  CHECK(missing.status().code() == Code::kFailedPrecondition);
  CHECK(missing.status().message().find(dir / "nope.json") != std::string::npos);

  crio::test::write_file(dir / "broken.json", R"({"default": [{"type": "reject"}],})");
  auto broken = load_policy(dir / "broken.json");
  CHECK(broken.status().code() == Code::kInvalidArgument);
  CHECK(broken.status().message().find(dir / "broken.json") != std::string::npos);
}

TEST_CASE("policy: a namespace's own policy file is used when it exists", "[policy]") {
  crio::test::TempDir dir("crio-policy");
  crio::test::write_file(dir / "main.json", R"({"default": [{"type": "insecureAcceptAnything"}]})");
  crio::test::write_file(dir / "policies/secure.json", R"({"default": [{"type": "reject"}]})");
  const std::string policies = dir / "policies";

  CHECK(*policy_path_for_namespace(dir / "main.json", policies, "secure") == policies + "/secure.json");
  CHECK(*policy_path_for_namespace(dir / "main.json", policies, "other") == dir / "main.json");
  CHECK(*policy_path_for_namespace(dir / "main.json", policies, "") == dir / "main.json");
  CHECK(*policy_path_for_namespace("", policies, "other") == std::string(kDefaultPolicyPath));
  CHECK(*policy_path_for_namespace("", "", "secure") == std::string(kDefaultPolicyPath));
  auto bad = policy_path_for_namespace(dir / "main.json", policies, "../secure");
  CHECK(bad.status().code() == Code::kInvalidArgument);

  MemorySignatureSource sigs;
  auto secure = load_policy_for_namespace(dir / "main.json", policies, "secure");
  REQUIRE(secure.ok());
  CHECK(evaluate_policy(*secure, image_ref("busybox"), kDigestA, sigs).code() == Code::kPermissionDenied);
  auto other = load_policy_for_namespace(dir / "main.json", policies, "other");
  REQUIRE(other.ok());
  CHECK(evaluate_policy(*other, image_ref("busybox"), kDigestA, sigs).ok());
}

TEST_CASE("identity: each signedIdentity rule accepts and refuses the right claims", "[identity]") {
  struct Case {
    SignedIdentity rule;
    std::string image;
    std::string claim;
    bool ok;
  };
  auto rule = [](IdentityRule r) {
    SignedIdentity id;
    id.rule = r;
    return id;
  };
  SignedIdentity exact = rule(IdentityRule::kMatchExact);
  SignedIdentity digest_or_exact = rule(IdentityRule::kMatchRepoDigestOrExact);
  SignedIdentity repository = rule(IdentityRule::kMatchRepository);
  SignedIdentity exact_ref = rule(IdentityRule::kExactReference);
  exact_ref.reference = "quay.io/vendor/app:1.0";
  SignedIdentity exact_repo = rule(IdentityRule::kExactRepository);
  exact_repo.repository = "quay.io/vendor/app";
  SignedIdentity remap = rule(IdentityRule::kRemapIdentity);
  remap.prefix = "mirror.local:5000/vendor";
  remap.signed_prefix = "quay.io/vendor";
  const std::string at_digest = "@" + kDigestA;
  const std::vector<Case> cases = {
      {exact, "busybox:1", "docker.io/library/busybox:1", true},
      {exact, "busybox:1", "busybox:1", true},  // the claim is normalised too
      {exact, "busybox:1", "docker.io/library/busybox:2", false},
      {exact, "busybox" + at_digest, "docker.io/library/busybox:1", false},
      {exact, "busybox" + at_digest, "docker.io/library/busybox" + at_digest, true},
      {digest_or_exact, "busybox:1", "docker.io/library/busybox:1", true},
      {digest_or_exact, "busybox:1", "docker.io/library/busybox:2", false},
      {digest_or_exact, "busybox:1", "docker.io/library/busybox", false},
      {digest_or_exact, "busybox" + at_digest, "docker.io/library/busybox:anything", true},
      {digest_or_exact, "busybox" + at_digest, "docker.io/library/alpine:1", false},
      {repository, "busybox:latest", "docker.io/library/busybox:1.36", true},
      {repository, "busybox:latest", "docker.io/library/busybox", true},
      {repository, "busybox:latest", "docker.io/other/busybox:latest", false},
      {exact_ref, "mirror.local/app:1.0", "quay.io/vendor/app:1.0", true},
      {exact_ref, "mirror.local/app:1.0", "quay.io/vendor/app:1.1", false},
      {exact_repo, "mirror.local/app:9", "quay.io/vendor/app:1.1", true},
      {exact_repo, "mirror.local/app:9", "quay.io/vendor/tool:1.1", false},
      {remap, "mirror.local:5000/vendor/app:1", "quay.io/vendor/app:1", true},
      {remap, "mirror.local:5000/vendor/app:1", "quay.io/vendor/app:2", false},
      {remap, "mirror.local:5000/vendor/app:1", "mirror.local:5000/vendor/app:1", false},
      {remap, "mirror.local:5000/vendor/app" + at_digest, "quay.io/vendor/app:7", true},
      {remap, "mirror.local:5000/vendorx/app:1", "mirror.local:5000/vendorx/app:1", true},  // not under the prefix
      {digest_or_exact, "busybox:1", "Not A Reference", false},
  };
  for (const auto& c : cases) {
    INFO(identity_rule_name(c.rule.rule) << " image=" << c.image << " claim=" << c.claim);
    auto s = match_signed_identity(c.rule, image_ref(c.image), c.claim);
    INFO(s.message());
    CHECK(s.ok() == c.ok);
    if (!c.ok) CHECK(s.code() == Code::kPermissionDenied);
  }
  auto s = match_signed_identity(exact, image_ref("busybox:1"), "docker.io/library/busybox:2");
  CHECK(s.message() ==
        "signature claims identity \"docker.io/library/busybox:2\", but signedIdentity matchExact "
        "requires \"docker.io/library/busybox:1\"");
}

TEST_CASE("identity: the signed manifest digest must be the image's", "[identity]") {
  const std::string manifest = R"({"schemaVersion":2})";
  const std::string sha256 = "sha256:" + std::string(64, '0');
  CHECK(match_manifest_digest(kDigestA, kDigestA).ok());
  auto s = match_manifest_digest(kDigestB, kDigestA);
  CHECK(s.code() == Code::kPermissionDenied);
  CHECK(s.message() == "signature is for manifest " + kDigestB + ", not " + kDigestA);
  CHECK(match_manifest_digest("sha256:xyz", kDigestA).code() == Code::kPermissionDenied);
  // With the bytes, the signature's own algorithm is used.
  auto d = crio::test::run_command({"/bin/sh", "-c", "printf '%s' '" + manifest + "' | sha512sum"});
  std::string sha512 = "sha512:" + d.out.substr(0, 128);
  CHECK(match_manifest_digest(sha512, "sha256:whatever", manifest).ok());
  CHECK(match_manifest_digest(sha512, "sha256:whatever", manifest + " ").code() == Code::kPermissionDenied);
}

TEST_CASE("payload: parsing is strict about the critical section", "[payload]") {
  using crio::test::make_payload;
  const std::string type = "atomic container signature";
  auto good = parse_signature_payload(make_payload(type, "quay.io/a/b:1", kDigestA), type);
  REQUIRE(good.ok());
  CHECK(good->docker_reference == "quay.io/a/b:1");
  CHECK(good->manifest_digest == kDigestA);

  const std::vector<std::pair<std::string, std::string>> bad = {
      {make_payload("cosign container image signature", "quay.io/a/b:1", kDigestA),
       "type is \"cosign container image signature\", expected \"atomic container signature\""},
      {make_payload(type, "quay.io/a/b:1", kDigestA, "null"), "\"optional\" is not a JSON object"},
      {make_payload(type, "quay.io/a/b:1", "sha256:short"), "must have 64 hex characters"},
      {R"({"critical":{"type":"atomic container signature","image":{"docker-manifest-digest":")" + kDigestA +
           R"("},"identity":{"docker-reference":"a.io/b:1"},"extra":1},"optional":{}})",
       "\"critical\" has unknown member \"extra\""},
      {R"({"critical":{"type":"atomic container signature","image":{"docker-manifest-digest":")" + kDigestA +
           R"(","size":1},"identity":{"docker-reference":"a.io/b:1"}},"optional":{}})",
       "\"critical.image\" has unknown member \"size\""},
      {R"({"critical":{"type":"atomic container signature","image":{"docker-manifest-digest":")" + kDigestA +
           R"("},"identity":{"docker-reference":"a.io/b:1","docker-reference":"a.io/c:1"}},"optional":{}})",
       "member \"docker-reference\" appears more than once"},
      {R"({"critical":{"type":"atomic container signature","image":{"docker-manifest-digest":")" + kDigestA +
           R"("},"identity":{"docker-reference":7}},"optional":{}})",
       "critical.identity.docker-reference is not a string"},
      {R"({"critical":{"type":"atomic container signature","identity":{"docker-reference":"a.io/b:1"}},"optional":{}})",
       "\"critical\" has no \"image\""},
      {R"({"critical":{}})", "the top level has no \"optional\""},
      {"not json", "invalid JSON"},
  };
  for (const auto& [text, want] : bad) {
    auto p = parse_signature_payload(text, type);
    INFO(text);
    REQUIRE_FALSE(p.ok());
    INFO(p.status().message());
    CHECK(p.status().code() == Code::kPermissionDenied);
    CHECK(p.status().message().find(want) != std::string::npos);
  }
  // sigstore payloads may say "optional": null
  CHECK(parse_signature_payload(make_payload("cosign container image signature", "a.io/b", kDigestA, "null"),
                                "cosign container image signature")
            .ok());
}

TEST_CASE("base64: decoding accepts padding and whitespace, refuses garbage", "[payload]") {
  CHECK(*base64_decode("aGVsbG8=", "x") == "hello");
  CHECK(*base64_decode("aGVsbG8", "x") == "hello");
  CHECK(*base64_decode("aGVs\nbG8=", "x") == "hello");
  CHECK(*base64_decode("", "x") == "");
  CHECK_FALSE(base64_decode("aGVsbG8=x", "x").ok());
  CHECK_FALSE(base64_decode("a", "x").ok());
  CHECK_FALSE(base64_decode("aGVsbG8*", "x").ok());
}
