// File: src/nn/grouped_mlp_cpu.cpp
// Purpose: grouped_mlp's argument checks and CPU reference (see ops_mlp.h). The reference runs,
// for each group's row, exactly the unfused MLP: nn::linear with that group's layer weights,
// nn::relu between layers; so its float32 results are bit-identical to the per-MLP sequence it
// replaces (tests/nn/grouped_mlp_test.cpp checks that).
#include <string>

#include "nn/op_util.h"
#include "nn/ops.h"
#include "nn/ops_mlp.h"

namespace um::nn {
namespace {

constexpr const char* kOp = "grouped_mlp";

std::string layer_name(const char* what, size_t i) {
  return std::string(what) + "[" + std::to_string(i) + "]";
}

// Shapes, dtypes and devices (host metadata only): every tensor like x, widths chained.
void check_arguments(const Tensor& x, const std::vector<Tensor>& weights,
                     const std::vector<Tensor>& biases) {
  if (!x.defined()) detail::fail(kOp, "x is undefined");
  if (x.dtype() != DType::kF32 && x.dtype() != DType::kF16) {
    detail::fail(kOp, std::string("x must be float32 or float16, got ") + dtype_name(x.dtype()));
  }
  if (x.dim() != 2) detail::fail(kOp, "x must be [G, in], got " + shape_str(x.shape()));
  detail::require_mlp_layer_counts(kOp, weights.size(), biases.size(), kGroupedMlpMaxLayers);
  const int64_t g = x.size(0);
  int64_t width = x.size(1);
  // The parameters' dtype: x's, except float32 parameters on a float16 x (mixed precision).
  const DType pd =
      weights[0].defined() && x.dtype() == DType::kF16 && weights[0].dtype() == DType::kF32
          ? DType::kF32
          : x.dtype();
  auto check_like_x = [&](const Tensor& t, const std::string& name) {
    if (t.dtype() != pd || !(t.device() == x.device())) {
      detail::fail(kOp, name + " is " + t.str() + " but x is " + x.str() +
                            " (parameters must be on x's device, all of x's dtype or all "
                            "float32)");
    }
  };
  auto check_width = [&](int64_t v, const std::string& name) {
    if (v < 1 || v > kGroupedMlpMaxWidth) {
      detail::fail(kOp, name + " width " + std::to_string(v) + " is outside 1.." +
                            std::to_string(kGroupedMlpMaxWidth));
    }
  };
  check_width(width, "input");
  for (size_t i = 0; i < weights.size(); ++i) {
    const Tensor& w = weights[i];
    const std::string wn = layer_name("weights", i);
    if (!w.defined()) detail::fail(kOp, wn + " is undefined");
    check_like_x(w, wn);
    if (w.dim() != 3 || w.size(0) != g || w.size(2) != width) {
      detail::fail(kOp, wn + " must be [" + std::to_string(g) + ", out, " + std::to_string(width) +
                            "] to follow x " + shape_str(x.shape()) +
                            (i > 0 ? " and the previous layer" : "") + ", got " +
                            shape_str(w.shape()));
    }
    width = w.size(1);
    check_width(width, wn + " output");
    const Tensor& b = biases[i];
    if (b.defined()) {
      const std::string bn = layer_name("biases", i);
      check_like_x(b, bn);
      if (b.dim() != 2 || b.size(0) != g || b.size(1) != width) {
        detail::fail(kOp, bn + " must be [" + std::to_string(g) + ", " + std::to_string(width) +
                              "], got " + shape_str(b.shape()));
      }
    }
  }
}

}  // namespace

Tensor grouped_mlp(const Tensor& x, const std::vector<Tensor>& weights,
                   const std::vector<Tensor>& biases) {
  check_arguments(x, weights, biases);
  UM_NN_CUDA_DISPATCH(x, grouped_mlp_cuda(x, weights, biases));
  detail::require_cpu_f32(kOp, x, "x");
  const int64_t g = x.size(0), out_f = weights.back().size(1);
  Tensor out = Tensor::empty({g, out_f});
  float* o = out.data<float>();
  for (int64_t r = 0; r < g; ++r) {
    Tensor y = x.select(0, r).unsqueeze(0);  // [1, in]: the row as the unfused Mlp saw it
    for (size_t i = 0; i < weights.size(); ++i) {
      const Tensor b = biases[i].defined() ? biases[i].select(0, r) : Tensor();
      y = linear(y, weights[i].select(0, r), b);
      if (i + 1 < weights.size()) y = relu(y);
    }
    const Tensor row = y.contiguous();
    const float* src = row.data<float>();
    for (int64_t j = 0; j < out_f; ++j) o[r * out_f + j] = src[j];
  }
  return out;
}

}  // namespace um::nn
