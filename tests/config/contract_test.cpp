// The option contract (option_contract.hpp) held against the option table, and the
// behaviour of the options the configuration layer itself implements: the monitor
// fields CRI-O derives from conmon*, `crio config`'s commented output, CRI-O's own
// options with a wrong type, log_filter, the irqbalance restore and the start-up checks.

#include <crio/core/config.hpp>
#include <crio/core/log.hpp>

#include <fmt/format.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "option_contract.hpp"
#include "temp_dir.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

using crio::core::Config;
using crio::core::ConfigSources;
using crio::test::OptionContract;
using crio::test::TempDir;
using crio::test::write_file;
namespace stdfs = std::filesystem;

namespace {

ConfigSources sources_in(const TempDir& dir) {
  ConfigSources s;
  s.config_file = dir / "crio.conf";
  s.config_dir = dir / "crio.conf.d";
  s.storage_conf = dir / "storage.conf";
  return s;
}

crio::Result<Config> load(const ConfigSources& s) {
  std::vector<std::string> warnings;
  return crio::core::load_config(s, warnings);
}

// Every TEST_CASE name in the tests' sources.
std::set<std::string> test_case_names() {
  std::set<std::string> names;
  for (auto& e : stdfs::recursive_directory_iterator(CRIO_TESTS_SOURCE_DIR)) {
    auto ext = e.path().extension();
    if (!e.is_regular_file() || (ext != ".cpp" && ext != ".hpp")) continue;
    std::string text = crio::test::read_file(e.path().string());
    const std::string macro = "TEST_CASE(";
    for (size_t pos = text.find(macro); pos != std::string::npos; pos = text.find(macro, pos + 1)) {
      // The name is the string right after the parenthesis (TEST_CASE_METHOD's comes later).
      if (pos > 0 && text[pos - 1] == '"') continue;  // this very search
      size_t open = text.find_first_not_of(" \n", pos + macro.size());
      if (open == std::string::npos || text[open] != '"') continue;
      size_t close = text.find('"', open + 1);
      if (close != std::string::npos) names.insert(text.substr(open + 1, close - open - 1));
    }
  }
  return names;
}

// Captures what the logger writes to stderr while it lives.
class StderrCapture {
 public:
  StderrCapture() : path_(dir_ / "stderr") {
    saved_ = ::dup(STDERR_FILENO);
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~StderrCapture() { restore(); }
  std::string text() {
    restore();
    return crio::test::read_file(path_);
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  TempDir dir_;
  std::string path_;
  int saved_ = -1;
};

}  // namespace

TEST_CASE("every test name is one CTest entry: no semicolon, no leading dash") {
  // The build registers each test case as a CTest entry by name; CTest splits a name at
  // ';' and takes a leading '-' for an option, and the halves then match no test.
  for (const auto& name : test_case_names()) {
    INFO(name);
    CHECK(name.find(';') == std::string::npos);
    CHECK_FALSE(name.starts_with("-"));
  }
}

TEST_CASE("every crio.conf option keeps its contract: a behaviour test or a refusal") {
  // Strict unless a branch with work in flight says otherwise: a new key without a test
  // or a refusal fails CI.
  bool strict =
      !std::getenv("CRIO_OPTION_CONTRACT_STRICT") || std::string(std::getenv("CRIO_OPTION_CONTRACT_STRICT")) != "0";
  std::map<std::string, const OptionContract*> by_option;
  for (const auto& c : crio::test::option_contracts()) {
    INFO(c.option);
    CHECK(by_option.emplace(std::string(c.option), &c).second);  // one line per option
  }
  std::set<std::string> names = test_case_names();
  std::vector<std::string> open_items;
  Config defaults = crio::core::default_config();

  for (const auto& o : crio::core::config_options()) {
    INFO(o.dotted());
    auto it = by_option.find(o.dotted());
    REQUIRE(it != by_option.end());  // a new option needs its line in option_contract.cpp
    const OptionContract& c = *it->second;
    switch (c.kind) {
      case OptionContract::kTest: {
        INFO("test: " << c.detail);
        CHECK(names.count(std::string(c.detail)));
        break;
      }
      case OptionContract::kRefused: {
        TempDir dir;
        bool handler = o.table == crio::core::kRuntimeHandlerTable;
        std::string dotted = handler ? "crio.runtime.runtimes.contract." + o.key : o.dotted();
        std::string table = handler ? "crio.runtime.runtimes.contract" : o.table;
        write_file(dir / "crio.conf", fmt::format("[{}]\n{} = {}\n", table, o.key, c.detail));
        INFO("value: " << c.detail);
        CHECK(std::string(c.detail) != o.default_value);
        auto loaded = load(sources_in(dir));
        REQUIRE_FALSE(loaded.ok());
        CHECK(loaded.status().code() == crio::Code::kInvalidArgument);
        INFO(loaded.status().message());
        // Refused for what it means, not for its form: the error is at the option.
        CHECK(loaded.status().message().rfind(dir / "crio.conf:2: " + dotted + ": ", 0) == 0);
        break;
      }
      case OptionContract::kPending:
      case OptionContract::kUntested:
        open_items.push_back(fmt::format("{} ({}: {})", o.dotted(),
                                         c.kind == OptionContract::kPending ? "pending" : "untested", c.detail));
        break;
    }
    by_option.erase(it);
  }
  for (auto& [option, c] : by_option) {
    INFO("no such option: " << option);
    CHECK(false);
  }
  if (strict) {
    std::string list;
    for (auto& item : open_items) list += "\n  " + item;
    INFO("options without a behaviour test or a refusal:" << list);
    CHECK(open_items.empty());
  }
}

TEST_CASE("conmon, conmon_cgroup and conmon_env are copied over the oci handlers' monitor fields") {
  TempDir dir;
  write_file(dir / "crio.conf", R"([crio.runtime]
conmon = "/opt/bin/conmon"
conmon_env = ["PATH=/opt/bin"]

[crio.runtime.runtimes.own]
runtime_path = "/usr/bin/own"
monitor_path = "/usr/libexec/own-monitor"
monitor_env = ["A=1"]
)");
  auto c = load(sources_in(dir));
  INFO(c.status().message());
  REQUIRE(c.ok());
  for (const auto& [name, h] : c->runtimes) {
    INFO(name);
    // As CRI-O: the deprecated [crio.runtime] fields win over each handler's.
    CHECK(h.monitor_path == "/opt/bin/conmon");
    CHECK(h.monitor_env == std::vector<std::string>{"PATH=/opt/bin"});
    CHECK(h.monitor_cgroup == "pod");
  }

  SECTION("unset, each handler keeps its own; an empty monitor_cgroup means pod") {
    write_file(dir / "crio.conf", "[crio.runtime.runtimes.own]\nmonitor_path = \"/usr/libexec/own-monitor\"\n");
    auto own = load(sources_in(dir));
    REQUIRE(own.ok());
    CHECK(own->runtimes.at("own").monitor_path == "/usr/libexec/own-monitor");
    CHECK(own->runtimes.at("own").monitor_cgroup == "pod");
    CHECK(own->runtimes.at("runc").monitor_path.empty());
  }
  SECTION("a flag reaches every handler, and an error in the copy points at the flag") {
    auto s = sources_in(dir);
    s.flags = {{"conmon", {"/flag/conmon"}}};
    auto flagged = load(s);
    REQUIRE(flagged.ok());
    CHECK(flagged->runtimes.at("runc").monitor_path == "/flag/conmon");
    CHECK(flagged->runtimes.at("own").monitor_path == "/flag/conmon");
    s.flags = {{"conmon_cgroup", {"system.slice"}}};
    auto bad = load(s);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().message().rfind("command line flag --conmon-cgroup: crio.runtime.conmon_cgroup:", 0) == 0);
  }
}

TEST_CASE("The runtimes flag replaces handlers with CRI-O's name:path:root:type:privileged:config_path entries") {
  TempDir dir;
  auto s = sources_in(dir);
  s.runtimes = {"runc:/usr/local/sbin/runc:/run/test-runc:oci::", "fast:/usr/bin/crun:/run/fast:oci:true,slow:/x:/y"};
  auto c = load(s);
  INFO(c.status().message());
  REQUIRE(c.ok());
  const auto& runc = c->runtimes.at("runc");
  CHECK(runc.runtime_path == "/usr/local/sbin/runc");
  CHECK(runc.runtime_root == "/run/test-runc");
  CHECK(runc.monitor_env.empty());  // replaced whole, like CRI-O's new handler
  CHECK(c->runtimes.at("fast").privileged_without_host_devices);
  CHECK(c->runtimes.at("slow").runtime_type == "oci");
  CHECK(c->runtimes.count("crun"));

  s.runtimes = {"only-a-name:/x"};
  auto bad = load(s);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().rfind("command line flag --runtimes: \"only-a-name:/x\" is not of the form", 0) == 0);
  s.runtimes = {"vm:/usr/bin/kata:/run/kata:vm"};
  bad = load(s);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() ==
        "command line flag --runtimes: crio.runtime.runtimes.vm.runtime_type: \"vm\" handlers are not supported; only "
        "\"oci\" runtimes (runc, crun) run here");
}

