#include <crio/image/registries.hpp>

#include <crio/core/fs.hpp>
#include <crio/core/log.hpp>

#include <toml++/toml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>

namespace crio::image {

namespace {

namespace stdfs = std::filesystem;

// What a file set, so a drop-in only overrides what it names.
struct ParsedFile {
  RegistriesConfig config;
  bool has_search = false;
  bool has_mode = false;
};

class Reader {
 public:
  explicit Reader(std::string_view source) : source_(source) {}

  Status type_error(const toml::node& node, std::string_view key, std::string_view want) const {
    return error(Code::kInvalidArgument, "{}:{}: \"{}\" must be {}", source_, node.source().begin.line, key, want);
  }
  Status value_error(const toml::node& node, std::string_view key, std::string_view why) const {
    return error(Code::kInvalidArgument, "{}:{}: \"{}\": {}", source_, node.source().begin.line, key, why);
  }
  void unknown(const toml::node& node, std::string_view key) const {
    log::warn("unknown key in registries.conf, ignored",
              {{"file", source_}, {"line", node.source().begin.line}, {"key", key}});
  }

  Result<std::string> string(const toml::node& node, std::string_view key) const {
    auto v = node.value<std::string>();
    if (!node.is_string() || !v) return type_error(node, key, "a string");
    return *v;
  }
  Result<bool> boolean(const toml::node& node, std::string_view key) const {
    if (!node.is_boolean()) return type_error(node, key, "true or false");
    return *node.value<bool>();
  }
  Result<std::vector<std::string>> strings(const toml::node& node, std::string_view key) const {
    const toml::array* arr = node.as_array();
    if (!arr) return type_error(node, key, "an array of strings");
    std::vector<std::string> out;
    for (const toml::node& el : *arr) {
      if (!el.is_string()) return type_error(el, key, "an array of strings");
      out.push_back(*el.value<std::string>());
    }
    return out;
  }

  const std::string& source() const { return source_; }

