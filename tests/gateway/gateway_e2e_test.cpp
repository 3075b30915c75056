// End-to-end over loopback (issue 6 "must show"): the in-process PLUS simulator -> the gateway
// (CPU backend, fixture checkpoints copied into a temp folder) -> pyigtl, an independent
// OpenIGTLink implementation acting as 3D Slicer, receives BoneMask labelmaps with the source
// frame's size, geometry and timestamp, the documented metadata, in order, none duplicated; the
// recording is complete after stop and replays through the pipeline to the same masks.
// CPU inference takes seconds per frame, so the test asks for 3 frames only.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <set>

#include "gateway/recording.h"
#include "gateway/session.h"
#include "gateway_test_util.h"

namespace um::gateway {
namespace {

using namespace std::chrono_literals;
using test::TempDir;

TEST(GatewayEndToEnd, PyigtlClientReceivesBoneMasksInOrderWithGeometryAndMetadata) {
  UM_GW_REQUIRE_FILE(test::fixture_dfine());
  UM_GW_REQUIRE_FILE(test::fixture_sam());
  if (!test::python_has_module("pyigtl")) {
    std::fprintf(stderr, "\n*** SKIPPED: python module pyigtl missing (scripts/setup.sh) ***\n");
    GTEST_SKIP() << "pyigtl not installed";
  }
  TempDir tmp("e2e");
  std::filesystem::copy_file(test::fixture_dfine(), tmp.path() / "dfine.pth");
  std::filesystem::copy_file(test::fixture_sam(), tmp.path() / "sam.pt");

  constexpr int kW = 160, kH = 200;
  SessionOptions so;
  so.config.plus.port = 0;  // the simulator picks a free port; the gateway follows it
  so.config.slicer.port = 0;
  so.config.dashboard.enabled = false;
  so.config.models.dfine = (tmp.path() / "dfine.pth").string();
  so.config.models.sam = (tmp.path() / "sam.pt").string();
  so.config.slicer.label_value = 255;
  so.config.record = (tmp.path() / "e2e.umrec").string();
  so.config.kpi_log.file = (tmp.path() / "kpi.jsonl").string();
  so.config.kpi_log.interval_ms = 200;
  so.with_simulator = true;
  so.simulator.fps = 5;
  so.simulator.source_options.size = {kH, kW};
  so.simulator.geometry.spacing = {0.3f, 0.25f, 1.0f};
  so.simulator.geometry.origin = {12.5f, -7.0f, 40.0f};  // image centre, mm
  Session session(std::move(so));
  ASSERT_TRUE(session.start().ok());
  const uint16_t port = session.gateway()->slicer_port();

  test::ChildProcess client({test::python_exe(), "-u",
                      (um::test::source_dir() / "tests/gateway/slicer_client.py").string(),
                      "--port", std::to_string(port), "--count", "3", "--timeout", "400"},
                     tmp.path() / "client.log");
  const int rc = client.wait(450s);
  session.stop();
  const std::string out = client.output();
  ASSERT_EQ(rc, 0) << out;

  std::vector<nlohmann::json> msgs;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty() && line[0] == '{') msgs.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(msgs.size(), 3u) << out;

