// Top-k (stable ties) and gather_rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "core/status.h"
#include "nn/ops.h"
#include "nn_test_util.h"

namespace um::nn {
namespace {

TEST(Topk, SortedDescendingWithLowerIndexFirstOnTies) {
  const Tensor x = Tensor::from_vector({0.5f, 2.f, 0.5f, 3.f, 2.f, -1.f, 0.5f}, {1, 7});
  auto [v, i] = topk(x, 5);
  const float wv[] = {3.f, 2.f, 2.f, 0.5f, 0.5f};
  const int64_t wi[] = {3, 1, 4, 0, 2};
  for (int k = 0; k < 5; ++k) {
    EXPECT_EQ(v.data<float>()[k], wv[k]);
    EXPECT_EQ(i.data<int64_t>()[k], wi[k]);
  }
  EXPECT_THROW((void)topk(x, 8), Error);
}

TEST(Topk, RandomRowsMatchFullSort) {
  const Tensor x = test::random_tensor({3, 101}, 3);
  auto [v, idx] = topk(x, 17);
  for (int64_t r = 0; r < 3; ++r) {
    std::vector<int64_t> order(101);
    std::iota(order.begin(), order.end(), 0);
    const float* row = x.data<float>() + r * 101;
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return row[a] > row[b]; });
    for (int k = 0; k < 17; ++k) {
      EXPECT_EQ(idx.data<int64_t>()[r * 17 + k], order[k]);
      EXPECT_EQ(v.data<float>()[r * 17 + k], row[order[k]]);
    }
  }
}

TEST(GatherRows, GathersAlongDimWithBroadcastIndex) {
  const Tensor x = test::random_tensor({2, 5, 3}, 4);
  Tensor index = Tensor::empty({2, 2}, DType::kI64);
  const int64_t iv[] = {4, 0, 1, 1};
  std::copy(iv, iv + 4, index.data<int64_t>());
  const Tensor y = gather_rows(x, index, 1);
  ASSERT_EQ(y.shape(), (Shape{2, 2, 3}));
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t k = 0; k < 2; ++k)
      for (int64_t c = 0; c < 3; ++c)
        EXPECT_EQ(y.data<float>()[(b * 2 + k) * 3 + c], x.data<float>()[(b * 5 + iv[b * 2 + k]) * 3 + c]);
  // An index of leading size 1 applies to every batch.
  const Tensor y1 = gather_rows(x, index.slice(0, 1, 2), 1);
  EXPECT_EQ(y1.data<float>()[(1 * 2 + 0) * 3 + 2], x.data<float>()[(1 * 5 + 1) * 3 + 2]);
  index.data<int64_t>()[0] = 5;
  EXPECT_THROW((void)gather_rows(x, index, 1), Error);
  EXPECT_THROW((void)gather_rows(x, Tensor::empty({2, 2}), 1), Error);  // float index
}

}  // namespace
}  // namespace um::nn