 private:
  std::string source_;
};

// host[:port] with nothing after it.
bool valid_host_only(std::string_view s) { return s.find('/') == std::string_view::npos && valid_registry_host(s); }

// host[:port][/path]: a location or a non-wildcard prefix (which may also end in a
// tag or digest).
Status check_location(const Reader& r, const toml::node& node, std::string_view key, std::string_view value,
                      bool allow_tag) {
  if (value.empty()) return r.value_error(node, key, "must not be empty");
  if (value.find("://") != std::string_view::npos)
    return r.value_error(node, key, fmt::format("\"{}\" must be host[:port][/path] without a URL scheme", value));
  std::size_t slash = value.find('/');
  std::string_view host = value.substr(0, slash);
  if (!valid_registry_host(host)) return r.value_error(node, key, fmt::format("\"{}\" has an invalid host \"{}\"", value, host));
  if (slash == std::string_view::npos) return ok_status();
  auto parsed = parse_reference(value, ParseOptions{.default_tag = false, .qualified = true});
  if (!parsed.ok()) return r.value_error(node, key, parsed.status().message());
  if (!allow_tag && (!parsed->tag.empty() || !parsed->digest.empty()))
    return r.value_error(node, key, fmt::format("\"{}\" must not contain a tag or digest", value));
  return ok_status();
}

Result<PullFromMirror> parse_pull_from_mirror(const Reader& r, const toml::node& node) {
  CRIO_ASSIGN_OR_RETURN(std::string v, r.string(node, "pull-from-mirror"));
  if (v == "all" || v.empty()) return PullFromMirror::kAll;
  if (v == "digest-only") return PullFromMirror::kDigestOnly;
  if (v == "tag-only") return PullFromMirror::kTagOnly;
  return r.value_error(node, "pull-from-mirror", fmt::format("\"{}\" is not one of all, digest-only, tag-only", v));
}

Result<RegistryMirror> parse_mirror(const Reader& r, const toml::table& t) {
  RegistryMirror m;
  bool has_location = false;
  for (const auto& [k, node] : t) {
    std::string_view key = k.str();
    if (key == "location") {
      CRIO_ASSIGN_OR_RETURN(m.location, r.string(node, "mirror.location"));
      CRIO_RETURN_IF_ERROR(check_location(r, node, "mirror.location", m.location, false));
      has_location = true;
    } else if (key == "insecure") {
      CRIO_ASSIGN_OR_RETURN(m.insecure, r.boolean(node, "mirror.insecure"));
    } else if (key == "pull-from-mirror") {
      CRIO_ASSIGN_OR_RETURN(m.pull_from_mirror, parse_pull_from_mirror(r, node));
    } else {
      r.unknown(node, fmt::format("registry.mirror.{}", key));
    }
  }
  if (!has_location) return r.value_error(t, "registry.mirror", "has no location");
  return m;
}

Result<RegistryEntry> parse_registry(const Reader& r, const toml::table& t) {
  RegistryEntry e;
  const toml::node* prefix_node = nullptr;
  const toml::node* location_node = nullptr;
  for (const auto& [k, node] : t) {
    std::string_view key = k.str();
    if (key == "prefix") {
      CRIO_ASSIGN_OR_RETURN(e.prefix, r.string(node, "prefix"));
      prefix_node = &node;
    } else if (key == "location") {
      CRIO_ASSIGN_OR_RETURN(e.location, r.string(node, "location"));
      location_node = &node;
    } else if (key == "insecure") {
      CRIO_ASSIGN_OR_RETURN(e.insecure, r.boolean(node, "insecure"));
    } else if (key == "blocked") {
      CRIO_ASSIGN_OR_RETURN(e.blocked, r.boolean(node, "blocked"));
    } else if (key == "mirror-by-digest-only") {
      CRIO_ASSIGN_OR_RETURN(e.mirror_by_digest_only, r.boolean(node, "mirror-by-digest-only"));
    } else if (key == "mirror") {
      const toml::array* arr = node.as_array();
      if (!arr) return r.type_error(node, "mirror", "an array of tables ([[registry.mirror]])");
      for (const toml::node& el : *arr) {
        const toml::table* mt = el.as_table();
        if (!mt) return r.type_error(el, "mirror", "an array of tables ([[registry.mirror]])");
        CRIO_ASSIGN_OR_RETURN(RegistryMirror m, parse_mirror(r, *mt));
        e.mirrors.push_back(std::move(m));
      }
    } else {
      r.unknown(node, fmt::format("registry.{}", key));
    }
  }
  if (e.prefix.empty() && e.location.empty())
    return r.value_error(t, "registry", "needs a prefix or a location");
  if (location_node) CRIO_RETURN_IF_ERROR(check_location(r, *location_node, "location", e.location, false));
  if (e.prefix.rfind("*.", 0) == 0) {
    std::string_view domain = std::string_view(e.prefix).substr(2);
    if (domain.find_first_of("*/:") != std::string_view::npos || !valid_registry_host(domain))
      return r.value_error(*prefix_node, "prefix",
                           fmt::format("wildcard prefix \"{}\" must be \"*.\" followed by a host name", e.prefix));
    if (!e.location.empty())
      return r.value_error(*location_node, "location",
                           fmt::format("must be empty for the wildcard prefix \"{}\"", e.prefix));
  } else if (prefix_node) {
    if (e.prefix.find('*') != std::string::npos)
      return r.value_error(*prefix_node, "prefix",
                           fmt::format("\"{}\": a wildcard is only allowed as a leading \"*.\"", e.prefix));
    CRIO_RETURN_IF_ERROR(check_location(r, *prefix_node, "prefix", e.prefix, true));
  }
  if (e.prefix.empty()) e.prefix = e.location;
  return e;
}

// An alias key is a short name without tag or digest, stored normalised
// ("docker.io/library/busybox") so "busybox" and "library/busybox" match alike.
Result<std::string> alias_key(const Reader& r, const toml::node& node, std::string_view key) {
  if (!is_short_name(key))
    return r.value_error(node, fmt::format("aliases.{}", key), "an alias name must be a short name (no registry)");
  auto ref = parse_reference(key, ParseOptions{.default_tag = false});
  if (!ref.ok()) return r.value_error(node, fmt::format("aliases.{}", key), ref.status().message());
  if (!ref->tag.empty() || !ref->digest.empty())
    return r.value_error(node, fmt::format("aliases.{}", key), "an alias name must not contain a tag or digest");
  return ref->name();
}

Status check_alias_value(const Reader& r, const toml::node& node, std::string_view key, std::string_view value) {
  if (value.empty()) return ok_status();  // removes the alias (drop-ins)
  if (is_short_name(value))
    return r.value_error(node, fmt::format("aliases.{}", key),
                         fmt::format("\"{}\" must be fully qualified (include a registry)", value));
  auto ref = parse_reference(value, ParseOptions{.default_tag = false});
  if (!ref.ok()) return r.value_error(node, fmt::format("aliases.{}", key), ref.status().message());
  if (!ref->tag.empty() || !ref->digest.empty())
    return r.value_error(node, fmt::format("aliases.{}", key),
                         fmt::format("\"{}\" must not contain a tag or digest", value));
  return ok_status();
}

// The version 1 format: [registries.search], [registries.insecure], [registries.block].
Status parse_v1(const Reader& r, const toml::table& registries, ParsedFile& out) {
  for (const auto& [k, node] : registries) {
    std::string_view key = k.str();
    const toml::table* t = node.as_table();
    if (!t) return r.type_error(node, fmt::format("registries.{}", key), "a table");
    std::vector<std::string> list;
    if (const toml::node* l = t->get("registries")) {
      CRIO_ASSIGN_OR_RETURN(list, r.strings(*l, fmt::format("registries.{}.registries", key)));
    }
    for (const std::string& host : list) {
      if (key == "search") continue;
      auto it = std::find_if(out.config.registries.begin(), out.config.registries.end(),
                             [&](const RegistryEntry& e) { return e.prefix == host; });
      if (it == out.config.registries.end()) {
        RegistryEntry e;
        e.prefix = e.location = host;
        out.config.registries.push_back(std::move(e));
        it = std::prev(out.config.registries.end());
      }
      if (key == "insecure") it->insecure = true;
      else if (key == "block") it->blocked = true;
    }
    if (key == "search") {
      out.config.unqualified_search_registries = list;
      out.has_search = true;
    } else if (key != "insecure" && key != "block") {
      r.unknown(node, fmt::format("registries.{}", key));
    }
  }
  return ok_status();
}

Result<ParsedFile> parse_file_text(std::string_view text, std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return error(Code::kInvalidArgument, "{}:{}:{}: invalid TOML: {}", source, e.source().begin.line,
                 e.source().begin.column, e.description());
  }
  Reader r(source);
  ParsedFile out;
  out.config.files.emplace_back(source);
  bool v1 = false, v2 = false;
  for (const auto& [k, node] : root) {
    std::string_view key = k.str();
    if (key == "unqualified-search-registries") {
      v2 = true;
      CRIO_ASSIGN_OR_RETURN(out.config.unqualified_search_registries, r.strings(node, key));
      for (const std::string& host : out.config.unqualified_search_registries) {
        if (!valid_host_only(host))
          return r.value_error(node, key, fmt::format("\"{}\" must be a registry host[:port] without a path", host));
      }
      out.has_search = true;
    } else if (key == "short-name-mode") {
      v2 = true;
      CRIO_ASSIGN_OR_RETURN(std::string mode, r.string(node, key));
      if (mode == "enforcing") out.config.short_name_mode = ShortNameMode::kEnforcing;
      else if (mode == "permissive") out.config.short_name_mode = ShortNameMode::kPermissive;
      else if (mode == "disabled") out.config.short_name_mode = ShortNameMode::kDisabled;
      else return r.value_error(node, key, fmt::format("\"{}\" is not one of enforcing, permissive, disabled", mode));
      out.has_mode = true;
    } else if (key == "registry") {
      v2 = true;
      const toml::array* arr = node.as_array();
      if (!arr) return r.type_error(node, key, "an array of tables ([[registry]])");
      std::set<std::string> seen;
      for (const toml::node& el : *arr) {
        const toml::table* t = el.as_table();
        if (!t) return r.type_error(el, key, "an array of tables ([[registry]])");
        CRIO_ASSIGN_OR_RETURN(RegistryEntry e, parse_registry(r, *t));
        if (!seen.insert(e.prefix).second)
          return r.value_error(el, "prefix", fmt::format("\"{}\" is defined twice", e.prefix));
        out.config.registries.push_back(std::move(e));
      }
    } else if (key == "aliases") {
      v2 = true;
      const toml::table* t = node.as_table();
      if (!t) return r.type_error(node, key, "a table");
      for (const auto& [ak, av] : *t) {
        CRIO_ASSIGN_OR_RETURN(std::string value, r.string(av, fmt::format("aliases.{}", ak.str())));
        CRIO_ASSIGN_OR_RETURN(std::string norm, alias_key(r, av, ak.str()));
        CRIO_RETURN_IF_ERROR(check_alias_value(r, av, ak.str(), value));
        out.config.aliases[norm] = value;
      }
    } else if (key == "registries") {
      v1 = true;
      const toml::table* t = node.as_table();
      if (!t) return r.type_error(node, key, "a table");
      CRIO_RETURN_IF_ERROR(parse_v1(r, *t, out));
    } else if (key == "credential-helpers" || key == "additional-layer-store-auth-helper") {
      log::debug("registries.conf key not used by crio", {{"file", source}, {"key", key}});
    } else {
      r.unknown(node, key);
    }
  }
  if (v1 && v2)
    return error(Code::kInvalidArgument,
                 "{}: mixes the version 1 format ([registries.*]) with version 2 keys; use one of them", source);
  return out;
}

void merge(RegistriesConfig& base, const ParsedFile& f) {
  const RegistriesConfig& d = f.config;
  if (f.has_search) base.unqualified_search_registries = d.unqualified_search_registries;
  if (f.has_mode) base.short_name_mode = d.short_name_mode;
  for (const RegistryEntry& e : d.registries) {
    auto it = std::find_if(base.registries.begin(), base.registries.end(),
                           [&](const RegistryEntry& b) { return b.prefix == e.prefix; });
    if (it != base.registries.end()) *it = e;
    else base.registries.push_back(e);
  }
  for (const auto& [k, v] : d.aliases) {
    if (v.empty()) base.aliases.erase(k);
    else base.aliases[k] = v;
  }
  base.files.insert(base.files.end(), d.files.begin(), d.files.end());
}

// Length of the part of `ref` that `prefix` matches, or nullopt. A prefix matches
// whole components only: it must be followed by '/', ':' or '@' or end the text.
std::optional<std::size_t> match_prefix(std::string_view ref, std::string_view prefix) {
  if (prefix.rfind("*.", 0) == 0) {
    std::string_view host = ref.substr(0, ref.find('/'));
    std::string_view suffix = prefix.substr(1);  // ".example.com"
    if (host.size() > suffix.size() && host.substr(host.size() - suffix.size()) == suffix) return host.size();
    return std::nullopt;
  }
  if (ref.size() < prefix.size() || ref.substr(0, prefix.size()) != prefix) return std::nullopt;
  if (ref.size() == prefix.size()) return prefix.size();
  char c = ref[prefix.size()];
  if (c == '/' || c == ':' || c == '@') return prefix.size();
  return std::nullopt;
}

struct Match {
  const RegistryEntry* entry = nullptr;
  std::size_t length = 0;
};

Match find_match(const RegistriesConfig& config, std::string_view text) {
  Match best;
  for (const RegistryEntry& e : config.registries) {
    auto len = match_prefix(text, e.prefix);
    if (len && (!best.entry || *len > best.length)) best = {&e, *len};
  }
  return best;
}

bool in_insecure_list(const RegistriesConfig& config, std::string_view location) {
  for (const std::string& entry : config.insecure_registries) {
    if (match_prefix(location, entry)) return true;
  }
  return false;
}

Result<Reference> rewrite(const Reference& ref, std::string_view full, std::size_t matched, std::string_view location) {
  std::string text = std::string(location) + std::string(full.substr(matched));
  auto r = parse_reference(text, ParseOptions{.default_tag = false, .qualified = true});
  if (!r.ok())
    return error(Code::kInvalidArgument, "image {}: rewriting to location \"{}\" gives an invalid reference: {}",
                 ref.string(), location, r.status().message());
  // A prefix that ends in the tag ("x.io/app:v1") leaves nothing to append.
  if (r->tag.empty() && r->digest.empty()) {
    r->tag = ref.tag;
    r->digest = ref.digest;
  }
  return r;
}

}  // namespace

