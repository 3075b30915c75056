// nn::distribution_box (nn/ops_dfine.h) on the CPU: exactly distance2bbox(points,
// distribution_integral(corners, project), reg_scale), bit for bit, plus a hand-checked case
// (one-hot distributions); bad arguments refused with um::Error. The CUDA kernel is checked
// against this op in tests/cuda/fdr_box_cuda_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/status.h"
#include "nn/ops_dfine.h"
#include "nn_test_util.h"

namespace um::nn {
namespace {

using test::random_tensor;

std::vector<float> ramp(int bins) {
  std::vector<float> w(static_cast<size_t>(bins));
  for (int i = 0; i < bins; ++i) w[i] = -4.f + 8.f * static_cast<float>(i) / (bins - 1);
  return w;
}

TEST(DistributionBox, IsExactlyIntegralThenDistanceToBox) {
  const std::vector<float> w = ramp(33);
  const Tensor corners = random_tensor({2, 7, 4 * 33}, 1, -5.f, 5.f);
  const Tensor points = random_tensor({2, 7, 4}, 2, 0.1f, 0.9f);
  const Tensor got = distribution_box(corners, w, points, 4.f);
  const Tensor want = distance2bbox(points, distribution_integral(corners, w), 4.f);
  ASSERT_EQ(got.shape(), want.shape());
  EXPECT_EQ(std::memcmp(got.data<float>(), want.data<float>(), want.nbytes()), 0);
}

TEST(DistributionBox, OneHotDistributions) {
  // Every edge's distribution peaked (logit 100) on bin 16 of a ramp whose bin 16 is 0: the
  // distances are ~0, so the box is the point's cxcywh itself.
  const std::vector<float> w = ramp(33);
  Tensor corners = Tensor::zeros({1, 1, 4 * 33});
  for (int e = 0; e < 4; ++e) corners.data<float>()[e * 33 + 16] = 100.f;
  const Tensor points = Tensor::from_vector({0.5f, 0.4f, 0.2f, 0.1f}, {1, 1, 4});
  const Tensor box = distribution_box(corners, w, points, 4.f);
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(box.data<float>()[k], points.data<float>()[k], 1e-6f);
}

TEST(DistributionBox, RejectsBadArguments) {
  const std::vector<float> w = ramp(9);
  const Tensor corners = random_tensor({1, 3, 36}, 3), points = random_tensor({1, 3, 4}, 4);
  EXPECT_THROW((void)distribution_box(random_tensor({1, 3, 35}, 5), w, points, 4.f), Error);
  EXPECT_THROW((void)distribution_box(corners, w, random_tensor({1, 2, 4}, 6), 4.f), Error);
  EXPECT_THROW((void)distribution_box(corners, {}, points, 4.f), Error);
  EXPECT_THROW((void)distribution_box(corners.to(DType::kF16), w, points, 4.f), Error);
  EXPECT_THROW((void)distribution_box(Tensor(), w, points, 4.f), Error);
  try {
    (void)distribution_box(corners, w, random_tensor({1, 3, 5}, 7), 4.f);
    FAIL() << "bad points were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("points"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace um::nn
