// Monitor with several streams (Monitor::add_stream, issue 10 part 3), on a test-driven clock:
// every series of a stream carries its `stream` label, the top level of /api/v1/metrics sums
// frames and merges RX->TX over the streams, per_stream and /api/v1/streams give each stream's
// own figures and fps, and the health report names the stream that is silent or disconnected.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "monitor/detector_frames.h"
#include "monitor/monitor.h"

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

TEST(MultiStreamMonitor, StreamSeriesAreLabelledAndSeparate) {
  Monitor m(manual_options());
  PipelineMetrics& a = m.add_stream("probe1");
  PipelineMetrics& b = m.add_stream("probe2");
  EXPECT_EQ(&m.add_stream("probe1"), &a);  // same name, same object
  EXPECT_EQ(m.stream_names(), (std::vector<std::string>{"probe1", "probe2"}));
  a.frames_in().inc(3);
  b.frames_in().inc(5);
  a.drops("rx_slot", "superseded").inc(2);
  b.stage_latency("dfine").record_ns(4 * kMs, 1);
  a.set_connected("plus", true);
  b.set_connected("plus", false);
  b.reconnects("plus").inc();

  const Registry& r = m.registry();
  ASSERT_NE(r.find_counter("um_frames_received_total", {{"stream", "probe1"}}), nullptr);
  EXPECT_EQ(r.find_counter("um_frames_received_total", {{"stream", "probe1"}})->value(), 3u);
  EXPECT_EQ(r.find_counter("um_frames_received_total", {{"stream", "probe2"}})->value(), 5u);
  EXPECT_EQ(r.find_counter("um_frames_received_total", {})->value(), 0u);  // single-stream series
  EXPECT_EQ(r.find_counter("um_drops_total",
                           {{"stream", "probe1"}, {"stage", "rx_slot"}, {"reason", "superseded"}})
                ->value(),
            2u);
  EXPECT_EQ(r.find_histogram("um_stage_latency_seconds", {{"stream", "probe2"}, {"stage", "dfine"}})
                ->totals()
                .count,
            1u);
  // A stream's link is named by the stream itself.
  EXPECT_EQ(r.find_gauge("um_connected", {{"stream", "probe1"}})->value(), 1.0);
  EXPECT_EQ(r.find_gauge("um_connected", {{"stream", "probe2"}})->value(), 0.0);
  EXPECT_EQ(r.find_counter("um_reconnects_total", {{"stream", "probe2"}})->value(), 1u);

  const std::string prom = m.prometheus_text(1);
  EXPECT_NE(prom.find("um_frames_received_total{stream=\"probe2\"} 5"), std::string::npos) << prom;
  EXPECT_NE(prom.find("um_visibility_state{stream=\"probe1\"}"), std::string::npos) << prom;
}

