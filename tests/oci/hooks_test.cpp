// OCI hooks (hooks.d): parsing, matching, directories and the set read once at
// start-up. Needs no root, runtime or daemon: it links crio::oci alone.

#include <crio/oci/hooks.hpp>

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

using crio::oci::HookDefinition;
using crio::oci::HookSet;
using crio::oci::HookTarget;

namespace {

std::string hook_json(const std::string& path, const std::string& when, const std::string& stages,
                      const std::string& args = "[]") {
  return R"({"version": "1.0.0", "hook": {"path": ")" + path + R"(", "args": )" + args + R"(, "timeout": 10},
             "when": )" +
         when + R"(, "stages": )" + stages + "}";
}

HookDefinition parse_ok(const std::string& json) {
  auto d = crio::oci::parse_hook("test.json", json);
  INFO(d.status().message());
  REQUIRE(d.ok());
  return *d;
}

std::string parse_error(const std::string& json) {
  auto d = crio::oci::parse_hook("test.json", json);
  REQUIRE_FALSE(d.ok());
  CHECK(d.status().code() == crio::Code::kInvalidArgument);
  return d.status().message();
}

}  // namespace

TEST_CASE("Hook conditions match annotations, commands, bind mounts and always", "[hooks]") {
  std::map<std::string, std::string> annotations = {{"io.example/trace", "on"}, {"other", "x"}};
  HookTarget target{&annotations, "/usr/bin/nginx", false};

  CHECK(hook_matches(parse_ok(hook_json("/bin/sh", R"({"always": true})", R"(["prestart"])")), target));
  CHECK_FALSE(hook_matches(
      parse_ok(hook_json("/bin/sh", R"({"always": false, "hasBindMounts": true})", R"(["prestart"])")), target));
  target.has_bind_mounts = true;
  CHECK(hook_matches(parse_ok(hook_json("/bin/sh", R"({"hasBindMounts": true})", R"(["prestart"])")), target));
  target.has_bind_mounts = false;

  // Both the key and the value regex must match the same annotation.
  auto by_annotation =
      parse_ok(hook_json("/bin/sh", R"({"annotations": {"^io\\.example/trace$": "^on$"}})", R"(["prestart"])"));
  CHECK(hook_matches(by_annotation, target));
  annotations["io.example/trace"] = "off";
  CHECK_FALSE(hook_matches(by_annotation, target));
  annotations["other"] = "on";  // value matches, but under another key
  CHECK_FALSE(hook_matches(by_annotation, target));

  auto by_command = parse_ok(hook_json("/bin/sh", R"({"commands": ["/nginx$", "^/bin/false$"]})", R"(["poststop"])"));
  CHECK(hook_matches(by_command, target));
  target.argv0 = "/usr/bin/nginx-debug";
  CHECK_FALSE(hook_matches(by_command, target));
  target.argv0 = "/bin/false";
  CHECK(hook_matches(by_command, target));
}

TEST_CASE("Matching hooks are put in every stage they name", "[hooks]") {
  std::map<std::string, std::string> annotations;
  HookTarget target{&annotations, "/bin/true", false};
  std::vector<HookDefinition> hooks = {
      parse_ok(hook_json("/bin/sh", R"({"always": true})",
                         R"(["prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                             "poststop"])",
                         R"(["sh", "-c", "true"])")),
      parse_ok(hook_json("/bin/true", R"({"commands": ["^/nothing$"]})", R"(["prestart"])"))};
  crio::oci::Hooks out;
  crio::oci::apply_hooks(hooks, target, out);
  for (const auto* stage : {&out.prestart, &out.create_runtime, &out.create_container, &out.start_container,
                            &out.poststart, &out.poststop}) {
    REQUIRE(stage->size() == 1);
    CHECK((*stage)[0].path == "/bin/sh");
    CHECK((*stage)[0].args == std::vector<std::string>{"sh", "-c", "true"});
    CHECK((*stage)[0].timeout == 10);
  }
}

