#pragma once
// Object IDs: 64 lowercase hex characters from the kernel's random source, the shape
// CRI-O gives pod and container IDs.

#include <crio/core/export.hpp>
#include <crio/core/status.hpp>

#include <string>

namespace crio::core {

// Internal when /dev/urandom cannot be read.
CRIO_CORE_EXPORT Result<std::string> random_id();

// `chars` lowercase hex characters for names that need to be unique, not
// unguessable (temp files, layer IDs): a per-thread generator seeded once.
CRIO_CORE_EXPORT std::string random_hex(size_t chars);

}  // namespace crio::core
