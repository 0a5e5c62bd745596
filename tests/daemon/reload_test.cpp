// SIGHUP reloads what CRI-O reloads (crio(8), "Reloading"), each option observed
// through the CRI after the files change: runtime handlers, pinned_images and the
// pause image, pause_command, default_sysctls, seccomp_profile, hooks_dir,
// decryption_keys_path (with images skopeo encrypted), registries.conf; and a reload
// that cannot be applied changes nothing at all.
// Needs root, conmon, runc, docker-registry and busybox-static, like container_test.

#include "container_fixture.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>

using crio::test::Daemon;
using crio::test::containers::Client;
using crio::test::containers::Env;
using crio::test::containers::PodGuard;
namespace v1 = runtime::v1;

namespace {

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Sends SIGHUP and waits until the daemon has finished that reload, applied or not;
// returns true when it was applied.
bool reload(Daemon& daemon) {
  const std::string log = daemon.log();
  const size_t applied = count_of(log, "reloaded the configuration");
  const size_t failed = count_of(log, "unable to reload configuration");
  daemon.child().signal(SIGHUP);
  bool done = crio::test::eventually([&] {
    auto now = daemon.log();
    return count_of(now, "reloaded the configuration") > applied ||
           count_of(now, "unable to reload configuration") > failed;
  });
  REQUIRE(done);
  return count_of(daemon.log(), "reloaded the configuration") > applied;
}

std::map<std::string, bool> pinned_by_tag(const Daemon& daemon) {
  auto stub = daemon.image_stub();
  grpc::ClientContext context;
  crio::test::set_deadline(context);
  v1::ListImagesRequest request;
  v1::ListImagesResponse response;
  REQUIRE(stub->ListImages(&context, request, &response).ok());
  std::map<std::string, bool> out;
  for (const auto& image : response.images()) {
    for (const auto& tag : image.repo_tags()) out[tag] = image.pinned();
  }
  return out;
}

grpc::Status run_pod_status(Client& client, const v1::RunPodSandboxRequest& request, std::string* id = nullptr) {
  grpc::ClientContext context;
  crio::test::set_deadline(context, 60);
  v1::RunPodSandboxResponse response;
  grpc::Status s = client.stub->RunPodSandbox(&context, request, &response);
  if (id) *id = response.pod_sandbox_id();
  return s;
}

std::string runtime_list(const std::string& root) {
  return crio::test::run_command({"/usr/sbin/runc", "--root", root, "list", "-q"}).out;
}

const std::vector<std::string> kSleep = {"/bin/busybox", "sleep", "3600"};

}  // namespace

