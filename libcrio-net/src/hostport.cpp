#include <crio/core/digest.hpp>
#include <crio/core/log.hpp>
#include <crio/core/process.hpp>
#include <crio/net/hostport.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <set>
#include <sstream>

namespace crio::net {
namespace {

constexpr std::string_view kHostportsChain = "KUBE-HOSTPORTS";
constexpr std::string_view kMasqChain = "CRIO-HOSTPORTS-MASQ";
constexpr std::string_view kHostportPrefix = "KUBE-HP-";
constexpr std::string_view kMasqPrefix = "CRIO-MASQ-";

// The jumps into the two shared chains, as iptables-save prints them back (the form
// to compare with what is there).
std::string portals_jump(std::string_view chain) {
  return fmt::format(
      "-A {} -m comment --comment \"kube hostport portals\" -m addrtype --dst-type LOCAL -j {}", chain,
      kHostportsChain);
}
std::string masquerade_jump() {
  return fmt::format("-A POSTROUTING -m comment --comment \"kube hostport masquerading\" -m conntrack --ctstate DNAT -j {}",
                     kMasqChain);
}

bool is_ipv6(const std::string& ip) { return ip.find(':') != std::string::npos; }

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string base32(const std::vector<uint8_t>& data) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (uint8_t byte : data) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += kAlphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (5 - bits)) & 31];
  return out;
}

// A rule comment may not hold a quote, and iptables caps it at 256 bytes.
std::string comment_for(const std::string& pod_name, int host_port) {
  std::string text = fmt::format("{}_ hostport {}", pod_name, host_port);
  std::erase_if(text, [](char c) { return c == '"' || c == '\\' || c == '\n'; });
  if (text.size() > 255) text.resize(255);
  return "\"" + text + "\"";
}

std::vector<PortMapping> mappings_of_family(const std::vector<PortMapping>& mappings, bool ipv6) {
  std::vector<PortMapping> out;
  for (const auto& m : mappings) {
    if (m.host_port <= 0) continue;
    if (!m.host_ip.empty() && is_ipv6(m.host_ip) != ipv6) continue;
    out.push_back(m);
  }
  return out;
}

bool unspecified(const std::string& host_ip) { return host_ip.empty() || host_ip == "0.0.0.0" || host_ip == "::"; }

struct NatTable {
  std::set<std::string> chains;
  std::vector<std::string> rules;  // "-A CHAIN ..." lines, as saved
};

NatTable parse_save(const std::string& text) {
  NatTable table;
  std::istringstream in(text);
  std::string line;
  bool in_nat = false;
  while (std::getline(in, line)) {
    if (line.starts_with("*")) {
      in_nat = line == "*nat";
      continue;
    }
    if (!in_nat) continue;
    if (line.starts_with(":")) {
      table.chains.insert(line.substr(1, line.find(' ') - 1));
    } else if (line.starts_with("-A ")) {
      table.rules.push_back(line);
    }
  }
  return table;
}

}  // namespace

struct HostportManager::Family {
  bool ipv6 = false;
  std::string tool;  // iptables or ip6tables
  std::string name() const { return ipv6 ? "IPv6" : "IPv4"; }
};

HostportManager::HostportManager(HostportOptions options) : options_(std::move(options)) {}

HostportManager::~HostportManager() {
  std::lock_guard lock(mu_);
  for (const auto& [key, held] : open_ports_) ::close(held.fd);
}

std::string HostportManager::chain_name(const std::string& prefix, const std::string& id, const PortMapping& m) {
  std::string digest = core::sha256_of(id + std::to_string(m.host_port) + upper(m.protocol) + m.host_ip);
  std::string hex = digest.substr(digest.find(':') + 1);
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) bytes.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return prefix + base32(bytes).substr(0, 16);
}

namespace {

Result<NatTable> save_nat(const std::string& tool) {
  process::Options options;
  options.timeout = std::chrono::seconds(30);
  auto out = process::run({tool + "-save", "-t", "nat"}, options);
  if (!out.ok()) return out.status().wrap("running " + tool + "-save");
  if (out->exit_code != 0) {
    return error(Code::kInternal, "{}-save -t nat exited with {}: {}", tool, out->exit_code, out->err);
  }
  return parse_save(out->out);
}

Status restore_nat(const std::string& tool, const std::string& batch) {
  log::debug("applying host port rules", {{"tool", tool + "-restore"}, {"rules", batch}});
  process::Options options;
  options.stdin_data = batch;
  options.timeout = std::chrono::seconds(30);
  auto out = process::run({tool + "-restore", "--noflush", "-w"}, options);
  if (!out.ok()) return out.status().wrap("running " + tool + "-restore");
  if (out->exit_code != 0) {
    return error(Code::kInternal, "{}-restore exited with {}: {}", tool, out->exit_code, out->err);
  }
  return ok_status();
}

// "-D ..." lines for every jump from `from` into one of `targets`.
void delete_jumps(const NatTable& table, std::string_view from, const std::set<std::string>& targets,
                  std::string& batch) {
  const std::string head = fmt::format("-A {} ", from);
  for (const auto& rule : table.rules) {
    if (!rule.starts_with(head)) continue;
    auto j = rule.rfind(" -j ");
    if (j == std::string::npos || !targets.contains(rule.substr(j + 4))) continue;
    batch += "-D" + rule.substr(2) + "\n";
  }
}

}  // namespace

