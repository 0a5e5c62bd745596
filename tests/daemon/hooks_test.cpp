// OCI hooks from hooks_dir and default_ulimits through a real daemon, registry and
// runtime, on runc and on crun (needs root, conmon, runc, crun, docker-registry and
// busybox-static, like container_test). The matcher on its own: tests/oci/hooks_test.cpp.

#include "container_fixture.hpp"

#include <crio/core/fs.hpp>
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <thread>

using crio::test::Daemon;
using crio::test::set_deadline;
using crio::test::TestRegistry;
namespace v1 = runtime::v1;
using crio::test::containers::Client;
using crio::test::containers::Crun;
using crio::test::containers::Env;
using crio::test::containers::PodGuard;
using crio::test::containers::Runc;

namespace {

std::string hook_json(const std::string& path, const std::string& when, const std::string& stages,
                      const std::string& args = "[]") {
  return R"({"version": "1.0.0", "hook": {"path": ")" + path + R"(", "args": )" + args + R"(, "timeout": 10},
             "when": )" + when + R"(, "stages": )" + stages + "}";
}

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) {
    if (l == line) return true;
  }
  return false;
}

std::string read_or_empty(const std::string& path) {
  auto r = crio::fs::read_file(path);
  return r.ok() ? *r : std::string();
}

}  // namespace

TEMPLATE_TEST_CASE("hooks_dir hooks run at prestart and poststop for the containers they match and default_ulimits apply",
                   "[daemon][hooks]", Runc, Crun) {
  const std::string handler = TestType::kHandler;
  std::string marker;
  Env env([&](const std::string& d) {
    marker = d + "/hooks.log";
    // The runtime passes the state on stdin; the hook must read it (crun gets SIGPIPE
    // otherwise) and takes the container id from it.
    std::string script = d + "/hook.sh";
    crio::test::write_file(script,
                           "#!/bin/sh\nstate=$(cat)\nid=$(echo \"$state\" | sed -n "
                           "'s/.*\"id\" *: *\"\\([0-9a-f]*\\)\".*/\\1/p')\necho \"$1 $id\" >> \"$2\"\n");
    ::chmod(script.c_str(), 0755);
    auto args = [&](const std::string& label) { return R"(["hook.sh", ")" + label + R"(", ")" + marker + R"("])"; };
    std::string a = d + "/hooks-a", b = d + "/hooks-b";
    crio::test::write_file(a + "/10-always-pre.json",
                           hook_json(script, R"({"always": true})", R"(["prestart"])", args("shadowed")));
    crio::test::write_file(b + "/10-always-pre.json",
                           hook_json(script, R"({"always": true})", R"(["prestart"])", args("always-prestart")));
    crio::test::write_file(b + "/11-always-post.json",
                           hook_json(script, R"({"always": true})", R"(["poststop"])", args("always-poststop")));
    crio::test::write_file(b + "/20-annotated.json",
                           hook_json(script, R"({"annotations": {"^hooks\\.test/mark$": "^yes$"}})",
                                     R"(["prestart"])", args("annotated")));
    crio::test::write_file(b + "/30-command.json",
                           hook_json(script, R"({"commands": ["busybox$"]})", R"(["prestart"])", args("command")));
    crio::test::write_file(b + "/40-invalid.json", "{\"version\": \"1.0.0\", \"hook\": ");
    crio::test::write_file(b + "/41-bad-stage.json",
                           hook_json(script, R"({"always": true})", R"(["whenever"])", args("stage-unknown")));
    return "[crio.runtime]\nhooks_dir = [\"" + a + "\", \"" + d + "/missing\", \"" + b +
           "\"]\ndefault_ulimits = [\"nofile=1000:1000\"]\n";
  });
  Client client(*env.daemon);
  PodGuard pod{client, client.run_pod("hooks-" + handler, handler)};

  auto marked_config = Client::config("marked", env.image, {"/bin/busybox", "sleep", "1000"});
  (*marked_config.mutable_annotations())["hooks.test/mark"] = "yes";
  auto plain_config = Client::config("plain", env.image, {"/bin/sh", "-c", "sleep 1000"});
  (*plain_config.mutable_annotations())["hooks.test/mark"] = "no";
  std::string marked = client.create_ok(pod.id, marked_config);
  std::string plain = client.create_ok(pod.id, plain_config);
  REQUIRE(client.start(marked).ok());
  REQUIRE(client.start(plain).ok());

  std::string log = read_or_empty(marker);
  INFO("hooks log:\n" << log);
  CHECK(has_line(log, "always-prestart " + marked));
  CHECK(has_line(log, "always-prestart " + plain));
  CHECK(has_line(log, "annotated " + marked));
  CHECK_FALSE(has_line(log, "annotated " + plain));
  CHECK(has_line(log, "command " + marked));
  CHECK_FALSE(has_line(log, "command " + plain));
  CHECK(log.find("shadowed") == std::string::npos);
  CHECK(log.find("stage-unknown") == std::string::npos);
  CHECK(log.find("always-poststop") == std::string::npos);

  std::string limits = client.exec_ok(plain, {"/bin/busybox", "cat", "/proc/1/limits"}).stdout();
  INFO(limits);
  auto line = limits.find("Max open files");
  REQUIRE(line != std::string::npos);
  std::istringstream fields(limits.substr(line + std::string("Max open files").size()));
  std::string soft, hard;
  fields >> soft >> hard;
  CHECK(soft == "1000");
  CHECK(hard == "1000");

  REQUIRE(client.stop(marked, 0).ok());
  REQUIRE(client.remove(marked).ok());
  std::string after;
  for (int i = 0; i < 50; ++i) {
    after = read_or_empty(marker);
    if (has_line(after, "always-poststop " + marked)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  INFO("hooks log after remove:\n" << after);
  CHECK(has_line(after, "always-poststop " + marked));
  CHECK_FALSE(has_line(after, "always-poststop " + plain));
}
