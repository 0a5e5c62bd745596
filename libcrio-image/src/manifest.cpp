#include <crio/image/manifest.hpp>

#include <crio/image/reference.hpp>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace crio::image {

namespace {

using json = nlohmann::json;

Status bad(std::string_view what, std::string_view why) {
  return Status(Code::kInvalidArgument, fmt::format("{}: {}", what, why));
}

Result<std::string> opt_string(const json& obj, const char* key, std::string_view what) {
  if (!obj.contains(key) || obj[key].is_null()) return std::string();
  if (!obj[key].is_string()) return bad(what, fmt::format("\"{}\" must be a string", key));
  return obj[key].get<std::string>();
}

Result<std::vector<std::string>> opt_strings(const json& obj, const char* key, std::string_view what) {
  std::vector<std::string> out;
  if (!obj.contains(key) || obj[key].is_null()) return out;
  if (!obj[key].is_array()) return bad(what, fmt::format("\"{}\" must be an array of strings", key));
  for (const auto& v : obj[key]) {
    if (!v.is_string()) return bad(what, fmt::format("\"{}\" must be an array of strings", key));
    out.push_back(v.get<std::string>());
  }
  return out;
}

// {"80/tcp": {}} → sorted keys.
Result<std::vector<std::string>> opt_set(const json& obj, const char* key, std::string_view what) {
  std::vector<std::string> out;
  if (!obj.contains(key) || obj[key].is_null()) return out;
  if (!obj[key].is_object()) return bad(what, fmt::format("\"{}\" must be an object", key));
  for (const auto& [k, v] : obj[key].items()) out.push_back(k);
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::map<std::string, std::string>> opt_map(const json& obj, const char* key, std::string_view what) {
  std::map<std::string, std::string> out;
  if (!obj.contains(key) || obj[key].is_null()) return out;
  if (!obj[key].is_object()) return bad(what, fmt::format("\"{}\" must be an object of strings", key));
  for (const auto& [k, v] : obj[key].items()) {
    if (!v.is_string()) return bad(what, fmt::format("\"{}\".\"{}\" must be a string", key, k));
    out[k] = v.get<std::string>();
  }
  return out;
}

std::string normalise_arch(std::string arch) {
  if (arch == "x86_64" || arch == "x86-64") return "amd64";
  if (arch == "aarch64") return "arm64";
  if (arch == "i386" || arch == "i686") return "386";
  if (arch == "armhf" || arch == "armel") return "arm";
  return arch;
}

// arm64's only variant is v8, so "" and "v8" are the same platform.
std::string normalise_variant(const std::string& arch, const std::string& variant) {
  if (arch == "arm64" && variant == "v8") return "";
  return variant;
}

Result<Platform> parse_platform_json(const json& p, std::string_view what) {
  if (!p.is_object()) return bad(what, "\"platform\" must be an object");
  Platform out;
  CRIO_ASSIGN_OR_RETURN(out.os, opt_string(p, "os", what));
  CRIO_ASSIGN_OR_RETURN(out.architecture, opt_string(p, "architecture", what));
  CRIO_ASSIGN_OR_RETURN(out.variant, opt_string(p, "variant", what));
  CRIO_ASSIGN_OR_RETURN(out.os_version, opt_string(p, "os.version", what));
  out.architecture = normalise_arch(out.architecture);
  return out;
}

Result<Descriptor> parse_descriptor(const json& d, std::string_view what) {
  if (!d.is_object()) return bad(what, "a descriptor must be an object");
  Descriptor out;
  CRIO_ASSIGN_OR_RETURN(out.media_type, opt_string(d, "mediaType", what));
  CRIO_ASSIGN_OR_RETURN(out.digest, opt_string(d, "digest", what));
  if (out.digest.empty()) return bad(what, "a descriptor has no digest");
  CRIO_RETURN_IF_ERROR(validate_digest(out.digest, what));
  if (!d.contains("size") || !d["size"].is_number_integer() || d["size"].get<int64_t>() < 0)
    return bad(what, fmt::format("descriptor {} has no valid size", out.digest));
  out.size = d["size"].get<int64_t>();
  if (d.contains("platform") && !d["platform"].is_null()) {
    CRIO_ASSIGN_OR_RETURN(Platform p, parse_platform_json(d["platform"], what));
    out.platform = std::move(p);
  }
  CRIO_ASSIGN_OR_RETURN(out.annotations, opt_map(d, "annotations", what));
  CRIO_ASSIGN_OR_RETURN(out.urls, opt_strings(d, "urls", what));
  return out;
}

}  // namespace

std::string Platform::to_string() const {
  std::string s = os + "/" + architecture;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

Platform host_platform() {
  Platform p;
  p.os = "linux";
#if defined(__x86_64__)
  p.architecture = "amd64";
#elif defined(__aarch64__)
  p.architecture = "arm64";
#elif defined(__arm__)
  p.architecture = "arm";
  p.variant = "v7";
#elif defined(__i386__)
  p.architecture = "386";
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
  p.architecture = "ppc64le";
#elif defined(__s390x__)
  p.architecture = "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  p.architecture = "riscv64";
#else
  p.architecture = "unknown";
#endif
  return p;
}

Result<Platform> parse_platform(std::string_view text) {
  Platform p;
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    std::size_t slash = text.find('/', start);
    parts.emplace_back(text.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty())
    return error(Code::kInvalidArgument, "platform \"{}\": expected os/architecture[/variant]", text);
  p.os = parts[0];
  p.architecture = normalise_arch(parts[1]);
  if (parts.size() == 3) p.variant = parts[2];
  return p;
}

Result<Compression> layer_compression(std::string_view mt, std::string_view what) {
  using namespace media_type;
  // ocicrypt's encrypted layers: the OCI layer types with "+encrypted"; the compression
  // is that of the layer once decrypted.
  constexpr std::string_view kEncrypted = "+encrypted";
  if (mt.ends_with(kEncrypted)) {
    std::string_view plain = mt.substr(0, mt.size() - kEncrypted.size());
    if (plain == kOciLayer) return Compression::kNone;
    if (plain == kOciLayerGzip) return Compression::kGzip;
    if (plain == kOciLayerZstd) return Compression::kZstd;
    return bad(what, fmt::format("unsupported layer media type \"{}\"", mt));
  }
  if (mt == kOciLayer || mt == kDockerLayerTar) return Compression::kNone;
  if (mt == kOciLayerGzip || mt == kDockerLayerGzip) return Compression::kGzip;
  if (mt == kOciLayerZstd) return Compression::kZstd;
  if (mt == kDockerForeignLayer || mt.find(".nondistributable.") != std::string_view::npos)
    return bad(what, fmt::format("foreign (non-distributable) layer type \"{}\" is not supported", mt));
  return bad(what, fmt::format("unsupported layer media type \"{}\"", mt));
}

Result<ParsedManifest> parse_manifest(std::string_view body, std::string_view content_type, std::string_view what) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad(what, "manifest is not a JSON object");
  if (j.contains("schemaVersion") && j["schemaVersion"].is_number_integer() && j["schemaVersion"].get<int>() == 1)
    return bad(what, "Docker schema 1 manifests are not supported (push the image as Docker schema 2 or OCI)");
  if (!j.contains("schemaVersion") || !j["schemaVersion"].is_number_integer() || j["schemaVersion"].get<int>() != 2)
    return bad(what, "manifest has no schemaVersion 2");
  CRIO_ASSIGN_OR_RETURN(std::string mt, opt_string(j, "mediaType", what));
  if (mt.empty()) mt = std::string(content_type);
  if (mt.empty() || mt == "application/json" || mt == "text/plain") {
    // OCI allows leaving mediaType out; the shape tells which one it is.
    mt = std::string(j.contains("manifests") ? media_type::kOciIndex : media_type::kOciManifest);
  }
  if (mt == media_type::kDockerSchema1 || mt == media_type::kDockerSchema1Signed)
    return bad(what, "Docker schema 1 manifests are not supported (push the image as Docker schema 2 or OCI)");

  ParsedManifest out;
  if (mt == media_type::kOciIndex || mt == media_type::kDockerManifestList) {
    out.is_index = true;
    out.index.media_type = mt;
    if (!j.contains("manifests") || !j["manifests"].is_array()) return bad(what, "index has no \"manifests\" array");
    for (const auto& d : j["manifests"]) {
      CRIO_ASSIGN_OR_RETURN(Descriptor desc, parse_descriptor(d, what));
      out.index.manifests.push_back(std::move(desc));
    }
    return out;
  }
  if (mt != media_type::kOciManifest && mt != media_type::kDockerManifest)
    return bad(what, fmt::format("unsupported manifest media type \"{}\"", mt));

  ImageManifest& m = out.manifest;
  m.media_type = mt;
  if (!j.contains("config")) return bad(what, "manifest has no config");
  CRIO_ASSIGN_OR_RETURN(m.config, parse_descriptor(j["config"], what));
  if (m.config.media_type != media_type::kOciConfig && m.config.media_type != media_type::kDockerConfig)
    return bad(what, fmt::format("config media type \"{}\" is not a container image config", m.config.media_type));
  if (!j.contains("layers") || !j["layers"].is_array()) return bad(what, "manifest has no \"layers\" array");
  for (const auto& d : j["layers"]) {
    std::string layer_what = fmt::format("{}: layer {}", what, m.layers.size());
    CRIO_ASSIGN_OR_RETURN(Descriptor desc, parse_descriptor(d, layer_what));
    CRIO_ASSIGN_OR_RETURN(Compression c, layer_compression(desc.media_type, layer_what));
    m.layers.push_back(std::move(desc));
    m.compression.push_back(c);
  }
  CRIO_ASSIGN_OR_RETURN(m.annotations, opt_map(j, "annotations", what));
  return out;
}

Result<Descriptor> select_platform(const ImageIndex& index, const Platform& want_in, std::string_view what) {
  Platform want = want_in;
  want.architecture = normalise_arch(want.architecture);
  std::string want_variant = normalise_variant(want.architecture, want.variant);
  const Descriptor* best = nullptr;
  int best_score = -1;
  std::vector<std::string> offered;
  for (const Descriptor& d : index.manifests) {
    if (d.media_type != media_type::kOciManifest && d.media_type != media_type::kDockerManifest &&
        !d.media_type.empty())
      continue;  // nested indexes and artifacts
    if (!d.platform) continue;
    const Platform& p = *d.platform;
    if (p.os == "unknown" && p.architecture == "unknown") continue;  // attestations
    offered.push_back(p.to_string());
    if (p.os != want.os || p.architecture != want.architecture) continue;
    std::string variant = normalise_variant(p.architecture, p.variant);
    int score;
    if (variant == want_variant) score = 2;
    else if (variant.empty()) score = 1;  // no variant named: assume it runs
    else continue;
    if (score > best_score) {
      best = &d;
      best_score = score;
    }
  }
  if (!best)
    return error(Code::kNotFound, "{}: no image for platform {} in the index (it has: {})", what, want.to_string(),
                 offered.empty() ? std::string("nothing") : fmt::format("{}", fmt::join(offered, ", ")));
  return *best;
}

Result<ImageConfig> parse_image_config(std::string_view body, std::string_view what) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad(what, "image config is not a JSON object");
  ImageConfig c;
  CRIO_ASSIGN_OR_RETURN(c.architecture, opt_string(j, "architecture", what));
  CRIO_ASSIGN_OR_RETURN(c.os, opt_string(j, "os", what));
  CRIO_ASSIGN_OR_RETURN(c.variant, opt_string(j, "variant", what));
  CRIO_ASSIGN_OR_RETURN(c.created, opt_string(j, "created", what));
  CRIO_ASSIGN_OR_RETURN(c.author, opt_string(j, "author", what));
  if (j.contains("config") && !j["config"].is_null()) {
    const json& cfg = j["config"];
    if (!cfg.is_object()) return bad(what, "\"config\" must be an object");
    CRIO_ASSIGN_OR_RETURN(c.user, opt_string(cfg, "User", what));
    CRIO_ASSIGN_OR_RETURN(c.env, opt_strings(cfg, "Env", what));
    CRIO_ASSIGN_OR_RETURN(c.entrypoint, opt_strings(cfg, "Entrypoint", what));
    CRIO_ASSIGN_OR_RETURN(c.cmd, opt_strings(cfg, "Cmd", what));
    CRIO_ASSIGN_OR_RETURN(c.working_dir, opt_string(cfg, "WorkingDir", what));
    CRIO_ASSIGN_OR_RETURN(c.exposed_ports, opt_set(cfg, "ExposedPorts", what));
    CRIO_ASSIGN_OR_RETURN(c.volumes, opt_set(cfg, "Volumes", what));
    CRIO_ASSIGN_OR_RETURN(c.labels, opt_map(cfg, "Labels", what));
    CRIO_ASSIGN_OR_RETURN(c.stop_signal, opt_string(cfg, "StopSignal", what));
  }
  if (!j.contains("rootfs") || !j["rootfs"].is_object()) return bad(what, "image config has no \"rootfs\"");
  const json& rootfs = j["rootfs"];
  CRIO_ASSIGN_OR_RETURN(std::string type, opt_string(rootfs, "type", what));
  if (type != "layers") return bad(what, fmt::format("rootfs.type is \"{}\", not \"layers\"", type));
  CRIO_ASSIGN_OR_RETURN(c.diff_ids, opt_strings(rootfs, "diff_ids", what));
  for (size_t i = 0; i < c.diff_ids.size(); ++i)
    CRIO_RETURN_IF_ERROR(validate_digest(c.diff_ids[i], fmt::format("{}: rootfs.diff_ids[{}]", what, i)));
  if (j.contains("history") && !j["history"].is_null()) {
    if (!j["history"].is_array()) return bad(what, "\"history\" must be an array");
    for (const auto& h : j["history"]) {
      if (!h.is_object()) return bad(what, "a history entry must be an object");
      HistoryEntry e;
      CRIO_ASSIGN_OR_RETURN(e.created, opt_string(h, "created", what));
      CRIO_ASSIGN_OR_RETURN(e.created_by, opt_string(h, "created_by", what));
      CRIO_ASSIGN_OR_RETURN(e.author, opt_string(h, "author", what));
      CRIO_ASSIGN_OR_RETURN(e.comment, opt_string(h, "comment", what));
      if (h.contains("empty_layer")) {
        if (!h["empty_layer"].is_boolean()) return bad(what, "history \"empty_layer\" must be true or false");
        e.empty_layer = h["empty_layer"].get<bool>();
      }
      c.history.push_back(std::move(e));
    }
  }
  return c;
}

}  // namespace crio::image
