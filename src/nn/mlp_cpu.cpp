// File: src/nn/mlp_cpu.cpp
// Purpose: nn::mlp (see ops_mlp.h): argument checks, the choice of the fused CUDA kernel, and
// the layer sequence. The sequence is literally what the models ran before the op existed
// (nn::linear_act with ReLU per hidden layer, nn::linear with the residual last), so the float32
// CPU results stay bit-identical; on CUDA it is the path for what the fused kernel does not take
// (float16 data, layers wider than kMlpFusedMaxWidth).
#include <string>

#include "nn/op_util.h"
#include "nn/ops.h"
#include "nn/ops_fused.h"
#include "nn/ops_mlp.h"

namespace um::nn {
namespace {

constexpr const char* kOp = "mlp";

std::string indexed(const char* what, size_t i) {
  return std::string(what) + "[" + std::to_string(i) + "]";
}

void check_like_x(const Tensor& x, const Tensor& t, const std::string& name) {
  if (t.dtype() != x.dtype() || !(t.device() == x.device())) {
    detail::fail(kOp, name + " is " + t.str() + " but x is " + x.str() +
                          " (every tensor must have x's dtype and device)");
  }
}

// Shapes, dtypes and devices (host metadata only). Returns the last layer's width.
int64_t check_arguments(const Tensor& x, const std::vector<Tensor>& weights,
                        const std::vector<Tensor>& biases, const Tensor& residual) {
  if (!x.defined()) detail::fail(kOp, "x is undefined");
  if (x.dtype() != DType::kF32 && x.dtype() != DType::kF16) {
    detail::fail(kOp, std::string("x must be float32 or float16, got ") + dtype_name(x.dtype()));
  }
  if (x.dim() < 1) detail::fail(kOp, "x must be [..., in], got a scalar");
  detail::require_mlp_layer_counts(kOp, weights.size(), biases.size(), kGroupedMlpMaxLayers);
  int64_t width = x.size(-1);
  for (size_t i = 0; i < weights.size(); ++i) {
    const Tensor& w = weights[i];
    const std::string wn = indexed("weights", i);
    if (!w.defined()) detail::fail(kOp, wn + " is undefined");
    check_like_x(x, w, wn);
    if (w.dim() != 2 || w.size(1) != width || w.size(0) < 1) {
      detail::fail(kOp, wn + " must be [out, " + std::to_string(width) + "] to follow " +
                            (i > 0 ? "the previous layer" : "x " + shape_str(x.shape())) +
                            ", got " + shape_str(w.shape()));
    }
    width = w.size(0);
    const Tensor& b = biases[i];
    if (b.defined()) {
      const std::string bn = indexed("biases", i);
      check_like_x(x, b, bn);
      if (b.dim() != 1 || b.size(0) != width) {
        detail::fail(kOp, bn + " must be [" + std::to_string(width) + "], got " +
                              shape_str(b.shape()));
      }
    }
  }
  if (residual.defined()) {
    check_like_x(x, residual, "residual");
    Shape expected = x.shape();
    expected.back() = width;
    if (residual.shape() != expected) {
      detail::fail(kOp, "residual " + shape_str(residual.shape()) + " must be the output's " +
                            shape_str(expected));
    }
  }
  return width;
}

#ifdef UM_WITH_CUDA
// The fused kernel's domain: float32 rows on a CUDA device, every width within its shared-memory
// tile, 1..kMlpFusedMaxRows rows.
bool fused_kernel_takes(const Tensor& x, const std::vector<Tensor>& weights) {
  if (!x.device().is_cuda() || x.dtype() != DType::kF32 || x.numel() == 0) return false;
  if (x.size(-1) > kMlpFusedMaxWidth || x.numel() / x.size(-1) > kMlpFusedMaxRows) return false;
  for (const Tensor& w : weights) {
    if (w.size(0) > kMlpFusedMaxWidth) return false;
  }
  return true;
}
#endif

}  // namespace

Tensor mlp(const Tensor& x, const std::vector<Tensor>& weights, const std::vector<Tensor>& biases,
           const Tensor& residual, const MlpParams& params) {
  const int64_t out = check_arguments(x, weights, biases, residual);
#ifdef UM_WITH_CUDA
  if (fused_kernel_takes(x, weights)) {
    const int64_t rows = x.numel() / x.size(-1);
    Shape out_shape = x.shape();
    out_shape.back() = out;
    const Tensor x2 = x.dim() == 2 ? x : x.reshape({rows, x.size(-1)});
    const Tensor r2 =
        residual.defined() && residual.dim() != 2 ? residual.reshape({rows, out}) : residual;
    const Tensor y = params.allow_split_tf32 && detail::mlp_tf32_cuda_runs()
                         ? detail::mlp_tf32_cuda(x2, weights, biases, r2)
                         : detail::mlp_fused_cuda(x2, weights, biases, r2);
    return y.view(out_shape);
  }
#endif
  // The layer sequence (the CPU reference; on CUDA the per-layer ops).
  Tensor y = x;
  for (size_t i = 0; i + 1 < weights.size(); ++i) {
    y = linear_act(y, weights[i], biases[i], Activation::kReLU);
  }
  return linear(y, weights.back(), biases.back(), residual);
}

}  // namespace um::nn
