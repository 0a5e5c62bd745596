#include <crio/image/policy.hpp>

#include "signature_internal.hpp"

#include <crio/core/fs.hpp>
#include <crio/core/log.hpp>

#include <fmt/format.h>

#include <optional>

namespace crio::image {

namespace {

using json = nlohmann::json;

// Every parse error names the file and the place in it:
//   policy /etc/containers/policy.json: transports.docker["docker.io"][0]: …
struct Where {
  std::string_view source;
  std::string path;
  Status bad(std::string_view why) const {
    return Status(Code::kInvalidArgument, fmt::format("policy {}: {}: {}", source, path, why));
  }
  Where at(std::string_view member) const { return Where{source, path + "." + std::string(member)}; }
};

Status only_members(const json& obj, std::initializer_list<std::string_view> names, const Where& where) {
  for (const auto& [key, value] : obj.items()) {
    bool known = false;
    for (auto n : names) known = known || key == n;
    if (!known) return where.bad(fmt::format("unknown member \"{}\"", key));
  }
  return ok_status();
}

Result<std::string> string_member(const json& obj, const char* name, const Where& where, bool allow_empty = false) {
  const json& v = obj.at(name);
  if (!v.is_string()) return where.bad(fmt::format("\"{}\" must be a string", name));
  std::string s = v.get<std::string>();
  if (s.empty() && !allow_empty) return where.bad(fmt::format("\"{}\" must not be empty", name));
  return s;
}

Result<std::vector<std::string>> string_array_member(const json& obj, const char* name, const Where& where) {
  const json& v = obj.at(name);
  if (!v.is_array() || v.empty()) return where.bad(fmt::format("\"{}\" must be a non-empty array of strings", name));
  std::vector<std::string> out;
  for (const auto& e : v) {
    if (!e.is_string() || e.get_ref<const std::string&>().empty())
      return where.bad(fmt::format("\"{}\" must be a non-empty array of strings", name));
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<std::string> decode_key_data(const std::string& text, const char* name, const Where& where) {
  auto decoded = base64_decode(text, name);
  if (!decoded.ok()) return where.bad(decoded.status().message());
  if (decoded->empty()) return where.bad(fmt::format("\"{}\" decodes to nothing", name));
  return decoded;
}

Result<SignedIdentity> parse_signed_identity(const json& v, const Where& where) {
  if (!v.is_object()) return where.bad("must be a JSON object");
  if (!v.contains("type")) return where.bad("has no \"type\"");
  CRIO_ASSIGN_OR_RETURN(std::string type, string_member(v, "type", where));
  SignedIdentity id;
  if (type == "matchExact" || type == "matchRepoDigestOrExact" || type == "matchRepository") {
    CRIO_RETURN_IF_ERROR(only_members(v, {"type"}, where));
    id.rule = type == "matchExact"               ? IdentityRule::kMatchExact
              : type == "matchRepoDigestOrExact" ? IdentityRule::kMatchRepoDigestOrExact
                                                 : IdentityRule::kMatchRepository;
  } else if (type == "exactReference") {
    CRIO_RETURN_IF_ERROR(only_members(v, {"type", "dockerReference"}, where));
    if (!v.contains("dockerReference")) return where.bad("exactReference needs \"dockerReference\"");
    CRIO_ASSIGN_OR_RETURN(std::string text, string_member(v, "dockerReference", where));
    auto ref = parse_reference(text, ParseOptions{.default_tag = false});
    if (!ref.ok()) return where.bad(fmt::format("\"dockerReference\": {}", ref.status().message()));
    if (ref->tag.empty() && ref->digest.empty())
      return where.bad(fmt::format("\"dockerReference\" \"{}\" must carry a tag or a digest", text));
    id.rule = IdentityRule::kExactReference;
    id.reference = trust::policy_identity(*ref);
  } else if (type == "exactRepository") {
    CRIO_RETURN_IF_ERROR(only_members(v, {"type", "dockerRepository"}, where));
    if (!v.contains("dockerRepository")) return where.bad("exactRepository needs \"dockerRepository\"");
    CRIO_ASSIGN_OR_RETURN(std::string text, string_member(v, "dockerRepository", where));
    auto ref = parse_reference(text, ParseOptions{.default_tag = false});
    if (!ref.ok()) return where.bad(fmt::format("\"dockerRepository\": {}", ref.status().message()));
    id.rule = IdentityRule::kExactRepository;
    id.repository = ref->name();
  } else if (type == "remapIdentity") {
    CRIO_RETURN_IF_ERROR(only_members(v, {"type", "prefix", "signedPrefix"}, where));
    if (!v.contains("prefix") || !v.contains("signedPrefix"))
      return where.bad("remapIdentity needs \"prefix\" and \"signedPrefix\"");
    CRIO_ASSIGN_OR_RETURN(id.prefix, string_member(v, "prefix", where));
    CRIO_ASSIGN_OR_RETURN(id.signed_prefix, string_member(v, "signedPrefix", where));
    if (Status s = trust::validate_docker_scope(id.prefix, true); !s.ok())
      return where.bad(fmt::format("\"prefix\" {}", s.message()));
    if (Status s = trust::validate_docker_scope(id.signed_prefix, true); !s.ok())
      return where.bad(fmt::format("\"signedPrefix\" {}", s.message()));
    id.rule = IdentityRule::kRemapIdentity;
  } else {
    return where.bad(
        fmt::format("unknown signedIdentity type \"{}\" (expected matchExact, matchRepoDigestOrExact, matchRepository, "
                    "exactReference, exactRepository or remapIdentity)",
                    type));
  }
  return id;
}

// Exactly one of `names` must be present.
Result<std::string> exactly_one_of(const json& obj, std::initializer_list<const char*> names, std::string_view what,
                                   const Where& where) {
  std::string found;
  std::string list;
  for (const char* n : names) {
    list += (list.empty() ? "" : ", ") + std::string(n);
    if (!obj.contains(n)) continue;
    if (!found.empty())
      return where.bad(
          fmt::format("{} has both \"{}\" and \"{}\"; exactly one of {} is allowed", what, found, n, list));
    found = n;
  }
  if (found.empty()) return where.bad(fmt::format("{} needs exactly one of {}", what, list));
  return found;
}

Result<PolicyRequirement> parse_requirement(const json& v, const Where& where) {
  if (!v.is_object()) return where.bad("a requirement must be a JSON object");
  if (!v.contains("type")) return where.bad("requirement has no \"type\"");
  CRIO_ASSIGN_OR_RETURN(std::string type, string_member(v, "type", where));
  PolicyRequirement req;
  if (type == "insecureAcceptAnything" || type == "reject") {
    CRIO_RETURN_IF_ERROR(only_members(v, {"type"}, where));
    req.type = type == "reject" ? RequirementType::kReject : RequirementType::kInsecureAcceptAnything;
    return req;
  }
  if (type == "signedBy") {
    req.type = RequirementType::kSignedBy;
    CRIO_RETURN_IF_ERROR(
        only_members(v, {"type", "keyType", "keyPath", "keyPaths", "keyData", "signedIdentity"}, where));
    if (!v.contains("keyType")) return where.bad("signedBy needs \"keyType\" (\"GPGKeys\")");
    CRIO_ASSIGN_OR_RETURN(req.key_type, string_member(v, "keyType", where));
    if (req.key_type != "GPGKeys" && req.key_type != "signedByGPGKeys" && req.key_type != "X509Certificates" &&
        req.key_type != "signedByX509CAs")
      return where.bad(fmt::format("unknown keyType \"{}\" (expected \"GPGKeys\")", req.key_type));
    CRIO_ASSIGN_OR_RETURN(std::string key, exactly_one_of(v, {"keyPath", "keyPaths", "keyData"}, "signedBy", where));
    if (key == "keyPath") {
      CRIO_ASSIGN_OR_RETURN(std::string path, string_member(v, "keyPath", where));
      req.key_paths.push_back(std::move(path));
    } else if (key == "keyPaths") {
      CRIO_ASSIGN_OR_RETURN(req.key_paths, string_array_member(v, "keyPaths", where));
    } else {
      CRIO_ASSIGN_OR_RETURN(std::string text, string_member(v, "keyData", where));
      CRIO_ASSIGN_OR_RETURN(std::string data, decode_key_data(text, "keyData", where));
      req.key_data.push_back(std::move(data));
    }
  } else if (type == "sigstoreSigned") {
    req.type = RequirementType::kSigstoreSigned;
    CRIO_RETURN_IF_ERROR(
        only_members(v,
                     {"type", "keyPath", "keyPaths", "keyData", "keyDatas", "fulcio", "pki", "rekorPublicKeyPath",
                      "rekorPublicKeyPaths", "rekorPublicKeyData", "rekorPublicKeyDatas", "signedIdentity"},
                     where));
    CRIO_ASSIGN_OR_RETURN(
        std::string key,
        exactly_one_of(v, {"keyPath", "keyPaths", "keyData", "keyDatas", "fulcio", "pki"}, "sigstoreSigned", where));
    if (key == "keyPath") {
      CRIO_ASSIGN_OR_RETURN(std::string path, string_member(v, "keyPath", where));
      req.key_paths.push_back(std::move(path));
    } else if (key == "keyPaths") {
      CRIO_ASSIGN_OR_RETURN(req.key_paths, string_array_member(v, "keyPaths", where));
    } else if (key == "keyData") {
      CRIO_ASSIGN_OR_RETURN(std::string text, string_member(v, "keyData", where));
      CRIO_ASSIGN_OR_RETURN(std::string data, decode_key_data(text, "keyData", where));
      req.key_data.push_back(std::move(data));
    } else if (key == "keyDatas") {
      CRIO_ASSIGN_OR_RETURN(std::vector<std::string> texts, string_array_member(v, "keyDatas", where));
      for (const auto& t : texts) {
        CRIO_ASSIGN_OR_RETURN(std::string data, decode_key_data(t, "keyDatas", where));
        req.key_data.push_back(std::move(data));
      }
    } else {
      if (!v.at(key).is_object()) return where.bad(fmt::format("\"{}\" must be a JSON object", key));
      req.unsupported.push_back(key);
    }
    for (const char* rekor : {"rekorPublicKeyPath", "rekorPublicKeyPaths", "rekorPublicKeyData", "rekorPublicKeyDatas"})
      if (v.contains(rekor)) req.unsupported.push_back(rekor);
  } else {
    return where.bad(fmt::format(
        "unknown requirement type \"{}\" (expected insecureAcceptAnything, reject, signedBy or sigstoreSigned)", type));
  }
  if (v.contains("signedIdentity")) {
    CRIO_ASSIGN_OR_RETURN(req.signed_identity,
                          parse_signed_identity(v.at("signedIdentity"), where.at("signedIdentity")));
  }
  return req;
}

Result<PolicyRequirements> parse_requirements(const json& v, const Where& where) {
  if (!v.is_array()) return where.bad("must be an array of requirements");
  if (v.empty())
    return where.bad(
        "the requirement list is empty (use [{\"type\": \"insecureAcceptAnything\"}] to accept "
        "anything)");
  PolicyRequirements out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    CRIO_ASSIGN_OR_RETURN(PolicyRequirement req,
                          parse_requirement(v[i], Where{where.source, fmt::format("{}[{}]", where.path, i)}));
    out.push_back(std::move(req));
  }
  return out;
}

std::string strip_port(const std::string& host) {
  if (!host.empty() && host.front() == '[') return {};  // an IPv6 literal has no parent domains
  return host.substr(0, host.find(':'));
}

Status deny(const Policy& policy, const Reference& ref, const PolicyRequirement& req, const PolicyMatch& match,
            std::string_view reason) {
  std::string msg = fmt::format("image {} rejected by policy {}: requirement \"{}\" for {}", ref.string(),
                                policy.source, requirement_type_name(req.type), match.scope);
  if (!reason.empty()) msg += fmt::format(": {}", reason);
  return Status(Code::kPermissionDenied, std::move(msg));
}

Status requirement_error(const Policy& policy, const PolicyRequirement& req, const PolicyMatch& match,
                         const Status& s) {
  return Status(s.code(), fmt::format("policy {}: requirement \"{}\" for {}: {}", policy.source,
                                      requirement_type_name(req.type), match.scope, s.message()));
}

// Keys named by a requirement, read now (key files may be rotated at any time).
Result<std::vector<KeyMaterial>> requirement_keys(const PolicyRequirement& req) {
  std::vector<KeyMaterial> keys;
  for (const auto& path : req.key_paths) {
    auto data = fs::read_file(path);
    if (!data.ok()) return error(Code::kFailedPrecondition, "key file: {}", data.status().message());
    if (data->empty()) return error(Code::kFailedPrecondition, "key file {} is empty", path);
    keys.push_back(KeyMaterial{path, std::move(*data)});
  }
  for (std::size_t i = 0; i < req.key_data.size(); ++i)
    keys.push_back(KeyMaterial{req.key_data.size() == 1 ? std::string("keyData") : fmt::format("keyDatas[{}]", i),
                               req.key_data[i]});
  return keys;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

// The reasons each signature was refused, kept short enough for a kubelet event.
std::string summarize(const std::vector<std::string>& reasons) {
  constexpr std::size_t kShown = 5;
  if (reasons.size() <= kShown) return join(reasons, "; ");
  std::vector<std::string> head(reasons.begin(), reasons.begin() + kShown);
  return fmt::format("{}; and {} more", join(head, "; "), reasons.size() - kShown);
}

// Checks a verified payload against the image.
Status check_payload(const SignaturePayload& payload, const PolicyRequirement& req, const Reference& ref,
                     const std::string& manifest_digest, std::string_view manifest) {
  CRIO_RETURN_IF_ERROR(match_manifest_digest(payload.manifest_digest, manifest_digest, manifest));
  return match_signed_identity(req.signed_identity, ref, payload.docker_reference);
}

// Fetches each kind of signature at most once per evaluation.
class SignatureCache {
 public:
  SignatureCache(SignatureSource& source, const Reference& ref, const std::string& digest)
      : source_(source), ref_(ref), digest_(digest) {}

  Result<const std::vector<std::string>*> simple() {
    if (!simple_) {
      auto r = source_.simple_signing_signatures(ref_, digest_);
      if (!r.ok()) return r.status();
      simple_ = std::move(*r);
    }
    return &*simple_;
  }
  Result<const std::vector<SigstoreSignature>*> sigstore() {
    if (!sigstore_) {
      auto r = source_.sigstore_signatures(ref_, digest_);
      if (!r.ok()) return r.status();
      sigstore_ = std::move(*r);
    }
    return &*sigstore_;
  }

 private:
  SignatureSource& source_;
  const Reference& ref_;
  const std::string& digest_;
  std::optional<std::vector<std::string>> simple_;
  std::optional<std::vector<SigstoreSignature>> sigstore_;
};

Status evaluate_signed_by(const Policy& policy, const Reference& ref, const std::string& manifest_digest,
                          std::string_view manifest, const PolicyRequirement& req, const PolicyMatch& match,
                          SignatureCache& cache) {
  if (req.key_type != "GPGKeys")
    return requirement_error(
        policy, req, match,
        error(Code::kUnimplemented, "keyType \"{}\" is not supported (only \"GPGKeys\")", req.key_type));
  auto keys = requirement_keys(req);
  if (!keys.ok()) return requirement_error(policy, req, match, keys.status());
  auto sigs = cache.simple();
  if (!sigs.ok()) return sigs.status().wrap(fmt::format("reading the signatures of image {}", ref.string()));
  if ((*sigs)->empty())
    return deny(policy, ref, req, match,
                fmt::format("no signature found for manifest {} (simple-signing signatures are read from the "
                            "lookaside storage configured in registries.d)",
                            manifest_digest));
  auto verifier = GpgVerifier::create(*keys);
  if (!verifier.ok()) {
    Status s = verifier.status();
    if (s.code() == Code::kInvalidArgument) s = Status(Code::kFailedPrecondition, s.message());
    return requirement_error(policy, req, match, s);
  }
  std::vector<std::string> reasons;
  for (std::size_t i = 0; i < (*sigs)->size(); ++i) {
    auto verified = verifier->verify((**sigs)[i]);
    Status s = verified.status();
    if (verified.ok()) {
      auto payload = parse_signature_payload(verified->payload, kSimpleSigningType);
      s = payload.ok() ? check_payload(*payload, req, ref, manifest_digest, manifest) : payload.status();
      if (s.ok()) {
        log::debug("image signature accepted",
                   {{"image", ref.string()}, {"policy", policy.source}, {"key", verified->fingerprint}});
        return ok_status();
      }
    }
    if (s.code() != Code::kPermissionDenied) return requirement_error(policy, req, match, s);
    reasons.push_back(fmt::format("signature {}: {}", i + 1, s.message()));
  }
  return deny(policy, ref, req, match, fmt::format("no signature is acceptable: {}", summarize(reasons)));
}

Status evaluate_sigstore_signed(const Policy& policy, const Reference& ref, const std::string& manifest_digest,
                                std::string_view manifest, const PolicyRequirement& req, const PolicyMatch& match,
                                SignatureCache& cache) {
  if (!req.unsupported.empty())
    return requirement_error(
        policy, req, match,
        error(Code::kUnimplemented,
              "{} is not supported: only public-key verification (keyPath, keyPaths, keyData, keyDatas) is",
              join(req.unsupported, ", ")));
  auto keys = requirement_keys(req);
  if (!keys.ok()) return requirement_error(policy, req, match, keys.status());
  auto sigs = cache.sigstore();
  if (!sigs.ok()) return sigs.status().wrap(fmt::format("reading the signatures of image {}", ref.string()));
  if ((*sigs)->empty())
    return deny(policy, ref, req, match,
                fmt::format("no sigstore signature found for manifest {} (they are read only for registries or "
                            "repositories with use-sigstore-attachments in registries.d)",
                            manifest_digest));
  std::vector<std::string> reasons;
  for (std::size_t i = 0; i < (*sigs)->size(); ++i) {
    auto payload = verify_sigstore_signature(*keys, (**sigs)[i]);
    Status s = payload.ok() ? check_payload(*payload, req, ref, manifest_digest, manifest) : payload.status();
    if (s.ok()) {
      log::debug("image sigstore signature accepted", {{"image", ref.string()}, {"policy", policy.source}});
      return ok_status();
    }
    if (s.code() == Code::kInvalidArgument) s = Status(Code::kFailedPrecondition, s.message());
    if (s.code() != Code::kPermissionDenied) return requirement_error(policy, req, match, s);
    reasons.push_back(fmt::format("signature {}: {}", i + 1, s.message()));
  }
  return deny(policy, ref, req, match, fmt::format("no signature is acceptable: {}", summarize(reasons)));
}

bool valid_namespace(std::string_view ns) {
  if (ns.empty() || ns.size() > 63) return false;
  auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_alnum(ns.front()) || !lower_alnum(ns.back())) return false;
  for (char c : ns)
    if (!lower_alnum(c) && c != '-') return false;
  return true;
}

}  // namespace

std::string_view requirement_type_name(RequirementType type) {
  switch (type) {
    case RequirementType::kInsecureAcceptAnything:
      return "insecureAcceptAnything";
    case RequirementType::kReject:
      return "reject";
    case RequirementType::kSignedBy:
      return "signedBy";
    case RequirementType::kSigstoreSigned:
      return "sigstoreSigned";
  }
  return "unknown";
}

Result<Policy> parse_policy(std::string_view text, std::string_view source) {
  CRIO_ASSIGN_OR_RETURN(
      json doc, trust::parse_json_no_duplicates(text, fmt::format("policy {}", source), Code::kInvalidArgument));
  Where top{source, "top level"};
  if (!doc.is_object()) return top.bad("must be a JSON object");
  CRIO_RETURN_IF_ERROR(only_members(doc, {"default", "transports"}, top));
  if (!doc.contains("default")) return top.bad("has no \"default\" (the global default requirements are mandatory)");
  Policy policy;
  policy.source = std::string(source);
  CRIO_ASSIGN_OR_RETURN(policy.default_requirements, parse_requirements(doc.at("default"), Where{source, "default"}));
  if (!doc.contains("transports")) return policy;
  const json& transports = doc.at("transports");
  if (!transports.is_object()) return Where{source, "transports"}.bad("must be a JSON object");
  for (const auto& [transport, scopes] : transports.items()) {
    Where tw{source, fmt::format("transports.{}", transport)};
    if (!scopes.is_object()) return tw.bad("must be a JSON object of scopes");
    for (const auto& [scope, reqs] : scopes.items()) {
      Where sw{source, fmt::format("{}[\"{}\"]", tw.path, scope)};
      if (transport == "docker" && !scope.empty()) {
        if (Status s = trust::validate_docker_scope(scope, false); !s.ok()) return sw.bad(s.message());
        if (scope.substr(0, 2) != "*." && !trust::docker_scope_is_canonical(scope))
          log::warn(
              "policy.json docker scope is not a fully expanded host[:port][/path][:tag|@digest] and can never "
              "match an image",
              {{"file", source}, {"scope", scope}});
      }
      CRIO_ASSIGN_OR_RETURN(PolicyRequirements parsed, parse_requirements(reqs, sw));
      // Only registry pulls are ever evaluated; other transports are validated and dropped.
      if (transport == "docker") policy.docker.emplace(scope, std::move(parsed));
    }
  }
  return policy;
}

Result<Policy> load_policy(const std::string& path) {
  auto text = fs::read_file(path);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound)
      return error(Code::kFailedPrecondition, "signature policy {} does not exist", path);
    return error(Code::kFailedPrecondition, "signature policy: {}", text.status().message());
  }
  return parse_policy(*text, path);
}

