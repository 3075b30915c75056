// Tests for the `streams:` / `batching:` / `gpu:` config keys (gateway/stream_config.h): the YAML
// layout `ultramotion stress` generates, defaults taken from the top-level plus:/slicer:, every
// validation problem reported at once, unknown keys named with their path, and the YAML/JSON
// round trip. No sockets, no models.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "gateway/config.h"
#include "gateway/session.h"
#include "gateway/stream_config.h"
#include "child_process.h"
#include "test_support.h"

namespace um::gateway {
namespace {

// The layout of issue 10 part 3 (the stress helper writes exactly this).
constexpr const char* kTwoProbes = R"(
streams:
  - name: probe1
    plus:   {host: 127.0.0.1, port: 18944, device: Image_Reference}
    slicer: {port: 18945, device: BoneMask}
  - name: probe2
    plus:   {port: 18954}
    slicer: {port: 18955}
batching: {max_batch: 0, max_wait_ms: 2.0, overlap: true}
gpu: 0
)";

bool has(const std::vector<std::string>& errors, const std::string& needle) {
  return std::any_of(errors.begin(), errors.end(),
                     [&](const std::string& e) { return e.find(needle) != std::string::npos; });
}

std::string joined(const std::vector<std::string>& errors) {
  std::string s;
  for (const auto& e : errors) s += e + "\n";
  return s;
}

GatewayConfig valid_base() {
  GatewayConfig cfg;
  cfg.models.allow_synthetic = true;  // no checkpoint needed for config checks
  return cfg;
}

TEST(StreamConfig, WithoutStreamsOneStreamFromTheTopLevel) {
  GatewayConfig cfg = valid_base();
  ASSERT_TRUE(parse_config_yaml("plus: {port: 19000, device: Img}\nslicer: {port: 19001}\n", &cfg)
                  .ok());
  const std::vector<StreamSettings> s = effective_streams(cfg);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].name, kDefaultStreamName);
  EXPECT_EQ(s[0].plus.port, 19000);
  EXPECT_EQ(s[0].plus.device, "Img");
  EXPECT_EQ(s[0].slicer.port, 19001);
  EXPECT_FALSE(has_stream_list(cfg));
  EXPECT_EQ(effective_max_batch(cfg), 1);
  EXPECT_EQ(cfg.gpu, -1);
  EXPECT_TRUE(config_errors(cfg).empty()) << joined(config_errors(cfg));
}

TEST(StreamConfig, ParsesTheStreamListWithTopLevelDefaults) {
  GatewayConfig cfg = valid_base();
  Status st = parse_config_yaml(std::string(kTwoProbes) +
                                    "plus: {host: 10.1.2.3, device: Image_Probe}\n"
                                    "slicer: {label_value: 255}\n",
                                &cfg, "multi.yaml");
  ASSERT_TRUE(st.ok()) << st.to_string();
  ASSERT_EQ(cfg.streams.size(), 2u);
  const std::vector<StreamSettings> s = effective_streams(cfg);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].name, "probe1");
  EXPECT_EQ(s[0].plus.host, "127.0.0.1");        // its own
  EXPECT_EQ(s[0].plus.device, "Image_Reference");  // its own
  EXPECT_EQ(s[0].slicer.port, 18945);
  EXPECT_EQ(s[0].slicer.device, "BoneMask");
  EXPECT_EQ(s[1].name, "probe2");
  EXPECT_EQ(s[1].plus.host, "10.1.2.3");    // top-level plus.host
  EXPECT_EQ(s[1].plus.device, "Image_Probe");  // top-level plus.device
  EXPECT_EQ(s[1].plus.port, 18954);
  EXPECT_EQ(s[1].slicer.port, 18955);
  EXPECT_EQ(s[1].slicer.device, "BoneMask");  // top-level default
  for (const auto& x : s) EXPECT_EQ(x.slicer.label_value, 255);  // always top-level
  EXPECT_EQ(cfg.batching.max_batch, 0);
  EXPECT_DOUBLE_EQ(cfg.batching.max_wait_ms, 2.0);
  EXPECT_TRUE(cfg.batching.overlap);
  EXPECT_EQ(effective_max_batch(cfg), 2);  // 0 = number of streams
  EXPECT_EQ(cfg.gpu, 0);
  EXPECT_TRUE(config_errors(cfg).empty()) << joined(config_errors(cfg));
}

TEST(StreamConfig, OverridesOfTheTopLevelReachStreamsThatDoNotSetTheKey) {
  GatewayConfig cfg = valid_base();
  ASSERT_TRUE(parse_config_yaml(kTwoProbes, &cfg).ok());
  ASSERT_TRUE(apply_override(&cfg, "plus.host=192.168.0.9").ok());
  ASSERT_TRUE(apply_override(&cfg, "batching.max_wait_ms=5").ok());
  ASSERT_TRUE(apply_override(&cfg, "gpu=3").ok());
  const std::vector<StreamSettings> s = effective_streams(cfg);
  EXPECT_EQ(s[0].plus.host, "127.0.0.1");  // set by the stream itself
  EXPECT_EQ(s[1].plus.host, "192.168.0.9");
  EXPECT_DOUBLE_EQ(cfg.batching.max_wait_ms, 5.0);
  EXPECT_EQ(cfg.gpu, 3);
}

