#include "stream/tls.hpp"

#include <crio/core/sigpipe.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include <fmt/format.h>

namespace crio::daemon::stream {
namespace {

// The reasons in OpenSSL's error queue of this thread, oldest first; empties it.
std::string openssl_errors() {
  std::vector<std::string> reasons;
  while (unsigned long e = ERR_get_error()) {
    const char* r = ERR_reason_error_string(e);
    std::string reason = r ? r : fmt::format("error {:#x}", e);
    if (std::find(reasons.begin(), reasons.end(), reason) == reasons.end()) reasons.push_back(std::move(reason));
  }
  return reasons.empty() ? "unknown OpenSSL error" : fmt::format("{}", fmt::join(reasons, "; "));
}

// open() first, so that a missing or unreadable file is reported as such rather than
// as OpenSSL's "system lib".
Status check_readable(std::string_view what, const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return error(Code::kFailedPrecondition, "stream server: TLS {} {}: {}", what, path, std::strerror(errno));
  ::close(fd);
  return ok_status();
}

// An encrypted key would otherwise make OpenSSL ask for a passphrase on the terminal.
int no_passphrase(char*, int, int, void*) { return 0; }

// Only HTTP/1.1 is spoken here (SPDY and WebSocket start as an HTTP/1.1 upgrade).
int select_http11(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in, unsigned int in_len,
                  void*) {
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_len, kHttp11, sizeof kHttp11, in, in_len) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// OpenSSL writes to the socket with plain write(), so a peer that has gone raises
// SIGPIPE; the daemon ignores it, but these functions must not depend on that.
using HoldSigpipe = core::SigpipeGuard;

bool set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

}  // namespace

Result<SslCtxPtr> load_server_tls(const std::string& cert, const std::string& key, const std::string& client_ca) {
  CRIO_RETURN_IF_ERROR(check_readable("certificate", cert));
  CRIO_RETURN_IF_ERROR(check_readable("key", key));
  if (!client_ca.empty()) CRIO_RETURN_IF_ERROR(check_readable("client CA", client_ca));

  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return error(Code::kInternal, "stream server: TLS context: {}", openssl_errors());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // A client that drops the connection without close_notify is an ordinary EOF here:
  // the streams carry their own framing, so truncation cannot go unnoticed.
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_alpn_select_cb(ctx.get(), select_http11, nullptr);

  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert.c_str()) != 1) {
    return error(Code::kInvalidArgument, "stream server: TLS certificate {}: not a PEM certificate ({})", cert,
                 openssl_errors());
  }
  // Read apart from SSL_CTX_use_PrivateKey_file, which also compares the key with the
  // certificate: a bad file and a wrong key get their own messages.
  std::unique_ptr<BIO, decltype(&BIO_free)> key_file(BIO_new_file(key.c_str(), "r"), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      key_file ? PEM_read_bio_PrivateKey(key_file.get(), nullptr, no_passphrase, nullptr) : nullptr, &EVP_PKEY_free);
  if (!pkey) {
    return error(Code::kInvalidArgument, "stream server: TLS key {}: not an unencrypted PEM private key ({})", key,
                 openssl_errors());
  }
  if (SSL_CTX_use_PrivateKey(ctx.get(), pkey.get()) != 1 || SSL_CTX_check_private_key(ctx.get()) != 1) {
    return error(Code::kInvalidArgument, "stream server: TLS key {} does not match the certificate {} ({})", key, cert,
                 openssl_errors());
  }
  if (!client_ca.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), client_ca.c_str(), nullptr) != 1) {
      return error(Code::kInvalidArgument, "stream server: TLS client CA {}: no PEM certificate in it ({})", client_ca,
                   openssl_errors());
    }
    // The CA names sent to the client, so that it can pick a matching certificate.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(client_ca.c_str())) {
      SSL_CTX_set_client_CA_list(ctx.get(), names);
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    // Needed for session resumption when client certificates are verified.
    static const unsigned char kSessionContext[] = "crio-stream";
    SSL_CTX_set_session_id_context(ctx.get(), kSessionContext, sizeof kSessionContext - 1);
  }
  ERR_clear_error();
  return ctx;
}

Result<SslPtr> tls_handshake(SSL_CTX* ctx, int fd, TlsRole role, std::chrono::milliseconds timeout) {
  HoldSigpipe hold;
  if (!set_nonblocking(fd)) return error(Code::kInternal, "TLS handshake: fcntl: {}", std::strerror(errno));
  ERR_clear_error();
  SslPtr ssl(SSL_new(ctx));
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) return error(Code::kInternal, "TLS handshake: {}", openssl_errors());
  if (role == TlsRole::kServer) {
    SSL_set_accept_state(ssl.get());
  } else {
    SSL_set_connect_state(ssl.get());
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    ERR_clear_error();
    int r = SSL_do_handshake(ssl.get());
    if (r == 1) return ssl;
    short events = 0;
    switch (int e = SSL_get_error(ssl.get(), r)) {
      case SSL_ERROR_WANT_READ: events = POLLIN; break;
      case SSL_ERROR_WANT_WRITE: events = POLLOUT; break;
      case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0) {
          return error(Code::kUnavailable, "TLS handshake: {}",
                       errno == 0 ? "connection closed by the peer" : std::strerror(errno));
        }
        [[fallthrough]];
      default: {
        std::string reason = e == SSL_ERROR_ZERO_RETURN ? "connection closed by the peer" : openssl_errors();
        long verify = SSL_get_verify_result(ssl.get());
        if (verify != X509_V_OK) reason += fmt::format(" (certificate: {})", X509_verify_cert_error_string(verify));
        return error(Code::kUnavailable, "TLS handshake: {}", reason);
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return error(Code::kDeadlineExceeded, "TLS handshake: not complete within {}ms", timeout.count());
    }
    pollfd p{fd, events, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) {
      return error(Code::kInternal, "TLS handshake: poll: {}", std::strerror(errno));
    }
  }
}