Result<std::string> policy_path_for_namespace(std::string_view signature_policy, std::string_view signature_policy_dir,
                                              std::string_view pod_namespace) {
  if (!pod_namespace.empty()) {
    if (!valid_namespace(pod_namespace))
      return error(Code::kInvalidArgument, "namespace \"{}\" is not a valid Kubernetes namespace name", pod_namespace);
    if (!signature_policy_dir.empty()) {
      std::string candidate = fmt::format("{}/{}.json", signature_policy_dir, pod_namespace);
      if (fs::exists(candidate)) return candidate;
    }
  }
  if (!signature_policy.empty()) return std::string(signature_policy);
  return std::string(kDefaultPolicyPath);
}

Result<Policy> load_policy_for_namespace(std::string_view signature_policy, std::string_view signature_policy_dir,
                                         std::string_view pod_namespace) {
  CRIO_ASSIGN_OR_RETURN(std::string path,
                        policy_path_for_namespace(signature_policy, signature_policy_dir, pod_namespace));
  return load_policy(path);
}

std::vector<std::string> docker_scope_candidates(const Reference& ref) {
  std::vector<std::string> out;
  std::string name = ref.name();
  if (!ref.digest.empty()) out.push_back(name + "@" + ref.digest);
  if (!ref.tag.empty()) out.push_back(name + ":" + ref.tag);
  // The repository, each parent namespace, then the host[:port].
  for (std::string prefix = name;;) {
    out.push_back(prefix);
    std::size_t slash = prefix.rfind('/');
    if (slash == std::string::npos) break;
    prefix.resize(slash);
  }
  std::string host = strip_port(ref.registry);
  for (std::size_t dot = host.find('.'); dot != std::string::npos; dot = host.find('.', dot + 1))
    out.push_back("*." + host.substr(dot + 1));
  return out;
}

