// File: src/nn/attention_cpu.cpp
// Purpose: scaled dot-product attention and torch.nn.MultiheadAttention (eval, batch_first) on
// the CPU. Per (batch, head): S = scale * Q K^T (+ bias) by sgemm on strided views, row softmax,
// O = S V by sgemm. Q/K/V may be permuted views (e.g. [B, L, H, D] seen as [B, H, L, D]): the
// strided gemm reads them in place.
#include <algorithm>
#include <cmath>
#include <vector>

#include "nn/op_util.h"
#include "nn/ops.h"

namespace um::nn {

using detail::fail;
using detail::MatView;

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& bias_in, float scale) {
  static constexpr const char* kOp = "scaled_dot_product_attention";
  UM_NN_CUDA_DISPATCH(q, scaled_dot_product_attention_cuda(q, k, v, bias_in, scale));
  detail::require_cpu_f32(kOp, q, "q");
  detail::require_cpu_f32(kOp, k, "k");
  detail::require_cpu_f32(kOp, v, "v");
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4 || k.shape() != v.shape() ||
      q.size(0) != k.size(0) || q.size(1) != k.size(1) || q.size(3) != k.size(3)) {
    fail(kOp, "q " + shape_str(q.shape()) + ", k " + shape_str(k.shape()) + ", v " +
                  shape_str(v.shape()) + " are not [B, H, Lq, D], [B, H, Lk, D], [B, H, Lk, D]");
  }
  const int64_t b = q.size(0), h = q.size(1), lq = q.size(2), lk = k.size(2), d = q.size(3);
  // Bias broadcast to [B, H, Lq, Lk]: strides with 0 on broadcast dims.
  Shape bst(4, 0);
  Tensor bias;
  if (bias_in.defined()) {
    detail::require_cpu_f32(kOp, bias_in, "bias");
    const Shape want = {b, h, lq, lk};
    if (bias_in.dim() > 4) fail(kOp, "bias " + shape_str(bias_in.shape()) + " has too many dims");
    bias = bias_in;
    for (int64_t i = 0; i < 4; ++i) {
      const int64_t bi = i - (4 - bias.dim());
      const int64_t sz = bi >= 0 ? bias.size(bi) : 1;
      if (sz != 1 && sz != want[i]) {
        fail(kOp, "bias " + shape_str(bias.shape()) + " does not broadcast to " + shape_str(want));
      }
      bst[i] = (bi >= 0 && sz != 1) ? bias.strides()[bi] : 0;
    }
  }
  Tensor out = Tensor::empty({b, h, lq, d});
  std::vector<float> s(static_cast<size_t>(lq * lk));
  const float* pq = q.data<float>();
  const float* pk = k.data<float>();
  const float* pv = v.data<float>();
  const float* pbias = bias.defined() ? bias.data<float>() : nullptr;
  float* po = out.data<float>();
  for (int64_t bi = 0; bi < b; ++bi) {
    for (int64_t hi = 0; hi < h; ++hi) {
      const float* qh = pq + bi * q.strides()[0] + hi * q.strides()[1];
      const float* kh = pk + bi * k.strides()[0] + hi * k.strides()[1];
      const float* vh = pv + bi * v.strides()[0] + hi * v.strides()[1];
      MatView mq{qh, lq, d, q.strides()[2], q.strides()[3]};
      MatView mkt{kh, d, lk, k.strides()[3], k.strides()[2]};  // K^T
      detail::gemm_strided(mq, mkt, s.data(), lk, scale, 0.f);
      for (int64_t i = 0; i < lq; ++i) {
        float* row = s.data() + i * lk;
        if (pbias) {
          const float* br = pbias + bi * bst[0] + hi * bst[1] + i * bst[2];
          for (int64_t j = 0; j < lk; ++j) row[j] += br[j * bst[3]];
        }
        detail::softmax_row(row, lk);
      }
      MatView ms{s.data(), lq, lk, lk, 1};
      MatView mv{vh, lk, d, v.strides()[2], v.strides()[3]};
      detail::gemm_strided(ms, mv, po + (bi * h + hi) * lq * d, d, 1.f, 0.f);
    }
  }
  return out;
}

