// Session: start-up and shutdown order of a whole gateway process (session.h).
#include "gateway/session.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>

#include "gateway/model_setup.h"
#include "gateway/shutdown_signal.h"

namespace um::gateway {

Session::Session(SessionOptions options) : options_(std::move(options)) {}

Session::~Session() { stop(); }

Status Session::start() {
  GatewayConfig& cfg = options_.config;
  UM_RETURN_IF_ERROR(validate_config(cfg));
  if (cfg.plus.port == 0 && !options_.with_simulator)
    return invalid_argument("plus.port: 0 (any free port) only makes sense with the simulator");
  spdlog::info("[session] configuration in force:\n{}", config_to_yaml(cfg));

  monitor_ = std::make_unique<monitor::Monitor>();
  monitor_->set_config_json(config_to_json(cfg));
  if (options_.with_simulator) {
    PlusSimulatorOptions so = options_.simulator;
    so.host = cfg.plus.host;
    so.port = static_cast<uint16_t>(cfg.plus.port);
    if (!cfg.plus.device.empty()) so.device = cfg.plus.device;
    simulator_ = std::make_unique<PlusSimulator>(so);
    Status s = simulator_->start();
    if (!s.ok()) {
      simulator_.reset();
      return s.with_context("PLUS simulator on port " + std::to_string(cfg.plus.port));
    }
    cfg.plus.port = simulator_->port();  // an ephemeral port (0) is now known
  }
  if (cfg.dashboard.enabled) {
    monitor::DashboardOptions d;
    d.host = "0.0.0.0";
    d.port = cfg.dashboard.port;
    dashboard_ = std::make_unique<monitor::DashboardServer>(*monitor_, d);
    Status s = dashboard_->start();
    if (!s.ok()) {
      stop();
      return s.with_context("dashboard on port " + std::to_string(cfg.dashboard.port));
    }
  }
  if (!cfg.kpi_log.file.empty()) {
    kpi_logger_ = std::make_unique<monitor::KpiLogger>(
        *monitor_, cfg.kpi_log.file, std::chrono::milliseconds(cfg.kpi_log.interval_ms));
    Status s = kpi_logger_->start();
    if (!s.ok()) {
      kpi_logger_.reset();
      stop();
      return s.with_context("kpi_log.file " + cfg.kpi_log.file);
    }
  }
  std::unique_ptr<pipeline::FrameProcessor> processor = std::move(options_.processor);
  GatewayRuntime runtime = options_.runtime;
  if (!processor) {
    // Synthetic weights for missing checkpoints (models.allow_synthetic): said in the log
    // (make_frame_processor), on the dashboard banner and in every BoneMask's metadata.
    Result<pipeline::ProcessorOptions> po = processor_options(cfg);
    if (!po.ok()) {
      stop();
      return po.status();
    }
    const std::string synthetic = pipeline::synthetic_models_label(*po);
    if (synthetic != "none") {
      const std::string detail = synthetic_weights_detail(*po);
      monitor_->set_synthetic_weights(true, detail);
      runtime.weights_note = detail;
      runtime.synthetic_weights = synthetic;
    }
    auto p = make_frame_processor(cfg);
    if (!p.ok()) {
      stop();
      return p.status();
    }
    processor = std::move(p).value();
  }
  gateway_ = std::make_unique<Gateway>(cfg, std::move(processor), *monitor_, std::move(runtime));
  Status s = gateway_->start();
  if (!s.ok()) {
    gateway_.reset();
    stop();
    return s;
  }
  return Status::Ok();
}

void Session::stop() {
  if (gateway_) gateway_->stop();
  if (simulator_) simulator_->stop();
  if (kpi_logger_) kpi_logger_->stop();  // after the gateway: the last line holds the final figures
  if (dashboard_) dashboard_->stop();
}

std::exception_ptr Session::first_error() const {
  return gateway_ ? gateway_->first_error() : nullptr;
}

std::string Session::where_to_look() const {
  const GatewayConfig& cfg = options_.config;
  std::string s;
  s += "UltraMotion is running\n";
  if (simulator_)
    s += "  PLUS simulator   : 127.0.0.1:" + std::to_string(simulator_->port()) + " device '" +
         (cfg.plus.device.empty() ? std::string("Image_Reference") : cfg.plus.device) + "', " +
         simulator_->source_description() + "\n";
  else
    s += "  PLUS input       : " + cfg.plus.host + ":" + std::to_string(cfg.plus.port) +
         " device '" + cfg.plus.device + "'\n";
  if (gateway_) {
    s += "  3D Slicer        : OpenIGTLinkIF client to <this host>:" +
         std::to_string(gateway_->slicer_port()) + " -> labelmap '" + cfg.slicer.device + "'";
    if (cfg.slicer.outputs.weights) s += " (+ _Wedge, _Win, _Wout)";
    s += "\n  models           : " + gateway_->processor_description() + "\n";
  }
  if (dashboard_)
    s += "  dashboard        : http://127.0.0.1:" + std::to_string(dashboard_->port()) +
         "/  (JSON /api/v1/metrics, Prometheus /metrics)\n";
  if (!cfg.record.empty()) s += "  recording        : " + cfg.record + "\n";
  s += "  stop with Ctrl-C (SIGINT) or SIGTERM\n";
  return s;
}

void serve_until_signal(SessionOptions options, const char* tag) {
  Session session(std::move(options));
  throw_if_error(session.start());
  std::printf("%s", session.where_to_look().c_str());
  std::fflush(stdout);
  while (!wait_for_shutdown(std::chrono::milliseconds(500))) {
  }
  spdlog::info("[{}] signal {} received: shutting down", tag, shutdown_signal_number());
  session.stop();
  if (auto e = session.first_error()) std::rethrow_exception(e);
}

}  // namespace um::gateway
