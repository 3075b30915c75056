// layer_norm_act on the CPU (src/nn/layer_norm_act_cpu.cpp): act(layer_norm(x)), bit for bit the
// two ops it replaces for every activation (kNone = the plain layer_norm), also strided and
// without affine parameters; bad arguments refused with um::Error naming them. The CUDA kernel
// is checked against this op in tests/cuda/layer_norm_act_cuda_test.cpp.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "core/status.h"
#include "nn/ops.h"
#include "nn/ops_layer_norm_act.h"
#include "nn_test_util.h"

namespace um::nn {
namespace {

using test::bit_identical;
using test::random_tensor;

TEST(LayerNormAct, IsExactlyLayerNormThenTheActivation) {
  const Tensor x = random_tensor({1, 1024, 64}, 1, -3.f, 3.f);  // SAM's upscaling pixels
  const Tensor w = random_tensor({64}, 2), b = random_tensor({64}, 3);
  const Tensor ln = layer_norm(x, w, b, 1e-6f);
  EXPECT_TRUE(bit_identical(layer_norm_act(x, w, b, 1e-6f, Activation::kNone), ln));
  EXPECT_TRUE(bit_identical(layer_norm_act(x, w, b, 1e-6f, Activation::kReLU), relu(ln)));
  EXPECT_TRUE(bit_identical(layer_norm_act(x, w, b, 1e-6f, Activation::kSiLU), silu(ln)));
  EXPECT_TRUE(bit_identical(layer_norm_act(x, w, b, 1e-6f, Activation::kGELU), gelu(ln)));
  EXPECT_FALSE(bit_identical(layer_norm_act(x, w, b, 1e-6f, Activation::kGELU), ln));
  // No affine parameters, an odd width, a transposed input.
  const Tensor o = random_tensor({13, 5}, 4).transpose(0, 1);
  EXPECT_TRUE(bit_identical(layer_norm_act(o, Tensor(), Tensor(), 1e-5f, Activation::kGELU),
                            gelu(layer_norm(o.contiguous(), Tensor(), Tensor(), 1e-5f))));
}

TEST(LayerNormAct, RejectsBadArgumentsNamingThem) {
  const Tensor x = random_tensor({3, 8}, 5), w = random_tensor({8}, 6);
  auto expect_invalid = [](auto f, const std::string& needle) {
    try {
      f();
      ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("layer_norm_act"), std::string::npos) << e.what();
    }
  };
  expect_invalid([&] { layer_norm_act(Tensor(), w, w, 1e-5f, Activation::kGELU); },
                 "x is undefined");
  expect_invalid([&] { layer_norm_act(x, random_tensor({7}, 7), w, 1e-5f, Activation::kGELU); },
                 "weight");
  expect_invalid([&] { layer_norm_act(x, w, w.to(DType::kF16), 1e-5f, Activation::kGELU); },
                 "bias");
  expect_invalid(
      [&] { layer_norm_act(x.slice(1, 0, 0), Tensor(), Tensor(), 1e-5f, Activation::kNone); },
      "C >= 1");
  EXPECT_THROW(layer_norm_act(x.to(DType::kF16), Tensor(), Tensor(), 1e-5f, Activation::kGELU),
               Error);  // float16 is CUDA-only
}

}  // namespace
}  // namespace um::nn
