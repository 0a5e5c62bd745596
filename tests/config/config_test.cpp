// crio.conf loading: defaults, every option through TOML and back, drop-ins, flags,
// storage.conf, and the errors and warnings for bad files.

#include <crio/core/config.hpp>

#include <toml++/toml.h>
#include <catch2/catch.hpp>

#include "option_contract.hpp"
#include "temp_dir.hpp"

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <sstream>

using crio::Code;
using crio::core::Config;
using crio::core::ConfigSources;
using crio::core::OptionType;
using crio::test::TempDir;
using crio::test::write_file;

namespace {

// Sources that read only what the test writes into `dir`.
ConfigSources sources_in(const TempDir& dir) {
  ConfigSources s;
  s.config_file = dir / "crio.conf";
  s.config_dir = dir / "crio.conf.d";
  s.storage_conf = dir / "storage.conf";
  return s;
}

crio::Result<Config> load(const ConfigSources& s, std::vector<std::string>* warnings_out = nullptr) {
  std::vector<std::string> warnings;
  auto r = crio::core::load_config(s, warnings);
  if (warnings_out) *warnings_out = warnings;
  return r;
}

// Sets an environment variable for the scope, restoring the old value after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

bool refused(const std::string& dotted) {
  for (const auto& c : crio::test::option_contracts()) {
    if (c.option == dotted) return c.kind == crio::test::OptionContract::kRefused;
  }
  return false;
}

// The value of a dotted option in a config, as the TOML text to_toml writes for it.
std::string value_of(const Config& c, const std::string& dotted) {
  toml::table doc = toml::parse(crio::core::to_toml(c));
  auto node = doc.at_path(dotted);
  if (!node) return "<missing>";
  std::ostringstream out;
  out << node;
  return out.str();
}

std::string handler_value(const Config& c, const std::string& handler, const std::string& key) {
  toml::table doc = toml::parse(crio::core::to_toml(c));
  auto node = doc["crio"]["runtime"]["runtimes"][handler][key];
  if (!node) return "<missing>";
  std::ostringstream out;
  out << node;
  return out.str();
}

// A crio.conf that gives every option a value other than its default.
constexpr const char* kEveryOption = R"(
[crio]
root = "/srv/storage"
runroot = "/run/test-storage"
imagestore = "/var/lib/test-images"
storage_driver = "vfs"
storage_option = ["vfs.ignore_chown_errors=false"]
log_dir = "/srv/logs"
version_file = "/run/test/version"
version_file_persist = "/srv/test/version"
clean_shutdown_file = "/srv/test/clean.shutdown"
internal_wipe = false
internal_repair = true

[crio.api]
listen = "/run/test/crio.sock"
stream_address = "0.0.0.0"
stream_port = "10010"
stream_enable_tls = true
stream_idle_timeout = "4h"
stream_tls_cert = "/etc/test/tls.crt"
stream_tls_key = "/etc/test/tls.key"
stream_tls_ca = "/etc/test/ca.crt"
grpc_max_send_msg_size = 1048576
grpc_max_recv_msg_size = 2097152

[crio.runtime]
default_runtime = "crun"
conmon = "/usr/local/bin/conmon"
conmon_cgroup = "pod"
cgroup_manager = "systemd"
conmon_env = ["PATH=/bin", "LANG=C"]
default_env = ["TZ=UTC"]
default_ulimits = ["nofile=1024:2048"]
no_pivot = true
seccomp_profile = "/etc/test/seccomp.json"
decryption_keys_path = "/etc/test/keys"
seccomp_use_default_when_empty = false
add_inheritable_capabilities = true
apparmor_profile = "unconfined"
default_capabilities = ["CHOWN", "NET_RAW"]
default_sysctls = ["net.ipv4.ping_group_range=0 2147483647"]
additional_devices = ["/dev/sdc:/dev/xvdc:rwm"]
allowed_devices = ["/dev/fuse", "/dev/net/tun"]
hooks_dir = ["/etc/containers/oci/hooks.d", "/srv/hooks"]
default_mounts_file = "/etc/test/mounts.conf"
pids_limit = 2048
log_size_max = 16384
container_exits_dir = "/run/test/exits"
container_attach_socket_dir = "/run/test"
bind_mount_prefix = "/host"
read_only = true
log_level = "debug"
log_filter = "request:.*"
ctr_stop_timeout = 60
drop_infra_ctr = false
disable_hostport_mapping = true
enable_pod_events = true
infra_ctr_cpuset = "0-1"
namespaces_dir = "/run/test/ns"
pinns_path = "/usr/bin/pinns"
absent_mount_sources_to_reject = ["/etc/hostname"]
irqbalance_config_file = "/etc/default/irqbalance"
irqbalance_config_restore_file = "disable"

[crio.runtime.runtimes.kata]
runtime_path = "/usr/bin/kata-runtime"
runtime_type = "oci"
runtime_root = "/run/kata"
monitor_path = "/usr/libexec/kata-monitor"
monitor_cgroup = "pod"
monitor_env = ["DEBUG=1"]
allowed_annotations = ["io.kubernetes.cri-o.Devices"]
privileged_without_host_devices = true

[crio.image]
global_auth_file = "/var/lib/kubelet/config.json"
pause_image = "localhost/pause:test"
pause_image_auth_file = "/etc/test/pause-auth.json"
pause_command = "/catatonit"
pinned_images = ["localhost/pause*"]
signature_policy = "/etc/test/policy.json"
signature_policy_dir = "/etc/test/policies"
insecure_registries = ["localhost:5000", "10.0.0.0/8"]
registries = ["quay.io", "docker.io"]
image_volumes = "bind"
pull_progress_timeout = "1m30s"
max_parallel_downloads = 2
short_name_mode = "permissive"

[crio.network]
cni_default_network = "testnet"
network_dir = "/etc/test/net.d/"
plugin_dirs = ["/usr/lib/cni/"]

[crio.metrics]
enable_metrics = true
metrics_collectors = ["operations"]
metrics_host = "0.0.0.0"
metrics_port = 9537
metrics_socket = "/run/test/metrics.sock"
metrics_cert = "/etc/test/metrics.crt"
metrics_key = "/etc/test/metrics.key"

[crio.stats]
)";

}  // namespace

