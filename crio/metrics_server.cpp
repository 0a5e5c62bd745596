#include "metrics_server.hpp"

#include <crio/core/fs.hpp>
#include <crio/core/log.hpp>

#include <boost/beast/http.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <list>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

namespace crio::daemon {
namespace {

namespace http = boost::beast::http;

constexpr size_t kMaxRequestBytes = 16 * 1024;
constexpr int kIoTimeoutSeconds = 10;

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    const char* r = ERR_reason_error_string(e);
    if (!out.empty()) out += "; ";
    out += r ? r : fmt::format("error {:#x}", e);
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

int no_passphrase(char*, int, int, void*) { return 0; }

// A certificate chain and its key, loaded together.
struct KeyPair {
  X509* cert = nullptr;
  STACK_OF(X509) * chain = nullptr;  // what follows the leaf in the file
  EVP_PKEY* key = nullptr;
  ~KeyPair() {
    X509_free(cert);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
  }
};

struct FileStamp {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  timespec mtime{};
  bool operator==(const FileStamp& o) const {
    return dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
           mtime.tv_nsec == o.mtime.tv_nsec;
  }
};

std::optional<FileStamp> stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileStamp{st.st_dev, st.st_ino, st.st_size, st.st_mtim};
}

Result<std::shared_ptr<KeyPair>> load_pair(const std::string& cert_path, const std::string& key_path) {
  auto pair = std::make_shared<KeyPair>();
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(BIO_new_file(cert_path.c_str(), "r"), BIO_free);
  if (!cert_bio)
    return error(Code::kFailedPrecondition, "crio.metrics.metrics_cert: {}: {}", cert_path, std::strerror(errno));
  pair->cert = PEM_read_bio_X509(cert_bio.get(), nullptr, no_passphrase, nullptr);
  if (!pair->cert) {
    return error(Code::kFailedPrecondition, "crio.metrics.metrics_cert: {}: no PEM certificate: {}", cert_path,
                 openssl_errors());
  }
  pair->chain = sk_X509_new_null();
  while (X509* more = PEM_read_bio_X509(cert_bio.get(), nullptr, no_passphrase, nullptr))
    sk_X509_push(pair->chain, more);
  ERR_clear_error();  // the end of the file
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(BIO_new_file(key_path.c_str(), "r"), BIO_free);
  if (!key_bio)
    return error(Code::kFailedPrecondition, "crio.metrics.metrics_key: {}: {}", key_path, std::strerror(errno));
  pair->key = PEM_read_bio_PrivateKey(key_bio.get(), nullptr, no_passphrase, nullptr);
  if (!pair->key) {
    return error(Code::kFailedPrecondition, "crio.metrics.metrics_key: {}: no unencrypted PEM private key: {}",
                 key_path, openssl_errors());
  }
  if (X509_check_private_key(pair->cert, pair->key) != 1) {
    ERR_clear_error();
    return error(Code::kFailedPrecondition, "crio.metrics.metrics_key: {} is not the key of the certificate {}",
                 key_path, cert_path);
  }
  if (X509_cmp_current_time(X509_get0_notAfter(pair->cert)) <= 0)
    return error(Code::kFailedPrecondition, "crio.metrics.metrics_cert: {}: the certificate has expired", cert_path);
  if (X509_cmp_current_time(X509_get0_notBefore(pair->cert)) >= 0)
    return error(Code::kFailedPrecondition, "crio.metrics.metrics_cert: {}: the certificate is not valid yet",
                 cert_path);
  return pair;
}

std::string parent_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

// A self-signed certificate for this host (and localhost), valid for a year.
Status write_self_signed(const std::string& cert_path, const std::string& key_path) {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "localhost");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_RSA_gen(2048), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (!key || !cert) return error(Code::kInternal, "crio.metrics.metrics_cert: generating a key: {}", openssl_errors());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(host), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  std::string san = fmt::format("DNS:{},DNS:localhost,IP:127.0.0.1,IP:::1", host);
  for (auto [nid, value] : std::vector<std::pair<int, std::string>>{{NID_subject_alt_name, san},
                                                                    {NID_basic_constraints, "critical,CA:FALSE"},
                                                                    {NID_ext_key_usage, "serverAuth"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
    if (!ext) return error(Code::kInternal, "crio.metrics.metrics_cert: certificate extension: {}", openssl_errors());
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
    return error(Code::kInternal, "crio.metrics.metrics_cert: signing: {}", openssl_errors());

  auto pem = [](auto write) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    write(bio.get());
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(n));
  };
  std::string cert_pem = pem([&](BIO* b) { PEM_write_bio_X509(b, cert.get()); });
  std::string key_pem =
      pem([&](BIO* b) { PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr); });
  for (auto [path, data] : {std::pair{cert_path, cert_pem}, std::pair{key_path, key_pem}}) {
    CRIO_RETURN_IF_ERROR(fs::make_dirs(parent_of(path), 0700));
    CRIO_RETURN_IF_ERROR(fs::write_file_atomic(path, data, 0600));
  }
  return ok_status();
}

