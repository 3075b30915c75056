// File: src/monitor/kpi_logger.cpp
// Purpose: periodic JSON-lines KPI writer (see kpi_logger.h).
#include "monitor/kpi_logger.h"

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "core/clock.h"

namespace um::monitor {

KpiLogger::KpiLogger(Monitor& monitor, std::string path, std::chrono::milliseconds interval)
    : monitor_(monitor), path_(std::move(path)), interval_(interval) {}

KpiLogger::~KpiLogger() { stop(); }

Status KpiLogger::start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_ || thread_.joinable()) return failed_precondition("kpi log already started");
  if (interval_ < std::chrono::milliseconds(10)) {
    return invalid_argument("kpi log interval must be at least 10 ms, got " +
                            std::to_string(interval_.count()) + " ms");
  }
  if (path_.empty()) return invalid_argument("kpi log: empty file name");
  file_ = std::fopen(path_.c_str(), "w");
  if (!file_) {
    return invalid_argument("kpi log: cannot open '" + path_ + "': " + std::strerror(errno));
  }
  stop_ = false;
  thread_ = std::thread([this] { loop(); });
  return Status::Ok();
}

void KpiLogger::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  write_line();  // the figures at the end of the run
  std::lock_guard<std::mutex> lock(mu_);
  std::fclose(file_);
  file_ = nullptr;
}

bool KpiLogger::write_line() {
  const std::string line = monitor_.metrics_json(monotonic_ns());
  std::lock_guard<std::mutex> lock(mu_);
  if (!file_) return false;
  const bool ok = std::fwrite(line.data(), 1, line.size(), file_) == line.size() &&
                  std::fputc('\n', file_) != EOF && std::fflush(file_) == 0;
  if (ok) ++lines_;
  return ok;
}

uint64_t KpiLogger::lines_written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_;
}

void KpiLogger::loop() {
  auto next = std::chrono::steady_clock::now() + interval_;
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_until(lock, next, [this] { return stop_; })) {
    lock.unlock();
    if (!write_line()) spdlog::warn("kpi log: write to {} failed", path_);
    lock.lock();
    next += interval_;
    if (next < std::chrono::steady_clock::now()) next = std::chrono::steady_clock::now() + interval_;
  }
}

}  // namespace um::monitor
