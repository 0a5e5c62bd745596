#pragma once
// The metrics endpoints that prometheus-cpp's exposer cannot serve with Debian's
// civetweb 1.15: TLS (its OpenSSL loader crashes with OpenSSL 3), unix sockets and
// IPv6 (both left out of its build). A small HTTP/1.1 server: GET /metrics answers with
// what `scrape` returns, one request per connection, each on its own thread.
//
// With a certificate and key, every endpoint speaks TLS (1.2 or later), as CRI-O's do.
// The pair is read again when either file changes; a pair that does not load (or a
// file that is gone) leaves the last good one in use. When neither file exists, a
// self-signed pair for this host is written there first, as CRI-O does.

#include <crio/core/status.hpp>

#include <functional>
#include <memory>
#include <string>

namespace crio::daemon {

struct MetricsServerOptions {
  std::string host;  // with `port`: a TCP endpoint; empty: none
  int port = 0;
  std::string socket;  // a unix socket endpoint; empty: none
  std::string cert;    // TLS when cert and key are set
  std::string key;
};

class MetricsServer {
 public:
  // Binds every endpoint, then serves in the background. Errors name the option.
  static Result<std::unique_ptr<MetricsServer>> start(const MetricsServerOptions& options,
                                                      std::function<std::string()> scrape);
  ~MetricsServer();  // stops listening, ends open connections, removes the socket file
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  int tcp_port() const;  // the bound port (metrics_port, or the one picked for 0)

  struct Impl;

 private:
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crio::daemon
