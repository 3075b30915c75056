// File: src/monitor/http_server.h
// Purpose: the dashboard HTTP server (cpp-httplib) on the dashboard port (default 8050).
// Routes (all GET):
//   /                      live dashboard page (assets compiled in, see assets.h)
//   /assets/<file>         page assets (dashboard.js, dashboard.css, chart.min.js from Debian)
//   /api/v1/metrics        JSON figures (monitor_json.cpp documents the shape)
//   /api/v1/streams        {"streams": [...]}: per-stream figures of a multi-probe gateway
//   /api/v1/history        JSON time series for the charts (one point per sample period)
//   /api/v1/health         {"status":"ok"|"degraded","reasons":[...]}; HTTP 200 ok, 503 degraded
//   /api/v1/config         the config in force (JSON handed to Monitor::set_config_json)
//   /api/v1/frame.png      latest frame with mask overlay and box; 404 before the first frame
//   /api/v1/events         server-sent events: "event: metrics" with /api/v1/metrics' JSON,
//                          one per sample period (": keepalive" comments in between)
//   /metrics               Prometheus text exposition format 0.0.4
// Usage:
//   DashboardServer http(monitor, {.host = "0.0.0.0", .port = 8050});
//   UM_RETURN_IF_ERROR(http.start());   // binds now (kUnavailable if the port is taken)
//   ... http.port() ...                  // the bound port (useful with port 0 in tests)
//   http.stop();                         // also done by the destructor
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "core/status.h"
#include "monitor/monitor.h"

namespace httplib {
class Server;
}

namespace um::monitor {

struct DashboardOptions {
  std::string host = "127.0.0.1";  // "0.0.0.0" to serve other machines
  int port = 8050;                 // 0 = any free port (tests)
  int threads = 8;                 // worker threads; each open SSE stream holds one
};

class DashboardServer {
 public:
  DashboardServer(Monitor& monitor, DashboardOptions options = {});
  ~DashboardServer();
  DashboardServer(const DashboardServer&) = delete;
  DashboardServer& operator=(const DashboardServer&) = delete;

  // Binds and starts serving on a background thread. Errors: kInvalidArgument (bad port),
  // kUnavailable (cannot bind), kFailedPrecondition (already started).
  Status start();
  void stop();
  int port() const { return port_; }
  bool running() const { return running_.load(); }

 private:
  void install_routes();
  void wait_until_listening();

  Monitor& monitor_;
  DashboardOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
  int port_ = 0;
};

}  // namespace um::monitor