TEST_CASE("defaults follow crio.conf(5) and this machine") {
  Config c = crio::core::default_config();
  CHECK(c.root == "/var/lib/containers/storage");
  CHECK(c.runroot == "/run/containers/storage");
  CHECK(c.storage_driver == "overlay");
  CHECK(c.listen == "/var/run/crio/crio.sock");
  CHECK(c.log_level == "info");
  CHECK(c.cgroup_manager == "cgroupfs");
  CHECK(c.default_runtime == "runc");
  CHECK(c.conmon.empty());  // as CRI-O: conmon is looked up in $PATH
  CHECK(c.conmon_cgroup.empty());
  CHECK(c.irqbalance_config_file == "/etc/sysconfig/irqbalance");
  CHECK(c.irqbalance_config_restore_file == "/etc/sysconfig/orig_irq_banned_cpus");
  CHECK(c.grpc_max_send_msg_size == 83886080);
  CHECK(c.ctr_stop_timeout == 30);
  CHECK(c.pause_image == "registry.k8s.io/pause:3.9");
  CHECK(c.network_dir == "/etc/cni/net.d/");
  CHECK(c.plugin_dirs == std::vector<std::string>{"/opt/cni/bin/", "/usr/lib/cni/"});
  CHECK(c.signature_policy_dir == "/etc/crio/policies");
  CHECK(c.metrics_port == 9090);
  REQUIRE(c.runtimes.count("runc"));
  REQUIRE(c.runtimes.count("crun"));
  CHECK(c.runtimes["runc"].runtime_path == "/usr/sbin/runc");
  CHECK(c.runtimes["runc"].runtime_root == "/run/runc");
  CHECK(c.runtimes["runc"].runtime_type == "oci");
  CHECK(c.runtimes["crun"].runtime_path == "/usr/bin/crun");
  CHECK(c.runtimes["crun"].runtime_root == "/run/crun");
  CHECK(c.runtimes["runc"].monitor_cgroup == "pod");
  CHECK(c.runtimes["runc"].monitor_env ==
        std::vector<std::string>{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"});
  CHECK(crio::core::validate(c).ok());

  // Nothing on disk: the defaults, no warnings.
  TempDir dir;
  std::vector<std::string> warnings;
  auto loaded = load(sources_in(dir), &warnings);
  REQUIRE(loaded.ok());
  CHECK(*loaded == c);
  CHECK(warnings.empty());
}

TEST_CASE("to_toml of the defaults reads back to the defaults") {
  Config defaults = crio::core::default_config();
  std::string text = crio::core::to_toml(defaults);
  Config c = crio::core::default_config();
  c.log_level = "trace";  // proves the text sets the option, not just leaves it
  c.runtimes["runc"].runtime_root = "/elsewhere";
  std::vector<std::string> warnings;
  auto st = crio::core::apply_toml(c, text, "generated", warnings);
  INFO(st.message());
  REQUIRE(st.ok());
  CHECK(warnings.empty());
  CHECK(c == defaults);
}

TEST_CASE("every option is read from TOML and printed back") {
  TempDir dir;
  write_file(dir / "crio.conf", kEveryOption);
  std::vector<std::string> warnings;
  auto loaded = load(sources_in(dir), &warnings);
  INFO(loaded.status().message());
  REQUIRE(loaded.ok());
  CHECK(warnings.empty());
  const Config& c = *loaded;
  Config defaults = crio::core::default_config();

  // The file covers every option that is not refused: each one now differs from its
  // default. (The refused ones are read too, or they could not be refused: see the
  // option contract.)
  for (const auto& o : crio::core::config_options()) {
    INFO(o.dotted());
    if (refused(o.dotted())) continue;
    if (o.table == crio::core::kRuntimeHandlerTable) {
      REQUIRE(c.runtimes.count("kata"));
      Config bare = defaults;
      bare.runtimes["kata"] = {};
      CHECK(handler_value(c, "kata", o.key) != handler_value(bare, "kata", o.key));
      CHECK(handler_value(c, "kata", o.key) != "<missing>");
    } else {
      CHECK(value_of(c, o.dotted()) != value_of(defaults, o.dotted()));
      CHECK(value_of(c, o.dotted()) != "<missing>");
    }
  }
  // A few spot checks of the typed values.
  CHECK(c.storage_driver == "vfs");
  CHECK(c.stream_enable_tls);
  CHECK(c.grpc_max_recv_msg_size == 2097152);
  CHECK(c.hooks_dir == std::vector<std::string>{"/etc/containers/oci/hooks.d", "/srv/hooks"});
  CHECK(c.runtimes.at("kata").privileged_without_host_devices);
  // [crio.runtime] conmon* replace the monitor fields of oci handlers, as in CRI-O.
  CHECK(c.runtimes.at("kata").monitor_path == "/usr/local/bin/conmon");
  CHECK(c.runtimes.at("kata").monitor_cgroup == "pod");
  CHECK(c.runtimes.at("kata").monitor_env == std::vector<std::string>{"PATH=/bin", "LANG=C"});
  CHECK(c.registries == std::vector<std::string>{"quay.io", "docker.io"});
  CHECK(c.runtimes.count("runc"));  // defaults are kept beside the new handler

  // Printed and read back over the defaults, it is the same configuration.
  std::string text = crio::core::to_toml(c);
  Config back = crio::core::default_config();
  std::vector<std::string> w2;
  auto st = crio::core::apply_toml(back, text, "generated", w2);
  INFO(st.message());
  REQUIRE(st.ok());
  CHECK(w2.empty());
  CHECK(back == c);

  // And through load_config from a file.
  TempDir dir2;
  write_file(dir2 / "crio.conf", text);
  auto again = load(sources_in(dir2));
  REQUIRE(again.ok());
  CHECK(*again == c);
}

TEST_CASE("strings that need escaping and odd handler names survive the round trip") {
  Config c = crio::core::default_config();
  c.log_filter = "quote \" backslash \\ tab \t newline \n unicode \xc3\xa9";
  c.default_env = {"A=1", "B=\"two\""};
  c.runtimes["my.handler"].runtime_path = "/usr/local/bin/my runtime";
  c.runtimes["my.handler"].monitor_cgroup = "pod";  // what loading makes of an empty one
  std::vector<std::string> warnings;
  Config back = crio::core::default_config();
  auto st = crio::core::apply_toml(back, crio::core::to_toml(c), "generated", warnings);
  INFO(st.message());
  REQUIRE(st.ok());
  CHECK(back == c);
}

TEST_CASE("drop-ins apply in name order and runtime handlers merge by name") {
  TempDir dir;
  write_file(dir / "crio.conf", R"(
[crio.runtime]
log_level = "debug"
pids_limit = 10

[crio.runtime.runtimes.kata]
runtime_path = "/usr/bin/kata-runtime"
runtime_type = "oci"
)");
  write_file(dir / "crio.conf.d/10-second.conf", R"(
[crio.runtime]
log_level = "error"

[crio.runtime.runtimes.runc]
runtime_root = "/run/test-runc"
)");
  write_file(dir / "crio.conf.d/01-first.conf", R"(
[crio.runtime]
log_level = "warn"
pids_limit = 100

[crio.runtime.runtimes.youki]
runtime_path = "/usr/bin/youki"
)");
  // As in CRI-O, every file is a drop-in whatever its name, and directories are walked
  // in place: 05-dir/ comes between 01-first and 10-second.
  write_file(dir / "crio.conf.d/05-dir/a", "[crio.runtime]\nlog_level = \"debug\"\npids_limit = 50\n");
  write_file(dir / "crio.conf.d/20-no-suffix", "[crio.runtime]\nlog_level = \"trace\"\n");

  auto c = load(sources_in(dir));
  INFO(c.status().message());
  REQUIRE(c.ok());
  CHECK(c->log_level == "trace");  // 20-no-suffix is applied last
  CHECK(c->pids_limit == 50);      // 05-dir/a after 01-first, untouched by the later ones
  write_file(dir / "crio.conf.d/20-no-suffix", "");
  c = load(sources_in(dir));
  REQUIRE(c.ok());
  CHECK(c->log_level == "error");  // 10-second is applied after 05-dir/a
  // runc: one field changed, the others keep their defaults.
  CHECK(c->runtimes.at("runc").runtime_root == "/run/test-runc");
  CHECK(c->runtimes.at("runc").runtime_path == "/usr/sbin/runc");
  CHECK(c->runtimes.at("youki").runtime_path == "/usr/bin/youki");
  CHECK(c->runtimes.at("youki").runtime_type == "oci");
  CHECK(c->runtimes.at("kata").runtime_path == "/usr/bin/kata-runtime");
  CHECK(c->runtimes.count("crun"));
}

TEST_CASE("a drop-in may fix a value a lower file got wrong") {
  TempDir dir;
  write_file(dir / "crio.conf", "[crio.runtime]\ndefault_runtime = \"kata\"\n");
  write_file(dir / "crio.conf.d/99-kata.conf", "[crio.runtime.runtimes.kata]\nruntime_path = \"/usr/bin/kata\"\n");
  auto c = load(sources_in(dir));
  INFO(c.status().message());
  REQUIRE(c.ok());
  CHECK(c->default_runtime == "kata");
}

TEST_CASE("flags override the files") {
  TempDir dir;
  write_file(dir / "crio.conf", "[crio.runtime]\nlog_level = \"debug\"\nselinux = true\n");
  write_file(dir / "crio.conf.d/50.conf", "[crio.runtime]\nlog_level = \"warn\"\n");
  auto s = sources_in(dir);
  s.flags = {{"log_level", {"info", "trace"}},  // the last value counts
             {"selinux", {"false"}},
             {"hooks_dir", {"/a", "/b,/c"}},
             {"pids_limit", {"9999"}},
             {"root", {"/flag/root"}}};
  auto c = load(s);
  INFO(c.status().message());
  REQUIRE(c.ok());
  CHECK(c->log_level == "trace");
  CHECK_FALSE(c->selinux);
  CHECK(c->hooks_dir == std::vector<std::string>{"/a", "/b", "/c"});
  CHECK(c->pids_limit == 9999);
  CHECK(c->root == "/flag/root");

  SECTION("a bad flag value names the flag") {
    s.flags = {{"log_level", {"loud"}}};
    auto bad = load(s);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == Code::kInvalidArgument);
    CHECK(bad.status().message() ==
          "command line flag --log-level: crio.runtime.log_level: not a valid logrus Level: \"loud\" (one of fatal, "
          "panic, error, warn, info, debug, trace)");
  }
  SECTION("a flag that is not an integer") {
    s.flags = {{"pids_limit", {"90x"}}};
    auto bad = load(s);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().message() == "command line flag --pids-limit: \"90x\" is not an integer");
  }
  SECTION("an unknown option key") {
    s.flags = {{"no_such_option", {"1"}}};
    auto bad = load(s);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("a TOML syntax error names the file, line and column") {
  TempDir dir;
  write_file(dir / "crio.conf", "[crio]\nroot = \"/x\"\nrunroot = \n");
  auto c = load(sources_in(dir));
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == Code::kInvalidArgument);
  INFO(c.status().message());
  // CRI-O's words first, which scripts look for, then the place.
  CHECK(c.status().message().rfind("unable to decode configuration " + dir / "crio.conf" + ":3:", 0) == 0);
  CHECK(c.status().message().find("syntax error") != std::string::npos);
}

TEST_CASE("a wrong type names the file, line and key") {
  TempDir dir;
  write_file(dir / "crio.conf", "[crio]\n\n[crio.runtime]\nlog_level = 5\n");
  auto c = load(sources_in(dir));
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == Code::kInvalidArgument);
  CHECK(c.status().message() == dir / "crio.conf" + ":4: crio.runtime.log_level: expected a string, found an integer");

  SECTION("in an array") {
    write_file(dir / "crio.conf", "[crio.runtime]\nhooks_dir = [\n  \"/a\",\n  7,\n]\n");
    auto bad = load(sources_in(dir));
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().message() ==
          dir / "crio.conf" + ":4: crio.runtime.hooks_dir[1]: expected a string, found an integer");
  }
  SECTION("a table where a value belongs") {
    write_file(dir / "crio.conf", "[crio.api.listen]\nx = 1\n");
    auto bad = load(sources_in(dir));
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().message() == dir / "crio.conf" + ":1: crio.api.listen: expected a string, found a table");
  }
  SECTION("a boolean given as a string") {
    write_file(dir / "crio.conf", "[crio.runtime]\nselinux = \"true\"\n");
    auto bad = load(sources_in(dir));
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().message() == dir / "crio.conf" + ":2: crio.runtime.selinux: expected a boolean, found a string");
  }
}