std::string_view short_name_mode_name(ShortNameMode mode) {
  switch (mode) {
    case ShortNameMode::kEnforcing: return "enforcing";
    case ShortNameMode::kPermissive: return "permissive";
    case ShortNameMode::kDisabled: return "disabled";
  }
  return "enforcing";
}

Result<RegistriesConfig> parse_registries_config(std::string_view toml_text, std::string_view source) {
  CRIO_ASSIGN_OR_RETURN(ParsedFile f, parse_file_text(toml_text, source));
  return std::move(f.config);
}

void merge_registries_config(RegistriesConfig& base, const RegistriesConfig& dropin) {
  ParsedFile f{dropin, !dropin.unqualified_search_registries.empty(), dropin.short_name_mode != ShortNameMode::kEnforcing};
  merge(base, f);
}

Result<RegistriesConfig> load_registries_config(const RegistriesLoadOptions& options) {
  std::string path = options.path;
  bool must_exist = !path.empty();
  if (path.empty()) {
    const char* env = std::getenv("CONTAINERS_REGISTRIES_CONF");
    path = env && *env ? env : std::string(kDefaultRegistriesConf);
  }
  RegistriesConfig config;
  std::error_code ec;
  if (stdfs::exists(path, ec)) {
    CRIO_ASSIGN_OR_RETURN(std::string text, fs::read_file(path));
    CRIO_ASSIGN_OR_RETURN(ParsedFile f, parse_file_text(text, path));
    merge(config, f);
  } else if (must_exist) {
    return error(Code::kNotFound, "registries configuration {}: file does not exist", path);
  }

  std::string dir = options.dropin_dir.empty() ? path + ".d" : options.dropin_dir;
  std::vector<std::string> dropins;
  if (stdfs::is_directory(dir, ec)) {
    for (const auto& entry : stdfs::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".conf" && entry.is_regular_file(ec)) dropins.push_back(entry.path().string());
    }
    if (ec) return error(Code::kInternal, "registries drop-in directory {}: {}", dir, ec.message());
  }
  std::sort(dropins.begin(), dropins.end());
  for (const std::string& file : dropins) {
    CRIO_ASSIGN_OR_RETURN(std::string text, fs::read_file(file));
    CRIO_ASSIGN_OR_RETURN(ParsedFile f, parse_file_text(text, file));
    merge(config, f);
  }
  for (const std::string& host : options.insecure_registries) {
    std::string_view h = host;
    if (h.find("://") != std::string_view::npos) h = h.substr(h.find("://") + 3);
    while (!h.empty() && h.back() == '/') h.remove_suffix(1);
    if (h.empty()) continue;
    config.insecure_registries.emplace_back(h);
  }
  return config;
}

