// The daemon's command line: flags named as crio(8), subcommands, precedence over files.

#include "cli.hpp"
#include "cli_docs.hpp"

#include <catch2/catch.hpp>

#include "temp_dir.hpp"

#include <cstdlib>
#include <map>
#include <optional>

using crio::Code;
using crio::daemon::CommandLine;
using crio::daemon::parse_command_line;
using crio::test::TempDir;
using crio::test::write_file;

namespace {

// Runs parse_command_line on a fresh configuration directory: `-c DIR/crio.conf -d
// DIR/crio.conf.d` come first, and storage.conf is pointed at DIR so that the
// machine's files never leak in.
class Cli {
 public:
  Cli() : storage_(dir_ / "storage.conf") {
    if (const char* old = std::getenv("CONTAINERS_STORAGE_CONF")) old_env_ = old;
    ::setenv("CONTAINERS_STORAGE_CONF", storage_.c_str(), 1);
    // -c names the file, so it must exist (as in CRI-O); tests overwrite it at will.
    write_file(dir_ / "crio.conf", "");
  }
  ~Cli() {
    if (old_env_)
      ::setenv("CONTAINERS_STORAGE_CONF", old_env_->c_str(), 1);
    else
      ::unsetenv("CONTAINERS_STORAGE_CONF");
  }

  crio::Result<CommandLine> run(std::vector<std::string> args, bool with_files = true) {
    std::vector<std::string> all = {"crio"};
    if (with_files) {
      all.insert(all.end(), {"-c", dir_ / "crio.conf", "--config-dir", dir_ / "crio.conf.d"});
    }
    all.insert(all.end(), args.begin(), args.end());
    std::vector<const char*> argv;
    for (auto& a : all) argv.push_back(a.c_str());
    return parse_command_line(static_cast<int>(argv.size()), argv.data());
  }

  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  std::string storage_;
  std::optional<std::string> old_env_;
};

}  // namespace

TEST_CASE("cli: no arguments serves with the configuration from the files") {
  Cli cli;
  write_file(cli.dir() / "crio.conf", "[crio.runtime]\nlog_level = \"debug\"\nbogus = 1\n");
  auto cl = cli.run({});
  INFO(cl.status().message());
  REQUIRE(cl.ok());
  CHECK(cl->command == CommandLine::Command::kServe);
  CHECK(cl->config.log_level == "debug");
  CHECK(cl->sources.config_file == cli.dir() / "crio.conf");
  CHECK(cl->sources.config_dir == cli.dir() / "crio.conf.d");
  REQUIRE(cl->warnings.size() == 1);
  CHECK(cl->warnings[0] == cli.dir() / "crio.conf" + ":3: unknown key crio.runtime.bogus");
}

TEST_CASE("cli: flags override the files and are kept for reload") {
  Cli cli;
  write_file(cli.dir() / "crio.conf", "[crio.runtime]\nlog_level = \"debug\"\n");
  write_file(cli.dir() / "crio.conf.d/10.conf", "[crio.runtime]\nlog_level = \"warn\"\n");
  auto cl = cli.run({"--log-level",
                     "error",
                     "-r",
                     "/srv/root",
                     "--runroot=/run/rr",
                     "-s",
                     "vfs",
                     "--storage-opt",
                     "vfs.ignore_chown_errors=false",
                     "--read-only",
                     "--drop-infra-ctr=false",
                     "--hooks-dir",
                     "/h1",
                     "--hooks-dir=/h2,/h3",
                     "--pids-limit",
                     "9100",
                     "--cni-plugin-dir",
                     "/usr/lib/cni",
                     "--insecure-registry",
                     "localhost:5000"});
  INFO(cl.status().message());
  REQUIRE(cl.ok());
  const auto& c = cl->config;
  CHECK(c.log_level == "error");
  CHECK(c.root == "/srv/root");
  CHECK(c.runroot == "/run/rr");
  CHECK(c.storage_driver == "vfs");
  CHECK(c.storage_option == std::vector<std::string>{"vfs.ignore_chown_errors=false"});
  CHECK(c.read_only);
  CHECK_FALSE(c.drop_infra_ctr);
  CHECK(c.hooks_dir == std::vector<std::string>{"/h1", "/h2", "/h3"});
  CHECK(c.pids_limit == 9100);
  CHECK(c.plugin_dirs == std::vector<std::string>{"/usr/lib/cni"});
  CHECK(c.insecure_registries == std::vector<std::string>{"localhost:5000"});

  // A reload from the kept sources gives the same configuration.
  std::vector<std::string> warnings;
  auto again = crio::core::load_config(cl->sources, warnings);
  REQUIRE(again.ok());
  CHECK(*again == c);
}

