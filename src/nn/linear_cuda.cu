// File: src/nn/linear_cuda.cu
// Purpose: linear (x @ W^T + b, bias fused as cuBLASLt's BIAS epilogue) and batched matmul with
// NumPy broadcasting of the leading dims on CUDA tensors, float32 (true fp32) or float16 (fp32
// accumulate). Strided operands reach cuBLASLt in place when one of their last two strides is 1
// (transposed/permuted views); otherwise, and for batch layouts one stride cannot describe, the
// operand is first made contiguous (one copy kernel). A batch-broadcast right operand
// (x[B, m, k] @ w[k, n]) folds into one [B*m, k] GEMM; a broadcast left operand is materialised
// (cuBLASLt's strided batch is not used with a zero stride).
// linear with a residual (y = residual + x @ W^T + b, TinyViT's `x + fc2(h)`) is the same GEMM
// with the residual as cuBLASLt's C input and beta = 1: the add costs no extra pass over the
// activation, and a float16 result is rounded once (the CPU's linear-then-add sequence on
// float16-rounded data rounds the linear's output first; results may differ by that rounding).
// linear_act (nn/ops_fused.h) is the same GEMM with ReLU as cuBLASLt's RELU(_BIAS) epilogue: bias
// and ReLU on the float32 accumulator, one rounding, no separate activation kernel.
#include <algorithm>
#include <cstdint>
#include <string>

#include "nn/cublaslt_context.h"
#include "nn/cuda_op_util.cuh"
#include "nn/ops_cuda.h"
#include "nn/ops_dfine_cuda.h"
#include "nn/ops_fused.h"

namespace um::nn::detail {
namespace {

// out[r, j] = residual[r, j] + bias[j] (either or both may be absent; 0 then): linear with
// in_features == 0, where no GEMM runs. residual is contiguous [rows, cols].
// With `relu`, max(0, .) of that (linear_act with in_features == 0).
template <typename T>
__global__ void fill_rows_kernel(T* out, const T* bias, const T* residual, int64_t rows,
                                 int64_t cols, bool relu) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < rows * cols;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float b = bias ? to_f(bias[i % cols]) : 0.f;
    float v = residual ? to_f(residual[i]) + b : b;
    if (relu) v = v > 0.f ? v : 0.f;
    out[i] = from_f<T>(v);
  }
}

// Collapses the batch dims of one operand into a single stride: true when every non-trivial dim
// steps by (next stride) * (next size); an operand broadcast over all of them gets stride 0.
bool collapse_batch(const Shape& batch, const Shape& strides, int64_t* stride) {
  int64_t span = -1;
  *stride = 0;
  for (int64_t i = static_cast<int64_t>(batch.size()) - 1; i >= 0; --i) {
    if (batch[i] == 1) continue;
    if (span < 0) {
      *stride = strides[i];
    } else if (strides[i] != span) {
      return false;
    }
    span = strides[i] * batch[i];
  }
  return true;
}

