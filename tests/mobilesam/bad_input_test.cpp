// File: tests/mobilesam/bad_input_test.cpp
// Purpose: MobileSAM's bad-input handling, with no image-encoder forward (so it also runs under
// ASan + UBSan): prompt validation (empty prompt, inverted box, box outside the frame -> clamp or
// error, labels other than 0/1, non-finite coordinates, wrong mask input), predicting before an
// image is set, bad frames, bad embeddings, checkpoints with a missing key or a wrong shape, and
// the CLI's error exits. The decoder-only cases use the fixture's reference image embedding.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "models/mobilesam/mobilesam.h"
#include "models/mobilesam/predictor.h"
#include "test_support.h"

namespace um::mobilesam {
namespace {

constexpr int64_t kW = 422, kH = 558;

Prompt box_prompt(float x0, float y0, float x1, float y1) {
  Prompt p;
  p.box = Box{x0, y0, x1, y1};
  return p;
}

TEST(MobileSamPrompt, EmptyPromptIsAnError) {
  auto r = check_prompt(Prompt{}, kW, kH);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("empty prompt"), std::string::npos);
}

TEST(MobileSamPrompt, InvertedBoxIsAnError) {
  for (const Prompt& p : {box_prompt(100, 50, 90, 80), box_prompt(10, 80, 90, 50)}) {
    auto r = check_prompt(p, kW, kH);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("inverted box"), std::string::npos);
  }
}

TEST(MobileSamPrompt, BoxStickingOutIsClamped) {
  bool clamped = false;
  auto r = check_prompt(box_prompt(-20, 100, 500, 600), kW, kH, &clamped);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(clamped);
  EXPECT_EQ(r->box->x0, 0.f);
  EXPECT_EQ(r->box->y0, 100.f);
  EXPECT_EQ(r->box->x1, float(kW));
  EXPECT_EQ(r->box->y1, float(kH));
  auto inside = check_prompt(box_prompt(10, 20, 30, 40), kW, kH, &clamped);
  ASSERT_TRUE(inside.ok());
  EXPECT_FALSE(clamped);
}

TEST(MobileSamPrompt, BoxEntirelyOutsideIsOutOfRange) {
  for (const Prompt& p : {box_prompt(500, 10, 600, 50), box_prompt(-50, -40, -10, -5),
                          box_prompt(10, 600, 50, 700)}) {
    auto r = check_prompt(p, kW, kH);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange);
  }
}

TEST(MobileSamPrompt, NonFiniteCoordinatesAreErrors) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(check_prompt(box_prompt(nan, 0, 10, 10), kW, kH).status().code(),
            StatusCode::kInvalidArgument);
  Prompt p;
  p.points = {{inf, 5, 1}};
  EXPECT_EQ(check_prompt(p, kW, kH).status().code(), StatusCode::kInvalidArgument);
}

TEST(MobileSamPrompt, LabelsOtherThanZeroOrOneAreErrors) {
  for (int label : {-1, 2, 7}) {
    Prompt p;
    p.points = {{10, 10, 1}, {20, 20, label}};
    auto r = check_prompt(p, kW, kH);
    ASSERT_FALSE(r.ok()) << label;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("label " + std::to_string(label)), std::string::npos);
  }
}

TEST(MobileSamPrompt, PointOutsideTheFrameIsOutOfRange) {
  Prompt p;
  p.points = {{10, 10, 1}, {float(kW) + 1, 10, 0}};
  EXPECT_EQ(check_prompt(p, kW, kH).status().code(), StatusCode::kOutOfRange);
}

TEST(MobileSamPrompt, WrongMaskInputIsAnError) {
  Prompt p;
  p.mask_input = Tensor::zeros({1, 128, 128});
  EXPECT_EQ(check_prompt(p, kW, kH).status().code(), StatusCode::kInvalidArgument);
  p.mask_input = Tensor::zeros({1, 256, 256}, DType::kU8);
  EXPECT_EQ(check_prompt(p, kW, kH).status().code(), StatusCode::kInvalidArgument);
  p.mask_input = Tensor::zeros({1, 1, 256, 256});
  EXPECT_TRUE(check_prompt(p, kW, kH).ok());
}

TEST(MobileSamPredictor, PredictBeforeSetImageFails) {
  Predictor p(nullptr);
  auto r = p.predict(box_prompt(1, 1, 5, 5));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(p.set_image(io::Image{4, 4, 1, std::vector<uint8_t>(16)}).code(),
            StatusCode::kFailedPrecondition);
}

// ---- cases that need the weights (prompt encoder + decoder only) ------------------------------

