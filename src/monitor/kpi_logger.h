// File: src/monitor/kpi_logger.h
// Purpose: `--kpi-log FILE`: appends the monitor's figures (the same JSON as /api/v1/metrics,
// one object per line) to a file at a fixed interval, plus a last line when stopped, so a run
// leaves a machine-readable KPI record.
// Usage:
//   KpiLogger kpi(monitor, "run.jsonl", std::chrono::seconds(1));
//   UM_RETURN_IF_ERROR(kpi.start());   // kInvalidArgument if the file cannot be opened
//   ...                                 // lines appear every interval
//   kpi.stop();                         // writes a final line; also done by the destructor
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include "core/status.h"
#include "monitor/monitor.h"

namespace um::monitor {

class KpiLogger {
 public:
  KpiLogger(Monitor& monitor, std::string path,
            std::chrono::milliseconds interval = std::chrono::milliseconds(1000));
  ~KpiLogger();
  KpiLogger(const KpiLogger&) = delete;
  KpiLogger& operator=(const KpiLogger&) = delete;

  // Opens (truncates) the file and starts the writer thread. An interval below 10 ms is
  // rejected (kInvalidArgument), as is a second start() (kFailedPrecondition).
  Status start();
  void stop();
  // Writes one line now (also used by the thread). Returns false on a write error.
  bool write_line();
  uint64_t lines_written() const;

 private:
  void loop();

  Monitor& monitor_;
  std::string path_;
  std::chrono::milliseconds interval_;
  std::FILE* file_ = nullptr;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t lines_ = 0;
  std::thread thread_;
};

}  // namespace um::monitor
