// File: src/gateway/stream_config.h
// Purpose: the `streams:` part of the gateway config (several probes served by one process):
// parsing the YAML list, resolving each entry against the top-level plus:/slicer: values, and
// validating the whole stream set (names, port and input clashes) plus the batching and gpu keys.
// config.cpp calls in here; the rest of the gateway only needs effective_streams().
//
// YAML (configs/multi_probe.yaml is the annotated example):
//   streams:                  # optional; absent = one stream made of the top-level plus:/slicer:
//     - name: probe1          # unique, [A-Za-z0-9_-]+; metrics label `stream`, dashboard name
//       plus:   {host: 127.0.0.1, port: 18944, device: Image_Reference}  # missing: top-level
//       slicer: {port: 18945, device: BoneMask}       # outputs/label_value: top-level slicer:
//     - name: probe2
//       plus:   {port: 18954}
//       slicer: {port: 18955}
//   batching: {max_batch: 0, max_wait_ms: 2.0, overlap: true}   # 0 = number of streams
//   gpu: 0                    # CLI --gpu N
//
// Usage:
//   for (const StreamSettings& s : effective_streams(cfg)) start_stream(s);
#pragma once

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gateway/config.h"

namespace um::gateway {

// The name of the one stream of a config without `streams:` (its metrics stay unlabelled).
inline constexpr const char* kDefaultStreamName = "main";
inline constexpr int kMaxStreams = 64;

// One stream as the gateway runs it: every field resolved.
struct StreamSettings {
  std::string name;
  PlusConfig plus;
  SlicerConfig slicer;  // outputs and label_value always from the top-level slicer:
};

// True when the config lists streams (metrics are then labelled per stream).
inline bool has_stream_list(const GatewayConfig& cfg) { return !cfg.streams.empty(); }

// The `streams:` entries with the top-level defaults filled in, or one stream named
// kDefaultStreamName made of plus:/slicer: when the list is empty.
std::vector<StreamSettings> effective_streams(const GatewayConfig& cfg);

// batching.max_batch with 0 resolved to the number of streams.
int effective_max_batch(const GatewayConfig& cfg);

// Parses the `streams:` node (a YAML list of mappings) into cfg->streams, replacing what was
// there. Problems are appended, one line each, naming their path ("streams[1].plus.prot:
// unknown key").
void parse_streams_yaml(const YAML::Node& node, GatewayConfig* cfg,
                        std::vector<std::string>* errors);

// Every problem of the stream set, batching and gpu keys (config_errors() appends these).
void stream_config_errors(const GatewayConfig& cfg, std::vector<std::string>* errors);

// The stream list as written in YAML / JSON (only the keys each entry sets).
YAML::Node streams_to_yaml(const std::vector<StreamSpec>& streams);
nlohmann::json streams_to_json(const std::vector<StreamSpec>& streams);

}  // namespace um::gateway
