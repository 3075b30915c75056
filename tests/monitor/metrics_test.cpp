// File: tests/monitor/metrics_test.cpp
// Purpose: the registry and histogram contracts of metrics.h and the visibility bookkeeping of
// pipeline_metrics.h, with known inputs and injected clocks (no timing).
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "core/status.h"
#include "monitor/metrics.h"
#include "monitor/pipeline_metrics.h"

namespace um::monitor {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kS = 1'000'000'000;

TEST(Registry, SameNameAndLabelsGiveTheSameObject) {
  Registry reg;
  Counter& a = reg.counter("x_total", "help", {{"stage", "rx"}, {"reason", "stale"}});
  Counter& b = reg.counter("x_total", "help", {{"reason", "stale"}, {"stage", "rx"}});
  Counter& c = reg.counter("x_total", "help", {{"stage", "tx"}, {"reason", "stale"}});
  EXPECT_EQ(&a, &b);  // label order does not matter
  EXPECT_NE(&a, &c);
  a.inc(3);
  b.inc();
  EXPECT_EQ(a.value(), 4u);
  EXPECT_EQ(c.value(), 0u);
  EXPECT_EQ(reg.find_counter("x_total", {{"stage", "rx"}, {"reason", "stale"}}), &a);
  EXPECT_EQ(reg.find_counter("x_total", {{"stage", "none"}}), nullptr);
  EXPECT_DOUBLE_EQ(reg.sum("x_total"), 4.0);
}

TEST(Registry, RejectsBadNamesAndKindConflicts) {
  Registry reg;
  EXPECT_THROW(reg.counter("1bad", "h"), Error);
  EXPECT_THROW(reg.counter("has space", "h"), Error);
  EXPECT_THROW(reg.gauge("ok", "h", {{"bad-label", "v"}}), Error);
  EXPECT_THROW(reg.gauge("ok2", "h", {{"__reserved", "v"}}), Error);
  EXPECT_THROW(reg.gauge("ok3", "h", {{"a", "1"}, {"a", "2"}}), Error);
  EXPECT_THROW(reg.histogram("h_seconds", "h", {{"le", "1"}}), Error);
  reg.counter("dual", "h");
  try {
    reg.gauge("dual", "h");
    FAIL() << "re-registering a counter as a gauge must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(is_valid_metric_name("um_a:b_1"));
  EXPECT_FALSE(is_valid_label_name("a:b"));
}

TEST(Gauge, SetAndAdd) {
  Registry reg;
  Gauge& g = reg.gauge("depth", "h");
  g.set(2);
  g.add(-0.5);
  EXPECT_DOUBLE_EQ(g.value(), 1.5);
}

TEST(LatencyHistogram, WindowPercentilesAreExactNearestRank) {
  LatencyHistogram h;
  const int64_t now = 100 * kS;
  for (int i = 100; i >= 1; --i) h.record_ns(i * kMs, now);  // 1..100 ms, unsorted order
  const WindowStats w = h.window(now, 10 * kS);
  EXPECT_EQ(w.count, 100u);
  EXPECT_FALSE(w.saturated);
  EXPECT_EQ(w.p50_ns, 50 * kMs);
  EXPECT_EQ(w.p95_ns, 95 * kMs);
  EXPECT_EQ(w.p99_ns, 99 * kMs);
  EXPECT_EQ(w.max_ns, 100 * kMs);
  EXPECT_EQ(w.min_ns, 1 * kMs);
  EXPECT_DOUBLE_EQ(w.mean_ns, 50.5 * kMs);
}

TEST(LatencyHistogram, WindowExcludesOldAndFutureSamples) {
  LatencyHistogram h;
  h.record_ns(500 * kMs, 1 * kS);   // too old for a 5 s window ending at 10 s
  h.record_ns(7 * kMs, 6 * kS);
  h.record_ns(9 * kMs, 10 * kS);
  h.record_ns(1 * kMs, 11 * kS);    // after "now"
  const WindowStats w = h.window(10 * kS, 5 * kS);
  EXPECT_EQ(w.count, 2u);
  EXPECT_EQ(w.max_ns, 9 * kMs);
  EXPECT_EQ(w.p50_ns, 7 * kMs);
  EXPECT_EQ(h.window(100 * kS, 5 * kS).count, 0u);
  // Totals keep everything since start.
  const HistogramTotals t = h.totals();
  EXPECT_EQ(t.count, 4u);
  EXPECT_EQ(t.sum_ns, 517 * kMs);
  EXPECT_EQ(t.max_ns, 500 * kMs);
}

TEST(LatencyHistogram, RingKeepsTheNewestSamplesAndSaysWhenSaturated) {
  LatencyHistogram h;
  const size_t n = LatencyHistogram::kRecentSamples + 100;
  for (size_t i = 0; i < n; ++i) {
    h.record_ns(static_cast<int64_t>(i + 1) * 1000, 50 * kS + static_cast<int64_t>(i));
  }
  const WindowStats w = h.window(60 * kS, 20 * kS);
  EXPECT_EQ(w.count, LatencyHistogram::kRecentSamples);
  EXPECT_TRUE(w.saturated);
  EXPECT_EQ(w.min_ns, 101 * 1000);  // the 100 oldest were overwritten
  EXPECT_EQ(w.max_ns, static_cast<int64_t>(n) * 1000);
  EXPECT_EQ(h.totals().count, n);
}

TEST(LatencyHistogram, BucketsFollowPrometheusLessOrEqual) {
  LatencyHistogram h;
  h.record_ns(4 * kMs, 1);      // exactly on the 4 ms bound -> that bucket
  h.record_ns(4 * kMs + 1, 1);  // just above -> the 5 ms bucket
  h.record_ns(-5, 1);           // clock misuse clamps to 0 -> first bucket
  h.record_ns(10 * kS, 1);      // beyond the last bound -> +Inf
  const HistogramTotals t = h.totals();
  ASSERT_EQ(t.bucket_counts.size(), kLatencyBucketBoundsNs.size() + 1);
  auto bucket_of = [](int64_t bound) {
    for (size_t i = 0; i < kLatencyBucketBoundsNs.size(); ++i) {
      if (kLatencyBucketBoundsNs[i] == bound) return i;
    }
    return kLatencyBucketBoundsNs.size();
  };
  EXPECT_EQ(t.bucket_counts[bucket_of(4 * kMs)], 1u);
  EXPECT_EQ(t.bucket_counts[bucket_of(5 * kMs)], 1u);
  EXPECT_EQ(t.bucket_counts[0], 1u);
  EXPECT_EQ(t.bucket_counts.back(), 1u);
  EXPECT_EQ(t.count, 4u);
  EXPECT_EQ(t.sum_ns, 4 * kMs + 4 * kMs + 1 + 10 * kS);
}

TEST(LatencyHistogram, BucketQuantileIsTheBucketUpperBound) {
  LatencyHistogram h;
  for (int i = 0; i < 90; ++i) h.record_ns(3500 * 1000, 1);  // 3.5 ms -> le 4 ms bucket
  for (int i = 0; i < 10; ++i) h.record_ns(45 * kMs, 1);     // -> le 50 ms bucket
  const HistogramTotals t = h.totals();
  EXPECT_EQ(t.bucket_quantile_ns(0.5), 4 * kMs);
  EXPECT_EQ(t.bucket_quantile_ns(0.9), 4 * kMs);
  EXPECT_EQ(t.bucket_quantile_ns(0.95), 45 * kMs);  // bound 50 ms capped by the true max
  EXPECT_EQ(HistogramTotals{}.bucket_quantile_ns(0.5), 0);
}

TEST(LatencyHistogram, ConcurrentRecordingLosesNothing) {
  LatencyHistogram h;
  Counter c;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        h.record_ns((t + 1) * kMs, 1 + i);
        c.inc();
      }
    });
  }
  for (auto& th : threads) th.join();
  const HistogramTotals tot = h.totals();
  EXPECT_EQ(tot.count, 80000u);
  EXPECT_EQ(tot.sum_ns, 20000 * (1 + 2 + 3 + 4) * kMs);
  EXPECT_EQ(tot.max_ns, 4 * kMs);
  EXPECT_EQ(c.value(), 80000u);
}

