#include <crio/image/pull.hpp>

#include <crio/core/digest.hpp>
#include <crio/core/fault.hpp>
#include <crio/core/log.hpp>

#include "layer_stream.hpp"

#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <semaphore>
#include <thread>

namespace crio::image {

namespace {

// A layer unpacked into its staging directory and verified, waiting for commit.
struct Staged {
  std::unique_ptr<storage::LayerWriter> writer;
  int64_t compressed_size = 0;
};

// Everything one pull needs once its manifest is known.
struct PullContext {
  RepositoryTarget target;
  std::string name;  // the fully qualified name being pulled
  PullObserver* observer = nullptr;
  const DecryptionKeys* decryption_keys = nullptr;
  int64_t image_size = 0;  // config and layers, as the manifest says
  std::string display;
  ImageManifest manifest;
  ImageConfig config;
  std::vector<std::string> chains;
};

// Rounds of "download what is missing" before giving up, when the pulls we
// waited for kept failing.
constexpr int kMaxRounds = 3;

}  // namespace

struct Puller::Impl {
  Impl(storage::Store& s, PullerOptions o)
      : store(s),
        options(std::move(o)),
        client(options.client),
        slots(std::clamp(options.max_parallel_downloads, 1, 1024)) {}

  storage::Store& store;
  PullerOptions options;
  RegistryClient client;
  PullMetrics metrics;
  std::counting_semaphore<1024> slots;

  std::mutex mu;
  // chain ID → the outcome of the pull that is producing that layer. Guarded by mu.
  std::map<std::string, std::shared_future<Status>> inflight;

  Result<std::string> fetch_small_blob(const RepositoryTarget& t, const Descriptor& d, std::string_view what,
                                       const PullContext* ctx = nullptr) {
    if (d.size < 0 || static_cast<size_t>(d.size) > options.max_config_bytes)
      return error(Code::kInvalidArgument, "{}: {} bytes is more than the {} allowed", what, d.size,
                   options.max_config_bytes);
    std::string data;
    CRIO_ASSIGN_OR_RETURN(core::Digest want, core::parse_digest(d.digest));
    CRIO_ASSIGN_OR_RETURN(core::Digester hash, core::Digester::create(want.algorithm));
    Status s = client.get_blob(t, d.digest, [&](const char* p, size_t n) {
      metrics.bytes_pulled += n;
      if (ctx && ctx->observer) ctx->observer->blob_bytes(ctx->name, d.digest, d.media_type, d.size, ctx->image_size, n);
      if (data.size() + n > static_cast<size_t>(d.size))
        return error(Code::kDataLoss, "{}: more than the {} bytes the manifest says", what, d.size);
      data.append(p, n);
      hash.update(p, n);
      return ok_status();
    });
    CRIO_RETURN_IF_ERROR(s);
    std::string got = hash.finish();
    if (got != d.digest)
      return error(Code::kDataLoss, "{}: digest mismatch: expected {}, received {}", what, d.digest, got);
    if (data.size() != static_cast<size_t>(d.size))
      return error(Code::kDataLoss, "{}: {} bytes received, the manifest says {}", what, data.size(), d.size);
    return data;
  }

