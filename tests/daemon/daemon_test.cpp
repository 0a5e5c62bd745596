// The daemon as the kubelet and an operator meet it: a real crio process on its own
// socket, driven through the project's CRI client, HTTP and crio-status.

#include "daemon_fixture.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <sstream>

using crio::test::Daemon;
using crio::test::set_deadline;
namespace v1 = runtime::v1;

namespace {

const v1::RuntimeCondition* find_condition(const v1::StatusResponse& response, const std::string& type) {
  for (const auto& c : response.status().conditions()) {
    if (c.type() == type) return &c;
  }
  return nullptr;
}

grpc::Status call_version(const Daemon& daemon, v1::VersionResponse* response, const std::string& payload = "") {
  auto stub = daemon.runtime_stub();
  grpc::ClientContext context;
  set_deadline(context);
  v1::VersionRequest request;
  request.set_version(payload);
  return stub->Version(&context, request, response);
}

}  // namespace

TEST_CASE("Version, Status and RuntimeConfig answer per the CRI", "[daemon]") {
  Daemon daemon;
  auto stub = daemon.runtime_stub();

  v1::VersionResponse version;
  REQUIRE(call_version(daemon, &version).ok());
  CHECK(version.runtime_name() == "crio");
  CHECK(version.runtime_api_version() == "v1");
  CHECK(version.version() == "0.1.0");
  CHECK_FALSE(version.runtime_version().empty());

  grpc::ClientContext status_context;
  set_deadline(status_context);
  v1::StatusRequest status_request;
  status_request.set_verbose(true);
  v1::StatusResponse status;
  REQUIRE(stub->Status(&status_context, status_request, &status).ok());
  const auto* runtime_ready = find_condition(status, "RuntimeReady");
  const auto* network_ready = find_condition(status, "NetworkReady");
  REQUIRE(runtime_ready);
  REQUIRE(network_ready);
  CHECK(runtime_ready->status());
  // No CNI configuration exists yet in the test's network directory.
  CHECK_FALSE(network_ready->status());
  CHECK(network_ready->reason() == "NetworkPluginNotReady");
  CHECK_THAT(network_ready->message(), Catch::Contains(daemon.dir() / "cni"));
  REQUIRE(status.info().count("config") == 1);
  auto config = nlohmann::json::parse(status.info().at("config"));
  CHECK(config["default_runtime"] == "runc");
  bool has_default_handler = false, has_crun = false;
  for (const auto& h : status.runtime_handlers()) {
    has_default_handler |= h.name().empty();
    has_crun |= h.name() == "crun";
  }
  CHECK(has_default_handler);
  // supplemental_groups_policy is honoured, so the kubelet may send Strict.
  CHECK(status.features().supplemental_groups_policy());
  CHECK(has_crun);

  grpc::ClientContext rc_context;
  set_deadline(rc_context);
  v1::RuntimeConfigResponse runtime_config;
  REQUIRE(stub->RuntimeConfig(&rc_context, v1::RuntimeConfigRequest(), &runtime_config).ok());
  CHECK(runtime_config.linux().cgroup_driver() == v1::CgroupDriver::CGROUPFS);
}

TEST_CASE("NetworkReady turns true when a CNI config appears, without a restart", "[daemon]") {
  Daemon daemon;
  auto stub = daemon.runtime_stub();
  auto network_ready = [&] {
    grpc::ClientContext context;
    set_deadline(context);
    v1::StatusResponse status;
    REQUIRE(stub->Status(&context, v1::StatusRequest(), &status).ok());
    return find_condition(status, "NetworkReady")->status();
  };
  REQUIRE_FALSE(network_ready());
  crio::test::write_file(daemon.dir() / "cni/10-test.conflist",
                         R"({"cniVersion": "1.0.0", "name": "test-net", "plugins": [{"type": "loopback"}]})");
  CHECK(crio::test::eventually(network_ready, std::chrono::seconds(10)));
}

