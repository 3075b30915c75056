// File: tests/monitor/monitor_test.cpp
// Purpose: Monitor behaviour with a test-driven clock: fps from counters over the rate window,
// health rules, frame throttling, the overlay PNG, the Prometheus text format, the KPI log.
#include <gtest/gtest.h>
#include <png.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "core/clock.h"
#include "monitor/frame_png.h"
#include "monitor/kpi_logger.h"
#include "monitor/monitor.h"
#include "monitor/prometheus.h"

namespace um::monitor {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kS = 1'000'000'000;
using nlohmann::json;

MonitorOptions manual_options() {
  MonitorOptions o;
  o.start_sampler = false;
  o.probe_gpu = false;
  return o;
}

bool has_reason(const HealthReport& h, const std::string& needle) {
  for (const auto& r : h.reasons) {
    if (r.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(Monitor, FpsIsTheCounterDeltaOverTheRateWindow) {
  Monitor m(manual_options());
  const int64_t base = monotonic_ns();
  m.sample(base);
  for (int i = 0; i < 50; ++i) m.pipeline().frame_received(base + i * 40 * kMs);
  for (int i = 0; i < 40; ++i) m.pipeline().frame_sent(base + i * 40 * kMs, 30 * kMs);
  for (int i = 0; i < 5; ++i) m.pipeline().drops("rx", "stale").inc();
  m.sample(base + 1 * kS);  // younger than the 2 s window: not used as the base
  m.sample(base + 2 * kS);
  const auto s = m.last_sample();
  ASSERT_TRUE(s);
  EXPECT_DOUBLE_EQ(s->fps_in, 25.0);
  EXPECT_DOUBLE_EQ(s->fps_out, 20.0);
  EXPECT_DOUBLE_EQ(s->drop_rate, 2.5);
  EXPECT_DOUBLE_EQ(s->drop_ratio, 0.1);
  EXPECT_EQ(s->frames_in_window, 50u);
  // One more second with 10 frames: the base is now the point at base + 1 s.
  for (int i = 0; i < 10; ++i) m.pipeline().frame_received(base + 2 * kS + i * kMs);
  m.sample(base + 3 * kS);
  EXPECT_DOUBLE_EQ(m.last_sample()->fps_in, 10.0 / 2.0);
  EXPECT_EQ(m.history().size(), 5u);  // the constructor's point + four
}

TEST(Monitor, HistoryIsBounded) {
  MonitorOptions o = manual_options();
  o.history_points = 3;
  Monitor m(o);
  const int64_t base = monotonic_ns();
  for (int i = 0; i < 10; ++i) m.sample(base + i * kS);
  const auto h = m.history();
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h.back().at_ns, base + 9 * kS);
  EXPECT_LT(h.front().seq, h.back().seq);
}

TEST(Monitor, HealthReasons) {
  Monitor m(manual_options());
  const int64_t t = monotonic_ns();
  HealthReport h = m.health(t);
  EXPECT_FALSE(h.ok);
  EXPECT_TRUE(has_reason(h, "no frames received yet"));

  m.pipeline().frame_received(t);
  m.pipeline().set_connected("plus", true);
  EXPECT_TRUE(m.health(t + 1 * kS).ok);
  h = m.health(t + 3 * kS);  // > 2 s without a frame
  EXPECT_FALSE(h.ok);
  EXPECT_TRUE(has_reason(h, "no frames for 3.0 s"));

  m.pipeline().set_connected("slicer", false);
  h = m.health(t + 1 * kS);
  EXPECT_TRUE(has_reason(h, "stream 'slicer' disconnected"));
  m.pipeline().set_connected("slicer", true);

  // 20 frames, 15 dropped within the window: 75% > 50%.
  m.sample(t);
  for (int i = 0; i < 20; ++i) m.pipeline().frame_received(t + i * kMs);
  m.pipeline().drops("rx", "stale").inc(15);
  m.sample(t + 2 * kS);
  h = m.health(t + 100 * kMs);
  EXPECT_TRUE(has_reason(h, "high drop rate: 75%")) << (h.reasons.empty() ? "" : h.reasons[0]);
  const json hj = json::parse(m.health_json(t + 100 * kMs));
  EXPECT_EQ(hj["status"], "degraded");
}

TEST(Monitor, OfferFrameIsThrottledAndValidated) {
  Monitor m(manual_options());
  std::vector<uint8_t> gray(16 * 8, 100), mask(16 * 8, 0);
  FrameView f;
  f.width = 16;
  f.height = 8;
  f.gray = gray.data();
  f.mask = mask.data();
  f.frame_id = 7;
  const int64_t t = monotonic_ns();
  EXPECT_TRUE(m.offer_frame(f, t));
  EXPECT_FALSE(m.offer_frame(f, t + 100 * kMs));  // within the 200 ms display period
  EXPECT_TRUE(m.offer_frame(f, t + 250 * kMs));
  FrameView bad = f;
  bad.gray = nullptr;
  EXPECT_FALSE(m.offer_frame(bad, t + 10 * kS));
  bad = f;
  bad.width = 0;
  EXPECT_FALSE(m.offer_frame(bad, t + 20 * kS));
  const auto d = m.latest_frame();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->frame_id, 7);
  EXPECT_EQ(d->seq, 2u);
}

// Decodes PNG bytes to RGB with libpng's simplified API.
std::vector<uint8_t> decode_rgb(const std::string& png, int* w, int* h) {
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  EXPECT_TRUE(png_image_begin_read_from_memory(&img, png.data(), png.size()));
  img.format = PNG_FORMAT_RGB;
  std::vector<uint8_t> px(PNG_IMAGE_SIZE(img));
  EXPECT_TRUE(png_image_finish_read(&img, nullptr, px.data(), 0, nullptr));
  *w = static_cast<int>(img.width);
  *h = static_cast<int>(img.height);
  return px;
}

TEST(FramePng, OverlayTintsTheMaskAndDrawsTheBox) {
  DisplayFrame f;
  f.width = 40;
  f.height = 30;
  f.gray.assign(40 * 30, 100);
  f.mask.assign(40 * 30, 0);
  for (int y = 10; y < 20; ++y) {
    for (int x = 10; x < 20; ++x) f.mask[y * 40 + x] = 1;
  }
  f.box = std::array<float, 4>{5, 5, 30, 25};
  Result<std::string> png = render_frame_png(f);
  ASSERT_TRUE(png.ok()) << png.status().to_string();
  int w = 0, h = 0;
  const auto px = decode_rgb(*png, &w, &h);
  ASSERT_EQ(w, 40);
  ASSERT_EQ(h, 30);
  auto at = [&](int x, int y, int c) { return px[(y * 40 + x) * 3 + c]; };
  EXPECT_EQ(at(2, 2, 0), 100);                       // background untouched, gray
  EXPECT_EQ(at(2, 2, 1), 100);
  EXPECT_GT(at(15, 15, 0), at(15, 15, 1));           // mask interior tinted red
  EXPECT_EQ(at(10, 15, 0), 255);                     // mask outline opaque red
  EXPECT_EQ(at(5, 15, 1), 230);                      // box edge green
  EXPECT_EQ(at(17, 5, 1), 230);

  DisplayFrame bad = f;
  bad.gray.resize(3);
  EXPECT_FALSE(render_frame_png(bad).ok());
  EXPECT_EQ(encode_png(0, 1, 1, {}).status().code(), StatusCode::kInvalidArgument);
}

TEST(Prometheus, TextFormatHelpTypeEscapingAndCumulativeBuckets) {
  Registry reg;
  reg.counter("a_total", "Help with \\ and\nnewline", {{"k", "quote\" back\\ nl\n"}}).inc(3);
  reg.gauge("b", "gauge help").set(1.5);
  auto& h = reg.histogram("c_seconds", "hist", {{"stage", "x"}});
  h.record_ns(4 * kMs, 1);
  h.record_ns(20 * kMs, 1);
  reg.callback("d", "never available", MetricType::kGauge, {}, [] { return std::nullopt; });
  const std::string text = render_prometheus(reg.collect(0, 0));
  EXPECT_NE(text.find("# HELP a_total Help with \\\\ and\\nnewline\n# TYPE a_total counter\n"
                      "a_total{k=\"quote\\\" back\\\\ nl\\n\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE b gauge\nb 1.5\n"), std::string::npos);
  EXPECT_NE(text.find("c_seconds_bucket{stage=\"x\",le=\"0.003\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("c_seconds_bucket{stage=\"x\",le=\"0.004\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("c_seconds_bucket{stage=\"x\",le=\"0.02\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("c_seconds_bucket{stage=\"x\",le=\"+Inf\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("c_seconds_sum{stage=\"x\"} 0.024\n"), std::string::npos);
  EXPECT_NE(text.find("c_seconds_count{stage=\"x\"} 2\n"), std::string::npos);
  EXPECT_EQ(text.find("# HELP d"), std::string::npos);  // nothing to report, no family
  // Exactly one TYPE line per family.
  size_t types = 0;
  for (size_t p = text.find("# TYPE"); p != std::string::npos; p = text.find("# TYPE", p + 1)) {
    ++types;
  }
  EXPECT_EQ(types, 3u);
}

TEST(KpiLogger, WritesJsonLinesWithTheFigures) {
  Monitor m(manual_options());
  m.pipeline().frame_received(monotonic_ns());
  m.pipeline().drops("tx", "outbox_full").inc(4);
  const auto path = std::filesystem::temp_directory_path() /
                    ("um_kpi_" + std::to_string(::getpid()) + ".jsonl");
  {
    KpiLogger kpi(m, path.string(), std::chrono::milliseconds(20));
    ASSERT_TRUE(kpi.start().ok());
    EXPECT_EQ(kpi.start().code(), StatusCode::kFailedPrecondition);
    kpi.stop();  // writes the closing line even if no interval elapsed
    EXPECT_GE(kpi.lines_written(), 1u);
  }
  std::ifstream in(path);
  std::string line, last;
  int lines = 0;
  while (std::getline(in, line)) {
    const json j = json::parse(line);  // every line is one JSON object
    EXPECT_TRUE(j.contains("fps"));
    last = line;
    ++lines;
  }
  ASSERT_GE(lines, 1);
  const json j = json::parse(last);
  EXPECT_EQ(j["frames"]["received"], 1);
  EXPECT_EQ(j["drops"]["total"], 4);
  std::filesystem::remove(path);

  KpiLogger bad(m, "/nonexistent-dir/x.jsonl");
  EXPECT_EQ(bad.start().code(), StatusCode::kInvalidArgument);
  KpiLogger fast(m, path.string(), std::chrono::milliseconds(1));
  EXPECT_EQ(fast.start().code(), StatusCode::kInvalidArgument);
}

TEST(SystemStats, ProcessFiguresAreRead) {
  ProcessSampler ps;
  const ProcessStats a = ps.sample(monotonic_ns());
  ASSERT_TRUE(a.available);
  EXPECT_GT(a.rss_bytes, 1 << 20);
  EXPECT_GE(a.threads, 1);
  EXPECT_FALSE(a.cpu_percent_valid);  // needs two samples
  const ProcessStats b = ps.sample(monotonic_ns() + 1);
  EXPECT_TRUE(b.cpu_percent_valid);
  EXPECT_GE(b.cpu_seconds, a.cpu_seconds);
}

TEST(SystemStats, GpuUnavailableIsReportedNotInvented) {
  auto g = GpuSampler::disabled("off for this test");
  const GpuStats s = g->sample();
  EXPECT_FALSE(s.available);
  EXPECT_EQ(s.reason, "off for this test");
  EXPECT_TRUE(s.devices.empty());
  // Whatever this machine has, open() never fails and never reports devices it cannot read.
  auto real = GpuSampler::open();
  const GpuStats r = real->sample();
  if (!r.available) {
    EXPECT_FALSE(r.reason.empty());
    EXPECT_TRUE(r.devices.empty());
  } else {
    EXPECT_FALSE(r.devices.empty());
  }
}

}  // namespace
}  // namespace um::monitor