TEST_CASE("an invalid value names the file, line and key") {
  TempDir dir;
  std::string file = dir / "crio.conf";
  auto error_for = [&](const std::string& text) {
    write_file(file, text);
    auto c = load(sources_in(dir));
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().code() == Code::kInvalidArgument);
    return c.status().message();
  };
  CHECK(error_for("[crio]\n\n[crio.runtime]\n\n\n\n\n\n\n\n\nlog_level = \"loud\"\n") ==
        file +
            ":12: crio.runtime.log_level: not a valid logrus Level: \"loud\" (one of fatal, panic, error, warn, info, "
            "debug, trace)");
  CHECK(error_for("[crio.runtime]\ncgroup_manager = \"cgroupv3\"\n") ==
        file + ":2: crio.runtime.cgroup_manager: \"cgroupv3\" is not one of cgroupfs, systemd");
  CHECK(error_for("[crio]\nroot = \"var/lib/containers\"\n") ==
        file + ":2: crio.root: \"var/lib/containers\" is not an absolute path");
  CHECK(error_for("[crio.network]\nplugin_dirs = [\"/opt/cni/bin\", \"cni\"]\n") ==
        file + ":2: crio.network.plugin_dirs: \"cni\" is not an absolute path");
  CHECK(error_for("[crio.runtime]\nctr_stop_timeout = -5\n") ==
        file + ":2: crio.runtime.ctr_stop_timeout: -5 is negative");
  CHECK(error_for("[crio.api]\ngrpc_max_send_msg_size = -1\n") ==
        file + ":2: crio.api.grpc_max_send_msg_size: -1 is not positive");
  CHECK(error_for("[crio.runtime]\nlog_size_max = 100\n") ==
        file + ":2: crio.runtime.log_size_max: 100 is below 8192 (use a negative value for no limit)");
  CHECK(error_for("[crio.image]\nimage_volumes = \"copy\"\n") ==
        file + ":2: crio.image.image_volumes: \"copy\" is not one of mkdir, bind, ignore");
  CHECK(error_for("[crio.image]\npull_progress_timeout = \"10 seconds\"\n")
            .find("crio.image.pull_progress_timeout: \"10 seconds\" is not a duration") != std::string::npos);
  CHECK(error_for("[crio.runtime]\ndefault_capabilities = [\"CHOWN\", \"FLY\"]\n") ==
        file + ":2: crio.runtime.default_capabilities: \"FLY\" is not a Linux capability");
  CHECK(error_for("[crio.runtime]\ndefault_ulimits = [\"nofile=10\"]\n") ==
        file + ":2: crio.runtime.default_ulimits: \"nofile=10\" is not of the form name=soft:hard");
  CHECK(error_for("[crio.runtime.runtimes.runc]\nruntime_type = \"wasm\"\n") ==
        file + ":2: crio.runtime.runtimes.runc.runtime_type: \"wasm\" is not one of oci, vm, pod");
  CHECK(error_for("[crio.runtime.runtimes.\"a/b\"]\nruntime_path = \"/x\"\n") ==
        file + ":1: crio.runtime.runtimes.a/b: \"a/b\" is not a usable runtime handler name");
  CHECK(error_for("[crio.runtime.runtimes.runc]\nruntime_path = \"runc\"\n") ==
        file + ":2: crio.runtime.runtimes.runc.runtime_path: \"runc\" is not an absolute path");
  CHECK(error_for("[crio.api]\nstream_port = \"http\"\n") ==
        file + ":2: crio.api.stream_port: \"http\" is not a port number (0-65535)");
  CHECK(error_for("[crio.runtime]\nconmon_cgroup = \"system.slice\"\n") ==
        file +
            ":2: crio.runtime.conmon_cgroup: \"system.slice\" is a systemd slice, which needs cgroup_manager "
            "\"systemd\"; with cgroupfs use \"pod\"");
  CHECK(error_for("[crio.runtime]\ncgroup_manager = \"systemd\"\nconmon_cgroup = \"conmon\"\n") ==
        file + ":3: crio.runtime.conmon_cgroup: \"conmon\" is not \"pod\" or a systemd slice (NAME.slice)");
  CHECK(error_for("[crio.runtime.runtimes.runc]\nmonitor_cgroup = \"/a.slice\"\n[crio.runtime]\ncgroup_manager = "
                  "\"systemd\"\n") ==
        file + ":2: crio.runtime.runtimes.runc.monitor_cgroup: \"/a.slice\" is not \"pod\" or a systemd slice "
               "(NAME.slice)");
  CHECK(error_for("[crio.api]\nstream_enable_tls = true\n") ==
        file + ":2: crio.api.stream_enable_tls: TLS needs both stream_tls_cert and stream_tls_key");
}