TEST_CASE("Every value of the verbose Status info is JSON, a CNI error with quotes too", "[daemon]") {
  Daemon daemon("", false);
  std::filesystem::remove(daemon.dir() / "crio.conf.d/05-pause.conf");  // the default pause image
  daemon.start();
  auto stub = daemon.runtime_stub();
  // A plugin that does not exist: the load error quotes its type.
  crio::test::write_file(daemon.dir() / "cni/10-test.conflist",
                         R"({"cniVersion": "1.0.0", "name": "quoted", "plugins": [{"type": "no-such-plugin"}]})");
  auto info = [&] {
    grpc::ClientContext context;
    set_deadline(context);
    v1::StatusRequest request;
    request.set_verbose(true);
    v1::StatusResponse status;
    REQUIRE(stub->Status(&context, request, &status).ok());
    return status;
  };
  v1::StatusResponse status = info();
  REQUIRE(status.info().count("lastCNILoadStatus") == 1);
  for (const auto& [key, value] : status.info()) {
    INFO(key << " = " << value);
    CHECK_FALSE(nlohmann::json::parse(value, nullptr, false).is_discarded());
  }
  auto message = nlohmann::json::parse(status.info().at("lastCNILoadStatus"));
  REQUIRE(message.is_string());
  CHECK_THAT(message.get<std::string>(), Catch::Contains("\"no-such-plugin\""));
  CHECK(nlohmann::json::parse(status.info().at("config"))["sandboxImage"] == "registry.k8s.io/pause:3.9");

  crio::test::write_file(daemon.dir() / "cni/10-test.conflist",
                         R"({"cniVersion": "1.0.0", "name": "test-net", "plugins": [{"type": "loopback"}]})");
  CHECK(crio::test::eventually(
      [&] { return nlohmann::json::parse(info().info().at("lastCNILoadStatus")) == "OK"; }, std::chrono::seconds(10)));
}

TEST_CASE("An RPC whose issue has not landed answers UNIMPLEMENTED with its name", "[daemon]") {
  Daemon daemon;
  auto stub = daemon.runtime_stub();
  grpc::ClientContext context;
  set_deadline(context);
  v1::CheckpointContainerResponse response;
  grpc::Status status = stub->CheckpointContainer(&context, v1::CheckpointContainerRequest(), &response);
  CHECK(status.error_code() == grpc::StatusCode::UNIMPLEMENTED);
  CHECK_THAT(status.error_message(), Catch::Contains("CheckpointContainer"));
}

TEST_CASE("The status API answers HTTP on the same socket", "[daemon]") {
  Daemon daemon;
  auto info = crio::test::http_request(daemon.socket(), "GET", "/info");
  REQUIRE(info.status == 200);
  auto json = nlohmann::json::parse(info.body);
  CHECK(json["storage_root"] == daemon.dir() / "storage");
  CHECK(json["storage_driver"] == "overlay");
  CHECK(json["cgroup_driver"] == "cgroupfs");

  auto config = crio::test::http_request(daemon.socket(), "GET", "/config");
  REQUIRE(config.status == 200);
  CHECK_THAT(config.body, Catch::Contains("listen = \"" + daemon.socket() + "\""));

  auto container = crio::test::http_request(daemon.socket(), "GET", "/containers/abc");
  CHECK(container.status == 404);
  CHECK_THAT(nlohmann::json::parse(container.body)["error"].get<std::string>(), Catch::Contains("abc"));
  CHECK(crio::test::http_request(daemon.socket(), "GET", "/nope").status == 404);
}

TEST_CASE("crio-status and `crio status` talk to the daemon", "[daemon]") {
  Daemon daemon;
  auto info = crio::test::run_command({crio::test::built_binary("crio-status/crio-status"), "--socket",
                                       daemon.socket(), "info"});
  CHECK(info.exit_code == 0);
  CHECK_THAT(info.out, Catch::Contains("cgroupfs"));
  CHECK_THAT(info.out, Catch::Contains(daemon.dir() / "storage"));

  auto config = crio::test::run_command({crio::test::built_binary("crio/crio"), "status", "--socket", daemon.socket(),
                                         "config"});
  CHECK(config.exit_code == 0);
  CHECK_THAT(config.out, Catch::Contains("[crio.api]"));

  auto missing = crio::test::run_command({crio::test::built_binary("crio-status/crio-status"), "--socket",
                                          daemon.socket(), "containers", "--id", "feedbeef"});
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.err, Catch::Contains("feedbeef"));
}