TEST_CASE("cli: flags before a subcommand, and status arguments untouched") {
  Cli cli;
  auto cl = cli.run({"-l", "debug", "config"});
  REQUIRE(cl.ok());
  CHECK(cl->command == CommandLine::Command::kConfig);
  CHECK(cl->config.log_level == "debug");
  CHECK(cl->rest.empty());

  auto st = cli.run({"--listen", "/run/x.sock", "status", "--socket", "/run/x.sock", "containers", "--id", "abc",
                     "--log-level", "-v"});
  INFO(st.status().message());
  REQUIRE(st.ok());
  CHECK(st->command == CommandLine::Command::kStatus);
  CHECK(st->rest ==
        std::vector<std::string>{"--socket", "/run/x.sock", "containers", "--id", "abc", "--log-level", "-v"});
  CHECK(st->config.listen == "/run/x.sock");

  auto v = cli.run({"version", "--json"});
  REQUIRE(v.ok());
  CHECK(v->command == CommandLine::Command::kVersion);
  CHECK(v->rest == std::vector<std::string>{"--json"});

  auto h = cli.run({"help"});
  REQUIRE(h.ok());
  CHECK(h->command == CommandLine::Command::kHelp);
}

TEST_CASE("cli: crio config --default ignores files and flags") {
  Cli cli;
  write_file(cli.dir() / "crio.conf", "[crio.runtime]\nlog_level = \"debug\"\n");
  auto cl = cli.run({"--root", "/x", "config", "--default"});
  REQUIRE(cl.ok());
  CHECK(cl->command == CommandLine::Command::kConfig);
  CHECK(cl->config == crio::core::default_config());

  auto bad = cli.run({"config", "--json"});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == Code::kInvalidArgument);
}

TEST_CASE("cli: --help and --version work with a broken configuration") {
  Cli cli;
  write_file(cli.dir() / "crio.conf", "[crio\n");
  auto h = cli.run({"--help"});
  REQUIRE(h.ok());
  CHECK(h->command == CommandLine::Command::kHelp);
  auto h2 = cli.run({"-h", "config"});
  REQUIRE(h2.ok());
  CHECK(h2->command == CommandLine::Command::kHelp);
  auto v = cli.run({"-v"});
  REQUIRE(v.ok());
  CHECK(v->command == CommandLine::Command::kVersion);

  // Serving with it is an error that names the file and line.
  auto serve = cli.run({});
  REQUIRE_FALSE(serve.ok());
  CHECK(serve.status().code() == Code::kInvalidArgument);
  CHECK(serve.status().message().rfind("unable to decode configuration " + cli.dir() / "crio.conf:1:", 0) == 0);

  // crio status still runs, on the defaults, with a warning.
  auto status = cli.run({"status", "info"});
  REQUIRE(status.ok());
  CHECK(status->command == CommandLine::Command::kStatus);
  REQUIRE(status->warnings.size() == 1);
  CHECK(status->warnings[0].find("syntax error") != std::string::npos);
}

TEST_CASE("cli: --help lists every flag with its help and default") {
  Cli cli;
  auto cl = cli.run({"--help"}, false);
  REQUIRE(cl.ok());
  const std::string& help = cl->help_text;
  for (const auto& o : crio::core::config_options()) {
    if (o.flag.empty()) continue;
    INFO(o.flag);
    CHECK(help.find("--" + o.flag + " ") != std::string::npos);
  }
  for (const char* f : {"--config ", "--config-dir ", "--help", "--version", "-c [", "-d [", "-r [", "-l [", "-s ["}) {
    INFO(f);
    CHECK(help.find(f) != std::string::npos);
  }
  CHECK(help.find("(default: info)") != std::string::npos);
  CHECK(help.find("(default: overlay)") != std::string::npos);
  CHECK(help.find("Daemon log verbosity") != std::string::npos);
  CHECK(help.find("status") != std::string::npos);
}