  // Download, verify, decrypt, decompress, hash and unpack layer i into a staging writer.
  Result<Staged> fetch_layer(const PullContext& ctx, size_t i) {
    const Descriptor& d = ctx.manifest.layers[i];
    std::string what = fmt::format("image {}: layer {} ({})", ctx.display, i, d.digest);
    std::string parent = i == 0 ? std::string() : ctx.chains[i - 1];
    // An encrypted layer's key is unwrapped before anything is downloaded: without a
    // key that decrypts it, the pull stops here.
    //
    // The decrypted stream is not checked against the digest the private options carry:
    // skopeo (containers/image) records there the digest of the blob it was given, also
    // when it compressed or recompressed that blob before encrypting it (an uncompressed
    // layer becomes gzip, --dest-compress-format zstd recompresses), so for such valid
    // images it names no stream the pull sees; CRI-O does not check it either. What
    // vouches for the content: the HMAC over the ciphertext, keyed with the symmetric
    // key the JWE authenticates, and the diff ID of the decompressed tar.
    std::unique_ptr<LayerDecryptor> decryptor;
    if (layer_encrypted(d.media_type)) {
      if (!ctx.decryption_keys)
        return error(Code::kUnknown, "{}: encrypted, and no private key to decrypt it was given", what);
      CRIO_ASSIGN_OR_RETURN(LayerKey key, unwrap_layer_key(*ctx.decryption_keys, d, what));
      CRIO_ASSIGN_OR_RETURN(decryptor, LayerDecryptor::create(key, d, what));
    }
    CRIO_ASSIGN_OR_RETURN(auto writer, store.begin_layer(parent));
    CRIO_ASSIGN_OR_RETURN(auto decompressor, detail::make_decompressor(ctx.manifest.compression[i], what));
    CRIO_ASSIGN_OR_RETURN(core::Digest want, core::parse_digest(d.digest));
    CRIO_ASSIGN_OR_RETURN(core::Digester compressed, core::Digester::create(want.algorithm));
    core::Sha256 uncompressed;
    detail::BytePipe pipe;
    bool unpacker_stopped = false;  // the download ended because the unpacker failed
    auto decompress = [&](const char* p, size_t n) {
      return decompressor->update(p, n, [&](const char* u, size_t un) {
        uncompressed.update(u, un);
        Status written = pipe.write(u, un);
        if (!written.ok()) unpacker_stopped = true;
        return written;
      });
    };

    Status applied;
    std::thread unpacker([&] {
      applied = writer->apply_tar([&](char* buf, size_t len) { return pipe.read(buf, len); });
      pipe.reader_done(applied);
    });

    int64_t received = 0;
    Status downloaded = client.get_blob(ctx.target, d.digest, [&](const char* p, size_t n) -> Status {
      received += static_cast<int64_t>(n);
      metrics.bytes_pulled += n;
      if (ctx.observer) ctx.observer->blob_bytes(ctx.name, d.digest, d.media_type, d.size, ctx.image_size, n);
      if (received > d.size)
        return error(Code::kDataLoss, "{}: the blob is larger than the {} bytes the manifest says", what, d.size);
      compressed.update(p, n);
      Status fed = decryptor ? decryptor->update(p, n, decompress) : decompress(p, n);
      if (received == static_cast<int64_t>(n)) CRIO_FAULT_POINT(pull_layer_download);
      return fed;
    });
    // Only a blob that matches its digest may reach the end of the tar cleanly.
    Status verified = downloaded;
    if (verified.ok()) {
      std::string got = compressed.finish();
      if (got != d.digest)
        verified = error(Code::kDataLoss, "{}: compressed digest mismatch: expected {}, received {}", what, d.digest, got);
      else if (received != d.size)
        verified = error(Code::kDataLoss, "{}: {} bytes received, the manifest says {}", what, received, d.size);
      else if (decryptor)
        verified = decryptor->finish();
      if (verified.ok()) verified = decompressor->finish();
    }
    pipe.close(verified.ok() ? ok_status() : Status(Code::kAborted, "layer download failed"));
    unpacker.join();
    // The unpacker's own failure (a full disk, an unsafe entry) is the cause; the
    // download only echoes it.
    if (unpacker_stopped && !applied.ok()) return applied.wrap(what);
    if (!verified.ok()) return verified;
    if (!applied.ok()) return applied.wrap(what);
    CRIO_FAULT_POINT(pull_layer_unpack);
    std::string diff_id = uncompressed.finish();
    if (diff_id != ctx.config.diff_ids[i])
      return error(Code::kDataLoss, "{}: diff ID mismatch: the config says {}, the layer is {}", what,
                   ctx.config.diff_ids[i], diff_id);
    CRIO_FAULT_POINT(pull_layer_verify);
    if (ctx.observer) ctx.observer->layer_done(received);
    return Staged{std::move(writer), received};
  }

