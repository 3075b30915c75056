// Bad D-FINE input gives one clear error, never a crash (built and run under ASan too; no full
// forward passes here). Checkpoints are small synthetic state dicts.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "io/safetensors.h"
#include "models/dfine/dfine.h"
#include "synthetic_checkpoint.h"
#include "test_support.h"

namespace um::dfine {
namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(DFineBadInput, MissingKeyIsNamed) {
  io::TensorMap sd = test::make_dfine_state_dict(test::small_spec(1));
  sd.erase("encoder.lateral_convs.0.norm.running_var");
  auto m = DFine::from_tensors(sd);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(contains(m.status().message(), "encoder.lateral_convs.0.norm.running_var")) << m.status().to_string();
}

TEST(DFineBadInput, WrongShapeNamesKeyAndBothShapes) {
  io::TensorMap sd = test::make_dfine_state_dict(test::small_spec(1));
  sd["decoder.decoder.layers.1.linear2.weight"] = Tensor::zeros({64, 100});
  auto m = DFine::from_tensors(sd);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  const std::string msg = m.status().message();
  EXPECT_TRUE(contains(msg, "decoder.decoder.layers.1.linear2.weight")) << msg;
  EXPECT_TRUE(contains(msg, "[64, 128]")) << msg;
  EXPECT_TRUE(contains(msg, "[64, 100]")) << msg;

  io::TensorMap sd2 = test::make_dfine_state_dict(test::small_spec(1));
  sd2["backbone.stages.2.blocks.0.aggregation.0.conv.weight"] = Tensor::zeros({256, 300, 1, 1});
  auto m2 = DFine::from_tensors(sd2);
  ASSERT_FALSE(m2.ok());
  EXPECT_TRUE(contains(m2.status().message(), "backbone.stages.2.blocks.0.aggregation.0.conv.weight"))
      << m2.status().to_string();
}

TEST(DFineBadInput, OverridesMustMatchTheCheckpoint) {
  const io::TensorMap sd = test::make_dfine_state_dict(test::small_spec(2));
  Options o;
  o.num_classes = 5;
  auto m = DFine::from_tensors(sd, o);
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(contains(m.status().message(), "5 classes were requested")) << m.status().to_string();
  Options v;
  v.variant = Variant::kL;
  auto m2 = DFine::from_tensors(sd, v);
  ASSERT_FALSE(m2.ok());
  EXPECT_TRUE(contains(m2.status().message(), "--variant l")) << m2.status().to_string();
  Options sz;
  sz.input_width = 500;
  EXPECT_FALSE(DFine::from_tensors(sd, sz).ok());
  EXPECT_FALSE(parse_variant("q").ok());
  EXPECT_FALSE(parse_resize_mode("crop").ok());
}

TEST(DFineBadInput, NotADFineCheckpointOrNoFile) {
  io::TensorMap other{{"image_encoder.patch_embed.seq.0.c.weight", Tensor::zeros({1})}};
  auto m = DFine::from_tensors(other);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
  auto f = DFine::load("/nonexistent/dfine.pth");
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(contains(f.status().message(), "/nonexistent/dfine.pth")) << f.status().to_string();
}

TEST(DFineBadInput, BadFrameAndBadInputTensor) {
  auto m = DFine::from_tensors(test::make_dfine_state_dict(test::small_spec(1)));
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  io::Image empty;
  EXPECT_THROW((void)(*m)->detect(empty), Error);
  io::Image lying;
  lying.width = 100;
  lying.height = 100;
  lying.channels = 1;
  lying.pixels.resize(10);
  EXPECT_THROW((void)(*m)->preprocess(lying), Error);
  EXPECT_THROW((void)(*m)->forward(Tensor::zeros({1, 3, 100, 96})), Error);
  EXPECT_THROW((void)(*m)->forward(Tensor::zeros({1, 2, 64, 64})), Error);
}

// Runs the CLI, returning exit status and captured stderr.
std::pair<int, std::string> run_cli(const std::string& args) {
  const um::test::CliRun r = um::test::run_cli(args, "2>&1 1>/dev/null");
  return {r.exit_code, r.out};
}

TEST(DFineBadInput, CliReportsOneErrorLine) {
  ASSERT_TRUE(std::filesystem::exists(um::test::cli_path())) << um::test::cli_path();
  const auto bad = std::filesystem::temp_directory_path() / ("bad_dfine_" + std::to_string(::getpid()) + ".safetensors");
  io::TensorMap sd = test::make_dfine_state_dict(test::small_spec(1));
  sd["decoder.enc_score_head.weight"] = Tensor::zeros({1, 63});
  ASSERT_TRUE(io::write_safetensors(bad.string(), sd).ok());
  const auto frame = um::test::fixtures_dir() / "dfine_n" / "frame.png";
  auto [rc, err] = run_cli("detect --checkpoint " + bad.string() + " --image " + frame.string() + " --json");
  std::filesystem::remove(bad);
  EXPECT_NE(rc, 0);
  EXPECT_TRUE(contains(err, "decoder.enc_score_head.weight")) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  auto [rc2, err2] = run_cli("detect --checkpoint /nonexistent.pth --image /nonexistent.png");
  EXPECT_NE(rc2, 0);
  EXPECT_EQ(std::count(err2.begin(), err2.end(), '\n'), 1) << err2;
}

}  // namespace
}  // namespace um::dfine
