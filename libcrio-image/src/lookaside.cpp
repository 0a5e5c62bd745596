#include <crio/image/lookaside.hpp>

#include "signature_internal.hpp"

#include <crio/core/digest.hpp>
#include <crio/core/fs.hpp>
#include <crio/core/log.hpp>
#include <crio/image/policy.hpp>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>

namespace crio::image {

namespace {

namespace stdfs = std::filesystem;

Status bad(std::string_view source, std::string_view where, std::string_view why) {
  return Status(Code::kInvalidArgument, fmt::format("registries.d {}: {}: {}", source, where, why));
}

Status check_url(std::string_view url, std::string_view source, std::string_view where) {
  if (url.rfind("file://", 0) == 0) {
    if (url.size() <= 7 || url[7] != '/')
      return bad(source, where, fmt::format("\"{}\" must be file:///absolute/path", url));
    return ok_status();
  }
  if (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0) {
    if (url.find("://") + 3 >= url.size()) return bad(source, where, fmt::format("\"{}\" has no host", url));
    return ok_status();
  }
  return bad(source, where, fmt::format("\"{}\" is not a file://, http:// or https:// URL", url));
}

Result<RegistriesDSection> parse_section(const YAML::Node& node, std::string_view source, const std::string& where) {
  RegistriesDSection section;
  section.file = std::string(source);
  if (node.IsNull()) return section;
  if (!node.IsMap()) return bad(source, where, "must be a mapping");
  std::optional<std::string> old_name;
  for (const auto& kv : node) {
    std::string key = kv.first.as<std::string>();
    const YAML::Node& value = kv.second;
    std::string at = where + "." + key;
    if (key == "lookaside" || key == "sigstore" || key == "lookaside-staging" || key == "sigstore-staging") {
      if (!value.IsScalar()) return bad(source, at, "must be a URL string");
      std::string url = value.as<std::string>();
      CRIO_RETURN_IF_ERROR(check_url(url, source, at));
      if (key == "lookaside")
        section.lookaside = url;
      else if (key == "sigstore")
        old_name = url;
      else if (key == "lookaside-staging" || !section.lookaside_staging)
        section.lookaside_staging = url;
    } else if (key == "use-sigstore-attachments") {
      bool flag = false;
      if (!value.IsScalar() || !YAML::convert<bool>::decode(value, flag))
        return bad(source, at, "must be true or false");
      section.use_sigstore_attachments = flag;
    } else {
      log::warn("registries.d: unknown key ignored", {{"file", source}, {"key", at}});
    }
  }
  // "sigstore" is the old name of "lookaside"; the new one wins when both are set.
  if (!section.lookaside && old_name) section.lookaside = old_name;
  return section;
}

// The value of `field` in the most specific section that sets it, else default-docker's.
template <typename T>
std::optional<T> most_specific(const RegistriesD& config, const Reference& ref,
                               std::optional<T> RegistriesDSection::*field) {
  for (const auto& scope : docker_scope_candidates(ref)) {
    auto it = config.docker.find(scope);
    if (it != config.docker.end() && it->second.*field) return it->second.*field;
  }
  if (config.default_docker && (*config.default_docker).*field) return (*config.default_docker).*field;
  return std::nullopt;
}

}  // namespace

Result<RegistriesD> parse_registries_d(std::string_view yaml, std::string_view source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return error(Code::kInvalidArgument, "registries.d {}: invalid YAML: {}", source, e.what());
  }
  RegistriesD out;
  out.files.push_back(std::string(source));
  if (root.IsNull()) return out;
  if (!root.IsMap()) return bad(source, "top level", "must be a mapping");
  try {
    for (const auto& kv : root) {
      std::string key = kv.first.as<std::string>();
      if (key == "default-docker") {
        CRIO_ASSIGN_OR_RETURN(RegistriesDSection section, parse_section(kv.second, source, key));
        out.default_docker = std::move(section);
      } else if (key == "docker") {
        if (kv.second.IsNull()) continue;
        if (!kv.second.IsMap()) return bad(source, key, "must be a mapping of scopes");
        for (const auto& entry : kv.second) {
          std::string scope = entry.first.as<std::string>();
          std::string where = fmt::format("docker[\"{}\"]", scope);
          if (scope.empty()) return bad(source, where, "the scope is empty");
          if (Status s = trust::validate_docker_scope(scope, false); !s.ok()) return bad(source, where, s.message());
          CRIO_ASSIGN_OR_RETURN(RegistriesDSection section, parse_section(entry.second, source, where));
          if (out.docker.count(scope)) return bad(source, where, "is defined twice");
          out.docker.emplace(scope, std::move(section));
        }
      } else {
        log::warn("registries.d: unknown key ignored", {{"file", source}, {"key", key}});
      }
    }
  } catch (const YAML::Exception& e) {
    return error(Code::kInvalidArgument, "registries.d {}: {}", source, e.what());
  }
  return out;
}