TEST_CASE("SIGHUP adds and changes and removes runtime handlers and a removed handler's containers still work",
          "[daemon][reload]") {
  Env env;
  Daemon& daemon = *env.daemon;
  const std::string d = daemon.dir().path();
  Client client(daemon);
  const std::string drop_in = d + "/crio.conf.d/40-extra.conf";
  auto extra_handler = [&](const std::string& root) {
    crio::test::write_file(drop_in, "[crio.runtime.runtimes.extra]\nruntime_path = \"/usr/sbin/runc\"\n"
                                    "runtime_root = \"" + root + "\"\n");
  };

  // Not configured yet: refused.
  grpc::Status refused = run_pod_status(client, client.pod_request("before", "extra"));
  CHECK(refused.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(refused.error_message(), Catch::Contains("runtime handler \"extra\" is not configured"));

  extra_handler(d + "/extra-1");
  REQUIRE(reload(daemon));
  CHECK_THAT(daemon.log(), Catch::Contains("Updating runtime configuration"));
  PodGuard pod{client, client.run_pod("extra-pod", "extra")};
  const std::string first = client.create_ok(pod.id, Client::config("first", env.image, kSleep));
  REQUIRE(client.start(first).ok());
  CHECK_THAT(runtime_list(d + "/extra-1"), Catch::Contains(first));

  // Changed: the next container runs under the new settings, the first stays where it is.
  extra_handler(d + "/extra-2");
  REQUIRE(reload(daemon));
  const std::string second = client.create_ok(pod.id, Client::config("second", env.image, kSleep));
  REQUIRE(client.start(second).ok());
  CHECK_THAT(runtime_list(d + "/extra-2"), Catch::Contains(second));
  CHECK_THAT(runtime_list(d + "/extra-2"), !Catch::Contains(first));
  CHECK(client.exec_ok(first, {"/bin/busybox", "echo", "one"}).stdout() == "one\n");

  // Removed: no new pod or container of it; the running ones still answer and stop.
  std::filesystem::remove(drop_in);
  REQUIRE(reload(daemon));
  refused = run_pod_status(client, client.pod_request("after", "extra"));
  CHECK(refused.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(refused.error_message(), Catch::Contains("runtime handler \"extra\" is not configured"));
  std::string third;
  grpc::Status create = client.create(pod.id, Client::config("third", env.image, kSleep), &third);
  CHECK_FALSE(create.ok());
  CHECK_THAT(create.error_message(), Catch::Contains("runtime handler \"extra\" is not configured"));
  CHECK(client.exec_ok(second, {"/bin/busybox", "echo", "two"}).stdout() == "two\n");
  CHECK(client.status(first).status().state() == v1::CONTAINER_RUNNING);
  CHECK(client.stop(first, 5).ok());
  CHECK(client.stop(second, 5).ok());
  CHECK(client.status(first).status().state() == v1::CONTAINER_EXITED);
  CHECK(client.remove(first).ok());
  CHECK(client.remove(second).ok());
  CHECK_THAT(runtime_list(d + "/extra-1"), !Catch::Contains(first));
  CHECK_THAT(runtime_list(d + "/extra-2"), !Catch::Contains(second));
}

TEST_CASE("SIGHUP pinned_images and pause_image decide what ListImages pins and the next pod gets the new pause "
          "image and pause_command and default_sysctls",
          "[daemon][reload]") {
  Env env;
  env.registry.push_test_images("/nonexistent", "barepause");
  Daemon& daemon = *env.daemon;
  const std::string d = daemon.dir().path();
  Client client(daemon);
  const std::string pause = env.pause_image(), bare = env.registry.host() + "/test/barepause:v1";
  env.pull(pause);
  env.pull(bare);
  const std::string drop_in = d + "/crio.conf.d/40-reload.conf";

  // The pause image is pinned as CRI-O pins it; nothing else by default.
  auto pins = pinned_by_tag(daemon);
  CHECK(pins[pause]);
  CHECK_FALSE(pins[env.image]);
  CHECK_FALSE(pins[bare]);

  // An empty entry is skipped, as CRI-O skips it. pause_command is not used: the pause
  // image has an entrypoint.
  crio::test::write_file(drop_in, "[crio.image]\npinned_images = [\"" + env.image +
                                      "\", \"\"]\npause_command = \"/nonexistent\"\n");
  REQUIRE(reload(daemon));
  CHECK_THAT(daemon.log(), Catch::Contains("Set config pinned_images to \\\"" + env.image + "\\\""));
  pins = pinned_by_tag(daemon);
  CHECK(pins[env.image]);
  CHECK(pins[pause]);

  // The pause image, pause_command and default_sysctls of the next pod.
  PodGuard before{client, client.run_pod("before", "runc", true, true)};
  // barepause has no entrypoint: its infra container runs pause_command, still missing.
  crio::test::write_file(drop_in, "[crio.image]\npinned_images = []\npause_image = \"" + bare +
                                      "\"\npause_command = \"/nonexistent\"\n");
  REQUIRE(reload(daemon));
  std::string failed_id;
  CHECK_FALSE(run_pod_status(client, client.pod_request("missing-command", "runc", true, true), &failed_id).ok());
  crio::test::write_file(drop_in, "[crio.image]\npinned_images = []\npause_image = \"" + bare +
                                      "\"\npause_command = \"/pause\"\n"
                                      "[crio.runtime]\ndefault_sysctls = [\"kernel.shm_rmid_forced=1\"]\n");
  REQUIRE(reload(daemon));
  CHECK_THAT(daemon.log(), Catch::Contains(R"(Set config pinned_images to \"[]\")"));
  CHECK_THAT(daemon.log(), Catch::Contains("Set config pause_image to \\\"" + bare + "\\\""));
  CHECK_THAT(daemon.log(), Catch::Contains(R"(Set config pause_command to \"/pause\")"));
  pins = pinned_by_tag(daemon);
  CHECK_FALSE(pins[env.image]);
  CHECK_FALSE(pins[pause]);
  CHECK(pins[bare]);

  PodGuard after{client, client.run_pod("after", "runc", true, true)};
  const int pid = client.pod_info(after.id)["pid"].get<int>();
  REQUIRE(pid > 0);
  std::string cmdline = crio::test::read_file("/proc/" + std::to_string(pid) + "/cmdline");
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  CHECK(cmdline == "/bin/busybox sleep 2147483647 ");  // what barepause's /pause becomes

  const std::string ctr = client.create_ok(after.id, Client::config("sysctl", env.image, kSleep));
  REQUIRE(client.start(ctr).ok());
  CHECK(client.exec_ok(ctr, {"/bin/busybox", "cat", "/proc/sys/kernel/shm_rmid_forced"}).stdout() == "1\n");
  // As in CRI-O, the defaults are those of the container's creation, also in a pod made
  // before the reload.
  const std::string old_ctr = client.create_ok(before.id, Client::config("sysctl-old", env.image, kSleep));
  REQUIRE(client.start(old_ctr).ok());
  CHECK(client.exec_ok(old_ctr, {"/bin/busybox", "cat", "/proc/sys/kernel/shm_rmid_forced"}).stdout() == "1\n");
}

TEST_CASE("SIGHUP seccomp_profile and hooks_dir apply to the next container and a profile not on disk means the "
          "built-in one",
          "[daemon][reload]") {
  Env env;
  Daemon& daemon = *env.daemon;
  const std::string d = daemon.dir().path();
  Client client(daemon);
  PodGuard pod{client, client.run_pod("seccomp", "runc")};

  const std::string profile = d + "/no-mkdir.json";
  crio::test::write_file(profile, R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
      {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]})");
  const std::string hook = d + "/hook.sh", marker = d + "/hook-ran";
  crio::test::write_file(hook, "#!/bin/sh\ncat >/dev/null\ntouch " + marker + "\n");
  ::chmod(hook.c_str(), 0755);
  crio::test::write_file(d + "/hooks/10-mark.json",
                         R"({"version": "1.0.0", "hook": {"path": ")" + hook +
                             R"("}, "when": {"always": true}, "stages": ["prestart"]})");
  crio::test::write_file(d + "/crio.conf.d/40-reload.conf", "[crio.runtime]\nseccomp_profile = \"" + profile +
                                                               "\"\nhooks_dir = [\"" + d + "/hooks\"]\n");
  REQUIRE(reload(daemon));
  auto mkdir_in = [&](const std::string& name) {
    const std::string id = client.create_ok(pod.id, Client::config(name, env.image, kSleep));
    REQUIRE(client.start(id).ok());
    grpc::ClientContext context;
    crio::test::set_deadline(context);
    v1::ExecSyncRequest request;
    request.set_container_id(id);
    for (const char* a : {"/bin/busybox", "mkdir", "/tmp/made"}) request.add_cmd(a);
    request.set_timeout(10);
    v1::ExecSyncResponse response;
    REQUIRE(client.stub->ExecSync(&context, request, &response).ok());
    return response.exit_code();
  };
  CHECK(mkdir_in("restricted") != 0);
  CHECK(std::filesystem::exists(marker));

  // A profile that is not there: the built-in RuntimeDefault, which allows mkdir.
  crio::test::write_file(d + "/crio.conf.d/40-reload.conf",
                         "[crio.runtime]\nseccomp_profile = \"" + d + "/missing.json\"\n");
  REQUIRE(reload(daemon));
  CHECK_THAT(daemon.log(), Catch::Contains("Specified profile does not exist on disk"));
  std::filesystem::remove(marker);
  CHECK(mkdir_in("builtin") == 0);
  CHECK_FALSE(std::filesystem::exists(marker));  // hooks_dir is back to the default
}

