// File: src/monitor/monitor.h
// Purpose: the monitoring hub the gateway owns: the Registry and PipelineMetrics it records
// into, a sampler thread that turns counters into rates (fps) and keeps a short history for the
// dashboard's charts, process CPU/RSS (/proc/self) and GPU figures (NVML, loaded at run time),
// health rules, the latest frame for display, the config in force and the synthetic-weights flag.
// Renderers (JSON, Prometheus, PNG) and the HTTP server read from here.
//
// Usage (gateway):
//   um::monitor::Monitor mon;                        // starts the sampler thread
//   mon.set_config_json(config_as_json_string);
//   mon.set_synthetic_weights(true, "random weights: no checkpoint given");
//   auto& pm = mon.pipeline();                       // record KPIs (pipeline_metrics.h)
//   um::monitor::DashboardServer http(mon, {.host = "0.0.0.0", .port = 8050});  // http_server.h
//   UM_RETURN_IF_ERROR(http.start());
//   // per processed frame, cheap: copies only every display_period
//   mon.offer_frame({.width = w, .height = h, .gray = px, .mask = m, .box = box, ...}, now);
//
// Several streams (probes) in one process: mon.add_stream("probe1") per stream before the gateway
// starts; each returns a PipelineMetrics whose series carry stream="probe1". The top-level figures
// of /api/v1/metrics then are: frames, fps and drops summed over the streams, RX->TX latency
// merged over the streams, and the first stream's stages, queues, visibility and frame (the
// shape a single-stream dashboard reads); "per_stream" (and /api/v1/streams) has every stream.
//
// Threading: every method is thread-safe. The sampler wakes every sample_period; sample() is
// public so tests can drive it with their own clock (options.start_sampler = false).
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "monitor/metrics.h"
#include "monitor/pipeline_metrics.h"
#include "monitor/system_stats.h"

namespace um::monitor {

struct HealthPolicy {
  double max_frame_age_s = 2.0;  // degraded when no frame arrived for longer (or never)
  double max_drop_ratio = 0.5;   // degraded when drops / frames received over the rate window
                                 // exceeds this (needs >= min_frames_for_drop_ratio frames)
  uint64_t min_frames_for_drop_ratio = 10;
  // Every stream registered through PipelineMetrics::set_connected() whose gauge is 0 degrades.
};

struct MonitorOptions {
  std::chrono::milliseconds sample_period{500};        // history point + SSE cadence
  std::chrono::milliseconds rate_window{2000};         // fps and drop ratio span
  std::chrono::milliseconds percentile_window{5000};   // histograms' windowed statistics span
  size_t history_points = 240;                         // 2 minutes at 500 ms
  std::chrono::milliseconds display_period{200};       // offer_frame copies at most this often
  HealthPolicy health;
  bool start_sampler = true;  // false: the caller drives sample() (deterministic tests)
  bool probe_gpu = true;      // false: skip NVML entirely (reported as unavailable, "disabled")
  // >= 0: report only this physical GPU (a gateway serving one GPU with --gpu N; NVML ignores
  // CUDA_VISIBLE_DEVICES and numbers the devices physically). -1: every GPU.
  int gpu_index = -1;
};

// A frame for the dashboard. Pointers are only read during offer_frame().
struct FrameView {
  int width = 0;
  int height = 0;
  const uint8_t* gray = nullptr;  // width*height, row-major
  const uint8_t* mask = nullptr;  // width*height, nonzero = inside; nullptr = no mask
  std::optional<std::array<float, 4>> box;  // x0, y0, x1, y1 in frame pixels
  int64_t frame_id = -1;
  VisibilityState state = VisibilityState::kUnknown;
  double score = -1.0;  // detector confidence, < 0 = not known
};

// The copy the monitor keeps (what /api/v1/frame.png draws).
struct DisplayFrame {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> gray;
  std::vector<uint8_t> mask;  // empty = no mask
  std::optional<std::array<float, 4>> box;
  int64_t frame_id = -1;
  VisibilityState state = VisibilityState::kUnknown;
  double score = -1.0;
  int64_t at_ns = 0;   // monotonic time of offer_frame
  uint64_t seq = 0;    // increases with every kept frame (PNG cache key)
};

// One stream's counters and rates in a history point.
struct StreamSample {
  std::string name;
  uint64_t frames_in = 0, frames_out = 0;
  double fps_in = 0.0, fps_out = 0.0;  // over rate_window
};

// One point of the dashboard's history (and the basis of rates).
struct SamplePoint {
  uint64_t seq = 0;
  int64_t at_ns = 0;      // monotonic
  int64_t wall_ns = 0;    // UTC, for display
  uint64_t frames_in = 0, frames_out = 0, drops = 0;
  double fps_in = 0.0, fps_out = 0.0;   // over rate_window, ending at at_ns
  double drop_rate = 0.0;               // drops per second over rate_window
  double drop_ratio = 0.0;              // drops / frames received over rate_window (0 if none)
  uint64_t frames_in_window = 0;        // frames received over rate_window
  WindowStats rx_to_tx;                 // over percentile_window
  VisibilityState state = VisibilityState::kUnknown;
  ProcessStats process;
  GpuStats gpu;
  std::vector<StreamSample> streams;  // per stream when add_stream() was used, else empty
};

struct HealthReport {
  bool ok = true;
  std::vector<std::string> reasons;  // empty when ok
};

class Monitor {
 public:
  explicit Monitor(MonitorOptions options = {});
  ~Monitor();  // stops the sampler
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  Registry& registry() { return registry_; }
  // The unlabelled metrics of a single-stream gateway.
  PipelineMetrics& pipeline() { return pipeline_; }
  // A stream of a multi-stream gateway (labelled stream=<name>); the same object for the same
  // name. Call at set-up.
  PipelineMetrics& add_stream(const std::string& name);
  std::vector<std::string> stream_names() const;
  const MonitorOptions& options() const { return options_; }
  int64_t started_ns() const { return started_ns_; }