// The linear GEMM behind linear_cuda and linear_act_cuda: y = [relu](x @ W^T + b + residual),
// the ReLU (when `relu`) being cuBLASLt's epilogue on the float32 result. kOp names the public op
// in error messages.
Tensor linear_gemm(const char* kOp, const Tensor& x_in, const Tensor& weight_in,
                   const Tensor& bias_in, const Tensor& residual_in, bool relu) {
  require_cuda_float(kOp, x_in, "x");
  require_like(kOp, weight_in, "weight", x_in);
  if (x_in.dim() < 1 || weight_in.dim() != 2 || x_in.size(-1) != weight_in.size(1)) {
    fail(kOp, "x " + shape_str(x_in.shape()) + " does not match weight " +
                  shape_str(weight_in.shape()));
  }
  const int64_t out_f = weight_in.size(0), in_f = weight_in.size(1);
  Tensor bias;
  if (bias_in.defined()) {
    require_like(kOp, bias_in, "bias", x_in);
    if (bias_in.dim() != 1 || bias_in.size(0) != out_f) {
      fail(kOp, "bias " + shape_str(bias_in.shape()) + " does not match weight " +
                    shape_str(weight_in.shape()));
    }
    bias = bias_in.contiguous();
    // The BIAS epilogue has been seen to fault on bias vectors below 16-byte alignment (a slice
    // of a packed in_proj bias at an odd offset): such a bias gets its own block (a few bytes).
    if (!aligned16(bias.raw_data())) bias = bias.clone();
  }
  Shape out_shape = x_in.shape();
  out_shape.back() = out_f;
  Tensor residual;
  if (residual_in.defined()) {
    require_like(kOp, residual_in, "residual", x_in);
    if (residual_in.shape() != out_shape) {
      fail(kOp, "residual " + shape_str(residual_in.shape()) + " does not match the output " +
                    shape_str(out_shape));
    }
    // The GEMM's C input is a [rows, out] block with the output's row stride: a strided residual
    // is copied into one first (one copy kernel; TinyViT's residuals are contiguous already).
    residual = residual_in.contiguous();
  }
  Tensor out = Tensor::empty(out_shape, x_in.dtype(), x_in.device());
  int64_t rows = 1;
  for (int64_t i = 0; i + 1 < x_in.dim(); ++i) rows *= x_in.size(i);
  if (rows == 0 || out_f == 0) return out;
  if (in_f == 0) {
    UM_DISPATCH_FLOAT(x_in.dtype(), T, {
      fill_rows_kernel<T><<<blocks_for(rows * out_f), 256, 0, stream()>>>(
          static_cast<T*>(out.raw_data()),
          bias.defined() ? static_cast<const T*>(bias.raw_data()) : nullptr,
          residual.defined() ? static_cast<const T*>(residual.raw_data()) : nullptr, rows, out_f,
          relu);
    });
    check_launch(kOp);
    return out;
  }
  // x as a [rows, in] view: its leading dims must collapse into one row stride.
  Tensor x = x_in;
  LtMatrix a{nullptr, in_f, 1, 0};
  {
    int64_t row_stride = 0;
    const Shape lead(x.shape().begin(), x.shape().end() - 1);
    const Shape lead_st(x.strides().begin(), x.strides().end() - 1);
    if (x.dim() >= 2 && collapse_batch(lead, lead_st, &row_stride)) {
      a = {nullptr, rows == 1 ? in_f : row_stride, x.strides().back(), 0};
    } else if (x.dim() == 1) {
      a = {nullptr, in_f, x.strides().back(), 0};
    } else {
      x = x.contiguous();  // leading dims that do not collapse into one row stride
    }
    if (!lt_operand_ok(a, rows, in_f)) {
      x = x.contiguous();
      a = {nullptr, in_f, 1, 0};
    }
    a.data = x.raw_data();
  }
  Tensor w = weight_in;
  LtMatrix b{w.raw_data(), w.strides()[1], w.strides()[0], 0};  // weight^T: [in, out]
  if (!lt_operand_ok(b, in_f, out_f)) {
    w = weight_in.contiguous();
    b = {w.raw_data(), 1, in_f, 0};
  }
  LtGemm g;
  g.dtype = x.dtype();
  g.m = rows;
  g.n = out_f;
  g.k = in_f;
  g.a = a;
  g.b = b;
  g.c = out.raw_data();
  g.bias = bias.defined() ? bias.raw_data() : nullptr;
  g.residual = residual.defined() ? residual.raw_data() : nullptr;  // C's layout: [rows, out_f]
  g.relu = relu;
  lt_gemm(g);
  return out;
}

}  // namespace

Tensor linear_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias,
                   const Tensor& residual) {
  return linear_gemm("linear", x, weight, bias, residual, /*relu=*/false);
}

Tensor linear_act_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       Activation act) {
  if (act == Activation::kReLU || act == Activation::kNone) {
    return linear_gemm("linear_act", x, weight, bias, Tensor(), act == Activation::kReLU);
  }
  // SiLU / GELU: cuBLASLt's GELU epilogue is the tanh approximation, not the exact erf form the
  // models use, so the GEMM is followed by the activation pass (in float16 the GEMM's output is
  // rounded before the activation, as in the unfused sequence).
  Tensor y = linear_gemm("linear_act", x, weight, bias, Tensor(), false);
  act_affine_inplace_cuda(y, act == Activation::kSiLU ? ActKind::kSiLU : ActKind::kGELU, false,
                          1.f, 0.f);
  return y;
}