TEST_CASE("SIGHUP re-reads registries.conf and a reload that fails keeps every old setting and says why",
          "[daemon][reload]") {
  Env env;
  Daemon& daemon = *env.daemon;
  const std::string d = daemon.dir().path();
  const std::string registries = d + "/registries.conf";
  const std::string original = crio::test::read_file(registries);
  auto pull = [&]() {
    auto stub = daemon.image_stub();
    grpc::ClientContext context;
    crio::test::set_deadline(context, 60);
    v1::PullImageRequest request;
    request.mutable_image()->set_image(env.pause_image());
    v1::PullImageResponse response;
    return stub->PullImage(&context, request, &response);
  };

  // signature_policy: a policy that rejects every image, then the default one again.
  crio::test::write_file(d + "/reject.json", R"({"default": [{"type": "reject"}]})");
  const std::string policy_drop_in = d + "/crio.conf.d/45-policy.conf";
  crio::test::write_file(policy_drop_in, "[crio.image]\nsignature_policy = \"" + d + "/reject.json\"\n");
  REQUIRE(reload(daemon));
  grpc::Status rejected = pull();
  CHECK_FALSE(rejected.ok());
  INFO(rejected.error_message());
  std::filesystem::remove(policy_drop_in);
  REQUIRE(reload(daemon));
  CHECK(pull().ok());

  crio::test::write_file(registries, original + "blocked = true\n");
  REQUIRE(reload(daemon));
  CHECK_THAT(daemon.log(), Catch::Contains("Applied new registry configuration"));
  grpc::Status blocked = pull();
  CHECK_FALSE(blocked.ok());
  CHECK_THAT(blocked.error_message(), Catch::Contains("blocked"));

  // Each of these fails the whole reload; the pin and the pause_command beside them
  // are not applied, the registries stay blocked.
  const std::string drop_in = d + "/crio.conf.d/40-reload.conf";
  const std::string rest = "[crio.image]\npinned_images = [\"" + env.image + "\"]\npause_command = \"/other\"\n";
  struct Case {
    std::string name, file, registries, reason;
  };
  for (const Case& c : std::vector<Case>{
           {"a missing pause_image_auth_file", rest + "pause_image_auth_file = \"" + d + "/no-auth.json\"\n",
            original + "blocked = true\n", "unable to reload configuration: stat " + d + "/no-auth.json"},
           {"a runtime handler whose monitor is missing",
            rest + "[crio.runtime.runtimes.bad]\nmonitor_path = \"" + d + "/no-conmon\"\n",
            original + "blocked = true\n",
            "unable to reload configuration: unable to reload runtimes"},
           {"an invalid log_level", rest + "[crio.runtime]\nlog_level = \"loud\"\n", original + "blocked = true\n",
            "unable to reload configuration:"},
           {"a broken registries.conf", rest, original + "blocked = true\n[[[\n",
            "unable to reload configuration: system registries reload failed"},
       }) {
    SECTION(c.name) {
      crio::test::write_file(drop_in, c.file);
      crio::test::write_file(registries, c.registries);
      CHECK_FALSE(reload(daemon));
      CHECK_THAT(daemon.log(), Catch::Contains(c.reason));
      CHECK_FALSE(pinned_by_tag(daemon)[env.image]);
      auto config = crio::test::http_request(daemon.socket(), "GET", "/config");
      CHECK_THAT(config.body, !Catch::Contains("/other"));
      CHECK_FALSE(pull().ok());
    }
  }

  // Fixed files apply in full.
  std::filesystem::remove(drop_in);
  crio::test::write_file(registries, original);
  REQUIRE(reload(daemon));
  CHECK(pull().ok());
}

