// GPU tests of nn::conv2d_bias_act (src/nn/conv2d_bias_act_cuda.cu: cuDNN conv without bias +
// one bias/activation/affine epilogue kernel, or the own implicit-GEMM kernel with the epilogue
// inside; every test runs both, forced with OwnConvPolicy) against the CPU reference op, for every
// activation, with and without bias and affine, on the epilogue's vectorised path (plane a
// multiple of 16 bytes) and its scalar path (odd planes), strided/permuted inputs, float32 and
// float16; plus agreement with the unfused GPU sequence it replaces, graph capture of a warm
// call, and bad arguments.
// Tolerances (relative to the reference's scale, max(1, max |ref|)), as in conv_cuda_test.cpp:
//   float32: 1e-4. The conv differs from the CPU only in summation order (fp32 FMA kernels, no
//     TF32: the algorithm choice keeps that contract); bias, activation and affine are the same
//     float32 expressions (ReLU/SiLU/GELU are at most 1.13-Lipschitz, and the affine scales the
//     error and the output's scale alike).
//   float16: 2e-2. conv_cuda_test.cpp's bound for the conv (inputs rounded to fp16, K <= 600
//     terms, float32 accumulation), carried through the same <= 1.13-Lipschitz activation and
//     the affine; the epilogue rounds to fp16 once (u = 2^-11 of |y|) where the old path rounded
//     after the bias and again after the activation.
//   fused vs unfused GPU sequence: float32 1e-6 (same conv plan; the epilogue computes the same
//     float32 expressions, only FMA contraction could differ); float16 4e-3 (the old path's two
//     extra fp16 roundings of intermediates, a few units of 2^-11 relative, times the Lipschitz
//     constant and the affine scale).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "core/cuda/cuda_runtime.h"
#include "core/status.h"
#include "conv_policy_scope.h"
#include "cuda_test_support.h"
#include "graph_replay_test_util.h"
#include "nn/conv2d_implicit_gemm_cuda.h"
#include "nn/ops.h"
#include "nn/ops_dfine.h"
#include "nn/ops_fused.h"