TEST_CASE("a default_runtime that names no handler is an error at its line") {
  TempDir dir;
  write_file(dir / "crio.conf", "[crio.runtime]\n\ndefault_runtime = \"kata\"\n");
  auto c = load(sources_in(dir));
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == Code::kInvalidArgument);
  CHECK(c.status().message() == dir / "crio.conf" +
                                    ":3: crio.runtime.default_runtime: \"kata\" names no runtime handler "
                                    "(defined: crun, runc)");
}

TEST_CASE("an error in a drop-in names the drop-in") {
  TempDir dir;
  write_file(dir / "crio.conf", "[crio.runtime]\nlog_level = \"debug\"\n");
  write_file(dir / "crio.conf.d/10-bad.conf", "# comment\n[crio.runtime]\nlog_level = \"chatty\"\n");
  auto c = load(sources_in(dir));
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().rfind(dir / "crio.conf.d/10-bad.conf:3: crio.runtime.log_level:", 0) == 0);
}

TEST_CASE("unknown keys are warnings naming file, line and key") {
  TempDir dir;
  write_file(dir / "crio.conf", R"([crio]
root = "/srv/root"
file_locking = true

[crio.runtime]
log_level = "debug"
manage_ns_lifecycle = true

[crio.runtime.runtimes.runc]
runtime_path = "/usr/sbin/runc"
platform_runtime_paths = {}

[crio.tracing]
enable_tracing = false

[other]
x = 1
)");
  std::vector<std::string> warnings;
  auto c = load(sources_in(dir), &warnings);
  INFO(c.status().message());
  REQUIRE(c.ok());
  CHECK(c->root == "/srv/root");
  CHECK(c->log_level == "debug");
  std::string file = dir / "crio.conf";
  // In file order.
  CHECK(warnings == std::vector<std::string>{
                        file + ":3: unknown key crio.file_locking",
                        file + ":7: unknown key crio.runtime.manage_ns_lifecycle",
                        file + ":11: crio.runtime.runtimes.runc.platform_runtime_paths is CRI-O's default, and "
                               "what this daemon does",
                        file + ":14: crio.tracing.enable_tracing is CRI-O's default, and what this daemon does",
                        file + ":16: unknown key other",
                    });
}

