#include <crio/net/network.hpp>

#include <crio/core/fs.hpp>
#include <crio/core/log.hpp>
#include <crio/core/process.hpp>
#include <crio/core/sigpipe.hpp>
#include <crio/net/netns.hpp>

#include <nlohmann/json.hpp>

#include <fmt/ranges.h>

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cctype>

extern char** environ;

namespace crio::net {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kCacheKind = "cniCacheV1";

// libcni stores the network configuration as Go encodes a byte slice: base64.
std::string base64_encode(std::string_view in) {
  static constexpr char kTable[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += {kTable[n >> 18], kTable[(n >> 12) & 63], kTable[(n >> 6) & 63], kTable[n & 63]};
  }
  if (i + 1 == in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    out += {kTable[n >> 18], kTable[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {kTable[n >> 18], kTable[(n >> 12) & 63], kTable[(n >> 6) & 63], '='};
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else if (c == '=') break;
    else return std::nullopt;
    buffer = (buffer << 6) | v;
    bits += 6;
    if (bits >= 8) {
      out += static_cast<char>((buffer >> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return out;
}

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

bool safe_name(const std::string& s) {
  if (s.empty() || s.size() > 253 || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

Status validate_request(const PodNetworkRequest& req, bool need_netns) {
  if (!safe_name(req.container_id)) {
    return error(Code::kInvalidArgument,
                 "pod network: container ID \"{}\" is empty or has characters other than [A-Za-z0-9_.-]",
                 req.container_id);
  }
  if (req.ifname.empty() || req.ifname.size() > 15 || req.ifname.find('/') != std::string::npos || req.ifname == "." ||
      req.ifname == "..") {
    return error(Code::kInvalidArgument, "pod network {}: interface name \"{}\" is not valid", req.container_id,
                 req.ifname);
  }
  if (need_netns && req.netns_path.empty()) {
    return error(Code::kInvalidArgument, "pod network {}: no network namespace path", req.container_id);
  }
  for (const auto& pm : req.port_mappings) {
    if (pm.host_port == 0) continue;
    if (pm.host_port < 0 || pm.host_port > 65535 || pm.container_port <= 0 || pm.container_port > 65535) {
      return error(Code::kInvalidArgument, "pod network {}: port mapping {}→{} is out of range", req.container_id,
                   pm.host_port, pm.container_port);
    }
    std::string proto = pm.protocol;
    std::transform(proto.begin(), proto.end(), proto.begin(), [](unsigned char c) { return std::tolower(c); });
    if (!proto.empty() && proto != "tcp" && proto != "udp" && proto != "sctp") {
      return error(Code::kInvalidArgument, "pod network {}: port mapping protocol \"{}\" is not tcp, udp or sctp",
                   req.container_id, pm.protocol);
    }
  }
  return ok_status();
}

// The capability arguments a request carries, keyed by capability name.
json capability_args(const PodNetworkRequest& req, const std::string& pod_cidr) {
  json args = json::object();
  json ports = json::array();
  for (const auto& pm : req.port_mappings) {
    if (pm.host_port == 0) continue;
    std::string proto = pm.protocol.empty() ? "tcp" : pm.protocol;
    std::transform(proto.begin(), proto.end(), proto.begin(), [](unsigned char c) { return std::tolower(c); });
    json entry = {{"hostPort", pm.host_port}, {"containerPort", pm.container_port}, {"protocol", proto}};
    if (!pm.host_ip.empty()) entry["hostIP"] = pm.host_ip;
    ports.push_back(std::move(entry));
  }
  if (!ports.empty()) args["portMappings"] = std::move(ports);
  if (req.bandwidth) {
    json bw = json::object();
    const auto& b = *req.bandwidth;
    if (b.ingress_rate) bw.update({{"ingressRate", b.ingress_rate}, {"ingressBurst", b.ingress_burst}});
    if (b.egress_rate) bw.update({{"egressRate", b.egress_rate}, {"egressBurst", b.egress_burst}});
    if (!bw.empty()) args["bandwidth"] = std::move(bw);
  }
  if (req.dns) {
    args["dns"] = {{"servers", req.dns->servers}, {"searches", req.dns->searches}, {"options", req.dns->options}};
  }
  if (req.pod_annotations) args["io.kubernetes.cri.pod-annotations"] = *req.pod_annotations;
  if (!req.cgroup_path.empty()) args["cgroupPath"] = req.cgroup_path;
  if (!pod_cidr.empty()) args["ipRanges"] = json::array({json::array({{{"subnet", pod_cidr}}})});
  return args;
}

std::string cni_args(const PodNetworkRequest& req) {
  return fmt::format(
      "IgnoreUnknown=1;K8S_POD_NAMESPACE={};K8S_POD_NAME={};K8S_POD_INFRA_CONTAINER_ID={};K8S_POD_UID={}",
      req.pod_namespace, req.pod_name, req.container_id, req.pod_uid);
}

// The same arguments as libcni caches them: a list of [key, value] pairs.
json cni_args_pairs(const PodNetworkRequest& req) {
  json pairs = json::array();
  const std::string all = cni_args(req);
  std::string_view args = all;
  while (!args.empty()) {
    auto semi = args.find(';');
    std::string_view kv = args.substr(0, semi);
    auto eq = kv.find('=');
    pairs.push_back({std::string(kv.substr(0, eq)), std::string(eq == std::string_view::npos ? "" : kv.substr(eq + 1))});
    args = semi == std::string_view::npos ? std::string_view() : args.substr(semi + 1);
  }
  return pairs;
}

// A map of CNI error codes to ours: the well-known ones from the spec keep their
// meaning, anything plugin-specific is Unknown.
Code code_for_cni_error(int cni_code) {
  switch (cni_code) {
    case 1:  // incompatible CNI version
      return Code::kFailedPrecondition;
    case 2:  // unsupported field in network configuration
    case 4:  // invalid necessary environment variables
    case 6:  // failed to decode content
    case 7:  // invalid network config
      return Code::kInvalidArgument;
    case 3:  // container unknown or does not exist
      return Code::kNotFound;
    case 11:  // try again later
      return Code::kUnavailable;
    default:
      return Code::kUnknown;
  }
}

std::string trimmed(std::string s, size_t limit = 800) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  s.erase(0, start);
  if (s.size() > limit) s = s.substr(0, limit) + "…";
  return s;
}

// One list, resolved for a call: plugin objects, their executables, and the version.
struct Plan {
  std::string network;
  std::string version;
  std::vector<json> plugins;
  std::vector<std::string> types;
  std::vector<std::string> paths;
  bool disable_check = false;
};

// A plugin that exits before reading its stdin would raise SIGPIPE in the writer.
using core::SigpipeGuard;

class Runner {
 public:
  Runner(const NetworkOptions& options, const PodNetworkRequest& req, std::string netns)
      : options_(options), req_(req), netns_(std::move(netns)) {
    const std::string prefix = "CNI_";
    for (char** e = environ; e && *e; ++e) {
      if (std::string_view(*e).substr(0, prefix.size()) != prefix) base_env_.emplace_back(*e);
    }
    base_env_.push_back("CNI_CONTAINERID=" + req.container_id);
    base_env_.push_back("CNI_NETNS=" + netns_);
    base_env_.push_back("CNI_IFNAME=" + req.ifname);
    base_env_.push_back("CNI_ARGS=" + cni_args(req));
    base_env_.push_back(fmt::format("CNI_PATH={}", fmt::join(options.plugin_dirs, ":")));
  }

  // The configuration one plugin reads on stdin (spec: "Deriving execution configuration").
  static json plugin_config(const Plan& plan, size_t i, const json& caps, const json* prev_result) {
    json conf = plan.plugins[i];
    conf["name"] = plan.network;
    if (!plan.version.empty()) conf["cniVersion"] = plan.version;
    json runtime = json::object();
    if (auto c = conf.find("capabilities"); c != conf.end() && c->is_object()) {
      for (const auto& [cap, enabled] : c->items()) {
        if (enabled.is_boolean() && enabled.get<bool>() && caps.contains(cap)) runtime[cap] = caps[cap];
      }
    }
    if (!runtime.empty()) {
      if (!conf.contains("runtimeConfig") || !conf["runtimeConfig"].is_object()) conf["runtimeConfig"] = json::object();
      conf["runtimeConfig"].update(runtime);
    }
    if (prev_result) conf["prevResult"] = *prev_result;
    return conf;
  }

  // Runs one plugin; returns its stdout on success.
  Result<std::string> run(const Plan& plan, size_t i, const std::string& command, const json& conf) const {
    process::Options o;
    o.env = base_env_;
    o.env->push_back("CNI_COMMAND=" + command);
    o.stdin_data = conf.dump();
    o.timeout = options_.plugin_timeout;
    const auto t0 = Clock::now();
    SigpipeGuard no_sigpipe;
    auto out = process::run({plan.paths[i]}, o);
    const std::string what = fmt::format("CNI network \"{}\": plugin \"{}\" {}", plan.network, plan.types[i], command);
    if (!out.ok()) return out.status().wrap(what);
    log::debug("CNI plugin", {{"network", plan.network},
                              {"plugin", plan.types[i]},
                              {"command", command},
                              {"container", req_.container_id},
                              {"exit", out->exit_code},
                              {"ms", fmt::format("{:.1f}", ms_since(t0))}});
    if (out->timed_out) {
      return error(Code::kDeadlineExceeded, "{} did not finish within {} ms and was killed", what,
                   options_.plugin_timeout.count());
    }
    if (out->exit_code != 0) {
      json err = json::parse(out->out, nullptr, /*allow_exceptions=*/false);
      if (err.is_object() && (err.contains("msg") || err.contains("code"))) {
        int code = err.value("code", 0);
        std::string msg = err.contains("msg") && err["msg"].is_string() ? err["msg"].get<std::string>() : "";
        std::string details =
            err.contains("details") && err["details"].is_string() ? err["details"].get<std::string>() : "";
        std::string text = msg;
        if (!details.empty()) text += (text.empty() ? "" : ": ") + details;
        return error(code_for_cni_error(code), "{} failed: {} (CNI error code {})", what, trimmed(text), code);
      }
      std::string detail = trimmed(out->err.empty() ? out->out : out->err);
      return error(Code::kUnknown, "{} failed with exit code {}{}{}", what, out->exit_code, detail.empty() ? "" : ": ",
                   detail);
    }
    return std::move(out->out);
  }

  // DEL of plugins [0, upto] in reverse. Keeps going past failures so as much as
  // possible is released; returns the first error.
  Status del(const Plan& plan, size_t upto, const json& caps, const json* prev_result) const {
    const bool pass_prev = prev_result && compare_cni_versions(plan.version, "0.4.0") >= 0;
    // loopback only touches `lo` inside the netns: once the namespace is gone its DEL
    // has nothing to do, so skip the exec.
    const bool netns_gone = netns_.empty() || !namespace_alive(netns_);
    Status first;
    for (size_t n = upto + 1; n-- > 0;) {
      if (netns_gone && plan.types[n] == "loopback") continue;
      auto out = run(plan, n, "DEL", plugin_config(plan, n, caps, pass_prev ? prev_result : nullptr));
      if (!out.ok() && first.ok()) first = out.status();
    }
    return first;
  }

 private:
  const NetworkOptions& options_;
  const PodNetworkRequest& req_;
  std::string netns_;
  std::vector<std::string> base_env_;
};

Result<Plan> make_plan(const std::string& list_json, const NetworkOptions& options, const std::string& origin) {
  json list = json::parse(list_json, nullptr, /*allow_exceptions=*/false);
  if (!list.is_object() || !list.contains("plugins") || !list["plugins"].is_array()) {
    return error(Code::kInvalidArgument, "CNI configuration {} has no plugin list", origin);
  }
  Plan plan;
  plan.network = list.value("name", "");
  plan.version =
      list.contains("cniVersion") && list["cniVersion"].is_string() ? list["cniVersion"].get<std::string>() : "";
  plan.disable_check =
      list.contains("disableCheck") && list["disableCheck"].is_boolean() && list["disableCheck"].get<bool>();
  for (const auto& p : list["plugins"]) {
    if (!p.is_object() || !p.contains("type") || !p["type"].is_string()) {
      return error(Code::kInvalidArgument, "CNI network \"{}\" ({}): a plugin has no \"type\"", plan.network, origin);
    }
    std::string type = p["type"].get<std::string>();
    auto path = process::find_executable(type, options.plugin_dirs);
    if (type.find('/') != std::string::npos || !path) {
      return error(Code::kFailedPrecondition, "CNI network \"{}\": plugin \"{}\" not found in {}", plan.network, type,
                   fmt::join(options.plugin_dirs, ", "));
    }
    plan.plugins.push_back(p);
    plan.types.push_back(std::move(type));
    plan.paths.push_back(std::move(*path));
  }
  if (plan.plugins.empty()) return error(Code::kInvalidArgument, "CNI network \"{}\" has no plugins", plan.network);
  return plan;
}

struct CacheEntry {
  json config;
  json caps;
  json result;
  std::string netns;
};

Result<std::optional<CacheEntry>> read_cache(const std::string& path) {
  if (!fs::exists(path)) return std::optional<CacheEntry>();
  CRIO_ASSIGN_OR_RETURN(std::string text, fs::read_file(path));
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || doc.value("kind", "") != kCacheKind || !doc.contains("result") ||
      !doc["result"].is_object()) {
    return error(Code::kDataLoss, "CNI result cache {} is not readable", path);
  }
  CacheEntry e;
  e.config = doc.value("config", json());
  if (e.config.is_string()) {
    // libcni's form (ours too): the list's bytes, base64.
    auto bytes = base64_decode(e.config.get<std::string>());
    e.config = bytes ? json::parse(*bytes, nullptr, /*allow_exceptions=*/false) : json();
    if (e.config.is_discarded()) e.config = json();
  }
  e.caps = doc.contains("capabilityArgs") && doc["capabilityArgs"].is_object() ? doc["capabilityArgs"] : json::object();
  e.result = doc["result"];
  e.netns = doc.value("netns", "");
  return std::optional<CacheEntry>(std::move(e));
}

AttachResult to_attach_result(const std::string& network, const std::string& ifname, CniResult result) {
  AttachResult r;
  r.network_name = network;
  r.ifname = ifname;
  r.ips = pod_ips(result, ifname);
  r.result = std::move(result);
  return r;
}

}  // namespace

// Serialises calls for one attachment (network, container, ifname); different pods
// run in parallel. No lock is held while plugins run except this per-key claim.
class Network::KeyLock {
 public:
  KeyLock(Network& n, std::string key) : n_(n), key_(std::move(key)) {
    std::unique_lock lock(n_.mu_);
    n_.busy_cv_.wait(lock, [&] { return !n_.busy_.count(key_); });
    n_.busy_.insert(key_);
  }
  ~KeyLock() {
    {
      std::lock_guard lock(n_.mu_);
      n_.busy_.erase(key_);
    }
    n_.busy_cv_.notify_all();
  }
  KeyLock(const KeyLock&) = delete;
  KeyLock& operator=(const KeyLock&) = delete;

 private:
  Network& n_;
  std::string key_;
};

Network::Network(NetworkConfigList config, NetworkOptions options)
    : config_(std::move(config)), options_(std::move(options)) {}

std::string Network::cache_path(const std::string& container_id, const std::string& ifname) const {
  return fmt::format("{}/results/{}-{}-{}", options_.cache_dir, config_.name, container_id, ifname);
}

Status Network::set_pod_cidr(const std::string& cidr) {
  if (!cidr.empty()) {
    auto slash = cidr.find('/');
    bool ok = slash != std::string::npos && slash > 0 && slash + 1 < cidr.size() &&
              std::all_of(cidr.begin() + slash + 1, cidr.end(),
                          [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) &&
              std::all_of(cidr.begin(), cidr.begin() + slash,
                          [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == '.' || c == ':'; });
    if (!ok) return error(Code::kInvalidArgument, "pod CIDR \"{}\" is not an address/prefix", cidr);
  }
  std::lock_guard lock(mu_);
  pod_cidr_ = cidr;
  return ok_status();
}

std::string Network::pod_cidr() const {
  std::lock_guard lock(mu_);
  return pod_cidr_;
}

Result<AttachResult> Network::attach(const PodNetworkRequest& req) {
  CRIO_RETURN_IF_ERROR(validate_request(req, /*need_netns=*/true));
  if (!safe_name(config_.name)) {
    return error(Code::kInvalidArgument, "CNI network name \"{}\" is not valid", config_.name);
  }
  const auto t0 = Clock::now();
  KeyLock key(*this, req.container_id + "/" + req.ifname);
  const std::string path = cache_path(req.container_id, req.ifname);
  // A second ADD would fail on the existing interface, and its rollback DEL would
  // then tear down the attachment that works.
  if (fs::exists(path)) {
    return error(Code::kAlreadyExists, "pod network {}: already attached to CNI network \"{}\" as {}; detach first",
                 req.container_id, config_.name, req.ifname);
  }
  CRIO_ASSIGN_OR_RETURN(Plan plan, make_plan(config_.json, options_, config_.path));
  const json caps = capability_args(req, pod_cidr());
  Runner runner(options_, req, req.netns_path);

  if (options_.ensure_loopback && std::find(plan.types.begin(), plan.types.end(), "loopback") == plan.types.end()) {
    CRIO_RETURN_IF_ERROR(bring_up_loopback(req.netns_path).wrap(fmt::format("pod network {}", req.container_id)));
  }

  json prev;  // null until a plugin has answered
  auto fail = [&](size_t k, Status s) -> Status {
    Status undo = runner.del(plan, k, caps, prev.is_null() ? nullptr : &prev);
    if (!undo.ok()) {
      log::warn("CNI rollback after a failed ADD left an error",
                {{"network", plan.network}, {"container", req.container_id}, {"error", undo.message()}});
    }
    return s;
  };
  for (size_t i = 0; i < plan.plugins.size(); ++i) {
    auto out = runner.run(plan, i, "ADD", Runner::plugin_config(plan, i, caps, prev.is_null() ? nullptr : &prev));
    if (!out.ok()) return fail(i, out.status());
    json parsed = json::parse(*out, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_object()) {
      return fail(i, error(Code::kUnknown, "CNI network \"{}\": plugin \"{}\" ADD printed no JSON result: {}",
                           plan.network, plan.types[i], trimmed(*out, 200)));
    }
    prev = std::move(parsed);
  }
  auto result = parse_cni_result(prev.dump());
  if (!result.ok())
    return fail(plan.plugins.size() - 1, result.status().wrap(fmt::format("CNI network \"{}\"", plan.network)));

  json entry = {{"kind", kCacheKind},          {"containerId", req.container_id}, {"ifName", req.ifname},
                {"networkName", plan.network}, {"netns", req.netns_path},         {"config", base64_encode(config_.json)},
                {"cniArgs", cni_args_pairs(req)},    {"capabilityArgs", caps},          {"result", prev}};
  Status cached = fs::make_dirs(options_.cache_dir + "/results", 0700);
  if (cached.ok()) cached = fs::write_file_atomic(path, entry.dump(), 0600);
  if (!cached.ok())
    return fail(plan.plugins.size() - 1, cached.wrap(fmt::format("caching the CNI result of {}", req.container_id)));

  log::debug("CNI attach",
             {{"network", plan.network}, {"container", req.container_id}, {"ms", fmt::format("{:.1f}", ms_since(t0))}});
  return to_attach_result(plan.network, req.ifname, std::move(*result));
}

Status Network::detach(const PodNetworkRequest& req) {
  CRIO_RETURN_IF_ERROR(validate_request(req, /*need_netns=*/false));
  const auto t0 = Clock::now();
  KeyLock key(*this, req.container_id + "/" + req.ifname);
  const std::string path = cache_path(req.container_id, req.ifname);
  auto cache = read_cache(path);
  if (!cache.ok()) {
    log::warn("ignoring an unreadable CNI cache entry", {{"path", path}, {"error", cache.status().message()}});
  }
  std::string list_json = config_.json;
  std::string origin = config_.path;
  json caps = capability_args(req, pod_cidr());
  json prev;
  std::string netns = req.netns_path;
  if (cache.ok() && cache->has_value()) {
    const CacheEntry& e = **cache;
    if (e.config.is_object() && e.config.contains("plugins")) {
      list_json = e.config.dump();
      origin = path;
    }
    caps = e.caps;
    prev = e.result;
    if (netns.empty()) netns = e.netns;
  }
  if (list_json.empty()) {
    // A cache-only Network (a name, no configuration) and no cache entry: nothing
    // is known about this attachment, so there is nothing to undo.
    log::debug("CNI detach: no cached result and no configuration",
               {{"network", config_.name}, {"container", req.container_id}});
    return ok_status();
  }
  CRIO_ASSIGN_OR_RETURN(Plan plan, make_plan(list_json, options_, origin));
  Runner runner(options_, req, netns);
  CRIO_RETURN_IF_ERROR(runner.del(plan, plan.plugins.size() - 1, caps, prev.is_null() ? nullptr : &prev));
  CRIO_RETURN_IF_ERROR(fs::remove_file(path));
  log::debug("CNI detach",
             {{"network", plan.network}, {"container", req.container_id}, {"ms", fmt::format("{:.1f}", ms_since(t0))}});
  return ok_status();
}

Status Network::check(const PodNetworkRequest& req) {
  CRIO_RETURN_IF_ERROR(validate_request(req, /*need_netns=*/true));
  if (config_.disable_check || compare_cni_versions(config_.cni_version, "0.4.0") < 0) return ok_status();
  KeyLock key(*this, req.container_id + "/" + req.ifname);
  const std::string path = cache_path(req.container_id, req.ifname);
  CRIO_ASSIGN_OR_RETURN(auto cache, read_cache(path));
  if (!cache) {
    return error(Code::kFailedPrecondition, "CNI network \"{}\": no cached ADD result for {} ({}), nothing to check",
                 config_.name, req.container_id, req.ifname);
  }
  CRIO_ASSIGN_OR_RETURN(Plan plan, make_plan(config_.json, options_, config_.path));
  Runner runner(options_, req, req.netns_path);
  for (size_t i = 0; i < plan.plugins.size(); ++i) {
    auto out = runner.run(plan, i, "CHECK", Runner::plugin_config(plan, i, cache->caps, &cache->result));
    if (!out.ok()) return out.status();
  }
  return ok_status();
}

Status Network::validate() const {
  CRIO_ASSIGN_OR_RETURN(Plan plan, make_plan(config_.json, options_, config_.path));
  const std::string wanted = plan.version.empty() ? "0.1.0" : plan.version;
  PodNetworkRequest none;
  Runner runner(options_, none, "");
  for (size_t i = 0; i < plan.plugins.size(); ++i) {
    CRIO_ASSIGN_OR_RETURN(std::string out, runner.run(plan, i, "VERSION", json{{"cniVersion", wanted}}));
    json doc = json::parse(out, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object() || !doc.contains("supportedVersions") || !doc["supportedVersions"].is_array()) {
      return error(Code::kFailedPrecondition, "CNI network \"{}\": plugin \"{}\" VERSION printed no supportedVersions",
                   plan.network, plan.types[i]);
    }
    std::vector<std::string> versions;
    for (const auto& v : doc["supportedVersions"]) {
      if (v.is_string()) versions.push_back(v.get<std::string>());
    }
    if (std::find(versions.begin(), versions.end(), wanted) == versions.end()) {
      return error(Code::kFailedPrecondition,
                   "CNI network \"{}\": plugin \"{}\" does not support cniVersion {} (it supports {})", plan.network,
                   plan.types[i], wanted, fmt::join(versions, ", "));
    }
  }
  return ok_status();
}

Result<AttachResult> Network::cached_attachment(const PodNetworkRequest& req) const {
  CRIO_RETURN_IF_ERROR(validate_request(req, /*need_netns=*/false));
  const std::string path = cache_path(req.container_id, req.ifname);
  CRIO_ASSIGN_OR_RETURN(auto cache, read_cache(path));
  if (!cache) {
    return error(Code::kNotFound, "CNI network \"{}\": no cached result for {} ({})", config_.name, req.container_id,
                 req.ifname);
  }
  CRIO_ASSIGN_OR_RETURN(CniResult result, parse_cni_result(cache->result.dump()));
  return to_attach_result(config_.name, req.ifname, std::move(result));
}

}  // namespace crio::net
