// File: src/nn/dfine_mixed_cpu.cpp
// Purpose: the decoder's mixed-precision fusions (nn/ops_dfine.h: add_mixed, add_mixed2,
// add_layer_norm, gated_sum, gated_sum_layer_norm): argument checks, the CUDA dispatch, and the
// CPU reference, which is literally the op sequence the D-FINE decoder ran before the fusion
// (float32 on the CPU), so the CPU results stay bit-identical. The CUDA side (dfine_mixed_cuda.cu) does each in one kernel.
#include <cmath>
#include <string>
#include <utility>

#include "nn/op_util.h"
#include "nn/ops.h"
#include "nn/ops_dfine.h"

namespace um::nn {

using detail::fail;

namespace {

void require_float(const char* op, const Tensor& t, const char* name) {
  if (!t.defined()) fail(op, std::string(name) + " is undefined");
  if (t.dtype() != DType::kF32 && t.dtype() != DType::kF16) {
    fail(op, std::string(name) + " must be float32 or float16, got " + dtype_name(t.dtype()));
  }
}

void require_out_dtype(const char* op, DType d) {
  if (d != DType::kF32 && d != DType::kF16) {
    fail(op, std::string("output dtype must be float32 or float16, got ") + dtype_name(d));
  }
}

void require_same_device(const char* op, const Tensor& t, const char* name, const Tensor& ref) {
  if (t.device() != ref.device()) {
    fail(op, std::string(name) + " is on " + t.device().str() + ", expected " +
                 ref.device().str());
  }
}

// Shapes of the gate: g [..., 2E], x1 and x2 [..., E] with the same leading dims, E >= 1.
void check_gate(const char* op, const Tensor& g, const Tensor& x1, const Tensor& x2) {
  require_float(op, g, "g");
  require_float(op, x1, "x1");
  require_float(op, x2, "x2");
  require_same_device(op, x1, "x1", g);
  require_same_device(op, x2, "x2", g);
  if (x1.shape() != x2.shape()) {
    fail(op, "x1 " + shape_str(x1.shape()) + " and x2 " + shape_str(x2.shape()) + " differ");
  }
  if (x1.dim() < 1 || x1.size(-1) < 1 || g.dim() != x1.dim()) {
    fail(op, "g " + shape_str(g.shape()) + " does not match x1 " + shape_str(x1.shape()));
  }
  for (int64_t i = 0; i + 1 < g.dim(); ++i) {
    if (g.size(i) != x1.size(i)) {
      fail(op, "g " + shape_str(g.shape()) + " does not match x1 " + shape_str(x1.shape()));
    }
  }
  if (g.size(-1) != 2 * x1.size(-1)) {
    fail(op, "g " + shape_str(g.shape()) + " must have 2 * E = " +
                 std::to_string(2 * x1.size(-1)) + " gate logits per row");
  }
}

// LayerNorm parameters over e columns: weight and bias [e] or undefined, on ref's device; eps > 0.
void check_norm_params(const char* op, const Tensor& weight, const Tensor& bias, int64_t e,
                       float eps, const Tensor& ref) {
  for (const auto& [t, name] : {std::pair<const Tensor*, const char*>{&weight, "weight"},
                                {&bias, "bias"}}) {
    if (!t->defined()) continue;
    require_float(op, *t, name);
    require_same_device(op, *t, name, ref);
    if (t->dim() != 1 || t->size(0) != e) {
      fail(op, std::string(name) + " " + shape_str(t->shape()) + " does not match the " +
                   std::to_string(e) + " normalised columns");
    }
  }
  if (!(eps > 0.f)) fail(op, "eps must be > 0, got " + std::to_string(eps));
}

Tensor cast_to(const Tensor& t, DType d) { return t.dtype() == d ? t : t.to(d); }

// The decoder's gate before the fusion (float32 CPU): sigmoid of the logits, split in two,
// both products, their sum.
Tensor gated_sum_reference(const Tensor& g, const Tensor& x1, const Tensor& x2) {
  const Tensor s = sigmoid(g);
  const int64_t e = x1.size(-1);
  const auto gs = split(s, {e, e}, s.dim() - 1);
  return add(mul(gs[0], x1), mul(gs[1], x2));
}

// The argument checks shared by add_mixed and add_mixed2.
void check_add_mixed(const char* op, const Tensor& a, const Tensor& b, float b_lo, float b_hi) {
  require_float(op, a, "a");
  require_float(op, b, "b");
  require_same_device(op, b, "b", a);
  if (a.shape() != b.shape()) {
    fail(op, "a " + shape_str(a.shape()) + " and b " + shape_str(b.shape()) +
                 " differ (no broadcasting)");
  }
  if (!(b_lo <= b_hi)) {
    fail(op, "clamp range [" + std::to_string(b_lo) + ", " + std::to_string(b_hi) + "] is empty");
  }
}

// b clamped as nn::clamp does, or b itself when the range is unbounded (the CPU reference).
Tensor clamped_cpu(const Tensor& b, float b_lo, float b_hi) {
  if (std::isinf(b_lo) && b_lo < 0 && std::isinf(b_hi) && b_hi > 0) return b;
  return clamp(b, b_lo, b_hi);
}

}  // namespace

Tensor add_mixed(const Tensor& a, const Tensor& b, DType out_dtype) {
  return add_mixed(a, b, out_dtype, -INFINITY, INFINITY);
}

Tensor add_mixed(const Tensor& a, const Tensor& b, DType out_dtype, float b_lo, float b_hi) {
  constexpr const char* kOp = "add_mixed";
  check_add_mixed(kOp, a, b, b_lo, b_hi);
  require_out_dtype(kOp, out_dtype);
  UM_NN_CUDA_DISPATCH(a, add_mixed_cuda(a, b, out_dtype, b_lo, b_hi));
  detail::require_cpu_f32(kOp, a, "a");
  detail::require_cpu_f32(kOp, b, "b");
  return cast_to(add(a, clamped_cpu(b, b_lo, b_hi)), out_dtype);
}

std::pair<Tensor, Tensor> add_mixed2(const Tensor& a, const Tensor& b, DType out1, DType out2) {
  return add_mixed2(a, b, out1, out2, -INFINITY, INFINITY);
}

std::pair<Tensor, Tensor> add_mixed2(const Tensor& a, const Tensor& b, DType out1, DType out2,
                                     float b_lo, float b_hi) {
  constexpr const char* kOp = "add_mixed2";
  check_add_mixed(kOp, a, b, b_lo, b_hi);
  require_out_dtype(kOp, out1);
  require_out_dtype(kOp, out2);
#ifdef UM_WITH_CUDA
  if (a.device().is_cuda()) {
    Tensor second;
    Tensor first = detail::add_mixed_cuda(a, b, out1, b_lo, b_hi, &out2, &second);
    return {first, second};
  }
#endif
  detail::require_cpu_f32(kOp, a, "a");
  detail::require_cpu_f32(kOp, b, "b");
  const Tensor sum = add(a, clamped_cpu(b, b_lo, b_hi));
  return {cast_to(sum, out1), cast_to(sum, out2)};
}

Tensor add_layer_norm(const Tensor& a, const Tensor& b, const Tensor& weight, const Tensor& bias,
                      float eps, DType out_dtype) {
  constexpr const char* kOp = "add_layer_norm";
  require_float(kOp, a, "a");
  require_float(kOp, b, "b");
  require_out_dtype(kOp, out_dtype);
  require_same_device(kOp, b, "b", a);
  if (a.shape() != b.shape()) {
    fail(kOp, "a " + shape_str(a.shape()) + " and b " + shape_str(b.shape()) +
                  " differ (no broadcasting)");
  }
  if (a.dim() < 1 || a.size(-1) < 1) fail(kOp, "a " + shape_str(a.shape()) + " has no columns");
  check_norm_params(kOp, weight, bias, a.size(-1), eps, a);
  UM_NN_CUDA_DISPATCH(a, gated_sum_cuda(Tensor(), a, b, true, weight, bias, eps, out_dtype));
  detail::require_cpu_f32(kOp, a, "a");
  detail::require_cpu_f32(kOp, b, "b");
  return cast_to(layer_norm(add(a, b), weight, bias, eps), out_dtype);
}

Tensor gated_sum(const Tensor& g, const Tensor& x1, const Tensor& x2, DType out_dtype) {
  constexpr const char* kOp = "gated_sum";
  check_gate(kOp, g, x1, x2);
  require_out_dtype(kOp, out_dtype);
  UM_NN_CUDA_DISPATCH(g, gated_sum_cuda(g, x1, x2, false, Tensor(), Tensor(), 0.f, out_dtype));
  detail::require_cpu_f32(kOp, g, "g");
  detail::require_cpu_f32(kOp, x1, "x1");
  detail::require_cpu_f32(kOp, x2, "x2");
  return cast_to(gated_sum_reference(g, x1, x2), out_dtype);
}

Tensor gated_sum_layer_norm(const Tensor& g, const Tensor& x1, const Tensor& x2,
                            const Tensor& weight, const Tensor& bias, float eps,
                            DType out_dtype) {
  constexpr const char* kOp = "gated_sum_layer_norm";
  check_gate(kOp, g, x1, x2);
  require_out_dtype(kOp, out_dtype);
  check_norm_params(kOp, weight, bias, x1.size(-1), eps, g);
  UM_NN_CUDA_DISPATCH(g, gated_sum_cuda(g, x1, x2, true, weight, bias, eps, out_dtype));
  detail::require_cpu_f32(kOp, g, "g");
  detail::require_cpu_f32(kOp, x1, "x1");
  detail::require_cpu_f32(kOp, x2, "x2");
  return cast_to(layer_norm(gated_sum_reference(g, x1, x2), weight, bias, eps), out_dtype);
}

}  // namespace um::nn
