// File: src/gateway/stage_errors.h
// Purpose: what each gateway thread does with an exception (STYLE.md "thread boundaries"): its
// loop catches std::exception, this logs it with the stage name, bumps the stage's error counter
// and keeps the FIRST exception so main can rethrow it after shutdown. Nothing crosses threads
// as an exception.
// Usage (in a thread loop):
//   try { ...one iteration... } catch (const std::exception& e) { errors.record("tx", e); }
//   ...; if (auto first = errors.first()) std::rethrow_exception(first);   // main
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <exception>
#include <mutex>
#include <string>

#include "monitor/metrics.h"

namespace um::gateway {

class StageErrors {
 public:
  explicit StageErrors(monitor::Registry& registry) : registry_(registry) {}

  // Call from a catch block (std::current_exception() is the one being handled).
  void record(const char* stage, const std::exception& e) {
    spdlog::error("[{}] stage error: {}", stage, e.what());
    registry_.counter("um_stage_errors_total", "Exceptions caught in gateway thread loops",
                      {{"stage", stage}})
        .inc();
    count_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(mu_);
    if (!first_) {
      first_ = std::current_exception();
      first_stage_ = stage;
      first_what_ = e.what();
    }
  }

  std::exception_ptr first() const {
    std::lock_guard<std::mutex> lock(mu_);
    return first_;
  }
  // "process: <what>" of the first error, "" if none.
  std::string first_description() const {
    std::lock_guard<std::mutex> lock(mu_);
    return first_ ? first_stage_ + ": " + first_what_ : "";
  }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  monitor::Registry& registry_;
  std::atomic<uint64_t> count_{0};
  mutable std::mutex mu_;
  std::exception_ptr first_;  // guarded by mu_
  std::string first_stage_;   // guarded by mu_
  std::string first_what_;    // guarded by mu_
};

}  // namespace um::gateway