TEST(Registry, CallbacksThatReturnNothingAreOmitted) {
  Registry reg;
  bool available = false;
  reg.callback("gpu_util", "h", MetricType::kGauge, {{"gpu", "0"}},
               [&]() -> std::optional<double> {
                 if (!available) return std::nullopt;
                 return 42.0;
               });
  auto fams = reg.collect(0, 0);
  ASSERT_EQ(fams.size(), 1u);
  EXPECT_TRUE(fams[0].series.empty());
  available = true;
  fams = reg.collect(0, 0);
  ASSERT_EQ(fams[0].series.size(), 1u);
  EXPECT_DOUBLE_EQ(fams[0].series[0].value, 42.0);
  EXPECT_THROW(reg.callback("h", "h", MetricType::kHistogram, {}, [] { return 1.0; }), Error);
}

TEST(PipelineMetrics, VisibilityTimeAndTimeline) {
  Registry reg;
  PipelineMetrics pm(reg);
  const int64_t t0 = 1'000 * kS;  // later than construction: "unknown" gets the gap
  pm.set_visibility(VisibilityState::kVisible, t0);
  pm.set_visibility(VisibilityState::kVisible, t0 + 1 * kS);  // unchanged: no transition
  pm.set_visibility(VisibilityState::kRelocalizing, t0 + 3 * kS);
  pm.set_visibility(VisibilityState::kLost, t0 + 3500 * kMs);
  pm.set_visibility(VisibilityState::kVisible, t0 + 4 * kS);
  const int64_t now = t0 + 10 * kS;
  EXPECT_DOUBLE_EQ(pm.seconds_in_state(VisibilityState::kVisible, now), 3.0 + 6.0);
  EXPECT_DOUBLE_EQ(pm.seconds_in_state(VisibilityState::kRelocalizing, now), 0.5);
  EXPECT_DOUBLE_EQ(pm.seconds_in_state(VisibilityState::kLost, now), 0.5);
  EXPECT_EQ(pm.visibility(), VisibilityState::kVisible);
  EXPECT_EQ(reg.find_counter("um_visibility_transitions_total")->value(), 4u);
  EXPECT_DOUBLE_EQ(reg.find_gauge("um_visibility_state")->value(), 1.0);
  const auto tl = pm.timeline();
  ASSERT_EQ(tl.size(), 4u);
  EXPECT_EQ(tl[1].state, VisibilityState::kRelocalizing);
  EXPECT_EQ(tl[1].at_ns, t0 + 3 * kS);
}

