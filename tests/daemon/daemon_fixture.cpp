#include "daemon_fixture.hpp"

#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace crio::test {
namespace {

int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

Daemon::Daemon(const std::string& extra_toml, bool start_now) {
  socket_ = dir_ / "crio.sock";
  config_file_ = dir_ / "crio.conf";
  const std::string d = dir_.path();
  write_file(config_file_, "[crio]\n"
                           "root = \"" + d + "/storage\"\n"
                           "runroot = \"" + d + "/run/storage\"\n"
                           "log_dir = \"" + d + "/pods\"\n"
                           "version_file = \"" + d + "/run/version\"\n"
                           "clean_shutdown_file = \"" + d + "/lib/clean.shutdown\"\n"
                           "[crio.api]\n"
                           "listen = \"" + socket_ + "\"\n"
                           "[crio.runtime]\n"
                           "container_exits_dir = \"" + d + "/run/exits\"\n"
                           "container_attach_socket_dir = \"" + d + "/run\"\n"
                           "namespaces_dir = \"" + d + "/run/ns\"\n"
                           "[crio.image]\n"
                           "signature_policy = \"" + d + "/policy.json\"\n"
                           "signature_policy_dir = \"" + d + "/policies\"\n"
                           "[crio.network]\n"
                           "network_dir = \"" + d + "/cni\"\n"
                           "plugin_dirs = [\"/usr/lib/cni\", \"/opt/cni/bin\"]\n" +
                           extra_toml);
  write_file(dir_ / "policy.json", R"({"default": [{"type": "insecureAcceptAnything"}]})");
  // Every pod mounts the pause image: it comes from the run's pause registry (the
  // pause_registry CTest fixture), which a test's own drop-ins may replace.
  if (const char* registry = std::getenv("CRIO_TEST_PAUSE_REGISTRY")) {
    std::ifstream host_file(std::string(registry) + "/host");
    std::string host;
    if (std::getline(host_file, host) && !host.empty()) {
      write_file(dir_ / "crio.conf.d/05-pause.conf", "[crio.image]\npause_image = \"" + host + "/test/pause:v1\"\n");
      write_file(dir_ / "registries.conf", "[[registry]]\nlocation = \"" + host + "\"\ninsecure = true\n");
    }
  }
  if (start_now) start();
}

Daemon::~Daemon() {
  if (child_.running()) {
#ifdef CRIO_SANITIZED
    // A clean exit lets LeakSanitizer look at the daemon's heap.
    child_.signal(SIGTERM);
    if (child_.wait(std::chrono::seconds(20)) < 0) {
      child_.signal(SIGKILL);
      child_.wait();
    }
#else
    child_.signal(SIGKILL);
    child_.wait();
#endif
  }
  check_sanitizer_reports();
}

void Daemon::use_socket(const std::string& path) {
  socket_ = path;
  write_file(dir_ / "crio.conf.d/10-listen.conf", "[crio.api]\nlisten = \"" + path + "\"\n");
}

std::vector<std::string> Daemon::argv() const {
  return {built_binary(binary_), "--config", config_file_, "--config-dir", dir_ / "crio.conf.d"};
}

void Daemon::remove_env(const std::string& key) {
  std::erase_if(extra_env_, [&](const std::string& kv) { return kv.rfind(key + "=", 0) == 0; });
}

std::vector<std::string> Daemon::env() const {
  // Keep the host's storage.conf out of the test.
  std::vector<std::string> env = {"CONTAINERS_STORAGE_CONF=" + (dir_ / "storage.conf"),
                                  "CONTAINERS_REGISTRIES_CONF=" + (dir_ / "registries.conf"),
                                  "CONTAINERS_REGISTRIES_D=" + (dir_ / "registries.d")};
  // A sanitized daemon writes its reports next to its log, where the fixture finds them;
  // its stderr (crio.log) disappears with the test's directory.
  for (const char* var : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"}) {
    const char* inherited = std::getenv(var);
    std::string options = inherited && *inherited ? std::string(inherited) + ":" : std::string();
    env.push_back(std::string(var) + "=" + options + "log_path=" + (dir_ / "sanitizer"));
  }
  env.insert(env.end(), extra_env_.begin(), extra_env_.end());
  return env;
}

void Daemon::start() {
  child_ = Child(argv(), dir_ / "crio.log", env());
  bool up = eventually([&] { return can_connect(socket_) || child_.wait(std::chrono::milliseconds(0)) >= 0; },
                       std::chrono::seconds(20));
  INFO("daemon log:\n" << log());
  REQUIRE(up);
  REQUIRE(child_.running());
}

int Daemon::start_and_wait_exit() {
  child_ = Child(argv(), dir_ / "crio.log", env());
  exit_code_ = child_.wait(std::chrono::seconds(20));
  check_sanitizer_reports();
  return exit_code_;
}

void Daemon::stop(int sig) {
  child_.signal(sig);
  exit_code_ = child_.wait(std::chrono::seconds(20));
  check_sanitizer_reports();
}

std::string Daemon::take_sanitizer_reports() const {
  std::string reports;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path(), ec)) {
    if (entry.path().filename().string().rfind("sanitizer.", 0) != 0) continue;
    std::ifstream in(entry.path());
    reports += "== " + entry.path().filename().string() + "\n" +
               std::string(std::istreambuf_iterator<char>(in), {});
    std::filesystem::remove(entry.path(), ec);
  }
  return reports;
}

void Daemon::check_sanitizer_reports() const {
  std::string reports = take_sanitizer_reports();
  if (!reports.empty()) FAIL_CHECK("the daemon's sanitizer reported:\n" << reports);
}

std::string Daemon::log() const {
  std::ifstream in(dir_ / "crio.log");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

namespace {

// A channel of its own: gRPC otherwise shares connections between channels to the
// same address, and a test that restarts the daemon would inherit a dead one.
std::shared_ptr<grpc::Channel> fresh_channel(const std::string& socket) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel("unix://" + socket, grpc::InsecureChannelCredentials(), args);
}

}  // namespace

std::unique_ptr<runtime::v1::RuntimeService::Stub> Daemon::runtime_stub() const {
  return runtime::v1::RuntimeService::NewStub(fresh_channel(socket_));
}

std::unique_ptr<runtime::v1::ImageService::Stub> Daemon::image_stub() const {
  return runtime::v1::ImageService::NewStub(fresh_channel(socket_));
}

void set_deadline(grpc::ClientContext& context, int seconds) {
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
}

bool can_connect(const std::string& socket) {
  int fd = connect_unix(socket);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

std::string send_raw(const std::string& socket, const std::string& bytes) {
  int fd = connect_unix(socket);
  if (fd < 0) throw std::runtime_error("cannot connect to " + socket);
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  std::string out;
  char buf[4096];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

HttpResponse http_request(const std::string& socket, const std::string& method, const std::string& path) {
  std::string raw = send_raw(socket, method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  HttpResponse response;
  auto header_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || header_end == std::string::npos) return response;
  response.status = std::stoi(raw.substr(9, 3));
  response.headers = raw.substr(0, header_end);
  response.body = raw.substr(header_end + 4);
  return response;
}

}  // namespace crio::test
