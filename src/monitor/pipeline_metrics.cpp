// File: src/monitor/pipeline_metrics.cpp
// Purpose: the gateway KPIs under fixed names (see pipeline_metrics.h) and the visibility-state
// bookkeeping (time per state, transitions, timeline).
#include "monitor/pipeline_metrics.h"

#include <algorithm>

#include "core/clock.h"

namespace um::monitor {

const char* visibility_state_name(VisibilityState s) {
  switch (s) {
    case VisibilityState::kUnknown: return "unknown";
    case VisibilityState::kVisible: return "visible";
    case VisibilityState::kRelocalizing: return "relocalizing";
    case VisibilityState::kLost: return "lost";
  }
  return "unknown";
}

namespace {
Labels with_stream(const std::string& stream, Labels extra) {
  if (!stream.empty()) extra.insert(extra.begin(), {"stream", stream});
  return extra;
}
}  // namespace

Labels PipelineMetrics::labels(Labels extra) const { return with_stream(stream_, std::move(extra)); }

PipelineMetrics::PipelineMetrics(Registry& registry, std::string stream)
    : registry_(registry),
      stream_(std::move(stream)),
      frames_in_(registry.counter("um_frames_received_total",
                                  "Frames received from the ultrasound source",
                                  with_stream(stream_, {}))),
      frames_out_(registry.counter("um_frames_sent_total", "Labelmaps sent to the consumer",
                                   with_stream(stream_, {}))),
      rx_to_tx_(registry.histogram("um_rx_to_tx_latency_seconds",
                                   "Latency from frame receipt to labelmap send",
                                   with_stream(stream_, {}))),
      state_gauge_(registry.gauge(
          "um_visibility_state",
          "Visibility state: 0 unknown, 1 visible, 2 relocalizing, 3 lost",
          with_stream(stream_, {}))),
      transitions_(registry.counter("um_visibility_transitions_total",
                                    "Visibility state changes", with_stream(stream_, {}))),
      state_since_ns_(monotonic_ns()) {
  timeline_.reserve(kTimelineCapacity);
  for (int i = 0; i < kVisibilityStateCount; ++i) {
    const auto st = static_cast<VisibilityState>(i);
    registry.callback("um_visibility_seconds_total", "Time spent in each visibility state",
                      MetricType::kCounter, labels({{"state", visibility_state_name(st)}}),
                      [this, st]() -> std::optional<double> {
                        return seconds_in_state(st, monotonic_ns());
                      });
  }
  registry.callback("um_last_frame_age_seconds", "Time since the last frame was received",
                    MetricType::kGauge, labels(), [this]() -> std::optional<double> {
                      const int64_t last = last_rx_ns();
                      if (last == 0) return std::nullopt;  // no frame yet: no age to report
                      return static_cast<double>(monotonic_ns() - last) * 1e-9;
                    });
}

PipelineMetrics::~PipelineMetrics() {
  auto none = []() -> std::optional<double> { return std::nullopt; };
  for (int i = 0; i < kVisibilityStateCount; ++i) {
    registry_.callback("um_visibility_seconds_total", "", MetricType::kCounter,
                       labels({{"state", visibility_state_name(static_cast<VisibilityState>(i))}}),
                       none);
  }
  registry_.callback("um_last_frame_age_seconds", "", MetricType::kGauge, labels(), none);
}

void PipelineMetrics::set_visibility(VisibilityState state, int64_t now_ns) {
  const auto s = static_cast<uint8_t>(state);
  if (state_.load(std::memory_order_relaxed) == s) return;
  std::lock_guard<std::mutex> lock(state_mu_);
  const uint8_t prev = state_.load(std::memory_order_relaxed);
  if (prev == s) return;
  state_seconds_[prev] += static_cast<double>(std::max<int64_t>(0, now_ns - state_since_ns_)) * 1e-9;
  state_since_ns_ = now_ns;
  state_.store(s, std::memory_order_relaxed);
  state_gauge_.set(static_cast<double>(s));
  transitions_.inc();
  const VisibilityChange change{now_ns, state};
  if (timeline_.size() < kTimelineCapacity) {
    timeline_.push_back(change);
  } else {
    timeline_[timeline_next_] = change;
  }
  timeline_next_ = (timeline_next_ + 1) % kTimelineCapacity;
}

double PipelineMetrics::seconds_in_state(VisibilityState state, int64_t now_ns) const {
  std::lock_guard<std::mutex> lock(state_mu_);
  const auto s = static_cast<uint8_t>(state);
  double total = state_seconds_[s];
  if (state_.load(std::memory_order_relaxed) == s) {
    total += static_cast<double>(std::max<int64_t>(0, now_ns - state_since_ns_)) * 1e-9;
  }
  return total;
}

std::vector<VisibilityChange> PipelineMetrics::timeline() const {
  std::lock_guard<std::mutex> lock(state_mu_);
  if (timeline_.size() < kTimelineCapacity) return timeline_;
  std::vector<VisibilityChange> out;
  out.reserve(kTimelineCapacity);
  for (size_t i = 0; i < kTimelineCapacity; ++i) {
    out.push_back(timeline_[(timeline_next_ + i) % kTimelineCapacity]);
  }
  return out;
}

LatencyHistogram& PipelineMetrics::stage_latency(const std::string& stage) {
  return registry_.histogram("um_stage_latency_seconds", "Time spent inside each pipeline stage",
                             labels({{"stage", stage}}));
}

LatencyHistogram& PipelineMetrics::hop_latency(const std::string& from, const std::string& to) {
  return registry_.histogram("um_interstage_latency_seconds",
                             "Time between consecutive pipeline timestamps (from -> to)",
                             labels({{"from", from}, {"to", to}}));
}

Counter& PipelineMetrics::drops(const std::string& stage, const std::string& reason) {
  return registry_.counter("um_drops_total", "Frames dropped, per stage and reason",
                           labels({{"stage", stage}, {"reason", reason}}));
}

Gauge& PipelineMetrics::queue_depth(const std::string& queue) {
  return registry_.gauge("um_queue_depth", "Items waiting in each queue",
                         labels({{"queue", queue}}));
}

Counter& PipelineMetrics::reconnects(const std::string& link) {
  return registry_.counter("um_reconnects_total", "Reconnections per stream",
                           {{"stream", stream_.empty() ? link : stream_}});
}

Gauge& PipelineMetrics::connected_gauge(const std::string& link) {
  return registry_.gauge("um_connected", "1 while the stream's peer is connected",
                         {{"stream", stream_.empty() ? link : stream_}});
}

}  // namespace um::monitor
