// GPU tests of nn::depthwise_conv2d_nhwc (src/nn/depthwise_conv2d_nhwc_cuda.cu: one direct
// channels-last kernel) against the CPU reference op (permute + nn::conv2d + permute), on
// TinyViT's local-conv shapes ([1, 128, 128, 128], [1, 64, 64, 160], [1, 64, 64, 320], 3x3 s1
// p1), stride 2, 5x5, rectangular kernels, dilation, batch 2, odd C (no channel-pair path), a
// contiguous input whose data is not pair-aligned (scalar path with even C), strided inputs, with
// and without bias; plus bad arguments on the GPU.
// Tolerances (relative to the reference's scale, max(1, max |ref|)):
//   float32: 1e-5. The kernel sums the taps in the CPU loop's order with __fmul_rn/__fadd_rn (no
//     FMA contraction), so on an x86 host (no contraction there either) the results are expected
//     to be bit-identical; the tolerance only leaves room for a host compiler that contracts.
//   float16 vs the reference on the fp16-rounded operands: 1e-3. The float32 sums are the same;
//     only the single rounding of the output to fp16 remains (<= 2^-11 = 4.9e-4 of |y|).
//   float16 vs the float32 reference on the original operands: 2e-2, as conv_depthwise's tests
//     (inputs rounded to fp16, kh * kw <= 25 terms).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "core/status.h"
#include "cuda_test_support.h"
#include "nn/ops.h"
#include "nn/ops_fused.h"

