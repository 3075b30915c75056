// GPU test of nn::distribution_box (src/nn/fdr_box_cuda.cu: one warp per query, the 4 edges'
// softmax integrals then the box) against the CPU op (exactly distribution_integral then
// distance2bbox): D-FINE-S's shape (300 queries, 33 bins), the maximum bin count, a single bin,
// thousands of queries (many blocks), a strided corners view, bad arguments.
// Tolerance: float32 throughout; expf vs std::exp and the summation order differ: 1e-5 of the
// boxes' scale (max(1, max |ref|)).
#include <gtest/gtest.h>

#include <vector>

#include "core/status.h"
#include "cuda_test_support.h"
#include "nn/ops_dfine.h"

namespace um {
namespace {

using test::random_cpu;
using test::to_gpu;

constexpr float kTol = 1e-5f;

std::vector<float> ramp(int bins) {
  std::vector<float> w(static_cast<size_t>(bins));
  for (int i = 0; i < bins; ++i) w[i] = -4.f + 8.f * static_cast<float>(i) / (bins - 1);
  return w;
}

TEST(DistributionBoxCuda, MatchesCpu) {
  UM_REQUIRE_CUDA();
  struct Case {
    int64_t b, q;
    int bins;
  };
  for (const Case& c : {Case{1, 300, 33}, Case{2, 7, nn::kMaxFdrBins}, Case{1, 5000, 17},
                        Case{1, 3, 1}}) {
    SCOPED_TRACE(std::to_string(c.q) + " queries, " + std::to_string(c.bins) + " bins");
    const std::vector<float> w = ramp(c.bins < 2 ? 2 : c.bins);
    const std::vector<float> wb(w.begin(), w.begin() + c.bins);
    const Tensor corners = random_cpu({c.b, c.q, 4 * c.bins}, 1, -6.f, 6.f);
    const Tensor points = random_cpu({c.b, c.q, 4}, 2, 0.05f, 0.95f);
    EXPECT_GPU_NEAR(nn::distribution_box(to_gpu(corners), wb, to_gpu(points), 4.f),
                    nn::distribution_box(corners, wb, points, 4.f), kTol);
    // A negative reg_scale is used as |reg_scale|, as distance2bbox does.
    EXPECT_GPU_NEAR(nn::distribution_box(to_gpu(corners), wb, to_gpu(points), -2.f),
                    nn::distribution_box(corners, wb, points, -2.f), kTol);
  }
  // Corners as a slice of a wider tensor (made contiguous by the op).
  const std::vector<float> w = ramp(33);
  const Tensor wide = random_cpu({1, 10, 4 * 33 + 5}, 3, -6.f, 6.f);
  const Tensor points = random_cpu({1, 10, 4}, 4, 0.05f, 0.95f);
  const Tensor cg = to_gpu(wide).slice(2, 5, 5 + 4 * 33);
  ASSERT_FALSE(cg.is_contiguous());
  EXPECT_GPU_NEAR(nn::distribution_box(cg, w, to_gpu(points), 4.f),
                  nn::distribution_box(wide.slice(2, 5, 5 + 4 * 33), w, points, 4.f), kTol);
}

TEST(DistributionBoxCuda, RejectsBadArguments) {
  UM_REQUIRE_CUDA();
  const std::vector<float> w = ramp(9);
  const Tensor corners = to_gpu(random_cpu({1, 3, 36}, 5));
  const Tensor points = to_gpu(random_cpu({1, 3, 4}, 6));
  EXPECT_THROW((void)nn::distribution_box(corners, w, random_cpu({1, 3, 4}, 7), 4.f), Error);
  EXPECT_THROW((void)nn::distribution_box(corners.to(DType::kF16), w, points, 4.f), Error);
  EXPECT_THROW((void)nn::distribution_box(corners, ramp(8), points, 4.f), Error);
}

}  // namespace
}  // namespace um
