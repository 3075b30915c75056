// File: src/gateway/session.h
// Purpose: one process serving ultrasound to Slicer: the monitor and its dashboard, the models,
// the gateway and (for `demo` and the tests) an in-process PLUS simulator, started in that
// order and stopped in reverse. `ultramotion run` and `ultramotion demo` are thin wrappers.
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
  bool with_simulator = false;       // start a PlusSimulator on config.plus.port first
  PlusSimulatorOptions simulator;    // its port/device are taken from config.plus
  GatewayRuntime runtime;
  // Tests: a processor built elsewhere (otherwise the config's checkpoints are loaded).
  std::unique_ptr<pipeline::FrameProcessor> processor;
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
  PlusSimulator* simulator() { return simulator_.get(); }
  monitor::Monitor& monitor() { return *monitor_; }
  int dashboard_port() const { return dashboard_ ? dashboard_->port() : 0; }

 private:
  SessionOptions options_;
  std::unique_ptr<monitor::Monitor> monitor_;
  std::unique_ptr<monitor::DashboardServer> dashboard_;
  std::unique_ptr<monitor::KpiLogger> kpi_logger_;
  std::unique_ptr<PlusSimulator> simulator_;
  std::unique_ptr<Gateway> gateway_;
};

// What `run` and `demo` do once configured: start the session, print where to look, serve until
// SIGINT/SIGTERM (install_shutdown_handlers() first), stop in order, and rethrow the first stage
// error. `tag` prefixes the log line ("run", "demo"). Throws um::Error when start() fails.
void serve_until_signal(SessionOptions options, const char* tag);

}  // namespace um::gateway
