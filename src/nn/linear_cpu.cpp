// File: src/nn/linear_cpu.cpp
// Purpose: dense products on the CPU through OpenBLAS sgemm: linear (torch.nn.functional.linear,
// and with a residual added: the plain linear then nn::add, the reference of the fused CUDA GEMM),
// batched matmul with broadcasting of leading dimensions, and the strided-gemm helper that lets
// transposed/permuted views reach BLAS without copies.
#include <cblas.h>

#include <algorithm>
#include <vector>

#include "nn/op_util.h"
#include "nn/ops.h"

namespace um::nn {
namespace detail {
namespace {

// Describes a strided 2-D view as (pointer, transpose flag, leading dimension) for cblas, or
// returns false when neither stride is 1 (the caller then packs a contiguous copy).
bool as_blas_operand(const MatView& v, CBLAS_TRANSPOSE* trans, int64_t* ld) {
  if (v.cs == 1 && (v.rs >= std::max<int64_t>(v.cols, 1) || v.rows == 1)) {
    *trans = CblasNoTrans;
    *ld = std::max<int64_t>(v.rows == 1 ? v.cols : v.rs, 1);
    return true;
  }
  if (v.rs == 1 && (v.cs >= std::max<int64_t>(v.rows, 1) || v.cols == 1)) {
    *trans = CblasTrans;
    *ld = std::max<int64_t>(v.cols == 1 ? v.rows : v.cs, 1);
    return true;
  }
  return false;
}

std::vector<float> pack(const MatView& v) {
  std::vector<float> out(static_cast<size_t>(v.rows * v.cols));
  for (int64_t i = 0; i < v.rows; ++i)
    for (int64_t j = 0; j < v.cols; ++j) out[i * v.cols + j] = v.data[i * v.rs + j * v.cs];
  return out;
}

}  // namespace

void gemm_strided(const MatView& a, const MatView& b, float* c, int64_t ldc, float alpha,
                  float beta) {
  const int64_t m = a.rows, k = a.cols, n = b.cols;
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.f ? 0.f : beta * c[i * ldc + j];
    return;
  }
  CBLAS_TRANSPOSE ta, tb;
  int64_t lda, ldb;
  std::vector<float> pa, pb;
  const float* da = a.data;
  const float* db = b.data;
  if (!as_blas_operand(a, &ta, &lda)) {
    pa = pack(a);
    da = pa.data();
    ta = CblasNoTrans;
    lda = k;
  }
  if (!as_blas_operand(b, &tb, &ldb)) {
    pb = pack(b);
    db = pb.data();
    tb = CblasNoTrans;
    ldb = n;
  }
  cblas_sgemm(CblasRowMajor, ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
              alpha, da, static_cast<int>(lda), db, static_cast<int>(ldb), beta, c,
              static_cast<int>(ldc));
}

}  // namespace detail