PolicyMatch find_policy_requirements(const Policy& policy, const Reference& ref) {
  for (const auto& scope : docker_scope_candidates(ref)) {
    auto it = policy.docker.find(scope);
    if (it != policy.docker.end()) return PolicyMatch{&it->second, fmt::format("scope \"{}\"", scope)};
  }
  if (auto it = policy.docker.find(""); it != policy.docker.end())
    return PolicyMatch{&it->second, "the default scope \"\" of transport \"docker\""};
  return PolicyMatch{&policy.default_requirements, "the global \"default\""};
}

Status evaluate_policy(const Policy& policy, const Reference& ref, const std::string& manifest_digest,
                       SignatureSource& signatures, std::string_view manifest) {
  PolicyMatch match = find_policy_requirements(policy, ref);
  if (match.requirements->empty())  // parse_policy never allows this; a hand-built Policy might
    return Status(Code::kPermissionDenied, fmt::format("image {} rejected by policy {}: {} has no requirements",
                                                       ref.string(), policy.source, match.scope));
  SignatureCache cache(signatures, ref, manifest_digest);
  for (const auto& req : *match.requirements) {
    switch (req.type) {
      case RequirementType::kInsecureAcceptAnything:
        break;
      case RequirementType::kReject:
        return deny(policy, ref, req, match, "");
      case RequirementType::kSignedBy:
        CRIO_RETURN_IF_ERROR(evaluate_signed_by(policy, ref, manifest_digest, manifest, req, match, cache));
        break;
      case RequirementType::kSigstoreSigned:
        CRIO_RETURN_IF_ERROR(evaluate_sigstore_signed(policy, ref, manifest_digest, manifest, req, match, cache));
        break;
    }
  }
  return ok_status();
}

}  // namespace crio::image
