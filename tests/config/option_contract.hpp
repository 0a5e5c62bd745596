#pragma once
// The contract of every crio.conf option (DESIGN.md: "nothing is accepted and then
// ignored"): each option either has a behaviour test, named here and present in the
// tests' sources, or a refusal, a non-default value that load_config must reject with an
// error naming the option. Two more states exist for work in flight; the contract test
// fails on them unless CRIO_OPTION_CONTRACT_STRICT=0 (for a branch, never for CI):
//   kPending:  implemented on another branch; at merge the line becomes a kTest one.
//   kUntested: read by the daemon, but no test checks what it does yet.

#include <string_view>
#include <vector>

namespace crio::test {

struct OptionContract {
  enum Kind { kTest, kRefused, kPending, kUntested };
  std::string_view option;  // dotted, "crio.runtime.runtimes.*.runtime_type" for handler fields
  Kind kind;
  // kTest: the TEST_CASE name. kRefused: the value (TOML) that must be refused.
  // kPending/kUntested: a note.
  std::string_view detail;
};

const std::vector<OptionContract>& option_contracts();

}  // namespace crio::test
