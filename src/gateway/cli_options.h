// File: src/gateway/cli_options.h
// Purpose: the command-line overrides shared by `ultramotion run` and `ultramotion demo`. Each
// named flag is a shorthand for one config key; --set KEY=VALUE reaches any key. Flags are
// applied after the config file, in the order: named flags, then --set (so --set wins).
// Usage:
//   ConfigOverrides ov; add_config_overrides(cmd, ov);
//   ... after parsing: UM_RETURN_IF_ERROR(build_config(file, ov, &cfg));  // every problem at once
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gateway/config.h"
#include "gateway/model_setup.h"

namespace um::gateway {

struct ConfigOverrides {
  std::vector<std::pair<std::string, std::string>> named;  // filled by the flag callbacks
  std::vector<std::string> set;
};

inline void add_config_overrides(CLI::App* cmd, ConfigOverrides& ov) {
  struct Flag {
    const char* flag;
    const char* key;
    const char* help;
  };
  static const Flag kFlags[] = {
      {"--plus-host", "plus.host", "PlusServer host"},
      {"--plus-port", "plus.port", "PlusServer port"},
      {"--plus-device", "plus.device", "IMAGE device name to accept ('' = any)"},
      {"--slicer-port", "slicer.port", "port 3D Slicer connects to"},
      {"--dashboard-port", "dashboard.port", "dashboard HTTP port"},
      {"--dfine", "models.dfine", "D-FINE checkpoint (.pth/.pt/.safetensors)"},
      {"--sam", "models.sam", "MobileSAM checkpoint"},
      {"--backend", "models.backend", "cpu | cuda"},
      {"--precision", "models.precision", "fp32 | fp16"},
      {"--label-value", "slicer.label_value", "bone label value: 1 or 255"},
      {"--record", "record", "record received frames and results to FILE"},
      {"--kpi-log", "kpi_log.file", "write the dashboard's figures to FILE as JSON lines"},
      {"--kpi-interval-ms", "kpi_log.interval_ms", "KPI log interval in milliseconds"},
      {"--gpu", "gpu",
       "serve physical GPU N only (sets CUDA_VISIBLE_DEVICES; one gateway process per GPU)"},
  };
  for (const Flag& f : kFlags) {
    const std::string key = f.key;
    cmd->add_option_function<std::string>(
        f.flag, [&ov, key](const std::string& v) { ov.named.emplace_back(key, v); },
        std::string(f.help) + " (config " + key + ")");
  }
  cmd->add_flag_callback(
      "--no-dashboard", [&ov] { ov.named.emplace_back("dashboard.enabled", "false"); },
      "do not start the dashboard");
  cmd->add_flag_callback(
      "--weights", [&ov] { ov.named.emplace_back("slicer.outputs.weights", "true"); },
      "also send BoneMask_Wedge/_Win/_Wout");
  cmd->add_option("--set", ov.set, "override any config key: KEY=VALUE (e.g. queues.tx_capacity=16)")
      ->take_all();
}

inline Status apply_config_overrides(const ConfigOverrides& ov, GatewayConfig* cfg) {
  std::string errors;
  for (const auto& [key, value] : ov.named) {
    Status s = apply_override(cfg, key + "=" + value);
    if (!s.ok()) errors += "\n  - " + s.message();
  }
  for (const std::string& a : ov.set) {
    Status s = apply_override(cfg, a);
    if (!s.ok()) errors += "\n  - " + s.message();
  }
  if (!errors.empty()) return invalid_argument("command-line overrides:" + errors);
  return Status::Ok();
}

// The whole start-up check: reads `file` (if not empty), applies the overrides, resolves the
// checkpoint paths and validates, collecting the problems of EVERY step into one
// kInvalidArgument, one line each (a missing config file alone is kNotFound).
inline Status build_config(const std::string& file, const ConfigOverrides& ov, GatewayConfig* cfg) {
  std::vector<std::string> lines;
  auto take = [&lines](const Status& s) {
    if (s.ok()) return;
    std::string m = s.message();
    // Sub-lists ("...: N problem(s)\n  - a\n  - b") are flattened into our own list.
    size_t at = m.find("\n  - ");
    if (at == std::string::npos) {
      lines.push_back(m);
      return;
    }
    const std::string prefix = m.substr(0, m.find(':'));
    while (at != std::string::npos) {
      const size_t next = m.find("\n  - ", at + 5);
      lines.push_back((prefix == "invalid configuration" || prefix == "command-line overrides"
                           ? std::string()
                           : prefix + ": ") +
                      m.substr(at + 5, next == std::string::npos ? std::string::npos : next - at - 5));
      at = next;
    }
  };
  if (!file.empty()) {
    Status s = load_config_file(file, cfg);
    if (s.code() == StatusCode::kNotFound) return s;
    take(s);
  }
  take(apply_config_overrides(ov, cfg));
  resolve_model_paths(cfg);
  take(validate_config(*cfg));
  if (lines.empty()) return Status::Ok();
  std::string msg = "invalid configuration: " + std::to_string(lines.size()) + " problem(s)";
  for (const auto& l : lines) msg += "\n  - " + l;
  return invalid_argument(msg);
}

}  // namespace um::gateway