const RegistryEntry* find_registry(const RegistriesConfig& config, const Reference& ref) {
  return find_match(config, ref.string()).entry;
}

bool is_insecure_location(const RegistriesConfig& config, std::string_view location) {
  if (in_insecure_list(config, location)) return true;
  Match m = find_match(config, location);
  return m.entry && m.entry->insecure;
}

Result<std::vector<PullSource>> pull_sources(const RegistriesConfig& config, const Reference& ref) {
  std::string full = ref.string();
  Match m = find_match(config, full);
  std::vector<PullSource> out;
  if (!m.entry) {
    out.push_back(PullSource{ref, in_insecure_list(config, ref.name()), false});
    return out;
  }
  const RegistryEntry& e = *m.entry;
  if (e.blocked)
    return error(Code::kPermissionDenied, "image {}: registry \"{}\" is blocked in registries.conf", full, e.prefix);
  bool by_digest = !ref.digest.empty();
  for (const RegistryMirror& mirror : e.mirrors) {
    PullFromMirror when = e.mirror_by_digest_only ? PullFromMirror::kDigestOnly : mirror.pull_from_mirror;
    if (when == PullFromMirror::kDigestOnly && !by_digest) continue;
    if (when == PullFromMirror::kTagOnly && by_digest) continue;
    CRIO_ASSIGN_OR_RETURN(Reference r, rewrite(ref, full, m.length, mirror.location));
    bool insecure = mirror.insecure || in_insecure_list(config, r.name());
    out.push_back(PullSource{std::move(r), insecure, true});
  }
  Reference primary = ref;
  if (!e.location.empty()) {
    CRIO_ASSIGN_OR_RETURN(primary, rewrite(ref, full, m.length, e.location));
  }
  bool insecure = e.insecure || in_insecure_list(config, primary.name());
  out.push_back(PullSource{std::move(primary), insecure, false});
  return out;
}