// The pair in use, read again when either file changes.
class CertReloader {
 public:
  CertReloader(std::string cert, std::string key) : cert_path_(std::move(cert)), key_path_(std::move(key)) {}

  Status load() {
    CRIO_ASSIGN_OR_RETURN(auto pair, load_pair(cert_path_, key_path_));
    std::lock_guard lock(mutex_);
    current_ = std::move(pair);
    cert_stamp_ = stamp_of(cert_path_);
    key_stamp_ = stamp_of(key_path_);
    log_validity();
    return ok_status();
  }

  std::shared_ptr<KeyPair> current() {
    auto cert = stamp_of(cert_path_);
    auto key = stamp_of(key_path_);
    std::lock_guard lock(mutex_);
    // A file that is gone keeps the pair in use; so does one that changed and does not load.
    if (cert && key && (!(cert == cert_stamp_) || !(key == key_stamp_))) {
      cert_stamp_ = cert;
      key_stamp_ = key;
      auto loaded = load_pair(cert_path_, key_path_);
      if (loaded.ok()) {
        current_ = *loaded;
        log::info("reloaded the metrics certificate", {{"cert", cert_path_}});
        log_validity();
      } else {
        log::warn("keeping the previous metrics certificate", {{"error", loaded.status().message()}});
      }
    }
    return current_;
  }

 private:
  void log_validity() {
    auto text = [](const ASN1_TIME* t) {
      std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
      ASN1_TIME_print(bio.get(), t);
      char* data = nullptr;
      long n = BIO_get_mem_data(bio.get(), &data);
      return std::string(data, static_cast<size_t>(n));
    };
    log::info("metrics certificate", {{"not_before", text(X509_get0_notBefore(current_->cert))},
                                      {"not_after", text(X509_get0_notAfter(current_->cert))}});
  }

  const std::string cert_path_, key_path_;
  std::mutex mutex_;
  std::shared_ptr<KeyPair> current_;
  std::optional<FileStamp> cert_stamp_, key_stamp_;
};

int use_current_pair(SSL* ssl, void* arg) {
  auto pair = static_cast<CertReloader*>(arg)->current();
  if (!pair) return 0;
  return SSL_use_cert_and_key(ssl, pair->cert, pair->key, pair->chain, 1) == 1 ? 1 : 0;
}

Result<fs::UniqueFd> listen_tcp(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0)
    return error(Code::kInvalidArgument, "crio.metrics.metrics_host: cannot resolve {}: {}", host, ::gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, ::freeaddrinfo);
  int last_errno = 0;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    fs::UniqueFd fd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (!fd.valid()) {
      last_errno = errno;
      continue;
    }
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd.get(), 64) == 0) return fd;
    last_errno = errno;
  }
  return error(Code::kUnavailable, "crio.metrics.metrics_port: cannot listen on {}:{} for metrics: {}", host, port,
               std::strerror(last_errno));
}

Result<fs::UniqueFd> listen_unix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return error(Code::kInvalidArgument, "crio.metrics.metrics_socket: {} is too long for a socket path", path);
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  // A socket file nobody answers on is left over from an earlier run: removed, as CRI-O does.
  if (fs::exists(path)) {
    fs::UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
      return error(Code::kUnavailable, "crio.metrics.metrics_socket: {} is in use by another process", path);
    CRIO_RETURN_IF_ERROR(fs::remove_file(path));
  }
  CRIO_RETURN_IF_ERROR(fs::make_dirs(parent_of(path), 0755));
  fs::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd.get(), 64) != 0)
    return error(Code::kUnavailable, "crio.metrics.metrics_socket: cannot listen on {}: {}", path,
                 std::strerror(errno));
  return fd;
}

}  // namespace

struct MetricsServer::Impl {
  MetricsServerOptions options;
  std::function<std::string()> scrape;
  std::unique_ptr<CertReloader> certs;
  SSL_CTX* ssl_ctx = nullptr;
  fs::UniqueFd tcp, unix_socket, wake;
  int tcp_port = 0;
  std::thread acceptor;

  struct Connection {
    int fd;
    std::thread thread;
    std::atomic<bool> done{false};
  };
  std::mutex mutex;
  std::list<Connection> connections;  // guarded by mutex
  bool stopping = false;              // guarded by mutex

  ~Impl() {
    if (acceptor.joinable()) {
      uint64_t one = 1;
      (void)!::write(wake.get(), &one, sizeof one);
      acceptor.join();
    }
    {
      std::lock_guard lock(mutex);
      stopping = true;
      for (auto& c : connections) {
        if (c.fd >= 0) ::shutdown(c.fd, SHUT_RDWR);
      }
    }
    for (auto& c : connections) c.thread.join();
    if (unix_socket.valid()) (void)fs::remove_file(options.socket);
    if (ssl_ctx) SSL_CTX_free(ssl_ctx);
  }