TEST_CASE("missing config file and drop-in directory are fine") {
  TempDir dir;
  ConfigSources s;
  s.config_file = dir / "no/such/crio.conf";
  s.config_dir = dir / "no/such/crio.conf.d";
  s.storage_conf = dir / "no/such/storage.conf";
  std::vector<std::string> warnings;
  auto c = load(s, &warnings);
  REQUIRE(c.ok());
  CHECK(*c == crio::core::default_config());
  CHECK(warnings.empty());

  SECTION("but a drop-in path that is a file is an error") {
    write_file(dir / "file", "");
    s.config_dir = dir / "file";
    auto bad = load(s);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().message().find("not a directory") != std::string::npos);
  }
}

TEST_CASE("storage.conf is read and crio.conf overrides it") {
  TempDir dir;
  write_file(dir / "storage.conf", R"([storage]
driver = "overlay"
graphroot = "/srv/graph"
runroot = "/run/graph"
unrelated = "ignored"

[storage.options]
mountopt = "old-place"

[storage.options.overlay]
mountopt = "nodev,metacopy=on"
)");
  auto c = load(sources_in(dir));
  INFO(c.status().message());
  REQUIRE(c.ok());
  CHECK(c->storage_driver == "overlay");
  CHECK(c->root == "/srv/graph");
  CHECK(c->runroot == "/run/graph");
  CHECK(c->storage_option == std::vector<std::string>{"overlay.mountopt=nodev,metacopy=on"});

  write_file(dir / "crio.conf", "[crio]\nroot = \"/srv/crio-root\"\n");
  auto over = load(sources_in(dir));
  REQUIRE(over.ok());
  CHECK(over->root == "/srv/crio-root");
  CHECK(over->storage_driver == "overlay");
  CHECK(over->runroot == "/run/graph");

  SECTION("mountopt in the old place alone") {
    write_file(dir / "storage.conf", "[storage.options]\nmountopt = \"nodev\"\n");
    auto old = load(sources_in(dir));
    REQUIRE(old.ok());
    CHECK(old->storage_option == std::vector<std::string>{"overlay.mountopt=nodev"});
  }
  SECTION("with vfs the mount options are not the driver's, as in containers/storage") {
    write_file(dir / "storage.conf", "[storage]\ndriver = \"vfs\"\n[storage.options.overlay]\nmountopt = \"nodev\"\n");
    auto vfs = load(sources_in(dir));
    REQUIRE(vfs.ok());
    CHECK(vfs->storage_driver == "vfs");
    CHECK(vfs->storage_option.empty());
  }
  SECTION("a bad driver in storage.conf points at storage.conf") {
    write_file(dir / "crio.conf", "");
    write_file(dir / "storage.conf", "[storage]\n\ndriver = \"btrfs\"\n");
    auto bad = load(sources_in(dir));
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().message().rfind(dir / "storage.conf:3: crio.storage_driver: \"btrfs\"", 0) == 0);
  }
  SECTION("a wrong type in storage.conf") {
    write_file(dir / "storage.conf", "[storage]\ngraphroot = 3\n");
    auto bad = load(sources_in(dir));
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().message() == dir / "storage.conf:2: storage.graphroot: expected a string, found an integer");
  }
}

TEST_CASE("CONTAINERS_STORAGE_CONF names the storage.conf") {
  TempDir dir;
  write_file(dir / "elsewhere.conf", "[storage]\ngraphroot = \"/srv/from-env\"\n");
  ScopedEnv env("CONTAINERS_STORAGE_CONF", dir / "elsewhere.conf");
  ConfigSources s = sources_in(dir);
  s.storage_conf.clear();
  CHECK(crio::core::storage_conf_path(s) == dir / "elsewhere.conf");
  auto c = load(s);
  REQUIRE(c.ok());
  CHECK(c->root == "/srv/from-env");

  // An explicit path wins over the environment.
  s.storage_conf = dir / "missing.conf";
  auto explicit_path = load(s);
  REQUIRE(explicit_path.ok());
  CHECK(explicit_path->root == "/var/lib/containers/storage");
}

