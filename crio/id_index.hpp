#pragma once
// What the pod and container tables share: finding an entry by its full ID or a
// unique prefix of it (as crictl and the kubelet's tools allow), and label selectors.

#include <crio/core/status.hpp>

#include <map>
#include <string>
#include <string_view>

namespace crio::daemon {

// The full ID in `by_id` that `id_or_prefix` names. InvalidArgument when it is empty
// or names several; NotFound when it names none. `kind` ("pod sandbox",
// "container") goes into the messages. The caller holds the table's lock.
template <typename Map>
Result<std::string> resolve_id_prefix(const Map& by_id, const std::string& id_or_prefix, std::string_view kind) {
  if (id_or_prefix.empty()) return error(Code::kInvalidArgument, "no {} ID given", kind);
  if (by_id.count(id_or_prefix)) return id_or_prefix;
  std::string match;
  for (auto it = by_id.lower_bound(id_or_prefix); it != by_id.end() && it->first.starts_with(id_or_prefix); ++it) {
    if (!match.empty()) return error(Code::kInvalidArgument, "{} ID prefix {} is ambiguous", kind, id_or_prefix);
    match = it->first;
  }
  if (match.empty()) return error(Code::kNotFound, "{} {} not found", kind, id_or_prefix);
  return match;
}

// True when every key of `selector` is in `labels` with the same value.
inline bool labels_match(const std::map<std::string, std::string>& labels,
                         const std::map<std::string, std::string>& selector) {
  for (const auto& [key, value] : selector) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

}  // namespace crio::daemon