TEST_CASE("`crio config` output comments out the defaults and loads back as a drop-in") {
  Config defaults = crio::core::default_config();
  std::string text = crio::core::to_commented_toml(defaults, defaults);
  // What CRI-O's own test checks: nothing but comments and table headers.
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    INFO(line);
    CHECK((line.empty() || line[0] == '#' || line[0] == '['));
  }

  Config changed = defaults;
  changed.pids_limit = 1234;
  changed.runtimes["runc"].runtime_root = "/run/elsewhere";
  text = crio::core::to_commented_toml(changed, defaults);
  CHECK(text.find("\npids_limit = 1234\n") != std::string::npos);
  CHECK(text.find("\n# log_level = \"info\"\n") != std::string::npos);
  // A changed handler uncomments all of them, as CRI-O compares the whole table.
  CHECK(text.find("\n[crio.runtime.runtimes.runc]\n") != std::string::npos);
  CHECK(text.find("\n[crio.runtime.runtimes.crun]\n") != std::string::npos);

  TempDir dir;
  write_file(dir / "crio.conf", "[crio.runtime]\npids_limit = 99\nlog_level = \"debug\"\n");
  write_file(dir / "crio.conf.d/00-printed", text);
  auto back = load(sources_in(dir));
  INFO(back.status().message());
  REQUIRE(back.ok());
  CHECK(back->pids_limit == 1234);    // set in the drop-in
  CHECK(back->log_level == "debug");  // commented out in the drop-in: the file's value stays
  CHECK(back->runtimes == changed.runtimes);
}