Tensor matmul_cuda(const Tensor& a_in, const Tensor& b_in) {
  static constexpr const char* kOp = "matmul";
  require_cuda_float(kOp, a_in, "a");
  require_like(kOp, b_in, "b", a_in);
  if (a_in.dim() < 2 || b_in.dim() < 2 || a_in.size(-1) != b_in.size(-2)) {
    fail(kOp, "cannot multiply " + shape_str(a_in.shape()) + " by " + shape_str(b_in.shape()));
  }
  const int64_t m = a_in.size(-2), k = a_in.size(-1), n = b_in.size(-1);
  const int64_t nb = std::max(a_in.dim(), b_in.dim()) - 2;
  Shape batch(nb), sa(nb, 0), sb(nb, 0);
  for (int64_t i = 0; i < nb; ++i) {
    const int64_t ia = i - (nb - (a_in.dim() - 2)), ib = i - (nb - (b_in.dim() - 2));
    const int64_t da = ia >= 0 ? a_in.size(ia) : 1, db = ib >= 0 ? b_in.size(ib) : 1;
    if (da != db && da != 1 && db != 1) {
      fail(kOp, "batch dims of " + shape_str(a_in.shape()) + " and " + shape_str(b_in.shape()) +
                    " do not broadcast");
    }
    batch[i] = std::max(da, db);
    sa[i] = (ia >= 0 && da != 1) ? a_in.strides()[ia] : 0;
    sb[i] = (ib >= 0 && db != 1) ? b_in.strides()[ib] : 0;
  }
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  const int64_t nbatch = shape_numel(batch);
  if (k == 0) return Tensor::zeros(out_shape, a_in.dtype(), a_in.device());
  Tensor out = Tensor::empty(out_shape, a_in.dtype(), a_in.device());
  if (nbatch == 0 || m == 0 || n == 0) return out;

  // The operand as its broadcast [batch..., r, c] view made contiguous (batch stride r * c).
  auto materialise = [&](const Tensor& t, const Shape& st, int64_t r, int64_t c) {
    Shape shape = batch, strides = st;
    shape.push_back(r);
    shape.push_back(c);
    strides.push_back(t.strides()[t.dim() - 2]);
    strides.push_back(t.strides()[t.dim() - 1]);
    return Tensor(t.storage(), shape, strides, t.offset(), t.dtype()).contiguous();
  };
  Tensor a = a_in, b = b_in;
  int64_t bsa = 0, bsb = 0;
  const bool a_ok = collapse_batch(batch, sa, &bsa), b_ok = collapse_batch(batch, sb, &bsb);
  LtMatrix va{a.raw_data(), a.strides()[a.dim() - 2], a.strides()[a.dim() - 1], bsa};
  LtMatrix vb{b.raw_data(), b.strides()[b.dim() - 2], b.strides()[b.dim() - 1], bsb};
  LtGemm g;
  g.dtype = a.dtype();
  g.m = m;
  g.n = n;
  g.k = k;
  g.batch = nbatch;
  g.c = out.raw_data();
  // x[B.., m, k] @ w[k, n] with A's rows stacked evenly: one GEMM of B*m rows.
  if (nbatch > 1 && b_ok && bsb == 0 && a_ok && bsa != 0 && va.cs == 1 &&
      (m == 1 || bsa == m * va.rs)) {
    LtMatrix folded{va.data, m == 1 ? bsa : va.rs, 1, 0};
    if (lt_operand_ok(folded, nbatch * m, k) && lt_operand_ok(vb, k, n)) {
      g.m = nbatch * m;
      g.batch = 1;
      g.a = folded;
      g.b = vb;
      lt_gemm(g);
      return out;
    }
  }
  if (!a_ok || (nbatch > 1 && bsa == 0) || !lt_operand_ok(va, m, k)) {
    a = materialise(a_in, sa, m, k);
    va = {a.raw_data(), k, 1, m * k};
  }
  if (!b_ok || (nbatch > 1 && bsb == 0) || !lt_operand_ok(vb, k, n)) {
    b = materialise(b_in, sb, k, n);
    vb = {b.raw_data(), n, 1, k * n};
  }
  g.a = va;
  g.b = vb;
  lt_gemm(g);
  return out;
}

}  // namespace um::nn::detail
