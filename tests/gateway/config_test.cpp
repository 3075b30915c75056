// Tests for src/gateway/config.*: defaults per SPEC.md, YAML parsing, --set overrides, and one
// clear message per error class (unknown key with path, wrong type, port clash, missing file,
// bad range), all reported together.
#include "gateway/config.h"

#include "gateway/cli_options.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test_support.h"

namespace um::gateway {
namespace {

namespace fs = std::filesystem;

// A config whose checkpoint files exist (temp files), so only the error under test shows.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("um_cfg_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    std::ofstream(dir_ / "d.pth") << "x";
    std::ofstream(dir_ / "s.pt") << "x";
    cfg_.models.dfine = (dir_ / "d.pth").string();
    cfg_.models.sam = (dir_ / "s.pt").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  bool has_error(const std::string& needle) {
    for (const auto& e : config_errors(cfg_))
      if (e.find(needle) != std::string::npos) return true;
    return false;
  }
  fs::path dir_;
  GatewayConfig cfg_;
};

TEST_F(ConfigTest, DefaultsFollowSpec) {
  GatewayConfig d;
  EXPECT_EQ(d.plus.host, "127.0.0.1");
  EXPECT_EQ(d.plus.port, 18944);
  EXPECT_EQ(d.slicer.port, 18945);
  EXPECT_EQ(d.dashboard.port, 8050);
  EXPECT_EQ(d.queues.rx_capacity, 2);
  EXPECT_EQ(d.queues.tx_capacity, 8);
  EXPECT_EQ(d.queues.max_frame_age_ms, 500);
  EXPECT_DOUBLE_EQ(d.thresholds.tau_conf, 0.5);
  EXPECT_DOUBLE_EQ(d.thresholds.theta_on, 0.6);
  EXPECT_DOUBLE_EQ(d.thresholds.theta_off, 0.4);
  EXPECT_DOUBLE_EQ(d.thresholds.theta_cont, 0.5);
  EXPECT_EQ(d.models.dfine, "models/phantom/dfine_n_phantom.pth");
  EXPECT_TRUE(config_errors(cfg_).empty()) << validate_config(cfg_).to_string();
}

TEST_F(ConfigTest, ParsesEverySectionFromYaml) {
  const std::string yaml = R"(
plus: {host: 10.0.0.5, port: 19000, device: Image_Probe, reconnect_ms: 250}
slicer:
  port: 19001
  label_value: 255
  outputs: {bone_mask: true, weights: true, status: false}
dashboard: {port: 9000}
models: {precision: fp16, backend: cuda, resize: letterbox, mask_prompt_reuse: true}
thresholds: {tau_conf: 0.3, theta_on: 0.7, theta_off: 0.2, theta_cont: 0.45}
queues: {rx_capacity: 3, tx_capacity: 16, max_frame_age_ms: 250}
record: /tmp/x.umrec
)";
  ASSERT_TRUE(parse_config_yaml(yaml, &cfg_).ok());
  EXPECT_EQ(cfg_.plus.host, "10.0.0.5");
  EXPECT_EQ(cfg_.plus.port, 19000);
  EXPECT_EQ(cfg_.plus.device, "Image_Probe");
  EXPECT_EQ(cfg_.plus.reconnect_ms, 250);
  EXPECT_EQ(cfg_.slicer.port, 19001);
  EXPECT_EQ(cfg_.slicer.label_value, 255);
  EXPECT_TRUE(cfg_.slicer.outputs.weights);
  EXPECT_FALSE(cfg_.slicer.outputs.status);
  EXPECT_EQ(cfg_.dashboard.port, 9000);
  EXPECT_EQ(cfg_.models.precision, "fp16");
  EXPECT_EQ(cfg_.models.backend, "cuda");
  EXPECT_EQ(cfg_.models.resize, "letterbox");
  EXPECT_TRUE(cfg_.models.mask_prompt_reuse);
  EXPECT_DOUBLE_EQ(cfg_.thresholds.tau_conf, 0.3);
  EXPECT_DOUBLE_EQ(cfg_.thresholds.theta_cont, 0.45);
  EXPECT_EQ(cfg_.queues.tx_capacity, 16);
  EXPECT_EQ(cfg_.queues.max_frame_age_ms, 250);
  EXPECT_EQ(cfg_.record, "/tmp/x.umrec");
  EXPECT_TRUE(validate_config(cfg_).ok()) << validate_config(cfg_).to_string();
}