TEST(StreamConfig, EveryProblemOfTheStreamSetIsReportedAtOnce) {
  GatewayConfig cfg = valid_base();
  ASSERT_TRUE(parse_config_yaml(R"(
dashboard: {port: 18975}
streams:
  - name: probe1
    plus:   {port: 18944, device: Image_Reference}
    slicer: {port: 18945}
  - name: probe1
    plus:   {port: 18944, device: Image_Reference}
    slicer: {port: 18945}
  - name: "bad name!"
    plus:   {port: 70000}
    slicer: {port: 18975}
  - name: probe4
    plus:   {port: 18965}
    slicer: {port: 18944, device: ThisDeviceNameIsFarTooLong}
batching: {max_batch: 65, max_wait_ms: -1}
gpu: 99
)",
                                &cfg)
                  .ok());
  const std::vector<std::string> e = config_errors(cfg);
  const std::string all = joined(e);
  EXPECT_TRUE(has(e, "streams[1] (probe1).name: 'probe1' is already the name of streams[0]"))
      << all;
  EXPECT_TRUE(has(e, "streams[2] (bad name!).name: 'bad name!' may only hold letters")) << all;
  EXPECT_TRUE(has(e, "port clash: streams[1] (probe1).slicer.port and streams[0] (probe1)"
                     ".slicer.port are both 18945"))
      << all;
  EXPECT_TRUE(has(e, "input clash: streams[1] (probe1) and streams[0] (probe1) both read device "
                     "'Image_Reference' from 127.0.0.1:18944"))
      << all;
  EXPECT_TRUE(has(e, "streams[2] (bad name!).plus.port: port 70000 is out of range")) << all;
  EXPECT_TRUE(has(e, "port clash: streams[2] (bad name!).slicer.port and dashboard.port are both "
                     "18975"))
      << all;
  EXPECT_TRUE(has(e, "streams[3] (probe4).slicer.device: 'ThisDeviceNameIsFarTooLong'")) << all;
  EXPECT_TRUE(has(e, "port clash: streams[3] (probe4).slicer.port and streams[0] (probe1)"
                     ".plus.port are both 18944"))
      << all;
  EXPECT_TRUE(has(e, "batching.max_batch: 65 is out of range")) << all;
  EXPECT_TRUE(has(e, "batching.max_wait_ms: -1")) << all;
  EXPECT_TRUE(has(e, "gpu: 99 is out of range")) << all;
  EXPECT_EQ(e.size(), 11u) << all;
  Status st = validate_config(cfg);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("11 problem(s)"), std::string::npos) << st.message();
}

TEST(StreamConfig, SamePlusPortWithDifferentDevicesIsTwoProbesOfOneServer) {
  GatewayConfig cfg = valid_base();
  ASSERT_TRUE(parse_config_yaml(R"(
streams:
  - {name: a, plus: {port: 18944, device: Image_A}, slicer: {port: 18945}}
  - {name: b, plus: {port: 18944, device: Image_B}, slicer: {port: 18947}}
)",
                                &cfg)
                  .ok());
  EXPECT_TRUE(config_errors(cfg).empty()) << joined(config_errors(cfg));
  // ...but a stream accepting any device would read the other's images too.
  cfg.streams[1].plus_device = "";
  EXPECT_TRUE(has(config_errors(cfg), "input clash: streams[1] (b) and streams[0] (a)"));
}

TEST(StreamConfig, EphemeralPortsNeverClash) {
  GatewayConfig cfg = valid_base();
  ASSERT_TRUE(parse_config_yaml(R"(
streams:
  - {name: a, plus: {port: 0}, slicer: {port: 0}}
  - {name: b, plus: {port: 0}, slicer: {port: 0}}
)",
                                &cfg)
                  .ok());
  EXPECT_TRUE(config_errors(cfg).empty()) << joined(config_errors(cfg));
}

TEST(StreamConfig, UnknownKeysAndWrongShapesAreNamedWithTheirPath) {
  GatewayConfig cfg = valid_base();
  Status st = parse_config_yaml(R"(
streams:
  - name: probe1
    plus: {prot: 18944}
    slicer: {port: 18945, outputs: {weights: true}}
    colour: red
  - just-a-string
batching: {max_batch: two}
)",
                                &cfg, "bad.yaml");
  ASSERT_FALSE(st.ok());
  const std::string& m = st.message();
  EXPECT_NE(m.find("streams[0].plus.prot: unknown key"), std::string::npos) << m;
  EXPECT_NE(m.find("streams[0].slicer.outputs: unknown key"), std::string::npos) << m;
  EXPECT_NE(m.find("streams[0].colour: unknown key"), std::string::npos) << m;
  EXPECT_NE(m.find("streams[1]: expected a mapping"), std::string::npos) << m;
  EXPECT_NE(m.find("batching.max_batch: expected an integer, got 'two'"), std::string::npos) << m;
  EXPECT_NE(m.find("5 problem(s)"), std::string::npos) << m;

  GatewayConfig other = valid_base();
  Status not_list = parse_config_yaml("streams: {name: x}\n", &other);
  ASSERT_FALSE(not_list.ok());
  EXPECT_NE(not_list.message().find("streams: expected a list"), std::string::npos);
}