TEST_CASE("CRI-O's own options this daemon lacks are still type-checked") {
  TempDir dir;
  std::string file = dir / "crio.conf";
  auto error_for = [&](const std::string& text) {
    write_file(file, text);
    auto c = load(sources_in(dir));
    REQUIRE_FALSE(c.ok());
    return c.status().message();
  };
  CHECK(error_for("[crio.runtime]\nenable_pod_events = \"on\"\n") ==
        file + ":2: crio.runtime.enable_pod_events: expected a boolean, found a string");
  CHECK(error_for("[crio.runtime]\ndisable_hostport_mapping = \"no\"\n") ==
        file + ":2: crio.runtime.disable_hostport_mapping: expected a boolean, found a string");
  CHECK(error_for("[crio.nri]\nnri_plugin_request_timeout = \"soon\"\n")
            .find("crio.nri.nri_plugin_request_timeout: \"soon\" is not a duration") != std::string::npos);
  CHECK(error_for("[crio.runtime.runtimes.runc]\ncontainer_min_memory = 12\n") ==
        file + ":2: crio.runtime.runtimes.runc.container_min_memory: expected a string, found an integer");

  write_file(file, "[crio.runtime.workloads.userns]\nactivation_annotation = \"x\"\n");
  auto nil_workloads = load(sources_in(dir));
  CHECK(nil_workloads.ok());
}

