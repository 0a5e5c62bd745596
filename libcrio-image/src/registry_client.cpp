#include <crio/image/registry_client.hpp>

#include <crio/core/digest.hpp>
#include <crio/core/fs.hpp>
#include <crio/core/log.hpp>

#include <curl/curl.h>
#include <nlohmann/json.hpp>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace crio::image {

namespace {

namespace stdfs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxManifestBytes = 4 << 20;
constexpr size_t kMaxSmallBody = 1 << 20;  // tokens, error documents
constexpr int kMaxRedirects = 10;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

constexpr std::string_view kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// ---- curl plumbing ---------------------------------------------------------

void curl_global() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Easy = std::unique_ptr<CURL, EasyDeleter>;
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

// Connections, DNS answers and TLS sessions shared by every transfer of a client.
class Share {
 public:
  Share() {
    share_ = curl_share_init();
    curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, &Share::lock);
    curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, &Share::unlock);
    curl_share_setopt(share_, CURLSHOPT_USERDATA, this);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
  ~Share() { curl_share_cleanup(share_); }
  CURLSH* get() const { return share_; }

 private:
  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* self) {
    static_cast<Share*>(self)->mutexes_[static_cast<size_t>(data) % kLocks].lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* self) {
    static_cast<Share*>(self)->mutexes_[static_cast<size_t>(data) % kLocks].unlock();
  }
  static constexpr size_t kLocks = CURL_LOCK_DATA_LAST;
  CURLSH* share_ = nullptr;
  std::array<std::mutex, kLocks> mutexes_;
};

// Extra trust and client identity for one registry host, from certs.d.
struct HostTls {
  std::string ca_pem;  // every *.crt, concatenated
  std::string client_cert;
  std::string client_key;
};

CURLcode add_cas(CURL*, void* ssl_ctx, void* userdata) {
  const auto* tls = static_cast<const HostTls*>(userdata);
  if (!tls || tls->ca_pem.empty()) return CURLE_OK;
  X509_STORE* store = SSL_CTX_get_cert_store(static_cast<SSL_CTX*>(ssl_ctx));
  BIO* bio = BIO_new_mem_buf(tls->ca_pem.data(), static_cast<int>(tls->ca_pem.size()));
  if (!bio) return CURLE_OUT_OF_MEMORY;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, cert);  // a duplicate is harmless
    X509_free(cert);
  }
  ERR_clear_error();
  BIO_free(bio);
  return CURLE_OK;
}

struct Request {
  std::string url;
  std::vector<std::string> headers;
  std::optional<std::string> post_form;  // application/x-www-form-urlencoded
  bool verify_tls = true;
  const HostTls* tls = nullptr;
  const BlobSink* sink = nullptr;  // receives a 2xx body
  uint64_t skip = 0;               // bytes of a 200 body already delivered earlier
  size_t max_body = kMaxSmallBody;
};

struct Response {
  long status = 0;
  std::multimap<std::string, std::string> headers;  // names lowercase
  std::string body;
  uint64_t delivered = 0;
  CURLcode code = CURLE_OK;
  std::string curl_error;
  Status sink_status;
  bool too_large = false;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct TransferState {
  const Request* req;
  Response* resp;
  uint64_t to_skip = 0;
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* st = static_cast<TransferState*>(user);
  std::string_view line(data, size * n);
  if (line.substr(0, 5) == "HTTP/") {
    // A new response (after 100-continue or a proxy CONNECT): start over.
    st->resp->headers.clear();
    std::size_t sp = line.find(' ');
    st->resp->status = sp == std::string_view::npos ? 0 : std::atol(std::string(line.substr(sp + 1, 3)).c_str());
    st->to_skip = st->resp->status == 200 ? st->req->skip : 0;
    return size * n;
  }
  std::size_t colon = line.find(':');
  if (colon != std::string_view::npos)
    st->resp->headers.emplace(lower(trim(line.substr(0, colon))), trim(line.substr(colon + 1)));
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* st = static_cast<TransferState*>(user);
  size_t len = size * n;
  Response& resp = *st->resp;
  bool ok = resp.status >= 200 && resp.status < 300;
  if (ok && st->req->sink) {
    size_t skip = static_cast<size_t>(std::min<uint64_t>(st->to_skip, len));
    st->to_skip -= skip;
    if (len > skip) {
      resp.sink_status = (*st->req->sink)(data + skip, len - skip);
      if (!resp.sink_status.ok()) return 0;  // aborts with CURLE_WRITE_ERROR
      resp.delivered += len - skip;
    }
    return len;
  }
  if (resp.body.size() + len > st->req->max_body) {
    resp.too_large = true;
    return 0;
  }
  resp.body.append(data, len);
  return len;
}

// ---- URLs ------------------------------------------------------------------

struct Origin {
  std::string scheme, host, port;
  bool operator==(const Origin&) const = default;
};

std::optional<Origin> origin_of(const std::string& url) {
  CURLU* u = curl_url();
  std::optional<Origin> out;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char *scheme = nullptr, *host = nullptr, *port = nullptr;
    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    curl_url_get(u, CURLUPART_HOST, &host, 0);
    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    if (scheme && host) out = Origin{lower(scheme), lower(host), port ? port : ""};
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
  }
  curl_url_cleanup(u);
  return out;
}

