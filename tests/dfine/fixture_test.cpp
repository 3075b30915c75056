// D-FINE reproduces the official PyTorch fixtures (dfine_s: 3 levels, 1 class, 'ema' layout;
// dfine_n: 2 levels, 2 classes, 'model' layout) from their checkpoints and frames: every stored
// intermediate, the raw outputs and the post-processed detections.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "io/image.h"
#include "io/safetensors.h"
#include "models/dfine/dfine.h"
#include "diff_and_scale.h"
#include "test_support.h"

namespace um::dfine {
namespace {

struct Loaded {
  std::unique_ptr<DFine> model;
  io::TensorMap ref;
  io::Image frame;
};

class DFineFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(DFineFixture, ReproducesOfficialModel) {
  const auto dir = um::test::fixtures_dir() / GetParam();
  const std::filesystem::path ckpt = dir / "checkpoint.pth";
  // (UM_REQUIRE_FIXTURE's parameter is named `path`, which collides with std::filesystem::path in
  // its expansion for any argument other than a variable called `path`.)
  const std::filesystem::path& path = ckpt;
  UM_REQUIRE_FIXTURE(path);
  auto model = DFine::load((dir / "checkpoint.pth").string());
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  auto ref = io::read_safetensors((dir / "tensors.safetensors").string());
  ASSERT_TRUE(ref.ok()) << ref.status().to_string();
  auto frame = io::read_image((dir / "frame.png").string());
  ASSERT_TRUE(frame.ok()) << frame.status().to_string();
  const DFine& m = **model;
  const Config& c = m.config();
  EXPECT_EQ(c.variant, GetParam() == "dfine_s" ? Variant::kS : Variant::kN) << c.summary();
  EXPECT_EQ(c.backbone, "B0");
  EXPECT_EQ(c.num_classes, ref->at("pred_logits").size(2));

  const Preprocessed p = m.preprocess(*frame);
  EXPECT_EQ(p.input.shape(), (Shape{1, 3, 640, 640}));
  const ForwardOutput out = m.forward(p.input, /*keep_intermediates=*/true);

  // Every stored intermediate within 1e-4 of its scale (max |ref|), as the fixtures README says.
  int compared = 0;
  for (const auto& [name, want] : *ref) {
    if (name.rfind("backbone.", 0) != 0 && name.rfind("encoder.", 0) != 0) continue;
    ASSERT_TRUE(out.intermediates.count(name)) << name;
    const Tensor& got = out.intermediates.at(name);
    ASSERT_EQ(shape_str(got.shape()), shape_str(want.shape())) << name;
    auto [d, s] = test::diff_and_scale(got, want);
    EXPECT_LE(d, 1e-4f * std::max(s, 1.f)) << name << " max abs diff " << d << " scale " << s;
    ++compared;
  }
  EXPECT_GE(compared, 3);

  // Raw outputs per query. The decoder's 300 queries come from a top-k over encoder tokens whose
  // order among near-ties is not significant (a 1-ulp change of the input reorders them), so each
  // reference query is compared with our query of the same box.
  const Tensor& rlog = ref->at("pred_logits");
  const Tensor& rbox = ref->at("pred_boxes");
  const int64_t nq = rbox.size(1), nc = rlog.size(2);
  ASSERT_EQ(out.pred_boxes.shape(), rbox.shape());
  ASSERT_EQ(out.pred_logits.shape(), rlog.shape());
  float worst_box = 0.f, worst_logit = 0.f;
  for (int64_t i = 0; i < nq; ++i) {
    int64_t best = -1;
    float best_d = INFINITY;
    for (int64_t j = 0; j < nq; ++j) {
      float d = 0.f;
      for (int k = 0; k < 4; ++k)
        d = std::max(d, std::fabs(out.pred_boxes.data<float>()[j * 4 + k] - rbox.data<float>()[i * 4 + k]));
      if (d < best_d) {
        best_d = d;
        best = j;
      }
    }
    worst_box = std::max(worst_box, best_d);
    for (int64_t c = 0; c < nc; ++c)
      worst_logit = std::max(worst_logit, std::fabs(out.pred_logits.data<float>()[best * nc + c] -
                                                    rlog.data<float>()[i * nc + c]));
  }
  EXPECT_LE(worst_box, 1e-4f) << "pred_boxes: worst matched max abs diff " << worst_box;
  EXPECT_LE(worst_logit, 1e-3f) << "pred_logits: worst matched abs diff " << worst_logit;
  std::printf("%s: worst matched |d box| %.3g, |d logit| %.3g\n", GetParam().c_str(), worst_box, worst_logit);

