// File: tests/mobilesam/model_test.cpp
// Purpose: MobileSAM against the official PyTorch reference (../shared/fixtures/mobilesam):
// image embedding, prompt encodings, dense PE, and the predictor outputs for the single-mask,
// multimask and points+box prompts, within the fixtures' float32 tolerances. The image encoder is
// the expensive part on a 2-core CI machine, so one shared fixture computes the embedding ONCE
// for the whole binary (SetUpTestSuite) and every test reuses it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/checkpoint.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "models/mobilesam/mobilesam.h"
#include "models/mobilesam/predictor.h"
#include "test_support.h"

#include <unistd.h>

namespace um::mobilesam {
namespace {

struct Shared {
  io::TensorMap ref;
  std::shared_ptr<const MobileSam> model;
  std::unique_ptr<Predictor> predictor;
  io::Image frame;
};

// Largest |a - b| and the reference scale max |b|.
struct Diff {
  double max_abs = 0, scale = 0;
};
Diff compare(const Tensor& a_in, const Tensor& b_in) {
  const Tensor a = a_in.contiguous(), b = b_in.contiguous();
  EXPECT_EQ(a.numel(), b.numel());
  Diff d;
  for (int64_t i = 0; i < std::min(a.numel(), b.numel()); ++i) {
    d.max_abs = std::max(d.max_abs, double(std::fabs(a.data<float>()[i] - b.data<float>()[i])));
    d.scale = std::max(d.scale, double(std::fabs(b.data<float>()[i])));
  }
  return d;
}

// Activations: within 1e-4 relative to their scale (fixtures/README.md).
void expect_activation_close(const Tensor& ours, const Tensor& ref, const char* name) {
  ASSERT_EQ(ours.numel(), ref.numel()) << name << ": " << ours.str() << " vs " << ref.str();
  const Diff d = compare(ours, ref);
  EXPECT_LE(d.max_abs, 1e-4 * std::max(d.scale, 1.0)) << name << " scale " << d.scale;
  std::printf("%-28s max |diff| %.3g (scale %.3g)\n", name, d.max_abs, d.scale);
}

// Logits and IoU predictions: within 1e-3 absolute.
void expect_logits_close(const Tensor& ours, const Tensor& ref, const char* name) {
  ASSERT_EQ(ours.numel(), ref.numel()) << name << ": " << ours.str() << " vs " << ref.str();
  const Diff d = compare(ours, ref);
  EXPECT_LE(d.max_abs, 1e-3) << name;
  std::printf("%-28s max |diff| %.3g (scale %.3g)\n", name, d.max_abs, d.scale);
}

// Masks equal except where the reference logit is within the logit tolerance of 0.
void expect_masks_equal(const Tensor& ours, const Tensor& ref_logits, const char* name) {
  ASSERT_EQ(ours.numel(), ref_logits.numel()) << name;
  int64_t flips = 0, ambiguous = 0;
  const bool* m = ours.data<bool>();
  const Tensor r = ref_logits.contiguous();
  for (int64_t i = 0; i < r.numel(); ++i) {
    const float l = r.data<float>()[i];
    if (std::fabs(l) <= 1e-3f) {
      ++ambiguous;
      continue;
    }
    if (m[i] != (l > 0.f)) ++flips;
  }
  EXPECT_EQ(flips, 0) << name << " (" << ambiguous << " pixels within tolerance of 0 skipped)";
}

class MobileSamFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto dir = test::fixtures_dir() / "mobilesam";
    if (!std::filesystem::exists(dir / "tensors.safetensors")) return;
    auto s = std::make_unique<Shared>();
    auto ref = io::read_safetensors((dir / "tensors.safetensors").string());
    ASSERT_TRUE(ref.ok()) << ref.status().to_string();
    s->ref = std::move(ref).value();
    auto model = MobileSam::load((dir / "checkpoint.pt").string());
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    s->model = std::move(model).value();
    auto frame = io::read_image((dir / "frame.png").string());
    ASSERT_TRUE(frame.ok()) << frame.status().to_string();
    s->frame = std::move(frame).value();
    s->predictor = std::make_unique<Predictor>(s->model);
    const Status st = s->predictor->set_image(s->frame);  // the one encoder forward
    ASSERT_TRUE(st.ok()) << st.to_string();
    shared_ = std::move(s);
  }
  static void TearDownTestSuite() { shared_.reset(); }

