// GPU tests of the own depthwise kernel (conv2d_depthwise_cuda.cu; groups == C == Cout, 3x3/5x5,
// stride 1/2): behind nn::conv2d in float16, forced on with DepthwiseConvPolicy::kOwn, it must
// match the CPU reference and cuDNN (forced with kCudnn); behind nn::conv2d_bias_act (float32
// and float16, with bias, activation, affine and residual in the kernel) the CPU reference. On
// the shapes TinyViT (MBConv / local conv / patch merging) and D-FINE (HGNetv2 depthwise
// downsampling, light blocks) run, plus tile edges (output sizes not multiples of the 32 x 8
// tile), padding other than K/2, batch > 1, a sliced input, bias and the fused epilogue.
// Tolerances (relative to max(1, max |ref|)), from conv_cuda_test.cpp's float16 analysis: 2e-2
// against the float32 reference (inputs rounded to fp16, K*K <= 25 terms), 1e-2 against the
// reference on the same fp16-rounded inputs (only the output rounding and the summation order
// remain), and own vs cuDNN 1e-2 (both accumulate in float32 and round the output once).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "conv_policy_scope.h"
#include "cuda_test_support.h"
#include "nn/conv2d_implicit_gemm_cuda.h"
#include "nn/cudnn_context.h"
#include "nn/ops.h"
#include "nn/ops_fused.h"

