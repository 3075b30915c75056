// GPU tests of the decoder's mixed-precision fusions (nn/ops_dfine.h; src/nn/dfine_mixed_cuda.cu)
// against the CPU ops (exactly the unfused float32 sequences): add_mixed / add_mixed2,
// add_layer_norm and gated_sum / gated_sum_layer_norm with every float32/float16 combination of
// operands and output, the clamped sums, strided operands, D-FINE-S's decoder shape
// ([1, 300, 256]), widths that are not a multiple of the block and more rows than one grid
// covers, bad arguments, and no host synchronisation.
// Tolerances: inputs are float16-rounded on both sides where the GPU gets float16, so only the
// float32 arithmetic order (and expf vs std::exp) differs: float32 results 1e-5 of the output's
// scale (1e-4 through the LayerNorm's statistics); a float16 result is rounded once (unit
// roundoff 4.9e-4): 2e-3 of the scale. add_mixed's sum is one float32 addition on both sides:
// bit-exact, float16 output included (both round to nearest even).
#include <gtest/gtest.h>

#include <string>

#include "core/cuda/cuda_runtime.h"
#include "core/cuda/stream_context.h"
#include "core/status.h"
#include "cuda_test_support.h"
#include "nn/ops.h"
#include "nn/ops_dfine.h"