TEST_CASE("apply_toml leaves the config untouched on error") {
  Config c = crio::core::default_config();
  Config before = c;
  std::vector<std::string> warnings;
  auto st =
      crio::core::apply_toml(c, "[crio]\nroot = \"/new\"\n[crio.runtime]\nlog_level = \"nope\"\n", "drop-in", warnings);
  REQUIRE_FALSE(st.ok());
  CHECK(
      st.message() ==
      "drop-in:4: crio.runtime.log_level: not a valid logrus Level: \"nope\" (one of fatal, panic, error, warn, info, "
      "debug, trace)");
  CHECK(c == before);

  // Empty values CRI-O documents as "the default" come out as the default.
  st = crio::core::apply_toml(c, "[crio]\nstorage_driver = \"\"\n[crio.api]\ngrpc_max_send_msg_size = 0\n", "drop-in",
                              warnings);
  REQUIRE(st.ok());
  CHECK(c.storage_driver == "overlay");
  CHECK(c.grpc_max_send_msg_size == 83886080);
}

TEST_CASE("validate checks a config built in code") {
  Config c = crio::core::default_config();
  REQUIRE(crio::core::validate(c).ok());
  c.runtimes.erase("runc");
  auto st = crio::core::validate(c);
  CHECK(st.code() == Code::kInvalidArgument);
  CHECK(st.message() == "crio.runtime.default_runtime: \"runc\" names no runtime handler (defined: crun)");

  c = crio::core::default_config();
  c.metrics_cert = "/etc/cert.pem";
  CHECK(crio::core::validate(c).message() ==
        "crio.metrics.metrics_cert: metrics_cert and metrics_key must be set together");

  c = crio::core::default_config();
  c.runtimes["kata"].runtime_type = "vm";
  CHECK(
      crio::core::validate(c).message() ==
      "crio.runtime.runtimes.kata.runtime_type: \"vm\" handlers are not supported; only \"oci\" runtimes (runc, crun) "
      "run here");
  c.runtimes["kata"].runtime_type = "oci";
  CHECK(crio::core::validate(c).ok());

  c.runtimes["../escape"] = {};
  CHECK(crio::core::validate(c).message() ==
        "crio.runtime.runtimes.../escape: \"../escape\" is not a usable runtime handler name");
}

TEST_CASE("durations are read as Go writes them") {
  using namespace std::chrono_literals;
  using crio::core::parse_duration;
  CHECK(*parse_duration("") == 0ns);
  CHECK(*parse_duration("0") == 0ns);
  CHECK(*parse_duration("0s") == 0ns);
  CHECK(*parse_duration("1m30s") == 90s);
  CHECK(*parse_duration("4h") == 4h);
  CHECK(*parse_duration("500ms") == 500ms);
  CHECK(*parse_duration("1.5h") == 90min);
  CHECK(*parse_duration("2us") == 2us);
  CHECK(*parse_duration("-3s") == -3s);
  CHECK_FALSE(parse_duration("10").ok());
  CHECK_FALSE(parse_duration("s").ok());
  CHECK_FALSE(parse_duration("1d").ok());
  CHECK_FALSE(parse_duration("1..5s").ok());
}

TEST_CASE("config_options lists every option once, each with a flag") {
  std::set<std::string> dotted, flags;
  for (const auto& o : crio::core::config_options()) {
    INFO(o.dotted());
    CHECK(dotted.insert(o.dotted()).second);
    CHECK_FALSE(o.help.empty());
    CHECK_FALSE(o.default_value.empty());
    if (o.table != crio::core::kRuntimeHandlerTable) {
      CHECK_FALSE(o.flag.empty());
      CHECK(flags.insert(o.flag).second);
    }
  }
  // The names crio(8) gives.
  auto flag_of = [](const std::string& key) {
    for (const auto& o : crio::core::config_options()) {
      if (o.key == key) return std::make_pair(o.flag, o.short_flag);
    }
    return std::make_pair(std::string(), '\0');
  };
  CHECK(flag_of("root") == std::make_pair(std::string("root"), 'r'));
  CHECK(flag_of("log_level") == std::make_pair(std::string("log-level"), 'l'));
  CHECK(flag_of("storage_driver") == std::make_pair(std::string("storage-driver"), 's'));
  CHECK(flag_of("storage_option").first == "storage-opt");
  CHECK(flag_of("network_dir").first == "cni-config-dir");
  CHECK(flag_of("plugin_dirs").first == "cni-plugin-dir");
  CHECK(flag_of("insecure_registries").first == "insecure-registry");
  CHECK(flag_of("log_to_journald").first == "log-journald");
  CHECK(dotted.count("crio.runtime.runtimes.*.runtime_path"));
}

TEST_CASE("docs/crio.conf.5.md and packaging/crio.conf cover every option") {
  std::string docs = crio::test::read_file(std::string(CRIO_SOURCE_DIR) + "/docs/crio.conf.5.md");
  std::string packaged_path = std::string(CRIO_SOURCE_DIR) + "/packaging/crio.conf";
  std::string packaged = crio::test::read_file(packaged_path);
  for (const auto& o : crio::core::config_options()) {
    INFO(o.dotted());
    CHECK(docs.find("**" + o.key + "**") != std::string::npos);
    if (!o.flag.empty()) CHECK(docs.find("--" + o.flag) != std::string::npos);
    CHECK(packaged.find("\n" + o.key + " = ") != std::string::npos);
  }
  // The packaged file is the defaults, exactly.
  Config c = crio::core::default_config();
  c.log_level = "trace";
  std::vector<std::string> warnings;
  auto st = crio::core::apply_toml(c, packaged, packaged_path, warnings);
  INFO(st.message());
  REQUIRE(st.ok());
  CHECK(warnings.empty());
  CHECK(c == crio::core::default_config());
}

