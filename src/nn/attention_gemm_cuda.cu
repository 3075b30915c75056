// File: src/nn/attention_gemm_cuda.cu
// Purpose: the tensor-core attention path: softmax(scale * q k^T + bias) v as two strided-batched
// cuBLASLt GEMMs around one softmax kernel, for the float16 window attentions of TinyViT
// (49 x 49 and 196 x 196 per window and head, head dim 32) whose fused SIMT kernels leave the
// tensor cores idle. Float32 runs the same code with true-fp32 GEMMs (tests compare it tightly
// with the CPU op). Called by scaled_dot_product_attention_cuda (attention_cuda.cu) after its
// argument checks, when attention_gemm_preferred says so or a caller forces AttentionPath::kGemm.
//
// Steps, all on the current stream, scratch from the current pool (Tensor::empty), no host sync:
//   1. S[t] = q[t] @ k[t]^T for t = b * H + h (batch = B * H): ONE strided-batched GEMM into a
//      float32 scratch S [batch, Lq, Lk] (float16 q/k: fp16 tensor-core products, fp32
//      accumulate and fp32 output, lt_gemm's c_float32). k^T is k read as a transposed operand
//      (no copy).
//   2. P = softmax(S * scale + bias) per row, statistics in float32 (max-subtracted; a row whose
//      every score is -inf gives NaN, as the CPU op and torch do), written in the input dtype
//      [batch, Lq, Lk] (scores_softmax_kernel below: one warp per row).
//   The rows of S and P are stored with a stride of Lk rounded up to 8 elements (kPad), so that
//   every row and every batch matrix starts 16-byte aligned: 49-key rows (98 bytes in float16)
//   would otherwise restrict cuBLASLt to its 2-byte-aligned kernels. The padding columns are
//   never written by the softmax nor read by the PV GEMM (its k is Lk).
//   3. out[t] = P[t] @ v[t]: a second strided-batched GEMM (fp32 accumulate) straight into the
//      contiguous output [B, H, Lq, D].
// Precision (float16): P is rounded to float16 before the PV GEMM. That is what PyTorch's fp16
// math path does too (softmax(...).to(fp16) @ v); the fused kernels keep p in float32, so their
// results differ from this path by about one float16 rounding of p (relative 2^-11).
// Operand layouts: cuBLASLt's strided batch takes ONE batch stride per operand. A head view
// whose (B, H) steps fold into one stride (stride(B) == H * stride(H), or B == 1, or H == 1) and
// whose last two strides are a BLAS layout is read in place; any other view (TinyViT's
// per-head-packed qkv: q = qkv[bw, n, h, 3*kd].slice(...).permute(0, 2, 1, 3), whose window and
// head steps do not fold) is first made contiguous (one copy kernel per such operand).
#include <cmath>
#include <cstdint>
#include <string>

#include <cstdlib>

#include "nn/attention_cuda.h"
#include "nn/cublaslt_context.h"
#include "nn/cuda_op_util.cuh"

