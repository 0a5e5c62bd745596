// Simple-signing (OpenPGP) verification through gpgme.
//
// gpg only trusts what is in its keyring, so each verifier gets a keyring of its
// own holding nothing but the keys the policy names: a private GNUPGHOME created
// for it and removed with it. The machine's keyrings are never consulted.

#include <crio/image/signature.hpp>

#include <crio/core/fs.hpp>
#include <crio/core/log.hpp>

#include <fmt/format.h>
#include <gpgme.h>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <thread>

namespace crio::image {

namespace {

namespace stdfs = std::filesystem;

Status refused(std::string why) { return Status(Code::kPermissionDenied, std::move(why)); }

std::string gpg_error_text(gpgme_error_t err) { return gpgme_strerror(err); }

Status init_gpgme() {
  static std::once_flag once;
  static Status status;
  std::call_once(once, [] {
    gpgme_check_version(nullptr);
    if (gpgme_error_t err = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP); err != 0)
      status = error(Code::kUnavailable, "simple signing verification needs gpg (GnuPG), which is not usable: {}",
                     gpg_error_text(err));
  });
  return status;
}

// A private GNUPGHOME (mode 0700, as gpg demands) removed on destruction.
//
// gpgme can hand back a result while the gpg it started is still exiting, and gpg
// recreates a missing home directory. So the home is a subdirectory of the
// temporary directory: once the parent is gone a late gpg cannot bring it back,
// and removal is retried briefly while such a straggler may still write into it.
class PrivateDir {
 public:
  static Result<PrivateDir> create() {
    const char* tmp = std::getenv("TMPDIR");
    std::string base = (tmp && *tmp) ? tmp : "/tmp";
    std::string tmpl = base + "/crio-gpg-XXXXXX";
    if (!::mkdtemp(tmpl.data()))
      return error(Code::kInternal, "creating a temporary GNUPGHOME under {}: {}", base,
                   std::error_code(errno, std::generic_category()).message());
    PrivateDir dir(tmpl);
    if (::mkdir(dir.path().c_str(), 0700) != 0)
      return error(Code::kInternal, "creating a temporary GNUPGHOME {}: {}", dir.path(),
                   std::error_code(errno, std::generic_category()).message());
    return dir;
  }
  PrivateDir(PrivateDir&& o) noexcept : parent_(std::move(o.parent_)) { o.parent_.clear(); }
  PrivateDir& operator=(PrivateDir&& o) noexcept {
    if (this != &o) {
      remove();
      parent_ = std::move(o.parent_);
      o.parent_.clear();
    }
    return *this;
  }
  ~PrivateDir() { remove(); }
  std::string path() const { return parent_ + "/home"; }

 private:
  explicit PrivateDir(std::string parent) : parent_(std::move(parent)) {}
  void remove() {
    if (parent_.empty()) return;
    std::error_code ec;
    for (int attempt = 0; attempt < 50; ++attempt) {
      ec.clear();
      stdfs::remove_all(parent_, ec);
      if (!ec && !stdfs::exists(parent_, ec)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (stdfs::exists(parent_, ec))
      log::warn("cannot remove temporary GNUPGHOME", {{"path", parent_}, {"error", ec.message()}});
    parent_.clear();
  }
  std::string parent_;
};

struct DataDeleter {
  void operator()(gpgme_data_t d) const { gpgme_data_release(d); }
};
using UniqueData = std::unique_ptr<std::remove_pointer_t<gpgme_data_t>, DataDeleter>;

struct KeyDeleter {
  void operator()(gpgme_key_t k) const { gpgme_key_unref(k); }
};
using UniqueKey = std::unique_ptr<std::remove_pointer_t<gpgme_key_t>, KeyDeleter>;

}  // namespace

struct GpgVerifier::Impl {
  // Declared first so it is destroyed last, after the context that uses it.
  PrivateDir home;
  gpgme_ctx_t ctx = nullptr;
  std::vector<std::string> fingerprints;

  explicit Impl(PrivateDir dir) : home(std::move(dir)) {}
  ~Impl() {
    if (ctx) gpgme_release(ctx);
  }

