// layer_norm_add on the CPU (src/nn/layer_norm_add_cpu.cpp): {layer_norm(x), layer_norm(x) +
// addend}, bit for bit the two ops the SAM transformer ran before the fusion, also for strided
// operands and without affine parameters; bad arguments refused with um::Error naming them. The
// CUDA kernel is checked against this op in tests/cuda/layer_norm_add_cuda_test.cpp.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "core/status.h"
#include "nn/ops.h"
#include "nn/ops_layer_norm_add.h"
#include "nn_test_util.h"

namespace um::nn {
namespace {

using test::bit_identical;
using test::random_tensor;

void expect_exact(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& addend,
                  const std::string& what) {
  SCOPED_TRACE(what);
  const auto [y, z] = layer_norm_add(x, w, b, 1e-5f, addend);
  const Tensor ref_y = layer_norm(x, w, b, 1e-5f);
  EXPECT_TRUE(y.is_contiguous() && z.is_contiguous());
  EXPECT_TRUE(bit_identical(y, ref_y));
  EXPECT_TRUE(bit_identical(z, add(ref_y, addend)));
  EXPECT_FALSE(bit_identical(y, z));  // the addend really was added
}

TEST(LayerNormAdd, IsExactlyLayerNormThenAdd) {
  // SAM's queries [1, 7, 256] + query_pe and keys [1, 4096, 256] + key_pe.
  const Tensor w = random_tensor({256}, 1), b = random_tensor({256}, 2);
  expect_exact(random_tensor({1, 7, 256}, 3, -3.f, 3.f), w, b, random_tensor({1, 7, 256}, 4),
               "queries");
  expect_exact(random_tensor({1, 4096, 256}, 5, -3.f, 3.f), w, b, random_tensor({1, 4096, 256}, 6),
               "keys");
  // Odd width, no affine parameters, a 1-D input.
  expect_exact(random_tensor({5, 13}, 7), Tensor(), Tensor(), random_tensor({5, 13}, 8),
               "no affine");
  expect_exact(random_tensor({13}, 9), random_tensor({13}, 10), Tensor(), random_tensor({13}, 11),
               "1-D, no bias");
}

TEST(LayerNormAdd, StridedOperands) {
  const Tensor w = random_tensor({16}, 12), b = random_tensor({16}, 13);
  const Tensor xt = random_tensor({16, 6}, 14).transpose(0, 1);  // [6, 16], column stride 6
  const Tensor at = random_tensor({16, 6}, 15).transpose(0, 1);
  ASSERT_FALSE(xt.is_contiguous());
  expect_exact(xt, w, b, at, "transposed x and addend");
  const auto [y1, z1] = layer_norm_add(xt, w, b, 1e-5f, at);
  const auto [y2, z2] = layer_norm_add(xt.contiguous(), w, b, 1e-5f, at.contiguous());
  EXPECT_TRUE(bit_identical(y1, y2));
  EXPECT_TRUE(bit_identical(z1, z2));
}

TEST(LayerNormAdd, RejectsBadArgumentsNamingThem) {
  const Tensor x = random_tensor({3, 8}, 16), w = random_tensor({8}, 17),
               b = random_tensor({8}, 18);
  const Tensor a = random_tensor({3, 8}, 19);
  auto expect_invalid = [](auto f, const std::string& needle) {
    try {
      f();
      ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("layer_norm_add"), std::string::npos) << e.what();
    }
  };
  expect_invalid([&] { layer_norm_add(Tensor(), w, b, 1e-5f, a); }, "x is undefined");
  expect_invalid([&] { layer_norm_add(x, w, b, 1e-5f, Tensor()); }, "addend is undefined");
  expect_invalid([&] { layer_norm_add(x, w, b, 1e-5f, random_tensor({3, 7}, 20)); }, "addend");
  expect_invalid([&] { layer_norm_add(x, w, b, 1e-5f, random_tensor({1, 8}, 20)); }, "addend");
  expect_invalid([&] { layer_norm_add(x, random_tensor({7}, 21), b, 1e-5f, a); }, "weight");
  expect_invalid([&] { layer_norm_add(x, w, random_tensor({2, 4}, 22), 1e-5f, a); }, "bias");
  expect_invalid([&] { layer_norm_add(x, w, b, 1e-5f, a.to(DType::kF16)); }, "addend");
  expect_invalid(
      [&] { layer_norm_add(x.slice(1, 0, 0), Tensor(), Tensor(), 1e-5f, a.slice(1, 0, 0)); },
      "C >= 1");
  EXPECT_THROW(layer_norm_add(x.to(DType::kF16), w.to(DType::kF16), b.to(DType::kF16), 1e-5f,
                              a.to(DType::kF16)),
               Error);  // float16 is CUDA-only
}

}  // namespace
}  // namespace um::nn
