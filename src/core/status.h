// File: src/core/status.h
// Purpose: a [[nodiscard]] Status and Result<T> for API boundaries (C++20 has no std::expected).
// Codes are a subset of Abseil's StatusCode set; choose as SPEC/STYLE say:
//   kInvalidArgument (config/CLI), kOutOfRange (frame outside 128..2048), kDataLoss (bad CRC,
//   short body, truncated file), kNotFound (checkpoint key), kFailedPrecondition (op unsupported),
//   kUnavailable (peer gone), kResourceExhausted (out of memory at plan time).
// Usage:
//   Result<Tensor> r = load(...);            UM_ASSIGN_OR_RETURN(auto t, load(...));
//   if (!r.ok()) return r.status();          UM_RETURN_IF_ERROR(check(...));
// Code that cannot return a Status (model forward, ops) throws um::Error, which carries one.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace um {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,
  kOutOfRange,
  kDataLoss,
  kNotFound,
  kFailedPrecondition,
  kUnavailable,
  kResourceExhausted,
  kUnimplemented,
  kInternal,
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "NOT_FOUND: missing key 'x'"
  std::string to_string() const;
  // Prefixes context to the message ("loading foo.pth: ..."); OK stays OK.
  Status with_context(const std::string& context) const;
  void ignore_error() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status out_of_range(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status data_loss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status failed_precondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status resource_exhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// The exception form of a Status, for code paths that cannot return one (model forward passes,
// ops called with inconsistent shapes). Thread loops catch it and count it; main reports it.
class Error : public std::runtime_error {
 public:
  explicit Error(Status status) : std::runtime_error(status.to_string()), status_(std::move(status)) {}
  Error(StatusCode code, const std::string& message) : Error(Status(code, message)) {}
  const Status& status() const { return status_; }

 private:
  Status status_;
};

// Throws um::Error if !status.ok(): the bridge from Status-returning APIs into throwing code.
inline void throw_if_error(const Status& status) {
  if (!status.ok()) throw Error(status);
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design, like StatusOr
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    if (std::get<Status>(v_).ok()) v_ = Status(StatusCode::kInternal, "Result built from OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  // Reading an unchecked error is a bug: value() throws um::Error carrying the status.
  T& value() & {
    if (!ok()) throw Error(std::get<Status>(v_));
    return std::get<T>(v_);
  }
  const T& value() const& {
    if (!ok()) throw Error(std::get<Status>(v_));
    return std::get<T>(v_);
  }
  T&& value() && {
    if (!ok()) throw Error(std::get<Status>(v_));
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace um

#define UM_STATUS_CONCAT_INNER(a, b) a##b
#define UM_STATUS_CONCAT(a, b) UM_STATUS_CONCAT_INNER(a, b)

// Returns the error of `expr` (a Status) from the enclosing function.
#define UM_RETURN_IF_ERROR(expr)                      \
  do {                                                \
    ::um::Status um_status_tmp_ = (expr);             \
    if (!um_status_tmp_.ok()) return um_status_tmp_;  \
  } while (0)

// Like UM_RETURN_IF_ERROR, adding context to the message.
#define UM_RETURN_IF_ERROR_CTX(expr, context)                                  \
  do {                                                                         \
    ::um::Status um_status_tmp_ = (expr);                                      \
    if (!um_status_tmp_.ok()) return um_status_tmp_.with_context(context);     \
  } while (0)

// UM_ASSIGN_OR_RETURN(auto x, make_x()); declares/assigns lhs or returns the error.
#define UM_ASSIGN_OR_RETURN(lhs, expr) \
  UM_ASSIGN_OR_RETURN_IMPL(UM_STATUS_CONCAT(um_result_, __LINE__), lhs, expr)
#define UM_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