Tensor multi_head_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                            const MultiheadAttentionWeights& w) {
  static constexpr const char* kOp = "multi_head_attention";
  // Device-agnostic: built from linear and scaled_dot_product_attention (which dispatch) and
  // views. On the CPU everything is float32; a CUDA query takes the CUDA ops' checks (device,
  // float32/float16, same dtype), which run inside those ops.
  if (!query.defined() || !key.defined() || !value.defined()) detail::fail(kOp, "undefined input");
  if (!query.device().is_cuda()) {
    detail::require_cpu_f32(kOp, query, "query");
    detail::require_cpu_f32(kOp, key, "key");
    detail::require_cpu_f32(kOp, value, "value");
  } else if (!key.device().is_cuda() || !value.device().is_cuda()) {
    throw Error(StatusCode::kFailedPrecondition,
                std::string(kOp) + ": query is on " + query.device().str() + " but key is on " +
                    key.device().str() + " and value on " + value.device().str());
  }
  if (query.dim() != 3 || key.dim() != 3 || value.dim() != 3) {
    fail(kOp, "query " + shape_str(query.shape()) + ", key " + shape_str(key.shape()) +
                  ", value " + shape_str(value.shape()) + " must be [B, L, E]");
  }
  const int64_t e = query.size(2), nh = w.num_heads;
  if (nh < 1 || e % nh != 0) {
    fail(kOp, "embed dim " + std::to_string(e) + " is not divisible by " + std::to_string(nh) +
                  " heads");
  }
  if (!w.in_proj_weight.defined() || w.in_proj_weight.shape() != Shape{3 * e, e} ||
      !w.out_proj_weight.defined() || w.out_proj_weight.shape() != Shape{e, e}) {
    fail(kOp, "in_proj_weight " + (w.in_proj_weight.defined() ? shape_str(w.in_proj_weight.shape()) : "undefined") +
                  " / out_proj_weight " +
                  (w.out_proj_weight.defined() ? shape_str(w.out_proj_weight.shape()) : "undefined") +
                  " do not match embed dim " + std::to_string(e));
  }
  if (key.size(0) != query.size(0) || value.size(0) != query.size(0) || key.size(2) != e ||
      value.size(2) != e || key.size(1) != value.size(1)) {
    fail(kOp, "query " + shape_str(query.shape()) + ", key " + shape_str(key.shape()) +
                  ", value " + shape_str(value.shape()) + " are inconsistent");
  }
  // Projections first .. first + count - 1 of the packed in_proj weight or bias.
  auto parts = [&](const Tensor& t, int64_t first, int64_t count) {
    return t.defined() ? t.slice(0, first * e, (first + count) * e) : Tensor();
  };
  const int64_t b = query.size(0), lq = query.size(1), lk = key.size(1), hd = e / nh;
  Tensor q, kk, vv;
  auto same_view = [](const Tensor& a, const Tensor& c) {
    return a.storage() == c.storage() && a.offset() == c.offset() && a.shape() == c.shape() &&
           a.strides() == c.strides();
  };
  if (same_view(query, key) && same_view(key, value)) {
    // Self-attention: one [B, L, 3E] projection.
    Tensor qkv = linear(query, w.in_proj_weight, w.in_proj_bias);
    q = qkv.slice(2, 0, e);
    kk = qkv.slice(2, e, 2 * e);
    vv = qkv.slice(2, 2 * e, 3 * e);
  } else if (query.device().is_cuda() && same_view(query, key)) {
    // Query = key, another value (D-FINE's decoder: target + pos, target): on CUDA q and k as one
    // [B, L, 2E] projection (one GEMM instead of two). The CPU keeps torch's three projections
    // (its _in_projection path for this case), bit for bit.
    Tensor qk = linear(query, parts(w.in_proj_weight, 0, 2), parts(w.in_proj_bias, 0, 2));
    q = qk.slice(2, 0, e);
    kk = qk.slice(2, e, 2 * e);
    vv = linear(value, parts(w.in_proj_weight, 2, 1), parts(w.in_proj_bias, 2, 1));
  } else {
    q = linear(query, parts(w.in_proj_weight, 0, 1), parts(w.in_proj_bias, 0, 1));
    kk = linear(key, parts(w.in_proj_weight, 1, 1), parts(w.in_proj_bias, 1, 1));
    vv = linear(value, parts(w.in_proj_weight, 2, 1), parts(w.in_proj_bias, 2, 1));
  }
  // [B, L, E] -> [B, H, L, hd] as strided views (no copy).
  auto heads = [&](const Tensor& t, int64_t len) {
    return Tensor(t.storage(), {b, nh, len, hd},
                  {t.strides()[0], hd * t.strides()[2], t.strides()[1], t.strides()[2]},
                  t.offset(), t.dtype());
  };
  Tensor o = scaled_dot_product_attention(heads(q, lq), heads(kk, lk), heads(vv, lk), Tensor(),
                                          1.f / std::sqrt(static_cast<float>(hd)));
  Tensor merged = o.permute({0, 2, 1, 3}).contiguous().view({b, lq, e});
  return linear(merged, w.out_proj_weight, w.out_proj_bias);
}

}  // namespace um::nn
