#include "registry_fixture.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace crio::test {

namespace {

void must(const CommandResult& r, const std::string& what) {
  if (r.exit_code != 0) throw std::runtime_error(what + " failed: " + r.err + r.out);
}

bool port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot pick a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

TestRegistry::TestRegistry(RegistryOptions options) : options_(std::move(options)) {
  int port = free_port();
  host_ = "127.0.0.1:" + std::to_string(port);
  std::string config = "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                       "storage:\n  filesystem:\n    rootdirectory: " + storage_root() +
                       "\n  delete:\n    enabled: true\nhttp:\n  addr: " + host_ + "\n";
  if (options_.tls) {
    const std::string d = dir_.path();
    must(run_command({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                      "-nodes", "-keyout", d + "/ca.key", "-out", d + "/ca.crt", "-days", "2", "-subj",
                      "/CN=crio test CA"}),
         "making the CA");
    must(run_command({"/usr/bin/openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                      "-keyout", d + "/server.key", "-out", d + "/server.csr", "-subj", "/CN=127.0.0.1"}),
         "making the server key");
    write_file(d + "/server.ext", "subjectAltName=IP:127.0.0.1\n");
    must(run_command({"/usr/bin/openssl", "x509", "-req", "-in", d + "/server.csr", "-CA", d + "/ca.crt", "-CAkey",
                      d + "/ca.key", "-CAcreateserial", "-out", d + "/server.crt", "-days", "2", "-extfile",
                      d + "/server.ext"}),
         "signing the server certificate");
    write_file(certs_dir() + "/" + host_ + "/ca.crt", read_file(d + "/ca.crt"));
    write_file(ca_only_certs_dir() + "/" + host_ + "/ca.crt", read_file(d + "/ca.crt"));
    config += "  tls:\n    certificate: " + d + "/server.crt\n    key: " + d + "/server.key\n";
    if (options_.client_certs) {
      const std::string c = certs_dir() + "/" + host_;
      must(run_command({"/usr/bin/openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", c + "/client.key", "-out", d + "/client.csr", "-subj", "/CN=crio client"}),
           "making the client key");
      must(run_command({"/usr/bin/openssl", "x509", "-req", "-in", d + "/client.csr", "-CA", d + "/ca.crt", "-CAkey",
                        d + "/ca.key", "-CAcreateserial", "-out", c + "/client.cert", "-days", "2"}),
           "signing the client certificate");
      config += "    clientcas:\n      - " + d + "/ca.crt\n";
    }
  }
  if (!options_.user.empty()) {
    auto hash = run_command({"/usr/bin/python3", "-W", "ignore", "-c",
                             "import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))",
                             options_.password});
    must(hash, "hashing the password");
    std::string h = hash.out.substr(0, hash.out.find('\n'));
    write_file(dir_ / "htpasswd", options_.user + ":" + h + "\n");
    config += "auth:\n  htpasswd:\n    realm: crio-test\n    path: " + (dir_ / "htpasswd") + "\n";
  }
  write_file(dir_ / "config.yml", config);
  child_ = Child({"/usr/bin/docker-registry", "serve", dir_ / "config.yml"}, dir_ / "registry.log");
  if (!eventually([&] { return port_open(port); }, std::chrono::seconds(20)))
    throw std::runtime_error("registry did not start: " + read_file(dir_ / "registry.log"));
}

std::string TestRegistry::push_test_images(const std::string& escape_dir, const std::string& only) const {
  std::vector<std::string> argv = {"/usr/bin/python3", std::string(CRIO_IMAGE_TEST_DIR) + "/make_images.py",
                                   "--registry", host_, "--busybox", "/bin/busybox", "--escape-dir", escape_dir,
                                   "--registry-root", storage_root()};
  if (options_.tls) argv.insert(argv.end(), {"--tls-ca", ca_file()});
  if (options_.client_certs)
    argv.insert(argv.end(), {"--client-cert", certs_dir() + "/" + host_ + "/client.cert", "--client-key",
                             certs_dir() + "/" + host_ + "/client.key"});
  if (!options_.user.empty()) argv.insert(argv.end(), {"--user", options_.user + ":" + options_.password});
  if (!only.empty()) argv.insert(argv.end(), {"--only", only});
  auto r = run_command(argv);
  must(r, "make_images.py");
  return r.out;
}

}  // namespace crio::test