namespace um {
namespace {

using nn::Conv2dParams;
using test::max_abs_diff_gpu;
using test::random_cpu;
using test::to_cpu_f32;
using test::to_gpu;
using test::f16_rounded;
using test::scale_of;

struct NhwcCase {
  std::string name;
  Shape x;  // [N, H, W, C]
  int kh, kw;
  Conv2dParams p;  // groups filled in from C
};

// Readable test parameters in gtest's listing and failure messages.
void PrintTo(const NhwcCase& c, std::ostream* os) {
  *os << c.name << ": x " << shape_str(c.x) << ", " << c.kh << "x" << c.kw << ", stride "
      << c.p.stride_h << "x" << c.p.stride_w << ", pad " << c.p.pad_h << "x" << c.p.pad_w;
}

std::vector<NhwcCase> nhwc_cases() {
  return {
      {"tinyvit_stage1_c128", {1, 128, 128, 128}, 3, 3, Conv2dParams::square(1, 1)},
      {"tinyvit_stage2_c160", {1, 64, 64, 160}, 3, 3, Conv2dParams::square(1, 1)},
      {"tinyvit_stage3_c320", {1, 64, 64, 320}, 3, 3, Conv2dParams::square(1, 1)},
      {"stride2_3x3", {1, 33, 35, 40}, 3, 3, Conv2dParams::square(2, 1)},
      {"k5_pad2", {1, 41, 37, 24}, 5, 5, Conv2dParams::square(1, 2)},
      {"k5_s2_pad2_odd_c", {1, 23, 20, 15}, 5, 5, Conv2dParams::square(2, 2)},
      {"odd_c_3x3", {1, 19, 23, 33}, 3, 3, Conv2dParams::square(1, 1)},
      {"batch2_pad0", {2, 17, 13, 16}, 3, 3, Conv2dParams::square(1, 0)},
      {"rect_3x5", {1, 12, 21, 10}, 3, 5, Conv2dParams{1, 2, 1, 2, 1, 1, 1}},
      {"dilation2", {1, 15, 14, 8}, 3, 3, Conv2dParams{1, 1, 2, 2, 2, 2, 1}},
      {"big_pad_s2", {1, 10, 11, 6}, 3, 3, Conv2dParams::square(2, 3)},
  };
}

class DepthwiseNhwcCudaCase : public ::testing::TestWithParam<NhwcCase> {};

TEST_P(DepthwiseNhwcCudaCase, MatchesCpuFloat32AndFloat16) {
  UM_REQUIRE_CUDA();
  const NhwcCase& c = GetParam();
  const int64_t ch = c.x[3];
  Conv2dParams p = c.p;
  p.groups = static_cast<int>(ch);
  const Tensor x = random_cpu(c.x, 41), w = random_cpu({ch, 1, c.kh, c.kw}, 42);
  const Tensor b = random_cpu({ch}, 43);
  const Tensor xr = f16_rounded(x), wr = f16_rounded(w), br = f16_rounded(b);
  for (const bool with_bias : {false, true}) {
    const std::string what = c.name + (with_bias ? " bias" : " no bias");
    const Tensor bias = with_bias ? b : Tensor();
    const Tensor ref = nn::depthwise_conv2d_nhwc(x, w, bias, p);
    // float32
    const Tensor y32 = nn::depthwise_conv2d_nhwc(to_gpu(x), to_gpu(w),
                                                 with_bias ? to_gpu(b) : Tensor(), p);
    EXPECT_EQ(y32.dtype(), DType::kF32) << what;
    EXPECT_TRUE(y32.device().is_cuda()) << what;
    EXPECT_TRUE(y32.is_contiguous()) << what;
    EXPECT_LE(max_abs_diff_gpu(y32, ref), 1e-5f * scale_of(ref)) << what;
    // float16
    const Tensor ref_r = nn::depthwise_conv2d_nhwc(xr, wr, with_bias ? br : Tensor(), p);
    const Tensor y16 =
        nn::depthwise_conv2d_nhwc(to_gpu(x, DType::kF16), to_gpu(w, DType::kF16),
                                  with_bias ? to_gpu(b, DType::kF16) : Tensor(), p);
    EXPECT_EQ(y16.dtype(), DType::kF16) << what;
    EXPECT_LE(max_abs_diff_gpu(y16, ref_r), 1e-3f * scale_of(ref_r)) << what;
    EXPECT_LE(max_abs_diff_gpu(y16, ref), 2e-2f * scale_of(ref)) << what;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, DepthwiseNhwcCudaCase, ::testing::ValuesIn(nhwc_cases()),
                         [](const ::testing::TestParamInfo<NhwcCase>& i) { return i.param.name; });

TEST(DepthwiseNhwcCuda, ActivationMatchesCpu) {
  // The float16 fast path applies the activation in its epilogue (TinyViT's MBConv and
  // PatchMerging depthwise convs with GELU: 3x3, stride 1 or 2, C % 8 == 0); other shapes and
  // float32 run the generic kernel and then a second pass.
  UM_REQUIRE_CUDA();
  struct ActCase {
    Shape x;
    Conv2dParams p;
  };
  const ActCase cases[] = {{{1, 64, 64, 256}, Conv2dParams::square(1, 1)},   // fast path
                           {{1, 33, 35, 40}, Conv2dParams::square(2, 1)},    // fast, stride 2
                           {{1, 17, 19, 24}, Conv2dParams::square(1, 1)},    // fast, ragged row
                           {{1, 21, 23, 15}, Conv2dParams::square(2, 1)}};   // generic (odd C)
  uint32_t seed = 700;
  for (const ActCase& c : cases) {
    const int64_t ch = c.x[3];
    Conv2dParams p = c.p;
    p.groups = static_cast<int>(ch);
    const Tensor x = f16_rounded(random_cpu(c.x, ++seed, -2.f, 2.f));
    const Tensor w = f16_rounded(random_cpu({ch, 1, 3, 3}, ++seed));
    const Tensor b = f16_rounded(random_cpu({ch}, ++seed));
    for (const nn::Activation act : {nn::Activation::kNone, nn::Activation::kReLU,
                                     nn::Activation::kSiLU, nn::Activation::kGELU}) {
      const std::string what = shape_str(c.x) + " stride " + std::to_string(p.stride_h) +
                               " act " + std::to_string(static_cast<int>(act));
      const Tensor ref = nn::depthwise_conv2d_nhwc(x, w, b, p, act);
      const Tensor y16 = nn::depthwise_conv2d_nhwc(
          to_gpu(x, DType::kF16), to_gpu(w, DType::kF16), to_gpu(b, DType::kF16), p, act);
      EXPECT_LE(max_abs_diff_gpu(y16, ref), 1e-3f * scale_of(ref)) << what;
      const Tensor y32 = nn::depthwise_conv2d_nhwc(to_gpu(x), to_gpu(w), to_gpu(b), p, act);
      EXPECT_LE(max_abs_diff_gpu(y32, ref), 1e-5f * scale_of(ref)) << what;
    }
  }
}

TEST(DepthwiseNhwcCuda, InputActivationMatchesCpuAndTheSeparatePass) {
  // in_act: the float16 fast path applies it while staging its input tile, rounding each value
  // to float16 first, so its result must be BIT-identical to the GPU sequence it replaces (the
  // float16 activation pass, then the conv); and close to the CPU reference (which is that
  // sequence in float32). Shapes: TinyViT's stage-0 MBConv conv (256 channels = 4 chunks of 64),
  // a PatchMerging-like stride 2 with a partial channel chunk (40), a ragged tile edge (24
  // channels, 17x19), batch 2, and an odd channel count (generic kernel + passes).
  UM_REQUIRE_CUDA();
  struct InCase {
    Shape x;
    Conv2dParams p;
  };
  const InCase cases[] = {{{1, 64, 64, 256}, Conv2dParams::square(1, 1)},
                          {{1, 33, 35, 40}, Conv2dParams::square(2, 1)},
                          {{1, 17, 19, 24}, Conv2dParams::square(1, 1)},
                          {{2, 12, 9, 16}, Conv2dParams::square(2, 1)},
                          {{1, 21, 23, 15}, Conv2dParams::square(1, 1)}};
  using A = nn::Activation;
  uint32_t seed = 800;
  for (const InCase& c : cases) {
    const int64_t ch = c.x[3];
    Conv2dParams p = c.p;
    p.groups = static_cast<int>(ch);
    const Tensor x = f16_rounded(random_cpu(c.x, ++seed, -3.f, 3.f));
    const Tensor w = f16_rounded(random_cpu({ch, 1, 3, 3}, ++seed));
    const Tensor b = f16_rounded(random_cpu({ch}, ++seed));
    const Tensor x16 = to_gpu(x, DType::kF16), w16 = to_gpu(w, DType::kF16);
    const Tensor b16 = to_gpu(b, DType::kF16);
    for (const A in_act : {A::kReLU, A::kSiLU, A::kGELU}) {
      const auto pass = [&](const Tensor& t) {
        return in_act == A::kReLU ? nn::relu(t) : in_act == A::kSiLU ? nn::silu(t) : nn::gelu(t);
      };
      for (const A act : {A::kNone, A::kGELU}) {
        const std::string what = shape_str(c.x) + " stride " + std::to_string(p.stride_h) +
                                 " in_act " + std::to_string(static_cast<int>(in_act)) +
                                 " act " + std::to_string(static_cast<int>(act));
        const Tensor fused = nn::depthwise_conv2d_nhwc(x16, w16, b16, p, act, in_act);
        const Tensor separate = nn::depthwise_conv2d_nhwc(pass(x16), w16, b16, p, act);
        EXPECT_EQ(max_abs_diff_gpu(fused, to_cpu_f32(separate)), 0.f) << what << " float16";
        const Tensor ref = nn::depthwise_conv2d_nhwc(x, w, b, p, act, in_act);
        // float16 rounding of in_act(x) and of y: 2e-3 of the output scale.
        EXPECT_LE(max_abs_diff_gpu(fused, ref), 2e-3f * scale_of(ref)) << what << " float16";
        const Tensor y32 =
            nn::depthwise_conv2d_nhwc(to_gpu(x), to_gpu(w), to_gpu(b), p, act, in_act);
        EXPECT_LE(max_abs_diff_gpu(y32, ref), 1e-5f * scale_of(ref)) << what << " float32";
      }
    }
  }
}

TEST(DepthwiseNhwcCuda, StridedAndMisalignedInputsMatchCpu) {
  UM_REQUIRE_CUDA();
  const int64_t c = 24, h = 19, w = 21;
  const Conv2dParams p = Conv2dParams::square(1, 1, static_cast<int>(c));
  const Tensor wt = random_cpu({c, 1, 3, 3}, 51), b = random_cpu({c}, 52);
  const Tensor x_nchw = random_cpu({2, c, h, w}, 53);
  const Tensor x_wide = random_cpu({1, h, w, c + 6}, 54);
  const Tensor flat = random_cpu({h * w * c + 1}, 55);
  for (const DType dt : {DType::kF32, DType::kF16}) {
    const std::string name = dt == DType::kF32 ? "float32" : "float16";
    const float tol = dt == DType::kF32 ? 1e-5f : 1e-3f;
    const auto rnd = [&](const Tensor& t) { return dt == DType::kF32 ? t : f16_rounded(t); };
    const Tensor wg = to_gpu(wt, dt), bg = to_gpu(b, dt);
    // An NCHW tensor permuted to NHWC on the GPU (channel stride H*W).
    {
      const Tensor xg = to_gpu(x_nchw, dt).permute({0, 2, 3, 1});
      ASSERT_FALSE(xg.is_contiguous());
      const Tensor ref = nn::depthwise_conv2d_nhwc(rnd(x_nchw).permute({0, 2, 3, 1}), rnd(wt),
                                                   rnd(b), p);
      EXPECT_LE(max_abs_diff_gpu(nn::depthwise_conv2d_nhwc(xg, wg, bg, p), ref),
                tol * scale_of(ref))
          << name << " permuted";
    }
    // A channel slice (offset, non-contiguous view).
    {
      const Tensor xg = to_gpu(x_wide, dt).slice(3, 3, 3 + c);
      const Tensor ref =
          nn::depthwise_conv2d_nhwc(rnd(x_wide).slice(3, 3, 3 + c), rnd(wt), rnd(b), p);
      EXPECT_LE(max_abs_diff_gpu(nn::depthwise_conv2d_nhwc(xg, wg, bg, p), ref),
                tol * scale_of(ref))
          << name << " channel slice";
    }
    // Contiguous but starting one element into its buffer: even C, yet x is not pair-aligned,
    // so the kernel must take its one-channel path.
    {
      const Tensor xg = to_gpu(flat, dt).slice(0, 1, h * w * c + 1).view({1, h, w, c});
      ASSERT_TRUE(xg.is_contiguous());
      const Tensor ref = nn::depthwise_conv2d_nhwc(
          rnd(flat).slice(0, 1, h * w * c + 1).contiguous().view({1, h, w, c}), rnd(wt), rnd(b),
          p);
      EXPECT_LE(max_abs_diff_gpu(nn::depthwise_conv2d_nhwc(xg, wg, bg, p), ref),
                tol * scale_of(ref))
          << name << " misaligned";
    }
  }
}

TEST(DepthwiseNhwcCuda, BadArgumentsThrowUmError) {
  UM_REQUIRE_CUDA();
  const int64_t c = 8;
  const Tensor x = to_gpu(random_cpu({1, 6, 6, c}, 61));
  const Tensor w = to_gpu(random_cpu({c, 1, 3, 3}, 62)), b = to_gpu(random_cpu({c}, 63));
  const Conv2dParams p = Conv2dParams::square(1, 1, static_cast<int>(c));
  ASSERT_NO_THROW(nn::depthwise_conv2d_nhwc(x, w, b, p));
  // Operands on another device than x.
  EXPECT_THROW(nn::depthwise_conv2d_nhwc(x, random_cpu({c, 1, 3, 3}, 64), b, p), Error);
  EXPECT_THROW(nn::depthwise_conv2d_nhwc(x, w, random_cpu({c}, 65), p), Error);
  // Dtypes: weight/bias float16 with a float32 x, and the reverse.
  EXPECT_THROW(nn::depthwise_conv2d_nhwc(x, w.to(DType::kF16), b, p), Error);
  EXPECT_THROW(nn::depthwise_conv2d_nhwc(x, w, b.to(DType::kF16), p), Error);
  EXPECT_THROW(nn::depthwise_conv2d_nhwc(x.to(DType::kF16), w, Tensor(), p), Error);
  // Shapes and parameters.
  EXPECT_THROW(nn::depthwise_conv2d_nhwc(x, w, b, Conv2dParams::square(1, 1, 1)), Error);
  EXPECT_THROW(nn::depthwise_conv2d_nhwc(x, to_gpu(random_cpu({c, 2, 3, 3}, 66)), b, p), Error);
  EXPECT_THROW(nn::depthwise_conv2d_nhwc(x, w, to_gpu(random_cpu({c + 1}, 67)), p), Error);
  EXPECT_THROW(nn::depthwise_conv2d_nhwc(x.view({6, 6, c}), w, b, p), Error);
  EXPECT_THROW(nn::depthwise_conv2d_nhwc(x, w, b, Conv2dParams{0, 1, 1, 1, 1, 1, 8}), Error);
  EXPECT_THROW(nn::depthwise_conv2d_nhwc(to_gpu(random_cpu({1, 2, 6, c}, 68)), w, b,
                                         Conv2dParams::square(1, 0, 8)),
               Error);  // smaller than the kernel
  // The CUDA function itself, called directly, refuses mixed placements too.
  EXPECT_THROW(nn::detail::depthwise_conv2d_nhwc_cuda(x, random_cpu({c, 1, 3, 3}, 69), b, p),
               Error);
  EXPECT_THROW(nn::detail::depthwise_conv2d_nhwc_cuda(x, w, b, Conv2dParams{1, 0, 1, 1, 1, 1, 8}),
               Error);
  // An activation that does not exist, as the input activation too.
  EXPECT_THROW(nn::depthwise_conv2d_nhwc(x, w, b, p, static_cast<nn::Activation>(9)), Error);
  EXPECT_THROW(nn::depthwise_conv2d_nhwc(x, w, b, p, nn::Activation::kNone,
                                         static_cast<nn::Activation>(9)),
               Error);
}

}  // namespace
}  // namespace um