  int64_t last_id = 0;
  std::set<int64_t> ids;
  for (const auto& m : msgs) {
    EXPECT_EQ(m["device"], "BoneMask");
    EXPECT_EQ(m["shape"], nlohmann::json({1, kH, kW}));  // pyigtl: (k, j, i)
    EXPECT_EQ(m["dtype"], "uint8");
    for (int v : m["values"]) EXPECT_TRUE(v == 0 || v == 255) << v;  // label_value 255
    // ijk->world: columns are direction * spacing; the last column is voxel (0,0,0), which
    // pyigtl derives from the wire's image centre. Map the centre voxel back to check it.
    const auto& M = m["matrix"];
    EXPECT_NEAR(M[0][0].get<double>(), 0.3, 1e-6);
    EXPECT_NEAR(M[1][1].get<double>(), 0.25, 1e-6);
    EXPECT_NEAR(M[2][2].get<double>(), 1.0, 1e-6);
    const double ci = (kW - 1) / 2.0, cj = (kH - 1) / 2.0;
    EXPECT_NEAR(M[0][3].get<double>() + M[0][0].get<double>() * ci, 12.5, 1e-4);
    EXPECT_NEAR(M[1][3].get<double>() + M[1][1].get<double>() * cj, -7.0, 1e-4);
    EXPECT_NEAR(M[2][3].get<double>(), 40.0, 1e-4);

    const auto& md = m["metadata"];
    for (const char* key : {"FrameId", "SourceDevice", "SourceTimestamp", "ReceiveTime",
                            "InferenceStart", "InferenceEnd", "InferenceMs", "SendTime", "State",
                            "Detected", "Score", "Box", "MaskArea", "Quality", "LabelValue",
                            "Weights", "SyntheticWeights", "Detector"})
      EXPECT_TRUE(md.contains(key)) << "metadata key " << key << " missing: " << md.dump();
    const int64_t id = std::stoll(md["FrameId"].get<std::string>());
    EXPECT_GT(id, last_id) << "frames out of order";
    EXPECT_TRUE(ids.insert(id).second) << "frame " << id << " delivered twice";
    last_id = id;
    EXPECT_EQ(md["SourceDevice"], "Image_Reference");
    EXPECT_EQ(md["LabelValue"], "255");
    EXPECT_EQ(md["Weights"], "trained");
    EXPECT_EQ(md["SyntheticWeights"], "none");
    EXPECT_EQ(md["Detector"], "ran");  // detector_skip.every defaults to 1: D-FINE every frame
    const std::set<std::string> states = {"VISIBLE", "RELOCALIZING", "LOST"};
    EXPECT_TRUE(states.count(md["State"].get<std::string>())) << md["State"];
    // The header timestamp is the SOURCE frame's acquisition time, and the times are ordered.
    const double src = std::stod(md["SourceTimestamp"].get<std::string>());
    EXPECT_NEAR(m["timestamp"].get<double>(), src, 1e-5);
    const double rx = std::stod(md["ReceiveTime"].get<std::string>());
    const double inf0 = std::stod(md["InferenceStart"].get<std::string>());
    const double inf1 = std::stod(md["InferenceEnd"].get<std::string>());
    const double tx = std::stod(md["SendTime"].get<std::string>());
    EXPECT_LE(src, rx + 0.01);  // same machine: acquisition before receipt (clock granularity)
    EXPECT_LE(rx, inf0);
    EXPECT_LE(inf0, inf1);
    EXPECT_LE(inf1, tx);
    EXPECT_NEAR(std::stod(md["InferenceMs"].get<std::string>()), (inf1 - inf0) * 1e3, 1.0);
  }

  // The gateway's own accounting agrees: every received frame was processed or dropped with a
  // counted reason (the RX slot supersedes frames while a CPU inference runs).
  GatewayStats st = session.gateway()->stats();
  EXPECT_GE(st.frames_sent, 3u);
  EXPECT_EQ(st.stage_errors, 0u);
  EXPECT_EQ(st.frames_processed, st.frames_sent);
  EXPECT_EQ(st.frames_received,
            st.frames_processed + st.rx_slot.total_dropped() + st.drops("process", "stale") +
                st.drops("process", "error"));

  // The recording is complete and holds exactly the processed frames, pixels included.
  auto reader = RecordingReader::open((tmp.path() / "e2e.umrec").string());
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  uint64_t n = 0;
  for (;;) {
    auto rec = (*reader)->next();
    ASSERT_TRUE(rec.ok()) << rec.status().to_string();
    if (!rec->has_value()) break;
    EXPECT_EQ((*rec)->frame.width, kW);
    EXPECT_EQ((*rec)->frame.pixels.size(), static_cast<size_t>(kW * kH));
    EXPECT_NEAR((*rec)->frame.geometry.origin[0], 12.5f, 1e-4);
    ++n;
  }
  EXPECT_TRUE((*reader)->complete());
  EXPECT_EQ(n, st.frames_processed);

  // --kpi-log: JSON lines of the dashboard's figures; the last one, written at stop, holds the
  // final frame counts.
  std::ifstream kpi(tmp.path() / "kpi.jsonl");
  std::vector<nlohmann::json> kpi_lines;
  for (std::string line; std::getline(kpi, line);) kpi_lines.push_back(nlohmann::json::parse(line));
  ASSERT_GE(kpi_lines.size(), 2u);
  EXPECT_EQ(kpi_lines.back()["frames"]["sent"].get<uint64_t>(), st.frames_sent);
  // "received" on the dashboard also counts frames a PLUS burst superseded before the RX slot.
  EXPECT_EQ(kpi_lines.back()["frames"]["received"].get<uint64_t>(),
            st.frames_received + st.drops("rx", "burst_superseded"));
  // Detector skipping is off by default: every processed frame ran D-FINE (dashboard tile).
  EXPECT_EQ(kpi_lines.back()["detector"]["detected"].get<uint64_t>(), st.frames_processed);
  EXPECT_EQ(kpi_lines.back()["detector"]["tracked"].get<uint64_t>(), 0u);
}

}  // namespace
}  // namespace um::gateway