Result<std::vector<Reference>> resolve_name(const RegistriesConfig& config, std::string_view text) {
  CRIO_ASSIGN_OR_RETURN(Reference ref, parse_reference(text));
  if (!is_short_name(text)) return std::vector<Reference>{ref};

  // The name as typed, without tag or digest, to put under each search registry.
  std::string_view typed = text;
  if (std::size_t at = typed.find('@'); at != std::string_view::npos) typed = typed.substr(0, at);
  if (std::size_t colon = typed.rfind(':'); colon != std::string_view::npos) typed = typed.substr(0, colon);

  auto qualify = [&](const std::string& name) -> Result<Reference> {
    CRIO_ASSIGN_OR_RETURN(Reference q, parse_reference(name, ParseOptions{.default_tag = false, .qualified = true}));
    q.tag = ref.tag;
    q.digest = ref.digest;
    return q;
  };

  std::vector<Reference> out;
  if (auto it = config.aliases.find(ref.name()); it != config.aliases.end()) {
    CRIO_ASSIGN_OR_RETURN(Reference q, qualify(it->second));
    out.push_back(std::move(q));
    return out;
  }
  for (const std::string& host : config.unqualified_search_registries) {
    CRIO_ASSIGN_OR_RETURN(Reference q, qualify(host + "/" + std::string(typed)));
    out.push_back(std::move(q));
  }
  if (out.empty())
    return error(Code::kNotFound,
                 "image {}: short name did not resolve to an alias and no unqualified-search-registries are defined",
                 text);
  return out;
}

}  // namespace crio::image
