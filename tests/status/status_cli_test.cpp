// crio-status, run in-process (run_cli) and as the built binary, against a StatusApi
// served on a TempDir socket.

#include "process.hpp"
#include "test_server.hpp"

#include <crio-status/cli.hpp>
#include <crio/core/build_info.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstring>
#include <initializer_list>
#include <sstream>

using crio::test::FakeDaemon;
using crio::test::TestServer;
using nlohmann::json;

namespace {

struct CliResult {
  int code;
  std::string out;
  std::string err;
};

CliResult cli(std::initializer_list<std::string> args) {
  std::vector<std::string> argv{"crio-status"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<const char*> cargv;
  for (const auto& a : argv) cargv.push_back(a.c_str());
  cargv.push_back(nullptr);
  std::ostringstream out, err;
  int code = crio::status::run_cli(static_cast<int>(argv.size()), cargv.data(), out, err);
  return {code, out.str(), err.str()};
}

const std::string kInfoOutput =
    "cgroup driver: cgroupfs\n"
    "storage driver: overlay\n"
    "storage graph root: /var/lib/containers/storage\n"
    "storage image: \n"
    "default GID mappings (format <container>:<host>:<size>):\n"
    "  0:0:4294967295\n"
    "  1:100000:65536\n"
    "default UID mappings (format <container>:<host>:<size>):\n"
    "  0:0:4294967295\n";

}  // namespace

TEST_CASE("crio-status info prints the daemon facts line by line") {
  TestServer server(crio::test::fake_handlers(std::make_shared<FakeDaemon>()));
  for (auto r : {cli({"--socket", server.path(), "info"}), cli({"-s", server.path(), "i"}),
                 cli({"--socket=" + server.path(), "info"}), cli({"info", "--socket", server.path()})}) {
    CHECK(r.err == "");
    CHECK(r.code == 0);
    CHECK(r.out == kInfoOutput);
  }
}

TEST_CASE("crio-status config prints the TOML") {
  TestServer server(crio::test::fake_handlers(std::make_shared<FakeDaemon>()));
  auto r = cli({"--socket", server.path(), "config"});
  CHECK(r.code == 0);
  CHECK(r.out == crio::test::kSampleToml);
  CHECK(r.err == "");
}

TEST_CASE("crio-status containers --id prints the container as CRI-O does") {
  TestServer server(crio::test::fake_handlers(std::make_shared<FakeDaemon>()));
  auto r = cli({"--socket", server.path(), "containers", "--id", "c1"});
  CHECK(r.code == 0);
  CHECK(r.err == "");
  CHECK(r.out ==
        "name: k8s_app_c1\n"
        "pid: 42\n"
        "image: quay.io/x/app:1\n"
        "image ref: quay.io/x/app@sha256:ab\n"
        "created: 1700000000000000000\n"
        "labels:\n"
        "  tier: web\n"
        "annotations:\n"
        "  a: 1\n"
        "  b: 2\n"
        "CRI-O annotations:\n"
        "log path: /var/log/pods/c1.log\n"
        "graph root: /var/lib/crio/overlay/c1/merged\n"
        "sandbox: s1\n"
        "ips: 10.88.0.2, fd00::2\n");

  // The aliases and an ID that needs escaping in the URL.
  auto alias = cli({"-s", server.path(), "container", "-i", "a b"});
  CHECK(alias.code == 0);
  CHECK(alias.out.rfind("name: k8s_app_a b\n", 0) == 0);
  auto eq = cli({"-s", server.path(), "cs", "--id=c1"});
  CHECK(eq.code == 0);
  CHECK(eq.out == r.out);
}

TEST_CASE("crio-status exits 1 with the daemon's message when it answers an error") {
  TestServer server(crio::test::fake_handlers(std::make_shared<FakeDaemon>()));
  auto r = cli({"--socket", server.path(), "containers", "--id", "nosuch"});
  CHECK(r.code == crio::status::kExitFailure);
  CHECK(r.code == 1);
  CHECK(r.out == "");
  CHECK(r.err == "crio-status: can't find the container with id nosuch\n");

  // An endpoint the daemon does not implement is an error from the daemon too.
  crio::daemon::http::StatusHandlers only_info;
  only_info.info = [] { return crio::test::sample_info(); };
  TestServer partial(only_info);
  auto config = cli({"--socket", partial.path(), "config"});
  CHECK(config.code == 1);
  CHECK(config.err == "crio-status: /config: not implemented by this daemon\n");
}

TEST_CASE("crio-status exits 1 when no daemon listens on the socket") {
  crio::test::TempDir dir("crio-status-test");

  std::string missing = dir / "missing.sock";
  auto r = cli({"--socket", missing, "info"});
  CHECK(r.code == crio::status::kExitFailure);
  CHECK(r.code == 1);
  CHECK(r.out == "");
  CHECK(r.err ==
        "crio-status: cannot connect to crio at " + missing + ": No such file or directory (is the daemon running?)\n");

  // A socket file left behind by a daemon that is gone.
  std::string stale = dir / "stale.sock";
  {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, stale.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    ::close(fd);
  }
  auto refused = cli({"--socket", stale, "config"});
  CHECK(refused.code == 1);
  CHECK(refused.err ==
        "crio-status: cannot connect to crio at " + stale + ": Connection refused (is the daemon running?)\n");

  // A path too long for a unix socket is reported the same way, not thrown.
  auto too_long = cli({"--socket", "/" + std::string(200, 'x'), "info"});
  CHECK(too_long.code == 1);
  CHECK(too_long.err.find("cannot connect to crio at /xxx") != std::string::npos);
}

TEST_CASE("crio-status exits 1 on usage errors, naming them") {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c :
       {Case{{"frobnicate"}, "unknown command: frobnicate"},
        Case{{"--bogus", "info"}, "unknown flag: --bogus"}, Case{{"info", "extra"}, "unexpected argument: extra"},
        Case{{"containers"}, "the containers command needs --id ID"},
        Case{{"containers", "--id", ""}, "the argument --id cannot be empty"},
        Case{{"containers", "--id"}, "flag --id needs a container ID"},
        Case{{"--id", "c1", "containers"}, "flag --id belongs to the containers command"},
        Case{{"info", "--socket"}, "flag --socket needs a socket path"}}) {
    std::vector<const char*> argv{"crio-status"};
    for (const auto& a : c.args) argv.push_back(a.c_str());
    argv.push_back(nullptr);
    std::ostringstream out, err;
    int code = crio::status::run_cli(static_cast<int>(argv.size() - 1), argv.data(), out, err);
    INFO(c.message);
    CHECK(code == crio::status::kExitFailure);
    CHECK(code == 1);
    CHECK(out.str() == "");
    CHECK(err.str().find("crio-status: " + c.message + "\n") != std::string::npos);
  }
}