  void accept_loop() {
    for (;;) {
      pollfd fds[3] = {{wake.get(), POLLIN, 0}, {tcp.get(), POLLIN, 0}, {unix_socket.get(), POLLIN, 0}};
      int n = ::poll(fds, 3, 1000);
      reap();
      if (n < 0 && errno != EINTR) return;
      if (fds[0].revents) return;
      for (int i = 1; i < 3; ++i) {
        if (!(fds[i].revents & POLLIN)) continue;
        int fd = ::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        std::lock_guard lock(mutex);
        if (stopping) {
          ::close(fd);
          continue;
        }
        auto& c = connections.emplace_back();
        c.fd = fd;
        c.thread = std::thread([this, &c] {
          serve(c.fd);
          std::lock_guard done_lock(mutex);
          ::close(c.fd);
          c.fd = -1;
          c.done = true;
        });
      }
    }
  }

  void reap() {
    std::lock_guard lock(mutex);
    for (auto it = connections.begin(); it != connections.end();) {
      if (it->done) {
        it->thread.join();
        it = connections.erase(it);
      } else {
        ++it;
      }
    }
  }

  void serve(int fd) {
    timeval timeout{kIoTimeoutSeconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl(nullptr, SSL_free);
    if (ssl_ctx) {
      ssl.reset(SSL_new(ssl_ctx));
      SSL_set_fd(ssl.get(), fd);
      if (SSL_accept(ssl.get()) != 1) {
        log::debug("metrics TLS handshake failed", {{"error", openssl_errors()}});
        return;
      }
    }
    auto read_some = [&](char* buf, size_t len) -> long {
      if (ssl) return SSL_read(ssl.get(), buf, static_cast<int>(len));
      return ::recv(fd, buf, len, 0);
    };
    auto write_all = [&](const std::string& data) {
      size_t off = 0;
      while (off < data.size()) {
        long n = ssl ? SSL_write(ssl.get(), data.data() + off, static_cast<int>(data.size() - off))
                     : ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return;
        off += static_cast<size_t>(n);
      }
    };

    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos && request.find("\n\n") == std::string::npos) {
      if (request.size() > kMaxRequestBytes) return;
      long n = read_some(buf, sizeof buf);
      if (n <= 0) return;
      request.append(buf, static_cast<size_t>(n));
    }
    std::istringstream line(request.substr(0, request.find('\n')));
    std::string method, target, version;
    line >> method >> target >> version;
    target = target.substr(0, target.find('?'));

    http::response<http::string_body> res;
    res.version(version == "HTTP/1.0" ? 10 : 11);
    res.set(http::field::server, "crio");
    res.keep_alive(false);
    if (target != "/metrics") {
      res.result(http::status::not_found);
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.body() = "not found\n";
    } else if (method != "GET" && method != "HEAD") {
      res.result(http::status::method_not_allowed);
      res.set(http::field::allow, "GET, HEAD");
    } else {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res.body() = scrape();
    }
    res.prepare_payload();
    if (method == "HEAD") res.body().clear();
    std::ostringstream out;
    out << res;
    write_all(out.str());
    if (ssl) SSL_shutdown(ssl.get());
  }
};

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const MetricsServerOptions& options,
                                                            std::function<std::string()> scrape) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->scrape = std::move(scrape);
  if (!options.cert.empty() && !options.key.empty()) {
    if (!fs::exists(options.cert) && !fs::exists(options.key)) {
      log::info("the metrics certificate and key do not exist: writing a self-signed pair",
                {{"cert", options.cert}, {"key", options.key}});
      CRIO_RETURN_IF_ERROR(write_self_signed(options.cert, options.key));
    }
    impl->certs = std::make_unique<CertReloader>(options.cert, options.key);
    CRIO_RETURN_IF_ERROR(impl->certs->load());
    impl->ssl_ctx = SSL_CTX_new(TLS_server_method());
    if (!impl->ssl_ctx) return error(Code::kInternal, "metrics TLS: {}", openssl_errors());
    SSL_CTX_set_min_proto_version(impl->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_cert_cb(impl->ssl_ctx, use_current_pair, impl->certs.get());
  }
  if (!options.host.empty()) {
    CRIO_ASSIGN_OR_RETURN(impl->tcp, listen_tcp(options.host, options.port));
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    ::getsockname(impl->tcp.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    impl->tcp_port = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                                      : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  }
  if (!options.socket.empty()) {
    CRIO_ASSIGN_OR_RETURN(impl->unix_socket, listen_unix(options.socket));
  }
  impl->wake = fs::UniqueFd(::eventfd(0, EFD_CLOEXEC));
  Impl* raw = impl.get();
  impl->acceptor = std::thread([raw] { raw->accept_loop(); });
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MetricsServer::~MetricsServer() = default;

int MetricsServer::tcp_port() const { return impl_->tcp_port; }

}  // namespace crio::daemon
