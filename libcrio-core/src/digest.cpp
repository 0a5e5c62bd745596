#include <crio/core/digest.hpp>

#include <openssl/evp.h>

#include <cstdlib>

namespace crio::core {
namespace {

const EVP_MD* md_for(std::string_view algorithm) {
  if (algorithm == "sha256") return EVP_sha256();
  if (algorithm == "sha512") return EVP_sha512();
  return nullptr;
}

size_t hex_len_for(std::string_view algorithm) {
  if (algorithm == "sha256") return 64;
  if (algorithm == "sha512") return 128;
  return 0;
}

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

struct Digester::Impl {
  EVP_MD_CTX* ctx = nullptr;
  const EVP_MD* md = nullptr;
  ~Impl() { EVP_MD_CTX_free(ctx); }
  void reset() {
    // Only allocation failure can make these fail; there is nothing sane to do then.
    if (EVP_DigestInit_ex(ctx, md, nullptr) != 1) std::abort();
  }
};

Digester::Digester(std::string algorithm) : algorithm_(std::move(algorithm)), impl_(std::make_unique<Impl>()) {
  impl_->md = md_for(algorithm_);
  impl_->ctx = EVP_MD_CTX_new();
  if (impl_->md == nullptr || impl_->ctx == nullptr) std::abort();
  impl_->reset();
}

Result<Digester> Digester::create(std::string_view algorithm) {
  if (md_for(algorithm) == nullptr) {
    return error(Code::kInvalidArgument, "digest algorithm {:?}: unsupported (want sha256 or sha512)", algorithm);
  }
  return Digester(std::string(algorithm));
}

Digester::Digester(Digester&&) noexcept = default;
Digester& Digester::operator=(Digester&&) noexcept = default;
Digester::~Digester() = default;

void Digester::update(const void* data, size_t len) {
  if (len == 0) return;
  if (EVP_DigestUpdate(impl_->ctx, data, len) != 1) std::abort();
}

std::string Digester::finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(impl_->ctx, out, &n) != 1) std::abort();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s = algorithm_;
  s.reserve(algorithm_.size() + 1 + 2 * n);
  s.push_back(':');
  for (unsigned int i = 0; i < n; ++i) {
    s.push_back(kHex[out[i] >> 4]);
    s.push_back(kHex[out[i] & 0xf]);
  }
  impl_->reset();
  return s;
}

Sha256::Sha256() : Digester("sha256") {}

std::string sha256_of(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

Result<Digest> parse_digest(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    return error(Code::kInvalidArgument, "digest {:?}: missing \"algorithm:\" prefix", text);
  }
  std::string_view algo = text.substr(0, colon);
  std::string_view hex = text.substr(colon + 1);
  size_t want = hex_len_for(algo);
  if (want == 0) {
    return error(Code::kInvalidArgument, "digest {:?}: unsupported algorithm {:?} (want sha256 or sha512)", text, algo);
  }
  if (hex.size() != want) {
    return error(Code::kInvalidArgument, "digest {:?}: {} digest must have {} hex digits, has {}", text, algo, want,
                 hex.size());
  }
  if (!is_lower_hex(hex)) {
    return error(Code::kInvalidArgument, "digest {:?}: encoded part must be lowercase hex", text);
  }
  return Digest{std::string(algo), std::string(hex)};
}

}  // namespace crio::core