  // Makes every layer of the image present in the store.
  Status ensure_layers(const PullContext& ctx, PullResult& result) {
    const size_t n = ctx.manifest.layers.size();
    for (int round = 0;; ++round) {
      std::vector<size_t> owned;
      std::vector<std::promise<Status>> promises;
      std::vector<std::pair<size_t, std::shared_future<Status>>> joined;
      {
        // All of a pull's missing layers are claimed at once, so pulls wait only for
        // pulls that claimed earlier: no cycle.
        std::lock_guard lock(mu);
        for (size_t i = 0; i < n; ++i) {
          if (store.layer(ctx.chains[i])) {
            if (round == 0) {
              ++result.layers_reused;
              if (ctx.observer) ctx.observer->layer_reused(ctx.name, ctx.manifest.layers[i].digest);
            }
            continue;
          }
          if (auto it = inflight.find(ctx.chains[i]); it != inflight.end()) {
            joined.emplace_back(i, it->second);
            continue;
          }
          owned.push_back(i);
          promises.emplace_back();
          inflight[ctx.chains[i]] = promises.back().get_future().share();
        }
      }
      if (round == 0) metrics.layers_reused += static_cast<uint64_t>(result.layers_reused);
      if (owned.empty() && joined.empty()) return ok_status();

      auto release = [&](const Status& outcome) {
        std::lock_guard lock(mu);
        for (size_t k = 0; k < owned.size(); ++k) {
          inflight.erase(ctx.chains[owned[k]]);
          promises[k].set_value(outcome);
        }
      };

      std::vector<std::optional<Result<Staged>>> staged(owned.size());
      {
        std::vector<std::thread> workers;
        for (size_t k = 0; k < owned.size(); ++k) {
          workers.emplace_back([&, k] {
            slots.acquire();
            staged[k] = fetch_layer(ctx, owned[k]);
            slots.release();
          });
        }
        for (auto& w : workers) w.join();
      }
      for (auto& s : staged) {
        if (!s || !s->ok()) {
          Status failed = s ? s->status() : Status(Code::kInternal, "layer task did not run");
          staged.clear();  // staging directories go now
          release(failed);
          return failed;
        }
      }

      bool joined_ok = true;
      for (auto& [i, fut] : joined) {
        Status s = fut.get();
        if (!s.ok()) {
          joined_ok = false;
          log::debug("a concurrent pull of a shared layer failed; pulling it here",
                     {{"image", ctx.display}, {"layer", ctx.chains[i]}, {"error", s.message()}});
        }
      }
      if (!joined_ok) {
        staged.clear();
        release(Status(Code::kAborted, "retrying after a concurrent pull failed"));
        if (round + 1 >= kMaxRounds)
          return error(Code::kAborted, "image {}: layers shared with concurrent pulls kept failing", ctx.display);
        continue;
      }

      // Parents first: each commit needs the layer below it in the store.
      for (size_t k = 0; k < owned.size(); ++k) {
        size_t i = owned[k];
        Staged& st = staged[k]->value();
        auto committed = st.writer->commit(ctx.config.diff_ids[i], ctx.manifest.layers[i].digest, st.compressed_size);
        if (!committed.ok()) {
          Status failed = committed.status().wrap(fmt::format("image {}: layer {}", ctx.display, i));
          staged.clear();
          release(failed);
          return failed;
        }
      }
      release(ok_status());
      result.layers_pulled += static_cast<int>(owned.size());
      result.layers_shared += static_cast<int>(joined.size());
      metrics.layers_pulled += owned.size();
      metrics.layers_shared += joined.size();
      // Joined layers are in the store now; one more pass confirms nothing is missing.
    }
  }