namespace um {
namespace {

using nn::Conv2dParams;
using nn::detail::DepthwiseConvPolicy;
using test::max_abs_diff_gpu;
using test::DepthwisePolicyScope;
using test::OwnConvPolicyScope;
using test::random_cpu;
using test::to_cpu_f32;
using test::to_gpu;
using test::scale_of;



struct DwCase {
  std::string name;
  Shape x;
  int k, stride, pad;
};

// Readable test parameters in gtest's listing and failure messages.
void PrintTo(const DwCase& c, std::ostream* os) {
  *os << c.name << ": x " << shape_str(c.x) << ", " << c.k << "x" << c.k << ", stride "
      << c.stride << ", pad " << c.pad;
}

std::vector<DwCase> dw_cases() {
  return {
      {"tinyvit_mbconv_3x3", {1, 64, 64, 64}, 3, 1, 1},
      {"tinyvit_merge_3x3_s2", {1, 40, 33, 35}, 3, 2, 1},
      {"dfine_5x5_s2", {1, 24, 41, 37}, 5, 2, 2},
      {"dfine_3x3_s2_batch2", {2, 16, 20, 20}, 3, 2, 1},
      {"edge_5x5_s1", {1, 8, 9, 70}, 5, 1, 2},
      {"no_pad_3x3", {1, 8, 17, 33}, 3, 1, 0},
      {"big_pad_3x3_s2", {1, 8, 10, 11}, 3, 2, 3},
  };
}

class DepthwiseCudaCase : public ::testing::TestWithParam<DwCase> {};

// A case's random input, filter ([C, 1, k, k]) and bias (seeds seed, seed + 1, seed + 2) and its
// depthwise conv parameters.
struct DwOperands {
  Tensor x, w, b;
  Conv2dParams p;
};
DwOperands dw_operands(const DwCase& c, uint32_t seed) {
  const int64_t ch = c.x[1];
  return {random_cpu(c.x, seed), random_cpu({ch, 1, c.k, c.k}, seed + 1),
          random_cpu({ch}, seed + 2), Conv2dParams::square(c.stride, c.pad, static_cast<int>(ch))};
}

TEST_P(DepthwiseCudaCase, OwnKernelMatchesCpuAndCudnn) {
  UM_REQUIRE_CUDA();
  const DwCase& c = GetParam();
  const auto [x, w, b, p] = dw_operands(c, 71);
  const Tensor ref = nn::conv2d(x, w, b, p);
  // The reference on the fp16-rounded operands.
  const Tensor xr = to_cpu_f32(to_gpu(x, DType::kF16)), wr = to_cpu_f32(to_gpu(w, DType::kF16));
  const Tensor br = to_cpu_f32(to_gpu(b, DType::kF16));
  const Tensor ref_r = nn::conv2d(xr, wr, br, p);
  const Tensor xg = to_gpu(x, DType::kF16), wg = to_gpu(w, DType::kF16);
  const Tensor bg = to_gpu(b, DType::kF16);
  Tensor own, cudnn;
  {
    DepthwisePolicyScope scope(DepthwiseConvPolicy::kOwn);
    own = nn::conv2d(xg, wg, bg, p);
  }
  {
    DepthwisePolicyScope scope(DepthwiseConvPolicy::kCudnn);
    cudnn = nn::conv2d(xg, wg, bg, p);
  }
  EXPECT_EQ(own.dtype(), DType::kF16);
  EXPECT_LE(max_abs_diff_gpu(own, ref), 2e-2f * scale_of(ref)) << c.name;
  EXPECT_LE(max_abs_diff_gpu(own, ref_r), 1e-2f * scale_of(ref_r)) << c.name;
  EXPECT_LE(max_abs_diff_gpu(own, to_cpu_f32(cudnn)), 1e-2f * scale_of(ref)) << c.name;
  // The automatic choice (whichever side was faster) is right too.
  EXPECT_LE(max_abs_diff_gpu(nn::conv2d(xg, wg, bg, p), ref), 2e-2f * scale_of(ref)) << c.name;
}

// conv2d_bias_act runs depthwise convs as ONE own kernel (conv2d_depthwise_cuda.cu: conv, bias,
// activation, affine, residual), float32 and float16, unless OwnConvPolicy::kCudnn (cuDNN +
// the epilogue pass): both ways against the CPU reference. float32 bound 1e-5: exact float32
// FMA sums over K*K <= 25 terms, only the order differs from the CPU's.
TEST_P(DepthwiseCudaCase, FusedBiasActAffineResidualMatchesCpu) {
  UM_REQUIRE_CUDA();
  const DwCase& c = GetParam();
  const auto [x, w, b, p] = dw_operands(c, 74);
  const Tensor r = random_cpu(nn::conv2d_output_shape(c.x, w.shape(), p), 77);
  const float scale = 1.25f, shift = -0.5f;
  const Tensor ref =
      nn::conv2d_bias_act_residual(x, w, b, p, nn::Activation::kReLU, r, scale, shift);
  for (const auto policy : {nn::detail::OwnConvPolicy::kAuto, nn::detail::OwnConvPolicy::kCudnn}) {
    OwnConvPolicyScope scope(policy);
    for (const DType dt : {DType::kF32, DType::kF16}) {
      const Tensor xg = to_gpu(x, dt), wg = to_gpu(w, dt);
      EXPECT_TRUE(nn::detail::depthwise_conv_supported(xg, wg, p)) << c.name;
      const Tensor y = nn::conv2d_bias_act_residual(xg, wg, to_gpu(b, dt), p, nn::Activation::kReLU,
                                                    to_gpu(r, dt), scale, shift);
      EXPECT_EQ(y.dtype(), dt);
      EXPECT_LE(max_abs_diff_gpu(y, ref), (dt == DType::kF32 ? 1e-5f : 2e-2f) * scale_of(ref))
          << c.name << " " << dtype_name(dt)
          << (policy == nn::detail::OwnConvPolicy::kCudnn ? " cudnn" : " own");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, DepthwiseCudaCase, ::testing::ValuesIn(dw_cases()),
                         [](const ::testing::TestParamInfo<DwCase>& i) { return i.param.name; });

TEST(DepthwiseCuda, SlicedInputAndFusedEpilogueMatchCpu) {
  UM_REQUIRE_CUDA();
  DepthwisePolicyScope scope(DepthwiseConvPolicy::kOwn);
  const Tensor big = random_cpu({1, 20, 30, 30}, 81);
  const Tensor x = big.slice(1, 3, 19).slice(2, 1, 28);  // [1, 16, 27, 30], offset view
  const Tensor w = random_cpu({16, 1, 3, 3}, 82), b = random_cpu({16}, 83);
  const Conv2dParams p = Conv2dParams::square(1, 1, 16);
  const Tensor ref = nn::conv2d_bias_act(x, w, b, p, nn::Activation::kGELU);
  const Tensor xg = to_gpu(big, DType::kF16).slice(1, 3, 19).slice(2, 1, 28);
  const Tensor y = nn::conv2d_bias_act(xg, to_gpu(w, DType::kF16), to_gpu(b, DType::kF16), p,
                                       nn::Activation::kGELU);
  EXPECT_LE(max_abs_diff_gpu(y, ref), 2e-2f * scale_of(ref));
}

TEST(DepthwiseCuda, Float32AndUnsupportedShapesStayOnCudnn) {
  UM_REQUIRE_CUDA();
  // kOwn only applies to eligible shapes: float32, 7x7 and dilation run cuDNN and stay correct.
  DepthwisePolicyScope scope(DepthwiseConvPolicy::kOwn);
  const Tensor x = random_cpu({1, 8, 15, 15}, 91);
  struct Other {
    Shape w;
    Conv2dParams p;
    DType dt;
  };
  const Other others[] = {
      {{8, 1, 3, 3}, Conv2dParams::square(1, 1, 8), DType::kF32},
      {{8, 1, 7, 7}, Conv2dParams::square(1, 3, 8), DType::kF16},
      {{8, 1, 3, 3}, Conv2dParams{1, 1, 2, 2, 2, 2, 8}, DType::kF16},
  };
  for (const Other& o : others) {
    const Tensor w = random_cpu(o.w, 92);
    const Tensor ref = nn::conv2d(x, w, Tensor(), o.p);
    const Tensor y = nn::conv2d(to_gpu(x, o.dt), to_gpu(w, o.dt), Tensor(), o.p);
    const float tol = o.dt == DType::kF32 ? 1e-4f : 2e-2f;
    EXPECT_LE(max_abs_diff_gpu(y, ref), tol * scale_of(ref)) << shape_str(o.w);
  }
}

}  // namespace
}  // namespace um