TEST_F(ConfigTest, UnknownKeysAreNamedWithTheirPath) {
  Status s = parse_config_yaml("slicer:\n  outputs: {wedge: true}\nplsu: {port: 1}\n", &cfg_,
                               "run.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("run.yaml"), std::string::npos);
  EXPECT_NE(s.message().find("slicer.outputs.wedge: unknown key"), std::string::npos);
  EXPECT_NE(s.message().find("plsu: unknown key"), std::string::npos);
  EXPECT_NE(s.message().find("2 problem(s)"), std::string::npos);
}

TEST_F(ConfigTest, WrongTypesAndSyntaxErrorsAreReported) {
  Status s = parse_config_yaml("plus: {port: abc}\nqueues: {rx_capacity: 1.5}\nslicer: 3\n", &cfg_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("plus.port: expected an integer, got 'abc'"), std::string::npos);
  EXPECT_NE(s.message().find("queues.rx_capacity: expected an integer"), std::string::npos);
  EXPECT_NE(s.message().find("slicer: expected a mapping"), std::string::npos);
  Status syntax = parse_config_yaml("plus: {port: [1,\n", &cfg_);
  ASSERT_FALSE(syntax.ok());
  EXPECT_NE(syntax.message().find("YAML syntax error at line"), std::string::npos);
  EXPECT_FALSE(parse_config_yaml("- a\n- b\n", &cfg_).ok());
}

TEST_F(ConfigTest, PortClashIsAnError) {
  cfg_.slicer.port = 8050;
  EXPECT_TRUE(has_error("port clash: slicer.port and dashboard.port are both 8050"));
  cfg_.dashboard.enabled = false;  // a disabled dashboard does not claim its port
  EXPECT_FALSE(has_error("port clash"));
  cfg_.plus.port = 8050;
  EXPECT_TRUE(has_error("port clash: plus.port and slicer.port"));
}

TEST_F(ConfigTest, MissingCheckpointIsAnError) {
  cfg_.models.sam = (dir_ / "nope.pt").string();
  EXPECT_TRUE(has_error("models.sam: checkpoint file '" + cfg_.models.sam + "' does not exist"));
  cfg_.models.dfine = "";
  EXPECT_TRUE(has_error("models.dfine: no checkpoint path given"));
}

TEST_F(ConfigTest, MissingConfigFileIsNotFound) {
  Status s = load_config_file((dir_ / "absent.yaml").string(), &cfg_);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
}

TEST_F(ConfigTest, BadRangesAreEachReportedTogether) {
  cfg_.plus.port = 70000;
  cfg_.slicer.label_value = 7;
  cfg_.thresholds.tau_conf = 1.5;
  cfg_.thresholds.theta_off = 0.65;  // above theta_on: no hysteresis
  cfg_.queues.rx_capacity = 0;
  cfg_.queues.max_frame_age_ms = -5;
  cfg_.models.backend = "tpu";
  cfg_.record = (dir_ / "no_such_dir" / "r.umrec").string();
  const auto errors = config_errors(cfg_);
  EXPECT_EQ(errors.size(), 8u);
  EXPECT_TRUE(has_error("plus.port: port 70000 is out of range 0..65535"));
  EXPECT_TRUE(has_error("slicer.label_value: 7 must be 1 or 255"));
  EXPECT_TRUE(has_error("thresholds.tau_conf"));
  EXPECT_TRUE(has_error("theta_off (0.650000) must be below theta_on"));
  EXPECT_TRUE(has_error("queues.rx_capacity: 0 is out of range"));
  EXPECT_TRUE(has_error("queues.max_frame_age_ms: -5"));
  EXPECT_TRUE(has_error("models.backend: 'tpu' is not one of cpu | cuda"));
  EXPECT_TRUE(has_error("record: folder"));
  Status s = validate_config(cfg_);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("8 problem(s)"), std::string::npos);
}

TEST_F(ConfigTest, KpiLogIsValidated) {
  cfg_.kpi_log.file = (dir_ / "no_such_dir" / "kpi.jsonl").string();
  cfg_.kpi_log.interval_ms = 5;
  const auto errors = config_errors(cfg_);
  EXPECT_EQ(errors.size(), 2u);
  EXPECT_TRUE(has_error("kpi_log.file: folder"));
  EXPECT_TRUE(has_error("kpi_log.interval_ms: 5 is out of range 10..3600000"));
  ASSERT_TRUE(apply_override(&cfg_, "kpi_log.file=" + (dir_ / "kpi.jsonl").string()).ok());
  ASSERT_TRUE(apply_override(&cfg_, "kpi_log.interval_ms=250").ok());
  EXPECT_TRUE(config_errors(cfg_).empty());
}

