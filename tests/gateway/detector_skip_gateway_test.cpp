// Tests for detector skipping at the gateway level (issue 10): the `detector_skip:` YAML
// section and --set overrides, their validation, the mapping onto the pipeline's
// DetectorSkipConfig, and the BoneMask metadata key "Detector" ("ran" / "tracked").
#include <gtest/gtest.h>

#include <string>

#include "gateway/config.h"
#include "gateway/igtl_convert.h"
#include "gateway/model_setup.h"

namespace um::gateway {
namespace {

bool has_error(const GatewayConfig& cfg, const std::string& needle) {
  for (const auto& e : config_errors(cfg))
    if (e.find(needle) != std::string::npos) return true;
  return false;
}

std::string metadata_value(const igtl::Message& m, const std::string& key) {
  for (const auto& e : m.metadata)
    if (e.key == key) return e.value;
  return "<absent>";
}

TEST(DetectorSkipGateway, DefaultIsOff) {
  GatewayConfig cfg;
  EXPECT_EQ(cfg.detector_skip.every, 1);
  Result<pipeline::ProcessorOptions> o = processor_options(cfg);
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->config.detector_skip.every, 1);
}

TEST(DetectorSkipGateway, YamlSectionMapsOntoTheProcessorConfig) {
  GatewayConfig cfg;
  const Status s = parse_config_yaml(
      "detector_skip:\n  every: 3\n  min_box_iou: 0.7\n  min_score: 0.55\n"
      "  max_quality_drop: 0.05\n",
      &cfg);
  ASSERT_TRUE(s.ok()) << s.to_string();
  Result<pipeline::ProcessorOptions> o = processor_options(cfg);
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  const pipeline::DetectorSkipConfig& d = o->config.detector_skip;
  EXPECT_EQ(d.every, 3);
  EXPECT_FLOAT_EQ(d.min_box_iou, 0.7f);
  EXPECT_FLOAT_EQ(d.min_score, 0.55f);
  EXPECT_FLOAT_EQ(d.max_quality_drop, 0.05f);
  EXPECT_TRUE(pipeline::validate_detector_skip_config(d).ok());
  // The YAML and JSON views carry the section (round trip).
  GatewayConfig back;
  ASSERT_TRUE(parse_config_yaml(config_to_yaml(cfg), &back).ok()) << config_to_yaml(cfg);
  EXPECT_EQ(back.detector_skip.every, 3);
  EXPECT_NE(config_to_json(cfg).find("max_quality_drop"), std::string::npos);
}

TEST(DetectorSkipGateway, OverrideAndUnknownKey) {
  GatewayConfig cfg;
  ASSERT_TRUE(apply_override(&cfg, "detector_skip.every=4").ok());
  EXPECT_EQ(cfg.detector_skip.every, 4);
  const Status bad = parse_config_yaml("detector_skip:\n  evry: 3\n", &cfg);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("detector_skip.evry: unknown key"), std::string::npos)
      << bad.message();
  const Status type = apply_override(&cfg, "detector_skip.every=three");
  ASSERT_FALSE(type.ok());
  EXPECT_NE(type.message().find("detector_skip.every"), std::string::npos) << type.message();
}

TEST(DetectorSkipGateway, OutOfRangeValuesAreNamed) {
  GatewayConfig cfg;
  cfg.detector_skip.every = 0;
  cfg.detector_skip.min_box_iou = 1.2;
  cfg.detector_skip.min_score = -0.1;
  cfg.detector_skip.max_quality_drop = 3;
  EXPECT_TRUE(has_error(cfg, "detector_skip.every"));
  EXPECT_TRUE(has_error(cfg, "detector_skip.min_box_iou"));
  EXPECT_TRUE(has_error(cfg, "detector_skip.min_score"));
  EXPECT_TRUE(has_error(cfg, "detector_skip.max_quality_drop"));
  cfg.detector_skip = {};
  EXPECT_FALSE(has_error(cfg, "detector_skip"));
}

TEST(DetectorSkipGateway, BoneMaskMetadataSaysWhetherDFineRan) {
  OutputItem item;
  item.frame.width = 4;
  item.frame.height = 2;
  item.frame.pixels.assign(8, 0);
  item.result.width = 4;
  item.result.height = 2;
  TxOptions o;
  o.outputs.weights = true;  // every image message carries the key
  item.result.detector_ran = true;
  std::vector<igtl::Message> msgs = build_tx_messages(item, o, 0);
  ASSERT_FALSE(msgs.empty());
  for (const auto& m : msgs)
    if (m.type == "IMAGE") EXPECT_EQ(metadata_value(m, "Detector"), "ran") << m.device_name;
  item.result.detector_ran = false;
  msgs = build_tx_messages(item, o, 0);
  ASSERT_FALSE(msgs.empty());
  for (const auto& m : msgs)
    if (m.type == "IMAGE") EXPECT_EQ(metadata_value(m, "Detector"), "tracked") << m.device_name;
}

}  // namespace
}  // namespace um::gateway