std::string url_escape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

bool retriable_curl(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_COULDNT_RESOLVE_HOST:
      return true;
    default:
      return false;
  }
}

// The registry's own words from an error document: {"errors":[{"code","message"}]}.
std::string registry_error(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("errors") || !j["errors"].is_array()) return "";
  std::string out;
  for (const auto& e : j["errors"]) {
    if (!e.is_object()) continue;
    std::string code = e.value("code", "");
    std::string msg = e.value("message", "");
    if (!out.empty()) out += "; ";
    out += code.empty() ? msg : (msg.empty() ? code : code + ": " + msg);
  }
  return out;
}

}  // namespace

// ---- public helpers --------------------------------------------------------

std::string base64_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i + 1 == data.size()) {
    uint32_t v = uint8_t(data[i]) << 16;
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (char c : text) {
    if (c == '=') {
      ++pad;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    std::size_t v = kB64.find(c);
    if (v == std::string_view::npos || pad > 0)
      return Status(Code::kInvalidArgument, "invalid base64: unexpected character");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (pad > 2 || bits >= 6) return Status(Code::kInvalidArgument, "invalid base64: truncated");
  return out;
}

Result<std::pair<std::string, std::string>> basic_credentials(const AuthConfig& auth) {
  if (!auth.username.empty()) return std::make_pair(auth.username, auth.password);
  if (auth.auth.empty()) return Status(Code::kInvalidArgument, "no username or auth in the credentials");
  auto decoded = base64_decode(auth.auth);
  if (!decoded.ok()) return Status(Code::kInvalidArgument, "credentials: \"auth\" is not valid base64");
  std::size_t colon = decoded->find(':');
  if (colon == std::string::npos || colon == 0)
    return Status(Code::kInvalidArgument, "credentials: \"auth\" does not decode to \"user:password\"");
  return std::make_pair(decoded->substr(0, colon), decoded->substr(colon + 1));
}

std::vector<AuthChallenge> parse_www_authenticate(std::string_view h) {
  std::vector<AuthChallenge> out;
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
  };
  auto token = [&] {
    size_t start = i;
    while (i < h.size() && h[i] != ' ' && h[i] != '\t' && h[i] != '=' && h[i] != ',') ++i;
    return h.substr(start, i - start);
  };
  while (i < h.size()) {
    skip_ws();
    while (i < h.size() && (h[i] == ',' || h[i] == ' ')) ++i;
    if (i >= h.size()) break;
    AuthChallenge ch;
    ch.scheme = lower(token());
    if (ch.scheme.empty()) break;
    // Parameters until the next "Scheme " (a token followed by a space, not '=').
    for (;;) {
      skip_ws();
      size_t save = i;
      std::string_view key = token();
      skip_ws();
      if (key.empty() || i >= h.size() || h[i] != '=') {
        i = save;
        break;
      }
      ++i;  // '='
      skip_ws();
      std::string value;
      if (i < h.size() && h[i] == '"') {
        ++i;
        while (i < h.size() && h[i] != '"') {
          if (h[i] == '\\' && i + 1 < h.size()) ++i;
          value += h[i++];
        }
        if (i < h.size()) ++i;  // closing quote
      } else {
        value = std::string(token());
      }
      ch.params[lower(key)] = value;
      skip_ws();
      if (i < h.size() && h[i] == ',') ++i;
    }
    out.push_back(std::move(ch));
  }
  return out;
}

Result<std::optional<AuthConfig>> lookup_auth_json(std::string_view json, std::string_view source,
                                                   std::string_view registry, std::string_view repository) {
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return error(Code::kInvalidArgument, "auth file {}: not a JSON object", source);
  if (!j.contains("auths")) return std::optional<AuthConfig>();
  const auto& auths = j["auths"];
  if (!auths.is_object()) return error(Code::kInvalidArgument, "auth file {}: \"auths\" must be an object", source);

  auto normalise = [](std::string key) {
    if (auto p = key.find("://"); p != std::string::npos) {
      key = key.substr(p + 3);
      key = key.substr(0, key.find('/'));  // legacy "https://index.docker.io/v1/" → host only
    }
    while (!key.empty() && key.back() == '/') key.pop_back();
    if (key == "index.docker.io" || key == "registry-1.docker.io") key = "docker.io";
    return key;
  };
  std::string want = std::string(registry) + "/" + std::string(repository);
  const nlohmann::json* best = nullptr;
  std::string best_key;
  size_t best_len = 0;
  for (const auto& [raw, value] : auths.items()) {
    std::string key = normalise(raw);
    bool match = want == key || (want.size() > key.size() && want.compare(0, key.size(), key) == 0 &&
                                 want[key.size()] == '/');
    if (match && (!best || key.size() > best_len)) {
      best = &value;
      best_key = raw;
      best_len = key.size();
    }
  }
  if (!best) return std::optional<AuthConfig>();
  if (!best->is_object())
    return error(Code::kInvalidArgument, "auth file {}: entry \"{}\" must be an object", source, best_key);
  AuthConfig a;
  auto str = [&](const char* k) { return best->contains(k) && (*best)[k].is_string() ? (*best)[k].get<std::string>() : ""; };
  a.auth = str("auth");
  a.username = str("username");
  a.password = str("password");
  a.identity_token = str("identitytoken");
  a.registry_token = str("registrytoken");
  if (!a.auth.empty() && a.username.empty()) {
    auto creds = basic_credentials(a);
    if (!creds.ok())
      return error(Code::kInvalidArgument, "auth file {}: entry \"{}\": {}", source, best_key, creds.status().message());
  }
  if (a.empty()) return std::optional<AuthConfig>();
  return std::optional<AuthConfig>(std::move(a));
}

Result<std::optional<AuthConfig>> lookup_auth_file(const std::string& path, std::string_view registry,
                                                   std::string_view repository) {
  if (!fs::exists(path)) return std::optional<AuthConfig>();
  CRIO_ASSIGN_OR_RETURN(std::string text, fs::read_file(path));
  return lookup_auth_json(text, path, registry, repository);
}

RepositoryTarget make_target(const Reference& ref, bool insecure, std::optional<AuthConfig> auth) {
  RepositoryTarget t;
  t.registry = ref.registry;
  t.repository = ref.repository;
  t.insecure = insecure;
  t.auth = std::move(auth);
  t.display = ref.string();
  return t;
}

const std::vector<std::string>& manifest_accept_types() {
  static const std::vector<std::string> types = {
      "application/vnd.oci.image.index.v1+json",
      "application/vnd.docker.distribution.manifest.list.v2+json",
      "application/vnd.oci.image.manifest.v1+json",
      "application/vnd.docker.distribution.manifest.v2+json",
  };
  return types;
}

// ---- the client ------------------------------------------------------------

struct RegistryClient::Impl {
  RegistryClientOptions options;
  Share share;

  std::mutex mu;  // guards the three maps below
  std::unordered_map<std::string, std::string> origins;  // registry[+insecure] → "https://host:port"
  std::unordered_map<std::string, std::shared_ptr<const HostTls>> tls;
  struct Token {
    std::string value;
    Clock::time_point expires;
  };
  // key: registry + '\n' + credential identity + '\n' + scope
  std::unordered_map<std::string, Token> tokens;
  // registry + '\n' + credential identity → the challenge last seen
  std::unordered_map<std::string, AuthChallenge> challenges;

  std::string name(const RepositoryTarget& t) const {
    return t.display.empty() ? t.registry + "/" + t.repository : t.display;
  }

  Result<std::shared_ptr<const HostTls>> host_tls(const std::string& registry) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (auto it = tls.find(registry); it != tls.end()) return it->second;
    }
    auto out = std::make_shared<HostTls>();
    std::string dir = options.certs_dir + "/" + registry;
    std::error_code ec;
    if (!options.certs_dir.empty() && stdfs::is_directory(dir, ec)) {
      std::vector<stdfs::path> files;
      for (const auto& e : stdfs::directory_iterator(dir, ec)) files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        std::string ext = f.extension().string();
        if (ext == ".crt") {
          CRIO_ASSIGN_OR_RETURN(std::string pem, fs::read_file(f.string()));
          out->ca_pem += pem;
          out->ca_pem += "\n";
        } else if (ext == ".cert") {
          stdfs::path key = f;
          key.replace_extension(".key");
          if (!stdfs::exists(key, ec))
            return error(Code::kFailedPrecondition, "registry {}: client certificate {} has no key {}", registry,
                         f.string(), key.string());
          if (out->client_cert.empty()) {
            out->client_cert = f.string();
            out->client_key = key.string();
          }
        } else if (ext == ".key") {
          stdfs::path cert = f;
          cert.replace_extension(".cert");
          if (!stdfs::exists(cert, ec))
            return error(Code::kFailedPrecondition, "registry {}: client key {} has no certificate {}", registry,
                         f.string(), cert.string());
        }
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    tls[registry] = out;
    return std::shared_ptr<const HostTls>(out);
  }

  // One HTTP exchange, no redirects, no retries.
  Response perform(const Request& req) {
    Response resp;
    Easy easy(curl_easy_init());
    if (!easy) {
      resp.code = CURLE_FAILED_INIT;
      resp.curl_error = "curl_easy_init failed";
      return resp;
    }
    CURL* c = easy.get();
    char errbuf[CURL_ERROR_SIZE] = {0};
    TransferState st{&req, &resp, 0};
    Slist headers;
    for (const std::string& h : req.headers) headers.reset(curl_slist_append(headers.release(), h.c_str()));
    curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(c, CURLOPT_SHARE, share.get());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options.connect_timeout.count()));
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(std::max<int64_t>(1, options.stall_timeout.count())));
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &st);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &st);
    if (req.post_form) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.post_form->c_str());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(req.post_form->size()));
    }
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, req.verify_tls ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, req.verify_tls ? 2L : 0L);
    if (req.tls) {
      if (!req.tls->ca_pem.empty()) {
        curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, &add_cas);
        curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, const_cast<HostTls*>(req.tls));
      }
      if (!req.tls->client_cert.empty()) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, req.tls->client_cert.c_str());
        curl_easy_setopt(c, CURLOPT_SSLKEY, req.tls->client_key.c_str());
      }
    }
    resp.code = curl_easy_perform(c);
    if (resp.code != CURLE_OK) resp.curl_error = errbuf[0] ? errbuf : curl_easy_strerror(resp.code);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status) resp.status = status;
    char* redirect = nullptr;
    if (resp.status >= 300 && resp.status < 400 && curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &redirect) == CURLE_OK &&
        redirect)
      resp.headers.emplace("x-crio-redirect", redirect);
    return resp;
  }

  // Follows redirects by hand so that credentials stay with their origin.
  Response follow(Request req, const std::string& auth_header, bool insecure, std::string& error_text) {
    std::optional<Origin> first = origin_of(req.url);
    std::vector<std::string> base = req.headers;
    for (int hop = 0;; ++hop) {
      std::optional<Origin> here = origin_of(req.url);
      req.headers = base;
      if (!auth_header.empty() && here && first && *here == *first) req.headers.push_back(auth_header);
      // TLS verification is relaxed only on the insecure registry itself, never on
      // a host it redirects to.
      req.verify_tls = !(insecure && here && first && here->host == first->host);
      Response resp = perform(req);
      if (resp.code != CURLE_OK || resp.status < 300 || resp.status >= 400) return resp;
      std::string next = resp.header("x-crio-redirect");
      if (next.empty()) return resp;
      if (hop >= kMaxRedirects) {
        error_text = fmt::format("more than {} redirects", kMaxRedirects);
        resp.status = 0;
        resp.code = CURLE_TOO_MANY_REDIRECTS;
        return resp;
      }
      std::optional<Origin> to = origin_of(next);
      if (!to || (to->scheme != "https" && to->scheme != "http")) {
        error_text = fmt::format("redirect to an unsupported URL {}", next);
        resp.code = CURLE_UNSUPPORTED_PROTOCOL;
        return resp;
      }
      if (here && here->scheme == "https" && to->scheme == "http" && !insecure) {
        error_text = fmt::format("refusing a redirect from https to plain http ({})", next);
        resp.code = CURLE_UNSUPPORTED_PROTOCOL;
        return resp;
      }
      req.url = next;
      req.post_form.reset();
    }
  }

  std::string cred_identity(const RepositoryTarget& t, const std::optional<AuthConfig>& a) const {
    if (!a) return "anonymous";
    // Not a secret: only keeps tokens of different credentials apart.
    return core::sha256_of(a->username + "\n" + a->password + "\n" + a->auth + "\n" + a->identity_token + "\n" +
                           a->registry_token);
  }

  Result<std::optional<AuthConfig>> credentials(const RepositoryTarget& t) {
    if (t.auth && !t.auth->empty()) return t.auth;
    if (options.auth_file.empty()) return std::optional<AuthConfig>();
    return lookup_auth_file(options.auth_file, t.registry, t.repository);
  }

  // Scheme and host of the registry's API, probing once per registry.
  Result<std::string> origin(const RepositoryTarget& t) {
    // An origin found for an insecure target (maybe plain http) must never serve a
    // secure one, so the flag is part of the key.
    const std::string key = t.registry + (t.insecure ? "\ninsecure" : "");
    {
      std::lock_guard<std::mutex> lock(mu);
      if (auto it = origins.find(key); it != origins.end()) return it->second;
    }
    CRIO_ASSIGN_OR_RETURN(auto tls_cfg, host_tls(t.registry));
    std::string host = RegistryClient::api_host(t.registry);
    std::vector<std::string> schemes = {"https"};
    if (t.insecure) schemes.push_back("http");
    std::string last_error;
    for (const std::string& scheme : schemes) {
      Request req;
      req.url = scheme + "://" + host + "/v2/";
      req.verify_tls = !t.insecure;
      req.tls = tls_cfg.get();
      std::string err;
      Response resp;
      for (int attempt = 0;; ++attempt) {
        resp = follow(req, "", t.insecure, err);
        if (resp.code == CURLE_OK || !retriable_curl(resp.code) || attempt >= options.max_retries ||
            resp.code == CURLE_COULDNT_CONNECT)
          break;
        std::this_thread::sleep_for(options.retry_backoff * (1 << attempt));
      }
      if (resp.code == CURLE_OK && resp.status != 0) {
        std::string o = scheme + "://" + host;
        std::lock_guard<std::mutex> lock(mu);
        origins[key] = o;
        return o;
      }
      last_error = fmt::format("{}: {}", req.url, err.empty() ? resp.curl_error : err);
      if (resp.code == CURLE_OPERATION_TIMEDOUT)
        return error(Code::kDeadlineExceeded, "image {}: registry {} did not answer: {}", name(t), t.registry,
                     last_error);
    }
    return error(Code::kUnavailable, "image {}: registry {} is not reachable: {}", name(t), t.registry, last_error);
  }

  // Gets a bearer token for `scope` as the challenge asks.
  Result<std::string> fetch_token(const RepositoryTarget& t, const AuthChallenge& ch, const std::string& scope,
                                  const std::optional<AuthConfig>& creds) {
    auto realm_it = ch.params.find("realm");
    if (realm_it == ch.params.end() || realm_it->second.empty())
      return error(Code::kUnauthenticated, "image {}: registry {} sent a bearer challenge without a realm", name(t),
                   t.registry);
    std::optional<Origin> realm = origin_of(realm_it->second);
    if (!realm || (realm->scheme != "https" && !(realm->scheme == "http" && t.insecure)))
      return error(Code::kUnauthenticated, "image {}: registry {}: token realm \"{}\" must be an https URL", name(t),
                   t.registry, realm_it->second);
    std::string service = ch.params.count("service") ? ch.params.at("service") : "";
    CRIO_ASSIGN_OR_RETURN(auto tls_cfg, host_tls(t.registry));
    Request req;
    req.tls = tls_cfg.get();
    req.verify_tls = !t.insecure;
    std::string auth_header;
    if (creds && !creds->identity_token.empty()) {
      req.url = realm_it->second;
      req.post_form = fmt::format("grant_type=refresh_token&refresh_token={}&service={}&scope={}&client_id=crio",
                                  url_escape(creds->identity_token), url_escape(service), url_escape(scope));
      req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
    } else {
      std::string sep = realm_it->second.find('?') == std::string::npos ? "?" : "&";
      req.url = realm_it->second + sep + "service=" + url_escape(service) + "&scope=" + url_escape(scope);
      if (creds) {
        CRIO_ASSIGN_OR_RETURN(auto up, basic_credentials(*creds));
        auth_header = "Authorization: Basic " + base64_encode(up.first + ":" + up.second);
      }
    }
    std::string err;
    Response resp = follow(req, auth_header, t.insecure, err);
    if (resp.code != CURLE_OK)
      return error(Code::kUnavailable, "image {}: token server {}: {}", name(t), realm_it->second,
                   err.empty() ? resp.curl_error : err);
    if (resp.status == 401 || resp.status == 403)
      return error(Code::kUnauthenticated, "image {}: token server {} rejected the credentials (HTTP {})", name(t),
                   realm_it->second, resp.status);
    if (resp.status != 200)
      return error(Code::kUnavailable, "image {}: token server {} answered HTTP {}", name(t), realm_it->second,
                   resp.status);
    auto j = nlohmann::json::parse(resp.body, nullptr, false);
    std::string token;
    if (j.is_object()) {
      if (j.contains("token") && j["token"].is_string()) token = j["token"].get<std::string>();
      if (token.empty() && j.contains("access_token") && j["access_token"].is_string())
        token = j["access_token"].get<std::string>();
    }
    if (token.empty())
      return error(Code::kUnauthenticated, "image {}: token server {} returned no token", name(t), realm_it->second);
    int64_t expires_in = 60;
    if (j.contains("expires_in") && j["expires_in"].is_number_integer())
      expires_in = std::max<int64_t>(j["expires_in"].get<int64_t>(), 60);
    std::lock_guard<std::mutex> lock(mu);
    // Renew a little early so a token does not expire in the middle of a request.
    tokens[t.registry + "\n" + cred_identity(t, creds) + "\n" + scope] =
        Token{token, Clock::now() + std::chrono::seconds(expires_in) - std::chrono::seconds(10)};
    return token;
  }

  // The Authorization header to send before any challenge, from what we learnt.
  Result<std::string> known_auth(const RepositoryTarget& t, const std::string& scope,
                                 const std::optional<AuthConfig>& creds) {
    std::string id = t.registry + "\n" + cred_identity(t, creds);
    if (creds && !creds->registry_token.empty()) return "Authorization: Bearer " + creds->registry_token;
    std::lock_guard<std::mutex> lock(mu);
    auto ch = challenges.find(id);
    if (ch == challenges.end()) return std::string();
    if (ch->second.scheme == "basic" && creds) {
      auto up = basic_credentials(*creds);
      if (!up.ok()) return up.status();
      return "Authorization: Basic " + base64_encode(up->first + ":" + up->second);
    }
    if (ch->second.scheme == "bearer") {
      auto tok = tokens.find(id + "\n" + scope);
      if (tok != tokens.end() && tok->second.expires > Clock::now()) return "Authorization: Bearer " + tok->second.value;
    }
    return std::string();
  }

  // Answers a 401 challenge: Some(header) to retry with, or an error.
  Result<std::string> answer_challenge(const RepositoryTarget& t, const Response& resp, const std::string& scope,
                                       const std::optional<AuthConfig>& creds) {
    std::vector<AuthChallenge> all;
    for (auto [it, end] = resp.headers.equal_range("www-authenticate"); it != end; ++it) {
      auto some = parse_www_authenticate(it->second);
      all.insert(all.end(), some.begin(), some.end());
    }
    const AuthChallenge* bearer = nullptr;
    const AuthChallenge* basic = nullptr;
    for (const auto& c : all) {
      if (c.scheme == "bearer" && !bearer) bearer = &c;
      if (c.scheme == "basic" && !basic) basic = &c;
    }
    std::string id = t.registry + "\n" + cred_identity(t, creds);
    if (bearer) {
      {
        std::lock_guard<std::mutex> lock(mu);
        challenges[id] = *bearer;
      }
      CRIO_ASSIGN_OR_RETURN(std::string token, fetch_token(t, *bearer, scope, creds));
      return "Authorization: Bearer " + token;
    }
    if (basic) {
      if (!creds)
        return error(Code::kUnauthenticated, "image {}: registry {} requires authentication and no credentials are configured",
                     name(t), t.registry);
      {
        std::lock_guard<std::mutex> lock(mu);
        challenges[id] = *basic;
      }
      CRIO_ASSIGN_OR_RETURN(auto up, basic_credentials(*creds));
      return "Authorization: Basic " + base64_encode(up.first + ":" + up.second);
    }
    return error(Code::kUnauthenticated, "image {}: registry {} requires authentication with an unsupported scheme",
                 name(t), t.registry);
  }

  // A GET on the registry with authentication, retries and resumption.
  Result<Response> get(const RepositoryTarget& t, const std::string& path, std::vector<std::string> headers,
                       const BlobSink* sink, size_t max_body, const std::string& what) {
    CRIO_ASSIGN_OR_RETURN(std::string base, origin(t));
    CRIO_ASSIGN_OR_RETURN(auto tls_cfg, host_tls(t.registry));
    CRIO_ASSIGN_OR_RETURN(std::optional<AuthConfig> creds, credentials(t));
    std::string scope = "repository:" + t.repository + ":pull";
    CRIO_ASSIGN_OR_RETURN(std::string auth, known_auth(t, scope, creds));

    bool answered = false;
    uint64_t delivered = 0;
    int attempt = 0;
    for (;;) {
      Request req;
      req.url = base + path;
      req.headers = headers;
      req.tls = tls_cfg.get();
      req.sink = sink;
      req.max_body = max_body;
      req.skip = delivered;
      if (sink && delivered > 0) req.headers.push_back(fmt::format("Range: bytes={}-", delivered));
      std::string err;
      Response resp = follow(req, auth, t.insecure, err);
      delivered += resp.delivered;
      if (!resp.sink_status.ok()) return resp.sink_status;
      if (resp.too_large)
        return error(Code::kInvalidArgument, "image {}: {} is larger than {} bytes", name(t), what, max_body);
      if (resp.code == CURLE_OPERATION_TIMEDOUT)
        return error(Code::kDeadlineExceeded, "image {}: {}: no data received for {}s from {}", name(t), what,
                     options.stall_timeout.count(), t.registry);
      bool retry = false;
      if (resp.code != CURLE_OK) {
        if (!retriable_curl(resp.code) || attempt >= options.max_retries)
          return error(Code::kUnavailable, "image {}: {} from {}: {}", name(t), what, t.registry,
                       err.empty() ? resp.curl_error : err);
        retry = true;
      } else if (resp.status == 401 && !answered) {
        answered = true;
        CRIO_ASSIGN_OR_RETURN(auth, answer_challenge(t, resp, scope, creds));
        continue;
      } else if (resp.status == 429 || resp.status >= 500) {
        if (attempt >= options.max_retries)
          return error(Code::kUnavailable, "image {}: {} from {}: HTTP {} after {} attempts{}", name(t), what,
                       t.registry, resp.status, attempt + 1, detail(resp));
        retry = true;
      } else if (sink && resp.status == 416 && delivered > 0) {
        return error(Code::kDataLoss, "image {}: {}: the registry refused to resume at byte {}", name(t), what,
                     delivered);
      }
      if (retry) {
        log::debug("retrying registry request",
                   {{"image", name(t)}, {"what", what}, {"attempt", attempt + 1}, {"error", resp.curl_error},
                    {"status", resp.status}});
        std::this_thread::sleep_for(options.retry_backoff * (1 << attempt));
        ++attempt;
        continue;
      }
      if (resp.status == 401)
        return error(Code::kUnauthenticated, "image {}: {}: registry {} rejected the credentials{}", name(t), what,
                     t.registry, detail(resp));
      if (resp.status == 403)
        return error(Code::kPermissionDenied, "image {}: {}: access denied by registry {}{}", name(t), what,
                     t.registry, detail(resp));
      if (resp.status == 404)
        return error(Code::kNotFound, "image {}: {} not found in registry {}{}", name(t), what, t.registry,
                     detail(resp));
      if (resp.status < 200 || resp.status >= 300)
        return error(Code::kUnknown, "image {}: {}: registry {} answered HTTP {}{}", name(t), what, t.registry,
                     resp.status, detail(resp));
      return resp;
    }
  }

  static std::string detail(const Response& resp) {
    std::string e = registry_error(resp.body);
    return e.empty() ? std::string() : " (" + e + ")";
  }
};