TEST_CASE("SIGHUP decryption_keys_path: the next pull of an encrypted image decrypts with the new directory's keys",
          "[daemon][reload]") {
  Env env([](const std::string& d) { return "[crio.runtime]\ndecryption_keys_path = \"" + d + "/no-keys\"\n"; });
  env.registry.push_test_images("/nonexistent", "users");
  Daemon& daemon = *env.daemon;
  const std::string d = daemon.dir().path();
  auto must = [](const std::vector<std::string>& argv) {
    auto r = crio::test::run_command(argv);
    INFO(argv[0] << ": " << r.out << r.err);
    REQUIRE(r.exit_code == 0);
  };
  std::filesystem::create_directories(d + "/keys-good");
  std::filesystem::create_directories(d + "/keys-bad");
  for (const char* dir : {"/keys-good", "/keys-bad"}) {
    must({"/usr/bin/openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
          d + dir + "/key.pem"});
  }
  must({"/usr/bin/openssl", "pkey", "-in", d + "/keys-good/key.pem", "-pubout", "-out", d + "/public.pem"});
  const std::string host = env.registry.host(), encrypted = host + "/enc/users:v1";
  must({"/usr/bin/skopeo", "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
        "--encryption-key", "jwe:" + d + "/public.pem", "docker://" + host + "/test/users:v1",
        "docker://" + encrypted});

  auto stub = daemon.image_stub();
  auto pull = [&]() {
    grpc::ClientContext context;
    crio::test::set_deadline(context, 60);
    v1::PullImageRequest request;
    request.mutable_image()->set_image(encrypted);
    v1::PullImageResponse response;
    return stub->PullImage(&context, request, &response);
  };
  auto present = [&]() {
    grpc::ClientContext context;
    crio::test::set_deadline(context);
    v1::ImageStatusRequest request;
    request.mutable_image()->set_image(encrypted);
    v1::ImageStatusResponse response;
    REQUIRE(stub->ImageStatus(&context, request, &response).ok());
    return response.has_image();
  };

  // No key directory: the pull fails as CRI-O's does (Unknown), naming the image.
  grpc::Status none = pull();
  CHECK(none.error_code() == grpc::StatusCode::UNKNOWN);
  CHECK_THAT(none.error_message(), Catch::Contains(encrypted) && Catch::Contains("encrypted") &&
                                       Catch::Contains("no private key to decrypt it"));
  CHECK_FALSE(present());

  const std::string drop_in = d + "/crio.conf.d/40-reload.conf";
  crio::test::write_file(drop_in, "[crio.runtime]\ndecryption_keys_path = \"" + d + "/keys-bad\"\n");
  REQUIRE(reload(daemon));
  CHECK_THAT(daemon.log(), Catch::Contains("Set config decryption_keys_path to \\\"" + d + "/keys-bad\\\""));
  grpc::Status wrong = pull();
  CHECK(wrong.error_code() == grpc::StatusCode::UNKNOWN);
  CHECK_THAT(wrong.error_message(),
             Catch::Contains(encrypted) &&
                 Catch::Contains("none of the 1 private keys of decryption_keys_path " + d + "/keys-bad decrypts it"));
  CHECK_FALSE(present());

  // A symbolic link in the directory fails every pull, as in CRI-O.
  std::filesystem::create_symlink(d + "/keys-good/key.pem", d + "/keys-bad/link.pem");
  grpc::Status link = pull();
  CHECK(link.error_code() == grpc::StatusCode::UNKNOWN);
  CHECK_THAT(link.error_message(), Catch::Contains("link.pem") && Catch::Contains("symbolic links"));

  crio::test::write_file(drop_in, "[crio.runtime]\ndecryption_keys_path = \"" + d + "/keys-good\"\n");
  REQUIRE(reload(daemon));
  grpc::Status decrypted = pull();
  INFO(decrypted.error_message());
  REQUIRE(decrypted.ok());
  CHECK(present());

  // What the decrypted layers hold is what a container of the image sees.
  Client client(daemon);
  PodGuard pod{client, client.run_pod("decrypted", "runc")};
  const std::string id = client.create_ok(pod.id, Client::config("reader", encrypted, kSleep));
  REQUIRE(client.start(id).ok());
  auto group = client.exec_ok(id, {"/bin/busybox", "cat", "/etc/group"});
  CHECK(group.stdout() == "root:x:0:\nnobody:x:65534:\n");
  auto passwd = client.exec_ok(id, {"/bin/busybox", "head", "-c", "10", "/etc/passwd"});
  CHECK(passwd.stdout() == "root:x:0:0");
}