TEST_CASE("A named configuration file must exist, and empty -c and -d read none") {
  TempDir dir;
  auto s = sources_in(dir);
  s.config_file_named = true;
  auto missing = load(s);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message() == "config file " + (dir / "crio.conf") + ": no such file");

  write_file(dir / "elsewhere.conf", "[crio.runtime]\npids_limit = 7\n");
  write_file(dir / "crio.conf.d/x", "[crio.runtime]\npids_limit = 8\n");
  s.config_file = "";
  s.config_dir = "";
  auto none = load(s);
  REQUIRE(none.ok());
  CHECK(none->pids_limit == -1);
}

TEST_CASE("log_filter keeps only the messages that match and is replaced on reload") {
  using namespace crio;
  StderrCapture capture;
  REQUIRE(log::set_filter("request.*").ok());
  log::error("request: RunPodSandbox");
  log::error("something else entirely");
  REQUIRE(log::set_filter("else").ok());  // what a SIGHUP reload does
  log::info("request: Version");
  log::info("something else again");
  REQUIRE(log::set_filter("").ok());
  log::info("unfiltered");
  CHECK_FALSE(log::set_filter("(unclosed").ok());
  std::string out = capture.text();
  CHECK(out.find("request: RunPodSandbox") != std::string::npos);
  CHECK(out.find("something else entirely") == std::string::npos);
  CHECK(out.find("request: Version") == std::string::npos);
  CHECK(out.find("something else again") != std::string::npos);
  CHECK(out.find("unfiltered") != std::string::npos);

  // And a bad expression in crio.conf stops start-up at its line.
  TempDir dir;
  write_file(dir / "crio.conf", "[crio.runtime]\nlog_filter = \"(unclosed\"\n");
  auto c = load(sources_in(dir));
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().rfind(dir / "crio.conf:2: crio.runtime.log_filter: custom log level filter does not "
                                         "compile: \"(unclosed\"",
                                   0) == 0);
}

TEST_CASE("irqbalance restore: the banned CPUs are saved after a boot and written back when they changed") {
  TempDir dir;
  std::string config = dir / "irqbalance", restore = dir / "orig_banned_cpus", affinity = dir / "smp_affinity";
  write_file(config, "# irqbalance\nIRQBALANCE_ONESHOT=0\nIRQBALANCE_BANNED_CPUS=\"00000004\"\n");

  // Not after a boot (a CPU is banned from interrupts): nothing is touched.
  write_file(affinity, "fb\n");
  auto r = crio::core::restore_irqbalance_config(config, restore, affinity);
  REQUIRE(r.ok());
  CHECK_FALSE(stdfs::exists(restore));

  // After a boot, with no saved mask: the current one is saved.
  write_file(affinity, "ff,ffffffff\n");
  r = crio::core::restore_irqbalance_config(config, restore, affinity);
  REQUIRE(r.ok());
  CHECK(crio::test::read_file(restore) == "00000004");

  // Someone changed the banned CPUs: the saved mask is written back, the rest kept.
  write_file(config, "# irqbalance\nIRQBALANCE_ONESHOT=0\nIRQBALANCE_BANNED_CPUS=\"0000000c\"\n");
  r = crio::core::restore_irqbalance_config(config, restore, affinity);
  REQUIRE(r.ok());
  CHECK(crio::test::read_file(config) == "# irqbalance\nIRQBALANCE_ONESHOT=0\nIRQBALANCE_BANNED_CPUS=\"00000004\"\n");

  // No irqbalance on the host: nothing to do, not an error.
  r = crio::core::restore_irqbalance_config(dir / "none", dir / "none-saved", affinity);
  REQUIRE(r.ok());
  CHECK_FALSE(stdfs::exists(dir / "none-saved"));

  // A mask that is not one is an error naming the file.
  write_file(affinity, "zz\n");
  r = crio::core::restore_irqbalance_config(config, restore, affinity);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find(affinity) != std::string::npos);
}

