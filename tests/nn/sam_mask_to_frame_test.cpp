// sam_mask_to_frame on the CPU (src/nn/sam_mask_to_frame_cpu.cpp): exactly SamPredictor's
// postprocess_masks (resize_bilinear to 1024, crop, resize_bilinear to the frame) followed by
// threshold_u8, bit for bit, for landscape/portrait/square frames, several channels and a strided
// input; logits only on request; bad geometry and inputs refused with um::Error. The CUDA kernel
// is checked against this op in tests/cuda/sam_mask_to_frame_cuda_test.cpp.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "core/status.h"
#include "nn/ops.h"
#include "nn/ops_sam.h"
#include "nn/ops_sam_mask.h"
#include "nn_test_util.h"

namespace um::nn {
namespace {

using test::random_tensor;

bool same_bytes(const Tensor& a_in, const Tensor& b_in) {
  if (a_in.shape() != b_in.shape() || a_in.dtype() != b_in.dtype()) return false;
  const Tensor a = a_in.contiguous(), b = b_in.contiguous();
  return std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

void expect_sequence(const Tensor& low_res, const SamMaskGeometry& g, const std::string& what) {
  SCOPED_TRACE(what);
  const Tensor up = resize_bilinear(low_res, g.model_h, g.model_w, false);
  const Tensor crop = up.slice(2, 0, g.crop_h).slice(3, 0, g.crop_w).contiguous();
  const Tensor ref = resize_bilinear(crop, g.out_h, g.out_w, false);
  const SamFrameMasks with = sam_mask_to_frame(low_res, g, true);
  ASSERT_TRUE(with.logits.defined());
  EXPECT_TRUE(same_bytes(with.logits, ref));
  EXPECT_TRUE(same_bytes(with.mask_u8, threshold_u8(ref, 0.f)));
  const SamFrameMasks without = sam_mask_to_frame(low_res, g, false);
  EXPECT_FALSE(without.logits.defined());
  EXPECT_TRUE(same_bytes(without.mask_u8, with.mask_u8));
  // Not a trivial mask: both values occur.
  const Tensor m = with.mask_u8.contiguous();
  int64_t ones = 0;
  for (int64_t i = 0; i < m.numel(); ++i) ones += m.data<uint8_t>()[i];
  EXPECT_GT(ones, 0);
  EXPECT_LT(ones, m.numel());
}

TEST(SamMaskToFrame, IsExactlyPostprocessThenThreshold) {
  const Tensor low = random_tensor({1, 1, 256, 256}, 1, -2.f, 2.f);
  // The fixture frame (558 x 422: input 1024 x 774), a landscape frame, a square one.
  expect_sequence(low, {1024, 1024, 1024, 774, 558, 422}, "portrait 558x422");
  expect_sequence(low, {1024, 1024, 576, 1024, 360, 640}, "landscape 640x360");
  expect_sequence(low, {1024, 1024, 1024, 1024, 300, 300}, "square, downscale");
  // Several masks (multimask) and a small odd geometry.
  expect_sequence(random_tensor({1, 3, 256, 256}, 2, -2.f, 2.f),
                  {1024, 1024, 700, 1024, 1400, 2048}, "3 masks, upscale");
  expect_sequence(random_tensor({2, 1, 5, 7}, 3), {13, 11, 9, 11, 4, 3}, "tiny");
}

TEST(SamMaskToFrame, ReadsStridedInput) {
  const Tensor big = random_tensor({1, 2, 256, 256}, 4, -2.f, 2.f);
  const Tensor view = big.slice(1, 1, 2);  // channel 1: offset view
  const Tensor t = random_tensor({1, 1, 256, 256}, 5, -2.f, 2.f).permute({0, 1, 3, 2});
  const SamMaskGeometry g{1024, 1024, 1024, 774, 558, 422};
  EXPECT_TRUE(same_bytes(sam_mask_to_frame(view, g, true).logits,
                         sam_mask_to_frame(view.contiguous(), g, true).logits));
  EXPECT_TRUE(same_bytes(sam_mask_to_frame(t, g, true).logits,
                         sam_mask_to_frame(t.contiguous(), g, true).logits));
}

TEST(SamMaskToFrame, RejectsBadInputNamingIt) {
  const Tensor low = random_tensor({1, 1, 256, 256}, 6);
  auto expect_invalid = [](auto f, const std::string& needle) {
    try {
      f();
      ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_invalid(
      [&] {
        sam_mask_to_frame(Tensor(), {1024, 1024, 10, 10, 5, 5}, false);
      },
      "undefined");
  expect_invalid(
      [&] {
        sam_mask_to_frame(low.view({256, 256}), {1024, 1024, 10, 10, 5, 5}, false);
      },
      "low_res must be");
  expect_invalid(
      [&] {
        sam_mask_to_frame(low.to(DType::kF16), {1024, 1024, 10, 10, 5, 5}, false);
      },
      "low_res must be");
  expect_invalid([&] { sam_mask_to_frame(low, {1024, 1024, 1025, 10, 5, 5}, false); }, "geometry");
  expect_invalid([&] { sam_mask_to_frame(low, {1024, 1024, 0, 10, 5, 5}, false); }, "geometry");
  expect_invalid([&] { sam_mask_to_frame(low, {1024, 1024, 10, 10, 0, 5}, false); }, "geometry");
  expect_invalid([&] { sam_mask_to_frame(low, {0, 1024, 10, 10, 5, 5}, false); }, "geometry");
}

}  // namespace
}  // namespace um::nn
