// File: apps/ultramotion/cmd_demo.cpp
// Purpose: `ultramotion demo`: everything in one process: the PLUS simulator streaming the
// moving phantom, the gateway with the bundled phantom models, the dashboard; prints where to
// look and runs until Ctrl-C. `--streams N`: N probes in one gateway (sharing the models), each
// with its own simulator: stream i (probe1..probeN) reads PLUS port plus.port + 2i and serves
// Slicer on slicer.port + 2i (defaults 18944/18945, 18946/18947, ...).
//   ultramotion demo [--config FILE] [--fps 25] [--source phantom|DIR] [--size HxW]
//                    [--streams N] [--gpu N] [overrides]
#include <cstdio>
#include <string>

#include "command_registry.h"
#include "gateway/cli_options.h"
#include "gateway/frame_source.h"
#include "gateway/session.h"
#include "gateway/shutdown_signal.h"
#include "gateway/stream_config.h"

namespace um::cli {
namespace {

struct DemoArgs {
  std::string config;
  double fps = 25.0;
  std::string source = "phantom";
  std::string size = "558x422";
  uint64_t seed = 1;
  int streams = 0;  // 0: the config's streams (one without `streams:`)
  gateway::ConfigOverrides overrides;
};

void run_demo(const DemoArgs& a) {
  gateway::GatewayConfig cfg;
  cfg.slicer.outputs.weights = true;  // the demo shows every output
  // Missing model files -> seeded synthetic weights, said loudly (log, dashboard, metadata).
  cfg.models.allow_synthetic = true;
  Status s = gateway::build_config(a.config, a.overrides, &cfg);
  if (s.ok() && a.streams > 0) {
    // N simulated probes on pairs of consecutive ports, then validated like any config.
    cfg.streams.clear();
    for (int i = 0; i < a.streams; ++i) {
      gateway::StreamSpec spec;
      spec.name = "probe" + std::to_string(i + 1);
      spec.plus_port = cfg.plus.port == 0 ? 0 : cfg.plus.port + 2 * i;
      spec.slicer_port = cfg.slicer.port == 0 ? 0 : cfg.slicer.port + 2 * i;
      cfg.streams.push_back(std::move(spec));
    }
    s = gateway::validate_config(cfg);
  }
  if (s.ok() && (a.streams < 0 || a.streams > gateway::kMaxStreams))
    s = invalid_argument("--streams " + std::to_string(a.streams) + " is out of range 1.." +
                         std::to_string(gateway::kMaxStreams));
  Result<pipeline::FrameSize> size = gateway::parse_frame_size(a.size);
  if (s.ok() && !size.ok()) s = size.status();
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    throw CommandFailed(2);
  }
  gateway::select_gpu(cfg.gpu);  // before any CUDA call
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
  cmd->add_option("--seed", args->seed, "phantom seed (stream i uses seed + i)")
      ->capture_default_str();
  cmd->add_option("--streams", args->streams,
                  "simulated probes served by one gateway (own simulator, PLUS port "
                  "plus.port+2i, Slicer port slicer.port+2i)");
  gateway::add_config_overrides(cmd, args->overrides);
  cmd->callback([args] { run_demo(*args); });
}

}  // namespace
UM_REGISTER_COMMAND(register_demo);
}  // namespace um::cli