Status merge_registries_d(RegistriesD& base, const RegistriesD& other) {
  if (other.default_docker) {
    if (base.default_docker)
      return error(Code::kInvalidArgument, "registries.d: default-docker is defined in both {} and {}",
                   base.default_docker->file, other.default_docker->file);
    base.default_docker = other.default_docker;
  }
  for (const auto& [scope, section] : other.docker) {
    auto it = base.docker.find(scope);
    if (it != base.docker.end())
      return error(Code::kInvalidArgument, "registries.d: docker scope \"{}\" is defined in both {} and {}", scope,
                   it->second.file, section.file);
  }
  for (const auto& [scope, section] : other.docker) base.docker.emplace(scope, section);
  base.files.insert(base.files.end(), other.files.begin(), other.files.end());
  return ok_status();
}

Result<RegistriesD> load_registries_d(const std::string& dir) {
  RegistriesD config;
  std::error_code ec;
  if (!stdfs::is_directory(dir, ec)) {
    if (stdfs::exists(dir, ec)) return error(Code::kInvalidArgument, "registries.d {}: not a directory", dir);
    return config;
  }
  std::vector<std::string> files;
  for (const auto& entry : stdfs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".yaml" && !entry.is_directory()) files.push_back(entry.path().string());
  }
  if (ec) return error(Code::kFailedPrecondition, "registries.d {}: cannot list: {}", dir, ec.message());
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    auto text = fs::read_file(file);
    if (!text.ok()) return error(Code::kFailedPrecondition, "registries.d: {}", text.status().message());
    CRIO_ASSIGN_OR_RETURN(RegistriesD one, parse_registries_d(*text, file));
    CRIO_RETURN_IF_ERROR(merge_registries_d(config, one));
  }
  return config;
}

std::string lookaside_for(const RegistriesD& config, const Reference& ref, std::string_view builtin_default) {
  std::string url = most_specific(config, ref, &RegistriesDSection::lookaside).value_or(std::string(builtin_default));
  while (!url.empty() && url.back() == '/' && url.size() > 8) url.pop_back();
  return url;
}

Result<std::string> lookaside_signature_url(std::string_view lookaside, const Reference& ref,
                                            std::string_view manifest_digest, int index) {
  CRIO_RETURN_IF_ERROR(validate_digest(manifest_digest, "lookaside signature"));
  std::size_t colon = manifest_digest.find(':');
  return fmt::format("{}/{}@{}={}/signature-{}", lookaside, ref.repository, manifest_digest.substr(0, colon),
                     manifest_digest.substr(colon + 1), index);
}

bool use_sigstore_attachments(const RegistriesD& config, const Reference& ref) {
  return most_specific(config, ref, &RegistriesDSection::use_sigstore_attachments).value_or(false);
}

Result<std::string> sigstore_attachment_tag(std::string_view manifest_digest) {
  CRIO_RETURN_IF_ERROR(validate_digest(manifest_digest, "sigstore attachment"));
  std::size_t colon = manifest_digest.find(':');
  return fmt::format("{}-{}.sig", manifest_digest.substr(0, colon), manifest_digest.substr(colon + 1));
}

RegistrySignatureSource::RegistrySignatureSource(RegistriesD config, SignatureFetcher fetcher,
                                                 RegistrySignatureSourceOptions options)
    : config_(std::move(config)), fetcher_(std::move(fetcher)), options_(std::move(options)) {}

Result<std::vector<std::string>> RegistrySignatureSource::simple_signing_signatures(
    const Reference& repository, const std::string& manifest_digest) {
  std::vector<std::string> out;
  std::string base = lookaside_for(config_, repository, options_.builtin_lookaside);
  if (base.empty()) return out;
  for (std::size_t index = 1;; ++index) {
    if (index > options_.max_signatures) {
      log::warn("lookaside: more signatures than the limit; the rest are ignored",
                {{"image", repository.string()}, {"limit", options_.max_signatures}});
      break;
    }
    CRIO_ASSIGN_OR_RETURN(std::string url,
                          lookaside_signature_url(base, repository, manifest_digest, static_cast<int>(index)));
    std::optional<std::string> body;
    if (url.rfind("file://", 0) == 0) {
      std::string path = url.substr(7);
      auto data = fs::read_file(path);
      if (!data.ok()) {
        if (data.status().code() == Code::kNotFound) break;
        return error(Code::kUnavailable, "lookaside signature: {}", data.status().message());
      }
      body = std::move(*data);
    } else if (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0) {
      if (!fetcher_.get_url)
        return error(Code::kFailedPrecondition, "lookaside signature {}: no HTTP fetcher is configured", url);
      auto got = fetcher_.get_url(url);
      if (!got.ok()) return got.status().wrap(fmt::format("lookaside signature {}", url));
      if (!*got) break;
      body = std::move(**got);
    } else {
      return error(Code::kInvalidArgument, "lookaside {} for {}: unsupported URL scheme", base, repository.name());
    }
    if (body->size() > options_.max_signature_bytes)
      return error(Code::kResourceExhausted, "lookaside signature {} is larger than {} bytes", url,
                   options_.max_signature_bytes);
    out.push_back(std::move(*body));
  }
  return out;
}

