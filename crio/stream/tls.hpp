#pragma once
// TLS for the streaming server, kept outside the SPDY and WebSocket code: their
// threads read and write one socket concurrently, which a single OpenSSL SSL object
// does not allow. So each TLS connection is terminated by one relay thread that owns
// the SSL object and moves plain bytes to and from a local socket; the protocol code
// gets that local socket as if it were the client's TCP connection.

#include <crio/core/status.hpp>

#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <string>

namespace crio::daemon::stream {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;

// A server context with the certificate (PEM; a chain may follow it) and its key.
// With `client_ca` set, clients must present a certificate signed by one of the CAs
// in that PEM bundle. Errors name the file and the reason.
Result<SslCtxPtr> load_server_tls(const std::string& cert, const std::string& key, const std::string& client_ca);

enum class TlsRole { kServer, kClient };

// Makes `fd` (a connected TCP socket) non-blocking and runs the TLS handshake on it,
// for at most `timeout`. The SSL object uses `fd` but does not own it.
Result<SslPtr> tls_handshake(SSL_CTX* ctx, int fd, TlsRole role, std::chrono::milliseconds timeout);

// Moves bytes between `ssl` (after tls_handshake) and `local`, one end of a local
// stream socket pair, until both directions have ended. End of input from `local`
// sends close_notify; close_notify (or EOF) from the peer shuts down `local` for
// writing. A fatal error on either side, or `local`'s other end being closed, ends
// the relay; after the latter, output still buffered gets `linger` to reach the peer.
// Neither fd is closed here: closing `local` afterwards is what tells the other end.
void tls_relay(SSL* ssl, int local, std::chrono::milliseconds linger = std::chrono::seconds(5));

}  // namespace crio::daemon::stream