void tls_relay(SSL* ssl, int local, std::chrono::milliseconds linger) {
  HoldSigpipe hold;
  const int net = SSL_get_fd(ssl);
  if (net < 0 || !set_nonblocking(local)) return;
  SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);

  constexpr size_t kBuf = 16 * 1024;  // one TLS record
  std::vector<char> up(kBuf);         // local → peer
  size_t up_len = 0;
  std::vector<char> down(kBuf);  // peer → local
  size_t down_off = 0, down_len = 0;
  bool local_eof = false;         // no more input from local
  bool local_gone = false;        // local's other end is closed: nobody reads any more
  bool close_notify_sent = false;
  bool peer_eof = false;          // close_notify or EOF from the peer
  bool local_write_shut = false;
  bool net_hangup = false;
  std::optional<std::chrono::steady_clock::time_point> linger_deadline;

  for (;;) {
    bool progress = false;
    short net_events = 0, local_events = 0;
    // Maps an SSL error to the socket condition it waits for; false: fatal.
    auto wait_for = [&](int ssl_error) {
      if (ssl_error == SSL_ERROR_WANT_READ) net_events |= POLLIN;
      else if (ssl_error == SSL_ERROR_WANT_WRITE) net_events |= POLLOUT;
      else return false;
      return true;
    };

    // Peer → local.
    if (local_gone) down_off = down_len = 0;
    if (down_off < down_len) {
      ssize_t n = ::send(local, down.data() + down_off, down_len - down_off, MSG_NOSIGNAL);
      if (n > 0) {
        down_off += static_cast<size_t>(n);
        if (down_off == down_len) down_off = down_len = 0;
        progress = true;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        local_events |= POLLOUT;
      } else if (!(n < 0 && errno == EINTR)) {
        local_gone = true;
        down_off = down_len = 0;
        progress = true;
      }
    }
    if (down_len == 0 && !peer_eof && !local_gone) {
      ERR_clear_error();
      int n = SSL_read(ssl, down.data(), static_cast<int>(down.size()));
      if (n > 0) {
        down_len = static_cast<size_t>(n);
        progress = true;
      } else {
        int e = SSL_get_error(ssl, n);
        if (e == SSL_ERROR_ZERO_RETURN) {
          peer_eof = true;
          progress = true;
        } else if (!wait_for(e)) {
          break;
        }
      }
    }
    if (peer_eof && down_len == 0 && !local_write_shut && !local_gone) {
      ::shutdown(local, SHUT_WR);
      local_write_shut = true;
      progress = true;
    }

    // Local → peer.
    if (up_len > 0) {
      ERR_clear_error();
      int n = SSL_write(ssl, up.data(), static_cast<int>(up_len));
      if (n > 0) {
        std::memmove(up.data(), up.data() + n, up_len - static_cast<size_t>(n));
        up_len -= static_cast<size_t>(n);
        progress = true;
      } else if (!wait_for(SSL_get_error(ssl, n))) {
        break;
      }
    }
    if (up_len == 0 && local_eof && !close_notify_sent) {
      ERR_clear_error();
      int r = SSL_shutdown(ssl);
      if (r >= 0) {
        close_notify_sent = true;
        progress = true;
      } else if (!wait_for(SSL_get_error(ssl, r))) {
        break;
      }
    }
    if (!local_eof && up_len < up.size()) {
      ssize_t n = ::read(local, up.data() + up_len, up.size() - up_len);
      if (n > 0) {
        up_len += static_cast<size_t>(n);
        progress = true;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        local_events |= POLLIN;
      } else if (!(n < 0 && errno == EINTR)) {
        local_eof = true;  // EOF, or ECONNRESET: the other end closed with input unread
        progress = true;
      }
    }

    if (close_notify_sent && (local_gone || local_write_shut)) return;
    if (progress) continue;
    // A hang-up the SSL calls above did not turn into progress or an error: give up.
    if (net_hangup) break;

    int timeout = -1;
    if (local_gone) {
      auto now = std::chrono::steady_clock::now();
      if (!linger_deadline) linger_deadline = now + linger;
      if (now >= *linger_deadline) break;
      timeout = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(*linger_deadline - now).count());
    }
    // The hang-up flags are reported whatever was asked for: an fd that has nothing to
    // wait for is left out, so that a hang-up on it cannot spin this loop.
    pollfd p[2] = {{net_events ? net : -1, net_events, 0}, {local_gone ? -1 : local, local_events, 0}};
    if (::poll(p, 2, timeout) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) net_hangup = true;
    // Both directions of local are shut: its other end closed (or shut down both ways).
    if (p[1].revents & (POLLERR | POLLHUP | POLLNVAL)) local_gone = true;
  }
}

}  // namespace crio::daemon::stream