Result<std::vector<SigstoreSignature>> RegistrySignatureSource::sigstore_signatures(
    const Reference& repository, const std::string& manifest_digest) {
  std::vector<SigstoreSignature> out;
  if (!use_sigstore_attachments(config_, repository)) return out;
  CRIO_ASSIGN_OR_RETURN(std::string tag, sigstore_attachment_tag(manifest_digest));
  std::string what = fmt::format("sigstore attachments {}:{}", repository.name(), tag);
  if (!fetcher_.get_manifest || !fetcher_.get_blob)
    return error(Code::kFailedPrecondition, "{}: no registry fetcher is configured", what);
  auto got = fetcher_.get_manifest(repository, tag);
  if (!got.ok()) return got.status().wrap(what);
  if (!*got) return out;
  if ((*got)->size() > options_.max_signature_bytes)
    return error(Code::kResourceExhausted, "{}: manifest is larger than {} bytes", what, options_.max_signature_bytes);

  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(**got);
  } catch (const nlohmann::json::exception& e) {
    return error(Code::kInvalidArgument, "{}: manifest is not valid JSON: {}", what, e.what());
  }
  if (!manifest.is_object() || !manifest.contains("layers") || !manifest["layers"].is_array())
    return error(Code::kInvalidArgument, "{}: manifest has no \"layers\" array", what);
  for (const auto& layer : manifest["layers"]) {
    if (!layer.is_object() || !layer.contains("mediaType") || !layer["mediaType"].is_string() ||
        !layer.contains("digest") || !layer["digest"].is_string())
      return error(Code::kInvalidArgument, "{}: a layer lacks \"mediaType\" or \"digest\"", what);
    if (layer["mediaType"].get<std::string>() != kSigstorePayloadMediaType) {
      log::debug("sigstore attachment layer of another media type ignored",
                 {{"image", repository.string()}, {"mediaType", layer["mediaType"].get<std::string>()}});
      continue;
    }
    if (out.size() >= options_.max_signatures) {
      log::warn("sigstore: more signatures than the limit; the rest are ignored",
                {{"image", repository.string()}, {"limit", options_.max_signatures}});
      break;
    }
    std::string digest = layer["digest"].get<std::string>();
    CRIO_RETURN_IF_ERROR(validate_digest(digest, what));
    if (layer.contains("size") && layer["size"].is_number_unsigned() &&
        layer["size"].get<std::uint64_t>() > options_.max_signature_bytes)
      return error(Code::kResourceExhausted, "{}: payload {} is larger than {} bytes", what, digest,
                   options_.max_signature_bytes);
    auto blob = fetcher_.get_blob(repository, digest);
    if (!blob.ok()) return blob.status().wrap(fmt::format("{}: payload {}", what, digest));
    if (!*blob) return error(Code::kNotFound, "{}: payload blob {} is missing", what, digest);
    if ((*blob)->size() > options_.max_signature_bytes)
      return error(Code::kResourceExhausted, "{}: payload {} is larger than {} bytes", what, digest,
                   options_.max_signature_bytes);
    CRIO_ASSIGN_OR_RETURN(core::Digester digester, core::Digester::create(digest.substr(0, digest.find(':'))));
    digester.update(**blob);
    if (std::string actual = digester.finish(); actual != digest)
      return error(Code::kDataLoss, "{}: payload blob {} has digest {}", what, digest, actual);

    SigstoreSignature sig;
    sig.payload = std::move(**blob);
    if (layer.contains("annotations") && layer["annotations"].is_object()) {
      for (const auto& [k, v] : layer["annotations"].items())
        if (v.is_string()) sig.annotations.emplace(k, v.get<std::string>());
    }
    if (auto it = sig.annotations.find(std::string(kSigstoreSignatureAnnotation)); it != sig.annotations.end())
      sig.signature = it->second;
    out.push_back(std::move(sig));
  }
  return out;
}

}  // namespace crio::image