  // Post-processed detections: orig_target_sizes is [W, H] of the frame.
  const Tensor ts = ref->at("orig_target_sizes").to(DType::kI64);
  EXPECT_EQ(ts.data<int64_t>()[0], frame->width);
  EXPECT_EQ(ts.data<int64_t>()[1], frame->height);
  const Detections det = postprocess(out.pred_logits, out.pred_boxes, p.geometry);
  const Tensor& rs = ref->at("scores");
  const Tensor rl = ref->at("labels").to(DType::kI64);
  const Tensor& rb = ref->at("boxes");
  ASSERT_EQ(det.items.size(), static_cast<size_t>(rs.numel()));
  // Scores in order; label/box per rank, except among near-ties (< 1e-5) where the order is not
  // significant: there the match is searched within the tie group.
  const float box_tol = 1e-4f * std::max(frame->width, frame->height);
  for (size_t i = 0; i < det.items.size(); ++i) {
    const float want_score = rs.data<float>()[i];
    EXPECT_NEAR(det.items[i].score, want_score, 2e-4f) << "rank " << i;
    bool matched = false;
    for (size_t j = 0; j < det.items.size() && !matched; ++j) {
      if (j != i && std::fabs(rs.data<float>()[j] - want_score) >= 1e-5f) continue;
      const Detection& g = det.items[j];
      bool same = g.label == rl.data<int64_t>()[i];
      for (int k = 0; k < 4 && same; ++k) same = std::fabs(g.box[k] - rb.data<float>()[i * 4 + k]) <= box_tol;
      matched = same;
    }
    EXPECT_TRUE(matched) << "reference detection at rank " << i << " (label " << rl.data<int64_t>()[i]
                         << ", score " << want_score << ") has no match";
  }
  const TopBox t = top1(det, p.geometry);
  ASSERT_TRUE(t.found);
  EXPECT_NEAR(t.score, rs.data<float>()[0], 2e-4f);
  for (int k = 0; k < 4; ++k) {
    EXPECT_GE(t.box[k], 0.f);
    EXPECT_LE(t.box[k], static_cast<float>(k % 2 == 0 ? frame->width : frame->height));
  }
}

// dfine_s is the fixture whose frame is resized by non-dyadic ratios (422x558 -> 640): it only
// reproduces with PyTorch's exact source-index rounding in resize_bilinear (see resample_cpu.cpp).
INSTANTIATE_TEST_SUITE_P(Fixtures, DFineFixture, ::testing::Values("dfine_s", "dfine_n"));

}  // namespace
}  // namespace um::dfine

namespace um::dfine {
namespace {

// `ultramotion detect --json --dump` on the dfine_n fixture: JSON detections sorted by score that
// agree with the reference, and a dump with the fixtures' names and shapes.
TEST(DFineCli, DetectJsonAndDumpOnFixture) {
  const auto dir = um::test::fixtures_dir() / "dfine_n";
  const std::filesystem::path path = dir / "checkpoint.pth";
  UM_REQUIRE_FIXTURE(path);
  ASSERT_TRUE(std::filesystem::exists(um::test::cli_path())) << um::test::cli_path();
  const auto dump = std::filesystem::temp_directory_path() / ("dfine_dump_" + std::to_string(::getpid()) + ".safetensors");
  const um::test::CliRun run =
      um::test::run_cli("detect --checkpoint " + path.string() + " --image " +
                            (dir / "frame.png").string() + " --json --dump " + dump.string(),
                        /*redirections=*/"");
  const std::string& text = run.out;
  ASSERT_EQ(run.exit_code, 0) << text;
  const nlohmann::json j = nlohmann::json::parse(text);
  EXPECT_EQ(j["variant"], "n");
  EXPECT_EQ(j["num_classes"], 2);
  auto ref = io::read_safetensors((dir / "tensors.safetensors").string());
  ASSERT_TRUE(ref.ok());
  const auto& dets = j["detections"];
  ASSERT_EQ(dets.size(), 300u);
  const Tensor& rs = ref->at("scores");
  const Tensor rl = ref->at("labels").to(DType::kI64);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_NEAR(dets[i]["score"].get<float>(), rs.data<float>()[i], 1e-4f);
    EXPECT_EQ(dets[i]["label"].get<int64_t>(), rl.data<int64_t>()[i]);
    for (int k = 0; k < 4; ++k) EXPECT_NEAR(dets[i]["box"][k].get<float>(), ref->at("boxes").data<float>()[i * 4 + k], 0.05f);
    if (i > 0) {
      EXPECT_LE(dets[i]["score"].get<float>(), dets[i - 1]["score"].get<float>());
    }
  }
  auto dumped = io::read_safetensors(dump.string());
  std::filesystem::remove(dump);
  ASSERT_TRUE(dumped.ok()) << dumped.status().to_string();
  for (const char* key : {"pred_logits", "pred_boxes", "labels", "boxes", "scores"}) {
    ASSERT_TRUE(dumped->count(key)) << key;
    EXPECT_EQ(shape_str(dumped->at(key).shape()), shape_str(ref->at(key).shape())) << key;
    EXPECT_EQ(dumped->at(key).dtype(), ref->at(key).dtype()) << key;
  }
}

}  // namespace
}  // namespace um::dfine