TEST_CASE("a crio.conf written for CRI-O loads, with warnings for what is not implemented") {
  // The shape `crio config` of CRI-O 1.29 writes on a cgroupfs host: every table,
  // options this daemon does not implement, and empty values meaning "the default".
  TempDir dir;
  write_file(dir / "crio.conf", R"([crio]
root = "/var/lib/containers/storage"
runroot = "/run/containers/storage"
storage_driver = ""
storage_option = []
log_dir = "/var/log/crio/pods"
version_file = "/var/run/crio/version"
version_file_persist = ""
clean_shutdown_file = "/var/lib/crio/clean.shutdown"
internal_wipe = true
internal_repair = false

[crio.api]
listen = "/var/run/crio/crio.sock"
stream_address = "127.0.0.1"
stream_port = "0"
stream_enable_tls = false
stream_idle_timeout = ""
stream_tls_cert = ""
stream_tls_key = ""
stream_tls_ca = ""
grpc_max_send_msg_size = 83886080
grpc_max_recv_msg_size = 83886080

[crio.runtime]
default_runtime = "runc"
no_pivot = false
decryption_keys_path = "/etc/crio/keys/"
conmon = ""
conmon_cgroup = "pod"
conmon_env = []
default_env = []
selinux = false
seccomp_profile = ""
apparmor_profile = "crio-default"
cgroup_manager = "cgroupfs"
default_capabilities = ["CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "SETGID", "SETUID", "SETPCAP", "NET_BIND_SERVICE", "KILL"]
default_sysctls = []
allowed_devices = ["/dev/fuse", "/dev/net/tun"]
additional_devices = []
hooks_dir = ["/usr/share/containers/oci/hooks.d"]
default_mounts_file = ""
pids_limit = -1
log_size_max = -1
log_to_journald = false
container_exits_dir = "/var/run/crio/exits"
container_attach_socket_dir = "/var/run/crio"
bind_mount_prefix = ""
read_only = false
log_level = "info"
log_filter = ""
uid_mappings = ""
gid_mappings = ""
ctr_stop_timeout = 30
drop_infra_ctr = true
infra_ctr_cpuset = ""
namespaces_dir = "/var/run"
pinns_path = ""
absent_mount_sources_to_reject = []
enable_criu_support = false
enable_pod_events = false

[crio.runtime.runtimes.runc]
runtime_path = ""
runtime_type = "oci"
runtime_root = "/run/runc"
runtime_config_path = ""
monitor_path = ""
monitor_cgroup = "pod"
monitor_exec_cgroup = ""
monitor_env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
allowed_annotations = ["io.kubernetes.cri-o.Devices"]
privileged_without_host_devices = false

[crio.image]
default_transport = "docker://"
global_auth_file = ""
pause_image = "registry.k8s.io/pause:3.9"
pause_image_auth_file = ""
pause_command = "/pause"
pinned_images = ["registry.k8s.io/pause:3.9"]
signature_policy = ""
signature_policy_dir = "/etc/crio/policies"
insecure_registries = []
image_volumes = "mkdir"
big_files_temporary_dir = ""
pull_progress_timeout = "0s"

[crio.network]
cni_default_network = ""
network_dir = "/etc/cni/net.d/"
plugin_dirs = ["/opt/cni/bin/"]

[crio.metrics]
enable_metrics = false
metrics_collectors = ["operations", "image_pulls_failures"]
metrics_host = "127.0.0.1"
metrics_port = 9090
metrics_socket = ""
metrics_cert = ""
metrics_key = ""

[crio.tracing]
enable_tracing = false
tracing_endpoint = "0.0.0.0:4317"

[crio.stats]
stats_collection_period = 0

[crio.nri]
enable_nri = false
)");
  std::vector<std::string> warnings;
  auto c = load(sources_in(dir), &warnings);
  INFO(c.status().message());
  REQUIRE(c.ok());
  CHECK(c->cgroup_manager == "cgroupfs");
  CHECK(c->storage_driver == "overlay");
  CHECK(c->runtimes.at("runc").runtime_path.empty());
  CHECK(c->runtimes.at("runc").monitor_cgroup == "pod");
  CHECK(c->decryption_keys_path == "/etc/crio/keys/");
  std::string file = dir / "crio.conf";
  // A systemd host's shape loads (whether this host has systemd is start-up's concern):
  // the handlers' default conmon cgroup becomes system.slice, as in CRI-O.
  write_file(dir / "crio.conf.d/90-systemd.conf", "[crio.runtime]\ncgroup_manager = \"systemd\"\n");
  auto systemd = load(sources_in(dir), nullptr);
  INFO(systemd.status().message());
  REQUIRE(systemd.ok());
  CHECK(systemd->cgroup_manager == "systemd");
  CHECK(systemd->runtimes.at("runc").monitor_cgroup == "pod");
  std::filesystem::remove(dir / "crio.conf.d/90-systemd.conf");
  auto not_implemented = [](const std::string& dotted) {
    return dotted + " is CRI-O's default, and what this daemon does";
  };
  CHECK(warnings == std::vector<std::string>{
                        file + ":70: " + not_implemented("crio.runtime.runtimes.runc.monitor_exec_cgroup"),
                        file + ":104: " + not_implemented("crio.tracing.enable_tracing"),
                        file + ":105: " + not_implemented("crio.tracing.tracing_endpoint"),
                        file + ":111: " + not_implemented("crio.nri.enable_nri"),
                    });
}

TEST_CASE("workload tables are read, checked as CRI-O checks them and printed back") {
  TempDir dir;
  write_file(dir / "crio.conf",
             "[crio.runtime.workloads.management]\n"
             "activation_annotation = \"workload.openshift.io/management\"\n"
             "annotation_prefix = \"io.openshift.workload.management\"\n"
             "allowed_annotations = [\"io.kubernetes.cri-o.ShmSize\"]\n"
             "[crio.runtime.workloads.management.resources]\n"
             "cpushares = 200\n"
             "cpuset = \"0-1\"\n"
             "cpuperiod = 100000\n"
             "cpulimit = 500\n");
  auto c = load(sources_in(dir));
  INFO(c.status().message());
  REQUIRE(c.ok());
  REQUIRE(c->workloads.count("management"));
  const auto& w = c->workloads.at("management");
  CHECK(w.activation_annotation == "workload.openshift.io/management");
  CHECK(w.annotation_prefix == "io.openshift.workload.management");
  CHECK(w.allowed_annotations == std::vector<std::string>{"io.kubernetes.cri-o.ShmSize"});
  CHECK(w.resources.cpushares == 200);
  CHECK(w.resources.cpuset == "0-1");
  CHECK(w.resources.cpuperiod == 100000);
  CHECK(w.resources.cpulimit == 500);

  Config back = crio::core::default_config();
  std::vector<std::string> warnings;
  REQUIRE(crio::core::apply_toml(back, crio::core::to_toml(*c), "generated", warnings).ok());
  CHECK(back == *c);

  auto error_for = [&](const std::string& text) {
    write_file(dir / "crio.conf", text);
    auto bad = load(sources_in(dir));
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == Code::kInvalidArgument);
    return bad.status().message();
  };
  CHECK_THAT(error_for("[crio.runtime.workloads.w]\nannotation_prefix = \"p\"\n"),
             Catch::Contains("crio.runtime.workloads.w.activation_annotation: must not be empty"));
  CHECK_THAT(error_for("[crio.runtime.workloads.w]\nactivation_annotation = \"a\"\nallowed_annotations = [\"x.y\"]\n"),
             Catch::Contains("\"x.y\" is not an annotation crio can allow"));
  // CRI-O's allowable annotations that crio does not act on load, as CRI-O's
  // configurations name them, with a warning that pods carrying them are refused.
  write_file(dir / "crio.conf", "[crio.runtime.workloads.userns]\n"
                                "activation_annotation = \"io.kubernetes.cri-o.userns-mode\"\n"
                                "allowed_annotations = [\"io.kubernetes.cri-o.userns-mode\"]\n"
                                "[crio.runtime.runtimes.runc]\nallowed_annotations = [\"io.containers.trace-syscall\"]\n");
  warnings.clear();
  auto allowing = crio::core::load_config(sources_in(dir), warnings);
  INFO(allowing.status().message());
  REQUIRE(allowing.ok());
  auto warned = [&](const std::string& text) {
    return std::any_of(warnings.begin(), warnings.end(), [&](const std::string& w) { return w.find(text) != std::string::npos; });
  };
  CHECK(warned("crio.runtime.workloads.userns.allowed_annotations: \"io.kubernetes.cri-o.userns-mode\" is allowed, "
               "but crio does not act on it"));
  CHECK(warned("crio.runtime.runtimes.runc.allowed_annotations: \"io.containers.trace-syscall\""));
  CHECK_FALSE(warned("io.kubernetes.cri-o.ShmSize"));
  CHECK_THAT(error_for("[crio.runtime.workloads.w]\nactivation_annotation = \"a\"\n"
                       "[crio.runtime.workloads.w.resources]\ncpuset = \"zero\"\n"),
             Catch::Contains("crio.runtime.workloads.w.resources.cpuset"));
  CHECK_THAT(error_for("[crio.runtime.workloads.w]\nactivation_annotation = \"a\"\n"
                       "[crio.runtime.workloads.w.resources]\ncpushares = 200\ncpuquota = 100\n"),
             Catch::Contains("cpuquota: 100 is less than cpushares 200"));
  CHECK_THAT(error_for("[crio.runtime.workloads.w]\nactivation_annotation = \"a\"\n"
                       "[crio.runtime.workloads.w.resources]\ncpuperiod = 10\n"),
             Catch::Contains("cpuperiod: 10 is less than 1000 microseconds"));
  CHECK_THAT(error_for("[crio.runtime.workloads.w]\nactivation_annotation = \"a\"\n"
                       "[crio.runtime.workloads.w.resources]\ncpushares = \"lots\"\n"),
             Catch::Contains("crio.runtime.workloads.w.resources.cpushares: expected an integer"));
}

