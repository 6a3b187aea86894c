// Status and Result<T>: how every provledger module reports operating errors.
//
// Errors that come from input, disk or peers are values, never exceptions and
// never assertions. A Status is a code plus a human-readable message; Result<T>
// holds either a T or a non-OK Status. Both are cheap to move and carry no
// hidden state, so they are safe to use from any thread.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace prov {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // the caller's input is malformed or out of bounds
  kNotFound,           // the thing asked for does not exist
  kAlreadyExists,      // a duplicate of something already present
  kPermissionDenied,   // authenticated, but not allowed
  kUnauthenticated,    // a signature or key did not check out
  kVerificationFailed, // a proof, root or quorum did not verify
  kCorruption,         // stored or received data is internally inconsistent
  kIOError,            // the operating system or storage engine failed
  kResourceExhausted,  // a bound was hit (size, count, memory)
  kUnavailable,        // try again later (busy, not reachable)
  kInternal,           // a bug: an invariant did not hold
};

// Returns a stable lower-case name for `code`, e.g. "invalid_argument".
const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }
  static Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status already_exists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status permission_denied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
  static Status unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
  static Status verification_failed(std::string m) { return {StatusCode::kVerificationFailed, std::move(m)}; }
  static Status corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status io_error(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status resource_exhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
  static Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "code: message", or "ok".
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a value or an error. Accessing value() of an error is a programming
// error and asserts.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).is_ok()); }  // NOLINT

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }

  const T& value() const& { assert(is_ok()); return std::get<T>(v_); }
  T& value() & { assert(is_ok()); return std::get<T>(v_); }
  T&& value() && { assert(is_ok()); return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  // The error; Status::ok() when this holds a value.
  Status status() const { return is_ok() ? Status::ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace prov

// Propagates a non-OK Status (or Result's status) to the caller.
#define PROV_RETURN_IF_ERROR(expr)                 \
  do {                                             \
    ::prov::Status prov_status_ = (expr);          \
    if (!prov_status_.is_ok()) return prov_status_; \
  } while (0)

#define PROV_CONCAT_INNER(a, b) a##b
#define PROV_CONCAT(a, b) PROV_CONCAT_INNER(a, b)
// Assigns the value of a Result to `lhs`, or returns its error.
#define PROV_ASSIGN_OR_RETURN(lhs, expr) PROV_ASSIGN_OR_RETURN_IMPL(PROV_CONCAT(prov_result_, __LINE__), lhs, expr)
#define PROV_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.is_ok()) return tmp.status();           \
  lhs = std::move(tmp).value()
