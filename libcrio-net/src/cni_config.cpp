#include <crio/net/cni_config.hpp>

#include <crio/core/fs.hpp>
#include <crio/core/process.hpp>

#include <nlohmann/json.hpp>

#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace crio::net {
namespace {

namespace stdfs = std::filesystem;
using nlohmann::json;

bool has_suffix(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Status invalid(const std::string& path, std::string_view reason) {
  return error(Code::kInvalidArgument, "CNI config {}: {}", path, reason);
}

}  // namespace

Result<NetworkConfigList> parse_network_config(const std::string& path, const std::string& content) {
  json doc = json::parse(content, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return invalid(path, "not valid JSON");
  if (!doc.is_object()) return invalid(path, "not a JSON object");

  // A single-plugin file becomes a list of one, as libcni does.
  if (!has_suffix(path, ".conflist")) {
    if (!doc.contains("type") || !doc["type"].is_string()) return invalid(path, "no plugin \"type\"");
    json list = {
        {"cniVersion", doc.value("cniVersion", "")}, {"name", doc.value("name", "")}, {"plugins", json::array({doc})}};
    doc = std::move(list);
  }

  NetworkConfigList out;
  out.path = path;
  if (!doc.contains("name") || !doc["name"].is_string() || doc["name"].get<std::string>().empty()) {
    return invalid(path, "no network \"name\"");
  }
  out.name = doc["name"].get<std::string>();
  // The spec limits names to these characters; they also end up in cache file names.
  if (!std::all_of(
          out.name.begin(), out.name.end(),
          [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'; }) ||
      !std::isalnum(static_cast<unsigned char>(out.name[0]))) {
    return invalid(path, "network name \"" + out.name + "\" may only contain letters, digits, '-', '_' and '.'");
  }
  if (doc.contains("cniVersion") && !doc["cniVersion"].is_string())
    return invalid(path, "\"cniVersion\" is not a string");
  out.cni_version = doc.value("cniVersion", "");
  if (doc.contains("disableCheck")) {
    if (!doc["disableCheck"].is_boolean()) return invalid(path, "\"disableCheck\" is not a boolean");
    out.disable_check = doc["disableCheck"].get<bool>();
  }
  if (!doc.contains("plugins") || !doc["plugins"].is_array() || doc["plugins"].empty()) {
    return invalid(path, "no \"plugins\" list");
  }
  for (const auto& plugin : doc["plugins"]) {
    if (!plugin.is_object() || !plugin.contains("type") || !plugin["type"].is_string() ||
        plugin["type"].get<std::string>().empty()) {
      return invalid(path, "a plugin has no \"type\"");
    }
    const auto type = plugin["type"].get<std::string>();
    if (type.find('/') != std::string::npos) return invalid(path, "plugin type \"" + type + "\" contains a '/'");
    out.plugin_types.push_back(type);
  }
  out.json = doc.dump();
  return out;
}

LoadedNetworks load_network_configs(const std::string& dir) {
  LoadedNetworks loaded;
  std::error_code ec;
  std::vector<std::string> files;
  for (stdfs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string p = it->path().string();
    if (!it->is_regular_file(ec)) continue;
    if (has_suffix(p, ".conflist") || has_suffix(p, ".conf") || has_suffix(p, ".json")) files.push_back(p);
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    auto content = fs::read_file(file);
    if (!content.ok()) {
      loaded.errors.push_back(content.status().message());
      continue;
    }
    auto parsed = parse_network_config(file, *content);
    if (!parsed.ok()) {
      loaded.errors.push_back(parsed.status().message());
      continue;
    }
    loaded.networks.push_back(std::move(*parsed));
  }
  return loaded;
}

Result<NetworkConfigList> default_network(const std::string& dir, const std::string& wanted,
                                          const std::vector<std::string>& plugin_dirs) {
  LoadedNetworks loaded = load_network_configs(dir);
  std::vector<std::string> reasons = loaded.errors;
  for (auto& network : loaded.networks) {
    if (!wanted.empty() && network.name != wanted) continue;
    auto missing = std::find_if(network.plugin_types.begin(), network.plugin_types.end(), [&](const std::string& t) {
      return !process::find_executable(t, plugin_dirs).has_value();
    });
    if (missing == network.plugin_types.end()) return std::move(network);
    reasons.push_back(
        fmt::format("{}: plugin \"{}\" not found in {}", network.path, *missing, fmt::join(plugin_dirs, ", ")));
  }
  std::string what = wanted.empty() ? fmt::format("no usable CNI configuration in {}", dir)
                                    : fmt::format("CNI network \"{}\" not found or not usable in {}", wanted, dir);
  if (!reasons.empty()) what += fmt::format(" ({})", fmt::join(reasons, "; "));
  return Status(Code::kFailedPrecondition, what);
}

}  // namespace crio::net