Status HostportManager::open_port(const PortKey& key, const std::string& owner) {
  const auto& [ipv6, host_ip, port, protocol] = key;
  if (auto it = open_ports_.find(key); it != open_ports_.end()) {
    if (it->second.owner == owner) return ok_status();
    return error(Code::kFailedPrecondition, "host port {}/{} is already mapped for pod {}", port, protocol,
                 it->second.owner);
  }
  int type = protocol == "udp" ? SOCK_DGRAM : SOCK_STREAM;
  int fd = ::socket(ipv6 ? AF_INET6 : AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return error(Code::kInternal, "host port {}/{}: socket: {}", port, protocol, std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc;
  if (ipv6) {
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(static_cast<uint16_t>(port));
    addr.sin6_addr = in6addr_any;
    if (!unspecified(host_ip) && ::inet_pton(AF_INET6, host_ip.c_str(), &addr.sin6_addr) != 1) {
      ::close(fd);
      return error(Code::kInvalidArgument, "host port {}: host IP \"{}\" is not an address", port, host_ip);
    }
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } else {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    if (!unspecified(host_ip) && ::inet_pton(AF_INET, host_ip.c_str(), &addr.sin_addr) != 1) {
      ::close(fd);
      return error(Code::kInvalidArgument, "host port {}: host IP \"{}\" is not an address", port, host_ip);
    }
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  }
  if (rc == 0 && type == SOCK_STREAM) rc = ::listen(fd, 1);
  if (rc != 0) {
    int err = errno;
    ::close(fd);
    return error(err == EADDRINUSE ? Code::kFailedPrecondition : Code::kInternal, "cannot open host port {}:{}/{}: {}",
                 unspecified(host_ip) ? (ipv6 ? "[::]" : "0.0.0.0") : host_ip, port, protocol, std::strerror(err));
  }
  open_ports_[key] = HeldPort{fd, owner};
  return ok_status();
}

void HostportManager::close_port(const PortKey& key, const std::string& owner) {
  auto it = open_ports_.find(key);
  if (it == open_ports_.end() || it->second.owner != owner) return;
  ::close(it->second.fd);
  open_ports_.erase(it);
}

Status HostportManager::add(const std::string& id, const std::string& pod_name,
                            const std::vector<PortMapping>& mappings, const std::string& pod_ip) {
  if (pod_ip.empty()) return error(Code::kInvalidArgument, "host ports of pod {}: no pod IP", pod_name);
  Family family{is_ipv6(pod_ip), is_ipv6(pod_ip) ? options_.ip6tables : options_.iptables};
  return add_family(family, id, pod_name, mappings, pod_ip);
}

Status HostportManager::add_family(const Family& family, const std::string& id, const std::string& pod_name,
                                   const std::vector<PortMapping>& all, const std::string& pod_ip) {
  const std::vector<PortMapping> mappings = mappings_of_family(all, family.ipv6);
  if (mappings.empty()) return ok_status();
  std::lock_guard lock(mu_);

  // Held first: a port some other process uses fails the pod before any rule exists.
  std::vector<PortKey> opened;
  for (const auto& m : mappings) {
    if (m.protocol == "sctp") continue;  // as CRI-O (and the SCTP KEP): not held
    PortKey key{family.ipv6, m.host_ip, m.host_port, m.protocol};
    auto held = open_ports_.find(key);
    if (held != open_ports_.end() && held->second.owner == id) continue;  // from an earlier add() of this pod
    if (Status s = open_port(key, id); !s.ok()) {
      for (const auto& k : opened) close_port(k, id);
      return s.wrap(fmt::format("host ports of pod {}", pod_name));
    }
    opened.push_back(key);
  }

  Status applied;
  // One retry: another process may change the nat table between save and restore.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto table = save_nat(family.tool);
    if (!table.ok()) {
      applied = table.status();
      break;
    }
    // Chain declarations first: in a --noflush restore one creates the chain, or
    // empties it when an earlier add() of this pod left it.
    std::string declarations, commands, rules;
    if (!table->chains.contains(std::string(kHostportsChain))) commands += fmt::format("-N {}\n", kHostportsChain);
    if (!table->chains.contains(std::string(kMasqChain))) commands += fmt::format("-N {}\n", kMasqChain);
    auto have = [&](const std::string& rule) {
      return std::find(table->rules.begin(), table->rules.end(), rule) != table->rules.end();
    };
    for (std::string_view chain : {"OUTPUT", "PREROUTING"}) {
      if (!have(portals_jump(chain))) commands += portals_jump(chain) + "\n";
    }
    if (!have(masquerade_jump())) commands += masquerade_jump() + "\n";

    std::set<std::string> hp_chains, masq_chains;
    const std::string bound = family.ipv6 ? fmt::format("[{}]", pod_ip) : pod_ip;
    for (const auto& m : mappings) {
      const std::string hp = chain_name(std::string(kHostportPrefix), id, m);
      const std::string masq = chain_name(std::string(kMasqPrefix), id, m);
      hp_chains.insert(hp);
      masq_chains.insert(masq);
      const std::string comment = comment_for(pod_name, m.host_port);
      const std::string& p = m.protocol;
      declarations += fmt::format(":{} - [0:0]\n:{} - [0:0]\n", hp, masq);
      rules += fmt::format("-I {} -m comment --comment {} -m {} -p {} --dport {} -j {}\n", kHostportsChain, comment, p,
                           p, m.host_port, hp);
      rules += fmt::format("-I {} -m comment --comment {} -j {}\n", kMasqChain, comment, masq);
      rules += fmt::format("-A {} -m comment --comment {} -m {} -p {}{} -j DNAT --to-destination {}:{}\n", hp, comment,
                           p, p, unspecified(m.host_ip) ? "" : " -d " + m.host_ip, bound, m.container_port);
      // A pod reaching its own host port comes back to itself with its own source
      // address; it must be masqueraded to get the answer.
      rules += fmt::format(
          "-A {} -m comment --comment {} -m conntrack --ctorigdstport {} -m {} -p {} --dport {} -s {} -d {} -j "
          "MASQUERADE\n",
          masq, comment, m.host_port, p, p, m.container_port, pod_ip, pod_ip);
    }
    // Jumps an earlier add() of this pod left go; the new ones come first in the chain.
    delete_jumps(*table, kHostportsChain, hp_chains, commands);
    delete_jumps(*table, kMasqChain, masq_chains, commands);
    const std::string batch = "*nat\n" + declarations + commands + rules + "COMMIT\n";
    applied = restore_nat(family.tool, batch);
    if (applied.ok()) break;
  }
  if (!applied.ok()) {
    for (const auto& k : opened) close_port(k, id);
    return applied.wrap(fmt::format("{} host port rules of pod {}", family.name(), pod_name));
  }
  log::info("host ports mapped", {{"pod", pod_name}, {"ip", pod_ip}, {"count", mappings.size()}});
  return ok_status();
}

Status HostportManager::remove(const std::string& id, const std::vector<PortMapping>& mappings) {
  Status v4 = remove_family(Family{false, options_.iptables}, id, mappings);
  Status v6 = remove_family(Family{true, options_.ip6tables}, id, mappings);
  return v4.ok() ? v6 : v4;
}

Status HostportManager::remove_family(const Family& family, const std::string& id,
                                      const std::vector<PortMapping>& all) {
  const std::vector<PortMapping> mappings = mappings_of_family(all, family.ipv6);
  if (mappings.empty()) return ok_status();
  std::lock_guard lock(mu_);
  Status removed;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto table = save_nat(family.tool);
    if (!table.ok()) {
      removed = table.status();
      break;
    }
    std::set<std::string> hp_chains, masq_chains;
    std::string drops;
    for (const auto& m : mappings) {
      for (auto [prefix, set] : {std::pair{kHostportPrefix, &hp_chains}, std::pair{kMasqPrefix, &masq_chains}}) {
        const std::string chain = chain_name(std::string(prefix), id, m);
        if (!table->chains.contains(chain)) continue;
        set->insert(chain);
        drops += fmt::format(":{} - [0:0]\n", chain);
      }
    }
    std::string batch = "*nat\n" + drops;
    delete_jumps(*table, kHostportsChain, hp_chains, batch);
    delete_jumps(*table, kMasqChain, masq_chains, batch);
    if (batch == "*nat\n") break;  // nothing of this pod's is there
    for (const auto& c : hp_chains) batch += fmt::format("-X {}\n", c);
    for (const auto& c : masq_chains) batch += fmt::format("-X {}\n", c);
    batch += "COMMIT\n";
    removed = restore_nat(family.tool, batch);
    if (removed.ok()) break;
  }
  for (const auto& m : mappings) close_port(PortKey{family.ipv6, m.host_ip, m.host_port, m.protocol}, id);
  return removed.wrap(fmt::format("removing the {} host port rules of pod {}", family.name(), id));
}

}  // namespace crio::net