  Result<PullResult> pull_from(const Reference& name, const PullSource& src, const RepositoryTarget& target,
                               ManifestResponse top, const Platform& platform, const PullOptions& opts) {
    std::string display = target.display;
    std::string what = fmt::format("image {}", display);
    if (opts.verify) {
      ManifestCheck check{name, src, target, client, top.digest, top.body};
      CRIO_RETURN_IF_ERROR(opts.verify(check));
    }
    CRIO_ASSIGN_OR_RETURN(ParsedManifest parsed, parse_manifest(top.body, top.media_type, what));
    std::string index_digest;
    ManifestResponse image_manifest = top;
    if (parsed.is_index) {
      index_digest = top.digest;
      CRIO_ASSIGN_OR_RETURN(Descriptor chosen, select_platform(parsed.index, platform, what));
      CRIO_ASSIGN_OR_RETURN(image_manifest, client.get_manifest(target, chosen.digest));
      CRIO_ASSIGN_OR_RETURN(parsed, parse_manifest(image_manifest.body, image_manifest.media_type, what));
      if (parsed.is_index) return error(Code::kInvalidArgument, "{}: an index entry points to another index", what);
    }

    PullContext ctx;
    ctx.target = target;
    ctx.display = display;
    ctx.name = name.string();
    ctx.observer = opts.observer;
    ctx.decryption_keys = opts.decryption_keys.get();
    ctx.manifest = std::move(parsed.manifest);
    ctx.image_size = ctx.manifest.config.size;
    for (const Descriptor& layer : ctx.manifest.layers) ctx.image_size += layer.size;
    std::string config_what = fmt::format("image {}: config {}", display, ctx.manifest.config.digest);
    CRIO_ASSIGN_OR_RETURN(std::string config_blob,
                          fetch_small_blob(target, ctx.manifest.config, config_what, &ctx));
    CRIO_ASSIGN_OR_RETURN(ctx.config, parse_image_config(config_blob, config_what));
    if (ctx.config.diff_ids.size() != ctx.manifest.layers.size())
      return error(Code::kInvalidArgument, "image {}: the manifest has {} layers but the config lists {} diff IDs",
                   display, ctx.manifest.layers.size(), ctx.config.diff_ids.size());
    std::string parent;
    for (const std::string& diff : ctx.config.diff_ids) {
      parent = storage::chain_id(parent, diff);
      ctx.chains.push_back(parent);
    }

    // CRI-O never takes an encrypted layer from the store: every pull must be able to
    // decrypt it. For a layer the store has, unwrapping its key is that proof; the
    // others are decrypted as they download.
    for (size_t i = 0; i < ctx.manifest.layers.size(); ++i) {
      const Descriptor& d = ctx.manifest.layers[i];
      if (!layer_encrypted(d.media_type) || !store.layer(ctx.chains[i])) continue;
      std::string layer_what = fmt::format("image {}: layer {} ({})", display, i, d.digest);
      if (!ctx.decryption_keys)
        return error(Code::kUnknown, "{}: encrypted, and no private key to decrypt it was given", layer_what);
      CRIO_RETURN_IF_ERROR(unwrap_layer_key(*ctx.decryption_keys, d, layer_what).status());
    }

    PullResult result;
    CRIO_RETURN_IF_ERROR(ensure_layers(ctx, result));

    storage::ImageRecord record;
    CRIO_ASSIGN_OR_RETURN(core::Digest config_digest, core::parse_digest(ctx.manifest.config.digest));
    record.id = config_digest.hex;
    record.top_layer = ctx.chains.empty() ? std::string() : ctx.chains.back();
    // A name with a digest is pinned to that content; its tag (if any) is not recorded
    // as a moving name.
    if (name.digest.empty() && !name.tag.empty()) record.names.push_back(name.string());
    std::string repo_digest = name.name() + "@" + (index_digest.empty() ? image_manifest.digest : index_digest);
    record.digests.push_back(repo_digest);
    if (!index_digest.empty()) record.digests.push_back(name.name() + "@" + image_manifest.digest);
    record.manifest = image_manifest.body;
    record.config = config_blob;
    int64_t size = static_cast<int64_t>(config_blob.size());
    for (const std::string& chain : ctx.chains) {
      if (auto l = store.layer(chain)) size += l->size;
    }
    record.size = size;
    result.already_present = store.image(record.id).has_value();
    auto created = store.create_image(std::move(record));
    if (!created.ok()) return created.status().wrap(fmt::format("image {}", display));
    storage::Image stored = std::move(created).value();

    result.image_id = stored.id;
    result.reference = name;
    result.repo_digest = repo_digest;
    result.manifest_digest = image_manifest.digest;
    result.source = src.reference.string();
    result.config = std::move(ctx.config);
    log::info("pulled image", {{"image", name.string()},
                               {"id", result.image_id},
                               {"source", result.source},
                               {"layers_pulled", result.layers_pulled},
                               {"layers_reused", result.layers_reused}});
    return result;
  }

