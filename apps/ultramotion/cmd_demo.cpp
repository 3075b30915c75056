// File: apps/ultramotion/cmd_demo.cpp
// Purpose: `ultramotion demo`: everything in one process: the PLUS simulator streaming the
// moving phantom, the gateway with the bundled phantom models, the dashboard; prints where to
// look and runs until Ctrl-C.
//   ultramotion demo [--config FILE] [--fps 25] [--source phantom|DIR] [--size HxW] [overrides]
#include <cstdio>
#include <string>

#include "command_registry.h"
#include "gateway/cli_options.h"
#include "gateway/frame_source.h"
#include "gateway/session.h"
#include "gateway/shutdown_signal.h"

namespace um::cli {
namespace {

struct DemoArgs {
  std::string config;
  double fps = 25.0;
  std::string source = "phantom";
  std::string size = "558x422";
  uint64_t seed = 1;
  gateway::ConfigOverrides overrides;
};

void run_demo(const DemoArgs& a) {
  gateway::GatewayConfig cfg;
  cfg.slicer.outputs.weights = true;  // the demo shows every output
  // Missing model files -> seeded synthetic weights, said loudly (log, dashboard, metadata).
  cfg.models.allow_synthetic = true;
  Status s = gateway::build_config(a.config, a.overrides, &cfg);
  Result<pipeline::FrameSize> size = gateway::parse_frame_size(a.size);
  if (s.ok() && !size.ok()) s = size.status();
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    throw CommandFailed(2);
  }
  gateway::install_shutdown_handlers();
  gateway::SessionOptions so;
  so.config = cfg;
  so.with_simulator = true;
  so.simulator.source = a.source;
  so.simulator.fps = a.fps;
  so.simulator.source_options.size = size.value();
  so.simulator.source_options.seed = a.seed;
  gateway::serve_until_signal(std::move(so), "demo");
}

void register_demo(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  CLI::App* cmd = app.add_subcommand(
      "demo", "Simulator + gateway + dashboard in one process (phantom models, moving phantom)");
  cmd->add_option("--config", args->config, "optional YAML config (e.g. configs/demo.yaml)");
  cmd->add_option("--fps", args->fps, "simulator frame rate")->capture_default_str();
  cmd->add_option("--source", args->source, "'phantom' or a folder of PNG/JPEG frames")
      ->capture_default_str();
  cmd->add_option("--size", args->size, "phantom frame size HxW")->capture_default_str();
  cmd->add_option("--seed", args->seed, "phantom seed")->capture_default_str();
  gateway::add_config_overrides(cmd, args->overrides);
  cmd->callback([args] { run_demo(*args); });
}

}  // namespace
UM_REGISTER_COMMAND(register_demo);
}  // namespace um::cli
