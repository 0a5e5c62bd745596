#pragma once
// A real registry for tests: Debian's docker-registry (distribution 2.8) on a free
// loopback port with its storage in the test's own directory; optionally TLS with
// a CA made here and htpasswd basic auth. Killed and removed when the test ends.

#include "process.hpp"
#include "temp_dir.hpp"

#include <string>

namespace crio::test {

// A loopback TCP port nobody listens on right now (bind to 0, read, close).
int free_port();

struct RegistryOptions {
  bool tls = false;
  std::string user;      // with a password: htpasswd basic auth
  std::string password;
  // With tls: the registry demands a client certificate signed by its CA;
  // certs_dir() holds one (client.cert/client.key), ca_only_certs_dir() does not.
  bool client_certs = false;
};

class TestRegistry {
 public:
  explicit TestRegistry(RegistryOptions options = {});
  TestRegistry(const TestRegistry&) = delete;
  TestRegistry& operator=(const TestRegistry&) = delete;

  const std::string& host() const { return host_; }  // "127.0.0.1:PORT"
  std::string storage_root() const { return dir_ / "storage"; }
  std::string ca_file() const { return dir_ / "ca.crt"; }
  // A certs.d directory trusting this registry's CA ("<dir>/<host>/ca.crt").
  std::string certs_dir() const { return dir_ / "certs.d"; }
  std::string ca_only_certs_dir() const { return dir_ / "certs-ca-only"; }
  const std::string& dir() const { return dir_.path(); }

  // Runs make_images.py against this registry; returns its JSON description.
  // `escape_dir` is where the hostile symlink image points.
  std::string push_test_images(const std::string& escape_dir, const std::string& only = "") const;

 private:
  TempDir dir_{"crio-registry"};
  RegistryOptions options_;
  std::string host_;
  Child child_;
};

}  // namespace crio::test