TEST_CASE("cli: bad command lines are InvalidArgument with a clear message") {
  Cli cli;
  auto check_error = [&](std::vector<std::string> args, const std::string& needle) {
    auto cl = cli.run(std::move(args));
    REQUIRE_FALSE(cl.ok());
    CHECK(cl.status().code() == Code::kInvalidArgument);
    INFO(cl.status().message());
    CHECK(cl.status().message().find(needle) != std::string::npos);
  };
  check_error({"--no-such-flag"}, "no-such-flag");
  check_error({"--log-lev", "debug"}, "log-lev");  // no guessing of abbreviations
  check_error({"--log-level", "loud"},
              "command line flag --log-level: crio.runtime.log_level: not a valid logrus Level: \"loud\"");
  check_error({"--metrics-port", "ninety"}, "--metrics-port: \"ninety\" is not an integer");
  check_error({"--selinux=maybe"}, "--selinux: \"maybe\" is not true or false");
  check_error({"--root", "relative/path"}, "\"relative/path\" is not an absolute path");
  check_error({"--default-runtime", "kata"}, "\"kata\" names no runtime handler");
  check_error({"frobnicate"}, "unknown command \"frobnicate\"");
  check_error({"--selinux", "false"}, "write --selinux=false");
  check_error({"--root"}, "root");
}