class MobileSamWeights : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto dir = test::fixtures_dir() / "mobilesam";
    if (!std::filesystem::exists(dir / "checkpoint.pt")) return;
    auto ckpt = io::load_checkpoint((dir / "checkpoint.pt").string());
    ASSERT_TRUE(ckpt.ok()) << ckpt.status().to_string();
    tensors_ = new io::TensorMap(std::move(ckpt->tensors));
    auto ref = io::read_safetensors((dir / "tensors.safetensors").string());
    ASSERT_TRUE(ref.ok()) << ref.status().to_string();
    ref_ = new io::TensorMap(std::move(ref).value());
  }
  static void TearDownTestSuite() {
    delete tensors_;
    delete ref_;
    tensors_ = nullptr;
    ref_ = nullptr;
  }
  void SetUp() override {
    const auto path = test::fixtures_dir() / "mobilesam" / "checkpoint.pt";
    UM_REQUIRE_FIXTURE(path);
    ASSERT_NE(tensors_, nullptr);
  }
  static io::TensorMap* tensors_;
  static io::TensorMap* ref_;
};
io::TensorMap* MobileSamWeights::tensors_ = nullptr;
io::TensorMap* MobileSamWeights::ref_ = nullptr;

TEST_F(MobileSamWeights, MissingKeyIsNamed) {
  for (const char* key : {"mask_decoder.iou_token.weight", "image_encoder.layers.2.blocks.3.attn.qkv.bias",
                          "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"}) {
    io::TensorMap t = *tensors_;
    ASSERT_EQ(t.erase(key), 1u) << key;
    auto m = MobileSam::from_tensors(t);
    ASSERT_FALSE(m.ok()) << key;
    EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
    EXPECT_NE(m.status().message().find(key), std::string::npos) << m.status().to_string();
  }
}

TEST_F(MobileSamWeights, WrongShapeIsNamed) {
  io::TensorMap t = *tensors_;
  t["mask_decoder.mask_tokens.weight"] = Tensor::zeros({3, 256});
  auto m = MobileSam::from_tensors(t);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(m.status().message().find("mask_decoder.mask_tokens.weight"), std::string::npos);
}

TEST_F(MobileSamWeights, MissingCheckpointFileIsNotFound) {
  auto m = MobileSam::load("/nonexistent/mobile_sam.pt");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
}

TEST_F(MobileSamWeights, ClampedBoxPredictsLikeTheClampedBox) {
  auto m = MobileSam::from_tensors(*tensors_);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  Predictor p(*m);
  ASSERT_TRUE(p.set_image_embedding(ref_->at("image_embeddings"), kH, kW).ok());
  auto outside = p.predict(box_prompt(-30, 40, 470, 300));
  auto clamped = p.predict(box_prompt(0, 40, float(kW), 300));
  ASSERT_TRUE(outside.ok() && clamped.ok());
  EXPECT_TRUE(outside->box_clamped);
  EXPECT_FALSE(clamped->box_clamped);
  for (int64_t i = 0; i < clamped->mask_logits.numel(); ++i) {
    ASSERT_EQ(outside->mask_logits.data<float>()[i], clamped->mask_logits.data<float>()[i]);
  }
  // And the bad prompts come back as errors from predict too.
  EXPECT_EQ(p.predict(box_prompt(50, 50, 40, 60)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(p.predict(Prompt{}).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(MobileSamWeights, BadEmbeddingAndFrameAreErrors) {
  auto m = MobileSam::from_tensors(*tensors_);
  ASSERT_TRUE(m.ok());
  Predictor p(*m);
  EXPECT_EQ(p.set_image_embedding(Tensor::zeros({1, 256, 32, 32}), kH, kW).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(p.set_image_embedding(ref_->at("image_embeddings"), 0, kW).code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(p.has_image());
  EXPECT_EQ(p.set_image(io::Image{}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(p.set_image(io::Image{4, 4, 2, std::vector<uint8_t>(32)}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(p.set_image(io::Image{4, 4, 1, std::vector<uint8_t>(10)}).code(),
            StatusCode::kInvalidArgument);
}

// ---- the CLI's error exits (no model forward: the prompt is checked first) --------------------

int run_cli(const std::string& args) {
  const std::string cmd = test::cli_path().string() + " segment " + args + " >/dev/null 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST(MobileSamCli, BadPromptsExitWithAnError) {
  const auto dir = test::fixtures_dir() / "mobilesam";
  const auto path = dir / "frame.png";
  UM_REQUIRE_FIXTURE(path);
  if (!std::filesystem::exists(test::cli_path())) GTEST_SKIP() << "ultramotion not built";
  const std::string base = "--checkpoint " + (dir / "checkpoint.pt").string() + " --image " +
                           path.string();
  EXPECT_EQ(run_cli(base + " --box 100,50,90,80"), 1);          // inverted
  EXPECT_EQ(run_cli(base + " --box 500,10,600,50"), 1);         // entirely outside
  EXPECT_EQ(run_cli(base + " --point 10,10,2"), 1);             // label 2
  EXPECT_EQ(run_cli(base + " --box 1,2,3"), 1);                 // 3 numbers
  EXPECT_EQ(run_cli(base + " --box 1,2,x,4"), 1);               // not a number
  EXPECT_EQ(run_cli(base), 1);                                  // empty prompt
  EXPECT_EQ(run_cli("--checkpoint /nonexistent.pt --image " + path.string() + " --box 1,2,30,40"), 1);
  EXPECT_NE(run_cli("--image " + path.string() + " --box 1,2,30,40"), 0);  // no --checkpoint
}

}  // namespace
}  // namespace um::mobilesam
