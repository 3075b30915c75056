// File: bench/bench_monitor.cpp
// Purpose: what monitoring costs. The headline is BM_RecordFrameMetrics: everything the gateway
// records for one frame (fps in/out counters, 6 stage latencies, 4 inter-stage latencies,
// RX->TX, 2 queue depths, an unchanged visibility state, a drop counter), with the timestamps
// handed in as the gateway has them. The renderers run off the hot path (HTTP threads).
//   build/bench/bench_monitor --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <thread>

#include "core/clock.h"
#include "monitor/monitor.h"

namespace um::monitor {
namespace {

constexpr int64_t kMs = 1'000'000;

struct FrameHandles {
  explicit FrameHandles(PipelineMetrics& pm)
      : pm(pm),
        pre(pm.stage_latency("preprocess")),
        det(pm.stage_latency("dfine")),
        enc(pm.stage_latency("sam_encoder")),
        dec(pm.stage_latency("sam_decoder")),
        wts(pm.stage_latency("weights")),
        rb(pm.stage_latency("readback")),
        h1(pm.hop_latency("rx", "preprocess")),
        h2(pm.hop_latency("preprocess", "inference")),
        h3(pm.hop_latency("inference", "readback")),
        h4(pm.hop_latency("readback", "tx")),
        q_rx(pm.queue_depth("rx")),
        q_tx(pm.queue_depth("tx")),
        stale(pm.drops("rx", "stale")) {}

  // One frame's worth of recording; `t` is the frame's RX time, `i` varies the values.
  void record(int64_t t, int64_t i) {
    pm.frame_received(t);
    q_rx.set(static_cast<double>(i & 1));
    pre.record_ns(1 * kMs + i % 997, t + 1 * kMs);
    det.record_ns(6 * kMs + i % 991, t + 7 * kMs);
    enc.record_ns(8 * kMs + i % 983, t + 15 * kMs);
    dec.record_ns(2 * kMs + i % 977, t + 17 * kMs);
    wts.record_ns(300'000 + i % 971, t + 18 * kMs);
    rb.record_ns(200'000 + i % 967, t + 18 * kMs);
    h1.record_ns(100'000 + i % 953, t + 1 * kMs);
    h2.record_ns(50'000 + i % 947, t + 7 * kMs);
    h3.record_ns(60'000 + i % 941, t + 18 * kMs);
    h4.record_ns(70'000 + i % 937, t + 19 * kMs);
    q_tx.set(static_cast<double>(i & 3));
    pm.set_visibility(VisibilityState::kVisible, t + 19 * kMs);
    if ((i & 15) == 0) stale.inc();
    pm.frame_sent(t + 19 * kMs, 19 * kMs + i % 929);
  }

  PipelineMetrics& pm;
  LatencyHistogram &pre, &det, &enc, &dec, &wts, &rb, &h1, &h2, &h3, &h4;
  Gauge &q_rx, &q_tx;
  Counter& stale;
};

MonitorOptions bench_options() {
  MonitorOptions o;
  o.start_sampler = false;
  o.probe_gpu = false;
  return o;
}

// One Monitor for every run and thread: with Threads(2), two pipelines record into the same
// series (worst-case contention on the same cache lines).
Monitor& shared_monitor() {
  static Monitor monitor(bench_options());
  return monitor;
}

void BM_RecordFrameMetrics(benchmark::State& state) {
  FrameHandles f(shared_monitor().pipeline());
  int64_t t = monotonic_ns();
  int64_t i = 0;
  for (auto _ : state) {
    f.record(t, i++);
    t += 40 * kMs;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordFrameMetrics)->Threads(1)->UseRealTime();
BENCHMARK(BM_RecordFrameMetrics)->Threads(2)->UseRealTime();

void BM_HistogramRecord(benchmark::State& state) {
  LatencyHistogram h;
  int64_t i = 0;
  for (auto _ : state) {
    h.record_ns(5 * kMs + (i % 1000) * 1000, i);
    ++i;
  }
}
BENCHMARK(BM_HistogramRecord);

void BM_HistogramRecordReadingClock(benchmark::State& state) {
  LatencyHistogram h;
  int64_t i = 0;
  for (auto _ : state) h.record_ns(5 * kMs + (i++ % 1000) * 1000);  // + monotonic_ns()
}
BENCHMARK(BM_HistogramRecordReadingClock);

void BM_CounterInc(benchmark::State& state) {
  Counter c;
  for (auto _ : state) c.inc();
  benchmark::DoNotOptimize(c.value());
}
BENCHMARK(BM_CounterInc);

// Off the hot path: what one scrape / one SSE event costs with a realistic registry.
void BM_RenderPrometheus(benchmark::State& state) {
  Monitor m(bench_options());
  FrameHandles f(m.pipeline());
  const int64_t t0 = monotonic_ns();
  for (int i = 0; i < 2000; ++i) f.record(t0 + i * 40 * kMs, i);
  for (auto _ : state) benchmark::DoNotOptimize(m.prometheus_text(t0));
}
BENCHMARK(BM_RenderPrometheus)->Unit(benchmark::kMicrosecond);

void BM_RenderMetricsJson(benchmark::State& state) {
  Monitor m(bench_options());
  FrameHandles f(m.pipeline());
  const int64_t t0 = monotonic_ns();
  for (int i = 0; i < 2000; ++i) f.record(t0 + i * 40 * kMs, i);
  m.sample(t0 + 2000 * 40 * kMs);
  for (auto _ : state) benchmark::DoNotOptimize(m.metrics_json(t0 + 2000 * 40 * kMs));
}
BENCHMARK(BM_RenderMetricsJson)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace um::monitor

BENCHMARK_MAIN();
