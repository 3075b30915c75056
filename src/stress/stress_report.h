// File: src/stress/stress_report.h
// Purpose: turns stress runs into figures and a verdict: per-stream latency percentiles and
// rates, drops by class, the gateway's memory trend, and the text / JSON / CSV reports.
//
// Percentiles: nearest rank on every labelmap of the measured window (no sampling).
// Memory trend (RSS, and GPU memory where NVML reports it) over the measured window's samples:
//   start = first sample after the warm-up, end = last sample, max;
//   growth % = (mean of the LAST window - mean of the FIRST window) / mean of the first * 100,
//   window = min(60 s, measured span / 4): a steady-state figure that one allocation spike or
//   one sample's noise does not decide;
//   floor growth % = the same with each window's MINIMUM: the memory kept between frames (CPU
//   inference allocates and frees ~100-200 MiB per frame, so single RSS samples swing that much).
// Verdict (the exit code of `ultramotion stress`): FAIL when the gateway did not start, died,
// exited non-zero after SIGINT, counted a non-policy drop (malformed drops are expected with
// --faults only), sent a malformed message, a stream got no labelmap in the measured window, a
// fault was not recovered from, or memory grew more than --max-growth-pct by BOTH the mean and
// the floor figure (a leak raises both; the per-frame swings of CPU inference move one at most).
//
// Usage:
//   RunSummary s = summarize(run, options);
//   std::cout << format_run(run, s) << format_side_by_side({s1, s2});
//   report_json(options, runs, summaries).dump(2);  series_csv(runs);
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "stress/stress_run.h"

namespace um::stress {

struct LatencySummary {
  size_t count = 0;
  double mean_ms = 0, p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
};
LatencySummary summarize_latencies(std::vector<int64_t> latencies_ns);

struct MemoryTrend {
  bool available = false;
  std::string reason;  // why not available
  double start = 0, end = 0, max = 0;  // bytes
  double first_mean = 0, last_mean = 0, window_s = 0, growth_pct = 0;
  double first_floor = 0, last_floor = 0, floor_growth_pct = 0;
  size_t points = 0;
};
// Trend of one figure over the samples with t in [from_t, to_t].
MemoryTrend memory_trend(const std::vector<MetricsSample>& series, double from_t, double to_t,
                         std::optional<double> MetricsSample::*field);

struct StreamSummary {
  std::string name;
  uint64_t frames_sent = 0;
  uint64_t labelmaps = 0;
  double labelmaps_per_s = 0;
  double sent_per_s = 0;
  LatencySummary latency;
};

struct RunSummary {
  int n_streams = 0;
  double measured_s = 0;
  double total_fps = 0;  // labelmaps per second, all streams
  double sent_fps = 0;   // frames per second the simulators sent, all streams
  std::vector<StreamSummary> streams;
  std::map<std::string, uint64_t> drops;  // since the gateway started, from the last poll
  uint64_t drops_policy = 0, drops_malformed = 0, drops_other = 0;
  MemoryTrend rss, gpu;
  std::optional<double> cpu_mean_percent;
  size_t faults_injected = 0, faults_recovered = 0;
  bool pass = true;
  std::vector<std::string> failures;
};

RunSummary summarize(const RunResult& run, const StressOptions& options);

std::string format_run(const RunResult& run, const RunSummary& s, const StressOptions& options);
// Several stream counts side by side (the single-stream column from the same invocation).
std::string format_side_by_side(const std::vector<RunSummary>& summaries);

nlohmann::json report_json(const StressOptions& options, const std::vector<RunResult>& runs,
                           const std::vector<RunSummary>& summaries);
// One row per dashboard poll of every run: streams,t_s,phase,alive,... (header first).
std::string series_csv(const std::vector<RunResult>& runs);

}  // namespace um::stress