  bool trusted(const std::string& fpr) const {
    return std::find(fingerprints.begin(), fingerprints.end(), fpr) != fingerprints.end();
  }
};

GpgVerifier::GpgVerifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GpgVerifier::GpgVerifier(GpgVerifier&&) noexcept = default;
GpgVerifier& GpgVerifier::operator=(GpgVerifier&&) noexcept = default;
GpgVerifier::~GpgVerifier() = default;

const std::vector<std::string>& GpgVerifier::fingerprints() const { return impl_->fingerprints; }

Result<GpgVerifier> GpgVerifier::create(const std::vector<KeyMaterial>& keyrings) {
  CRIO_RETURN_IF_ERROR(init_gpgme());
  if (keyrings.empty()) return error(Code::kInvalidArgument, "GPG verification: no keyring configured");
  CRIO_ASSIGN_OR_RETURN(PrivateDir dir, PrivateDir::create());
  // Importing keys would otherwise start a gpg-agent for this home, which outlives
  // the directory; verifying public-key signatures never needs one.
  if (Status s = fs::write_file_atomic(dir.path() + "/gpg.conf", "no-autostart\n", 0600); !s.ok())
    return error(Code::kInternal, "preparing a temporary GNUPGHOME: {}", s.message());
  auto impl = std::make_unique<Impl>(std::move(dir));
  if (gpgme_error_t err = gpgme_new(&impl->ctx); err != 0)
    return error(Code::kInternal, "gpgme: cannot create a context: {}", gpg_error_text(err));
  gpgme_set_protocol(impl->ctx, GPGME_PROTOCOL_OpenPGP);
  if (gpgme_error_t err =
          gpgme_ctx_set_engine_info(impl->ctx, GPGME_PROTOCOL_OpenPGP, nullptr, impl->home.path().c_str());
      err != 0)
    return error(Code::kInternal, "gpgme: cannot use home directory {}: {}", impl->home.path(), gpg_error_text(err));
  // Never fetch keys from the network on behalf of a signature.
  gpgme_set_offline(impl->ctx, 1);

  for (const auto& ring : keyrings) {
    gpgme_data_t raw = nullptr;
    if (gpgme_error_t err = gpgme_data_new_from_mem(&raw, ring.data.data(), ring.data.size(), 0); err != 0)
      return error(Code::kInternal, "GPG keyring {}: {}", ring.source, gpg_error_text(err));
    UniqueData data(raw);
    if (gpgme_error_t err = gpgme_op_import(impl->ctx, data.get()); err != 0) {
      if (gpgme_err_code(err) == GPG_ERR_ENOENT || gpgme_err_code(err) == GPG_ERR_INV_ENGINE)
        return error(Code::kUnavailable, "GPG keyring {}: cannot run gpg: {}", ring.source, gpg_error_text(err));
      return error(Code::kInvalidArgument, "GPG keyring {}: cannot import: {}", ring.source, gpg_error_text(err));
    }
    gpgme_import_result_t result = gpgme_op_import_result(impl->ctx);
    std::size_t found = 0;
    for (gpgme_import_status_t st = result ? result->imports : nullptr; st; st = st->next) {
      if (st->result != 0 || !st->fpr) continue;
      ++found;
      std::string fpr = st->fpr;
      if (!impl->trusted(fpr)) impl->fingerprints.push_back(fpr);
    }
    if (found == 0) return error(Code::kInvalidArgument, "GPG keyring {}: contains no usable public key", ring.source);
  }
  return GpgVerifier(std::move(impl));
}

Result<GpgVerified> GpgVerifier::verify(std::string_view signature) const {
  gpgme_ctx_t ctx = impl_->ctx;
  gpgme_data_t raw_sig = nullptr;
  if (gpgme_error_t err = gpgme_data_new_from_mem(&raw_sig, signature.data(), signature.size(), 0); err != 0)
    return error(Code::kInternal, "gpgme: {}", gpg_error_text(err));
  UniqueData sig(raw_sig);
  gpgme_data_t raw_plain = nullptr;
  if (gpgme_error_t err = gpgme_data_new(&raw_plain); err != 0)
    return error(Code::kInternal, "gpgme: {}", gpg_error_text(err));
  UniqueData plain(raw_plain);

  // Opaque verification: the blob must be a signed message carrying the payload,
  // not a detached signature and not an unsigned literal message.
  if (gpgme_error_t err = gpgme_op_verify(ctx, sig.get(), nullptr, plain.get()); err != 0)
    return refused(fmt::format("signature is not a valid OpenPGP signed message: {}", gpg_error_text(err)));
  gpgme_verify_result_t result = gpgme_op_verify_result(ctx);
  std::size_t count = 0;
  for (gpgme_signature_t s = result ? result->signatures : nullptr; s; s = s->next) ++count;
  if (count != 1)
    return refused(count == 0 ? std::string("the OpenPGP message carries no signature")
                              : fmt::format("the OpenPGP message carries {} signatures, expected exactly one", count));
  gpgme_signature_t s = result->signatures;
  std::string fpr = s->fpr ? s->fpr : "";
  switch (gpgme_err_code(s->status)) {
    case GPG_ERR_NO_ERROR:
      break;
    case GPG_ERR_NO_PUBKEY:
      return refused(fmt::format("signature was made by key {}, which the policy does not trust", fpr));
    case GPG_ERR_BAD_SIGNATURE:
      return refused(fmt::format("signature by key {} is bad: the signed content was altered", fpr));
    default:
      return refused(fmt::format("signature by key {} is not valid: {}", fpr, gpg_error_text(s->status)));
  }
  constexpr unsigned kFatal = GPGME_SIGSUM_RED | GPGME_SIGSUM_KEY_REVOKED | GPGME_SIGSUM_KEY_EXPIRED |
                              GPGME_SIGSUM_SIG_EXPIRED | GPGME_SIGSUM_KEY_MISSING;
  if (s->summary & kFatal) {
    std::string why = (s->summary & GPGME_SIGSUM_KEY_REVOKED)   ? "the key is revoked"
                      : (s->summary & GPGME_SIGSUM_KEY_EXPIRED) ? "the key has expired"
                      : (s->summary & GPGME_SIGSUM_SIG_EXPIRED) ? "the signature has expired"
                      : (s->summary & GPGME_SIGSUM_KEY_MISSING) ? "the key is missing"
                                                                : "the signature is bad";
    return refused(fmt::format("signature by key {} is not valid: {}", fpr, why));
  }

  // gpg names the (sub)key that signed; the policy trusts primary keys.
  std::string primary = fpr;
  if (!impl_->trusted(fpr)) {
    gpgme_key_t raw_key = nullptr;
    if (gpgme_get_key(ctx, fpr.c_str(), &raw_key, 0) == 0 && raw_key) {
      UniqueKey key(raw_key);
      if (key->subkeys && key->subkeys->fpr) primary = key->subkeys->fpr;
    }
    if (!impl_->trusted(primary))
      return refused(fmt::format("signature was made by key {}, which the policy does not trust", fpr));
  }

  std::size_t len = 0;
  char* bytes = gpgme_data_release_and_get_mem(plain.release(), &len);
  GpgVerified out;
  if (bytes) {
    out.payload.assign(bytes, len);
    gpgme_free(bytes);
  }
  out.fingerprint = primary;
  return out;
}

}  // namespace crio::image
