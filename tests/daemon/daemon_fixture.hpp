#pragma once
// A real crio daemon in its own temporary directory: its own socket, storage root,
// state files and CNI directory, so tests run side by side and leave nothing behind.

#include "process.hpp"
#include "temp_dir.hpp"

#include <grpcpp/grpcpp.h>

#include "cri_api.hpp"

#include <csignal>

#include <memory>
#include <string>
#include <vector>

namespace crio::test {

class Daemon {
 public:
  // `extra_toml` is appended to the generated crio.conf.
  explicit Daemon(const std::string& extra_toml = "", bool start_now = true);
  ~Daemon();

  // Starts crio and waits until it answers on its socket.
  void start();
  // Starts crio and waits for it to exit; returns its exit code.
  int start_and_wait_exit();
  void stop(int sig = SIGTERM);  // and waits for the exit
  int exit_code() const { return exit_code_; }

  const TempDir& dir() const { return dir_; }
  const std::string& socket() const { return socket_; }
  // Adds "KEY=VALUE" to the daemon's environment (before start()).
  void add_env(const std::string& key_value) { extra_env_.push_back(key_value); }
  // Drops what add_env added for `key`.
  void remove_env(const std::string& key);
  // The daemon binary, relative to the build directory ("crio/crio" by default).
  void use_binary(const std::string& relative) { binary_ = relative; }
  // Listens on `path` instead (through a drop-in file).
  void use_socket(const std::string& path);
  const std::string& config_file() const { return config_file_; }
  std::string clean_shutdown_file() const { return dir_ / "lib/clean.shutdown"; }
  std::string log() const;
  // What a sanitizer reported in the daemon (CRIO_SANITIZE builds write it to
  // sanitizer.<pid> in dir()); the reports are removed once read. Stopping the daemon
  // and the destructor fail the test on any.
  std::string take_sanitizer_reports() const;
  Child& child() { return child_; }
  std::vector<std::string> argv() const;
  std::vector<std::string> env() const;

  std::unique_ptr<runtime::v1::RuntimeService::Stub> runtime_stub() const;
  std::unique_ptr<runtime::v1::ImageService::Stub> image_stub() const;

 private:
  TempDir dir_{"crio-daemon"};
  std::string socket_;
  std::string config_file_;
  Child child_;
  int exit_code_ = -1;
  std::vector<std::string> extra_env_;
  std::string binary_ = "crio/crio";

  void check_sanitizer_reports() const;
};

// A deadline for client calls so a hung daemon fails the test instead of blocking it.
void set_deadline(grpc::ClientContext& context, int seconds = 10);

struct HttpResponse {
  int status = 0;
  std::string headers;
  std::string body;
};
// One HTTP/1.1 request over the unix socket; Connection: close.
HttpResponse http_request(const std::string& socket, const std::string& method, const std::string& path);
// Sends raw bytes, then reads until the peer closes (or 5 s pass).
std::string send_raw(const std::string& socket, const std::string& bytes);
bool can_connect(const std::string& socket);

}  // namespace crio::test