namespace um {
namespace {

using nn::detail::OwnConvPolicy;

using nn::Activation;
using nn::Conv2dParams;
using test::GraphReplay;
using test::max_abs_diff_gpu;
using test::OwnConvPolicyScope;
using test::random_cpu;
using test::to_gpu;
using test::scale_of;

constexpr float kF32Tol = 1e-4f;
constexpr float kF16Tol = 2e-2f;

// Both ways of running the op (each under a test::OwnConvPolicyScope).
constexpr OwnConvPolicy kBothWays[] = {OwnConvPolicy::kCudnn, OwnConvPolicy::kOwn};
const char* policy_name(OwnConvPolicy p) { return p == OwnConvPolicy::kOwn ? "own" : "cudnn"; }

const char* act_name(Activation a) {
  switch (a) {
    case Activation::kNone: return "none";
    case Activation::kReLU: return "relu";
    case Activation::kSiLU: return "silu";
    case Activation::kGELU: return "gelu";
  }
  return "?";
}

nn::ActKind to_kind(Activation a) {
  switch (a) {
    case Activation::kReLU: return nn::ActKind::kReLU;
    case Activation::kSiLU: return nn::ActKind::kSiLU;
    case Activation::kGELU: return nn::ActKind::kGELU;
    case Activation::kNone: break;
  }
  return nn::ActKind::kNone;
}

struct FusedCase {
  std::string name;
  Shape x, w;
  Conv2dParams p;
};

// Readable test parameters in ctest's listing and failure messages.
void PrintTo(const FusedCase& c, std::ostream* os) {
  *os << c.name << ": x " << shape_str(c.x) << ", w " << shape_str(c.w) << ", stride "
      << c.p.stride_h << ", pad " << c.p.pad_h << ", groups " << c.p.groups;
}

// Terms per output (Cin/groups * kh * kw) stay <= 600 (the fp16 bound's premise).
std::vector<FusedCase> fused_cases() {
  return {
      // D-FINE-like 3x3 stride 2; output 16x16 planes: the 16-byte vectorised epilogue.
      {"dfine_3x3_s2_vec", {1, 16, 32, 32}, {24, 16, 3, 3}, Conv2dParams::square(2, 1)},
      // Pointwise, batch 2, 9x8 = 72-element planes (whole 16-byte units in both dtypes).
      {"pw_1x1_72", {2, 32, 9, 8}, {48, 32, 1, 1}, Conv2dParams::square(1, 0)},
      // 7x9 = 63 elements per plane: the scalar epilogue.
      {"odd_3x3_63", {1, 8, 7, 9}, {12, 8, 3, 3}, Conv2dParams::square(1, 1)},
      // TinyViT-like depthwise 3x3 and D-FINE-like depthwise 5x5 stride 2 (groups == C).
      {"dw_3x3", {1, 64, 20, 20}, {64, 1, 3, 3}, Conv2dParams::square(1, 1, 64)},
      {"dw_5x5_s2", {1, 32, 21, 19}, {32, 1, 5, 5}, Conv2dParams::square(2, 2, 32)},
      // Grouped conv with K = 8 * 9 = 72 terms, 3 groups.
      {"grouped_3x3", {1, 24, 15, 16}, {30, 8, 3, 3}, Conv2dParams::square(1, 1, 3)},
  };
}

class Conv2dBiasActCudaCase : public ::testing::TestWithParam<FusedCase> {};

TEST_P(Conv2dBiasActCudaCase, MatchesCpuForEveryActivationBiasAndAffine) {
  UM_REQUIRE_CUDA();
  const FusedCase& c = GetParam();
  const Tensor x = random_cpu(c.x, 11), w = random_cpu(c.w, 12), b = random_cpu({c.w[0]}, 13);
  const Activation acts[] = {Activation::kNone, Activation::kReLU, Activation::kSiLU,
                             Activation::kGELU};
  for (const OwnConvPolicy policy : kBothWays) {
    OwnConvPolicyScope scope(policy);
    for (const DType dt : {DType::kF32, DType::kF16}) {
      const float tol = dt == DType::kF32 ? kF32Tol : kF16Tol;
      const Tensor xg = to_gpu(x, dt), wg = to_gpu(w, dt), bg = to_gpu(b, dt);
      for (const bool with_bias : {false, true}) {
        for (const Activation act : acts) {
          for (const bool affine : {false, true}) {
            const float scale = affine ? -1.25f : 1.f, shift = affine ? 0.5f : 0.f;
            const Tensor ref =
                nn::conv2d_bias_act(x, w, with_bias ? b : Tensor(), c.p, act, scale, shift);
            const Tensor y =
                nn::conv2d_bias_act(xg, wg, with_bias ? bg : Tensor(), c.p, act, scale, shift);
            EXPECT_EQ(y.dtype(), dt);
            EXPECT_LE(max_abs_diff_gpu(y, ref), tol * scale_of(ref))
                << c.name << " " << policy_name(policy) << " " << dtype_name(dt) << " act "
                << act_name(act) << " bias " << with_bias << " affine " << affine;
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, Conv2dBiasActCudaCase, ::testing::ValuesIn(fused_cases()),
                         [](const ::testing::TestParamInfo<FusedCase>& i) { return i.param.name; });

// The cuDNN way's epilogue against the sequence it replaced (same conv plan underneath).
TEST(Conv2dBiasActCuda, MatchesTheUnfusedGpuSequence) {
  UM_REQUIRE_CUDA();
  OwnConvPolicyScope scope(OwnConvPolicy::kCudnn);
  const FusedCase c = fused_cases()[0];
  const Tensor x = random_cpu(c.x, 21), w = random_cpu(c.w, 22), b = random_cpu({c.w[0]}, 23);
  for (const DType dt : {DType::kF32, DType::kF16}) {
    const float tol = dt == DType::kF32 ? 1e-6f : 4e-3f;
    const Tensor xg = to_gpu(x, dt), wg = to_gpu(w, dt), bg = to_gpu(b, dt);
    for (const Activation act : {Activation::kReLU, Activation::kSiLU, Activation::kGELU}) {
      Tensor old = nn::conv2d(xg, wg, bg, c.p);
      nn::act_affine_inplace(old, to_kind(act), true, 0.8f, -0.1f);
      const Tensor fused = nn::conv2d_bias_act(xg, wg, bg, c.p, act, 0.8f, -0.1f);
      const Tensor old_cpu = test::to_cpu_f32(old);
      EXPECT_LE(max_abs_diff_gpu(fused, old_cpu), tol * scale_of(old_cpu))
          << dtype_name(dt) << " " << act_name(act);
    }
  }
}

// conv2d_bias_act_residual: the residual added in the epilogue (contiguous, strided, and an
// element offset that breaks the 16-byte vector path), against the CPU op.
TEST(Conv2dBiasActCuda, ResidualInTheEpilogueMatchesCpu) {
  UM_REQUIRE_CUDA();
  for (const OwnConvPolicy policy : kBothWays) {
    OwnConvPolicyScope scope(policy);
    for (const FusedCase& c : fused_cases()) {
      const Tensor x = random_cpu(c.x, 61), w = random_cpu(c.w, 62), b = random_cpu({c.w[0]}, 63);
      const Shape out = nn::conv2d_output_shape(c.x, c.w, c.p);
      Shape wider = out;  // one more channel: slicing it off gives an element offset
      wider[1] += 1;
      const Tensor r = random_cpu(out, 64);
      const Tensor r_nhwc = random_cpu({out[0], out[2], out[3], out[1]}, 65);
      const Tensor r_wide = random_cpu(wider, 66);
      for (const DType dt : {DType::kF32, DType::kF16}) {
        const float tol = dt == DType::kF32 ? kF32Tol : kF16Tol;
        const Tensor xg = to_gpu(x, dt), wg = to_gpu(w, dt), bg = to_gpu(b, dt);
        // The same residual values as CPU and GPU views of one layout each.
        const std::pair<Tensor, Tensor> residuals[] = {
            {r, to_gpu(r, dt)},
            {r_nhwc.permute({0, 3, 1, 2}), to_gpu(r_nhwc, dt).permute({0, 3, 1, 2})},
            {r_wide.slice(1, 1, wider[1]), to_gpu(r_wide, dt).slice(1, 1, wider[1])}};
        for (const auto& [res_cpu, res_gpu] : residuals) {
          for (const Activation act : {Activation::kNone, Activation::kReLU, Activation::kSiLU}) {
            const Tensor ref =
                nn::conv2d_bias_act_residual(x, w, b, c.p, act, res_cpu, 0.5f, 0.25f);
            const Tensor y =
                nn::conv2d_bias_act_residual(xg, wg, bg, c.p, act, res_gpu, 0.5f, 0.25f);
            EXPECT_EQ(y.dtype(), dt);
            EXPECT_LE(max_abs_diff_gpu(y, ref), tol * scale_of(ref))
                << c.name << " " << policy_name(policy) << " " << dtype_name(dt) << " act "
                << act_name(act) << " residual " << shape_str(res_gpu.shape())
                << (res_gpu.is_contiguous() ? "" : " (strided)");
          }
        }
      }
    }
  }
  // A residual of the wrong shape or dtype is refused (by either way).
  for (const OwnConvPolicy policy : kBothWays) {
    OwnConvPolicyScope scope(policy);
    const Tensor xg = to_gpu(random_cpu({1, 4, 6, 6}, 67)),
                 wg = to_gpu(random_cpu({5, 4, 3, 3}, 68));
    const Conv2dParams p = Conv2dParams::square(1, 1);
    EXPECT_THROW(nn::conv2d_bias_act_residual(xg, wg, Tensor(), p, Activation::kReLU,
                                              to_gpu(random_cpu({1, 5, 6, 5}, 69))),
                 Error);
    EXPECT_THROW(nn::conv2d_bias_act_residual(xg, wg, Tensor(), p, Activation::kReLU,
                                              to_gpu(random_cpu({1, 5, 6, 6}, 70), DType::kF16)),
                 Error);
  }
}

TEST(Conv2dBiasActCuda, StridedAndPermutedInputsMatchCpu) {
  UM_REQUIRE_CUDA();
  const Tensor big = random_cpu({2, 10, 18, 20}, 31);
  const Tensor w = random_cpu({12, 6, 3, 3}, 32), b = random_cpu({12}, 33);
  const Conv2dParams p = Conv2dParams::square(1, 1);
  for (const OwnConvPolicy policy : kBothWays) {
    OwnConvPolicyScope scope(policy);
    for (const DType dt : {DType::kF32, DType::kF16}) {
      const float tol = dt == DType::kF32 ? kF32Tol : kF16Tol;
      const Tensor bigg = to_gpu(big, dt);
      // Channel and width slices: a non-contiguous view with an element offset.
      const Tensor xs_cpu = big.slice(1, 3, 9).slice(3, 1, 17);
      const Tensor xs = bigg.slice(1, 3, 9).slice(3, 1, 17);
      const Tensor ref_s = nn::conv2d_bias_act(xs_cpu, w, b, p, Activation::kGELU, 2.f, 0.25f);
      EXPECT_LE(max_abs_diff_gpu(nn::conv2d_bias_act(xs, to_gpu(w, dt), to_gpu(b, dt), p,
                                                     Activation::kGELU, 2.f, 0.25f),
                                 ref_s),
                tol * scale_of(ref_s))
          << "sliced " << policy_name(policy) << " " << dtype_name(dt);
      // Channels-last storage seen as NCHW.
      const Tensor nhwc = random_cpu({1, 11, 13, 6}, 34);
      const Tensor xp_cpu = nhwc.permute({0, 3, 1, 2});
      const Tensor xp = to_gpu(nhwc, dt).permute({0, 3, 1, 2});
      const Tensor ref_p = nn::conv2d_bias_act(xp_cpu, w, b, p, Activation::kSiLU);
      EXPECT_LE(
          max_abs_diff_gpu(
              nn::conv2d_bias_act(xp, to_gpu(w, dt), to_gpu(b, dt), p, Activation::kSiLU), ref_p),
          tol * scale_of(ref_p))
          << "permuted " << policy_name(policy) << " " << dtype_name(dt);
    }
  }
}

TEST(Conv2dBiasActCuda, WarmCallCapturesIntoACudaGraph) {
  UM_REQUIRE_CUDA();
  const FusedCase c = fused_cases()[0];
  const Tensor x = random_cpu(c.x, 41), w = random_cpu(c.w, 42), b = random_cpu({c.w[0]}, 43);
  const Tensor ref = nn::conv2d_bias_act(x, w, b, c.p, Activation::kSiLU, 0.5f, 0.125f);
  const Tensor xg = to_gpu(x), wg = to_gpu(w), bg = to_gpu(b);
  for (const OwnConvPolicy policy : kBothWays) {
    OwnConvPolicyScope scope(policy);
    GraphReplay replay;
    const Tensor y = replay.run(
        [&] { return nn::conv2d_bias_act(xg, wg, bg, c.p, Activation::kSiLU, 0.5f, 0.125f); },
        "conv2d_bias_act");
    ASSERT_TRUE(replay.ok()) << policy_name(policy);
    EXPECT_LE(max_abs_diff_gpu(y, ref), kF32Tol * scale_of(ref)) << policy_name(policy);
  }
}

TEST(Conv2dBiasActCuda, BadArgumentsThrowUmError) {
  UM_REQUIRE_CUDA();
  for (const OwnConvPolicy policy : kBothWays) {
    OwnConvPolicyScope scope(policy);
    const Tensor x = to_gpu(random_cpu({1, 4, 9, 9}, 61));
    const Tensor w = to_gpu(random_cpu({6, 4, 3, 3}, 62));
    const Tensor b = random_cpu({6}, 63);
    const Conv2dParams p = Conv2dParams::square(1, 1);
    EXPECT_THROW(nn::conv2d_bias_act(x, w, to_gpu(random_cpu({5}, 64)), p, Activation::kReLU),
                 Error);  // bias length
    EXPECT_THROW(nn::conv2d_bias_act(x, w, to_gpu(b, DType::kF16), p, Activation::kReLU),
                 Error);                                                      // bias dtype
    EXPECT_THROW(nn::conv2d_bias_act(x, w, b, p, Activation::kReLU), Error);  // bias on the CPU
    EXPECT_THROW(nn::conv2d_bias_act(x, to_gpu(random_cpu({6, 4, 3, 3}, 65), DType::kF16), Tensor(),
                                     p, Activation::kGELU),
                 Error);  // weight dtype
    EXPECT_THROW(nn::conv2d_bias_act(x, to_gpu(random_cpu({6, 3, 3, 3}, 66)), Tensor(), p,
                                     Activation::kGELU),
                 Error);  // channels
  }
}

}  // namespace
}  // namespace um
