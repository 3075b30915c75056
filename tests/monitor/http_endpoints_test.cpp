// File: tests/monitor/http_endpoints_test.cpp
// Purpose: the figures are right end to end: known delays and drops go into the registry, and
// the same numbers come back from all three endpoints -- /api/v1/metrics (JSON), /metrics
// (Prometheus text) and /api/v1/events (server-sent events) -- plus the other routes.
#include <gtest/gtest.h>
#include <httplib.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "core/clock.h"
#include "monitor/assets.h"
#include "monitor/http_server.h"
#include "monitor/monitor.h"

namespace um::monitor {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kS = 1'000'000'000;
using nlohmann::json;

class EndpointsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MonitorOptions o;
    o.start_sampler = false;  // the test owns the clock for rates
    o.probe_gpu = false;
    o.percentile_window = std::chrono::milliseconds(600'000);
    monitor_ = std::make_unique<Monitor>(o);
    feed_known_figures();
    server_ = std::make_unique<DashboardServer>(*monitor_, DashboardOptions{"127.0.0.1", 0, 4});
    ASSERT_TRUE(server_->start().ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(10, 0);
  }
  void TearDown() override {
    client_.reset();
    server_->stop();
  }

  // Stage "known": 90 x 4 ms, 8 x 20 ms, 2 x 100 ms -> n 100, p50 4, p95 20, p99 100, max 100,
  // mean 7.2 ms, sum 0.72 s. RX->TX: 10 x 30 ms. Drops: rx/stale 7, tx/outbox_full 3.
  // 50 frames in and 40 out over exactly 2 s of test clock -> 25 and 20 fps.
  void feed_known_figures() {
    PipelineMetrics& pm = monitor_->pipeline();
    const int64_t now = monotonic_ns();
    auto& known = pm.stage_latency("known");
    for (int i = 0; i < 90; ++i) known.record_ns(4 * kMs, now);
    for (int i = 0; i < 8; ++i) known.record_ns(20 * kMs, now);
    for (int i = 0; i < 2; ++i) known.record_ns(100 * kMs, now);
    const int64_t base = now + 1;  // sample points after every record time
    monitor_->sample(base);
    for (int i = 0; i < 50; ++i) pm.frame_received(now);
    for (int i = 0; i < 10; ++i) pm.frame_sent(now, 30 * kMs);
    pm.frames_out().inc(30);
    pm.drops("rx", "stale").inc(7);
    pm.drops("tx", "outbox_full").inc(3);
    pm.queue_depth("tx").set(5);
    pm.set_connected("plus", true);
    pm.reconnects("plus").inc(2);
    pm.set_visibility(VisibilityState::kRelocalizing, now);
    monitor_->sample(base + 2 * kS);
    monitor_->set_config_json(R"({"dashboard":{"port":8050},"tau_conf":0.5})");
    monitor_->set_synthetic_weights(true, "random init");
  }

  // The checks shared by the JSON endpoint and the SSE payload.
  static void expect_known_json(const json& m) {
    const json& k = m["latency_ms"]["stages"]["known"];
    EXPECT_EQ(k["count"], 100);
    EXPECT_DOUBLE_EQ(k["p50"].get<double>(), 4.0);
    EXPECT_DOUBLE_EQ(k["p95"].get<double>(), 20.0);
    EXPECT_DOUBLE_EQ(k["p99"].get<double>(), 100.0);
    EXPECT_DOUBLE_EQ(k["max"].get<double>(), 100.0);
    EXPECT_NEAR(k["mean"].get<double>(), 7.2, 1e-9);
    EXPECT_EQ(k["total"]["count"], 100);
    const json& rx = m["latency_ms"]["rx_to_tx"];
    EXPECT_EQ(rx["count"], 10);
    EXPECT_DOUBLE_EQ(rx["p95"].get<double>(), 30.0);
    EXPECT_DOUBLE_EQ(m["fps"]["in"].get<double>(), 25.0);
    EXPECT_DOUBLE_EQ(m["fps"]["out"].get<double>(), 20.0);
    EXPECT_EQ(m["frames"]["received"], 50);
    EXPECT_EQ(m["frames"]["sent"], 40);
    EXPECT_EQ(m["drops"]["total"], 10);
    EXPECT_DOUBLE_EQ(m["drops"]["ratio"].get<double>(), 10.0 / 50.0);
    std::map<std::string, int> by;
    for (const json& d : m["drops"]["by"]) {
      by[d["stage"].get<std::string>() + "/" + d["reason"].get<std::string>()] = d["count"];
    }
    EXPECT_EQ(by["rx/stale"], 7);
    EXPECT_EQ(by["tx/outbox_full"], 3);
    EXPECT_DOUBLE_EQ(m["queues"]["tx"].get<double>(), 5.0);
    EXPECT_EQ(m["streams"]["plus"]["connected"], true);
    EXPECT_EQ(m["streams"]["plus"]["reconnects"], 2);
    EXPECT_EQ(m["visibility"]["state"], "relocalizing");
    EXPECT_EQ(m["synthetic_weights"]["active"], true);
    EXPECT_EQ(m["gpu"]["available"], false);
    EXPECT_FALSE(m["gpu"]["reason"].get<std::string>().empty());
  }

  std::unique_ptr<Monitor> monitor_;
  std::unique_ptr<DashboardServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(EndpointsTest, JsonMetricsCarryTheKnownFigures) {
  auto res = client_->Get("/api/v1/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  expect_known_json(json::parse(res->body));
}

// Minimal parser of the exposition format for the assertions below: "name{labels} value".
std::map<std::string, double> parse_samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t sp = line.rfind(' ');
    out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
  }
  return out;
}

TEST_F(EndpointsTest, PrometheusCarriesTheKnownFigures) {
  auto res = client_->Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& t = res->body;
  EXPECT_NE(t.find("# TYPE um_stage_latency_seconds histogram\n"), std::string::npos);
  EXPECT_NE(t.find("# TYPE um_drops_total counter\n"), std::string::npos);
  const auto s = parse_samples(t);
  const std::string h = "um_stage_latency_seconds";
  EXPECT_EQ(s.at(h + "_bucket{stage=\"known\",le=\"0.003\"}"), 0);
  EXPECT_EQ(s.at(h + "_bucket{stage=\"known\",le=\"0.004\"}"), 90);
  EXPECT_EQ(s.at(h + "_bucket{stage=\"known\",le=\"0.015\"}"), 90);
  EXPECT_EQ(s.at(h + "_bucket{stage=\"known\",le=\"0.02\"}"), 98);
  EXPECT_EQ(s.at(h + "_bucket{stage=\"known\",le=\"0.1\"}"), 100);
  EXPECT_EQ(s.at(h + "_bucket{stage=\"known\",le=\"+Inf\"}"), 100);
  EXPECT_EQ(s.at(h + "_count{stage=\"known\"}"), 100);
  EXPECT_NEAR(s.at(h + "_sum{stage=\"known\"}"), 0.72, 1e-12);
  EXPECT_EQ(s.at("um_rx_to_tx_latency_seconds_count"), 10);
  EXPECT_NEAR(s.at("um_rx_to_tx_latency_seconds_sum"), 0.3, 1e-12);
  EXPECT_EQ(s.at("um_drops_total{reason=\"stale\",stage=\"rx\"}"), 7);
  EXPECT_EQ(s.at("um_drops_total{reason=\"outbox_full\",stage=\"tx\"}"), 3);
  EXPECT_EQ(s.at("um_frames_received_total"), 50);
  EXPECT_EQ(s.at("um_frames_sent_total"), 40);
  EXPECT_EQ(s.at("um_queue_depth{queue=\"tx\"}"), 5);
  EXPECT_EQ(s.at("um_fps{direction=\"in\"}"), 25);
  EXPECT_EQ(s.at("um_reconnects_total{stream=\"plus\"}"), 2);
  EXPECT_EQ(s.at("um_visibility_state"), 2);
  EXPECT_EQ(s.at("um_gpu_available"), 0);
  EXPECT_EQ(s.count("um_gpu_utilization_percent{gpu=\"0\"}"), 0u);  // never invented
  EXPECT_GT(s.at("um_process_resident_memory_bytes"), 0);
}

TEST_F(EndpointsTest, ServerSentEventsCarryTheKnownFigures) {
  std::string buffer;
  json event;
  auto res = client_->Get("/api/v1/events", [&](const char* data, size_t len) {
    buffer.append(data, len);
    const size_t end = buffer.find("\n\n", buffer.find("data: "));
    if (buffer.find("data: ") == std::string::npos || end == std::string::npos) return true;
    const size_t start = buffer.find("data: ") + 6;
    event = json::parse(buffer.substr(start, end - start));
    return false;  // one event is enough: stop the stream
  });
  ASSERT_FALSE(event.is_null()) << "no event received; got: " << buffer;
  EXPECT_NE(buffer.find("event: metrics\n"), std::string::npos);
  expect_known_json(event);

  // A new sample produces the next event on an open stream.
  std::string second;
  std::thread later([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    monitor_->pipeline().drops("rx", "stale").inc(1);
    monitor_->sample(monotonic_ns() + 3 * kS);
  });
  int events = 0;
  client_->Get("/api/v1/events", [&](const char* data, size_t len) {
    second.append(data, len);
    size_t n = 0;
    for (size_t p = second.find("event: metrics"); p != std::string::npos;
         p = second.find("event: metrics", p + 1)) {
      ++n;
    }
    events = static_cast<int>(n);
    return events < 2 || second.substr(second.rfind("data: ")).find("\n\n") == std::string::npos;
  });
  later.join();
  ASSERT_GE(events, 2);
  const size_t start = second.rfind("data: ") + 6;
  const json last = json::parse(second.substr(start, second.find("\n\n", start) - start));
  EXPECT_EQ(last["drops"]["total"], 11);
}

TEST_F(EndpointsTest, HealthConfigFrameAndPage) {
  // Health: frames arrived "now" and the plus stream is up, but 10 of 50 frames dropped is
  // below the 50% limit -> ok; then the stream drops out -> 503 with the reason.
  auto res = client_->Get("/api/v1/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body)["status"], "ok");
  monitor_->pipeline().set_connected("plus", false);
  res = client_->Get("/api/v1/health");
  EXPECT_EQ(res->status, 503);
  const json h = json::parse(res->body);
  EXPECT_EQ(h["status"], "degraded");
  EXPECT_EQ(h["reasons"][0], "stream 'plus' disconnected");

  res = client_->Get("/api/v1/config");
  EXPECT_EQ(json::parse(res->body)["tau_conf"], 0.5);

  res = client_->Get("/api/v1/frame.png");
  EXPECT_EQ(res->status, 404);
  std::vector<uint8_t> gray(64 * 48, 80), mask(64 * 48, 1);
  FrameView f;
  f.width = 64;
  f.height = 48;
  f.gray = gray.data();
  f.mask = mask.data();
  f.box = std::array<float, 4>{4, 4, 60, 44};
  ASSERT_TRUE(monitor_->offer_frame(f, monotonic_ns()));
  res = client_->Get("/api/v1/frame.png");
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "image/png");
  EXPECT_EQ(res->body.substr(1, 3), "PNG");

  res = client_->Get("/");
  ASSERT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("/assets/chart.min.js"), std::string::npos);
  EXPECT_NE(res->body.find("synthetic-banner"), std::string::npos);
  res = client_->Get("/assets/chart.min.js");
  ASSERT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("Chart.js v"), std::string::npos);  // Debian's build, embedded
  const Asset* a = find_asset("/assets/chart.min.js");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(res->body.size(), a->data.size());
  EXPECT_EQ(client_->Get("/assets/nope.js")->status, 404);
  EXPECT_EQ(client_->Get("/api/v1/nothing")->status, 404);
}

TEST(DashboardServer, ReportsAPortInUse) {
  MonitorOptions o;
  o.start_sampler = false;
  o.probe_gpu = false;
  Monitor m(o);
  DashboardServer first(m, {"127.0.0.1", 0, 2});
  ASSERT_TRUE(first.start().ok());
  DashboardServer second(m, {"127.0.0.1", first.port(), 2});
  const Status s = second.start();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find(std::to_string(first.port())), std::string::npos);
  EXPECT_EQ(first.start().code(), StatusCode::kFailedPrecondition);
  DashboardServer bad(m, {"127.0.0.1", 70000, 2});
  EXPECT_EQ(bad.start().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace um::monitor
