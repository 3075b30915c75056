// Tests for the seeded synthetic weights (pipeline/synthetic_weights.h) and the fallback of
// create_frame_processor: the state dicts have the real checkpoints' keys and shapes, load into
// both models, give finite outputs on a phantom frame, are reproducible from the seed; a missing
// checkpoint without opt-in is a clear kNotFound, with opt-in the processor is built and flagged.
#include "pipeline/synthetic_weights.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "io/checkpoint.h"
#include "models/dfine/dfine.h"
#include "models/mobilesam/mobilesam.h"
#include "models/mobilesam/predictor.h"
#include "models/mobilesam/preprocess.h"
#include "pipeline/frame_processor.h"
#include "pipeline/model_paths.h"
#include "pipeline/phantom.h"
#include "test_support.h"

namespace um::pipeline {
namespace {

const std::string kDFinePath = (test::source_dir() / kPhantomDFinePath).string();
const std::string kSamPath = (test::source_dir() / kPhantomSamPath).string();

bool all_finite(const Tensor& t) {
  const Tensor c = t.to(DType::kF32).contiguous();
  const float* p = c.data<float>();
  for (int64_t i = 0; i < c.numel(); ++i) {
    if (!std::isfinite(p[i])) return false;
  }
  return c.numel() > 0;
}

// Every real key (except buffers the loaders recompute) exists with the same shape, and no
// synthetic key is unknown to the real checkpoint.
void expect_same_layout(const io::TensorMap& synth, const std::string& real_path,
                        const std::vector<std::string>& recomputed) {
  auto real = io::load_checkpoint(real_path);
  ASSERT_TRUE(real.ok()) << real.status().to_string();
  for (const auto& [key, t] : real->tensors) {
    if (std::find(recomputed.begin(), recomputed.end(), key) != recomputed.end()) continue;
    auto it = synth.find(key);
    if (it == synth.end()) {
      ADD_FAILURE() << "synthetic weights lack " << key;
      continue;
    }
    EXPECT_EQ(it->second.shape(), t.shape()) << key;
  }
  for (const auto& [key, t] : synth) EXPECT_TRUE(real->tensors.count(key)) << "extra key " << key;
}

constexpr int kWidth = 256, kHeight = 192;

PhantomFrame phantom_frame() {
  PhantomRng rng(3);
  return render_phantom(draw_phantom_params(rng, FrameSize{kHeight, kWidth}), rng);
}

TEST(SyntheticWeights, DFineLayoutMatchesThePhantomCheckpoint) {
  UM_REQUIRE_FIXTURE(kDFinePath);
  expect_same_layout(synthetic_dfine_n_weights(), kDFinePath,
                     {"decoder.anchors", "decoder.valid_mask"});
}

TEST(SyntheticWeights, MobileSamLayoutMatchesThePhantomCheckpoint) {
  UM_REQUIRE_FIXTURE(kSamPath);
  expect_same_layout(synthetic_mobilesam_vit_t_weights(), kSamPath, {});
}

TEST(SyntheticWeights, SameSeedSameWeightsOtherSeedOtherWeights) {
  const io::TensorMap a = synthetic_dfine_n_weights(5), b = synthetic_dfine_n_weights(5),
                      c = synthetic_dfine_n_weights(6);
  const std::string k = "backbone.stem.stem1.conv.weight";
  const Tensor ta = a.at(k), tb = b.at(k), tc = c.at(k);
  ASSERT_EQ(ta.numel(), tc.numel());
  EXPECT_EQ(0, std::memcmp(ta.data<float>(), tb.data<float>(), ta.numel() * sizeof(float)));
  EXPECT_NE(0, std::memcmp(ta.data<float>(), tc.data<float>(), ta.numel() * sizeof(float)));
}

TEST(SyntheticWeights, DFineLoadsAndGivesFiniteOutputs) {
  auto model = dfine::DFine::from_tensors(synthetic_dfine_n_weights());
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  EXPECT_EQ((*model)->config().variant, dfine::Variant::kN);
  EXPECT_EQ((*model)->config().num_classes, 1);
  const PhantomFrame f = phantom_frame();
  const dfine::Preprocessed pre =
      (*model)->preprocess(io::Image{kWidth, kHeight, 1, f.pixels});
  const dfine::ForwardOutput out = (*model)->forward(pre.input);
  EXPECT_TRUE(all_finite(out.pred_logits));
  EXPECT_TRUE(all_finite(out.pred_boxes));
}

TEST(SyntheticWeights, MobileSamLoadsAndGivesFiniteOutputs) {
  auto sam = mobilesam::MobileSam::from_tensors(synthetic_mobilesam_vit_t_weights());
  ASSERT_TRUE(sam.ok()) << sam.status().to_string();
  const PhantomFrame f = phantom_frame();
  auto rgb = mobilesam::frame_to_rgb(io::Image{kWidth, kHeight, 1, f.pixels});
  ASSERT_TRUE(rgb.ok());
  const mobilesam::InputGeometry g = mobilesam::input_geometry(kHeight, kWidth);
  const Tensor input = mobilesam::normalize_and_pad(mobilesam::resize_longest_side(*rgb, g));
  const Tensor embedding = (*sam)->image_encoder().forward(input);
  ASSERT_TRUE(all_finite(embedding));
  mobilesam::Predictor predictor(*sam);
  ASSERT_TRUE(predictor.set_image_embedding(embedding, kHeight, kWidth).ok());
  mobilesam::Prompt prompt;
  prompt.box = mobilesam::Box{40, 60, 200, 120};
  auto pred = predictor.predict(prompt);
  ASSERT_TRUE(pred.ok()) << pred.status().to_string();
  EXPECT_TRUE(all_finite(pred->low_res_logits));
  EXPECT_TRUE(all_finite(pred->iou_predictions));
}

TEST(SyntheticWeights, MissingCheckpointWithoutOptInIsNotFoundNamingTheFile) {
  ProcessorOptions opt;
  opt.dfine_checkpoint = "/nonexistent/dfine_missing.pth";
  opt.sam_checkpoint = "/nonexistent/sam_missing.pt";
  auto p = create_frame_processor(opt);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kNotFound);
  EXPECT_NE(p.status().to_string().find("dfine_missing.pth"), std::string::npos);
  EXPECT_NE(p.status().to_string().find("allow_synthetic"), std::string::npos);
  EXPECT_EQ(synthetic_models_label(opt), "none");
}

TEST(SyntheticWeights, PresentButBrokenCheckpointIsAnErrorEvenWithOptIn) {
  const auto path = std::filesystem::temp_directory_path() / "um_synth_broken.pth";
  std::ofstream(path) << "not a checkpoint";
  ProcessorOptions opt;
  opt.dfine_checkpoint = path.string();
  opt.sam_checkpoint = "/nonexistent/sam_missing.pt";
  opt.allow_synthetic = true;
  EXPECT_EQ(synthetic_models_label(opt), "sam");
  auto p = create_frame_processor(opt);
  std::filesystem::remove(path);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().to_string().find("um_synth_broken.pth"), std::string::npos);
}

TEST(SyntheticWeights, OptInBuildsAProcessorFromSyntheticWeights) {
  ProcessorOptions opt;
  opt.dfine_checkpoint = "/nonexistent/dfine_missing.pth";
  opt.sam_checkpoint = "/nonexistent/sam_missing.pt";
  opt.allow_synthetic = true;
  EXPECT_EQ(synthetic_models_label(opt), "dfine,sam");
  auto p = create_frame_processor(opt);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_NE((*p)->description().find("SYNTHETIC"), std::string::npos) << (*p)->description();
}

}  // namespace
}  // namespace um::pipeline