TEST_CASE("Invalid hook files are refused with the reason", "[hooks]") {
  CHECK_THAT(parse_error("{"), Catch::Contains("test.json") && Catch::Contains("JSON"));
  CHECK_THAT(parse_error(R"({"version": "2.0.0"})"), Catch::Contains("version"));
  CHECK_THAT(parse_error(hook_json("relative/hook", R"({"always": true})", R"(["prestart"])")),
             Catch::Contains("not absolute"));
  CHECK_THAT(parse_error(hook_json("/nonexistent/hook", R"({"always": true})", R"(["prestart"])")),
             Catch::Contains("not a file"));
  CHECK_THAT(parse_error(hook_json("/bin/sh", R"({"always": true})", R"(["prestop"])")), Catch::Contains("prestop"));
  CHECK_THAT(parse_error(hook_json("/bin/sh", R"({"always": true})", "[]")), Catch::Contains("stages"));
  CHECK_THAT(parse_error(hook_json("/bin/sh", R"({})", R"(["prestart"])")), Catch::Contains("no condition"));
  CHECK_THAT(parse_error(hook_json("/bin/sh", R"({"commands": ["("]})", R"(["prestart"])")),
             Catch::Contains("regular expression"));
}

TEST_CASE("Hook directories: later ones win, missing and invalid files are skipped", "[hooks]") {
  crio::test::TempDir tmp;
  std::string a = tmp / "a", b = tmp / "b";
  crio::test::write_file(tmp / "a/10-same.json",
                         hook_json("/bin/sh", R"({"always": true})", R"(["prestart"])", R"(["first"])"));
  crio::test::write_file(tmp / "a/20-only-a.json",
                         hook_json("/bin/sh", R"({"always": true})", R"(["prestart"])", R"(["only-a"])"));
  crio::test::write_file(tmp / "b/10-same.json",
                         hook_json("/bin/sh", R"({"always": true})", R"(["prestart"])", R"(["second"])"));
  crio::test::write_file(tmp / "b/15-broken.json", "not json");
  crio::test::write_file(tmp / "b/30-readme.txt", "ignored");
  auto hooks = crio::oci::load_hooks({a, tmp / "missing", b});
  REQUIRE(hooks.size() == 2);
  CHECK(hooks[0].hook.args == std::vector<std::string>{"second"});
  CHECK(hooks[1].hook.args == std::vector<std::string>{"only-a"});
}

TEST_CASE("A hook set is read once and again only on reload", "[hooks]") {
  crio::test::TempDir tmp;
  std::string dir = tmp / "hooks.d";
  crio::test::write_file(tmp / "hooks.d/10-one.json", hook_json("/bin/sh", R"({"always": true})", R"(["prestart"])"));
  HookSet set({dir});
  CHECK(set.size() == 1);
  crio::test::write_file(tmp / "hooks.d/20-two.json", hook_json("/bin/true", R"({"always": true})", R"(["poststop"])"));
  std::map<std::string, std::string> annotations;
  HookTarget target{&annotations, "/bin/true", false};
  crio::oci::Hooks out;
  set.apply(target, out);
  CHECK(out.prestart.size() == 1);
  CHECK(out.poststop.empty());  // written after the set was read
  set.reload();
  CHECK(set.size() == 2);
  crio::oci::Hooks again;
  set.apply(target, again);
  CHECK(again.poststop.size() == 1);
}

TEST_CASE("Conditions of a 1.0.0 hook must all hold and a matching command decides", "[hooks]") {
  std::map<std::string, std::string> annotations = {{"trace", "on"}};
  HookTarget target{&annotations, "/bin/server", false};
  auto both = parse_ok(hook_json("/bin/sh", R"({"always": true, "hasBindMounts": true})", R"(["prestart"])"));
  CHECK_FALSE(hook_matches(both, target));
  target.has_bind_mounts = true;
  CHECK(hook_matches(both, target));
  auto annotated_command = parse_ok(
      hook_json("/bin/sh", R"({"annotations": {"^trace$": "^on$"}, "commands": ["server$"]})", R"(["prestart"])"));
  CHECK(hook_matches(annotated_command, target));
  target.argv0 = "/bin/client";
  CHECK_FALSE(hook_matches(annotated_command, target));
  target.argv0 = "/bin/server";
  annotations["trace"] = "off";
  CHECK_FALSE(hook_matches(annotated_command, target));
}

TEST_CASE("Legacy 0.1.0 hook files are read as CRI-O reads them", "[hooks]") {
  std::map<std::string, std::string> annotations = {{"io.example/debug", "yes"}};
  HookTarget target{&annotations, "/usr/bin/redis-server", false};
  // CRI-O's own test hook: no version, "cmd" and "stage".
  auto legacy = parse_ok(R"({"cmd": [".*"], "hook": "/bin/sh", "stage": ["prestart"]})");
  CHECK(legacy.any);
  CHECK(legacy.stages == std::vector<std::string>{"prestart"});
  CHECK(legacy.hook.args.empty());
  CHECK(hook_matches(legacy, target));

  auto with_args = parse_ok(R"({"version": "0.1.0", "hook": "/bin/sh", "arguments": ["-c", "true"],
                                "stages": ["poststop"], "annotations": ["^no$", "^yes$"], "hasbindmounts": true})");
  CHECK(with_args.hook.args == std::vector<std::string>{"/bin/sh", "-c", "true"});
  CHECK(hook_matches(with_args, target));  // any one condition: the annotation value
  annotations["io.example/debug"] = "maybe";
  CHECK_FALSE(hook_matches(with_args, target));
  target.has_bind_mounts = true;
  CHECK(hook_matches(with_args, target));

  CHECK_THAT(parse_error(R"({"hook": "/bin/sh", "stage": ["prestart"], "stages": ["poststop"]})"),
             Catch::Contains("both"));
  CHECK_THAT(parse_error(R"({"cmd": [".*"], "stage": ["prestart"]})"), Catch::Contains("hook"));
  CHECK_THAT(parse_error(R"({"hook": "/bin/sh", "cmd": [".*"]})"), Catch::Contains("stages"));
  CHECK_THAT(parse_error(R"({"version": "9.9.9", "hook": "/bin/sh"})"), Catch::Contains("9.9.9"));
}
