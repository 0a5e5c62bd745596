#pragma once
// Shared by policy.cpp, signature*.cpp and lookaside.cpp; not part of the API.

#include <crio/core/status.hpp>
#include <crio/image/reference.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace crio::image::trust {

// Parses JSON refusing a member that appears twice in one object (nlohmann keeps
// the last one silently, which would let a signature or policy say two things).
// Errors carry `code` and read "<what>: <reason>".
Result<nlohmann::json> parse_json_no_duplicates(std::string_view text, std::string_view what, Code code);

// The docker identity of an image as policy.json sees it: name@digest when there
// is a digest, else name:tag, else the bare name.
std::string policy_identity(const Reference& ref);

// A docker scope as policy.json and registries.d accept it. Wildcards must be
// "*.<domain>"; `strict` also refuses scopes that are not a fully expanded
// host[:port][/path][:tag|@digest] (for remapIdentity prefixes, which must also
// carry no tag or digest).
Status validate_docker_scope(std::string_view scope, bool strict_prefix);

// A scope that can match something: host alone, or a normalised reference.
bool docker_scope_is_canonical(std::string_view scope);

}  // namespace crio::image::trust
