// File: src/stress/gateway_metrics.h
// Purpose: what `ultramotion stress` reads from the gateway's dashboard every second
// (GET /api/v1/metrics, monitor_json.cpp): process RSS and CPU, GPU memory (NVML, summed over
// the devices it reports; "unavailable" stays unavailable), frames received/sent and drops by
// stage/reason. Drops are classified here:
//   policy    the buffering policy of SPEC §1 doing its job: latest-frame-wins (superseded,
//             evicted_oldest, a PLUS burst's burst_superseded) and stale frames;
//   malformed rx/malformed_<reason>: bad bytes from PLUS, expected only while faults are injected;
//   other     everything else (processing errors, encode errors, a Slicer queue overflowing):
//             a soak must have none.
//
// Usage:
//   MetricsClient client(dashboard_port);
//   Result<MetricsSample> s = client.fetch();     // kUnavailable when the dashboard is down
//   DropClass c = classify_drop("rx_slot", "superseded");   // kPolicy
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"

namespace um::stress {

enum class DropClass { kPolicy, kMalformed, kOther };
DropClass classify_drop(const std::string& stage, const std::string& reason);
const char* drop_class_name(DropClass c);  // "policy" | "malformed" | "other"

struct MetricsSample {
  double t_s = 0.0;                    // seconds since the run's time zero (set by the caller)
  bool gateway_alive = true;           // set by the caller (the child process check)
  bool dashboard_ok = false;           // the GET answered with parseable JSON
  std::optional<double> rss_bytes;     // gateway process
  std::optional<double> cpu_percent;   // gateway process, over the monitor's sample period
  std::optional<double> gpu_used_bytes;  // NVML, all devices the monitor reports
  std::string gpu_reason;              // why GPU figures are unavailable ("" when available)
  uint64_t frames_received = 0;
  uint64_t frames_sent = 0;
  double fps_out = 0.0;
  std::map<std::string, uint64_t> drops;  // "stage/reason" -> count since the gateway started
  std::string health;                     // "ok" | "degraded"
  uint64_t labelmaps = 0;                 // stress side: received by all receivers (caller)

  uint64_t drops_of(DropClass c) const;
};

// Parses the /api/v1/metrics JSON (fields it does not know are ignored; missing figures stay
// unset). kInvalidArgument when the text is not a JSON object.
Result<MetricsSample> parse_metrics_json(const std::string& text);

// A small HTTP client of one dashboard (cpp-httplib, 2 s timeouts).
class MetricsClient {
 public:
  explicit MetricsClient(int port);
  ~MetricsClient();
  Result<MetricsSample> fetch();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace um::stress
