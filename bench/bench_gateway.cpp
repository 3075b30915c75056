// File: bench/bench_gateway.cpp
// Purpose: the gateway's own cost on loopback: RX->TX latency minus inference time (issue 6
// target: <= 1 ms p99 at 25 fps), at 25 fps and at the maximum rate the simulator can push.
//
// OVERHEAD MEASUREMENT ONLY: the FrameProcessor here is a measured no-op (it returns an empty
// detection with a zero mask of the frame's size and its own measured duration), so what is
// left is exactly what the gateway adds: PLUS parsing and conversion, the RX slot, the age
// check, the outbox, labelmap + metadata encoding and the hand-over to the Slicer server.
// The models' own latency is measured by bench_dfine / bench_mobilesam / bench_pipeline.
//
// Per run (one benchmark iteration): an in-process PlusSimulator (558x422 phantom, 50 frames
// pre-rendered and cycled, bursts off)
// -> Gateway -> one reading OpenIGTLink client. Reported counters, in microseconds:
//   overhead_p50_us / overhead_p99_us   um_gateway_overhead_seconds: (handed to the Slicer
//                                       server) - (RX receipt) - (processor time), exact
//                                       nearest-rank over the run's frames
//   wire_p50_us / wire_p99_us           the same but ending when the client has the whole
//                                       BoneMask (adds the socket write and read), from the
//                                       ReceiveTime/InferenceMs metadata and the client's clock
//   frames_sent, drops                  frames that made it / frames dropped by policy
//   fps_in, fps_out                     frames received / sent per second while streaming
// Run: build-*/bench/bench_gateway --benchmark_repetitions=3 (median of repetitions).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "gateway/gateway.h"
#include "gateway/plus_simulator.h"
#include "igtl/socket.h"
#include "igtl/stream_reader.h"
#include "monitor/monitor.h"

namespace um::gateway {
namespace {

// A FrameProcessor that does no inference: the measured-no-op stand-in for overhead runs.
class NoOpProcessor final : public pipeline::FrameProcessor {
 public:
  Result<pipeline::FrameResult> process(const pipeline::Frame& f) override {
    pipeline::FrameResult r;
    r.timings.start_ns = monotonic_ns();
    r.frame_id = f.id;
    r.width = f.width;
    r.height = f.height;
    r.state = pipeline::VisibilityState::kLost;
    r.timings.end_ns = monotonic_ns();
    r.timings.total_ns = r.timings.end_ns - r.timings.start_ns;
    return r;
  }
  void reset() override {}
  std::string description() const override { return "no-op (overhead measurement only)"; }
  const pipeline::ProcessorConfig& config() const override { return config_; }

 private:
  pipeline::ProcessorConfig config_;
};

int64_t percentile(std::vector<int64_t> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// Reads BoneMask messages and computes (client receipt - ReceiveTime - InferenceMs) per frame.
void read_client(uint16_t port, std::atomic<bool>& stop, std::vector<int64_t>& wire_ns) {
  auto s = igtl::Socket::connect("127.0.0.1", port, 2000);
  if (!s.ok()) return;
  igtl::StreamReader reader;
  std::vector<uint8_t> buf(1 << 20);
  igtl::Message m;
  while (!stop) {
    auto n = s->recv_some(buf.data(), buf.size(), 20);
    if (!n.ok()) return;
    if (*n == 0) continue;
    reader.feed(buf.data(), *n);
    while (reader.next(m).state == igtl::ReadState::kMessage) {
      if (m.device_name != "BoneMask") continue;
      const int64_t now = wall_clock_ns();
      const std::string* rx = m.find_metadata("ReceiveTime");
      const std::string* inf = m.find_metadata("InferenceMs");
      if (!rx || !inf) continue;
      const double rx_s = std::stod(*rx);
      const int64_t rx_ns = static_cast<int64_t>(rx_s * 1e9);
      wire_ns.push_back(now - rx_ns - static_cast<int64_t>(std::stod(*inf) * 1e6));
    }
  }
}

void BM_GatewayOverhead(benchmark::State& state) {
  const double fps = static_cast<double>(state.range(0));
  const int frames = static_cast<int>(state.range(1));
  for (auto _ : state) {
    PlusSimulatorOptions so;
    so.port = 0;
    so.fps = fps;
    so.burst_probability = 0;
    so.max_frames = frames;
    so.source_options.size = {558, 422};
    so.preload_frames = 50;  // rendering must not limit the maximum rate
    PlusSimulator sim(so);
    sim.set_paused(true);
    if (!sim.start().ok()) {
      state.SkipWithError("simulator did not start");
      return;
    }
    monitor::MonitorOptions mo;
    mo.probe_gpu = false;
    monitor::Monitor mon(mo);
    GatewayConfig cfg;
    cfg.plus.port = sim.port();
    cfg.slicer.port = 0;
    cfg.dashboard.enabled = false;
    Gateway gw(cfg, std::make_unique<NoOpProcessor>(), mon);
    if (!gw.start().ok()) {
      state.SkipWithError("gateway did not start");
      return;
    }
    std::atomic<bool> stop{false};
    std::vector<int64_t> wire;
    std::thread client([&] { read_client(gw.slicer_port(), stop, wire); });
    // Start streaming once the gateway and the client are connected.
    const auto t_end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while ((sim.counters().clients < 1 || gw.stats().slicer.accepted < 1) &&
           std::chrono::steady_clock::now() < t_end)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    sim.set_paused(false);
    const int64_t t_stream = monotonic_ns();
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::seconds(static_cast<int>(frames / fps) + 30);
    while (sim.counters().frames_generated < static_cast<uint64_t>(frames) &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const double stream_s = static_cast<double>(monotonic_ns() - t_stream) * 1e-9;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // last frames through
    gw.stop();
    stop = true;
    client.join();
    sim.stop();

    const monitor::LatencyHistogram* h =
        mon.registry().find_histogram("um_gateway_overhead_seconds");
    const monitor::WindowStats w = h->window(monotonic_ns(), 3'600'000'000'000);
    const GatewayStats st = gw.stats();
    state.counters["overhead_p50_us"] = static_cast<double>(w.p50_ns) / 1e3;
    state.counters["overhead_p99_us"] = static_cast<double>(w.p99_ns) / 1e3;
    state.counters["overhead_max_us"] = static_cast<double>(w.max_ns) / 1e3;
    state.counters["wire_p50_us"] = static_cast<double>(percentile(wire, 0.5)) / 1e3;
    state.counters["wire_p99_us"] = static_cast<double>(percentile(wire, 0.99)) / 1e3;
    state.counters["frames_sent"] = static_cast<double>(st.frames_sent);
    state.counters["fps_in"] = static_cast<double>(st.frames_received) / stream_s;
    state.counters["fps_out"] = static_cast<double>(st.frames_sent) / stream_s;
    state.counters["drops"] = static_cast<double>(st.rx_slot.total_dropped() +
                                                  st.drops("process", "stale") +
                                                  st.drops("rx", "burst_superseded"));
    state.counters["window_saturated"] = w.saturated ? 1 : 0;
  }
}

// {fps, frames}: 25 fps for 10 s; "maximum rate" = the simulator's 1000 fps ceiling. The
// latency ring keeps the newest 1024 samples, so runs stay at or below ~1000 frames.
BENCHMARK(BM_GatewayOverhead)
    ->Args({25, 250})
    ->Args({1000, 1000})
    ->ArgNames({"fps", "frames"})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace um::gateway

BENCHMARK_MAIN();