TEST_CASE("CRI-O options this daemon lacks are refused unless they hold CRI-O's default") {
  TempDir dir;
  std::vector<std::pair<std::string, std::string>> cases = {
      {"[crio.runtime]\nshared_cpuset = \"0-1\"\n", "crio.runtime.shared_cpuset"},
      {"[crio.runtime]\ncdi_spec_dirs = [\"/etc/cdi\"]\n", "crio.runtime.cdi_spec_dirs"},
      {"[crio.nri]\nenable_nri = true\n", "crio.nri.enable_nri"},
      {"[crio.runtime.runtimes.runc]\nmonitor_exec_cgroup = \"exec.slice\"\n",
       "crio.runtime.runtimes.runc.monitor_exec_cgroup"},
  };
  for (const auto& [text, dotted] : cases) {
    INFO(text);
    write_file(dir / "crio.conf", text);
    auto c = load(sources_in(dir));
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().code() == crio::Code::kInvalidArgument);
    CHECK_THAT(c.status().message(), Catch::Contains(dotted + ": only CRI-O's default"));
  }
  // The defaults themselves load, with a note each.
  write_file(dir / "crio.conf",
             "[crio.runtime]\nblockio_reload = false\n"
             "minimum_mappable_uid = -1\n[crio.nri]\nnri_plugin_request_timeout = \"2s\"\n");
  std::vector<std::string> warnings;
  auto c = load(sources_in(dir), &warnings);
  INFO(c.status().message());
  REQUIRE(c.ok());
  CHECK(warnings.size() == 3);
}

TEST_CASE("decryption_keys_path takes any directory, as in CRI-O") {
  TempDir dir;
  write_file(dir / "crio.conf", "[crio.runtime]\ndecryption_keys_path = \"/srv/keys\"\n");
  std::vector<std::string> warnings;
  auto c = load(sources_in(dir), &warnings);
  INFO(c.status().message());
  REQUIRE(c.ok());
  CHECK(c->decryption_keys_path == "/srv/keys");
  CHECK(warnings.empty());
}

TEST_CASE("default_sysctls with spaces around the name or value stop start-up, as in CRI-O") {
  TempDir dir;
  write_file(dir / "crio.conf", "[crio.runtime]\ndefault_sysctls = [\"net.ipv4.ip_forward = 1\"]\n");
  auto c = load(sources_in(dir));
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == crio::Code::kInvalidArgument);
  CHECK_THAT(c.status().message(), Catch::Contains("crio.runtime.default_sysctls"));
  CHECK_THAT(c.status().message(), Catch::Contains("spaces"));
  write_file(dir / "crio.conf", "[crio.runtime]\ndefault_sysctls = [\"net.ipv4.ip_forward=1\"]\n");
  CHECK(load(sources_in(dir)).ok());
}