TEST(MultiStreamMonitor, TopLevelSumsAndMergesPerStreamKeepsEachStream) {
  Monitor m(manual_options());
  PipelineMetrics& a = m.add_stream("probe1");
  PipelineMetrics& b = m.add_stream("probe2");
  const int64_t base = 100 * kS;
  m.sample(base);
  // probe1: 10 frames in 2 s, RX->TX 10 ms each; probe2: 4 frames, 40 ms each.
  for (int i = 0; i < 10; ++i) {
    a.frame_received(base + i * 100 * kMs);
    a.frame_sent(base + i * 100 * kMs + 10 * kMs, 10 * kMs);
  }
  for (int i = 0; i < 4; ++i) {
    b.frame_received(base + i * 100 * kMs);
    b.frame_sent(base + i * 100 * kMs + 40 * kMs, 40 * kMs);
  }
  a.drops("process", "stale").inc(1);
  b.drops("process", "stale").inc(2);
  DetectorFrames det_b(m.registry(), {{"stream", "probe2"}});
  det_b.count(true);
  det_b.count(false);
  det_b.count(false);
  a.set_visibility(VisibilityState::kVisible, base + kS);
  b.set_visibility(VisibilityState::kLost, base + kS);
  m.sample(base + 2 * kS);

  const auto s = m.last_sample();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->frames_in, 14u);
  EXPECT_DOUBLE_EQ(s->fps_in, 7.0);
  EXPECT_EQ(s->rx_to_tx.count, 14u);  // merged over both streams
  EXPECT_EQ(s->rx_to_tx.max_ns, 40 * kMs);
  EXPECT_EQ(s->rx_to_tx.min_ns, 10 * kMs);
  EXPECT_EQ(s->state, VisibilityState::kVisible);  // the first stream's
  ASSERT_EQ(s->streams.size(), 2u);
  EXPECT_DOUBLE_EQ(s->streams[0].fps_in, 5.0);
  EXPECT_DOUBLE_EQ(s->streams[1].fps_out, 2.0);

  const json j = json::parse(m.metrics_json(base + 2 * kS));
  EXPECT_EQ(j["frames"]["received"], 14);
  EXPECT_EQ(j["frames"]["sent"], 14);
  EXPECT_EQ(j["latency_ms"]["rx_to_tx"]["total"]["count"], 14);
  EXPECT_DOUBLE_EQ(j["latency_ms"]["rx_to_tx"]["max"].get<double>(), 40.0);
  EXPECT_EQ(j["drops"]["total"], 3);
  ASSERT_EQ(j["drops"]["by"].size(), 1u);  // one (stage, reason), summed over the streams
  EXPECT_EQ(j["drops"]["by"][0]["count"], 3);
  EXPECT_EQ(j["visibility"]["state"], "visible");
  ASSERT_EQ(j["per_stream"].size(), 2u);
  const json& p2 = j["per_stream"][1];
  EXPECT_EQ(p2["name"], "probe2");
  EXPECT_EQ(p2["frames"]["received"], 4);
  EXPECT_DOUBLE_EQ(p2["fps"]["in"].get<double>(), 2.0);
  EXPECT_EQ(p2["latency_ms"]["rx_to_tx"]["count"], 4);
  EXPECT_DOUBLE_EQ(p2["latency_ms"]["rx_to_tx"]["p50"].get<double>(), 40.0);
  EXPECT_EQ(p2["drops"]["total"], 2);
  EXPECT_EQ(p2["visibility"]["state"], "lost");
  EXPECT_EQ(p2["visibility"]["transitions"], 1);
  EXPECT_EQ(p2["detector"]["detected"], 1);
  EXPECT_EQ(p2["detector"]["tracked"], 2);
  EXPECT_EQ(j["per_stream"][0]["detector"]["tracked"], 0);

  const json js = json::parse(m.streams_json(base + 2 * kS));
  ASSERT_EQ(js["streams"].size(), 2u);
  EXPECT_EQ(js["streams"][0]["name"], "probe1");
  EXPECT_EQ(js["streams"][0]["frames"]["sent"], 10);
  EXPECT_DOUBLE_EQ(js["streams"][0]["latency_ms"]["rx_to_tx"]["p99"].get<double>(), 10.0);
}

TEST(MultiStreamMonitor, HealthNamesTheSilentOrDisconnectedStream) {
  Monitor m(manual_options());
  PipelineMetrics& a = m.add_stream("probe1");
  PipelineMetrics& b = m.add_stream("probe2");
  const int64_t now = 50 * kS;
  a.frame_received(now - 100 * kMs);
  a.set_connected("plus", true);
  b.set_connected("plus", false);  // never sent anything, and disconnected
  const HealthReport h = m.health(now);
  EXPECT_FALSE(h.ok);
  auto has = [&](const std::string& needle) {
    for (const auto& r : h.reasons)
      if (r.find(needle) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has("stream 'probe2': no frames received yet"));
  EXPECT_TRUE(has("stream 'probe2' disconnected"));
  EXPECT_FALSE(has("probe1"));
  EXPECT_FALSE(has("no frames received yet") && !has("probe2"));
}

TEST(MultiStreamMonitor, WithoutStreamsNothingChanges) {
  Monitor m(manual_options());
  m.pipeline().frame_received(kS);
  m.sample(2 * kS);
  const json j = json::parse(m.metrics_json(2 * kS));
  EXPECT_EQ(j["frames"]["received"], 1);
  EXPECT_TRUE(j["per_stream"].empty());
  EXPECT_TRUE(m.last_sample()->streams.empty());
  EXPECT_EQ(json::parse(m.streams_json(2 * kS))["streams"].size(), 0u);
}

}  // namespace
}  // namespace um::monitor
