// Session: start-up and shutdown order of a whole gateway process (session.h).
#include "gateway/session.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "gateway/model_setup.h"
#include "gateway/shutdown_signal.h"
#include "gateway/stream_config.h"

namespace um::gateway {

Session::Session(SessionOptions options) : options_(std::move(options)) {}

Session::~Session() { stop(); }

Status Session::start() {
  GatewayConfig& cfg = options_.config;
  UM_RETURN_IF_ERROR(validate_config(cfg));
  for (const StreamSettings& st : effective_streams(cfg))
    if (st.plus.port == 0 && !options_.with_simulator)
      return invalid_argument("plus.port: 0 (any free port) only makes sense with the simulator");
  spdlog::info("[session] configuration in force:\n{}", config_to_yaml(cfg));

  monitor::MonitorOptions mo;
  mo.gpu_index = cfg.gpu;  // --gpu N: the dashboard shows physical GPU N only
  monitor_ = std::make_unique<monitor::Monitor>(mo);
  if (options_.with_simulator) {
    const std::vector<StreamSettings> streams = effective_streams(cfg);
    for (size_t i = 0; i < streams.size(); ++i) {
      PlusSimulatorOptions so = options_.simulator;
      so.host = streams[i].plus.host;
      so.port = static_cast<uint16_t>(streams[i].plus.port);
      if (!streams[i].plus.device.empty()) so.device = streams[i].plus.device;
      so.source_options.seed += i;  // each probe sees its own phantom motion
      auto sim = std::make_unique<PlusSimulator>(so);
      Status s = sim->start();
      if (!s.ok()) {
        stop();
        return s.with_context("PLUS simulator of stream '" + streams[i].name + "' on port " +
                              std::to_string(streams[i].plus.port));
      }
      // An ephemeral port (0) is now known: the stream connects there.
      if (has_stream_list(cfg)) cfg.streams[i].plus_port = sim->port();
      else cfg.plus.port = sim->port();
      simulators_.push_back(std::move(sim));
    }
  }
  monitor_->set_config_json(config_to_json(cfg));
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
  std::vector<std::unique_ptr<pipeline::FrameProcessor>> processors =
      std::move(options_.processors);
  if (options_.processor) processors.insert(processors.begin(), std::move(options_.processor));
  GatewayRuntime runtime = options_.runtime;
  if (processors.empty()) {
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
    auto p = make_frame_processors(cfg);
    if (!p.ok()) {
      stop();
      return p.status();
    }
    processors = std::move(p).value();
  }
  if (processors.size() != effective_streams(cfg).size()) {
    stop();
    return invalid_argument("session: " + std::to_string(processors.size()) +
                            " processor(s) given for " +
                            std::to_string(effective_streams(cfg).size()) + " stream(s)");
  }
  gateway_ = std::make_unique<Gateway>(cfg, std::move(processors), *monitor_, std::move(runtime));
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
  for (auto& sim : simulators_) sim->stop();
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
  const std::vector<StreamSettings> streams = effective_streams(cfg);
  for (size_t i = 0; i < streams.size(); ++i) {
    const StreamSettings& st = streams[i];
    if (streams.size() > 1) s += "  stream '" + st.name + "'\n";
    if (i < simulators_.size())
      s += "  PLUS simulator   : 127.0.0.1:" + std::to_string(simulators_[i]->port()) +
           " device '" + (st.plus.device.empty() ? std::string("Image_Reference") : st.plus.device) +
           "', " + simulators_[i]->source_description() + "\n";
    else
      s += "  PLUS input       : " + st.plus.host + ":" + std::to_string(st.plus.port) +
           " device '" + st.plus.device + "'\n";
    if (gateway_) {
      s += "  3D Slicer        : OpenIGTLinkIF client to <this host>:" +
           std::to_string(gateway_->slicer_port(i)) + " -> labelmap '" + st.slicer.device + "'";
      if (cfg.slicer.outputs.weights) s += " (+ _Wedge, _Win, _Wout)";
      s += "\n";
    }
  }
  if (gateway_) s += "  models           : " + gateway_->processor_description() + "\n";
  if (cfg.gpu >= 0)
    s += "  GPU              : physical GPU " + std::to_string(cfg.gpu) +
         " (CUDA_VISIBLE_DEVICES); one gateway process per GPU\n";
  if (dashboard_)
    s += "  dashboard        : http://127.0.0.1:" + std::to_string(dashboard_->port()) +
         "/  (JSON /api/v1/metrics, /api/v1/streams, Prometheus /metrics)\n";
  if (!cfg.record.empty()) s += "  recording        : " + cfg.record + "\n";
  s += "  stop with Ctrl-C (SIGINT) or SIGTERM\n";
  return s;
}

void select_gpu(int gpu) {
  if (gpu < 0) return;
  const std::string n = std::to_string(gpu);
  const char* before = std::getenv("CUDA_VISIBLE_DEVICES");
  if (before && n != before)
    spdlog::warn("[gpu] --gpu {} replaces CUDA_VISIBLE_DEVICES='{}'", gpu, before);
  ::setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID", 1);
  ::setenv("CUDA_VISIBLE_DEVICES", n.c_str(), 1);
  spdlog::info("[gpu] this process serves physical GPU {} (CUDA_VISIBLE_DEVICES={}); one gateway "
               "process per GPU",
               gpu, n);
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
