// File: src/monitor/metrics.h
// Purpose: the metrics registry. Named metrics with labels (Prometheus data model), cheap enough
// to record from the per-frame hot path: recording is a handful of relaxed atomic operations,
// no lock, no allocation, no string work.
//
// Usage (look handles up ONCE at set-up; keep the references, they stay valid as long as the
// Registry lives; registering the same name+labels again returns the same object):
//   um::monitor::Registry reg;
//   auto& frames = reg.counter("um_frames_received_total", "Frames received", {});
//   auto& dfine  = reg.histogram("um_stage_latency_seconds", "Per-stage latency",
//                                {{"stage", "dfine"}});
//   auto& depth  = reg.gauge("um_queue_depth", "Queue depth", {{"queue", "rx"}});
//   // hot path:
//   frames.inc();  dfine.record_ns(t1 - t0);  depth.set(2);
//
// Metric kinds:
//   Counter   monotonically increasing uint64 (fetch_add).
//   Gauge     a double that is set or adjusted (std::atomic<double>).
//   LatencyHistogram  durations in ns. Two views of the same samples:
//     - fixed buckets (cumulative since start): exported to Prometheus as _bucket{le}/_sum/_count.
//       Bucket-derived percentiles are only as precise as the bucket width (see
//       kLatencyBucketBoundsNs: relative steps of 20-33% between 1 ms and 1 s).
//     - a bounded ring of the last kRecentSamples (1024) samples with their record time: the
//       windowed statistics (p50/p95/p99/max/mean over the last `window_ns`) are EXACT
//       nearest-rank percentiles over those samples. If more than 1024 samples fall inside the
//       window, only the newest 1024 are used (WindowStats::saturated tells). A reader racing a
//       writer may see one slot's value paired with the previous record time: at most one sample
//       is windowed wrongly; never a value that was not recorded.
//   Callback  a counter or gauge whose value is computed when collected (process CPU time, RSS,
//     NVML figures, time spent in a visibility state). The callback runs on the collecting thread.
//
// Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* (Prometheus);
// a bad name, or re-using a name with another kind, is a programming error: throws um::Error
// (kInvalidArgument) at registration, never on the hot path.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace um::monitor {

// Label pairs in the order given; the registry sorts them by key to identify a series.
using Labels = std::vector<std::pair<std::string, std::string>>;

enum class MetricType { kCounter, kGauge, kHistogram };
const char* metric_type_name(MetricType type);  // "counter" | "gauge" | "histogram"

class Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double d) { value_.fetch_add(d, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Upper bounds (ns) of the latency buckets; an implicit +Inf bucket follows. Chosen to resolve
// the interesting range of a 25-60 fps pipeline (0.1 ms .. 1 s) in 20-33% steps.
inline constexpr std::array<int64_t, 34> kLatencyBucketBoundsNs = {
    50'000,      100'000,     250'000,     500'000,     750'000,     1'000'000,
    1'250'000,   1'500'000,   2'000'000,   2'500'000,   3'000'000,   4'000'000,
    5'000'000,   6'000'000,   7'500'000,   10'000'000,  12'500'000,  15'000'000,
    20'000'000,  25'000'000,  30'000'000,  40'000'000,  50'000'000,  60'000'000,
    75'000'000,  100'000'000, 125'000'000, 150'000'000, 200'000'000, 300'000'000,
    500'000'000, 1'000'000'000, 2'000'000'000, 5'000'000'000};

// Statistics over the recent samples of one histogram (all durations in ns).
struct WindowStats {
  uint64_t count = 0;  // samples inside the window (<= kRecentSamples)
  bool saturated = false;  // the ring held only part of the window
  int64_t p50_ns = 0, p95_ns = 0, p99_ns = 0, max_ns = 0, min_ns = 0;
  double mean_ns = 0.0;
};

// Cumulative state of one histogram since start.
struct HistogramTotals {
  std::vector<uint64_t> bucket_counts;  // per bucket, NOT cumulative; size = bounds + 1 (+Inf)
  uint64_t count = 0;                   // == sum of bucket_counts (read together, consistent)
  int64_t sum_ns = 0;
  int64_t max_ns = 0;  // largest sample since start (0 when empty)
  // Percentile from the buckets: the upper bound of the bucket holding rank q*count (the
  // largest sample for the +Inf bucket). Precision: one bucket width. 0 when empty.
  int64_t bucket_quantile_ns(double q) const;
};

class LatencyHistogram {
 public:
  static constexpr size_t kRecentSamples = 1024;  // power of two (ring index masking)

  // Records one duration. Negative durations (clock misuse) are clamped to 0.
  void record_ns(int64_t duration_ns, int64_t now_ns);
  void record_ns(int64_t duration_ns);  // reads um::monotonic_ns() for the record time
  // For GPU stages timed with cudaEventElapsedTime (milliseconds, float).
  void record_ms(double duration_ms) { record_ns(static_cast<int64_t>(duration_ms * 1e6)); }

  HistogramTotals totals() const;
  // Exact nearest-rank statistics over samples recorded in (now_ns - window_ns, now_ns].
  WindowStats window(int64_t now_ns, int64_t window_ns) const;

  // Several histograms as one (e.g. the RX->TX latency of all streams of a gateway): exact
  // nearest-rank statistics over the union of their windowed samples (saturated if any ring
  // was), and the sum of their totals.
  static WindowStats merged_window(const std::vector<const LatencyHistogram*>& histograms,
                                   int64_t now_ns, int64_t window_ns);
  static HistogramTotals merged_totals(const std::vector<const LatencyHistogram*>& histograms);

 private:
  // Appends the values recorded in the window to *values; returns whether the ring saturated.
  bool collect_window(int64_t now_ns, int64_t window_ns, std::vector<int64_t>* values) const;
  static WindowStats stats_of(std::vector<int64_t>& values, bool saturated);

  struct Slot {
    std::atomic<int64_t> value_ns{0};
    std::atomic<int64_t> at_ns{0};  // record time; 0 = never written
  };
  std::array<std::atomic<uint64_t>, kLatencyBucketBoundsNs.size() + 1> buckets_{};
  std::atomic<int64_t> sum_ns_{0};
  std::atomic<int64_t> max_ns_{0};
  std::atomic<uint64_t> head_{0};
  std::array<Slot, kRecentSamples> ring_{};
};

// What Registry::collect() returns: a consistent-enough copy for exposition (JSON, Prometheus,
// KPI log). Values are read one metric at a time without a global lock.
struct SeriesSnapshot {
  Labels labels;  // sorted by key
  double value = 0.0;                     // counter / gauge
  std::optional<HistogramTotals> totals;  // histogram
  std::optional<WindowStats> window;      // histogram
};
struct FamilySnapshot {
  std::string name;
  std::string help;
  MetricType type = MetricType::kCounter;
  std::vector<SeriesSnapshot> series;  // in registration order
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Get-or-create. Thread-safe (a mutex; call at set-up, not per frame).
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  LatencyHistogram& histogram(const std::string& name, const std::string& help,
                              const Labels& labels = {});
  // A counter or gauge computed at collection time. Returning std::nullopt omits the series
  // from that collection (e.g. "GPU unavailable": never a made-up figure). Re-registering the
  // same name+labels replaces the callback.
  void callback(const std::string& name, const std::string& help, MetricType type,
                const Labels& labels, std::function<std::optional<double>()> fn);

  // window_ns: the span of the histograms' windowed statistics. `only` non-empty: just that
  // family (health checks, sums) -- the rest is skipped, including histogram sorting.
  std::vector<FamilySnapshot> collect(int64_t now_ns, int64_t window_ns,
                                      const std::string& only = {}) const;
  // Sum of all series of a counter or gauge family (0 when absent).
  double sum(const std::string& name) const;

  // Convenience readers (tests, health checks); nullptr/nullopt when absent.
  const Counter* find_counter(const std::string& name, const Labels& labels = {}) const;
  const Gauge* find_gauge(const std::string& name, const Labels& labels = {}) const;
  const LatencyHistogram* find_histogram(const std::string& name, const Labels& labels = {}) const;

 private:
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<LatencyHistogram> histogram;
    std::function<std::optional<double>()> fn;
  };
  struct Family {
    std::string name, help;
    MetricType type;
    bool is_callback = false;
    std::vector<std::unique_ptr<Series>> series;
    std::map<Labels, Series*> by_labels;
  };
  Series& get_or_create(const std::string& name, const std::string& help, MetricType type,
                        bool is_callback, const Labels& labels);
  const Series* find(const std::string& name, const Labels& labels) const;

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;  // registration order (stable exposition)
  std::map<std::string, Family*> by_name_;
};

// Validators used at registration (exposed for tests).
bool is_valid_metric_name(const std::string& name);
bool is_valid_label_name(const std::string& name);

}  // namespace um::monitor
