// GPU tests of the own convolutions (src/nn/conv2d_implicit_gemm_cuda.cu, for the float16
// shapes it supports conv2d_patch_cuda.cu, for 1x1s conv2d_pointwise_cuda.cu (also its own
// tests below)), forced with OwnConvPolicy::kOwn through
// nn::conv2d_bias_act, on the shapes the models run and on the kernels' edges: each channel tile (16 / 32 / 64) and several tiles, partial pixel tiles that
// cross images of a batch, the pointwise path (1x1, no padding; stride 2) and the tap-table path
// (1x1 with padding, 2x2 without, 3x3 / 5x5, stride 2, dilation 2), the largest table, and what
// it does not take (groups, too many taps, TF32 requested) staying correct on cuDNN.
// Tolerances (relative to max(1, max |ref|)):
//   float32 2e-5: 3xTF32 keeps ~22 mantissa bits per product, and the tensor cores' truncating
//     float32 sums only run over 16 columns before a rounded float32 add (K <= 2304 terms of
//     [-1, 1] products; without those partial sums the 2304-column case measured 3.1e-5). Plain TF32 products (10-bit mantissa) would miss this by ~10x on the 3x3 64-
//     channel case (~5e-4 relative per product, ~24 * 0.33 * 5e-4 = 4e-3 absolute over 576
//     terms against a scale of ~10-25): the bound tells the two apart.
//   float16 1e-2 against the reference on the fp16-rounded operands (float32 accumulation, one
//     output rounding), 2e-2 against the float32 reference (conv_cuda_test.cpp's bound), and 1e-2
//     against cuDNN's way.
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "conv_policy_scope.h"
#include "cuda_test_support.h"
#include "graph_replay_test_util.h"
#include "nn/conv2d_implicit_gemm_cuda.h"
#include "nn/ops.h"
#include "nn/ops_fused.h"