TEST_CASE("messages are prefixed with the name the program was run as") {
  // The daemon binary runs the same CLI as `crio status`.
  const char* argv[] = {"crio status", "--frob", nullptr};
  std::ostringstream out, err;
  CHECK(crio::status::run_cli(2, argv, out, err) == 1);
  CHECK(err.str() == "crio status: unknown flag: --frob\nRun 'crio status --help' for usage.\n");

  const char* path_argv[] = {"/usr/local/bin/crio-status", "--frob", nullptr};
  std::ostringstream out2, err2;
  CHECK(crio::status::run_cli(2, path_argv, out2, err2) == 1);
  CHECK(err2.str().rfind("crio-status: unknown flag: --frob\n", 0) == 0);
}

TEST_CASE("crio-status --help and --version exit 0 without a daemon") {
  auto help = cli({"--help"});
  CHECK(help.code == 0);
  CHECK(help.out.find("USAGE:") != std::string::npos);
  CHECK(help.out.find("containers, container, cs, s --id ID") != std::string::npos);
  CHECK(help.out.find("/var/run/crio/crio.sock") != std::string::npos);

  auto command_help = cli({"containers", "--help"});
  CHECK(command_help.code == 0);
  CHECK(command_help.out.find("--id ID, -i ID") != std::string::npos);
  CHECK(cli({"help", "info"}).out.find("storage graph root") != std::string::npos);

  auto version = cli({"--version"});
  CHECK(version.code == 0);
  CHECK(version.out.rfind("crio-status version " + crio::build_info().version + "\n", 0) == 0);
}

TEST_CASE("the crio-status binary talks to the daemon and reports its exit codes") {
  TestServer server(crio::test::fake_handlers(std::make_shared<FakeDaemon>()));
  auto info = crio::test::run_command({CRIO_STATUS_BINARY, "--socket", server.path(), "info"});
  CHECK(info.exit_code == 0);
  CHECK(info.out == kInfoOutput);
  CHECK(info.err == "");

  auto missing = crio::test::run_command({CRIO_STATUS_BINARY, "-s", server.path(), "containers", "-i", "gone"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err == "crio-status: can't find the container with id gone\n");

  crio::test::TempDir dir("crio-status-test");
  auto down = crio::test::run_command({CRIO_STATUS_BINARY, "--socket", dir / "none.sock", "config"});
  CHECK(down.exit_code == 1);
  CHECK(down.err.find("(is the daemon running?)") != std::string::npos);

  auto usage = crio::test::run_command({CRIO_STATUS_BINARY, "nonsense"});
  CHECK(usage.exit_code == 1);

  // With no command, the help, and success (CRI-O's `crio status` does the same).
  auto bare = crio::test::run_command({CRIO_STATUS_BINARY});
  CHECK(bare.exit_code == 0);
  CHECK(bare.out.find("USAGE:") != std::string::npos);
}