TEST(StreamConfig, YamlAndJsonOfTheConfigKeepTheStreams) {
  GatewayConfig cfg = valid_base();
  ASSERT_TRUE(parse_config_yaml(kTwoProbes, &cfg).ok());
  GatewayConfig again = valid_base();
  Status st = parse_config_yaml(config_to_yaml(cfg), &again, "round-trip");
  ASSERT_TRUE(st.ok()) << st.to_string() << "\n" << config_to_yaml(cfg);
  ASSERT_EQ(again.streams.size(), 2u);
  EXPECT_EQ(again.streams[1].name, "probe2");
  EXPECT_EQ(again.streams[1].plus_port, 18954);
  EXPECT_FALSE(again.streams[1].plus_host.has_value());  // still inherited, not frozen
  EXPECT_EQ(again.gpu, 0);
  const std::string json = config_to_json(cfg);
  EXPECT_NE(json.find("\"probe2\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"max_wait_ms\""), std::string::npos) << json;
}

TEST(StreamConfig, ShippedConfigsLoadAndValidate) {
  for (const char* name : {"configs/multi_probe.yaml", "configs/default.yaml"}) {
    GatewayConfig cfg = valid_base();
    Status st = load_config_file((um::test::source_dir() / name).string(), &cfg);
    ASSERT_TRUE(st.ok()) << name << ": " << st.to_string();
    cfg.models.allow_synthetic = true;  // checkpoint paths are relative to the source tree
    EXPECT_TRUE(config_errors(cfg).empty()) << name << ":\n" << joined(config_errors(cfg));
    if (std::string(name) == "configs/multi_probe.yaml") {
      const std::vector<StreamSettings> s = effective_streams(cfg);
      ASSERT_EQ(s.size(), 2u);
      EXPECT_EQ(s[1].plus.port, 18954);
      EXPECT_EQ(s[1].plus.device, "Image_Reference");
    } else {
      EXPECT_FALSE(has_stream_list(cfg));
      EXPECT_EQ(cfg.gpu, -1);
    }
  }
}

// `--gpu N`: the process sees physical GPU N only, numbered like nvidia-smi/NVML.
TEST(StreamConfig, SelectGpuSetsTheCudaEnvironmentAndMinusOneLeavesItAlone) {
  const char* vis = std::getenv("CUDA_VISIBLE_DEVICES");
  const char* order = std::getenv("CUDA_DEVICE_ORDER");
  const std::string saved_vis = vis ? vis : "", saved_order = order ? order : "";
  ::setenv("CUDA_VISIBLE_DEVICES", "0,1", 1);
  select_gpu(-1);
  EXPECT_STREQ(std::getenv("CUDA_VISIBLE_DEVICES"), "0,1");
  select_gpu(3);
  EXPECT_STREQ(std::getenv("CUDA_VISIBLE_DEVICES"), "3");
  EXPECT_STREQ(std::getenv("CUDA_DEVICE_ORDER"), "PCI_BUS_ID");
  if (vis) ::setenv("CUDA_VISIBLE_DEVICES", saved_vis.c_str(), 1);
  else ::unsetenv("CUDA_VISIBLE_DEVICES");
  if (order) ::setenv("CUDA_DEVICE_ORDER", saved_order.c_str(), 1);
  else ::unsetenv("CUDA_DEVICE_ORDER");
}

// The CLI: a bad stream set is exit code 2 with every problem listed before anything starts.
TEST(StreamConfig, RunRejectsABadStreamSetWithEveryProblemAndExitCode2) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("um_stream_cli_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto yaml = dir / "multi.yaml";
  std::ofstream(yaml) << "streams:\n"
                         "  - {name: a, plus: {port: 18944}, slicer: {port: 18945}}\n"
                         "  - {name: a, plus: {port: 18944}, slicer: {port: 18945}}\n"
                         "models: {allow_synthetic: true}\n";
  um::test::ChildProcess run({um::test::cli_path().string(), "run", "--config", yaml.string(),
                              "--gpu", "99", "--no-dashboard"},
                             dir / "run.log");
  const int rc = run.wait(std::chrono::seconds(60));
  const std::string out = run.output();
  std::filesystem::remove_all(dir);
  EXPECT_EQ(rc, 2) << out;
  for (const char* needle :
       {"4 problem(s)", "streams[1] (a).name: 'a' is already the name of streams[0]",
        "port clash: streams[1] (a).slicer.port and streams[0] (a).slicer.port are both 18945",
        "input clash: streams[1] (a) and streams[0] (a)", "gpu: 99 is out of range"})
    EXPECT_NE(out.find(needle), std::string::npos) << needle << "\n" << out;
}

}  // namespace
}  // namespace um::gateway
