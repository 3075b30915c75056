// File: tests/mobilesam/device_path_test.cpp
// Purpose: the logic of MobileSAM's host-free frame path (device_path.h, nn/ops_sam.h), checked
// on the CPU where it must equal the CPU Predictor bit for bit: the view-based window split/merge
// against the row-copy loops; preprocess_device against frame_to_rgb + resize_longest_side +
// normalize_and_pad; sam_box_prompt against PromptEncoder::encode of the predictor's transformed
// box; predict_box_device (box, clamped box, mask input; one call and prepare_image_device +
// the box half) against Predictor::predict on the same embedding; and the placement / argument
// errors. Uses the phantom checkpoint shipped in the
// repository (models/phantom) and a random embedding: no image-encoder forward.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>

#include "models/mobilesam/device_path.h"
#include "models/mobilesam/mobilesam.h"
#include "models/mobilesam/predictor.h"
#include "models/mobilesam/preprocess.h"
#include "models/mobilesam/window_partition.h"
#include "nn/ops_sam.h"
#include "test_support.h"

namespace um::mobilesam {
namespace {

Tensor random_tensor(const Shape& s, uint32_t seed, float scale = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, scale);
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = nd(rng);
  return t;
}

// Exact equality of two float32 (or uint8/bool as bytes) CPU tensors of one shape.
void expect_identical(const Tensor& a_in, const Tensor& b_in, const char* what) {
  ASSERT_EQ(a_in.shape(), b_in.shape()) << what;
  const Tensor a = a_in.contiguous(), b = b_in.contiguous();
  ASSERT_EQ(a.nbytes(), b.nbytes()) << what;
  EXPECT_EQ(std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()), 0) << what;
}

std::shared_ptr<const MobileSam> phantom_model() {
  static std::shared_ptr<const MobileSam> model = [] {
    auto m = MobileSam::load((test::source_dir() / "models/phantom/mobilesam_phantom.pt").string());
    EXPECT_TRUE(m.ok()) << m.status().to_string();
    return m.ok() ? std::move(m).value() : nullptr;
  }();
  return model;
}

TEST(MobileSamDevicePath, WindowViewsEqualRowCopies) {
  for (const auto& [h, w, ws] : {std::tuple<int64_t, int64_t, int64_t>{10, 9, 7}, {14, 14, 7},
                                 {5, 12, 14}}) {
    const Tensor x = random_tensor({2, h * w, 6}, 3);
    const Tensor win = window_partition(x, h, w, ws);
    expect_identical(window_partition_views(x, h, w, ws), win, "partition");
    const Tensor y = random_tensor(win.shape(), 4);
    expect_identical(window_reverse_views(y, 2, h, w, ws), window_reverse(y, 2, h, w, ws),
                     "reverse");
  }
}

TEST(MobileSamDevicePath, PreprocessEqualsCpuPreprocessing) {
  auto model = phantom_model();
  ASSERT_NE(model, nullptr);
  for (const auto& [h, w] : {std::pair<int64_t, int64_t>{558, 422}, {300, 1100}, {64, 64}}) {
    io::Image img{static_cast<int>(w), static_cast<int>(h), 1, {}};
    img.pixels.resize(static_cast<size_t>(h * w));
    std::mt19937 rng(static_cast<uint32_t>(h));
    for (auto& p : img.pixels) p = static_cast<uint8_t>(rng() & 255);
    Tensor frame = Tensor::empty({h, w}, DType::kU8);
    std::memcpy(frame.raw_data(), img.pixels.data(), img.pixels.size());
    const Tensor ours = preprocess_device(*model, frame);
    const InputGeometry g = input_geometry(h, w);
    const Tensor ref = normalize_and_pad(resize_longest_side(frame_to_rgb(img).value(), g));
    expect_identical(ours, ref, "preprocess");
  }
}

TEST(MobileSamDevicePath, BoxPromptEqualsPromptEncoder) {
  auto model = phantom_model();
  ASSERT_NE(model, nullptr);
  const int64_t h = 558, w = 422;
  const InputGeometry g = input_geometry(h, w);
  nn::SamBoxPromptParams bp{float(w), float(h), double(g.input_w) / double(w),
                            double(g.input_h) / double(h), 1024.f};
  const float box[4] = {37.25f, 101.5f, 300.75f, 402.f};
  const Tensor ours = model->prompt_encoder().box_sparse(
      Tensor::from_vector({box[0], box[1], box[2], box[3]}, {1, 4}), bp);
  const std::array<float, 4> b1024{float(box[0] * bp.scale_x), float(box[1] * bp.scale_y),
                                   float(box[2] * bp.scale_x), float(box[3] * bp.scale_y)};
  const EncodedPrompt ref = model->prompt_encoder().encode({}, {}, b1024, Tensor());
  expect_identical(ours, ref.sparse, "sparse");
  // A NaN coordinate is clamped to 0 (what the GPU kernel's fmaxf does), never NaN out.
  const Tensor nan_box = model->prompt_encoder().box_sparse(
      Tensor::from_vector({NAN, box[1], box[2], box[3]}, {4}), bp);
  const Tensor zero_box = model->prompt_encoder().box_sparse(
      Tensor::from_vector({0.f, box[1], box[2], box[3]}, {4}), bp);
  expect_identical(nan_box, zero_box, "NaN box");
}