TEST_CASE("prepare_for_execution: conmon from $PATH, pinns_path checked, AppArmor disabled where the host has none") {
  Config c = crio::core::default_config();
  std::vector<std::string> notes;
  REQUIRE(crio::core::prepare_for_execution(c, notes).ok());
  CHECK(c.runtimes.at("runc").monitor_path == "/usr/bin/conmon");
  bool apparmor = stdfs::exists("/sys/module/apparmor/parameters/enabled") &&
                  crio::test::read_file("/sys/module/apparmor/parameters/enabled").rfind("Y", 0) == 0;
  if (!apparmor) {
    REQUIRE(notes.size() == 1);
    CHECK(notes[0].find("AppArmor is not enabled on this host") != std::string::npos);
    CHECK(notes[0].find("crio-default") != std::string::npos);
  }

  TempDir dir;
  c = crio::core::default_config();
  c.pinns_path = dir / "pinns";
  auto st = crio::core::prepare_for_execution(c, notes);
  CHECK(st.message() == "crio.runtime.pinns_path: " + (dir / "pinns") + " is not an executable file");
  write_file(dir / "pinns", "#!/bin/sh\n");
  ::chmod((dir / "pinns").c_str(), 0755);
  CHECK(crio::core::prepare_for_execution(c, notes).ok());

  c.runtimes.at("runc").monitor_path = dir / "no-conmon";
  st = crio::core::prepare_for_execution(c, notes);
  CHECK(st.message() ==
        "crio.runtime.runtimes.runc.monitor_path: " + (dir / "no-conmon") + " is not an executable file");
}

TEST_CASE("the metrics options are unused while enable_metrics is false, as in CRI-O") {
  TempDir dir;
  write_file(dir / "crio.conf", R"([crio.metrics]
metrics_collectors = ["operations"]
metrics_host = "0.0.0.0"
metrics_port = 9537
metrics_socket = "/run/metrics.sock"
metrics_cert = "/etc/metrics.crt"
metrics_key = "/etc/metrics.key"
)");
  auto c = load(sources_in(dir));
  INFO(c.status().message());
  REQUIRE(c.ok());
  CHECK_FALSE(c->enable_metrics);

  write_file(dir / "crio.conf.d/10-on.conf", "[crio.metrics]\nenable_metrics = true\n");
  auto on = load(sources_in(dir));
  INFO(on.status().message());
  CHECK(on.ok());
}

TEST_CASE("metrics_collectors takes CRI-O's collector names, with or without their prefixes, and no other") {
  TempDir dir;
  write_file(dir / "crio.conf", R"([crio.metrics]
metrics_collectors = ["operations_total", "crio_processes_defunct", "container_runtime_crio_image_pulls_successes"]
)");
  auto c = load(sources_in(dir));
  INFO(c.status().message());
  REQUIRE(c.ok());
  CHECK(crio::core::default_config().metrics_collectors == crio::core::metric_collector_names());
  CHECK(crio::core::metric_collector_names().size() == 30);  // CRI-O's 28 and crio's 2

  write_file(dir / "crio.conf", "[crio.metrics]\nmetrics_collectors = [\"operations\", \"nope\"]\n");
  auto bad = load(sources_in(dir));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().rfind(dir / "crio.conf:2: crio.metrics.metrics_collectors: \"nope\" is not a metrics "
                                         "collector; the collectors are operations, ",
                                     0) == 0);
}