namespace um::nn::detail {
namespace {

constexpr const char* kOp = "scaled_dot_product_attention";
constexpr int kRowsPerBlock = 8;  // one warp per row of S
constexpr int64_t kPad = 8;       // row strides of S and P: Lk rounded up to a multiple of this

struct BiasStrides {
  int64_t s[4];  // bias strides broadcast to [B, H, Lq, Lk] (0 on broadcast dims)
};

// One warp per row r of S (r = (b * H + h) * Lq + i; row r of S and P starts at r * ld):
// x_j = S[r, j] * scale + bias[b, h, i, j],
// P[r, j] = exp(x_j - max_j x) / sum_j exp(x_j - max_j x). Three plain passes over the row
// (max, sum, write); the row (Lk floats) stays in L1/L2 between them. A row whose scores are all
// -inf: the reference 0 makes every exp 0, sum 0, 1/sum = inf and 0 * inf = NaN (as the CPU op).
template <typename T>
__global__ void __launch_bounds__(kRowsPerBlock * 32)
    scores_softmax_kernel(const float* s, const T* bias, BiasStrides bs, T* p, int64_t rows,
                          int64_t lq, int64_t heads, int64_t lk, int64_t ld, float scale) {
  const int64_t row = int64_t{blockIdx.x} * kRowsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;  // the whole warp leaves together: the shuffles below stay full
  const float* srow = s + row * ld;
  const T* brow = nullptr;
  if (bias) {
    const int64_t bh = row / lq, i = row - bh * lq;
    const int64_t bi = bh / heads, hi = bh - bi * heads;
    brow = bias + bi * bs.s[0] + hi * bs.s[1] + i * bs.s[2];
  }
  auto score = [&](int64_t j) {
    float x = srow[j] * scale;
    if (brow) x += to_f(brow[j * bs.s[3]]);
    return x;
  };
  float mx = -INFINITY;
  for (int64_t j = lane; j < lk; j += 32) mx = fmaxf(mx, score(j));
  mx = warp_max(mx);
  const float ref = mx == -INFINITY ? 0.f : mx;
  float sum = 0.f;
  for (int64_t j = lane; j < lk; j += 32) sum += expf(score(j) - ref);
  sum = warp_sum(sum);
  const float inv = 1.f / sum;
  T* prow = p + row * ld;
  for (int64_t j = lane; j < lk; j += 32) prow[j] = from_f<T>(expf(score(j) - ref) * inv);
}

// The (B, H) dims of t [B, H, L, D] as one batch stride: true when batch t = b * H + h starts at
// t * stride for every (b, h).
bool fold_batch(const Tensor& t, int64_t* stride) {
  const int64_t nb = t.size(0), nh = t.size(1), sb = t.strides()[0], sh = t.strides()[1];
  if (nh == 1) {
    *stride = sb;
    return true;
  }
  if (nb == 1 || sb == nh * sh) {
    *stride = sh;
    return true;
  }
  return false;
}

// t [B, H, L, D] as B * H matrices [L, D] (transposed: [D, L]) for lt_gemm: in place when the
// batch folds into one non-zero stride and the last two strides are a BLAS layout, else t is
// replaced by a contiguous copy (batch stride L * D).
LtMatrix head_matrices(Tensor& t, bool transposed) {
  const int64_t l = t.size(2), d = t.size(3);
  const int64_t rows = transposed ? d : l, cols = transposed ? l : d;
  const int64_t nbatch = t.size(0) * t.size(1);
  int64_t bstride = 0;
  if (fold_batch(t, &bstride) && (nbatch == 1 || bstride != 0)) {
    const int64_t rs = t.strides()[2], cs = t.strides()[3];
    const LtMatrix m = transposed ? LtMatrix{t.raw_data(), cs, rs, bstride}
                                  : LtMatrix{t.raw_data(), rs, cs, bstride};
    if (lt_operand_ok(m, rows, cols)) return m;
  }
  t = t.contiguous();
  // Dense [L, D] per batch: element (i, c) at i * D + c.
  return transposed ? LtMatrix{t.raw_data(), 1, d, l * d} : LtMatrix{t.raw_data(), d, 1, l * d};
}

}  // namespace

bool attention_gemm_preferred(const Tensor& q, const Tensor& k, const Tensor& v) {
  (void)v;
  // Float16 only (float32 keeps the fused kernel: its GEMMs would be true fp32 on CUDA cores);
  // keys >= 32 and head dim >= 16 so that the GEMMs have tensor-core sized tiles; at least
  // kMinRows score rows, since the softmax kernel runs one warp per row (SAM's 8 heads x 7 tokens
  // attending to 4096 positions would be 56 warps walking 4096 keys each, where the tiled kernel
  // splits the keys over ~256 blocks); the float32 score scratch at most 64 MiB.
  constexpr int64_t kMaxScratchBytes = int64_t{64} << 20;
  constexpr int64_t kMinRows = 1024;
  if (q.dtype() != DType::kF16) return false;
  // UM_ATTENTION_PATH=tiled keeps the fused kernels (for side-by-side timing of the two paths).
  static const bool disabled = [] {
    const char* e = std::getenv("UM_ATTENTION_PATH");
    return e != nullptr && std::string(e) == "tiled";
  }();
  if (disabled) return false;
  const int64_t batch = q.size(0) * q.size(1), lq = q.size(2), lk = k.size(2), d = q.size(3);
  if (lk < 32 || d < 16 || batch * lq < kMinRows) return false;
  // Divide instead of multiplying: no overflow for absurd shapes.
  if (batch > 0 && lq > 0 && lk > kMaxScratchBytes / 4 / batch / lq) return false;
  return true;
}

void attention_gemm_launch(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                           const Tensor& bias, const int64_t bias_strides[4], float scale,
                           Tensor& out) {
  const int64_t b = q_in.size(0), h = q_in.size(1), lq = q_in.size(2), lk = k_in.size(2);
  const int64_t d = q_in.size(3), batch = b * h;
  if (batch < 1 || lq < 1 || lk < 1 || d < 1) fail(kOp, "empty GEMM attention");  // host checks
  const int64_t ld = (lk + kPad - 1) / kPad * kPad;  // row stride of S and P
  const int64_t cells = batch * lq * ld;             // of S and P
  if (cells / ld / lq != batch) fail(kOp, "scores of q " + shape_str(q_in.shape()) + " overflow");
  Tensor q = q_in, k = k_in, v = v_in;
  const LtMatrix qa = head_matrices(q, false);  // [Lq, D]
  const LtMatrix kt = head_matrices(k, true);   // k^T [D, Lk]
  const LtMatrix vb = head_matrices(v, false);  // [Lk, D]

  // 1. S = q @ k^T, float32.
  Tensor s = Tensor::empty({batch, lq, ld}, DType::kF32, q.device());
  LtGemm g1;
  g1.dtype = q.dtype();
  g1.m = lq;
  g1.n = lk;
  g1.k = d;
  g1.batch = batch;
  g1.a = qa;
  g1.b = kt;
  g1.c = s.raw_data();
  g1.c_float32 = true;
  g1.ldc = ld;
  lt_gemm(g1);

  // 2. P = softmax(S * scale + bias) in the input dtype.
  Tensor p = Tensor::empty({batch, lq, ld}, q.dtype(), q.device());
  BiasStrides bs{};
  for (int i = 0; i < 4; ++i) bs.s[i] = bias_strides[i];
  const int64_t rows = batch * lq;
  const int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  if (blocks > 0x7fffffffLL) fail(kOp, "q " + shape_str(q_in.shape()) + " has too many rows");
  UM_DISPATCH_FLOAT(q.dtype(), T, {
    scores_softmax_kernel<T><<<static_cast<unsigned>(blocks), kRowsPerBlock * 32, 0, stream()>>>(
        s.data<float>(), bias.defined() ? static_cast<const T*>(bias.raw_data()) : nullptr, bs,
        static_cast<T*>(p.raw_data()), rows, lq, h, lk, ld, scale);
    check_launch(kOp);
  });

  // 3. out = P @ v (fp32 accumulate) into the contiguous [B, H, Lq, D] output. For float16, P was
  // rounded to float16 above: PyTorch's fp16 math attention rounds it the same way.
  LtGemm g2;
  g2.dtype = q.dtype();
  g2.m = lq;
  g2.n = d;
  g2.k = lk;
  g2.batch = batch;
  g2.a = LtMatrix{p.raw_data(), ld, 1, lq * ld};  // [Lq, Lk] of row stride ld
  g2.b = vb;
  g2.c = out.raw_data();
  lt_gemm(g2);
}

}  // namespace um::nn::detail
