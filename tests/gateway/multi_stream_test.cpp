// Several probes in one gateway (issue 10 part 3), over loopback with real sockets and the real
// CPU pipeline on the shipped phantom models (one copy shared by the streams): two PLUS
// simulators -> one gateway -> two Slicer ports. Each stream gets its own labelmaps under its own
// device name, with its own state (one stream sees the phantom bone, the other blank frames);
// metrics carry a `stream` label; one stream's PLUS peer sending garbage and then dying leaves
// the other stream untouched. Small frames and a few masks per stream keep the CPU time short;
// every wait is on a condition with a deadline. (A config without `streams:` keeps the
// unlabelled metrics: gateway_e2e_test, gateway_fault_test and monitor_multi_stream_test.)
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "gateway/frame_dispatcher.h"
#include "gateway/recording.h"
#include "gateway/session.h"
#include "gateway/stream_config.h"
#include "gateway_test_util.h"
#include "igtl/codec.h"
#include "io/image.h"

namespace um::gateway {
namespace {

using namespace std::chrono_literals;
using test::IgtlReader;
using test::TempDir;
using test::wait_until;

constexpr auto kDeadline = 240s;

std::string metadata(const igtl::Message& m, const std::string& key) {
  for (const auto& e : m.metadata)
    if (e.key == key) return e.value;
  return "<absent>";
}

class MultiStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dfine_ = um::test::source_dir() / "models/phantom/dfine_n_phantom.pth";
    sam_ = um::test::source_dir() / "models/phantom/mobilesam_phantom.pt";
    if (!std::filesystem::exists(dfine_) || !std::filesystem::exists(sam_)) {
      std::fprintf(stderr, "\n*** SKIPPED: phantom models not found under models/phantom ***\n");
      GTEST_SKIP() << "phantom models not found";
    }
    tmp_ = std::make_unique<TempDir>(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }

  // A folder of bone-free frames (uniform speckle-free gray): the detector finds nothing.
  std::string blank_folder() {
    const auto dir = tmp_->path() / "blank";
    std::filesystem::create_directories(dir);
    io::Image img;
    img.width = kW;
    img.height = kH;
    img.channels = 1;
    img.pixels.assign(static_cast<size_t>(kW) * kH, 40);
    EXPECT_TRUE(io::write_png((dir / "blank.png").string(), img).ok());
    return dir.string();
  }

  std::unique_ptr<PlusSimulator> start_simulator(const std::string& device,
                                                 const std::string& source, uint64_t seed) {
    PlusSimulatorOptions o;
    o.port = 0;
    o.device = device;
    o.source = source;
    o.fps = 4;
    o.burst_probability = 0.0;
    o.source_options.size = {kH, kW};
    o.source_options.seed = seed;
    auto sim = std::make_unique<PlusSimulator>(o);
    Status s = sim->start();
    EXPECT_TRUE(s.ok()) << s.to_string();
    return sim;
  }

  // Two streams: probe_a reads `Image_A` from sim_a and serves `MaskA`, probe_b likewise.
  GatewayConfig config(uint16_t port_a, uint16_t port_b) {
    GatewayConfig c;
    c.plus.reconnect_ms = 100;
    c.slicer.port = 0;
    c.dashboard.enabled = false;
    c.models.dfine = dfine_.string();
    c.models.sam = sam_.string();
    c.queues.max_frame_age_ms = 60000;  // CPU inference is slow; keep every frame
    StreamSpec a, b;
    a.name = "probe_a";
    a.plus_port = port_a;
    a.plus_device = "Image_A";
    a.slicer_port = 0;
    a.slicer_device = "MaskA";
    b.name = "probe_b";
    b.plus_port = port_b;
    b.plus_device = "Image_B";
    b.slicer_port = 0;
    b.slicer_device = "MaskB";
    c.streams = {a, b};
    return c;
  }

  std::unique_ptr<Session> start_session(const GatewayConfig& c) {
    SessionOptions so;
    so.config = c;
    so.runtime.plus_backoff_max_ms = 200;
    auto s = std::make_unique<Session>(std::move(so));
    Status st = s->start();
    EXPECT_TRUE(st.ok()) << st.to_string();
    return s;
  }

  static bool wait_for(IgtlReader& r, const std::string& device, size_t n,
                       IgtlReader* also = nullptr) {
    return wait_until([&] {
      r.pump(20);
      if (also) also->pump(20);
      return r.count(device) >= n;
    }, kDeadline);
  }

