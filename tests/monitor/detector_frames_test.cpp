// Tests for the detector-skipping figure of the dashboard (monitor/detector_frames.h): the
// counter family, its sum in /api/v1/metrics ("detector") and the page's tile element.
#include "monitor/detector_frames.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "monitor/assets.h"
#include "monitor/monitor.h"

namespace um::monitor {
namespace {

using nlohmann::json;

MonitorOptions manual_options() {
  MonitorOptions o;
  o.start_sampler = false;
  o.probe_gpu = false;
  return o;
}

TEST(DetectorFrames, MetricsJsonCountsDetectedAndTrackedFrames) {
  Monitor m(manual_options());
  json j = json::parse(m.metrics_json(monotonic_ns()));
  EXPECT_EQ(j["detector"]["detected"], 0);
  EXPECT_EQ(j["detector"]["tracked"], 0);
  EXPECT_TRUE(j["detector"]["tracked_share"].is_null());  // nothing counted yet

  DetectorFrames det(m.pipeline().registry());
  for (int i = 0; i < 9; ++i) det.count(i % 3 == 0);  // D-FINE on every 3rd frame
  j = json::parse(m.metrics_json(monotonic_ns()));
  EXPECT_EQ(j["detector"]["detected"], 3);
  EXPECT_EQ(j["detector"]["tracked"], 6);
  EXPECT_DOUBLE_EQ(j["detector"]["tracked_share"].get<double>(), 6.0 / 9.0);
}

TEST(DetectorFrames, SeveralStreamsAreSummed) {
  Monitor m(manual_options());
  DetectorFrames a(m.pipeline().registry(), {{"stream", "probe1"}});
  DetectorFrames b(m.pipeline().registry(), {{"stream", "probe2"}});
  a.count(true);
  a.count(false);
  b.count(true);
  const json j = json::parse(m.metrics_json(monotonic_ns()));
  EXPECT_EQ(j["detector"]["detected"], 2);
  EXPECT_EQ(j["detector"]["tracked"], 1);
}

TEST(DetectorFrames, ThePageHasTheTile) {
  const Asset* page = find_asset("/");
  ASSERT_NE(page, nullptr);
  EXPECT_NE(page->data.find("id=\"detector\""), std::string_view::npos);
  const Asset* js = find_asset("/assets/dashboard.js");
  ASSERT_NE(js, nullptr);
  EXPECT_NE(js->data.find("m.detector"), std::string_view::npos);
}

}  // namespace
}  // namespace um::monitor
