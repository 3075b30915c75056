// File: src/gateway/session.h
// Purpose: one process serving ultrasound to Slicer: the monitor and its dashboard, the models,
// the gateway and (for `demo` and the tests) in-process PLUS simulators (one per stream),
// started in that order and stopped in reverse. `ultramotion run` and `ultramotion demo` are
// thin wrappers. One process serves one GPU: select_gpu(cfg.gpu) in main before any CUDA call.
// Usage:
//   SessionOptions o; o.config = cfg; o.with_simulator = true;
//   Session s(std::move(o));
//   UM_RETURN_IF_ERROR(s.start());            // validates, loads models, binds every port
//   std::puts(s.where_to_look().c_str());
//   wait_for_shutdown(...); s.stop();         // orderly: recording completed, sockets closed
//   if (auto e = s.first_error()) std::rethrow_exception(e);
#pragma once

#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "gateway/config.h"
#include "gateway/gateway.h"
#include "gateway/plus_simulator.h"
#include "monitor/http_server.h"
#include "monitor/kpi_logger.h"
#include "monitor/monitor.h"

namespace um::gateway {

struct SessionOptions {
  GatewayConfig config;
  // Start a PlusSimulator per stream on its plus port first (port 0: an ephemeral port, which
  // the stream then uses); stream i's simulator gets seed simulator.source_options.seed + i.
  bool with_simulator = false;
  PlusSimulatorOptions simulator;    // port/device are taken from each stream's plus settings
  GatewayRuntime runtime;
  // Tests: a processor built elsewhere for a single-stream config, or one per stream in
  // `processors` (otherwise the config's checkpoints are loaded once for all streams).
  std::unique_ptr<pipeline::FrameProcessor> processor;
  std::vector<std::unique_ptr<pipeline::FrameProcessor>> processors;
};

class Session {
 public:
  explicit Session(SessionOptions options);
  ~Session();  // stop()

  // Validates the config (every error at once), starts the simulator, the dashboard, loads the
  // models and starts the gateway. On error everything already started is stopped again.
  Status start();
  void stop();

  // Human-readable summary: ports, dashboard URL, model, where Slicer should connect.
  std::string where_to_look() const;
  std::exception_ptr first_error() const;
  Gateway* gateway() { return gateway_.get(); }
  PlusSimulator* simulator(size_t stream = 0) {
    return stream < simulators_.size() ? simulators_[stream].get() : nullptr;
  }
  // The config in force (simulator ports filled in).
  const GatewayConfig& config() const { return options_.config; }
  monitor::Monitor& monitor() { return *monitor_; }
  int dashboard_port() const { return dashboard_ ? dashboard_->port() : 0; }

 private:
  SessionOptions options_;
  std::unique_ptr<monitor::Monitor> monitor_;
  std::unique_ptr<monitor::DashboardServer> dashboard_;
  std::unique_ptr<monitor::KpiLogger> kpi_logger_;
  std::vector<std::unique_ptr<PlusSimulator>> simulators_;
  std::unique_ptr<Gateway> gateway_;
};

// What `run` and `demo` do once configured: start the session, print where to look, serve until
// SIGINT/SIGTERM (install_shutdown_handlers() first), stop in order, and rethrow the first stage
// error. `tag` prefixes the log line ("run", "demo"). Throws um::Error when start() fails.
void serve_until_signal(SessionOptions options, const char* tag);

// `--gpu N` (config gpu >= 0): makes physical GPU N the only one this process sees, by setting
// CUDA_DEVICE_ORDER=PCI_BUS_ID (the numbering nvidia-smi and NVML use) and
// CUDA_VISIBLE_DEVICES=N. Must run before the first CUDA call of the process (main, after the
// config is read). No other distribution: several GPUs = one gateway process per GPU, each with
// its own streams and ports. gpu < 0: the environment is left alone.
void select_gpu(int gpu);

}  // namespace um::gateway