TEST(PipelineMetrics, TimelineKeepsTheNewestEntries) {
  Registry reg;
  PipelineMetrics pm(reg);
  const size_t n = PipelineMetrics::kTimelineCapacity + 5;
  for (size_t i = 0; i < n; ++i) {
    pm.set_visibility(i % 2 ? VisibilityState::kLost : VisibilityState::kVisible,
                      2000 * kS + static_cast<int64_t>(i) * kMs);
  }
  const auto tl = pm.timeline();
  ASSERT_EQ(tl.size(), PipelineMetrics::kTimelineCapacity);
  EXPECT_EQ(tl.front().at_ns, 2000 * kS + 5 * kMs);
  EXPECT_EQ(tl.back().at_ns, 2000 * kS + static_cast<int64_t>(n - 1) * kMs);
}

TEST(PipelineMetrics, FramesHandlesAndDetach) {
  Registry reg;
  {
    PipelineMetrics pm(reg);
    pm.frame_received(5 * kS);
    pm.frame_received(6 * kS);
    pm.frame_sent(6 * kS, 30 * kMs);
    EXPECT_EQ(pm.last_rx_ns(), 6 * kS);
    Counter* stale = &pm.drops("rx", "stale");  // registers it
    EXPECT_EQ(stale, reg.find_counter("um_drops_total", {{"stage", "rx"}, {"reason", "stale"}}));
    EXPECT_EQ(&pm.stage_latency("dfine"), &pm.stage_latency("dfine"));
    pm.set_connected("plus", false);
    EXPECT_DOUBLE_EQ(reg.find_gauge("um_connected", {{"stream", "plus"}})->value(), 0.0);
    EXPECT_EQ(reg.find_counter("um_frames_received_total")->value(), 2u);
    EXPECT_EQ(pm.rx_to_tx().totals().sum_ns, 30 * kMs);
  }
  // The registry outlives the PipelineMetrics: its callbacks are detached, not dangling.
  for (const auto& f : reg.collect(7 * kS, kS)) {
    if (f.name == "um_visibility_seconds_total" || f.name == "um_last_frame_age_seconds") {
      EXPECT_TRUE(f.series.empty()) << f.name;
    }
  }
}

}  // namespace
}  // namespace um::monitor
