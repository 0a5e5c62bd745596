#include <crio/image/trust.hpp>

#include <crio/image/policy.hpp>
#include <crio/image/registry_client.hpp>

#include <curl/curl.h>

namespace crio::image {
namespace {

constexpr size_t kMaxSignatureBytes = 4 * 1024 * 1024;

size_t append_bounded(char* data, size_t size, size_t count, void* user) {
  auto* out = static_cast<std::string*>(user);
  size_t n = size * count;
  if (out->size() + n > kMaxSignatureBytes) return 0;  // aborts the transfer
  out->append(data, n);
  return n;
}

// GET of an http(s) lookaside URL; 404 means "no more signatures".
Result<std::optional<std::string>> http_get(const std::string& url) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return error(Code::kInternal, "signature lookaside {}: cannot create a transfer", url);
  std::string body;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, append_bounded);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) {
    return error(Code::kUnavailable, "signature lookaside {}: {}", url, curl_easy_strerror(rc));
  }
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  if (status == 404) return std::optional<std::string>();
  if (status != 200) return error(Code::kUnavailable, "signature lookaside {}: HTTP {}", url, status);
  return std::optional<std::string>(std::move(body));
}

SignatureFetcher registry_fetcher(const ManifestCheck& check) {
  SignatureFetcher fetcher;
  fetcher.get_url = http_get;
  // Signatures live beside the manifest: in the repository it came from.
  const RepositoryTarget& target = check.target;
  RegistryClient& client = check.client;
  fetcher.get_manifest = [&target, &client](const Reference&, const std::string& tag)
      -> Result<std::optional<std::string>> {
    auto manifest = client.get_manifest(target, tag);
    if (!manifest.ok()) {
      if (manifest.status().code() == Code::kNotFound) return std::optional<std::string>();
      return manifest.status();
    }
    return std::optional<std::string>(std::move(manifest->body));
  };
  fetcher.get_blob = [&target, &client](const Reference&, const std::string& digest)
      -> Result<std::optional<std::string>> {
    std::string body;
    Status fetched = client.get_blob(target, digest, [&body](const char* data, size_t len) {
      if (body.size() + len > kMaxSignatureBytes) {
        return error(Code::kResourceExhausted, "signature blob larger than {} bytes", kMaxSignatureBytes);
      }
      body.append(data, len);
      return ok_status();
    });
    if (fetched.code() == Code::kNotFound) return std::optional<std::string>();
    if (!fetched.ok()) return fetched;
    return std::optional<std::string>(std::move(body));
  };
  return fetcher;
}

}  // namespace

std::function<Status(const ManifestCheck&)> policy_verifier(TrustOptions options, std::string pod_namespace) {
  return [options = std::move(options), pod_namespace = std::move(pod_namespace)](const ManifestCheck& check) {
    CRIO_ASSIGN_OR_RETURN(Policy policy, load_policy_for_namespace(options.signature_policy,
                                                                   options.signature_policy_dir, pod_namespace));
    CRIO_ASSIGN_OR_RETURN(RegistriesD registries_d, load_registries_d(options.registries_d_dir));
    RegistrySignatureSource source(std::move(registries_d), registry_fetcher(check));
    return evaluate_policy(policy, check.name, check.manifest_digest, source, check.manifest);
  };
}

}  // namespace crio::image