using detail::fail;
using detail::MatView;

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  static constexpr const char* kOp = "linear";
  UM_NN_CUDA_DISPATCH(x, linear_cuda(x, weight, bias));
  detail::require_cpu_f32(kOp, x, "x");
  detail::require_cpu_f32(kOp, weight, "weight");
  if (x.dim() < 1 || weight.dim() != 2 || x.size(-1) != weight.size(1)) {
    fail(kOp, "x " + shape_str(x.shape()) + " does not match weight " + shape_str(weight.shape()));
  }
  const int64_t out_f = weight.size(0), in_f = weight.size(1);
  if (bias.defined()) {
    detail::require_cpu_f32(kOp, bias, "bias");
    if (bias.dim() != 1 || bias.size(0) != out_f) {
      fail(kOp, "bias " + shape_str(bias.shape()) + " does not match weight " +
                    shape_str(weight.shape()));
    }
  }
  Shape out_shape = x.shape();
  out_shape.back() = out_f;
  Tensor out = Tensor::empty(out_shape);
  // Rows from the leading dims (not numel / in: with in_features == 0 that is 0 rows and the
  // output, bias rows, would be left unwritten).
  int64_t rows = 1;
  for (int64_t i = 0; i + 1 < x.dim(); ++i) rows *= x.size(i);
  if (rows == 0 || out_f == 0) return out;
  float* po = out.data<float>();
  float beta = 0.f;
  if (bias.defined()) {
    const Tensor bc = bias.contiguous();
    const float* pbias = bc.data<float>();
    for (int64_t r = 0; r < rows; ++r) std::copy(pbias, pbias + out_f, po + r * out_f);
    beta = 1.f;
  }
  // A [rows, in] from x: a 2-D view when the leading dims collapse, else a contiguous copy.
  Tensor xc = x;
  int64_t rs = in_f, cs = 1;
  if (x.dim() == 2) {
    rs = x.strides()[0];
    cs = x.strides()[1];
  } else if (!x.is_contiguous()) {
    xc = x.contiguous();
  }
  const Tensor wc = weight;
  MatView a{xc.data<float>(), rows, in_f, rs, cs};
  MatView b{wc.data<float>(), in_f, out_f, wc.strides()[1], wc.strides()[0]};  // weight^T
  detail::gemm_strided(a, b, po, out_f, 1.f, beta);
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& residual) {
  static constexpr const char* kOp = "linear";
  if (!residual.defined()) return linear(x, weight, bias);
  UM_NN_CUDA_DISPATCH(x, linear_cuda(x, weight, bias, residual));
  detail::require_cpu_f32(kOp, residual, "residual");
  const Tensor y = linear(x, weight, bias);  // checks x, weight and bias
  if (residual.shape() != y.shape()) {
    fail(kOp, "residual " + shape_str(residual.shape()) + " does not match the output " +
                  shape_str(y.shape()));
  }
  // The reference is the two ops the model ran before the fusion, in that operand order.
  return add(residual, y);
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  static constexpr const char* kOp = "matmul";
  UM_NN_CUDA_DISPATCH(a, matmul_cuda(a, b));
  detail::require_cpu_f32(kOp, a, "a");
  detail::require_cpu_f32(kOp, b, "b");
  if (a.dim() < 2 || b.dim() < 2 || a.size(-1) != b.size(-2)) {
    fail(kOp, "cannot multiply " + shape_str(a.shape()) + " by " + shape_str(b.shape()));
  }
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  // Broadcast the leading (batch) dimensions by NumPy rules.
  const int64_t nb = std::max(a.dim(), b.dim()) - 2;
  Shape batch(nb), sa(nb, 0), sb(nb, 0);
  for (int64_t i = 0; i < nb; ++i) {
    const int64_t ia = i - (nb - (a.dim() - 2)), ib = i - (nb - (b.dim() - 2));
    const int64_t da = ia >= 0 ? a.size(ia) : 1, db = ib >= 0 ? b.size(ib) : 1;
    if (da != db && da != 1 && db != 1) {
      fail(kOp, "batch dims of " + shape_str(a.shape()) + " and " + shape_str(b.shape()) +
                    " do not broadcast");
    }
    batch[i] = std::max(da, db);
    sa[i] = (ia >= 0 && da != 1) ? a.strides()[ia] : 0;
    sb[i] = (ib >= 0 && db != 1) ? b.strides()[ib] : 0;
  }
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out = Tensor::empty(out_shape);
  const int64_t nbatch = shape_numel(batch);
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* po = out.data<float>();
  std::vector<int64_t> idx(nb, 0);
  for (int64_t t = 0; t < nbatch; ++t) {
    int64_t oa = 0, ob = 0;
    for (int64_t i = 0; i < nb; ++i) {
      oa += idx[i] * sa[i];
      ob += idx[i] * sb[i];
    }
    MatView va{pa + oa, m, k, a.strides()[a.dim() - 2], a.strides()[a.dim() - 1]};
    MatView vb{pb + ob, k, n, b.strides()[b.dim() - 2], b.strides()[b.dim() - 1]};
    detail::gemm_strided(va, vb, po + t * m * n, n, 1.f, 0.f);
    for (int64_t i = nb - 1; i >= 0; --i) {
      if (++idx[i] < batch[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

}  // namespace um::nn