TEST_CASE("The socket is created 0660 in a created directory", "[daemon]") {
  Daemon daemon("", false);
  // Move the socket deeper, into directories that do not exist yet.
  std::string nested = daemon.dir() / "deep/er/crio.sock";
  daemon.use_socket(nested);
  daemon.start();
  struct stat st {};
  REQUIRE(::stat(nested.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0660);
}

TEST_CASE("SIGTERM stops gracefully: socket removed, clean-shutdown marker written", "[daemon]") {
  Daemon daemon;
  REQUIRE_FALSE(std::filesystem::exists(daemon.clean_shutdown_file()));
  daemon.stop(SIGTERM);
  CHECK(daemon.exit_code() == 0);
  CHECK_FALSE(std::filesystem::exists(daemon.socket()));
  CHECK(std::filesystem::exists(daemon.clean_shutdown_file()));
  CHECK_THAT(daemon.log(), Catch::Contains("shutting down"));

  // The next start sees the clean marker, and removes it while running.
  daemon.start();
  CHECK_THAT(daemon.log(), Catch::Contains("previous_shutdown=clean"));
  CHECK_FALSE(std::filesystem::exists(daemon.clean_shutdown_file()));
  // A crash leaves no marker: the start after it says so.
  daemon.stop(SIGKILL);
  CHECK_FALSE(std::filesystem::exists(daemon.clean_shutdown_file()));
  daemon.start();
  CHECK_THAT(daemon.log(), Catch::Contains("unclean"));
}

TEST_CASE("A second daemon on a live socket refuses to start, a stale socket is replaced", "[daemon]") {
  Daemon first;
  Daemon second("", false);
  crio::test::write_file(second.dir() / "crio.conf.d/10-listen.conf",
                         "[crio.api]\nlisten = \"" + first.socket() + "\"\n");
  CHECK(second.start_and_wait_exit() != 0);
  CHECK_THAT(second.log(), Catch::Contains("already listening"));
  v1::VersionResponse version;
  CHECK(call_version(first, &version).ok());

  // kill -9 leaves the socket file behind; the next daemon replaces it.
  first.stop(SIGKILL);
  REQUIRE(std::filesystem::exists(first.socket()));
  first.start();
  CHECK(call_version(first, &version).ok());
}

TEST_CASE("Garbage bytes and oversized messages get errors, the daemon keeps serving", "[daemon]") {
  Daemon daemon("", false);
  crio::test::write_file(daemon.dir() / "crio.conf.d/10-small.conf", "[crio.api]\ngrpc_max_recv_msg_size = 1048576\n");
  daemon.start();

  static constexpr char kGarbage[] = "\x16\x03\x01\x00\xff garbage\r\n\r\n";  // a NUL inside
  std::string reply = crio::test::send_raw(daemon.socket(), std::string(kGarbage, sizeof kGarbage - 1));
  CHECK_THAT(reply, Catch::StartsWith("HTTP/1.1 400"));
  // A valid HTTP/2 preface followed by nonsense: the connection is dropped.
  crio::test::send_raw(daemon.socket(), "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nthis is not an HTTP/2 frame at all........");
  // A client that connects and hangs up at once.
  crio::test::send_raw(daemon.socket(), "");

  v1::VersionResponse version;
  grpc::Status big = call_version(daemon, &version, std::string(2 * 1024 * 1024, 'x'));
  CHECK(big.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);

  CHECK(call_version(daemon, &version).ok());
  CHECK(crio::test::http_request(daemon.socket(), "GET", "/info").status == 200);
}

TEST_CASE("SIGHUP reloads the log level, gRPC calls are logged at debug", "[daemon]") {
  Daemon daemon;
  v1::VersionResponse version;
  REQUIRE(call_version(daemon, &version).ok());
  CHECK_THAT(daemon.log(), !Catch::Contains("gRPC call"));

  crio::test::write_file(daemon.dir() / "crio.conf.d/50-debug.conf", "[crio.runtime]\nlog_level = \"debug\"\n");
  daemon.child().signal(SIGHUP);
  REQUIRE(crio::test::eventually([&] { return daemon.log().find("reloaded") != std::string::npos; }));
  REQUIRE(call_version(daemon, &version).ok());
  CHECK(crio::test::eventually([&] {
    auto log = daemon.log();
    return log.find("msg=\"gRPC call\" method=/runtime.v1.RuntimeService/Version") != std::string::npos &&
           log.find("code=OK") != std::string::npos;
  }));
  CHECK_THAT(daemon.log(), Catch::Contains(R"(msg="Set config log_level to \"debug\"")"));
  // Said even when the new level hides info messages.
  crio::test::write_file(daemon.dir() / "crio.conf.d/50-debug.conf", "[crio.runtime]\nlog_level = \"warn\"\n");
  daemon.child().signal(SIGHUP);
  CHECK(crio::test::eventually(
      [&] { return daemon.log().find(R"(msg="Set config log_level to \"warn\"")") != std::string::npos; }));

  // A bad value is reported in CRI-O's words, reason first, and changes nothing.
  crio::test::write_file(daemon.dir() / "crio.conf.d/60-filter.conf", "[crio.runtime]\nlog_filter = \")\"\n");
  daemon.child().signal(SIGHUP);
  CHECK(crio::test::eventually([&] {
    return daemon.log().find("unable to reload configuration: custom log level filter does not compile") !=
           std::string::npos;
  }));
  crio::test::write_file(daemon.dir() / "crio.conf.d/50-debug.conf", "[crio.runtime]\nlog_level = \"debug\"\n");
  crio::test::write_file(daemon.dir() / "crio.conf.d/60-filter.conf", "[crio.runtime]\nlog_filter = \"gRPC\"\n");
  daemon.child().signal(SIGHUP);
  REQUIRE(crio::test::eventually(
      [&] { return daemon.log().find(R"(msg="Set config log_filter to \"gRPC\"")") != std::string::npos; }));
  REQUIRE(call_version(daemon, &version).ok());
  // Only messages matching the filter are written from now on.
  CHECK(crio::test::eventually([&] {
    auto log = daemon.log();
    auto tail = log.substr(log.find("Set config log_filter"));
    return tail.find("gRPC call") != std::string::npos;
  }));
  auto log = daemon.log();
  CHECK(log.find("reloaded the configuration", log.find("Set config log_filter")) == std::string::npos);
}

TEST_CASE("A bad config file stops start-up with the file, line and key", "[daemon]") {
  Daemon daemon("", false);
  crio::test::write_file(daemon.dir() / "crio.conf.d/20-bad.conf", "[crio.runtime]\n\nlog_level = \"loud\"\n");
  CHECK(daemon.start_and_wait_exit() != 0);
  auto log = daemon.log();
  CHECK_THAT(log, Catch::Contains("20-bad.conf:3"));
  CHECK_THAT(log, Catch::Contains("log_level"));
  CHECK_FALSE(std::filesystem::exists(daemon.socket()));
}

TEST_CASE("cgroup_manager \"systemd\" stops start-up where PID 1 is not systemd", "[daemon]") {
  if (std::filesystem::exists("/run/systemd/system")) {
    WARN("this host runs systemd: nothing to refuse");
    return;
  }
  Daemon daemon("", false);
  crio::test::write_file(daemon.dir() / "crio.conf.d/30-systemd.conf",
                         "[crio.runtime]\ncgroup_manager = \"systemd\"\nconmon_cgroup = \"system.slice\"\n");
  CHECK(daemon.start_and_wait_exit() != 0);
  auto log = daemon.log();
  CHECK_THAT(log, Catch::Contains("crio.runtime.cgroup_manager") && Catch::Contains("PID 1 is not systemd") &&
                      Catch::Contains("/run/systemd/system"));
  CHECK_FALSE(std::filesystem::exists(daemon.socket()));
}

TEST_CASE("`crio config` prints TOML that `crio --config` reads back to the same values", "[daemon]") {
  Daemon daemon("", false);
  crio::test::write_file(daemon.dir() / "crio.conf.d/10-runtime.conf",
                         "[crio.runtime]\nlog_level = \"debug\"\nctr_stop_timeout = 77\n");
  auto args = daemon.argv();
  args.push_back("config");
  auto first = crio::test::run_command(args, daemon.env());
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  CHECK_THAT(first.out, Catch::Contains("ctr_stop_timeout = 77"));
  crio::test::write_file(daemon.dir() / "printed.conf", first.out);

  auto second = crio::test::run_command({crio::test::built_binary("crio/crio"), "--config", daemon.dir() / "printed.conf",
                                         "--config-dir", daemon.dir() / "none", "config"},
                                        daemon.env());
  REQUIRE(second.exit_code == 0);
  CHECK(second.out == first.out);
}

TEST_CASE("`crio version` and `crio --help`", "[daemon]") {
  auto version = crio::test::run_command({crio::test::built_binary("crio/crio"), "version"});
  CHECK(version.exit_code == 0);
  CHECK_THAT(version.out, Catch::Contains("Version:"));
  CHECK_THAT(version.out, Catch::Contains("GitCommit:"));
  CHECK_THAT(version.out, Catch::Contains("BuildDate:"));
  CHECK_THAT(version.out, Catch::Contains("Compiler:"));

  auto help = crio::test::run_command({crio::test::built_binary("crio/crio"), "--help"});
  CHECK(help.exit_code == 0);
  for (const char* flag : {"--config", "--config-dir", "--root", "--runroot", "--listen", "--log-level",
                           "--storage-driver", "--cgroup-manager", "--conmon", "--cni-config-dir", "--cni-plugin-dir",
                           "--pause-image", "--signature-policy"}) {
    CHECK_THAT(help.out, Catch::Contains(flag));
  }
}

TEST_CASE("Every flag of `crio --help` is documented in crio(8)", "[daemon]") {
  auto help = crio::test::run_command({crio::test::built_binary("crio/crio"), "--help"});
  REQUIRE(help.exit_code == 0);
  std::string man = crio::test::read_file(std::string(CRIO_SOURCE_DIR) + "/docs/crio.8.md");
  size_t flags = 0;
  for (size_t pos = help.out.find("--"); pos != std::string::npos; pos = help.out.find("--", pos + 2)) {
    size_t end = help.out.find_first_not_of("abcdefghijklmnopqrstuvwxyz-", pos + 2);
    std::string flag = help.out.substr(pos, end - pos);
    if (flag.size() <= 2) continue;
    ++flags;
    INFO(flag);
    CHECK_THAT(man, Catch::Contains("**" + flag + "**"));
  }
  CHECK(flags > 50);
}

TEST_CASE("`crio version --json` is machine-readable", "[daemon]") {
  auto version = crio::test::run_command({crio::test::built_binary("crio/crio"), "version", "--json"});
  REQUIRE(version.exit_code == 0);
  auto json = nlohmann::json::parse(version.out);
  CHECK(json["version"] == "0.1.0");
  CHECK(json.contains("gitCommit"));
}

TEST_CASE("The daemon logs JSON lines to the file its --log and --log-format json name", "[daemon]") {
  Daemon daemon("", false);
  const std::string file = daemon.dir() / "json.log";
  daemon.add_env("CONTAINER_LOG=" + file);
  daemon.add_env("CONTAINER_LOG_FORMAT=json");
  daemon.start();
  auto version = crio::test::http_request(daemon.socket(), "GET", "/info");
  CHECK(version.status == 200);
  daemon.stop(SIGTERM);
  CHECK(daemon.exit_code() == 0);

  // Nothing on stderr; every line of the file is a JSON object with CRI-O's keys.
  CHECK(daemon.log().find("starting crio") == std::string::npos);
  std::istringstream lines(crio::test::read_file(file));
  std::vector<nlohmann::json> entries;
  for (std::string line; std::getline(lines, line);) {
    INFO(line);
    auto j = nlohmann::json::parse(line, nullptr, false);
    REQUIRE(j.is_object());
    CHECK(j.contains("level"));
    CHECK(j.contains("time"));
    entries.push_back(j);
  }
  auto has = [&](const std::string& msg) {
    return std::any_of(entries.begin(), entries.end(), [&](const auto& j) { return j["msg"] == msg; });
  };
  CHECK(has("starting crio"));
  CHECK(has("shutting down"));
}

TEST_CASE("$CONTAINER_REGISTRIES_CONF names the registries.conf pulls follow", "[daemon]") {
  Daemon daemon("", false);
  const std::string blocking = daemon.dir() / "blocking.conf";
  crio::test::write_file(blocking, "[[registry]]\nlocation = \"held.example.invalid\"\nblocked = true\n");
  daemon.add_env("CONTAINER_REGISTRIES_CONF=" + blocking);
  daemon.start();
  auto pull = [&] {
    auto stub = daemon.image_stub();
    grpc::ClientContext context;
    crio::test::set_deadline(context, 20);
    runtime::v1::PullImageRequest request;
    request.mutable_image()->set_image("held.example.invalid/app:1");
    runtime::v1::PullImageResponse response;
    return stub->PullImage(&context, request, &response);
  };
  grpc::Status blocked = pull();
  INFO(blocked.error_message());
  CHECK(blocked.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK_THAT(blocked.error_message(), Catch::Contains("is blocked in registries.conf"));

  // The file is read again on SIGHUP.
  crio::test::write_file(blocking, "[[registry]]\nlocation = \"held.example.invalid\"\nblocked = false\n");
  daemon.child().signal(SIGHUP);
  REQUIRE(crio::test::eventually([&] { return daemon.log().find("Applied new registry configuration") != std::string::npos; }));
  grpc::Status unblocked = pull();
  CHECK_THAT(unblocked.error_message(), !Catch::Contains("is blocked in registries.conf"));
  CHECK_THAT(unblocked.error_message(), Catch::Contains("held.example.invalid"));
}
