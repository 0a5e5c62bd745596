#include "signature_internal.hpp"

#include <crio/image/signature.hpp>

#include <fmt/format.h>

#include <set>
#include <vector>

namespace crio::image {

namespace {

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool is_domain_label(std::string_view c) {
  if (c.empty() || c.size() > 63) return false;
  auto alnum = [](char x) { return (x >= 'a' && x <= 'z') || (x >= 'A' && x <= 'Z') || (x >= '0' && x <= '9'); };
  if (!alnum(c.front()) || !alnum(c.back())) return false;
  for (char x : c)
    if (!alnum(x) && x != '-') return false;
  return true;
}

}  // namespace

Result<std::string> base64_decode(std::string_view text, std::string_view what) {
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned acc = 0;
  int bits = 0;
  std::size_t padding = 0;
  std::size_t symbols = 0;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding > 0) return error(Code::kInvalidArgument, "{}: invalid base64: data after '=' padding", what);
    int v = base64_value(c);
    if (v < 0) return error(Code::kInvalidArgument, "{}: invalid base64: unexpected character '{}'", what, c);
    ++symbols;
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (symbols % 4 == 1 || padding > 2 || (padding > 0 && (symbols + padding) % 4 != 0))
    return error(Code::kInvalidArgument, "{}: invalid base64: truncated input", what);
  return out;
}

namespace trust {

Result<nlohmann::json> parse_json_no_duplicates(std::string_view text, std::string_view what, Code code) {
  using json = nlohmann::json;
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  json::parser_callback_t cb = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open_objects.empty() && parsed.is_string()) {
          const auto& key = parsed.get_ref<const std::string&>();
          if (!open_objects.back().insert(key).second && duplicate.empty()) duplicate = key;
        }
        break;
      default:
        break;
    }
    return true;
  };
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(), cb);
  } catch (const json::exception& e) {
    return Status(code, fmt::format("{}: invalid JSON: {}", what, e.what()));
  }
  if (!duplicate.empty()) return Status(code, fmt::format("{}: member \"{}\" appears more than once", what, duplicate));
  return doc;
}

std::string policy_identity(const Reference& ref) {
  if (!ref.digest.empty()) return ref.name() + "@" + ref.digest;
  if (!ref.tag.empty()) return ref.name() + ":" + ref.tag;
  return ref.name();
}

namespace {

struct ScopeParts {
  std::string_view host, path, tag, digest;
};

// host[:port][/path][:tag][@digest], split without normalising anything.
ScopeParts split_scope(std::string_view scope) {
  ScopeParts p;
  if (std::size_t at = scope.find('@'); at != std::string_view::npos) {
    p.digest = scope.substr(at + 1);
    scope = scope.substr(0, at);
  }
  std::size_t slash = scope.find('/');
  p.host = scope.substr(0, slash);
  if (slash == std::string_view::npos) return p;
  p.path = scope.substr(slash + 1);
  if (std::size_t colon = p.path.rfind(':'); colon != std::string_view::npos) {
    p.tag = p.path.substr(colon + 1);
    p.path = p.path.substr(0, colon);
  }
  return p;
}

}  // namespace

bool docker_scope_is_canonical(std::string_view scope) {
  ScopeParts p = split_scope(scope);
  // Like the reference grammar: a first component without '.' or ':' that is not
  // "localhost" is a Docker Hub namespace, never a host.
  bool host_like = p.host.find_first_of(".:[") != std::string_view::npos || p.host == "localhost";
  if (!host_like || !valid_registry_host(p.host) || p.host == "index.docker.io") return false;
  if (p.path.empty()) return scope == p.host;
  if (!valid_repository_path(p.path)) return false;
  if (!p.tag.empty() && !p.digest.empty()) return false;
  if (!p.tag.empty() && !valid_tag(p.tag)) return false;
  if (!p.digest.empty() && !validate_digest(p.digest, "scope").ok()) return false;
  return true;
}

Status validate_docker_scope(std::string_view scope, bool strict_prefix) {
  if (scope.substr(0, 2) == "*.") {
    if (strict_prefix) return error(Code::kInvalidArgument, "\"{}\": a wildcard is not allowed here", scope);
    std::string_view domain = scope.substr(2);
    std::size_t start = 0;
    for (;;) {
      std::size_t dot = domain.find('.', start);
      std::string_view label = domain.substr(start, dot == std::string_view::npos ? dot : dot - start);
      if (!is_domain_label(label))
        return error(Code::kInvalidArgument,
                     "scope \"{}\": a wildcard must be \"*.\" followed by a domain name without a port "
                     "(like \"*.example.com\")",
                     scope);
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
    return ok_status();
  }
  if (scope.find('*') != std::string_view::npos)
    return error(Code::kInvalidArgument,
                 "scope \"{}\": '*' is only allowed as a leading \"*.\" matching subdomains (like \"*.example.com\")",
                 scope);
  if (!strict_prefix) return ok_status();
  if (!docker_scope_is_canonical(scope))
    return error(Code::kInvalidArgument,
                 "\"{}\" is not a fully expanded host[:port] or host[:port]/repository path (like "
                 "\"docker.io/library/busybox\")",
                 scope);
  ScopeParts p = split_scope(scope);
  if (!p.tag.empty() || !p.digest.empty())
    return error(Code::kInvalidArgument, "\"{}\" must name a host, namespace or repository, without a tag or digest",
                 scope);
  return ok_status();
}

}  // namespace trust

}  // namespace crio::image