  void SetUp() override {
    const auto path = test::fixtures_dir() / "mobilesam" / "tensors.safetensors";
    UM_REQUIRE_FIXTURE(path);
    ASSERT_NE(shared_, nullptr) << "shared MobileSAM setup failed (see above)";
  }
  const Tensor& ref(const std::string& k) { return shared_->ref.at(k); }
  Predictor& predictor() { return *shared_->predictor; }
  Box fixture_box() {
    const float* b = ref("box").data<float>();
    return {b[0], b[1], b[2], b[3]};
  }

  static std::unique_ptr<Shared> shared_;
};
std::unique_ptr<Shared> MobileSamFixture::shared_;

TEST_F(MobileSamFixture, ResizedFrameMatchesPillow) {
  const Tensor& ours = predictor().resized_rgb();
  const Tensor& r = ref("resized_rgb");
  ASSERT_EQ(ours.shape(), r.shape());
  int max_diff = 0;
  for (int64_t i = 0; i < r.numel(); ++i) {
    max_diff = std::max(max_diff, std::abs(int(ours.data<uint8_t>()[i]) - int(r.data<uint8_t>()[i])));
  }
  EXPECT_LE(max_diff, 1);
}

TEST_F(MobileSamFixture, ImageEmbeddingMatches) {
  expect_activation_close(predictor().image_embedding(), ref("image_embeddings"), "image_embeddings");
}

TEST_F(MobileSamFixture, DensePositionalEncodingMatches) {
  expect_activation_close(shared_->model->prompt_encoder().dense_pe(), ref("dense_pe"), "dense_pe");
}

TEST_F(MobileSamFixture, BoxPromptEncodingMatches) {
  const float* b = ref("box_1024").data<float>();
  const auto enc = shared_->model->prompt_encoder().encode(
      {}, {}, std::array<float, 4>{b[0], b[1], b[2], b[3]}, Tensor());
  expect_activation_close(enc.sparse, ref("sparse_embeddings"), "sparse_embeddings");
}

TEST_F(MobileSamFixture, SingleMaskBoxPrompt) {
  Prompt p;
  p.box = fixture_box();
  auto r = predictor().predict(p);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_FALSE(r->box_clamped);
  EXPECT_EQ(r->mask_logits.shape(), (Shape{1, 1, 558, 422}));
  EXPECT_EQ(r->low_res_logits.shape(), (Shape{1, 1, 256, 256}));
  expect_logits_close(r->iou_predictions, ref("single.iou_predictions"), "single.iou_predictions");
  expect_logits_close(r->low_res_logits, ref("single.low_res_logits"), "single.low_res_logits");
  expect_logits_close(r->mask_logits, ref("single.mask_logits"), "single.mask_logits");
  expect_masks_equal(r->masks, ref("single.mask_logits"), "single.masks");
  // And the stored boolean masks agree wherever the reference logit is clear of 0.
  const Tensor& rm = ref("single.masks");
  const float* l = ref("single.mask_logits").data<float>();
  int64_t mismatches = 0;
  for (int64_t i = 0; i < rm.numel(); ++i) {
    if (std::fabs(l[i]) > 1e-3f && r->masks.data<bool>()[i] != rm.data<bool>()[i]) ++mismatches;
  }
  EXPECT_EQ(mismatches, 0);
}

TEST_F(MobileSamFixture, MultimaskBoxPrompt) {
  Prompt p;
  p.box = fixture_box();
  p.multimask = true;
  auto r = predictor().predict(p);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->iou_predictions.shape(), (Shape{1, 3}));
  EXPECT_EQ(r->mask_logits.shape(), (Shape{1, 3, 558, 422}));
  expect_logits_close(r->iou_predictions, ref("multi.iou_predictions"), "multi.iou_predictions");
  expect_logits_close(r->low_res_logits, ref("multi.low_res_logits"), "multi.low_res_logits");
}

