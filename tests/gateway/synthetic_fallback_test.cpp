// Tests for the synthetic-weights fallback at the gateway level: the config gate
// (models.allow_synthetic off -> a missing checkpoint is a config error naming the file; on ->
// accepted), and a session with both checkpoints missing and the opt-in (what `demo` does) that
// runs, shows the dashboard banner and writes SyntheticWeights/Weights into every BoneMask.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "gateway/config.h"
#include "gateway/igtl_convert.h"
#include "gateway/model_setup.h"
#include "gateway/session.h"
#include "gateway_test_util.h"

namespace um::gateway {
namespace {

using test::TempDir;

std::string metadata_value(const igtl::Message& m, const std::string& key) {
  for (const auto& e : m.metadata) {
    if (e.key == key) return e.value;
  }
  return "<absent>";
}

TEST(SyntheticFallback, MissingCheckpointWithoutOptInIsAConfigErrorNamingTheFile) {
  GatewayConfig cfg;
  cfg.models.dfine = "/nonexistent/dfine_missing.pth";
  cfg.models.sam = "/nonexistent/sam_missing.pt";
  Status s = validate_config(cfg);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("dfine_missing.pth"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("sam_missing.pt"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("allow_synthetic"), std::string::npos) << s.message();
}

TEST(SyntheticFallback, OptInFromTheConfigFileAcceptsMissingCheckpoints) {
  TempDir tmp("synth_cfg");
  const auto file = tmp.path() / "run.yaml";
  std::ofstream(file) << "models:\n  dfine: /nonexistent/d.pth\n  sam: /nonexistent/s.pt\n"
                         "  allow_synthetic: true\n";
  GatewayConfig cfg;
  ASSERT_TRUE(load_config_file(file.string(), &cfg).ok());
  EXPECT_TRUE(cfg.models.allow_synthetic);
  Status s = validate_config(cfg);
  EXPECT_TRUE(s.ok()) << s.message();
  auto po = processor_options(cfg);
  ASSERT_TRUE(po.ok());
  EXPECT_TRUE(po->allow_synthetic);
  EXPECT_EQ(pipeline::synthetic_models_label(*po), "dfine,sam");
  const std::string detail = synthetic_weights_detail(*po);
  EXPECT_NE(detail.find("SYNTHETIC"), std::string::npos);
  EXPECT_NE(detail.find("/nonexistent/d.pth"), std::string::npos) << detail;
}

TEST(SyntheticFallback, ADirectoryInPlaceOfACheckpointIsStillAnError) {
  TempDir tmp("synth_dir");
  GatewayConfig cfg;
  cfg.models.dfine = tmp.path().string();
  cfg.models.sam = "/nonexistent/s.pt";
  cfg.models.allow_synthetic = true;
  Status s = validate_config(cfg);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not a file"), std::string::npos) << s.message();
}

TEST(SyntheticFallback, TxMetadataCarriesTheSyntheticLabel) {
  OutputItem item;
  item.frame.width = 4;
  item.frame.height = 2;
  item.frame.pixels.assign(8, 0);
  item.result.width = 4;
  item.result.height = 2;
  TxOptions o;
  auto msgs = build_tx_messages(item, o, 0);
  ASSERT_FALSE(msgs.empty());
  EXPECT_EQ(metadata_value(msgs[0], "SyntheticWeights"), "none");
  o.synthetic_weights = "dfine,sam";
  msgs = build_tx_messages(item, o, 0);
  ASSERT_FALSE(msgs.empty());
  EXPECT_EQ(metadata_value(msgs[0], "SyntheticWeights"), "dfine,sam");
}

TEST(SyntheticFallback, DemoLikeSessionRunsOnSyntheticWeightsAndSaysSo) {
  SessionOptions so;
  so.config.plus.port = 0;
  so.config.slicer.port = 0;
  so.config.dashboard.enabled = false;
  so.config.models.dfine = "/nonexistent/dfine_missing.pth";
  so.config.models.sam = "/nonexistent/sam_missing.pt";
  so.config.models.allow_synthetic = true;
  so.with_simulator = true;
  so.simulator.fps = 5;
  so.simulator.source_options.size = {128, 160};  // frames must be >= 128 a side
  Session session(std::move(so));
  Status s = session.start();
  ASSERT_TRUE(s.ok()) << s.to_string();
  std::string banner;
  EXPECT_TRUE(session.monitor().synthetic_weights(&banner));
  EXPECT_NE(banner.find("dfine_missing.pth"), std::string::npos) << banner;
  EXPECT_NE(banner.find("sam_missing.pt"), std::string::npos) << banner;
  EXPECT_NE(session.gateway()->processor_description().find("SYNTHETIC"), std::string::npos);

  test::IgtlReader reader;
  ASSERT_TRUE(reader.connect(session.gateway()->slicer_port()).ok());
  ASSERT_TRUE(test::wait_until(
      [&] {
        reader.pump(100);
        return reader.count("BoneMask") >= 1;
      },
      std::chrono::seconds(60)));
  for (const auto& m : reader.messages()) {
    if (m.device_name != "BoneMask") continue;
    EXPECT_EQ(metadata_value(m, "SyntheticWeights"), "dfine,sam");
    EXPECT_NE(metadata_value(m, "Weights").find("SYNTHETIC"), std::string::npos);
  }
  session.stop();
}

}  // namespace
}  // namespace um::gateway