TEST_F(ConfigTest, OverridesUseTheSameKeyPaths) {
  ASSERT_TRUE(apply_override(&cfg_, "plus.port=19100").ok());
  EXPECT_EQ(cfg_.plus.port, 19100);
  ASSERT_TRUE(apply_override(&cfg_, "slicer.outputs.weights=true").ok());
  EXPECT_TRUE(cfg_.slicer.outputs.weights);
  ASSERT_TRUE(apply_override(&cfg_, "models.dfine=C:/weights/x.pth").ok());
  EXPECT_EQ(cfg_.models.dfine, "C:/weights/x.pth");
  ASSERT_TRUE(apply_override(&cfg_, "record=").ok());
  EXPECT_EQ(cfg_.record, "");
  Status unknown = apply_override(&cfg_, "plus.prot=1");
  EXPECT_NE(unknown.message().find("plus.prot: unknown key"), std::string::npos);
  EXPECT_FALSE(apply_override(&cfg_, "noequals").ok());
  EXPECT_FALSE(apply_override(&cfg_, "thresholds.tau_conf=high").ok());
}

TEST_F(ConfigTest, StartupCheckReportsFileOverrideAndValidationProblemsTogether) {
  const fs::path file = dir_ / "run.yaml";
  std::ofstream(file) << "plus: {port: 8050, prot: 1}\nmodels: {dfine: " << cfg_.models.dfine
                      << ", sam: " << (dir_ / "gone.pt").string() << "}\n";
  ConfigOverrides ov;
  ov.named.emplace_back("slicer.label_value", "3");
  ov.set.push_back("queues.rx_capacity=x");
  GatewayConfig c;
  Status s = build_config(file.string(), ov, &c);
  ASSERT_EQ(s.code(), StatusCode::kInvalidArgument);
  const std::string& m = s.message();
  EXPECT_NE(m.find("5 problem(s)"), std::string::npos) << m;
  EXPECT_NE(m.find("plus.prot: unknown key"), std::string::npos) << m;                 // parse
  EXPECT_NE(m.find("queues.rx_capacity: expected an integer, got 'x'"), std::string::npos) << m;
  EXPECT_NE(m.find("port clash: plus.port and dashboard.port"), std::string::npos) << m;
  EXPECT_NE(m.find("slicer.label_value: 3 must be 1 or 255"), std::string::npos) << m;
  EXPECT_NE(m.find("gone.pt' does not exist"), std::string::npos) << m;
  EXPECT_EQ(build_config((dir_ / "absent.yaml").string(), {}, &c).code(), StatusCode::kNotFound);
}

TEST_F(ConfigTest, YamlRoundTrip) {
  cfg_.plus.port = 12345;
  cfg_.slicer.outputs.weights = true;
  cfg_.thresholds.theta_on = 0.75;
  GatewayConfig back;
  ASSERT_TRUE(parse_config_yaml(config_to_yaml(cfg_), &back).ok()) << config_to_yaml(cfg_);
  EXPECT_EQ(back.plus.port, 12345);
  EXPECT_TRUE(back.slicer.outputs.weights);
  EXPECT_DOUBLE_EQ(back.thresholds.theta_on, 0.75);
  EXPECT_EQ(back.models.dfine, cfg_.models.dfine);
}

TEST_F(ConfigTest, ShippedExampleConfigsParse) {
  for (const char* name : {"default.yaml", "demo.yaml"}) {
    GatewayConfig c;
    const fs::path p = um::test::source_dir() / "configs" / name;
    Status s = load_config_file(p.string(), &c);
    EXPECT_TRUE(s.ok()) << name << ": " << s.to_string();
    // The files name checkpoints relative to the repository root.
    c.models.dfine = (um::test::source_dir() / c.models.dfine).string();
    c.models.sam = (um::test::source_dir() / c.models.sam).string();
    EXPECT_TRUE(config_errors(c).empty()) << name << ": " << validate_config(c).to_string();
  }
}

}  // namespace
}  // namespace um::gateway