namespace um {
namespace {

using nn::Activation;
using nn::Conv2dParams;
using nn::detail::OwnConvPolicy;
using test::max_abs_diff_gpu;
using test::OwnConvPolicyScope;
using test::random_cpu;
using test::scale_of;
using test::to_cpu_f32;
using test::to_gpu;


struct GemmCase {
  std::string name;
  Shape x, w;
  Conv2dParams p;
  Activation act;
  bool patch = false;  // float16 runs the shared-memory-patch kernel (patch_conv_supported)
};

void PrintTo(const GemmCase& c, std::ostream* os) {
  *os << c.name << ": x " << shape_str(c.x) << ", w " << shape_str(c.w) << ", stride "
      << c.p.stride_h << ", pad " << c.p.pad_h << ", dilation " << c.p.dilation_h;
}

Conv2dParams dilated(int stride, int pad, int dilation) {
  Conv2dParams p = Conv2dParams::square(stride, pad);
  p.dilation_h = p.dilation_w = dilation;
  return p;
}

std::vector<GemmCase> gemm_cases() {
  return {
      // D-FINE's encoder 3x3 (64 -> 64, SiLU) at the 20x20 and 80x80 levels, and 40x40 in a
      // batch of 2 (float16: the patch kernel).
      {"encoder_3x3_64", {1, 64, 20, 20}, {64, 64, 3, 3}, Conv2dParams::square(1, 1),
       Activation::kSiLU, true},
      {"encoder_3x3_64_80x80", {1, 64, 80, 80}, {64, 64, 3, 3}, Conv2dParams::square(1, 1),
       Activation::kSiLU, true},
      {"encoder_3x3_64_batch2", {2, 64, 40, 40}, {64, 64, 3, 3}, Conv2dParams::square(1, 1),
       Activation::kReLU, true},
      // HGNetv2's 16-channel 3x3 (the 16-channel tile), ReLU.
      {"backbone_3x3_16", {1, 16, 40, 36}, {16, 16, 3, 3}, Conv2dParams::square(1, 1),
       Activation::kReLU, true},
      // Patch kernel edges: 3x3 stride 2 with five cout tiles (the last partial); a 5x5; a 1x1
      // (8-byte row copies); 7x6 images in a batch of 3 (4-byte copies, tiles of 42 pixels).
      {"patch_s2_cout130", {1, 64, 22, 26}, {130, 64, 3, 3}, Conv2dParams::square(2, 1),
       Activation::kGELU, true},
      {"patch_5x5", {1, 32, 17, 18}, {40, 32, 5, 5}, Conv2dParams::square(1, 2),
       Activation::kReLU, true},
      {"patch_1x1_32", {1, 32, 20, 20}, {48, 32, 1, 1}, Conv2dParams::square(1, 0),
       Activation::kNone, true},
      {"patch_batch3_7x6", {3, 16, 7, 6}, {24, 16, 3, 3}, Conv2dParams::square(1, 1),
       Activation::kSiLU, true},
      // HGNetv2's stem 2x2 without padding (16 -> 8), and its 3x3 stride-2 stem conv (3 -> 16).
      {"stem_2x2", {1, 16, 33, 31}, {8, 16, 2, 2}, Conv2dParams::square(1, 0), Activation::kReLU},
      {"stem_3x3_s2", {1, 3, 41, 38}, {16, 3, 3, 3}, Conv2dParams::square(2, 1),
       Activation::kReLU},
      // TinyViT's patch embedding: 3 -> 32 and 32 -> 64, 3x3 stride 2, GELU then none.
      {"patch_embed_1", {1, 3, 64, 64}, {32, 3, 3, 3}, Conv2dParams::square(2, 1),
       Activation::kGELU},
      {"patch_embed_2", {1, 32, 32, 32}, {64, 32, 3, 3}, Conv2dParams::square(2, 1),
       Activation::kNone, true},
      // Pointwise: 256 -> 80 (two channel tiles, the second partial), and stride 2.
      {"pointwise_256_80", {1, 256, 10, 9}, {80, 256, 1, 1}, Conv2dParams::square(1, 0),
       Activation::kSiLU},
      {"pointwise_s2", {1, 24, 15, 17}, {40, 24, 1, 1}, Conv2dParams::square(2, 0),
       Activation::kReLU},
      // A 1x1 WITH padding goes through the tap table (zero border).
      {"padded_1x1", {1, 12, 7, 6}, {20, 12, 1, 1}, Conv2dParams::square(1, 1),
       Activation::kNone},
      // Batch 3 of 5x7 images: pixel tiles of 64 cross image borders; 24 channels (32 tile).
      {"batch3_tiles_cross_images", {3, 10, 5, 7}, {24, 10, 3, 3}, Conv2dParams::square(1, 1),
       Activation::kGELU},
      // 5x5 stride 2 pad 2 and a dilated 3x3.
      {"k5_s2", {2, 8, 19, 23}, {130, 8, 5, 5}, Conv2dParams::square(2, 2), Activation::kSiLU},
      {"dilated_3x3", {1, 16, 21, 18}, {32, 16, 3, 3}, dilated(1, 2, 2), Activation::kReLU},
      // The largest tap table: 256 channels x 3x3 = 2304 reduction columns.
      {"table_2304", {1, 256, 9, 10}, {48, 256, 3, 3}, Conv2dParams::square(1, 1),
       Activation::kNone},
  };
}

class ImplicitGemmConvCase : public ::testing::TestWithParam<GemmCase> {};

TEST_P(ImplicitGemmConvCase, MatchesCpuInFloat32AndFloat16) {
  UM_REQUIRE_CUDA();
  const GemmCase& c = GetParam();
  const Tensor x = random_cpu(c.x, 101), w = random_cpu(c.w, 102), b = random_cpu({c.w[0]}, 103);
  const Tensor xg = to_gpu(x), wg = to_gpu(w), bg = to_gpu(b);
  ASSERT_TRUE(nn::detail::implicit_gemm_conv_supported(xg, wg, c.p)) << c.name;
  const float scale = 0.75f, shift = -0.125f;
  const Tensor ref = nn::conv2d_bias_act(x, w, b, c.p, c.act, scale, shift);
  {
    OwnConvPolicyScope own(OwnConvPolicy::kOwn);
    const Tensor y = nn::conv2d_bias_act(xg, wg, bg, c.p, c.act, scale, shift);
    EXPECT_EQ(y.dtype(), DType::kF32);
    EXPECT_LE(max_abs_diff_gpu(y, ref), 2e-5f * scale_of(ref)) << c.name << " float32";
  }
  // float16 (the patch kernel where patch_conv_supported): against the float32 reference, the reference on the rounded operands and cuDNN.
  const Tensor xh = to_gpu(x, DType::kF16), wh = to_gpu(w, DType::kF16);
  const Tensor bh = to_gpu(b, DType::kF16);
  EXPECT_EQ(nn::detail::patch_conv_supported(xh, wh, c.p), c.patch) << c.name;
  const Tensor ref_r = nn::conv2d_bias_act(to_cpu_f32(xh), to_cpu_f32(wh), to_cpu_f32(bh), c.p,
                                           c.act, scale, shift);
  Tensor own, cudnn;
  {
    OwnConvPolicyScope scope(OwnConvPolicy::kOwn);
    own = nn::conv2d_bias_act(xh, wh, bh, c.p, c.act, scale, shift);
  }
  {
    OwnConvPolicyScope scope(OwnConvPolicy::kCudnn);
    cudnn = nn::conv2d_bias_act(xh, wh, bh, c.p, c.act, scale, shift);
  }
  EXPECT_EQ(own.dtype(), DType::kF16);
  EXPECT_LE(max_abs_diff_gpu(own, ref), 2e-2f * scale_of(ref)) << c.name << " float16";
  EXPECT_LE(max_abs_diff_gpu(own, ref_r), 1e-2f * scale_of(ref_r)) << c.name << " float16";
  EXPECT_LE(max_abs_diff_gpu(own, to_cpu_f32(cudnn)), 1e-2f * scale_of(ref)) << c.name;
  if (c.patch) {  // the patch kernel itself, also where the dispatch prefers the generic one
    const Tensor y = Tensor::empty(ref.shape(), DType::kF16, Device::cuda());
    ASSERT_TRUE(nn::detail::patch_conv_f16_cuda(xh, wh, bh, c.p, c.act, scale, shift, Tensor(), y))
        << c.name;
    EXPECT_LE(max_abs_diff_gpu(y, ref_r), 1e-2f * scale_of(ref_r)) << c.name << " patch kernel";
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, ImplicitGemmConvCase, ::testing::ValuesIn(gemm_cases()),
                         [](const ::testing::TestParamInfo<GemmCase>& i) { return i.param.name; });

TEST(ImplicitGemmConv, ResidualAndNoBiasMatchCpu) {
  UM_REQUIRE_CUDA();
  OwnConvPolicyScope scope(OwnConvPolicy::kOwn);
  const Tensor x = random_cpu({2, 16, 12, 11}, 111), w = random_cpu({40, 16, 3, 3}, 112);
  const Conv2dParams p = Conv2dParams::square(1, 1);
  const Tensor r = random_cpu({2, 40, 12, 11}, 113);
  const Tensor ref = nn::conv2d_bias_act_residual(x, w, Tensor(), p, Activation::kReLU, r);
  for (const DType dt : {DType::kF32, DType::kF16}) {
    const Tensor y = nn::conv2d_bias_act_residual(to_gpu(x, dt), to_gpu(w, dt), Tensor(), p,
                                                  Activation::kReLU, to_gpu(r, dt));
    EXPECT_LE(max_abs_diff_gpu(y, ref), (dt == DType::kF32 ? 2e-5f : 2e-2f) * scale_of(ref))
        << dtype_name(dt);
  }
}

TEST(ImplicitGemmConv, WarmCallCapturesIntoACudaGraph) {
  UM_REQUIRE_CUDA();
  OwnConvPolicyScope scope(OwnConvPolicy::kOwn);
  const Tensor x = random_cpu({1, 32, 24, 20}, 121), w = random_cpu({64, 32, 3, 3}, 122);
  const Tensor b = random_cpu({64}, 123);
  const Conv2dParams p = Conv2dParams::square(1, 1);
  const Tensor ref = nn::conv2d_bias_act(x, w, b, p, Activation::kSiLU);
  const Tensor xg = to_gpu(x, DType::kF16), wg = to_gpu(w, DType::kF16);
  const Tensor bg = to_gpu(b, DType::kF16);
  test::GraphReplay replay;
  const Tensor y =
      replay.run([&] { return nn::conv2d_bias_act(xg, wg, bg, p, Activation::kSiLU); }, "conv");
  ASSERT_TRUE(replay.ok());
  EXPECT_LE(max_abs_diff_gpu(y, ref), 2e-2f * scale_of(ref));
}

// What the kernel does not take (groups, > 2304 taps, TF32 requested) is refused by
// implicit_gemm_conv_supported and still runs, on cuDNN, correctly under kOwn; a 5x5 filter of
// 2000 taps is taken.
TEST(ImplicitGemmConv, UnsupportedConvsStayOnCudnn) {
  UM_REQUIRE_CUDA();
  OwnConvPolicyScope scope(OwnConvPolicy::kOwn);
  struct Other {
    const char* name;
    Shape x, w;
    Conv2dParams p;
  };
  Conv2dParams tf32 = Conv2dParams::square(1, 1);
  tf32.allow_tf32 = true;
  const Other others[] = {
      {"grouped", {1, 16, 10, 10}, {16, 4, 3, 3}, Conv2dParams::square(1, 1, 4)},
      {"taps_2000_5x5", {1, 80, 8, 8}, {16, 80, 5, 5}, Conv2dParams::square(1, 2)},  // supported
      {"too_many_taps", {1, 257, 8, 8}, {16, 257, 3, 3}, Conv2dParams::square(1, 1)},  // 2313
      {"tf32_requested", {1, 16, 10, 10}, {16, 16, 3, 3}, tf32},
  };
  for (const Other& o : others) {
    const Tensor x = random_cpu(o.x, 131), w = random_cpu(o.w, 132), b = random_cpu({o.w[0]}, 133);
    const Tensor xg = to_gpu(x), wg = to_gpu(w);
    const bool expect_supported = std::string(o.name) == "taps_2000_5x5";
    EXPECT_EQ(nn::detail::implicit_gemm_conv_supported(xg, wg, o.p), expect_supported) << o.name;
    const Tensor ref = nn::conv2d_bias_act(x, w, b, o.p, Activation::kReLU);
    const Tensor y = nn::conv2d_bias_act(xg, wg, to_gpu(b), o.p, Activation::kReLU);
    // TF32 (allowed by the caller) is ~1e-3 relative; the others are float32-grade.
    const float tol = o.p.allow_tf32 ? 5e-3f : 1e-4f;
    EXPECT_LE(max_abs_diff_gpu(y, ref), tol * scale_of(ref)) << o.name;
  }
}

// A case of the pointwise kernel's tests: input shape, output channels, bias / residual or not,
// the activation; every case also applies the affine below.
struct PointwiseCase {
  const char* name;
  Shape x;
  int64_t cout;
  bool bias, residual;
  Activation act;
};
constexpr float kPointwiseScale = 0.75f, kPointwiseShift = -0.125f;

// conv2d_bias_act with the cases' affine, the _residual form where r is defined (either device).
Tensor pointwise_op(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& r,
                    const Conv2dParams& p, Activation act) {
  return r.defined()
             ? nn::conv2d_bias_act_residual(x, w, b, p, act, r, kPointwiseScale, kPointwiseShift)
             : nn::conv2d_bias_act(x, w, b, p, act, kPointwiseScale, kPointwiseShift);
}

// The pointwise kernel (conv2d_pointwise_cuda.cu) in float32 (3xTF32), called directly and
// through nn::conv2d_bias_act (kAuto, 3xTF32 allowed), on D-FINE's 1x1 backbone shapes (both
// pixel tile widths; up to 896 input channels = 28 pipeline chunks) and on its edges: an
// input-channel tail (36 = one 32-channel chunk + 4), a partial channel tile (40), a partial
// pixel tile (20 pixels), a batch, residual + activation + affine without bias. Bound: the
// float32 one (2e-5, top).
TEST(PointwiseConv, Float32MatchesCpuOnBackboneShapesAndEdges) {
  UM_REQUIRE_CUDA();
  const PointwiseCase cases[] = {
      {"squeeze_80x80", {1, 160, 80, 80}, 128, true, false, Activation::kReLU},
      {"excite_80x80", {1, 128, 80, 80}, 256, true, false, Activation::kReLU},
      {"light_40x40", {1, 256, 40, 40}, 64, true, false, Activation::kNone},
      {"squeeze_20x20", {1, 896, 20, 20}, 512, true, false, Activation::kReLU},
      {"edges_batch3", {3, 36, 5, 4}, 40, false, true, Activation::kGELU},
  };
  Conv2dParams p = Conv2dParams::square(1, 0);
  p.allow_split_tf32 = true;
  for (const PointwiseCase& c : cases) {
    const Tensor x = random_cpu(c.x, 151), w = random_cpu({c.cout, c.x[1], 1, 1}, 152);
    const Tensor b = c.bias ? random_cpu({c.cout}, 153) : Tensor();
    const Shape out{c.x[0], c.cout, c.x[2], c.x[3]};
    const Tensor r = c.residual ? random_cpu(out, 154) : Tensor();
    const Tensor ref = pointwise_op(x, w, b, r, p, c.act);
    const Tensor xg = to_gpu(x), wg = to_gpu(w);
    const Tensor bg = c.bias ? to_gpu(b) : Tensor(), rg = c.residual ? to_gpu(r) : Tensor();
    ASSERT_TRUE(nn::detail::pointwise_conv_supported(xg, wg, p)) << c.name;
    EXPECT_TRUE(nn::detail::implicit_gemm_conv_preferred(xg, wg, p)) << c.name;
    const Tensor y = Tensor::empty(out, DType::kF32, Device::cuda());
    ASSERT_TRUE(nn::detail::pointwise_conv_cuda(xg, wg, bg, c.act, kPointwiseScale,
                                                kPointwiseShift, rg, y))
        << c.name;
    EXPECT_LE(max_abs_diff_gpu(y, ref), 2e-5f * scale_of(ref)) << c.name << " direct";
    const Tensor z = pointwise_op(xg, wg, bg, rg, p, c.act);
    EXPECT_LE(max_abs_diff_gpu(z, ref), 2e-5f * scale_of(ref)) << c.name << " conv2d_bias_act";
  }
}

// The same kernel in float16, on D-FINE's encoder 1x1 shapes (input projections up to 1024
// input channels = 16 pipeline chunks, the ELAN/CSP 1x1s with SiLU, both pixel tile widths) and
// on its edges: an input-channel tail (72 = one 64-channel chunk + 8), a partial channel tile
// (40), a partial pixel tile (24 pixels), a batch, residual + activation + affine without bias.
// Against the float32 reference on the half-rounded operands: float32 accumulation and one
// rounding of the output leave ~5e-4 of the output scale, so the bound 2e-3 holds, where
// half-precision sums over 1024 channels (~1e-2) would not. Through nn::conv2d_bias_act under
// kOwn (kAuto leaves these sizes to cuDNN: measured faster there).
TEST(PointwiseConv, Float16MatchesCpuOnEncoderShapesAndEdges) {
  UM_REQUIRE_CUDA();
  const PointwiseCase cases[] = {
      {"input_proj_80x80", {1, 256, 80, 80}, 256, true, false, Activation::kNone},
      {"input_proj_20x20", {1, 1024, 20, 20}, 256, true, false, Activation::kNone},
      {"elan_40x40", {1, 512, 40, 40}, 256, true, false, Activation::kSiLU},
      {"csp_20x20", {1, 128, 20, 20}, 64, true, false, Activation::kSiLU},
      {"edges_batch3", {3, 72, 4, 6}, 40, false, true, Activation::kGELU},
  };
  const Conv2dParams p = Conv2dParams::square(1, 0);
  for (const PointwiseCase& c : cases) {
    const Shape out{c.x[0], c.cout, c.x[2], c.x[3]};
    const Tensor xh = to_gpu(random_cpu(c.x, 171), DType::kF16);
    const Tensor wh = to_gpu(random_cpu({c.cout, c.x[1], 1, 1}, 172), DType::kF16);
    const Tensor bh = c.bias ? to_gpu(random_cpu({c.cout}, 173), DType::kF16) : Tensor();
    const Tensor rh = c.residual ? to_gpu(random_cpu(out, 174), DType::kF16) : Tensor();
    const Tensor x = to_cpu_f32(xh), w = to_cpu_f32(wh);
    const Tensor b = c.bias ? to_cpu_f32(bh) : Tensor(), r = c.residual ? to_cpu_f32(rh) : Tensor();
    const Tensor ref = pointwise_op(x, w, b, r, p, c.act);
    ASSERT_TRUE(nn::detail::pointwise_conv_supported(xh, wh, p)) << c.name;
    EXPECT_FALSE(nn::detail::implicit_gemm_conv_preferred(xh, wh, p)) << c.name;
    const Tensor y = Tensor::empty(out, DType::kF16, Device::cuda());
    ASSERT_TRUE(nn::detail::pointwise_conv_cuda(xh, wh, bh, c.act, kPointwiseScale,
                                                kPointwiseShift, rh, y))
        << c.name;
    EXPECT_LE(max_abs_diff_gpu(y, ref), 2e-3f * scale_of(ref)) << c.name << " direct";
    OwnConvPolicyScope own(OwnConvPolicy::kOwn);
    const Tensor z = pointwise_op(xh, wh, bh, rh, p, c.act);
    EXPECT_EQ(z.dtype(), DType::kF16);
    EXPECT_LE(max_abs_diff_gpu(z, ref), 2e-3f * scale_of(ref)) << c.name << " conv2d_bias_act";
  }
}

// What the pointwise kernel refuses (Cin or H * W not a whole number of 16 bytes, stride,
// padding, a 3x3, groups) goes elsewhere; float32 without allow_split_tf32 keeps cuDNN's FFMA
// under kAuto even where the kernel would run it; a misaligned operand is refused at the call.
TEST(PointwiseConv, TakesOnlyPlainOneByOnes) {
  UM_REQUIRE_CUDA();
  auto sup = [](const Shape& x, const Shape& w, const Conv2dParams& p, DType dt = DType::kF32) {
    return nn::detail::pointwise_conv_supported(to_gpu(random_cpu(x, 161), dt),
                                                to_gpu(random_cpu(w, 162), dt), p);
  };
  const Conv2dParams one = Conv2dParams::square(1, 0);
  EXPECT_TRUE(sup({1, 16, 4, 5}, {8, 16, 1, 1}, one));
  EXPECT_FALSE(sup({1, 18, 4, 5}, {8, 18, 1, 1}, one));   // Cin % 4
  EXPECT_FALSE(sup({1, 16, 5, 5}, {8, 16, 1, 1}, one));   // H * W % 4
  EXPECT_FALSE(sup({1, 16, 8, 8}, {8, 16, 1, 1}, Conv2dParams::square(2, 0)));
  EXPECT_FALSE(sup({1, 16, 8, 8}, {8, 16, 1, 1}, Conv2dParams::square(1, 1)));
  EXPECT_FALSE(sup({1, 16, 8, 8}, {8, 16, 3, 3}, Conv2dParams::square(1, 1)));
  EXPECT_FALSE(sup({1, 16, 8, 8}, {8, 4, 1, 1}, Conv2dParams::square(1, 0, 4)));
  // float16 units are 8 halfs.
  EXPECT_TRUE(sup({1, 16, 4, 6}, {8, 16, 1, 1}, one, DType::kF16));
  EXPECT_FALSE(sup({1, 12, 4, 6}, {8, 12, 1, 1}, one, DType::kF16));  // Cin % 8
  EXPECT_FALSE(sup({1, 16, 4, 5}, {8, 16, 1, 1}, one, DType::kF16));  // H * W % 8
  const Tensor x = to_gpu(random_cpu({1, 64, 20, 20}, 163)), w = to_gpu(random_cpu({32, 64, 1, 1}, 164));
  EXPECT_FALSE(nn::detail::implicit_gemm_conv_preferred(x, w, one));
  // float16 1x1s it supports stay with cuDNN under kAuto at every size (measured faster); one
  // of 64 input channels up to 64x64 pixels is the patch kernel's.
  const Tensor w128 = to_gpu(random_cpu({32, 128, 1, 1}, 165), DType::kF16);
  EXPECT_FALSE(nn::detail::implicit_gemm_conv_preferred(
      to_gpu(random_cpu({1, 128, 20, 20}, 166), DType::kF16), w128, one));
  EXPECT_FALSE(nn::detail::implicit_gemm_conv_preferred(
      to_gpu(random_cpu({1, 128, 160, 160}, 167), DType::kF16), w128, one));
  EXPECT_TRUE(nn::detail::implicit_gemm_conv_preferred(x.to(DType::kF16), w.to(DType::kF16), one));
  // An output view 2 bytes into its buffer: refused, nothing queued.
  const Tensor xh = x.to(DType::kF16), wh = w.to(DType::kF16);
  const Tensor buf = Tensor::empty({1 + 32 * 20 * 20}, DType::kF16, Device::cuda());
  const Tensor shifted = buf.slice(0, 1, 1 + 32 * 20 * 20).reshape({1, 32, 20, 20});
  EXPECT_FALSE(nn::detail::pointwise_conv_cuda(xh, wh, Tensor(), Activation::kNone, 1.f, 0.f,
                                               Tensor(), shifted));
}

// kAuto's choice: float16 convs the patch kernel supports up to 64x64 output pixels, and other
// float16 and opted-in float32 convs with >= 160x160, take the own kernels; the rest and plain
// float32 (exact FFMA wanted) keep cuDNN.
TEST(ImplicitGemmConv, AutoPicksLargeOutputsAndOptedInFloat32) {
  UM_REQUIRE_CUDA();
  const Tensor w = to_gpu(random_cpu({16, 16, 3, 3}, 141));
  const Tensor big = to_gpu(random_cpu({1, 16, 160, 160}, 142));
  const Tensor small = to_gpu(random_cpu({1, 16, 80, 80}, 143));
  Conv2dParams exact = Conv2dParams::square(1, 1), split = exact;
  split.allow_split_tf32 = true;
  EXPECT_FALSE(nn::detail::implicit_gemm_conv_preferred(big, w, exact));
  EXPECT_TRUE(nn::detail::implicit_gemm_conv_preferred(big, w, split));
  EXPECT_FALSE(nn::detail::implicit_gemm_conv_preferred(small, w, split));
  EXPECT_TRUE(nn::detail::implicit_gemm_conv_preferred(big.to(DType::kF16), w.to(DType::kF16),
                                                       exact));
  // float16 convs the patch kernel supports take it up to 64x64 pixels (80x80: cuDNN); others
  // need 160x160.
  EXPECT_FALSE(nn::detail::implicit_gemm_conv_preferred(small.to(DType::kF16), w.to(DType::kF16),
                                                        exact));
  const Tensor tiny = to_gpu(random_cpu({1, 16, 40, 40}, 147), DType::kF16);
  EXPECT_TRUE(nn::detail::implicit_gemm_conv_preferred(tiny, w.to(DType::kF16), exact));
  const Tensor w24 = to_gpu(random_cpu({16, 24, 3, 3}, 145), DType::kF16);
  EXPECT_FALSE(nn::detail::implicit_gemm_conv_preferred(
      to_gpu(random_cpu({1, 24, 80, 80}, 146), DType::kF16), w24, exact));
  // The opted-in float32 conv runs (on the own kernel) within the float32 bound.
  const Tensor x = random_cpu({1, 16, 160, 160}, 144), wc = random_cpu({16, 16, 3, 3}, 141);
  const Tensor ref = nn::conv2d_bias_act(x, wc, Tensor(), split, Activation::kReLU);
  const Tensor y = nn::conv2d_bias_act(to_gpu(x), w, Tensor(), split, Activation::kReLU);
  EXPECT_LE(max_abs_diff_gpu(y, ref), 2e-5f * scale_of(ref));
}

}  // namespace
}  // namespace um
