// GPU tests of sam_mask_to_frame (src/nn/sam_mask_to_frame_cuda.cu: both bilinear resizes per
// frame pixel straight from the low-res logits, then the threshold) against the CPU op (exactly
// resize -> crop -> resize -> threshold): the fixture's portrait frame, a landscape frame, a
// square downscale, 3 masks, a tiny odd geometry, strided inputs, with and without the logits.
// The kernel repeats resample_cuda.cu's arithmetic with rounded intrinsics (no FMA contraction),
// so float32 logits should equal the CPU's bit for bit; the test allows 1e-6 of the scale (and
// prints the difference) and then requires the masks to agree wherever the reference logit is
// farther than that from 0.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "core/status.h"
#include "cuda_test_support.h"
#include "nn/ops_sam_mask.h"

namespace um {
namespace {

using test::random_cpu;
using test::to_gpu;

void expect_matches_cpu(const Tensor& low_res, const Tensor& low_res_gpu,
                        const nn::SamMaskGeometry& g, const std::string& what) {
  SCOPED_TRACE(what);
  const nn::SamFrameMasks ref = nn::sam_mask_to_frame(low_res, g, true);
  const nn::SamFrameMasks out = nn::sam_mask_to_frame(low_res_gpu, g, true);
  ASSERT_TRUE(out.logits.defined());
  EXPECT_EQ(out.logits.dtype(), DType::kF32);
  EXPECT_EQ(out.mask_u8.dtype(), DType::kU8);
  ASSERT_EQ(out.mask_u8.shape(), ref.mask_u8.shape());
  const float diff = test::max_abs_diff_gpu(out.logits, ref.logits);
  const float tol = 1e-6f * test::scale_of(ref.logits);
  std::printf("[sam-mask-to-frame-cuda] %s: logits max |diff| %.3g\n", what.c_str(), diff);
  EXPECT_LE(diff, tol);
  const Tensor m = out.mask_u8.to(Device::cpu()).contiguous();
  const Tensor r = ref.logits.contiguous();
  int64_t flips = 0;
  for (int64_t i = 0; i < r.numel(); ++i) {
    const float l = r.data<float>()[i];
    if (std::fabs(l) > tol) flips += (m.data<uint8_t>()[i] != 0) != (l > 0.f);
  }
  EXPECT_EQ(flips, 0);
  // Without the logits: the same mask, no logits tensor.
  const nn::SamFrameMasks lean = nn::sam_mask_to_frame(low_res_gpu, g, false);
  EXPECT_FALSE(lean.logits.defined());
  const Tensor lm = lean.mask_u8.to(Device::cpu()).contiguous();
  int64_t differ = 0;
  for (int64_t i = 0; i < lm.numel(); ++i) differ += lm.data<uint8_t>()[i] != m.data<uint8_t>()[i];
  EXPECT_EQ(differ, 0);
}

TEST(SamMaskToFrameCuda, MatchesCpu) {
  UM_REQUIRE_CUDA();
  const Tensor low = random_cpu({1, 1, 256, 256}, 1, -2.f, 2.f);
  const Tensor low_gpu = to_gpu(low);
  expect_matches_cpu(low, low_gpu, {1024, 1024, 1024, 774, 558, 422}, "portrait 558x422");
  expect_matches_cpu(low, low_gpu, {1024, 1024, 576, 1024, 360, 640}, "landscape 640x360");
  expect_matches_cpu(low, low_gpu, {1024, 1024, 1024, 1024, 300, 300}, "square downscale");
  const Tensor three = random_cpu({1, 3, 256, 256}, 2, -2.f, 2.f);
  expect_matches_cpu(three, to_gpu(three), {1024, 1024, 700, 1024, 1400, 2048}, "3 masks");
  const Tensor tiny = random_cpu({2, 1, 5, 7}, 3);
  expect_matches_cpu(tiny, to_gpu(tiny), {13, 11, 9, 11, 4, 3}, "tiny");
}

TEST(SamMaskToFrameCuda, ReadsStridedInput) {
  UM_REQUIRE_CUDA();
  const Tensor big = random_cpu({1, 2, 256, 256}, 4, -2.f, 2.f);
  expect_matches_cpu(big.slice(1, 1, 2), to_gpu(big).slice(1, 1, 2),
                     {1024, 1024, 1024, 774, 558, 422}, "channel slice");
  const Tensor t = random_cpu({1, 1, 256, 256}, 5, -2.f, 2.f);
  expect_matches_cpu(t.permute({0, 1, 3, 2}), to_gpu(t).permute({0, 1, 3, 2}),
                     {1024, 1024, 1024, 774, 558, 422}, "transposed");
}

TEST(SamMaskToFrameCuda, RejectsFloat16AndBadGeometry) {
  UM_REQUIRE_CUDA();
  const Tensor low = to_gpu(random_cpu({1, 1, 16, 16}, 6));
  EXPECT_THROW(nn::sam_mask_to_frame(low.to(DType::kF16), {64, 64, 64, 64, 8, 8}, false), Error);
  EXPECT_THROW(nn::sam_mask_to_frame(low, {64, 64, 65, 64, 8, 8}, false), Error);
}

}  // namespace
}  // namespace um