  static constexpr int kW = 128, kH = 160;
  std::filesystem::path dfine_, sam_;
  std::unique_ptr<TempDir> tmp_;
};

TEST_F(MultiStreamTest, TwoStreamsGetTheirOwnLabelmapsDeviceNamesStatesAndMetrics) {
  auto sim_a = start_simulator("Image_A", "phantom", 3);
  auto sim_b = start_simulator("Image_B", blank_folder(), 4);
  GatewayConfig cfg = config(sim_a->port(), sim_b->port());
  cfg.record = (tmp_->path() / "run.umrec").string();  // one recording per stream
  auto session = start_session(cfg);
  Gateway* gw = session->gateway();
  ASSERT_NE(gw, nullptr);
  ASSERT_EQ(gw->stream_count(), 2u);
  EXPECT_EQ(gw->stream_name(0), "probe_a");
  EXPECT_EQ(gw->stream_name(1), "probe_b");
  ASSERT_NE(gw->slicer_port(0), gw->slicer_port(1));

  IgtlReader slicer_a, slicer_b;
  ASSERT_TRUE(slicer_a.connect(gw->slicer_port(0)).ok());
  ASSERT_TRUE(slicer_b.connect(gw->slicer_port(1)).ok());
  ASSERT_TRUE(wait_for(slicer_a, "MaskA", 2, &slicer_b)) << "probe_a: too few MaskA";
  ASSERT_TRUE(wait_for(slicer_b, "MaskB", 2, &slicer_a)) << "probe_b: too few MaskB";
  session->stop();

  // Each Slicer port carries only its own stream's labelmaps, from its own source device, in
  // order; each stream numbers its own frames.
  EXPECT_EQ(slicer_a.count("MaskB"), 0u);
  EXPECT_EQ(slicer_b.count("MaskA"), 0u);
  for (auto [reader, device, source] :
       {std::tuple{&slicer_a, "MaskA", "Image_A"}, std::tuple{&slicer_b, "MaskB", "Image_B"}}) {
    int64_t last = 0;
    for (const igtl::Message& m : reader->messages()) {
      if (m.device_name != device) continue;
      EXPECT_EQ(metadata(m, "SourceDevice"), source);
      const int64_t id = std::stoll(metadata(m, "FrameId"));
      EXPECT_GT(id, last) << device << " out of order";
      last = id;
      const auto& img = std::get<igtl::ImageContent>(m.content);
      EXPECT_EQ(img.geometry.size[0], static_cast<uint32_t>(kW));
      EXPECT_EQ(img.geometry.size[1], static_cast<uint32_t>(kH));
    }
  }
  // Own state: the phantom stream finds the bone (a detected frame, out of LOST); the blank
  // stream, served by the same models at the same time, never detects anything and stays LOST.
  bool a_detected = false, a_out_of_lost = false;
  for (const igtl::Message& m : slicer_a.messages()) {
    if (m.device_name != "MaskA") continue;
    a_detected |= metadata(m, "Detected") == "1";
    a_out_of_lost |= metadata(m, "State") != "LOST";
  }
  EXPECT_TRUE(a_detected);
  EXPECT_TRUE(a_out_of_lost);
  for (const igtl::Message& m : slicer_b.messages()) {
    if (m.device_name != "MaskB") continue;
    EXPECT_EQ(metadata(m, "State"), "LOST");
    EXPECT_EQ(metadata(m, "Detected"), "0");
  }

  // Per-stream counters and labelled metrics.
  const std::vector<GatewayStats> st = gw->all_stats();
  ASSERT_EQ(st.size(), 2u);
  for (const GatewayStats& s : st) {
    EXPECT_GE(s.frames_sent, 2u) << s.stream;
    EXPECT_EQ(s.frames_processed, s.frames_sent) << s.stream;
    EXPECT_EQ(s.stage_errors, 0u) << s.stream;
    EXPECT_EQ(s.frames_received, s.frames_processed + s.rx_slot.total_dropped() +
                                     s.drops("process", "stale") + s.drops("process", "error"))
        << s.stream;
  }
  // `record: run.umrec` with streams: run.probe_a.umrec and run.probe_b.umrec, each complete and
  // holding exactly its stream's processed frames.
  for (size_t i = 0; i < 2; ++i) {
    const auto path = tmp_->path() / ("run." + gw->stream_name(i) + ".umrec");
    auto reader = RecordingReader::open(path.string());
    ASSERT_TRUE(reader.ok()) << path << ": " << reader.status().to_string();
    uint64_t n = 0;
    for (;;) {
      auto rec = (*reader)->next();
      ASSERT_TRUE(rec.ok()) << rec.status().to_string();
      if (!rec->has_value()) break;
      EXPECT_EQ((*rec)->frame.device_name, i == 0 ? "Image_A" : "Image_B");
      ++n;
    }
    EXPECT_TRUE((*reader)->complete()) << path;
    EXPECT_EQ(n, st[i].frames_processed) << path;
  }
  EXPECT_FALSE(std::filesystem::exists(tmp_->path() / "run.umrec"));

  const monitor::Registry& reg = session->monitor().registry();
  for (size_t i = 0; i < 2; ++i) {
    const std::string name = gw->stream_name(i);
    const monitor::Counter* sent = reg.find_counter("um_frames_sent_total", {{"stream", name}});
    ASSERT_NE(sent, nullptr) << name;
    EXPECT_EQ(sent->value(), st[i].frames_sent) << name;
    const monitor::LatencyHistogram* lat =
        reg.find_histogram("um_rx_to_tx_latency_seconds", {{"stream", name}});
    ASSERT_NE(lat, nullptr) << name;
    EXPECT_EQ(lat->totals().count, st[i].frames_sent) << name;
    EXPECT_NE(reg.find_histogram("um_stage_latency_seconds", {{"stream", name}, {"stage", "dfine"}}),
              nullptr)
        << name;
    EXPECT_NE(reg.find_gauge("um_connected", {{"stream", name}}), nullptr) << name;
  }
  const monitor::Gauge* vis_b = reg.find_gauge("um_visibility_state", {{"stream", "probe_b"}});
  ASSERT_NE(vis_b, nullptr);
  EXPECT_EQ(vis_b->value(), 3.0);  // lost
  // No unlabelled per-frame series of a single-stream gateway were fed.
  const monitor::Counter* unlabelled = reg.find_counter("um_frames_sent_total", {});
  EXPECT_TRUE(unlabelled == nullptr || unlabelled->value() == 0u);

  // The one dispatcher served both streams: its batching figures are exported.
  const std::string prom = session->monitor().prometheus_text(monotonic_ns());
  const std::string batches_key = "\num_dispatch_batches_total ";
  const size_t at = prom.find(batches_key);
  ASSERT_NE(at, std::string::npos) << prom;
  EXPECT_GE(std::stod(prom.substr(at + batches_key.size())), 1.0);
  EXPECT_NE(prom.find("\num_dispatch_max_in_flight "), std::string::npos);
  ASSERT_NE(gw->dispatcher(), nullptr);
  EXPECT_EQ(gw->dispatcher()->stream_count(), 2u);
  EXPECT_EQ(gw->dispatcher()->stats().results, st[0].frames_processed + st[1].frames_processed);

  // The JSON API: top level sums the streams; per_stream and /api/v1/streams list each one.
  const auto j = nlohmann::json::parse(session->monitor().metrics_json(monotonic_ns()));
  EXPECT_EQ(j["frames"]["sent"].get<uint64_t>(), st[0].frames_sent + st[1].frames_sent);
  EXPECT_EQ(j["latency_ms"]["rx_to_tx"]["total"]["count"].get<uint64_t>(),
            st[0].frames_sent + st[1].frames_sent);
  ASSERT_EQ(j["per_stream"].size(), 2u);
  EXPECT_EQ(j["per_stream"][1]["name"], "probe_b");
  EXPECT_EQ(j["per_stream"][1]["frames"]["sent"].get<uint64_t>(), st[1].frames_sent);
  EXPECT_EQ(j["per_stream"][1]["visibility"]["state"], "lost");
  const auto js = nlohmann::json::parse(session->monitor().streams_json(monotonic_ns()));
  ASSERT_EQ(js["streams"].size(), 2u);
  EXPECT_EQ(js["streams"][0]["name"], "probe_a");
  EXPECT_EQ(js["streams"][0]["frames"]["sent"].get<uint64_t>(), st[0].frames_sent);
  EXPECT_TRUE(js["streams"][0]["latency_ms"]["stages"].contains("dfine"));
}

TEST_F(MultiStreamTest, OneStreamsPeerSendingGarbageAndDyingLeavesTheOtherStreamAlone) {
  auto sim_a = start_simulator("Image_A", "phantom", 3);
  auto sim_b = start_simulator("Image_B", "phantom", 4);
  auto session = start_session(config(sim_a->port(), sim_b->port()));
  Gateway* gw = session->gateway();
  IgtlReader slicer_a, slicer_b;
  ASSERT_TRUE(slicer_a.connect(gw->slicer_port(0)).ok());
  ASSERT_TRUE(slicer_b.connect(gw->slicer_port(1)).ok());
  ASSERT_TRUE(wait_for(slicer_a, "MaskA", 1, &slicer_b));
  ASSERT_TRUE(wait_for(slicer_b, "MaskB", 1, &slicer_a));
  const uint64_t b_connects = gw->stats(1).plus.connects;

  // probe_a's PLUS sends garbage: a CRC-corrupted IMAGE, an IMAGE the pipeline cannot use, then
  // bytes that are no OpenIGTLink at all (the connection is dropped and retried).
  igtl::ImageGeometry g;
  g.size = {kW, kH, 1};
  std::vector<uint8_t> px(static_cast<size_t>(kW) * kH * 4, 7);
  igtl::Message fm =
      igtl::make_image_message("Image_A", g, igtl::ScalarType::kFloat32, 1, px, wall_clock_ns());
  fm.header_version = 1;
  std::vector<uint8_t> float_image = igtl::encode(fm).value();
  std::vector<uint8_t> bad_crc = float_image;
  bad_crc[igtl::kHeaderSize + 100] ^= 0xff;
  sim_a->inject_raw(bad_crc);
  sim_a->inject_raw(float_image);
  sim_a->inject_raw(std::vector<uint8_t>(200, 0xAB));
  ASSERT_TRUE(wait_until([&] {
    slicer_a.pump(10);
    slicer_b.pump(10);
    const GatewayStats a = gw->stats(0);
    return a.drops("rx", "bad_image") >= 1 && a.drops("rx", "malformed_bad_crc") >= 1;
  }, 60s)) << "probe_a's garbage was not counted";

  // Then probe_a's PLUS dies.
  sim_a->stop();
  const monitor::Registry& reg = session->monitor().registry();
  ASSERT_TRUE(wait_until([&] {
    slicer_a.pump(10);
    slicer_b.pump(10);
    const monitor::Gauge* c = reg.find_gauge("um_connected", {{"stream", "probe_a"}});
    return c && c->value() == 0.0;
  }, 30s)) << "probe_a's disconnection not noticed";

  // probe_b goes on: new masks while probe_a is down, same connection, nothing counted against it.
  const size_t b_before = slicer_b.count("MaskB");
  ASSERT_TRUE(wait_for(slicer_b, "MaskB", b_before + 2, &slicer_a))
      << "probe_b stalled while probe_a was down";
  const GatewayStats b = gw->stats(1);
  EXPECT_EQ(b.plus.connects, b_connects);
  EXPECT_EQ(b.plus.reconnects, 0u);
  EXPECT_EQ(b.stage_errors, 0u);
  EXPECT_EQ(b.drops("rx", "bad_image"), 0u);
  EXPECT_EQ(b.drops("rx", "malformed_bad_crc"), 0u);
  EXPECT_EQ(b.drops("process", "error"), 0u);
  const monitor::Gauge* cb = reg.find_gauge("um_connected", {{"stream", "probe_b"}});
  ASSERT_NE(cb, nullptr);
  EXPECT_EQ(cb->value(), 1.0);
  EXPECT_FALSE(slicer_b.closed());
  // The health report names the stream that is down, not the other one.
  const monitor::HealthReport h = session->monitor().health(monotonic_ns());
  bool names_a = false, names_b = false;
  for (const std::string& r : h.reasons) {
    names_a |= r.find("'probe_a' disconnected") != std::string::npos;
    names_b |= r.find("probe_b") != std::string::npos;
  }
  EXPECT_TRUE(names_a);
  EXPECT_FALSE(names_b);
  session->stop();
  EXPECT_EQ(gw->stats(0).stage_errors, 0u);
}

}  // namespace
}  // namespace um::gateway
