#include <crio/net/cni_types.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <limits>

namespace crio::net {
namespace {

using nlohmann::json;
using u128 = unsigned __int128;

constexpr std::string_view kIngressAnnotation = "kubernetes.io/ingress-bandwidth";
constexpr std::string_view kEgressAnnotation = "kubernetes.io/egress-bandwidth";
// The kubelet's accepted range for the bandwidth annotations.
constexpr uint64_t kMinBandwidth = 1000;                 // 1k
constexpr uint64_t kMaxBandwidth = 1000000000000000ULL;  // 1P
// The kubelet passes no burst; the bandwidth plugin needs one, and this means "no cap".
constexpr uint64_t kUnlimitedBurst = std::numeric_limits<int32_t>::max();

Status bad_quantity(std::string_view text, std::string_view why) {
  return error(Code::kInvalidArgument, "quantity \"{}\": {}", text, why);
}

bool pow_checked(u128 base, int exp, u128& out) {
  out = 1;
  for (int i = 0; i < exp; ++i) {
    if (out > (~u128{0}) / base) return false;
    out *= base;
  }
  return true;
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> strings(const json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

std::vector<CniRoute> routes_of(const json& j) {
  std::vector<CniRoute> out;
  auto it = j.find("routes");
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& r : *it) {
    if (r.is_object()) out.push_back({str(r, "dst"), str(r, "gw")});
  }
  return out;
}

bool is_loopback(const std::string& ip) { return ip.rfind("127.", 0) == 0 || ip == "::1"; }

// One version component; a number too large for an int counts as the largest one
// (a plugin's result may claim any version).
int part(std::string_view v, size_t& pos) {
  constexpr int kMax = std::numeric_limits<int>::max();
  int n = 0;
  while (pos < v.size() && std::isdigit(static_cast<unsigned char>(v[pos]))) {
    int digit = v[pos++] - '0';
    n = n > (kMax - digit) / 10 ? kMax : n * 10 + digit;
  }
  if (pos < v.size() && v[pos] == '.') ++pos;
  return n;
}

}  // namespace

Result<uint64_t> parse_quantity(std::string_view text) {
  size_t i = 0;
  if (i < text.size() && (text[i] == '+')) ++i;
  if (i < text.size() && text[i] == '-') return bad_quantity(text, "must not be negative");
  std::string digits;
  int frac = 0;
  bool seen_point = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digits.push_back(c);
      if (seen_point) ++frac;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (digits.empty()) return bad_quantity(text, "no number");
  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size() - 1));
  if (digits.size() > 30) return bad_quantity(text, "too many digits");

  std::string_view suffix = text.substr(i);
  int dec_exp = 0;  // value = digits * 1024^bin_exp * 10^dec_exp / 10^frac
  int bin_exp = 0;
  static const std::pair<std::string_view, int> kBinary[] = {{"Ki", 1}, {"Mi", 2}, {"Gi", 3},
                                                             {"Ti", 4}, {"Pi", 5}, {"Ei", 6}};
  static const std::pair<std::string_view, int> kDecimal[] = {{"n", -9}, {"u", -6}, {"m", -3}, {"", 0},   {"k", 3},
                                                              {"M", 6},  {"G", 9},  {"T", 12}, {"P", 15}, {"E", 18}};
  bool matched = false;
  for (const auto& [s, e] : kBinary) {
    if (suffix == s) {
      bin_exp = e;
      matched = true;
    }
  }
  for (const auto& [s, e] : kDecimal) {
    if (suffix == s) {
      dec_exp = e;
      matched = true;
    }
  }
  if (!matched && suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    size_t j = 1;
    bool neg = false;
    if (suffix[j] == '+' || suffix[j] == '-') neg = suffix[j++] == '-';
    if (j < suffix.size() && suffix.size() - j <= 3 && std::all_of(suffix.begin() + j, suffix.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c));
        })) {
      dec_exp = std::stoi(std::string(suffix.substr(j)));
      if (neg) dec_exp = -dec_exp;
      matched = true;
    }
  }
  if (!matched) return bad_quantity(text, fmt::format("unknown suffix \"{}\"", suffix));

  u128 num = 0;
  for (char c : digits) num = num * 10 + static_cast<unsigned>(c - '0');
  u128 scale = 1;
  if (!pow_checked(1024, bin_exp, scale)) return bad_quantity(text, "too large");
  u128 p10 = 1;
  if (dec_exp > 0 && !pow_checked(10, dec_exp, p10)) return bad_quantity(text, "too large");
  if (num != 0 && scale * p10 > (~u128{0}) / num) return bad_quantity(text, "too large");
  num = num * scale * p10;
  u128 den = 1;
  int den_exp = frac + (dec_exp < 0 ? -dec_exp : 0);
  if (!pow_checked(10, den_exp, den)) return uint64_t{num == 0 ? 0u : 1u};  // tiny: rounds up
  u128 value = num / den + (num % den != 0 ? 1 : 0);                        // Kubernetes rounds up to an integer
  if (value > std::numeric_limits<uint64_t>::max()) return bad_quantity(text, "too large");
  return static_cast<uint64_t>(value);
}