TEST_CASE("ctr_stop_timeout below 30 is raised to 30 with a warning naming it, as CRI-O does") {
  TempDir dir;
  write_file(dir / "crio.conf", "[crio.runtime]\nctr_stop_timeout = 5\n");
  std::vector<std::string> warnings;
  auto c = crio::core::load_config(sources_in(dir), warnings);
  REQUIRE(c.ok());
  CHECK(c->ctr_stop_timeout == 30);
  CHECK(warnings == std::vector<std::string>{dir / "crio.conf:2: crio.runtime.ctr_stop_timeout: 5 is below the lowest "
                                                   "possible value; using 30"});
  write_file(dir / "crio.conf", "[crio.runtime]\nctr_stop_timeout = 45\n");
  warnings.clear();
  c = crio::core::load_config(sources_in(dir), warnings);
  REQUIRE(c.ok());
  CHECK(c->ctr_stop_timeout == 45);
  CHECK(warnings.empty());
}

TEST_CASE("storage_option: what the store does not implement is refused at the key, per driver") {
  TempDir dir;
  auto message_for = [&](const std::string& text) {
    write_file(dir / "crio.conf", text);
    auto c = load(sources_in(dir));
    return c.ok() ? std::string("loaded") : c.status().message();
  };
  CHECK(message_for("[crio]\nstorage_option = [\"overlay.mountopt=nodev,noexec\", \"mount_program=/usr/bin/f\"]\n") ==
        "loaded");
  CHECK(message_for("[crio]\nstorage_driver = \"vfs\"\nstorage_option = [\"vfs.ignore_chown_errors=false\"]\n") ==
        "loaded");
  CHECK(message_for("[crio]\nstorage_option = [\"overlay.size=10G\"]\n") ==
        dir / "crio.conf:2: crio.storage_option: \"overlay.size=10G\" is not supported by the overlay driver here (it "
              "takes overlay.mountopt and overlay.mount_program); remove it");
  CHECK(message_for("[crio]\nstorage_driver = \"vfs\"\nstorage_option = [\"overlay.mountopt=nodev\"]\n")
            .rfind(dir / "crio.conf:3: crio.storage_option: \"overlay.mountopt=nodev\" is not supported by the vfs "
                         "driver here",
                   0) == 0);
  CHECK(message_for("[crio]\nstorage_driver = \"vfs\"\nstorage_option = [\"vfs.ignore_chown_errors=true\"]\n") !=
        "loaded");
}

TEST_CASE("log lines in JSON, as CRI-O's --log-format json, and to a file, as its --log") {
  using namespace crio;
  TempDir dir;
  const std::string file = dir / "crio.log";
  REQUIRE(log::set_output_file(file).ok());
  log::set_format(log::Format::kJson);
  log::warn("pulled \"image\"", {{"id", "sha256:ab"}, {"bytes", 42}});
  log::set_format(log::Format::kText);
  log::info("back to text", {{"socket", "/run/crio.sock"}});
  REQUIRE(log::set_output_file("").ok());

  std::istringstream lines(crio::test::read_file(file));
  std::string json_text, text;
  REQUIRE(std::getline(lines, json_text));
  REQUIRE(std::getline(lines, text));
  auto j = nlohmann::json::parse(json_text);
  CHECK(j["level"] == "warning");
  CHECK(j["msg"] == "pulled \"image\"");
  CHECK(j["id"] == "sha256:ab");
  CHECK(j["bytes"] == "42");
  CHECK(j["time"].get<std::string>().size() == 27);  // 2026-11-28T05:41:38.123456Z
  // Keys in Go's order for a map: sorted.
  CHECK(json_text.find("\"bytes\"") < json_text.find("\"id\""));
  CHECK(json_text.find("\"level\"") < json_text.find("\"msg\""));
  CHECK(text.find("level=info msg=\"back to text\" socket=/run/crio.sock") != std::string::npos);

  CHECK(log::parse_format("json").ok());
  CHECK(log::parse_format("yaml").status().message() == "unknown log-format \"yaml\" (text or json)");
  auto unwritable = log::set_output_file(dir / "no/such/dir/crio.log");
  REQUIRE_FALSE(unwritable.ok());
  CHECK_THAT(unwritable.message(), Catch::Contains("opening the log file"));
}
