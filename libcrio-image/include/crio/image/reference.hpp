#pragma once
// Image references as the Docker distribution grammar and containers/image define
// them, normalised the way CRI-O shows them to the kubelet:
//   busybox                 → docker.io/library/busybox:latest   (short name)
//   user/img                → docker.io/user/img:latest          (short name)
//   localhost:5000/x:tag    → localhost:5000/x:tag
//   host/x@sha256:<64 hex>  → host/x@sha256:<64 hex>
//   name:tag@digest         → both kept; the digest decides what is pulled

#include <crio/core/status.hpp>
#include <crio/image/export.hpp>

#include <string>
#include <string_view>

namespace crio::image {

inline constexpr std::string_view kDockerHub = "docker.io";
inline constexpr std::string_view kDefaultTag = "latest";

struct CRIO_IMAGE_EXPORT Reference {
  std::string registry;    // "docker.io", "localhost:5000", "[::1]:5000"
  std::string repository;  // path below the registry: "library/busybox"
  std::string tag;         // empty when none was given (and no default applied)
  std::string digest;      // "sha256:<hex>", empty when none
  // The text named no registry host: it may be resolved through aliases and
  // unqualified-search-registries rather than taken as docker.io.
  bool short_name = false;

  // "docker.io/library/busybox"
  std::string name() const;
  // "docker.io/library/busybox:latest", "host/x:tag@sha256:..."
  std::string string() const;
  // What a pull asks the registry for: the digest when there is one, else the tag.
  std::string manifest_ref() const { return digest.empty() ? tag : digest; }
  bool operator==(const Reference&) const = default;
};

struct ParseOptions {
  // Add ":latest" when the text has neither a tag nor a digest.
  bool default_tag = true;
  // The first component is the registry host even when it does not look like one
  // (a location rewritten from registries.conf: "mirror/library/busybox").
  bool qualified = false;
};

// Parses and normalises `text`. Errors are InvalidArgument and name the reference
// and what is wrong with it.
CRIO_IMAGE_EXPORT Result<Reference> parse_reference(std::string_view text, ParseOptions options = {});

// True when `text` names no registry host ("busybox", "user/img"): the first path
// component has no '.' or ':' and is not "localhost".
CRIO_IMAGE_EXPORT bool is_short_name(std::string_view text);

// Validates "algorithm:hex" (sha256 or sha512; lowercase hex of the right
// length). `what` names the object in the error ("reference x", "layer 2").
CRIO_IMAGE_EXPORT Status validate_digest(std::string_view digest, std::string_view what);

// A bare 64-hex image ID (or "sha256:"-prefixed one), which is not a reference.
CRIO_IMAGE_EXPORT bool looks_like_image_id(std::string_view text);

// Tag grammar [\w][\w.-]{0,127}.
CRIO_IMAGE_EXPORT bool valid_tag(std::string_view tag);

// Repository path grammar: lowercase components separated by '/', each
// alnum (separator alnum)* with separators '.', '_', '__', '-'+.
CRIO_IMAGE_EXPORT bool valid_repository_path(std::string_view path);

// A registry host: domain components or IPv4 or [IPv6], optional :port.
CRIO_IMAGE_EXPORT bool valid_registry_host(std::string_view host);

}  // namespace crio::image