namespace um {
namespace {

using test::f16_rounded;
using test::max_abs_diff_gpu;
using test::random_cpu;
using test::to_gpu;

constexpr float kF32Tol = 1e-5f;
constexpr float kF32NormTol = 1e-4f;
constexpr float kF16Tol = 2e-3f;

const DType kDtypes[] = {DType::kF32, DType::kF16};

// The CPU view of what the GPU gets in dtype d: float16-rounded when d is float16.
Tensor as_seen(const Tensor& t, DType d) { return d == DType::kF16 ? f16_rounded(t) : t; }

TEST(DfineMixedCuda, AddMixedAllDtypes) {
  UM_REQUIRE_CUDA();
  const Tensor a = random_cpu({1, 300, 256}, 1, -3.f, 3.f);
  const Tensor b = random_cpu({1, 300, 256}, 2, -10.f, 10.f);
  for (DType da : kDtypes)
    for (DType db : kDtypes)
      for (DType dout : kDtypes) {
        SCOPED_TRACE(std::string("a ") + dtype_name(da) + ", b " + dtype_name(db) + ", out " +
                     dtype_name(dout));
        const Tensor y = nn::add_mixed(to_gpu(as_seen(a, da), da), to_gpu(as_seen(b, db), db),
                                       dout);
        EXPECT_EQ(y.dtype(), dout);
        const Tensor ref = nn::add_mixed(as_seen(a, da), as_seen(b, db), dout).to(DType::kF32);
        EXPECT_EQ(max_abs_diff_gpu(y, ref), 0.f);
      }
}

TEST(DfineMixedCuda, AddMixedStrided) {
  UM_REQUIRE_CUDA();
  const Tensor base = random_cpu({2, 16, 30}, 3), b = random_cpu({2, 30, 16}, 4);
  const Tensor at = to_gpu(f16_rounded(base), DType::kF16).transpose(1, 2);  // [2, 30, 16]
  ASSERT_FALSE(at.is_contiguous());
  const Tensor ref = nn::add_mixed(f16_rounded(base).transpose(1, 2), b, DType::kF32);
  EXPECT_EQ(max_abs_diff_gpu(nn::add_mixed(at, to_gpu(b), DType::kF32), ref), 0.f);
  EXPECT_EQ(max_abs_diff_gpu(nn::add_mixed(to_gpu(b), at, DType::kF32), ref), 0.f);
}

TEST(DfineMixedCuda, AddMixed2BothOutputs) {
  UM_REQUIRE_CUDA();
  const Tensor t = f16_rounded(random_cpu({1, 300, 256}, 5, -3.f, 3.f));
  const Tensor pos = random_cpu({1, 300, 256}, 6, -10.f, 10.f);
  for (DType d2 : kDtypes) {
    SCOPED_TRACE(dtype_name(d2));
    const auto [y32, y2] = nn::add_mixed2(to_gpu(t, DType::kF16), to_gpu(pos), DType::kF32, d2);
    EXPECT_EQ(y32.dtype(), DType::kF32);
    EXPECT_EQ(y2.dtype(), d2);
    const auto [r32, r2] = nn::add_mixed2(t, pos, DType::kF32, d2);
    EXPECT_EQ(max_abs_diff_gpu(y32, r32), 0.f);
    EXPECT_EQ(max_abs_diff_gpu(y2, r2.to(DType::kF32)), 0.f);
  }
  // The clamped form (the decoder's pos, clamped to [-10, 10] inside the sums): pos in [-20, 20]
  // so the clamp matters; same exact sums.
  const Tensor wide = random_cpu({1, 300, 256}, 8, -20.f, 20.f);
  const auto [c32, c16] = nn::add_mixed2(to_gpu(t, DType::kF16), to_gpu(wide), DType::kF32,
                                         DType::kF16, -10.f, 10.f);
  const auto [w32, w16] = nn::add_mixed2(t, wide, DType::kF32, DType::kF16, -10.f, 10.f);
  EXPECT_EQ(max_abs_diff_gpu(c32, w32), 0.f);
  EXPECT_EQ(max_abs_diff_gpu(c16, w16.to(DType::kF32)), 0.f);
  EXPECT_EQ(max_abs_diff_gpu(
                nn::add_mixed(to_gpu(t, DType::kF16), to_gpu(wide), DType::kF16, -10.f, 10.f),
                nn::add_mixed(t, wide, DType::kF16, -10.f, 10.f).to(DType::kF32)),
            0.f);
  EXPECT_GT(max_abs_diff_gpu(c32, nn::add_mixed(t, wide, DType::kF32)), 1.f);  // it clamped
  EXPECT_THROW((void)nn::add_mixed2(to_gpu(t), to_gpu(random_cpu({1, 300, 255}, 7)),
                                    DType::kF32, DType::kF16),
               Error);
}

TEST(DfineMixedCuda, AddLayerNormAllDtypes) {
  UM_REQUIRE_CUDA();
  const Tensor a = random_cpu({1, 300, 256}, 8, -3.f, 3.f);
  const Tensor b = random_cpu({1, 300, 256}, 9, -3.f, 3.f);
  const Tensor w = random_cpu({256}, 13, 0.5f, 1.5f), bias = random_cpu({256}, 14);
  for (DType dx : kDtypes)
    for (DType dout : kDtypes) {
      SCOPED_TRACE(std::string("x ") + dtype_name(dx) + ", out " + dtype_name(dout));
      const Tensor as = as_seen(a, dx), bs = as_seen(b, DType::kF16);  // b always float16
      const Tensor ws = as_seen(w, dx), biass = as_seen(bias, dx);
      const Tensor y = nn::add_layer_norm(to_gpu(as, dx), to_gpu(bs, DType::kF16),
                                          to_gpu(ws, dx), to_gpu(biass, dx), 1e-5f, dout);
      EXPECT_EQ(y.dtype(), dout);
      EXPECT_GPU_NEAR(y, nn::add_layer_norm(as, bs, ws, biass, 1e-5f, DType::kF32),
                      dout == DType::kF16 ? kF16Tol : kF32NormTol);
    }
  // Odd widths, no affine, more rows than one grid.
  for (const Shape& s : {Shape{3, 5}, Shape{7, 300}, Shape{70000, 8}}) {
    SCOPED_TRACE(shape_str(s));
    const Tensor x = random_cpu(s, 15), y = random_cpu(s, 16);
    EXPECT_GPU_NEAR(nn::add_layer_norm(to_gpu(x), to_gpu(y), Tensor(), Tensor(), 1e-5f,
                                       DType::kF32),
                    nn::add_layer_norm(x, y, Tensor(), Tensor(), 1e-5f, DType::kF32),
                    kF32NormTol);
  }
  EXPECT_THROW((void)nn::add_layer_norm(to_gpu(a), to_gpu(b), to_gpu(random_cpu({255}, 17)),
                                        Tensor(), 1e-5f, DType::kF32),
               Error);
  EXPECT_THROW((void)nn::add_layer_norm(to_gpu(a), b, Tensor(), Tensor(), 1e-5f, DType::kF32),
               Error);  // b on the CPU
}

TEST(DfineMixedCuda, GatedSumAllDtypes) {
  UM_REQUIRE_CUDA();
  const Tensor g = random_cpu({1, 300, 512}, 10, -5.f, 5.f);
  const Tensor x1 = random_cpu({1, 300, 256}, 11, -3.f, 3.f);
  const Tensor x2 = random_cpu({1, 300, 256}, 12, -3.f, 3.f);
  const Tensor w = random_cpu({256}, 13, 0.5f, 1.5f), bias = random_cpu({256}, 14);
  for (DType dg : kDtypes)
    for (DType dx : kDtypes)
      for (DType dout : kDtypes) {
        SCOPED_TRACE(std::string("g ") + dtype_name(dg) + ", x " + dtype_name(dx) + ", out " +
                     dtype_name(dout));
        const Tensor gs = as_seen(g, dg), x1s = as_seen(x1, dx), x2s = as_seen(x2, dx);
        const Tensor gg = to_gpu(gs, dg), x1g = to_gpu(x1s, dx), x2g = to_gpu(x2s, dx);
        const bool half = dout == DType::kF16;
        const Tensor y = nn::gated_sum(gg, x1g, x2g, dout);
        EXPECT_EQ(y.dtype(), dout);
        EXPECT_GPU_NEAR(y, nn::gated_sum(gs, x1s, x2s, DType::kF32), half ? kF16Tol : kF32Tol);
        // The LayerNorm's parameters in the weight dtype the model uses (the compute dtype).
        const Tensor ws = as_seen(w, dx), bs = as_seen(bias, dx);
        const Tensor n = nn::gated_sum_layer_norm(gg, x1g, x2g, to_gpu(ws, dx), to_gpu(bs, dx),
                                                  1e-5f, dout);
        EXPECT_EQ(n.dtype(), dout);
        EXPECT_GPU_NEAR(n, nn::gated_sum_layer_norm(gs, x1s, x2s, ws, bs, 1e-5f, DType::kF32),
                        half ? kF16Tol : kF32NormTol);
      }
}

TEST(DfineMixedCuda, GatedSumShapesAndStrides) {
  UM_REQUIRE_CUDA();
  // Widths below one warp, not a multiple of the 256-thread block, and above it; more rows
  // than one grid (65535 blocks) covers; no affine; a mixed float32 weight with float16 data.
  struct Case {
    Shape lead;
    int64_t e;
  };
  for (const Case& c : {Case{{3, 7}, 5}, Case{{2, 11}, 300}, Case{{70000}, 8}}) {
    Shape xs = c.lead, gsh = c.lead;
    xs.push_back(c.e);
    gsh.push_back(2 * c.e);
    SCOPED_TRACE(shape_str(xs));
    const Tensor g = random_cpu(gsh, 20, -4.f, 4.f), x1 = random_cpu(xs, 21);
    const Tensor x2 = f16_rounded(random_cpu(xs, 22));
    const Tensor w = random_cpu({c.e}, 23, 0.5f, 1.5f);
    EXPECT_GPU_NEAR(nn::gated_sum(to_gpu(g), to_gpu(x1), to_gpu(x2, DType::kF16), DType::kF32),
                    nn::gated_sum(g, x1, x2, DType::kF32), kF32Tol);
    EXPECT_GPU_NEAR(nn::gated_sum_layer_norm(to_gpu(g), to_gpu(x1), to_gpu(x2, DType::kF16),
                                             Tensor(), Tensor(), 1e-5f, DType::kF32),
                    nn::gated_sum_layer_norm(g, x1, x2, Tensor(), Tensor(), 1e-5f, DType::kF32),
                    kF32NormTol);
    EXPECT_GPU_NEAR(nn::gated_sum_layer_norm(to_gpu(g), to_gpu(x1), to_gpu(x2, DType::kF16),
                                             to_gpu(w), Tensor(), 1e-5f, DType::kF16),
                    nn::gated_sum_layer_norm(g, x1, x2, w, Tensor(), 1e-5f, DType::kF32), kF16Tol);
  }
  // Strided x1 (a transposed view) and the gate logits as a slice of a wider tensor.
  const Tensor x1b = random_cpu({2, 16, 9}, 30), x2 = random_cpu({2, 9, 16}, 31);
  const Tensor gw = random_cpu({2, 9, 40}, 32, -4.f, 4.f);
  const Tensor x1g = to_gpu(x1b).transpose(1, 2), gg = to_gpu(gw).slice(2, 4, 36);
  ASSERT_FALSE(x1g.is_contiguous());
  ASSERT_FALSE(gg.is_contiguous());
  EXPECT_GPU_NEAR(nn::gated_sum(gg, x1g, to_gpu(x2), DType::kF32),
                  nn::gated_sum(gw.slice(2, 4, 36), x1b.transpose(1, 2), x2, DType::kF32),
                  kF32Tol);
}

TEST(DfineMixedCuda, RejectsBadArguments) {
  UM_REQUIRE_CUDA();
  const Tensor g = to_gpu(random_cpu({2, 5, 8}, 40)), x1 = to_gpu(random_cpu({2, 5, 4}, 41));
  const Tensor x2 = to_gpu(random_cpu({2, 5, 4}, 42));
  EXPECT_THROW((void)nn::gated_sum(to_gpu(random_cpu({2, 5, 6}, 43)), x1, x2, DType::kF32),
               Error);
  EXPECT_THROW((void)nn::gated_sum(g, random_cpu({2, 5, 4}, 44), x2, DType::kF32), Error);
  EXPECT_THROW((void)nn::gated_sum(g, x1, x2, DType::kI64), Error);
  EXPECT_THROW((void)nn::gated_sum_layer_norm(g, x1, x2, random_cpu({4}, 45), Tensor(), 1e-5f,
                                              DType::kF32),
               Error);  // a CPU weight
  EXPECT_THROW((void)nn::gated_sum_layer_norm(g, x1, x2, to_gpu(random_cpu({5}, 46)), Tensor(),
                                              1e-5f, DType::kF32),
               Error);
  const Tensor wide = to_gpu(random_cpu({1, 9000}, 47));
  EXPECT_THROW((void)nn::gated_sum(to_gpu(random_cpu({1, 18000}, 48)), wide, wide, DType::kF32),
               Error);  // E above the kernel's shared-memory row
  EXPECT_THROW((void)nn::add_mixed(x1, random_cpu({2, 5, 4}, 49), DType::kF32), Error);
  EXPECT_THROW((void)nn::add_mixed(x1, to_gpu(random_cpu({2, 5, 3}, 50)), DType::kF32), Error);
}

TEST(DfineMixedCuda, NoHostSync) {
  UM_REQUIRE_CUDA();
  const Tensor g = to_gpu(random_cpu({1, 300, 512}, 60), DType::kF16);
  const Tensor x1 = to_gpu(random_cpu({1, 300, 256}, 61), DType::kF16);
  const Tensor x2 = to_gpu(random_cpu({1, 300, 256}, 62), DType::kF16);
  const Tensor w = to_gpu(random_cpu({256}, 63), DType::kF16);
  const Tensor pos = to_gpu(random_cpu({1, 300, 256}, 64));
  cuda::synchronize(cuda::current_stream());
  const uint64_t syncs = cuda::host_sync_count();
  const Tensor a = nn::add_mixed(x1, pos, DType::kF16);
  const Tensor b = nn::gated_sum_layer_norm(g, x1, x2, w, w, 1e-5f, DType::kF16);
  const Tensor c = nn::gated_sum(g, x1, x2, DType::kF32);
  EXPECT_EQ(cuda::host_sync_count(), syncs) << "a mixed-precision fusion synchronised the host";
  cuda::synchronize(cuda::current_stream());
}

}  // namespace
}  // namespace um
