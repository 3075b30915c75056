// File: apps/ultramotion/cmd_run.cpp
// Purpose: `ultramotion run --config FILE.yaml [overrides]`: the gateway (PLUS in, Slicer out)
// with its dashboard, until SIGINT/SIGTERM. Every config error is reported at once, one line
// each; exit code 2 for a bad configuration, 1 for a runtime failure. A config with `streams:`
// serves several probes (configs/multi_probe.yaml); `--gpu N` makes this process serve physical
// GPU N only (one gateway process per GPU: start one per GPU, each with its own ports).
//   ultramotion run --config configs/default.yaml --plus-host 10.0.0.7 --set queues.tx_capacity=16
//   ultramotion run --config configs/multi_probe.yaml --gpu 1
#include <cstdio>
#include <string>

#include "command_registry.h"
#include "gateway/cli_options.h"
#include "gateway/session.h"
#include "gateway/shutdown_signal.h"

namespace um::cli {
namespace {

struct RunArgs {
  std::string config;
  gateway::ConfigOverrides overrides;
};

void run_gateway(const RunArgs& a) {
  gateway::GatewayConfig cfg;
  Status s = gateway::build_config(a.config, a.overrides, &cfg);
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    throw CommandFailed(2);
  }
  gateway::select_gpu(cfg.gpu);  // before any CUDA call (the models load in the session)
  gateway::install_shutdown_handlers();
  gateway::SessionOptions so;
  so.config = cfg;
  gateway::serve_until_signal(std::move(so), "run");
}

void register_run(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand(
      "run", "Run the gateway: PlusServer -> D-FINE + MobileSAM -> 3D Slicer, with dashboard");
  cmd->add_option("--config", args->config, "YAML config (configs/default.yaml documents keys)");
  gateway::add_config_overrides(cmd, args->overrides);
  cmd->callback([args] { run_gateway(*args); });
}

}  // namespace
UM_REGISTER_COMMAND(register_run);
}  // namespace um::cli