RegistryClient::RegistryClient(RegistryClientOptions options) {
  curl_global();
  impl_ = std::make_unique<Impl>();
  impl_->options = std::move(options);
}

RegistryClient::~RegistryClient() = default;

const RegistryClientOptions& RegistryClient::options() const { return impl_->options; }

std::string RegistryClient::api_host(std::string_view registry) {
  if (registry == kDockerHub || registry == "index.docker.io") return "registry-1.docker.io";
  return std::string(registry);
}

Status RegistryClient::ping(const RepositoryTarget& target) {
  auto o = impl_->origin(target);
  return o.ok() ? ok_status() : o.status();
}

Result<ManifestResponse> RegistryClient::get_manifest(const RepositoryTarget& target, std::string_view reference) {
  bool by_digest = reference.find(':') != std::string_view::npos;
  if (by_digest) CRIO_RETURN_IF_ERROR(validate_digest(reference, fmt::format("image {}", impl_->name(target))));
  std::string accept = "Accept: ";
  for (size_t i = 0; i < manifest_accept_types().size(); ++i) {
    if (i) accept += ", ";
    accept += manifest_accept_types()[i];
  }
  std::string what = fmt::format("manifest {}", reference);
  CRIO_ASSIGN_OR_RETURN(Response resp, impl_->get(target, "/v2/" + target.repository + "/manifests/" + std::string(reference),
                                                  {accept}, nullptr, kMaxManifestBytes, what));
  ManifestResponse out;
  out.body = std::move(resp.body);
  std::string ct = resp.header("content-type");
  out.media_type = trim(ct.substr(0, ct.find(';')));
  if (by_digest) {
    CRIO_ASSIGN_OR_RETURN(core::Digest want, core::parse_digest(reference));
    CRIO_ASSIGN_OR_RETURN(core::Digester d, core::Digester::create(want.algorithm));
    d.update(out.body);
    std::string got = d.finish();
    if (got != reference)
      return error(Code::kDataLoss, "image {}: manifest digest mismatch: asked for {}, received {}",
                   impl_->name(target), reference, got);
  }
  out.digest = core::sha256_of(out.body);
  return out;
}

Status RegistryClient::get_blob(const RepositoryTarget& target, std::string_view digest, const BlobSink& sink) {
  CRIO_RETURN_IF_ERROR(validate_digest(digest, fmt::format("image {}: blob", impl_->name(target))));
  std::string what = fmt::format("blob {}", digest);
  auto r = impl_->get(target, "/v2/" + target.repository + "/blobs/" + std::string(digest), {}, &sink, kMaxSmallBody, what);
  return r.ok() ? ok_status() : r.status();
}

}  // namespace crio::image
