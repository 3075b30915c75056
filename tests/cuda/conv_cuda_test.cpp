// GPU tests of conv2d and conv_transpose2d (cuDNN, src/nn/conv2d_cuda.cu and
// conv_transpose2d_cuda.cu) against the CPU reference ops, over the shapes D-FINE (HGNetv2 stem
// and stages, hybrid encoder) and MobileSAM (TinyViT patch embed, depthwise MBConv, neck, mask
// decoder upscaling) use; plus strided/misaligned inputs, bad arguments, the per-shape plan cache
// (no driver allocation or host sync once warm) and CUDA-graph capture of a warm conv.
// Tolerances (relative to the output's scale, max(1, max |ref|)):
//   float32: 1e-4. cuDNN runs true fp32 FMA kernels (TF32 is off), so GPU and CPU differ only in
//     summation order (and, for Winograd/FFT algorithms, exact transforms rounded in fp32): a few
//     float32 ulps of the partial sums, orders of magnitude below 1e-4 for K <= 600 terms.
//   float16 vs the float32 reference: 2e-2. Inputs and weights are U(-1, 1), rounded to fp16
//     (unit roundoff u = 2^-11), so each product x*w carries a relative error <= 2u and the sum of
//     K products an absolute error <= 2u * sum |x w| ~ 2u * K / 4 (E|xw| = 1/4), plus u * |y| for
//     rounding the output and again for adding the bias. For K = 576 that worst case is ~0.15,
//     while the output's scale (its max over >= 1000 outputs of a sum with std sqrt(K)/3) is
//     >= ~3 * sqrt(K)/3 = 24: 2e-2 * 24 = 0.48 covers it with margin; for small K the worst case
//     2u * K/4 + 2u * |y| stays below 2e-2 * max(1, ...) as well. A wrong tap, group, pad or
//     stride gives errors of the order of the scale itself, far above either bound.
//   float16 vs the reference on the same fp16-rounded inputs: 1e-2, only the GPU's own
//     roundings (output, bias add, fp16 intermediates of a transform algorithm) remain.
// Every case keeps K (terms per output) <= 600 so the bounds above hold.
// Checked on the CPU (the reference op on fp16-rounded inputs, output and bias add rounded as the
// GPU does): the float16 path lands at 3e-4..7e-4 of the scale on every case below, 30x inside
// its bound; rounding only the inputs to a 10-bit mantissa (what TF32 would do) gives >= 2.3e-4,
// so a TF32 slip in the float32 path would fail the 1e-4 bound on every case.
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

#include "core/cuda/cuda_runtime.h"
#include "core/cuda/device_pool.h"
#include "core/cuda/stream_context.h"
#include "core/status.h"
#include "cuda_test_support.h"
#include "graph_replay_test_util.h"
#include "nn/ops.h"

