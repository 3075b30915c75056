// File: src/gateway/config.h
// Purpose: the gateway's configuration: defaults from SPEC.md, a YAML file (yaml-cpp), command-line
// overrides, and one validation pass that reports EVERY problem at once, one clear line each
// (unknown key with its path, port clash, missing file, value out of range).
//
// YAML layout (configs/default.yaml is the annotated reference):
//   plus:      {host, port, device, reconnect_ms}
//   slicer:    {port, device, label_value, outputs: {bone_mask, weights, status}}
//   dashboard: {enabled, port}
//   models:    {dfine, sam, precision, backend, resize, mask_prompt_reuse, allow_synthetic}
//   thresholds:{tau_conf, theta_on, theta_off, theta_cont}
//   detector_skip: {every, min_box_iou, min_score, max_quality_drop}   (every 1 = off)
//   queues:    {rx_capacity, tx_capacity, max_frame_age_ms}
//   record:    FILE (empty: no recording)
//   kpi_log:   {file, interval_ms}   (file empty: no KPI log)
//   streams:   [{name, plus: {host, port, device, reconnect_ms}, slicer: {port, device}}, ...]
//   batching:  {max_batch, max_wait_ms, overlap}
//   gpu:       N   (-1: leave CUDA_VISIBLE_DEVICES alone)
//
// Usage:
//   std::vector<std::string> errors;
//   GatewayConfig cfg;
//   UM_RETURN_IF_ERROR(load_config_file("run.yaml", &cfg));   // parse (kInvalidArgument/kNotFound)
//   UM_RETURN_IF_ERROR(apply_override(&cfg, "plus.port=19000"));  // CLI --set, same key paths
//   Status s = validate_config(cfg);   // all errors together, one per line in the message
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace um::gateway {

struct PlusConfig {
  std::string host = "127.0.0.1";
  int port = 18944;
  std::string device = "Image_Reference";  // IMAGE device-name filter; empty accepts any
  int reconnect_ms = 1000;                 // pause between connection attempts
};

struct SlicerOutputs {
  bool bone_mask = true;  // BoneMask labelmap IMAGE
  bool weights = false;   // BoneMask_Wedge / BoneMask_Win / BoneMask_Wout
  bool status = true;     // STATUS message on every visibility-state change
};

struct SlicerConfig {
  int port = 18945;
  std::string device = "BoneMask";
  int label_value = 1;  // value of bone pixels: 1 or 255
  SlicerOutputs outputs;
};

struct DashboardConfig {
  bool enabled = true;
  int port = 8050;
};

struct ModelConfig {
  std::string dfine = "models/phantom/dfine_n_phantom.pth";
  std::string sam = "models/phantom/mobilesam_phantom.pt";
  std::string precision = "fp32";  // fp32 | fp16
  std::string backend = "cpu";     // cpu | cuda
  std::string resize = "stretch";  // stretch | letterbox (D-FINE input resizing)
  bool mask_prompt_reuse = false;  // feed the previous low-res mask as MobileSAM's mask prompt
  // A checkpoint file that does not exist -> seeded synthetic weights (pipeline/synthetic_weights.h)
  // instead of a config error. Off for `run` (a clinical gateway never runs random weights
  // unasked); `demo` turns it on. Present-but-broken files are an error either way.
  bool allow_synthetic = false;
};

struct Thresholds {
  double tau_conf = 0.5;
  double theta_on = 0.6;
  double theta_off = 0.4;
  double theta_cont = 0.5;
};

// Detector skipping (pipeline::DetectorSkipConfig, frame_processor.h): while the tracker says
// the bone is stable, D-FINE runs on every `every`-th frame and the tracker's box is used in
// between; a quality drop or a state change forces a detection on the next frame.
struct DetectorSkipSettings {
  int every = 1;                  // 1 = D-FINE on every frame
  double min_box_iou = 0.8;       // IoU of the track's last two boxes needed to skip
  double min_score = 0.6;         // last detection score needed to skip
  double max_quality_drop = 0.1;  // combined-quality fall that forces a detection
};

struct QueueConfig {
  int rx_capacity = 2;
  int tx_capacity = 8;
  int max_frame_age_ms = 500;
};

// One PLUS stream of a multi-probe gateway (`streams:` list; gateway/stream_config.h). Every
// field left out takes the top-level plus:/slicer: value when the config is resolved
// (effective_streams), so `--plus-host` and `--set plus.device=...` still reach the streams.
struct StreamSpec {
  std::string name;  // unique, [A-Za-z0-9_-]+: metrics label `stream`, dashboard name
  std::optional<std::string> plus_host;
  std::optional<int> plus_port;
  std::optional<std::string> plus_device;
  std::optional<int> plus_reconnect_ms;
  std::optional<int> slicer_port;
  std::optional<std::string> slicer_device;
};

// How the one GPU worker batches the streams' frames (gateway/frame_dispatcher.h).
struct BatchingConfig {
  int max_batch = 0;          // frames run together at most; 0 = the number of streams
  double max_wait_ms = 2.0;   // latency cap: how long a ready frame waits for others
  bool overlap = true;        // keep frames of several streams in flight at once
};

// `--kpi-log FILE`: the monitor's figures as JSON lines every interval_ms.
struct KpiLogConfig {
  std::string file;  // empty: no KPI log
  int interval_ms = 1000;
};

// Ports: 0 means "any free port" (the bound port is reported at start; tests use it).
struct GatewayConfig {
  PlusConfig plus;
  SlicerConfig slicer;
  DashboardConfig dashboard;
  ModelConfig models;
  Thresholds thresholds;
  DetectorSkipSettings detector_skip;
  QueueConfig queues;
  std::string record;  // empty: no recording
  KpiLogConfig kpi_log;
  // Several probes in one process: empty = one stream made of plus: and slicer: (unchanged
  // single-stream behaviour and metric names); otherwise one stream per entry.
  std::vector<StreamSpec> streams;
  BatchingConfig batching;
  // `--gpu N`: this process serves physical GPU N (CUDA_VISIBLE_DEVICES=N is set before any CUDA
  // call; the dashboard samples that GPU). One process per GPU; -1 = the environment's choice.
  int gpu = -1;
};

// Parses YAML text into *cfg (fields absent from the text keep their current value). Unknown
// keys, wrong types and YAML syntax errors are all collected: kInvalidArgument with one line per
// problem, each naming its key path ("slicer.outputs.wedge: unknown key").
Status parse_config_yaml(const std::string& yaml_text, GatewayConfig* cfg,
                         const std::string& source_name = "<config>");
// Reads a file and parses it; kNotFound when the file does not exist. Relative checkpoint and
// record paths stay relative to the working directory (like any CLI path).
Status load_config_file(const std::string& path, GatewayConfig* cfg);
// One override "key.path=value" (the CLI's --set), parsed as YAML scalar; same errors as above.
Status apply_override(GatewayConfig* cfg, const std::string& assignment);

// Every problem with a fully assembled config, one human sentence each.
std::vector<std::string> config_errors(const GatewayConfig& cfg);
// kInvalidArgument listing config_errors() one per line, or OK.
Status validate_config(const GatewayConfig& cfg);

// The config as YAML (logged at start) and as JSON (the dashboard's "config in force").
std::string config_to_yaml(const GatewayConfig& cfg);
std::string config_to_json(const GatewayConfig& cfg);

}  // namespace um::gateway