TEST_F(MobileSamFixture, PointsAndBoxPrompt) {
  Prompt p;
  p.box = fixture_box();
  const float* pts = ref("points").data<float>();
  const int64_t* labels = ref("point_labels").data<int64_t>();
  for (int i = 0; i < 2; ++i) p.points.push_back({pts[2 * i], pts[2 * i + 1], int(labels[i])});
  auto r = predictor().predict(p);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  expect_logits_close(r->iou_predictions, ref("points_box.iou_predictions"),
                      "points_box.iou_predictions");
  expect_logits_close(r->mask_logits, ref("points_box.mask_logits"), "points_box.mask_logits");
  expect_masks_equal(r->masks, ref("points_box.mask_logits"), "points_box.masks");
}

// The embedding is reused: the same prompt twice gives the same answer, and a low-res mask fed
// back as a mask prompt goes through the mask-downscaling path (it changes the logits, and the
// same feedback twice is deterministic).
TEST_F(MobileSamFixture, RepeatedPredictionsAndMaskFeedback) {
  Prompt p;
  p.box = fixture_box();
  auto a = predictor().predict(p);
  auto b = predictor().predict(p);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(compare(a->mask_logits, b->mask_logits).max_abs, 0.0);
  Prompt fb = p;
  fb.mask_input = a->low_res_logits.select(0, 0);  // [1, 256, 256]
  auto c = predictor().predict(fb);
  auto d = predictor().predict(fb);
  ASSERT_TRUE(c.ok() && d.ok()) << c.status().to_string();
  EXPECT_EQ(c->mask_logits.shape(), a->mask_logits.shape());
  EXPECT_GT(compare(c->low_res_logits, a->low_res_logits).max_abs, 1e-3);
  EXPECT_EQ(compare(c->low_res_logits, d->low_res_logits).max_abs, 0.0);
}

// `ultramotion segment` end to end (its own encoder forward, in a subprocess): --dump writes the
// fixture's single.* tensors, --json reports them, --mask-out writes the thresholded mask.
TEST_F(MobileSamFixture, CliSegmentDumpsTheReferenceOutputs) {
  if (!std::filesystem::exists(test::cli_path())) GTEST_SKIP() << "ultramotion not built";
  const auto dir = test::fixtures_dir() / "mobilesam";
  const auto out = std::filesystem::temp_directory_path() /
                   ("um_mobilesam_cli_" + std::to_string(::getpid()));
  std::filesystem::create_directories(out);
  const float* b = ref("box").data<float>();
  char box[128];
  std::snprintf(box, sizeof box, "%.9g,%.9g,%.9g,%.9g", b[0], b[1], b[2], b[3]);
  const std::string cmd = test::cli_path().string() + " segment --checkpoint " +
                          (dir / "checkpoint.pt").string() + " --image " +
                          (dir / "frame.png").string() + " --box " + box + " --json --dump " +
                          (out / "dump.safetensors").string() + " --mask-out " +
                          (out / "mask.png").string() + " > " + (out / "out.json").string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

  auto dump = io::read_safetensors((out / "dump.safetensors").string());
  ASSERT_TRUE(dump.ok()) << dump.status().to_string();
  expect_logits_close(dump->at("mask_logits"), ref("single.mask_logits"), "cli mask_logits");
  expect_logits_close(dump->at("iou_predictions"), ref("single.iou_predictions"), "cli iou");
  expect_logits_close(dump->at("low_res_logits"), ref("single.low_res_logits"), "cli low_res");

  std::ifstream js(out / "out.json");
  const nlohmann::json j = nlohmann::json::parse(js);
  ASSERT_EQ(j.at("iou_predictions").size(), 1u);
  EXPECT_NEAR(j.at("iou_predictions")[0].get<double>(),
              ref("single.iou_predictions").data<float>()[0], 1e-3);
  auto mask = io::read_image((out / "mask.png").string());
  ASSERT_TRUE(mask.ok()) << mask.status().to_string();
  ASSERT_EQ(mask->pixels.size(), size_t(558 * 422));
  int64_t area = 0;
  for (uint8_t v : mask->pixels) area += v == 255;
  EXPECT_EQ(j.at("mask_area")[0].get<int64_t>(), area);
  const float* l = ref("single.mask_logits").data<float>();
  int64_t flips = 0;
  for (size_t i = 0; i < mask->pixels.size(); ++i) {
    if (std::fabs(l[i]) > 1e-3f && (mask->pixels[i] == 255) != (l[i] > 0.f)) ++flips;
  }
  EXPECT_EQ(flips, 0);
  std::filesystem::remove_all(out);
}

}  // namespace
}  // namespace um::mobilesam
