// File: src/monitor/pipeline_metrics.h
// Purpose: the gateway's vocabulary on top of the Registry (metrics.h): the KPIs of SPEC §1
// under fixed metric names, so the dashboard, /metrics, /api/v1/metrics and the KPI log agree.
// Every figure is measured by the caller and handed in; nothing here invents a value.
//
// Usage (gateway):
//   um::monitor::Registry reg;
//   um::monitor::PipelineMetrics pm(reg);
//   // set-up: resolve handles once
//   auto& h_dfine = pm.stage_latency("dfine");              // GPU: record_ms(cudaEventElapsed)
//   auto& h_pre   = pm.stage_latency("preprocess");         // host: record_ns(t1 - t0)
//   auto& h_hop   = pm.hop_latency("rx", "preprocess");     // inter-stage hand-over
//   auto& d_stale = pm.drops("rx", "stale");                // drops{stage, reason}
//   auto& q_rx    = pm.queue_depth("rx");
//   // per frame:
//   pm.frame_received(now);                                  // fps in, "last frame" for health
//   ...
//   pm.frame_sent(now, now - frame.rx_ns);                   // fps out + RX->TX latency
//   pm.set_visibility(VisibilityState::kVisible, now);       // cheap when unchanged
//   // connections (any thread):
//   pm.set_connected("plus", true);  pm.reconnects("plus").inc();
//
// Metric names (Prometheus; JSON uses the same names):
//   um_frames_received_total, um_frames_sent_total               counters (fps = rate)
//   um_rx_to_tx_latency_seconds                                  histogram
//   um_stage_latency_seconds{stage}                              histogram
//   um_interstage_latency_seconds{from,to}                       histogram
//   um_drops_total{stage,reason}                                 counter
//   um_queue_depth{queue}                                        gauge
//   um_connected{stream}                                         gauge 0/1
//   um_reconnects_total{stream}                                  counter
//   um_visibility_state                                          gauge (0 unknown,1 visible,
//                                                                       2 relocalizing,3 lost)
//   um_visibility_seconds_total{state}                           counter (callback)
//   um_visibility_transitions_total                              counter
//   um_last_frame_age_seconds                                    gauge (callback; absent before
//                                                                       the first frame)
//
// Several streams (probes) in one process: each stream has its own PipelineMetrics constructed
// with its name; every series above then carries the label stream="<name>" in addition (for
// um_connected / um_reconnects_total the `stream` label IS the stream's name: its PLUS link).
// The default (empty name) keeps the unlabelled series of a single-stream gateway.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "monitor/metrics.h"

namespace um::monitor {

// Monitor's own copy of the tracker's states (the pipeline's FSM maps onto it with one switch),
// so the monitor does not depend on src/pipeline.
enum class VisibilityState : uint8_t { kUnknown = 0, kVisible = 1, kRelocalizing = 2, kLost = 3 };
inline constexpr int kVisibilityStateCount = 4;
const char* visibility_state_name(VisibilityState s);  // "unknown" "visible" "relocalizing" "lost"

// One entry of the visibility timeline (the dashboard draws the last kTimelineCapacity).
struct VisibilityChange {
  int64_t at_ns = 0;  // monotonic
  VisibilityState state = VisibilityState::kUnknown;
};

class PipelineMetrics {
 public:
  static constexpr size_t kTimelineCapacity = 512;

  // Registers the fixed metrics (and two callbacks that read this object) in `registry`.
  // `stream` non-empty: every series gets the label stream=<stream> (one object per stream).
  explicit PipelineMetrics(Registry& registry, std::string stream = {});
  // Detaches the callbacks, so a Registry that outlives this object never calls into it.
  ~PipelineMetrics();
  PipelineMetrics(const PipelineMetrics&) = delete;
  PipelineMetrics& operator=(const PipelineMetrics&) = delete;

  Registry& registry() { return registry_; }
  const std::string& stream() const { return stream_; }

  // --- hot path: no lock, no allocation -------------------------------------------------
  void frame_received(int64_t now_ns) {
    frames_in_.inc();
    last_rx_ns_.store(now_ns, std::memory_order_relaxed);
  }
  // rx_to_tx_ns: from the frame's RX timestamp (monotonic, taken when its last byte arrived) to
  // the moment its labelmap was handed to the socket.
  void frame_sent(int64_t now_ns, int64_t rx_to_tx_ns) {
    frames_out_.inc();
    rx_to_tx_.record_ns(rx_to_tx_ns, now_ns);
  }
  // Accumulates time in the previous state; lock-free when the state is unchanged.
  void set_visibility(VisibilityState state, int64_t now_ns);

  // --- handles: resolve once at set-up (a mutex inside), then use from any thread -------
  LatencyHistogram& stage_latency(const std::string& stage);
  LatencyHistogram& hop_latency(const std::string& from, const std::string& to);
  Counter& drops(const std::string& stage, const std::string& reason);
  Gauge& queue_depth(const std::string& queue);
  // `link` names the connection ("plus"); in a per-stream object the stream's own name is used
  // instead (one PLUS link per stream), so um_connected{stream} names the probe.
  Counter& reconnects(const std::string& link);
  Gauge& connected_gauge(const std::string& link);
  void set_connected(const std::string& link, bool connected) {
    connected_gauge(link).set(connected ? 1.0 : 0.0);
  }
  Counter& frames_in() { return frames_in_; }
  Counter& frames_out() { return frames_out_; }
  LatencyHistogram& rx_to_tx() { return rx_to_tx_; }
  const Counter& frames_in() const { return frames_in_; }
  const Counter& frames_out() const { return frames_out_; }
  const LatencyHistogram& rx_to_tx() const { return rx_to_tx_; }

  // --- readers (monitor side) -------------------------------------------------------------
  // Monotonic time of the last frame_received(), or 0 if none yet.
  int64_t last_rx_ns() const { return last_rx_ns_.load(std::memory_order_relaxed); }
  VisibilityState visibility() const {
    return static_cast<VisibilityState>(state_.load(std::memory_order_relaxed));
  }
  // Seconds spent in `state` up to now_ns (including the ongoing stretch).
  double seconds_in_state(VisibilityState state, int64_t now_ns) const;
  std::vector<VisibilityChange> timeline() const;  // oldest first

 private:
  // The base labels of every series ({} or {{"stream", name}}), plus `extra`.
  Labels labels(Labels extra = {}) const;

  Registry& registry_;
  std::string stream_;
  Counter& frames_in_;
  Counter& frames_out_;
  LatencyHistogram& rx_to_tx_;
  Gauge& state_gauge_;
  Counter& transitions_;
  std::atomic<int64_t> last_rx_ns_{0};
  std::atomic<uint8_t> state_{0};

  mutable std::mutex state_mu_;  // guards the members below (only taken on a state change)
  int64_t state_since_ns_ = 0;
  double state_seconds_[kVisibilityStateCount] = {};
  std::vector<VisibilityChange> timeline_;  // ring of kTimelineCapacity
  size_t timeline_next_ = 0;
};

}  // namespace um::monitor
