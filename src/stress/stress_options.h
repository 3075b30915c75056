// File: src/stress/stress_options.h
// Purpose: what `ultramotion stress` is asked to do (StressOptions), the parsing of its
// list-and-keyword arguments ("1,2,4,8", "max"), and the gateway configuration it writes for the
// gateway under test (a child process: `ultramotion run --config <this yaml>`).
//
// Config format: one stream uses the classic top-level `plus:` / `slicer:` keys; several streams
// use the multi-stream format (`streams:` list + `batching:`), see gateway/config.h. `--config-
// format` forces either ("legacy" | "streams"); "auto" picks by stream count.
//
// Usage:
//   UM_ASSIGN_OR_RETURN(std::vector<int> counts, parse_stream_counts("1,2,4,8"));
//   UM_ASSIGN_OR_RETURN(FpsSetting fps, parse_fps("max"));
//   std::string yaml = gateway_config_yaml(options, streams, dashboard_port);
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "pipeline/phantom.h"

namespace um::stress {

// Per-stream input rate: a number, or "max" = the simulator's ceiling with preloaded frames (the
// gateway's latest-frame-wins policy keeps it saturated; see README "ultramotion stress").
struct FpsSetting {
  bool max = false;
  double fps = 25.0;  // when !max
};

struct StressOptions {
  std::vector<int> stream_counts{1};  // each count is one run against a fresh gateway
  FpsSetting fps;
  double max_fps = 1000.0;            // "max": the simulator's rate (its ceiling is 1000)
  double duration_s = 30.0;           // measured part, after the warm-up
  double warmup_s = 5.0;              // excluded from every figure
  double sample_interval_s = 1.0;     // dashboard polling period
  double start_timeout_s = 180.0;     // model loading on a slow CPU
  bool faults = false;
  double fault_interval_s = 0.0;      // 0: auto (see fault_interval())
  double fault_timeout_s = 30.0;      // a fault must be followed by fresh output within this
  // The measured phase lasts --duration AND until this many faults have ended (recovered or
  // timed out): a run on a slow or busy machine still goes through the rotation's first kinds.
  int min_faults = 0;
  double max_growth_pct = -1.0;       // >= 0: RSS/GPU memory growth above it fails the run

  // Gateway configuration.
  std::string backend = "cpu";
  std::string precision = "fp32";
  std::string dfine = "models/phantom/dfine_n_phantom.pth";
  std::string sam = "models/phantom/mobilesam_phantom.pt";
  bool allow_synthetic = false;
  int max_batch = 0;                  // batching: (multi-stream format only)
  double max_wait_ms = 2.0;
  bool overlap = true;
  std::string config_format = "auto";  // auto | legacy | streams
  std::vector<std::string> gateway_set;  // extra `--set KEY=VALUE` for the gateway
  std::string gateway_cmd;             // empty: this binary (/proc/self/exe)

  // Simulators.
  std::string source = "phantom";     // or a folder of PNG/JPEG frames
  pipeline::FrameSize frame_size{558, 422};  // phantom frames, H x W
  double burst_probability = 0.0;     // PLUS-like bursts skew latency; off by default

  // Output.
  std::string json_path;
  std::string csv_path;
  std::string log_dir;                // gateway configs and logs; empty: a temporary folder
  bool quiet = false;                 // no progress lines on stderr
};

// "1,2,4,8" -> {1,2,4,8}; each 1..64, no duplicates. kInvalidArgument names the bad item.
Result<std::vector<int>> parse_stream_counts(const std::string& text);
// "max" or a rate in (0, 1000]. kInvalidArgument otherwise.
Result<FpsSetting> parse_fps(const std::string& text);
// Every problem with the options, one line each (empty when fine).
std::vector<std::string> option_errors(const StressOptions& o);

// Seconds between faults: the explicit value, or duration/7 clamped to [2, 60] s.
double fault_interval(const StressOptions& o);
// Simulator frame rate for a run (max -> max_fps).
double simulator_fps(const StressOptions& o);

// "s1", "s2", ... for stream index 0, 1, ...
std::string stream_name(size_t index);

struct StreamEndpoints {
  std::string name;     // s1, s2, ...
  int plus_port = 0;    // where its simulator listens
  int slicer_port = 0;  // where the gateway serves its labelmaps
};

// True when this run's config uses the `streams:` format.
bool uses_streams_format(const StressOptions& o, size_t n_streams);
// The YAML config of the gateway under test.
std::string gateway_config_yaml(const StressOptions& o, const std::vector<StreamEndpoints>& streams,
                                int dashboard_port);

}  // namespace um::stress