// predict_box_device on a CPU model == Predictor::predict (single mask) on the same embedding.
void expect_matches_predictor(const MobileSam& model, const Predictor& pred, const Box& box,
                              const Tensor& mask_input) {
  Prompt p;
  p.box = box;
  p.mask_input = mask_input;
  auto ref = pred.predict(p);
  ASSERT_TRUE(ref.ok()) << ref.status().to_string();
  const int64_t h = pred.geometry().orig_h, w = pred.geometry().orig_w;
  const BoxPrediction ours =
      predict_box_device(model, pred.image_embedding(),
                         Tensor::from_vector({box.x0, box.y0, box.x1, box.y1}, {4}), h, w,
                         mask_input, /*want_logits=*/true);
  expect_identical(ours.low_res_logits, ref->low_res_logits, "low_res_logits");
  expect_identical(ours.iou_prediction, ref->iou_predictions, "iou");
  expect_identical(ours.mask_logits, ref->mask_logits, "mask_logits");
  ASSERT_EQ(ours.mask_u8.shape(), (Shape{h, w}));
  const bool* m = ref->masks.contiguous().data<bool>();
  const uint8_t* u = ours.mask_u8.data<uint8_t>();
  int64_t diff = 0;
  for (int64_t i = 0; i < h * w; ++i) diff += (u[i] != 0) != m[i];
  EXPECT_EQ(diff, 0);
  // The two-call form (the box-independent half first, as the CUDA frame graph runs it) gives the
  // same bits; a CPU model folds nothing, so there is no precomputed projection.
  const PreparedImage image = prepare_image_device(model, pred.image_embedding(), mask_input);
  EXPECT_FALSE(image.first_projection.defined());
  const BoxPrediction two = predict_box_device(
      model, image, Tensor::from_vector({box.x0, box.y0, box.x1, box.y1}, {4}), h, w, true);
  expect_identical(two.low_res_logits, ours.low_res_logits, "two-call low_res_logits");
  expect_identical(two.iou_prediction, ours.iou_prediction, "two-call iou");
  expect_identical(two.mask_u8, ours.mask_u8, "two-call mask");
}

TEST(MobileSamDevicePath, BoxPredictionEqualsPredictor) {
  auto model = phantom_model();
  ASSERT_NE(model, nullptr);
  Predictor pred(model);
  ASSERT_TRUE(pred.set_image_embedding(random_tensor({1, 256, 64, 64}, 9, 0.5f), 558, 422).ok());
  expect_matches_predictor(*model, pred, {60.5f, 120.f, 350.25f, 400.f}, Tensor());
  expect_matches_predictor(*model, pred, {-30.f, 200.f, 500.f, 700.f}, Tensor());  // clamped
  expect_matches_predictor(*model, pred, {10.f, 10.f, 200.f, 250.f},
                           random_tensor({1, 1, 256, 256}, 11, 3.f));
}

TEST(MobileSamDevicePath, BadArgumentsAreErrors) {
  auto model = phantom_model();
  ASSERT_NE(model, nullptr);
  const Tensor emb = random_tensor({1, 256, 64, 64}, 1);
  const Tensor box = Tensor::from_vector({1, 2, 30, 40}, {4});
  EXPECT_THROW(predict_box_device(*model, emb, Tensor::from_vector({1, 2, 3}, {3}), 100, 100),
               Error);
  EXPECT_THROW(predict_box_device(*model, emb.slice(2, 0, 32), box, 100, 100), Error);
  EXPECT_THROW(predict_box_device(*model, emb, box, 0, 100), Error);
  EXPECT_THROW(predict_box_device(*model, emb, box, 100, 100, random_tensor({1, 2, 256}, 1)),
               Error);
  EXPECT_THROW(preprocess_device(*model, Tensor::zeros({4, 4})), Error);  // float, not uint8
  EXPECT_THROW(nn::sam_normalize_pad(Tensor::zeros({2000, 4, 1}, DType::kU8), 1024, DType::kF32),
               Error);
  EXPECT_THROW(nn::threshold_u8(Tensor::zeros({2}, DType::kU8)), Error);
}

TEST(MobileSamDevicePath, PlacementErrors) {
  const auto path = (test::source_dir() / "models/phantom/mobilesam_phantom.pt").string();
  auto f16_cpu = MobileSam::load(path, Device::cpu(), DType::kF16);
  ASSERT_FALSE(f16_cpu.ok());
  EXPECT_EQ(f16_cpu.status().code(), StatusCode::kInvalidArgument);
  auto i64 = MobileSam::load(path, Device::cpu(), DType::kI64);
  ASSERT_FALSE(i64.ok());
  EXPECT_EQ(i64.status().code(), StatusCode::kInvalidArgument);
#ifndef UM_WITH_CUDA
  auto gpu = MobileSam::load(path, Device::cuda(), DType::kF16);  // a build without CUDA
  ASSERT_FALSE(gpu.ok());
  EXPECT_EQ(gpu.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(gpu.status().message().find("no CUDA backend"), std::string::npos);
#endif
}

}  // namespace
}  // namespace um::mobilesam