namespace um {
namespace {

using nn::Conv2dParams;
using test::GraphReplay;
using test::max_abs_diff_gpu;
using test::random_cpu;
using test::to_cpu_f32;
using test::to_gpu;
using test::scale_of;
using test::f16_rounded;

constexpr float kF32Tol = 1e-4f;
constexpr float kF16Tol = 2e-2f;
constexpr float kF16RoundedInputTol = 1e-2f;
constexpr int64_t kMaxTermsPerOutput = 600;


Tensor gpu_or_undefined(const Tensor& t, DType dtype) {
  return t.defined() ? to_gpu(t, dtype) : Tensor();
}

// Runs `f`, which must throw um::Error with one of `codes`.
template <typename F>
void expect_error(F&& f, std::initializer_list<StatusCode> codes, const std::string& what) {
  try {
    f();
    ADD_FAILURE() << what << ": no error";
  } catch (const Error& e) {
    EXPECT_TRUE(std::find(codes.begin(), codes.end(), e.status().code()) != codes.end())
        << what << ": unexpected code in " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": not an um::Error: " << e.what();
  }
}

// ---- conv2d cases --------------------------------------------------------------------------------

struct ConvCase {
  const char* name;
  Shape x, w;  // x [N, C, H, W], w [K, C/groups, kh, kw]
  Conv2dParams p;
  bool bias;
};

// Readable test parameters in gtest's listing and failure messages.
void PrintTo(const ConvCase& c, std::ostream* os) {
  *os << c.name << ": x " << shape_str(c.x) << ", w " << shape_str(c.w) << ", stride "
      << c.p.stride_h << "x" << c.p.stride_w << ", pad " << c.p.pad_h << "x" << c.p.pad_w
      << ", dilation " << c.p.dilation_h << "x" << c.p.dilation_w << ", groups " << c.p.groups
      << (c.bias ? ", bias" : ", no bias");
}

Conv2dParams params(int sh, int sw, int ph, int pw, int dh, int dw, int groups) {
  return {sh, sw, ph, pw, dh, dw, groups};
}

const std::vector<ConvCase>& conv_cases() {
  static const std::vector<ConvCase> cases = {
      {"k3s1p1_bias", {1, 16, 20, 24}, {32, 16, 3, 3}, Conv2dParams::square(1, 1), true},
      {"k3s2p1_batch2_odd", {2, 8, 17, 23}, {16, 8, 3, 3}, Conv2dParams::square(2, 1), false},
      {"k1_bias", {1, 64, 12, 10}, {32, 64, 1, 1}, Conv2dParams::square(1, 0), true},
      {"k1s2_batch2", {2, 24, 17, 23}, {40, 24, 1, 1}, Conv2dParams::square(2, 0), false},
      {"depthwise3_bias", {1, 32, 17, 23}, {32, 1, 3, 3}, Conv2dParams::square(1, 1, 32), true},
      {"depthwise5_s2_batch2", {2, 24, 20, 21}, {24, 1, 5, 5}, Conv2dParams::square(2, 2, 24),
       false},
      {"depthwise_multiplier2", {1, 8, 13, 11}, {16, 1, 3, 3}, Conv2dParams::square(1, 1, 8),
       true},
      {"grouped4_bias", {1, 16, 15, 15}, {32, 4, 3, 3}, Conv2dParams::square(1, 1, 4), true},
      {"dilation2", {1, 8, 19, 21}, {8, 8, 3, 3}, params(1, 1, 2, 2, 2, 2, 1), false},
      {"k7s2p3_bias", {1, 3, 33, 35}, {16, 3, 7, 7}, Conv2dParams::square(2, 3), true},
      {"k3_c64_576terms", {1, 64, 16, 16}, {64, 64, 3, 3}, Conv2dParams::square(1, 1), true},
      {"asymmetric_k3x5", {1, 6, 11, 13}, {10, 6, 3, 5}, params(1, 2, 1, 2, 1, 1, 1), true},
      {"k2s2_patch", {1, 32, 16, 16}, {64, 32, 2, 2}, Conv2dParams::square(2, 0), false},
      {"one_output_pixel", {1, 16, 3, 3}, {8, 16, 3, 3}, Conv2dParams::square(1, 0), true},
  };
  return cases;
}

int64_t terms_per_output(const Shape& w) { return w[1] * w[2] * w[3]; }

// GPU float32 and float16 against the CPU op on the same data.
void check_conv(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p) {
  ASSERT_LE(terms_per_output(w.shape()), kMaxTermsPerOutput) << "keep K within the bound's range";
  const Tensor ref = nn::conv2d(x, w, b, p);
  const float scale = scale_of(ref);

  const Tensor y32 = nn::conv2d(to_gpu(x), to_gpu(w), gpu_or_undefined(b, DType::kF32), p);
  EXPECT_TRUE(y32.device().is_cuda());
  EXPECT_EQ(y32.dtype(), DType::kF32);
  EXPECT_TRUE(y32.is_contiguous());
  EXPECT_LE(max_abs_diff_gpu(y32, ref), kF32Tol * scale) << "float32";

  const Tensor y16 = nn::conv2d(to_gpu(x, DType::kF16), to_gpu(w, DType::kF16),
                                gpu_or_undefined(b, DType::kF16), p);
  EXPECT_EQ(y16.dtype(), DType::kF16);
  EXPECT_LE(max_abs_diff_gpu(y16, ref), kF16Tol * scale) << "float16 vs float32 reference";
  const Tensor ref_r = nn::conv2d(f16_rounded(x), f16_rounded(w),
                                  b.defined() ? f16_rounded(b) : Tensor(), p);
  EXPECT_LE(max_abs_diff_gpu(y16, ref_r), kF16RoundedInputTol * scale_of(ref_r))
      << "float16 vs reference on the fp16-rounded inputs";
}

class Conv2dCudaCase : public ::testing::TestWithParam<ConvCase> {};

TEST_P(Conv2dCudaCase, MatchesCpuInFloat32AndFloat16) {
  UM_REQUIRE_CUDA();
  const ConvCase& c = GetParam();
  const Tensor x = random_cpu(c.x, 11);
  const Tensor w = random_cpu(c.w, 12);
  const Tensor b = c.bias ? random_cpu({c.w[0]}, 13) : Tensor();
  check_conv(x, w, b, c.p);
}

INSTANTIATE_TEST_SUITE_P(Shapes, Conv2dCudaCase, ::testing::ValuesIn(conv_cases()),
                         [](const ::testing::TestParamInfo<ConvCase>& info) {
                           return std::string(info.param.name);
                         });

// Conv2dParams::allow_tf32: float32 data may run on TF32 tensor cores, whose rounding of the
// operands to a 10-bit mantissa is that of float16 inputs (the same unit roundoff), with float32
// sums and a float32 output: the float16-rounded-inputs bound holds. float16 data and the CPU
// ignore the flag (bit-identical results).
TEST(Conv2dCuda, Tf32AllowedStaysWithinInputRoundingAndIsIgnoredElsewhere) {
  UM_REQUIRE_CUDA();
  for (const ConvCase& c : conv_cases()) {
    SCOPED_TRACE(c.name);
    const Tensor x = random_cpu(c.x, 41);
    const Tensor w = random_cpu(c.w, 42);
    const Tensor b = c.bias ? random_cpu({c.w[0]}, 43) : Tensor();
    Conv2dParams tf32 = c.p;
    tf32.allow_tf32 = true;
    const Tensor ref = nn::conv2d(x, w, b, c.p);
    EXPECT_EQ(max_abs_diff_gpu(nn::conv2d(x, w, b, tf32), ref), 0.f) << "CPU ignores the flag";
    const Tensor y32 = nn::conv2d(to_gpu(x), to_gpu(w), gpu_or_undefined(b, DType::kF32), tf32);
    EXPECT_EQ(y32.dtype(), DType::kF32);
    EXPECT_LE(max_abs_diff_gpu(y32, ref), kF16RoundedInputTol * scale_of(ref)) << "TF32";
    const Tensor xh = to_gpu(x, DType::kF16), wh = to_gpu(w, DType::kF16);
    const Tensor bh = gpu_or_undefined(b, DType::kF16);
    const Tensor y16 = nn::conv2d(xh, wh, bh, c.p);
    EXPECT_EQ(max_abs_diff_gpu(nn::conv2d(xh, wh, bh, tf32), to_cpu_f32(y16)), 0.f)
        << "float16 data ignores the flag";
  }
}

TEST(Conv2dCuda, PermutedChannelsLastInputMatchesCpu) {
  UM_REQUIRE_CUDA();
  // An NHWC activation seen as NCHW (what a [B, L, C] -> image reshape gives): not contiguous.
  const Tensor x_nhwc = random_cpu({2, 17, 23, 16}, 21);
  const Tensor w = random_cpu({24, 16, 3, 3}, 22);
  const Tensor b = random_cpu({24}, 23);
  const Conv2dParams p = Conv2dParams::square(1, 1);
  const Tensor ref = nn::conv2d(x_nhwc.permute({0, 3, 1, 2}), w, b, p);
  for (const DType dt : {DType::kF32, DType::kF16}) {
    const Tensor xg = to_gpu(x_nhwc, dt).permute({0, 3, 1, 2});
    ASSERT_FALSE(xg.is_contiguous());
    const Tensor y = nn::conv2d(xg, to_gpu(w, dt), to_gpu(b, dt), p);
    EXPECT_LE(max_abs_diff_gpu(y, ref), (dt == DType::kF32 ? kF32Tol : kF16Tol) * scale_of(ref))
        << dtype_name(dt);
  }
}

TEST(Conv2dCuda, SlicedAndMisalignedViewsMatchCpu) {
  UM_REQUIRE_CUDA();
  // A channel slice (strided) and a batch slice whose data starts 5*7*9 = 315 elements into the
  // storage (1260 bytes for float32, 630 for float16: not 16-byte aligned).
  const Tensor big = random_cpu({3, 12, 7, 9}, 31);
  const Tensor w = random_cpu({6, 5, 3, 3}, 32);
  const Tensor w_full = random_cpu({6, 12, 3, 3}, 33);
  const Conv2dParams p = Conv2dParams::square(1, 1);
  const Tensor ref_c = nn::conv2d(big.slice(1, 3, 8), w, Tensor(), p);
  const Tensor odd = random_cpu({3, 5, 7, 9}, 34);
  const Tensor ref_b = nn::conv2d(odd.slice(0, 1, 2), w, Tensor(), p);
  // A weight given as a permuted view ([kh, kw, Cin, Cout] storage), too.
  const Tensor w_khwc = w_full.permute({2, 3, 1, 0}).contiguous();
  const Tensor ref_w = nn::conv2d(big, w_full, Tensor(), p);
  for (const DType dt : {DType::kF32, DType::kF16}) {
    const float tol = dt == DType::kF32 ? kF32Tol : kF16Tol;
    const Tensor yc = nn::conv2d(to_gpu(big, dt).slice(1, 3, 8), to_gpu(w, dt), Tensor(), p);
    EXPECT_LE(max_abs_diff_gpu(yc, ref_c), tol * scale_of(ref_c)) << "channel slice";
    const Tensor yb = nn::conv2d(to_gpu(odd, dt).slice(0, 1, 2), to_gpu(w, dt), Tensor(), p);
    EXPECT_LE(max_abs_diff_gpu(yb, ref_b), tol * scale_of(ref_b)) << "batch slice";
    const Tensor wg = to_gpu(w_khwc, dt).permute({3, 2, 0, 1});
    ASSERT_FALSE(wg.is_contiguous());
    const Tensor yw = nn::conv2d(to_gpu(big, dt), wg, Tensor(), p);
    EXPECT_LE(max_abs_diff_gpu(yw, ref_w), tol * scale_of(ref_w)) << "permuted weight";
  }
}

TEST(Conv2dCuda, RepeatedShapesReuseThePlanWithoutAllocatingOrSyncing) {
  UM_REQUIRE_CUDA();
  const ConvCase& a = conv_cases()[0];
  const ConvCase& d = conv_cases()[4];  // depthwise: another plan in between
  const Tensor xa = random_cpu(a.x, 41), wa = random_cpu(a.w, 42), ba = random_cpu({a.w[0]}, 43);
  const Tensor xd = random_cpu(d.x, 44), wd = random_cpu(d.w, 45), bd = random_cpu({d.w[0]}, 46);
  const Tensor ref_a = nn::conv2d(xa, wa, ba, a.p), ref_d = nn::conv2d(xd, wd, bd, d.p);
  for (const DType dt : {DType::kF32, DType::kF16}) {
    const float tol = dt == DType::kF32 ? kF32Tol : kF16Tol;
    const Tensor xga = to_gpu(xa, dt), wga = to_gpu(wa, dt), bga = to_gpu(ba, dt);
    const Tensor xgd = to_gpu(xd, dt), wgd = to_gpu(wd, dt), bgd = to_gpu(bd, dt);
    cuda::DevicePool pool;
    cuda::PoolScope scope(&pool);
    for (int round = 0; round < 3; ++round) {
      const uint64_t syncs = cuda::host_sync_count();
      const uint64_t allocations = pool.driver_allocations();
      Tensor ya = nn::conv2d(xga, wga, bga, a.p);
      Tensor yd = nn::conv2d(xgd, wgd, bgd, d.p);
      EXPECT_EQ(cuda::host_sync_count(), syncs) << "a conv synchronised the host";
      // Once warm, the outputs and workspaces reuse the blocks the previous round gave back
      // (the comparisons below allocate too, but outside the measured window).
      if (round > 0) {
        EXPECT_EQ(pool.driver_allocations(), allocations) << "round " << round;
      }
      EXPECT_LE(max_abs_diff_gpu(ya, ref_a), tol * scale_of(ref_a)) << "round " << round;
      EXPECT_LE(max_abs_diff_gpu(yd, ref_d), tol * scale_of(ref_d)) << "round " << round;
    }
  }
}

TEST(Conv2dCuda, WarmConvCapturesIntoACudaGraph) {
  UM_REQUIRE_CUDA();
  const ConvCase& c = conv_cases()[7];  // grouped, with bias: cuDNN conv + bias kernel
  const Tensor x = random_cpu(c.x, 51), w = random_cpu(c.w, 52), b = random_cpu({c.w[0]}, 53);
  const Tensor ref = nn::conv2d(x, w, b, c.p);
  const Tensor xg = to_gpu(x), wg = to_gpu(w), bg = to_gpu(b);
  GraphReplay replay;
  const Tensor y = replay.run([&] { return nn::conv2d(xg, wg, bg, c.p); }, "conv2d");
  ASSERT_TRUE(replay.ok());
  EXPECT_LE(max_abs_diff_gpu(y, ref), kF32Tol * scale_of(ref));
}

TEST(Conv2dCuda, BadArgumentsThrowUmError) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({1, 4, 9, 9}, 61), w = random_cpu({6, 4, 3, 3}, 62);
  const Tensor b = random_cpu({6}, 63);
  const Tensor xg = to_gpu(x), wg = to_gpu(w), bg = to_gpu(b);
  const Conv2dParams p = Conv2dParams::square(1, 1);
  const auto codes = {StatusCode::kFailedPrecondition, StatusCode::kInvalidArgument};
  expect_error([&] { (void)nn::conv2d(xg, w, bg, p); }, codes, "CPU weight, GPU input");
  expect_error([&] { (void)nn::conv2d(x, wg, b, p); }, codes, "GPU weight, CPU input");
  expect_error([&] { (void)nn::conv2d(xg, wg, b, p); }, codes, "CPU bias, GPU input");
  expect_error([&] { (void)nn::conv2d(xg, to_gpu(w, DType::kF16), bg, p); },
               {StatusCode::kInvalidArgument}, "float16 weight, float32 input");
  expect_error([&] { (void)nn::conv2d(xg, wg, to_gpu(random_cpu({5}, 64)), p); },
               {StatusCode::kInvalidArgument}, "bias of the wrong size");
  expect_error([&] { (void)nn::conv2d(xg, to_gpu(random_cpu({6, 3, 3, 3}, 65)), bg, p); },
               {StatusCode::kInvalidArgument}, "channel mismatch");
  expect_error([&] { (void)nn::conv2d(xg.to(DType::kI32), wg, bg, p); },
               {StatusCode::kInvalidArgument}, "int32 input");
}

// ---- conv_transpose2d ----------------------------------------------------------------------------

struct TransposeCase {
  const char* name;
  Shape x, w;  // x [N, Cin, H, W], w [Cin, Cout, kh, kw]
  int stride, pad;
  bool bias;
};

void PrintTo(const TransposeCase& c, std::ostream* os) {
  *os << c.name << ": x " << shape_str(c.x) << ", w " << shape_str(c.w) << ", stride " << c.stride
      << ", pad " << c.pad << (c.bias ? ", bias" : ", no bias");
}

const std::vector<TransposeCase>& transpose_cases() {
  static const std::vector<TransposeCase> cases = {
      // SAM's mask decoder: ConvTranspose2d(kernel 2, stride 2), 256 -> 64 -> 32 channels.
      {"sam_k2s2_256to64_bias", {1, 256, 16, 16}, {256, 64, 2, 2}, 2, 0, true},
      {"k2s2_batch2_odd", {2, 16, 9, 13}, {16, 8, 2, 2}, 2, 0, false},
      {"k3s2p1_overlap_bias", {1, 8, 7, 9}, {8, 4, 3, 3}, 2, 1, true},
      {"k4s2p1_overlap", {2, 12, 5, 6}, {12, 6, 4, 4}, 2, 1, false},
      {"k3s1_bias", {1, 5, 6, 7}, {5, 3, 3, 3}, 1, 0, true},
  };
  return cases;
}

void check_transpose(const Tensor& x, const Tensor& w, const Tensor& b, int stride, int pad) {
  // Each output sums over Cin channels times the taps that land on it (<= ceil(k/stride)^2).
  const int64_t taps = ((w.size(2) + stride - 1) / stride) * ((w.size(3) + stride - 1) / stride);
  ASSERT_LE(w.size(0) * taps, kMaxTermsPerOutput);
  const Tensor ref = nn::conv_transpose2d(x, w, b, stride, pad);
  const float scale = scale_of(ref);
  const Tensor y32 =
      nn::conv_transpose2d(to_gpu(x), to_gpu(w), gpu_or_undefined(b, DType::kF32), stride, pad);
  EXPECT_TRUE(y32.device().is_cuda());
  EXPECT_EQ(y32.dtype(), DType::kF32);
  EXPECT_LE(max_abs_diff_gpu(y32, ref), kF32Tol * scale) << "float32";
  const Tensor y16 = nn::conv_transpose2d(to_gpu(x, DType::kF16), to_gpu(w, DType::kF16),
                                          gpu_or_undefined(b, DType::kF16), stride, pad);
  EXPECT_EQ(y16.dtype(), DType::kF16);
  EXPECT_LE(max_abs_diff_gpu(y16, ref), kF16Tol * scale) << "float16 vs float32 reference";
  const Tensor ref_r = nn::conv_transpose2d(f16_rounded(x), f16_rounded(w),
                                            b.defined() ? f16_rounded(b) : Tensor(), stride, pad);
  EXPECT_LE(max_abs_diff_gpu(y16, ref_r), kF16RoundedInputTol * scale_of(ref_r))
      << "float16 vs reference on the fp16-rounded inputs";
}

class ConvTranspose2dCudaCase : public ::testing::TestWithParam<TransposeCase> {};

TEST_P(ConvTranspose2dCudaCase, MatchesCpuInFloat32AndFloat16) {
  UM_REQUIRE_CUDA();
  const TransposeCase& c = GetParam();
  const Tensor x = random_cpu(c.x, 71);
  const Tensor w = random_cpu(c.w, 72);
  const Tensor b = c.bias ? random_cpu({c.w[1]}, 73) : Tensor();
  check_transpose(x, w, b, c.stride, c.pad);
  // Same shape again: served from the plan cache, same answer.
  check_transpose(x, w, b, c.stride, c.pad);
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvTranspose2dCudaCase, ::testing::ValuesIn(transpose_cases()),
                         [](const ::testing::TestParamInfo<TransposeCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(ConvTranspose2dCuda, PermutedInputMatchesCpu) {
  UM_REQUIRE_CUDA();
  const Tensor x_nhwc = random_cpu({1, 8, 8, 32}, 81);
  const Tensor w = random_cpu({32, 16, 2, 2}, 82), b = random_cpu({16}, 83);
  const Tensor ref = nn::conv_transpose2d(x_nhwc.permute({0, 3, 1, 2}), w, b, 2, 0);
  for (const DType dt : {DType::kF32, DType::kF16}) {
    const Tensor xg = to_gpu(x_nhwc, dt).permute({0, 3, 1, 2});
    ASSERT_FALSE(xg.is_contiguous());
    const Tensor y = nn::conv_transpose2d(xg, to_gpu(w, dt), to_gpu(b, dt), 2, 0);
    EXPECT_LE(max_abs_diff_gpu(y, ref), (dt == DType::kF32 ? kF32Tol : kF16Tol) * scale_of(ref))
        << dtype_name(dt);
  }
}

TEST(ConvTranspose2dCuda, BadArgumentsThrowUmError) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({1, 8, 4, 4}, 91), w = random_cpu({8, 4, 2, 2}, 92);
  const Tensor b = random_cpu({4}, 93);
  const Tensor xg = to_gpu(x), wg = to_gpu(w), bg = to_gpu(b);
  const auto codes = {StatusCode::kFailedPrecondition, StatusCode::kInvalidArgument};
  expect_error([&] { (void)nn::conv_transpose2d(xg, w, bg, 2, 0); }, codes,
               "CPU weight, GPU input");
  expect_error([&] { (void)nn::conv_transpose2d(x, wg, b, 2, 0); }, codes,
               "GPU weight, CPU input");
  expect_error([&] { (void)nn::conv_transpose2d(xg, wg, b, 2, 0); }, codes, "CPU bias, GPU input");
  expect_error([&] { (void)nn::conv_transpose2d(xg, to_gpu(w, DType::kF16), bg, 2, 0); },
               {StatusCode::kInvalidArgument}, "float16 weight, float32 input");
  expect_error([&] { (void)nn::conv_transpose2d(xg, to_gpu(random_cpu({6, 4, 2, 2}, 94)), bg, 2, 0); },
               {StatusCode::kInvalidArgument}, "channel mismatch");
  expect_error([&] { (void)nn::conv_transpose2d(xg, wg, to_gpu(random_cpu({5}, 95)), 2, 0); },
               {StatusCode::kInvalidArgument}, "bias of the wrong size");
  expect_error([&] { (void)nn::conv_transpose2d(xg, wg, bg, 0, 0); },
               {StatusCode::kInvalidArgument}, "stride 0");
}

}  // namespace
}  // namespace um