// Sets environment variables for the scope, restoring the old values after.
class ScopedEnvs {
 public:
  ScopedEnvs(std::initializer_list<std::pair<std::string, std::string>> vars) {
    for (auto& [name, value] : vars) {
      const char* old = std::getenv(name.c_str());
      saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
      ::setenv(name.c_str(), value.c_str(), 1);
    }
  }
  ~ScopedEnvs() {
    for (auto& [name, old] : saved_) {
      if (old)
        ::setenv(name.c_str(), old->c_str(), 1);
      else
        ::unsetenv(name.c_str());
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST_CASE("cli: CONTAINER_* variables set flags, below the command line and above the files") {
  Cli cli;
  write_file(cli.dir() / "crio.conf", "[crio.runtime]\nlog_level = \"warn\"\ndrop_infra_ctr = true\npids_limit = 5\n");
  write_file(cli.dir() / "crio.conf.d/10.conf", "[crio.runtime]\nlog_size_max = 20000\n");
  ScopedEnvs env({{"CONTAINER_LOG_LEVEL", "debug"},
                  {"CONTAINER_DROP_INFRA_CTR", "false"},
                  {"CONTAINER_LOG_SIZE_MAX", "30000"},
                  {"CONTAINER_CNI_PLUGIN_DIR", "/env/cni,/env/cni2"},
                  {"CONTAINER_PINNS_PATH", "/env/pinns"},
                  {"CONTAINER_STOP_TIMEOUT", "45"},
                  {"CONTAINER_EXITS_DIR", "/env/exits"},
                  {"STREAM_IDLE_TIMEOUT", "5m"},
                  {"CONTAINER_REGISTRY", "quay.io"},
                  {"CONTAINER_RUNTIMES", "runc:/env/runc:/env/root:oci::"}});
  auto cl = cli.run({"--log-level", "error"});
  INFO(cl.status().message());
  REQUIRE(cl.ok());
  const auto& c = cl->config;
  CHECK(c.log_level == "error");   // the flag beats the variable
  CHECK_FALSE(c.drop_infra_ctr);   // the variable beats the file
  CHECK(c.log_size_max == 30000);  // and the drop-in
  CHECK(c.pids_limit == 5);
  CHECK(c.plugin_dirs == std::vector<std::string>{"/env/cni", "/env/cni2"});
  CHECK(c.pinns_path == "/env/pinns");
  CHECK(c.ctr_stop_timeout == 45);
  CHECK(c.container_exits_dir == "/env/exits");
  CHECK(c.stream_idle_timeout == "5m");
  CHECK(c.registries == std::vector<std::string>{"quay.io"});
  CHECK(c.runtimes.at("runc").runtime_path == "/env/runc");
  CHECK(c.runtimes.at("runc").runtime_root == "/env/root");

  SECTION("a bad value names the variable's flag") {
    ScopedEnvs bad({{"CONTAINER_PIDS_LIMIT", "many"}});
    auto r = cli.run({});
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message() == "command line flag --pids-limit: \"many\" is not an integer");
  }
  SECTION("CONTAINER_CONFIG and CONTAINER_CONFIG_DIR name the files") {
    write_file(cli.dir() / "other.conf", "[crio.runtime]\npids_limit = 77\n");
    ScopedEnvs files({{"CONTAINER_CONFIG", cli.dir() / "other.conf"}, {"CONTAINER_CONFIG_DIR", ""}});
    auto r = cli.run({}, false);
    REQUIRE(r.ok());
    CHECK(r->config.pids_limit == 77);
    CHECK(r->config.log_size_max == 30000);
  }
}

TEST_CASE("cli: every flag has CRI-O's environment variable, where CRI-O has one") {
  std::map<std::string, std::string> env;
  for (const auto& o : crio::core::config_options()) env[o.flag] = o.env;
  CHECK(env["log-level"] == "CONTAINER_LOG_LEVEL");
  CHECK(env["cni-plugin-dir"] == "CONTAINER_CNI_PLUGIN_DIR");
  CHECK(env["cni-config-dir"] == "CONTAINER_CNI_CONFIG_DIR");
  CHECK(env["drop-infra-ctr"] == "CONTAINER_DROP_INFRA_CTR");
  CHECK(env["log-size-max"] == "CONTAINER_LOG_SIZE_MAX");
  CHECK(env["pinns-path"] == "CONTAINER_PINNS_PATH");
  CHECK(env["ctr-stop-timeout"] == "CONTAINER_STOP_TIMEOUT");
  CHECK(env["stream-enable-tls"] == "CONTAINER_ENABLE_TLS");
  CHECK(env["stream-idle-timeout"] == "STREAM_IDLE_TIMEOUT");
  CHECK(env["container-attach-socket-dir"] == "CONTAINER_ATTACH_SOCKET_DIR");
  CHECK(env["log-journald"] == "CONTAINER_LOG_JOURNALD");
  CHECK(env["insecure-registry"] == "CONTAINER_INSECURE_REGISTRY");
  CHECK(env["registry"] == "CONTAINER_REGISTRY");
  CHECK(env["irqbalance-config-file"].empty());
  CHECK(env["short-name-mode"].empty());  // not a CRI-O flag
}

TEST_CASE("cli: the flags of CRI-O's test helpers are taken") {
  Cli cli;
  auto cl = cli.run({"--irqbalance-config-file", "/tmp/irq", "--irqbalance-config-restore-file", "disable",
                     "--registry", "quay.io", "--registry", "docker.io", "--runtimes",
                     "runc:/usr/sbin/runc:/run/x:oci::", "--pinns-path", "/usr/bin/pinns", "--default-mounts-file",
                     "/etc/mounts.conf", "--cni-default-network", "crio", "--apparmor-profile", ""});
  INFO(cl.status().message());
  REQUIRE(cl.ok());
  CHECK(cl->config.irqbalance_config_file == "/tmp/irq");
  CHECK(cl->config.irqbalance_config_restore_file == "disable");
  CHECK(cl->config.registries == std::vector<std::string>{"quay.io", "docker.io"});
  CHECK(cl->config.runtimes.at("runc").runtime_root == "/run/x");
  CHECK(cl->config.apparmor_profile.empty());

  auto none = cli.run({"-c", "", "-d", "", "config"}, false);
  REQUIRE(none.ok());
  CHECK(none->sources.config_file.empty());
  CHECK(none->sources.config_dir.empty());
}

TEST_CASE("cli: CRI-O variables of flags crio lacks stop start-up unless they hold CRI-O's default") {
  Cli cli;
  {
    // An option now: it is taken, as --imagestore.
    ScopedEnvs env({{"CONTAINER_IMAGESTORE", "/srv/images"}});
    auto cl = cli.run({});
    INFO(cl.status().message());
    REQUIRE(cl.ok());
    CHECK(cl->config.imagestore == "/srv/images");
  }
  {
    // An option now: it is taken, as --internal-repair.
    ScopedEnvs env({{"CONTAINER_INTERNAL_REPAIR", "true"}});
    auto cl = cli.run({});
    INFO(cl.status().message());
    REQUIRE(cl.ok());
    CHECK(cl->config.internal_repair);
  }
  {
    ScopedEnvs env({{"CONTAINER_CDI_SPEC_DIRS", "/etc/cdi"}});
    auto cl = cli.run({});
    REQUIRE_FALSE(cl.ok());
    CHECK_THAT(cl.status().message(), Catch::Contains("CONTAINER_CDI_SPEC_DIRS"));
  }
  {
    // CRI-O's defaults, and empty values, ask for nothing crio lacks.
    ScopedEnvs env({{"CONTAINER_IMAGESTORE", ""},
                    {"CONTAINER_INTERNAL_REPAIR", "false"},
                    {"CONTAINER_LOG_FORMAT", "text"}});
    auto cl = cli.run({});
    INFO(cl.status().message());
    CHECK(cl.ok());
  }
}

TEST_CASE("cli: --decryption-keys-path sets the key directory, and CRI-O gives it no environment variable") {
  Cli cli;
  auto cl = cli.run({"--decryption-keys-path", "/srv/keys"});
  INFO(cl.status().message());
  REQUIRE(cl.ok());
  CHECK(cl->config.decryption_keys_path == "/srv/keys");
  ScopedEnvs env({{"CONTAINER_DECRYPTION_KEYS_PATH", "/elsewhere"}});
  auto plain = cli.run({});
  REQUIRE(plain.ok());
  CHECK(plain->config.decryption_keys_path == "/etc/crio/keys/");
}

TEST_CASE("cli: CRI-O's flags for what crio does not do are taken with CRI-O's default and refused otherwise") {
  Cli cli;
  auto defaulted = cli.run({"--enable-tracing=false", "--profile-port", "6060", "--nri-listen", "/var/run/nri/nri.sock",
                            "--cdi-spec-dirs", "/etc/cdi,/var/run/cdi", "--blockio-config-file", ""});
  INFO(defaulted.status().message());
  CHECK(defaulted.ok());

  auto refused = [&](std::vector<std::string> args, const std::string& message) {
    auto cl = cli.run(std::move(args));
    REQUIRE_FALSE(cl.ok());
    CHECK(cl.status().code() == Code::kInvalidArgument);
    CHECK(cl.status().message() == message);
  };
  refused({"--enable-tracing"},
          "--enable-tracing=true (CRI-O's --enable-tracing) is not supported: OpenTelemetry tracing is not supported");
  refused({"--profile-port", "7070"},
          "--profile-port=7070 (CRI-O's --profile-port) is not supported: Go profiling does not apply to this daemon");
  refused({"--enable-nri=true", "config"},
          "--enable-nri=true (CRI-O's --enable-nri) is not supported: NRI plugins are not supported");
  {
    ScopedEnvs env({{"CONTAINER_PROFILE_PORT", "7070"}});
    refused({}, "$CONTAINER_PROFILE_PORT=7070 (CRI-O's --profile-port) is not supported: Go profiling does not "
                "apply to this daemon");
  }

  // --help lists them apart, with the reason.
  auto help = cli.run({"--help"}, false);
  REQUIRE(help.ok());
  CHECK_THAT(help->help_text, Catch::Contains("CRI-O's flags for what this daemon does not do"));
  CHECK_THAT(help->help_text, Catch::Contains("--enable-nri [=bool(=true)]"));
}

TEST_CASE("cli: --log and --log-format, and their variables") {
  Cli cli;
  auto cl = cli.run({"--log", "/var/log/crio.log", "--log-format=json"});
  INFO(cl.status().message());
  REQUIRE(cl.ok());
  CHECK(cl->log_file == "/var/log/crio.log");
  CHECK(cl->log_format == "json");
  {
    ScopedEnvs env({{"CONTAINER_LOG", "/env.log"}, {"CONTAINER_LOG_FORMAT", "text"}});
    auto from_env = cli.run({});
    REQUIRE(from_env.ok());
    CHECK(from_env->log_file == "/env.log");
    CHECK(from_env->log_format == "text");
  }
  auto bad = cli.run({"--log-format", "yaml"});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() == "unknown log-format \"yaml\" (text or json)");
}

TEST_CASE("cli: completion, man and markdown name every flag and command") {
  Cli cli;
  for (auto [word, command] : {std::pair{"complete", CommandLine::Command::kCompletion},
                               std::pair{"completion", CommandLine::Command::kCompletion},
                               std::pair{"man", CommandLine::Command::kMan},
                               std::pair{"md", CommandLine::Command::kMarkdown}}) {
    auto cl = cli.run({word}, false);
    REQUIRE(cl.ok());
    CHECK(cl->command == command);
  }
  auto bad_shell = cli.run({"completion", "tcsh"}, false);
  REQUIRE_FALSE(bad_shell.ok());
  CHECK(bad_shell.status().message() == "crio completion: only bash, fish or zsh are supported");

  const std::string bash = crio::daemon::completion_script("bash");
  const std::string zsh = crio::daemon::completion_script("zsh");
  const std::string fish = crio::daemon::completion_script("fish");
  const std::string man = crio::daemon::man_page();
  const std::string md = crio::daemon::markdown_page();
  for (const auto& f : crio::daemon::flag_docs()) {
    INFO(f.name);
    CHECK_THAT(bash, Catch::Contains(" --" + f.name + " ") || Catch::Contains(" --" + f.name + "\""));
    CHECK_THAT(zsh, Catch::Contains("'--" + f.name));
    CHECK_THAT(fish, Catch::Contains("-l " + f.name + " ") || Catch::Contains("-l " + f.name + "\n"));
    // roff escapes '-' as "\-".
    std::string roff_name;
    for (char c : f.name) roff_name += c == '-' ? std::string("\\-") : std::string(1, c);
    CHECK_THAT(man, Catch::Contains(".B \\-\\-" + roff_name));
    CHECK_THAT(md, Catch::Contains("**--" + f.name));
  }
  for (const auto& c : crio::daemon::command_docs()) {
    for (const auto& n : c.names) {
      CHECK_THAT(bash, Catch::Contains(" " + n + " ") || Catch::Contains("\"" + n + " "));
      CHECK_THAT(fish, Catch::Contains("-a '" + n + "'"));
    }
  }
  CHECK_THAT(bash, Catch::Contains("complete -F _crio_bash_autocomplete crio"));
  CHECK(zsh.rfind("#compdef crio\n", 0) == 0);
  CHECK(man.rfind(".TH CRIO 8 ", 0) == 0);

  // The bash script is valid bash, and completing "--log-l" offers --log-level.
  TempDir dir;
  write_file(dir / "crio.bash", bash);
  std::string probe = "source " + std::string(dir / "crio.bash") +
                      "; COMP_WORDS=(crio --log-l); COMP_CWORD=1; _crio_bash_autocomplete; echo \"${COMPREPLY[*]}\" > " +
                      std::string(dir / "out");
  REQUIRE(std::system(("bash -c '" + probe + "'").c_str()) == 0);
  CHECK(crio::test::read_file(dir / "out") == "--log-level\n");
}

TEST_CASE("cli: --registries-conf and $CONTAINER_REGISTRIES_CONF name registries.conf") {
  Cli cli;
  auto cl = cli.run({"--registries-conf", "/srv/registries.conf"});
  REQUIRE(cl.ok());
  CHECK(cl->registries_conf == "/srv/registries.conf");
  {
    ScopedEnvs env({{"CONTAINER_REGISTRIES_CONF", "/env/registries.conf"}});
    auto from_env = cli.run({});
    REQUIRE(from_env.ok());
    CHECK(from_env->registries_conf == "/env/registries.conf");
    auto flag_wins = cli.run({"--registries-conf=/flag.conf"});
    REQUIRE(flag_wins.ok());
    CHECK(flag_wins->registries_conf == "/flag.conf");
  }
  auto dir = cli.run({"--registries-conf-dir", "/srv/registries.d"});
  REQUIRE_FALSE(dir.ok());
  CHECK_THAT(dir.status().message(), Catch::Contains("beside registries.conf"));
}
