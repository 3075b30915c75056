// File: src/monitor/prometheus.h
// Purpose: render collected metric families in the Prometheus text exposition format (0.0.4).
// Usage: std::string text = render_prometheus(registry.collect(now_ns, 0));
// Served at /metrics with Content-Type "text/plain; version=0.0.4; charset=utf-8".
#pragma once

#include <string>
#include <vector>

#include "monitor/metrics.h"

namespace um::monitor {

inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string render_prometheus(const std::vector<FamilySnapshot>& families);

}  // namespace um::monitor