Result<std::optional<BandwidthLimits>> bandwidth_from_annotations(
    const std::map<std::string, std::string>& annotations) {
  BandwidthLimits limits;
  bool any = false;
  for (auto [key, rate, burst] : {std::tuple{kIngressAnnotation, &limits.ingress_rate, &limits.ingress_burst},
                                  std::tuple{kEgressAnnotation, &limits.egress_rate, &limits.egress_burst}}) {
    auto it = annotations.find(std::string(key));
    if (it == annotations.end()) continue;
    auto q = parse_quantity(it->second);
    if (!q.ok()) return q.status().wrap(fmt::format("annotation {}", key));
    if (*q < kMinBandwidth)
      return error(Code::kInvalidArgument, "annotation {}: {} is below 1k bits/s", key, it->second);
    if (*q > kMaxBandwidth)
      return error(Code::kInvalidArgument, "annotation {}: {} is above 1P bits/s", key, it->second);
    *rate = *q;
    *burst = kUnlimitedBurst;
    any = true;
  }
  if (!any) return std::optional<BandwidthLimits>();
  return std::optional<BandwidthLimits>(limits);
}

int compare_cni_versions(std::string_view a, std::string_view b) {
  if (a.empty()) a = "0.1.0";
  if (b.empty()) b = "0.1.0";
  size_t pa = 0, pb = 0;
  for (int k = 0; k < 3; ++k) {
    int x = part(a, pa), y = part(b, pb);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

Result<CniResult> parse_cni_result(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return error(Code::kInternal, "CNI result is not a JSON object: {}", text.substr(0, 200));
  }
  CniResult r;
  r.cni_version = str(doc, "cniVersion");
  r.json = std::string(text);

  if (compare_cni_versions(r.cni_version, "0.3.0") < 0) {
    // 0.1.0 / 0.2.0: one optional object per family, no interface list.
    for (const char* family : {"ip4", "ip6"}) {
      auto it = doc.find(family);
      if (it == doc.end() || !it->is_object()) continue;
      CniIp ip;
      ip.address = str(*it, "ip");
      ip.gateway = str(*it, "gateway");
      ip.ipv6 = family[2] == '6';
      if (ip.address.empty()) return error(Code::kInternal, "CNI result: \"{}\" has no \"ip\"", family);
      r.ips.push_back(std::move(ip));
      auto routes = routes_of(*it);
      r.routes.insert(r.routes.end(), routes.begin(), routes.end());
    }
  } else {
    if (auto it = doc.find("interfaces"); it != doc.end() && it->is_array()) {
      for (const auto& i : *it) {
        if (i.is_object()) r.interfaces.push_back({str(i, "name"), str(i, "mac"), str(i, "sandbox")});
      }
    }
    if (auto it = doc.find("ips"); it != doc.end() && it->is_array()) {
      for (const auto& i : *it) {
        if (!i.is_object()) continue;
        CniIp ip;
        ip.address = str(i, "address");
        if (ip.address.empty()) return error(Code::kInternal, "CNI result: an \"ips\" entry has no \"address\"");
        ip.gateway = str(i, "gateway");
        if (auto idx = i.find("interface"); idx != i.end() && idx->is_number_integer()) ip.interface = idx->get<int>();
        // 0.3.x/0.4.0 also say "version": "4"|"6"; the address itself is authoritative.
        ip.ipv6 = ip.address.find(':') != std::string::npos;
        r.ips.push_back(std::move(ip));
      }
    }
    r.routes = routes_of(doc);
  }
  if (auto it = doc.find("dns"); it != doc.end() && it->is_object()) {
    r.dns.nameservers = strings(*it, "nameservers");
    r.dns.domain = str(*it, "domain");
    r.dns.search = strings(*it, "search");
    r.dns.options = strings(*it, "options");
  }
  return r;
}

std::vector<std::string> pod_ips(const CniResult& result, const std::string& ifname) {
  std::vector<std::string> primary, rest;
  for (const auto& ip : result.ips) {
    std::string addr = ip.ip();
    if (addr.empty() || is_loopback(addr)) continue;
    bool on_pod_if = ip.interface >= 0 && static_cast<size_t>(ip.interface) < result.interfaces.size() &&
                     result.interfaces[ip.interface].name == ifname && !result.interfaces[ip.interface].sandbox.empty();
    auto& into = on_pod_if ? primary : rest;
    if (std::find(primary.begin(), primary.end(), addr) == primary.end() &&
        std::find(rest.begin(), rest.end(), addr) == rest.end()) {
      into.push_back(std::move(addr));
    }
  }
  primary.insert(primary.end(), rest.begin(), rest.end());
  return primary;
}

}  // namespace crio::net
