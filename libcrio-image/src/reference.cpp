#include <crio/image/reference.hpp>

#include <algorithm>
#include <cctype>

namespace crio::image {

namespace {

// The distribution grammar caps the whole name (registry + path) at 255 bytes.
constexpr std::size_t kNameMax = 255;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_word(char c) { return is_alnum(c) || c == '_'; }
bool is_hex_lower(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool all_of(std::string_view s, bool (*pred)(char)) {
  return std::all_of(s.begin(), s.end(), pred);
}

// path-component := alpha-numeric (separator alpha-numeric)*
// separator := [_.] | __ | [-]*
bool valid_path_component(std::string_view c) {
  if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
  std::size_t i = 0;
  while (i < c.size()) {
    if (is_lower_alnum(c[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < c.size() && !is_lower_alnum(c[j])) ++j;
    std::string_view sep = c.substr(i, j - i);
    bool ok = sep == "." || sep == "_" || sep == "__" || all_of(sep, [](char x) { return x == '-'; });
    if (!ok) return false;
    i = j;
  }
  return true;
}

// domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool valid_domain_component(std::string_view c) {
  if (c.empty() || !is_alnum(c.front()) || !is_alnum(c.back())) return false;
  return all_of(c, [](char x) { return is_alnum(x) || x == '-'; });
}

bool has_upper(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

// The first component is a registry host when it looks like one: it has a '.' or
// a ':' or is "localhost". An uppercase first component is also taken as a host,
// because a repository path can never contain uppercase.
bool first_component_is_host(std::string_view first) {
  return first.find_first_of(".:") != std::string_view::npos || first == "localhost" || has_upper(first);
}

}  // namespace

bool valid_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128 || !is_word(tag.front())) return false;
  return all_of(tag, [](char c) { return is_word(c) || c == '.' || c == '-'; });
}

bool valid_repository_path(std::string_view path) {
  if (path.empty()) return false;
  std::size_t start = 0;
  for (;;) {
    std::size_t slash = path.find('/', start);
    std::string_view comp = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!valid_path_component(comp)) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

bool valid_registry_host(std::string_view host) {
  if (host.empty()) return false;
  std::string_view name = host;
  std::string_view port;
  if (host.front() == '[') {
    std::size_t close = host.find(']');
    if (close == std::string_view::npos || close < 2) return false;
    std::string_view v6 = host.substr(1, close - 1);
    if (!all_of(v6, [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.'; }))
      return false;
    if (v6.find(':') == std::string_view::npos) return false;
    std::string_view rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
      if (port.empty()) return false;
    }
    name = {};
  } else {
    std::size_t colon = host.find(':');
    if (colon != std::string_view::npos) {
      name = host.substr(0, colon);
      port = host.substr(colon + 1);
      if (port.empty()) return false;
    }
    if (name.empty()) return false;
    std::size_t start = 0;
    for (;;) {
      std::size_t dot = name.find('.', start);
      std::string_view comp = name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
      if (!valid_domain_component(comp)) return false;
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
  }
  if (!port.empty()) {
    if (port.size() > 5 || !all_of(port, [](char c) { return c >= '0' && c <= '9'; })) return false;
  }
  return true;
}

Status validate_digest(std::string_view digest, std::string_view what) {
  std::size_t colon = digest.find(':');
  if (colon == std::string_view::npos)
    return error(Code::kInvalidArgument, "{}: digest \"{}\" has no algorithm (expected algorithm:hex)", what, digest);
  std::string_view algo = digest.substr(0, colon);
  std::string_view hex = digest.substr(colon + 1);
  std::size_t want = 0;
  if (algo == "sha256") want = 64;
  else if (algo == "sha512") want = 128;
  else
    return error(Code::kInvalidArgument, "{}: digest \"{}\" uses unsupported algorithm \"{}\"", what, digest, algo);
  if (hex.size() != want)
    return error(Code::kInvalidArgument, "{}: digest \"{}\" must have {} hex characters after \"{}:\", not {}", what,
                 digest, want, algo, hex.size());
  if (!all_of(hex, is_hex_lower))
    return error(Code::kInvalidArgument, "{}: digest \"{}\" must be lowercase hexadecimal", what, digest);
  return ok_status();
}

bool looks_like_image_id(std::string_view text) {
  if (text.substr(0, 7) == "sha256:") text.remove_prefix(7);
  return text.size() == 64 && all_of(text, is_hex_lower);
}

bool is_short_name(std::string_view text) {
  std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return true;
  return !first_component_is_host(text.substr(0, slash));
}

Result<Reference> parse_reference(std::string_view text, ParseOptions options) {
  auto bad = [&](std::string_view why) {
    return Status(Code::kInvalidArgument, fmt::format("invalid image reference \"{}\": {}", text, why));
  };
  if (text.empty()) return Status(Code::kInvalidArgument, "invalid image reference \"\": reference is empty");
  if (std::any_of(text.begin(), text.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }))
    return bad("contains whitespace");
  if (looks_like_image_id(text) && text.find(':') == std::string_view::npos)
    return bad("a 64-character hexadecimal string is an image ID, not a repository name");

  Reference ref;
  std::string_view rest = text;
  if (std::size_t at = rest.find('@'); at != std::string_view::npos) {
    std::string_view digest = rest.substr(at + 1);
    if (digest.empty()) return bad("empty digest after '@'");
    if (digest.find('@') != std::string_view::npos) return bad("more than one '@'");
    Status s = validate_digest(digest, fmt::format("invalid image reference \"{}\"", text));
    if (!s.ok()) return s;
    ref.digest = std::string(digest);
    rest = rest.substr(0, at);
  }
  // The tag is after the last ':' that follows the last '/', so a registry port
  // ("localhost:5000/x") is not mistaken for one.
  std::size_t last_slash = rest.rfind('/');
  std::size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (last_slash == std::string_view::npos || colon > last_slash)) {
    std::string_view tag = rest.substr(colon + 1);
    if (tag.empty()) return bad("empty tag after ':'");
    if (!valid_tag(tag))
      return bad(fmt::format("tag \"{}\" is invalid (must match [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})", tag));
    ref.tag = std::string(tag);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return bad("repository name is empty");

  std::string_view path = rest;
  std::size_t slash = rest.find('/');
  if (slash != std::string_view::npos && (options.qualified || first_component_is_host(rest.substr(0, slash)))) {
    std::string_view host = rest.substr(0, slash);
    if (!valid_registry_host(host)) return bad(fmt::format("registry host \"{}\" is invalid", host));
    ref.registry = std::string(host);
    path = rest.substr(slash + 1);
  } else if (options.qualified) {
    return bad("no registry host");
  } else {
    ref.registry = std::string(kDockerHub);
    ref.short_name = true;
  }
  if (ref.registry == "index.docker.io") ref.registry = std::string(kDockerHub);
  if (path.empty()) return bad("repository path is empty");
  if (has_upper(path)) return bad("repository name must be lowercase");
  if (!valid_repository_path(path))
    return bad(fmt::format("repository path \"{}\" is invalid (lowercase alphanumeric components separated by "
                           "'/', joined by '.', '_', '__' or '-')",
                           path));
  if (ref.registry == kDockerHub && path.find('/') == std::string_view::npos)
    ref.repository = "library/" + std::string(path);
  else
    ref.repository = std::string(path);
  if (ref.name().size() > kNameMax) return bad(fmt::format("name is longer than {} characters", kNameMax));
  if (options.default_tag && ref.tag.empty() && ref.digest.empty()) ref.tag = std::string(kDefaultTag);
  return ref;
}

std::string Reference::name() const { return registry + "/" + repository; }

std::string Reference::string() const {
  std::string s = name();
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

}  // namespace crio::image
