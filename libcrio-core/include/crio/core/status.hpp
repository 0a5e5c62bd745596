#pragma once
// One error type for every library: the codes are gRPC's canonical codes, so the
// daemon can hand them to the kubelet unchanged, and the message names the object
// and the reason ("pod sandbox abc: name is reserved by def").

#include <crio/core/export.hpp>

#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace crio {

enum class Code : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

CRIO_CORE_EXPORT std::string_view code_name(Code code);

class [[nodiscard]] CRIO_CORE_EXPORT Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "NotFound: image busybox: not in the store"
  std::string to_string() const;

  // Prefixes the message with context while keeping the code:
  // Status(kNotFound, "no such file").wrap("reading crio.conf") → "reading crio.conf: no such file".
  Status wrap(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status ok_status() { return {}; }

template <typename... Args>
Status error(Code code, fmt::format_string<Args...> format, Args&&... args) {
  return Status(code, fmt::format(format, std::forward<Args>(args)...));
}

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Status status) : v_(std::move(status)) {}

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace crio

#define CRIO_CONCAT_INNER(a, b) a##b
#define CRIO_CONCAT(a, b) CRIO_CONCAT_INNER(a, b)

// Returns early with the status when it is not OK.
#define CRIO_RETURN_IF_ERROR(expr)            \
  do {                                        \
    ::crio::Status crio_status__ = (expr);    \
    if (!crio_status__.ok()) return crio_status__; \
  } while (0)

// Declares `lhs` from a Result, returning early with its status on error.
#define CRIO_ASSIGN_OR_RETURN(lhs, expr) \
  CRIO_ASSIGN_OR_RETURN_IMPL(CRIO_CONCAT(crio_result__, __LINE__), lhs, expr)
#define CRIO_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
