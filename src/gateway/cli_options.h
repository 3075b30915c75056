// File: src/gateway/cli_options.h
// Purpose: the command-line overrides shared by `ultramotion run` and `ultramotion demo`. Each
// named flag is a shorthand for one config key; --set KEY=VALUE reaches any key. Flags are
// applied after the config file, in the order: named flags, then --set (so --set wins).
// Usage:
//   ConfigOverrides ov; add_config_overrides(cmd, ov);
//   ... after parsing: UM_RETURN_IF_ERROR(apply_config_overrides(ov, &cfg));
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gateway/config.h"

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

}  // namespace um::gateway