  // The config in force, as JSON text (shown verbatim on the page, served at /api/v1/config).
  void set_config_json(std::string json);
  std::string config_json() const;
  // Synthetic (random / made-up) weights in use: the page shows a loud banner with `detail`.
  void set_synthetic_weights(bool synthetic, std::string detail = {});
  bool synthetic_weights(std::string* detail = nullptr) const;

  // Keeps a copy if display_period has passed since the last kept frame; returns whether it
  // did. Invalid frames (sizes <= 0, null gray) are ignored (returns false).
  bool offer_frame(const FrameView& frame, int64_t now_ns);
  std::optional<DisplayFrame> latest_frame() const;
  // PNG of the latest frame with its mask overlay and box, cached per frame; nullopt if none.
  std::optional<std::string> latest_frame_png() const;

  // Takes one history point at now_ns (the sampler calls this; tests may too).
  void sample(int64_t now_ns);
  std::vector<SamplePoint> history() const;     // oldest first
  std::optional<SamplePoint> last_sample() const;
  // Blocks until a sample newer than after_seq exists, the timeout passes or the monitor
  // shuts down; returns the newest sample's seq (unchanged = nothing new).
  uint64_t wait_for_sample(uint64_t after_seq, std::chrono::milliseconds timeout) const;
  bool shutting_down() const;

  HealthReport health(int64_t now_ns) const;

  // Renderers (monitor_json.cpp / prometheus.cpp).
  std::string metrics_json(int64_t now_ns) const;   // /api/v1/metrics, SSE events, KPI log lines
  std::string history_json() const;                  // /api/v1/history
  std::string health_json(int64_t now_ns) const;     // /api/v1/health
  std::string streams_json(int64_t now_ns) const;    // /api/v1/streams: {"streams": [...]}
  std::string prometheus_text(int64_t now_ns) const; // /metrics

 private:
  void sampler_loop();
  // The streams added so far (stable pointers), and the one the top-level figures describe.
  std::vector<const PipelineMetrics*> streams() const;
  const PipelineMetrics& primary() const;

  MonitorOptions options_;
  int64_t started_ns_;
  Registry registry_;
  PipelineMetrics pipeline_;
  mutable std::mutex streams_mu_;  // guards streams_ (the vector; the objects are stable)
  std::vector<std::unique_ptr<PipelineMetrics>> streams_;
  ProcessSampler process_sampler_;
  std::unique_ptr<GpuSampler> gpu_sampler_;
  std::mutex sample_mu_;  // serialises sample() (the samplers keep state between calls)

  mutable std::mutex mu_;  // guards everything below
  mutable std::condition_variable sample_cv_;
  std::deque<SamplePoint> history_;
  uint64_t next_seq_ = 1;
  bool stop_ = false;
  std::string config_json_ = "{}";
  bool synthetic_ = false;
  std::string synthetic_detail_;
  std::shared_ptr<const DisplayFrame> frame_;
  int64_t last_frame_copy_ns_ = 0;
  uint64_t frame_seq_ = 0;
  mutable uint64_t png_seq_ = 0;
  mutable std::shared_ptr<const std::string> png_;

  std::thread sampler_;
};

}  // namespace um::monitor
