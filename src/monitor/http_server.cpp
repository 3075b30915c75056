// File: src/monitor/http_server.cpp
// Purpose: routes of the dashboard server (see http_server.h) on cpp-httplib (Debian
// libcpp-httplib-dev). Every handler reads the Monitor; none touches the pipeline directly.
#include "monitor/http_server.h"

#include <httplib.h>

#include <spdlog/spdlog.h>

#include <chrono>

#include "core/clock.h"
#include "monitor/assets.h"
#include "monitor/prometheus.h"

namespace um::monitor {

namespace {
constexpr const char* kJson = "application/json";

void no_store(httplib::Response& res) { res.set_header("Cache-Control", "no-store"); }
}  // namespace

DashboardServer::DashboardServer(Monitor& monitor, DashboardOptions options)
    : monitor_(monitor), options_(std::move(options)), server_(std::make_unique<httplib::Server>()) {
  const int threads = options_.threads < 2 ? 2 : options_.threads;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // httplib's default also sets SO_REUSEPORT, which lets a second process listen on a port that
  // is already serving: keep only SO_REUSEADDR (quick restart), so a taken port is an error.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof(yes));
  });
  install_routes();
}

DashboardServer::~DashboardServer() { stop(); }

void DashboardServer::install_routes() {
  httplib::Server& s = *server_;
  auto serve_asset = [](const Asset* a, httplib::Response& res) {
    if (!a) {
      res.status = 404;
      res.set_content(R"({"error":"no such asset"})", kJson);
      return;
    }
    res.set_content(a->data.data(), a->data.size(), std::string(a->content_type).c_str());
  };
  s.Get("/", [serve_asset](const httplib::Request&, httplib::Response& res) {
    serve_asset(find_asset("/"), res);
    no_store(res);
  });
  s.Get(R"(/assets/([A-Za-z0-9_.\-]+))", [serve_asset](const httplib::Request& req,
                                                       httplib::Response& res) {
    serve_asset(find_asset("/assets/" + req.matches[1].str()), res);
    res.set_header("Cache-Control", "max-age=300");
  });
  // Browsers ask for it on every page load; answer "nothing" instead of a 404 in the console.
  s.Get("/favicon.ico", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  s.Get("/api/v1/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(monitor_.metrics_json(monotonic_ns()), kJson);
    no_store(res);
  });
  s.Get("/api/v1/streams", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(monitor_.streams_json(monotonic_ns()), kJson);
    no_store(res);
  });
  s.Get("/api/v1/history", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(monitor_.history_json(), kJson);
    no_store(res);
  });
  s.Get("/api/v1/health", [this](const httplib::Request&, httplib::Response& res) {
    const int64_t now = monotonic_ns();
    res.status = monitor_.health(now).ok ? 200 : 503;
    res.set_content(monitor_.health_json(now), kJson);
    no_store(res);
  });
  s.Get("/api/v1/config", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(monitor_.config_json(), kJson);
    no_store(res);
  });
  s.Get("/api/v1/frame.png", [this](const httplib::Request&, httplib::Response& res) {
    std::optional<std::string> png = monitor_.latest_frame_png();
    if (!png) {
      res.status = 404;
      res.set_content(R"({"error":"no frame yet"})", kJson);
    } else {
      res.set_content(std::move(*png), "image/png");
    }
    no_store(res);
  });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(monitor_.prometheus_text(monotonic_ns()), kPrometheusContentType);
    no_store(res);
  });
  s.Get("/api/v1/events", [this](const httplib::Request&, httplib::Response& res) {
    no_store(res);
    res.set_header("X-Accel-Buffering", "no");
    // State per stream: the last sample seq sent (0 = send the current figures at once).
    auto last_seq = std::make_shared<uint64_t>(0);
    res.set_chunked_content_provider(
        "text/event-stream", [this, last_seq](size_t, httplib::DataSink& sink) {
          if (stopping_.load() || monitor_.shutting_down() || !sink.is_writable()) return false;
          std::string msg;
          if (*last_seq == 0) {
            msg = "retry: 2000\n";
            const auto s = monitor_.last_sample();
            *last_seq = s ? s->seq : 1;
          } else {
            // Short waits so stop() is honoured quickly even without new samples.
            const uint64_t seq = monitor_.wait_for_sample(*last_seq, std::chrono::milliseconds(250));
            if (stopping_.load() || monitor_.shutting_down()) return false;
            if (seq == *last_seq) {
              msg = ": keepalive\n\n";
              return sink.write(msg.data(), msg.size());
            }
            *last_seq = seq;
          }
          msg += "id: " + std::to_string(*last_seq) + "\nevent: metrics\ndata: ";
          msg += monitor_.metrics_json(monotonic_ns());  // single-line JSON: no "\n" inside
          msg += "\n\n";
          return sink.write(msg.data(), msg.size());
        });
  });
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      res.set_content(R"({"error":"HTTP )" + std::to_string(res.status) + R"("})", kJson);
    }
  });
}

Status DashboardServer::start() {
  if (running_.load() || thread_.joinable()) {
    return failed_precondition("dashboard server already started");
  }
  if (options_.port < 0 || options_.port > 65535) {
    return invalid_argument("dashboard port out of range: " + std::to_string(options_.port));
  }
  if (options_.port == 0) {
    port_ = server_->bind_to_any_port(options_.host.c_str());
    if (port_ <= 0) return unavailable("dashboard: cannot bind any port on " + options_.host);
  } else {
    if (!server_->bind_to_port(options_.host.c_str(), options_.port)) {
      return unavailable("dashboard: cannot listen on " + options_.host + ":" +
                         std::to_string(options_.port) + " (port in use or address invalid)");
    }
    port_ = options_.port;
  }
  stopping_ = false;
  running_ = true;
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    running_ = false;
  });
  wait_until_listening();
  spdlog::info("dashboard: http://{}:{}/", options_.host, port_);
  return Status::Ok();
}

// httplib's Server::stop() does nothing until listen_after_bind() has marked the server running
// on its thread; a stop() that came earlier would leave that thread in accept() forever (and
// join() with it). So start() returns only once the loop runs (or has already ended).
void DashboardServer::wait_until_listening() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->is_running() && running_.load() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void DashboardServer::stop() {
  stopping_ = true;
  if (thread_.joinable()) wait_until_listening();
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  running_ = false;
}

}  // namespace um::monitor