  Result<PullResult> pull(std::string_view text, const PullOptions& opts) {
    const RegistriesConfig& registries = opts.registries ? *opts.registries : options.registries;
    CRIO_ASSIGN_OR_RETURN(std::vector<Reference> candidates, resolve_name(registries, text));
    if (candidates.size() > 1 && registries.short_name_mode == ShortNameMode::kEnforcing) {
      // Without a terminal to ask, an ambiguous short name is refused rather than
      // pulled from whichever registry answers first.
      std::vector<std::string> names;
      for (const auto& c : candidates) names.push_back(c.string());
      return error(Code::kInvalidArgument,
                   "image {}: short name is ambiguous, it could be any of {} (short-name-mode is enforcing: "
                   "use a fully qualified name or define an alias)",
                   text, fmt::join(names, ", "));
    }
    Platform platform = opts.platform.value_or(host_platform());
    std::vector<Status> failures;
    for (const Reference& name : candidates) {
      auto sources = pull_sources(registries, name);
      if (!sources.ok()) {
        failures.push_back(sources.status());
        continue;
      }
      for (const PullSource& src : *sources) {
        RepositoryTarget target = make_target(src.reference, src.insecure, opts.auth);
        target.display = src.mirror ? fmt::format("{} (mirror {})", name.string(), src.reference.registry)
                                    : name.string();
        if (src.reference.name() != name.name() && !src.mirror)
          target.display = fmt::format("{} (from {})", name.string(), src.reference.name());
        auto top = client.get_manifest(target, src.reference.manifest_ref());
        if (!top.ok()) {
          log::debug("pull source failed", {{"image", name.string()}, {"source", src.reference.string()},
                                            {"error", top.status().message()}});
          failures.push_back(top.status());
          continue;
        }
        // Once a source answered with a manifest, its content decides the outcome.
        return pull_from(name, src, target, std::move(*top), platform, opts);
      }
    }
    if (failures.size() == 1) return failures.front();
    std::string all;
    for (const Status& f : failures) all += (all.empty() ? "" : "; ") + f.message();
    return error(failures.back().code(), "image {}: no source could provide it: {}", text, all);
  }
};

Puller::Puller(storage::Store& store, PullerOptions options)
    : impl_(std::make_unique<Impl>(store, std::move(options))) {}

Puller::~Puller() = default;

Result<PullResult> Puller::pull(std::string_view image, const PullOptions& options) {
  auto r = impl_->pull(image, options);
  if (r.ok()) ++impl_->metrics.pull_successes;
  else ++impl_->metrics.pull_failures;
  return r;
}

const PullMetrics& Puller::metrics() const { return impl_->metrics; }

RegistryClient& Puller::client() { return impl_->client; }

}  // namespace crio::image
