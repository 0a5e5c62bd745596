#pragma once
// CNI network configuration files: `.conflist` lists and single-plugin `.conf` /
// `.json` files in a directory, loaded in name order as the CNI spec's libcni does.

#include <crio/core/status.hpp>
#include <crio/net/export.hpp>

#include <string>
#include <vector>

namespace crio::net {

struct NetworkConfigList {
  std::string name;
  std::string cni_version;
  std::string path;                       // the file it came from
  std::vector<std::string> plugin_types;  // in ADD order
  bool disable_check = false;
  std::string json;  // the list, normalised to conflist form
};

struct LoadedNetworks {
  std::vector<NetworkConfigList> networks;  // valid ones, in file name order
  std::vector<std::string> errors;          // "PATH: reason" for every file skipped
};

// Reads every .conflist/.conf/.json file in `dir`. A missing directory yields nothing.
CRIO_NET_EXPORT LoadedNetworks load_network_configs(const std::string& dir);

// Parses one file's content; `path` names it in errors and decides the format.
CRIO_NET_EXPORT Result<NetworkConfigList> parse_network_config(const std::string& path, const std::string& content);

// The network pods join: `wanted` by name when set, else the first valid one whose
// plugins all exist in `plugin_dirs`. FailedPrecondition explains why none is usable.
CRIO_NET_EXPORT Result<NetworkConfigList> default_network(const std::string& dir, const std::string& wanted,
                                                          const std::vector<std::string>& plugin_dirs);

}  // namespace crio::net
