// File: src/nn/attention_mma_warp.cuh
// Purpose: the warp-level FlashAttention core that the float16 tensor-core attention kernels
// share (window_attention_cuda.cu: TinyViT's windows with their bias table; attention_mma_cuda.cu:
// D-FINE's self-attentions without bias): one warp, 16 query rows of head dim 32, keys and values
// staged row-major in shared memory; softmax(scale * q k^T + bias) v with S, the statistics and
// P in registers. Internal to um_nn (.cu files only).
// Method (mma.sync.m16n8k16: float16 products, float32 accumulation): the warp walks the keys in
// steps of 16 (two 8-key score tiles); each row's scores live in one quad of lanes (two shuffles
// per statistic). The normalised probabilities, rounded to float16 (as PyTorch's float16
// attention does before P @ v), are ALREADY the A operand of O = P v: the accumulator layout of
// two 8-key tiles is the A-fragment layout of one 16-key step. No S or P in memory.
// At most 64 keys (4 steps, known at compile time) keep all their scores in registers (one pass).
// More keys would need 8 score registers per lane and step, so they run two passes over the key
// steps and recompute S (the mma is cheap here): pass 1 keeps, per lane, the running max of its
// scores and their exp-sum rescaled to it (a scalar per row, no rescaled P or O); the quad then
// combines them into the row's max and sum. Pass 2 recomputes each step's scores with the same
// code (so bit-identical), forms P = exp(s - max) / sum rounded to float16 exactly as the
// one-pass path does and accumulates O = P v. Only the float32 summation order of the row sum
// differs between the two. The two passes are also callable on a share of the steps
// (lane_stats, row_stats, accumulate_pv), so that a kernel can split a row group's keys over
// several warps and combine their row statistics (attention_mma_cuda.cu).
// Scores are kept in log2 units (scale and bias pre-multiplied by log2 e) so that each exp is one
// ex2.approx (a few float32 ulp of error, far below the float16 rounding of P: 2^-11).
// Shared-memory layout the core reads: q, k and v rows of 32 halfs at a stride of kLd = 40 halfs
// (80 bytes): ldmatrix reads the k fragments and (transposing) the v fragments conflict-free, so
// no transposed copy of v is needed. Keys past the count must be staged as zero rows (their
// scores are masked to -inf, and P v must not read NaN garbage).
// Fragment layouts: see mma_sm80.cuh.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

#include "nn/mma_sm80.cuh"

namespace um::nn::detail::attention_mma {

constexpr int kKeyDim = 32;              // the head dim the core is built for
constexpr int kLd = kKeyDim + 8;         // q/k/v rows in shared memory: 80 bytes, conflict-free
constexpr int kChunks = kKeyDim / 8;     // 16-byte chunks per q/k/v row
constexpr int kOnePassSteps = 4;        // up to 64 keys: one pass, scores in registers
constexpr float kLog2e = 1.4426950408889634f;
constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ uint32_t load_pair(const __half* p) {
  return *reinterpret_cast<const uint32_t*>(p);
}
__device__ __forceinline__ uint32_t pack_pair(float lo, float hi) {
  const __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&h);
}
// 2^x; ex2(-inf) = +0. Flushing results below 2^-126 to zero changes nothing here (such a P
// rounds to 0 in float16 and vanishes next to the row sum, which is >= 1).
__device__ __forceinline__ float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
__device__ __forceinline__ float quad_max(float v) {  // the quad holding a row: lanes 4g .. 4g+3
  v = fmaxf(v, __shfl_xor_sync(kFullMask, v, 1));
  return fmaxf(v, __shfl_xor_sync(kFullMask, v, 2));
}
__device__ __forceinline__ float quad_sum(float v) {
  v += __shfl_xor_sync(kFullMask, v, 1);
  return v + __shfl_xor_sync(kFullMask, v, 2);
}
// The exponent base of a row: its max, or 0 for a row with no score (then every exp is 0).
__device__ __forceinline__ float exp_base(float mx) { return mx == -INFINITY ? 0.f : mx; }

// How the scores' bias is read: none, scalar halfs, or __half2 pairs (key count even, rows
// 4-byte aligned).
enum class BiasRead { kNone, kScalar, kPairs };

// One lane's two query rows i0 = row g and i1 = row g + 8 of its warp's 16.
struct LaneRows {
  uint32_t qa[2][4];           // A fragments of q, key_dim in two 16-wide steps
  const __half* bias0;         // bias rows of i0 and i1 (contiguous over the keys; unread for
  const __half* bias1;         // BiasRead::kNone or a row past the end)
  bool ok0, ok1;               // the row exists (its scores are computed, else -inf)
  float qk_scale;              // scale * log2 e
};

// The warp's 16 q rows (stride kLd halfs from `tile`) as A fragments.
__device__ __forceinline__ void load_q_fragments(LaneRows& r, const __half* tile, int lane) {
  const int gq = lane >> 2, tq = lane & 3;
#pragma unroll
  for (int k = 0; k < 2; ++k) {
    const __half* q0 = tile + gq * kLd + k * 16 + tq * 2;
    const __half* q1 = q0 + 8 * kLd;
    r.qa[k][0] = load_pair(q0);
    r.qa[k][1] = load_pair(q1);
    r.qa[k][2] = load_pair(q0 + 8);
    r.qa[k][3] = load_pair(q1 + 8);
  }
}

// Bias of keys j and j + 1 (j even) of both rows, times log2 e: b[0..1] row i0, b[2..3] row i1;
// 0 where the key or row is masked (the score is replaced by -inf there).
template <BiasRead B>
__device__ __forceinline__ void load_bias(float (&b)[4], const LaneRows& r, int j, int n) {
  if constexpr (B == BiasRead::kNone) {
    b[0] = b[1] = b[2] = b[3] = 0.f;
  } else if constexpr (B == BiasRead::kPairs) {  // n even: j < n implies j + 1 < n
    __half2 h0 = __float2half2_rn(0.f), h1 = h0;
    if (j < n) {
      if (r.ok0) h0 = __ldg(reinterpret_cast<const __half2*>(r.bias0 + j));
      if (r.ok1) h1 = __ldg(reinterpret_cast<const __half2*>(r.bias1 + j));
    }
    const float2 f0 = __half22float2(h0), f1 = __half22float2(h1);
    b[0] = f0.x * kLog2e;
    b[1] = f0.y * kLog2e;
    b[2] = f1.x * kLog2e;
    b[3] = f1.y * kLog2e;
  } else {
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const bool key = j + e < n;
      b[e] = key && r.ok0 ? __half2float(__ldg(r.bias0 + j + e)) * kLog2e : 0.f;
      b[2 + e] = key && r.ok1 ? __half2float(__ldg(r.bias1 + j + e)) * kLog2e : 0.f;
    }
  }
}

// Scores of the 16 keys key0 .. key0 + 15 in log2 units: sc[u] is the C tile of keys
// key0 + 8u .. + 7 (sc[u][e]: row i0, key key0 + 8u + 2t + e; sc[u][2 + e]: row i1). Keys past
// n, and rows that do not exist, are -inf. Both passes of the two-pass path run this same code,
// so a recomputed score is bit-identical to the one its row statistics were taken from.
template <BiasRead B>
__device__ __forceinline__ void step_scores(float (&sc)[2][4], const LaneRows& r,
                                            const __half* ks, int key0, int n, int lane) {
  const int tq = lane & 3;
  float b[2][4];
#pragma unroll
  for (int u = 0; u < 2; ++u) load_bias<B>(b[u], r, key0 + u * 8 + tq * 2, n);
#pragma unroll
  for (int u = 0; u < 2; ++u) {  // S = q k^T: B[k][col] = k_token[col][k]; matrix i = k 8i..8i+7
    uint32_t kb[4];
    ldmatrix_x4(kb, ks + (key0 + u * 8 + (lane & 7)) * kLd + (lane >> 3) * 8);
    sc[u][0] = sc[u][1] = sc[u][2] = sc[u][3] = 0.f;
    mma_16816(sc[u], r.qa[0], kb[0], kb[1]);
    mma_16816(sc[u], r.qa[1], kb[2], kb[3]);
  }
#pragma unroll
  for (int u = 0; u < 2; ++u) {
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const bool key = key0 + u * 8 + tq * 2 + e < n;
      sc[u][e] = key && r.ok0 ? fmaf(sc[u][e], r.qk_scale, b[u][e]) : -INFINITY;
      sc[u][2 + e] = key && r.ok1 ? fmaf(sc[u][2 + e], r.qk_scale, b[u][2 + e]) : -INFINITY;
    }
  }
}

// O += P v for the 16 keys key0 ..: p holds exp(s - max) of step_scores' layout; P = p * inv,
// rounded to float16, is the A fragment. v^T's B fragments come from ldmatrix.trans of the
// row-major v: matrix i = keys key0 + 8 (i & 1) .., key_dim 8 (2 dp + i / 2) ..
__device__ __forceinline__ void pv_step(float (&o)[kKeyDim / 8][4], const float (&p)[2][4],
                                        float inv0, float inv1, const __half* vs, int key0,
                                        int lane) {
  const uint32_t pa[4] = {pack_pair(p[0][0] * inv0, p[0][1] * inv0),
                          pack_pair(p[0][2] * inv1, p[0][3] * inv1),
                          pack_pair(p[1][0] * inv0, p[1][1] * inv0),
                          pack_pair(p[1][2] * inv1, p[1][3] * inv1)};
#pragma unroll
  for (int dp = 0; dp < kKeyDim / 16; ++dp) {
    uint32_t vb[4];
    ldmatrix_x4_trans(vb, vs + (key0 + (lane & 15)) * kLd + (dp * 2 + (lane >> 4)) * 8);
    mma_16816(o[2 * dp], pa, vb[0], vb[1]);
    mma_16816(o[2 * dp + 1], pa, vb[2], vb[3]);
  }
}

// Pass 1 of the two-pass path over steps [s0, s1): per lane, the running max of its scores and
// their exp-sum relative to it, for rows i0 and i1 (m = -inf and sum = 0 without any score).
// (Steps unrolled by 4: a full unroll hoists every step's bias loads and takes all 128
// registers, spilling in the scalar-bias variants; by 4, 208 keys take 70 registers with bias
// pairs, 90 with scalar bias loads.)
struct LaneStats {
  float m0, m1, sum0, sum1;
};
template <BiasRead B>
__device__ __forceinline__ LaneStats lane_stats(const LaneRows& rows, const __half* ks, int n,
                                                int s0, int s1, int lane) {
  float m0 = -INFINITY, m1 = -INFINITY, sum0 = 0.f, sum1 = 0.f;
#pragma unroll 4
  for (int m = s0; m < s1; ++m) {
    float sc[2][4];
    step_scores<B>(sc, rows, ks, m * 16, n, lane);
    const float n0 = fmaxf(m0, fmaxf(fmaxf(sc[0][0], sc[0][1]), fmaxf(sc[1][0], sc[1][1])));
    const float n1 = fmaxf(m1, fmaxf(fmaxf(sc[0][2], sc[0][3]), fmaxf(sc[1][2], sc[1][3])));
    const float b0 = exp_base(n0), b1 = exp_base(n1);
    float add0 = 0.f, add1 = 0.f;
#pragma unroll
    for (int u = 0; u < 2; ++u) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        add0 += exp2_approx(sc[u][e] - b0);
        add1 += exp2_approx(sc[u][2 + e] - b1);
      }
    }
    sum0 = sum0 * exp2_approx(m0 - b0) + add0;  // m0 = -inf (no score yet): sum0 is 0
    sum1 = sum1 * exp2_approx(m1 - b1) + add1;
    m0 = n0;
    m1 = n1;
  }
  return {m0, m1, sum0, sum1};
}

// A row's statistics over the keys seen: its max (-inf without any score) and its exp-sum
// relative to exp_base(max).
struct RowStats {
  float max, sum;
  __device__ __forceinline__ float inv() const { return sum > 0.f ? 1.f / sum : 0.f; }
};
// The quad's four lane statistics of one row (lane_stats' m, sum) -> the row's.
__device__ __forceinline__ RowStats row_stats(float m, float sum) {
  const float mx = quad_max(m);
  return {mx, quad_sum(sum * exp2_approx(m - exp_base(mx)))};
}

// Pass 2 over steps [s0, s1): the same scores again, P = exp(s - base) * inv, O += P v.
template <BiasRead B>
__device__ __forceinline__ void accumulate_pv(float (&o)[kKeyDim / 8][4], const LaneRows& rows,
                                              const __half* ks, const __half* vs, int n, int s0,
                                              int s1, float base0, float base1, float inv0,
                                              float inv1, int lane) {
#pragma unroll 4
  for (int m = s0; m < s1; ++m) {
    float sc[2][4];
    step_scores<B>(sc, rows, ks, m * 16, n, lane);
#pragma unroll
    for (int u = 0; u < 2; ++u) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        sc[u][e] = exp2_approx(sc[u][e] - base0);
        sc[u][2 + e] = exp2_approx(sc[u][2 + e] - base1);
      }
    }
    pv_step(o, sc, inv0, inv1, vs, m * 16, lane);
  }
}

// o = softmax(scores) v for the warp's 16 rows over keys 0 .. n - 1 staged as `steps` 16-key
// steps (zero rows past n). kSteps: the step count when known at compile time (one pass when it
// is at most kOnePassSteps), 0 = `steps` at run time (two passes). o[dn][e]: row i0 (e < 2) or
// i1, dims 8 dn + 2t + (e & 1).
template <BiasRead B, int kSteps>
__device__ __forceinline__ void attend_rows(float (&o)[kKeyDim / 8][4], const LaneRows& rows,
                                            const __half* ks, const __half* vs, int n, int steps,
                                            int lane) {
#pragma unroll
  for (int dn = 0; dn < kKeyDim / 8; ++dn) o[dn][0] = o[dn][1] = o[dn][2] = o[dn][3] = 0.f;
  if constexpr (kSteps > 0 && kSteps <= kOnePassSteps) {
    // One pass: every score in registers (kSteps * 8 per lane).
    float s[kSteps][2][4];
#pragma unroll
    for (int m = 0; m < kSteps; ++m) step_scores<B>(s[m], rows, ks, m * 16, n, lane);
    float m0 = -INFINITY, m1 = -INFINITY;
#pragma unroll
    for (int m = 0; m < kSteps; ++m) {
#pragma unroll
      for (int u = 0; u < 2; ++u) {
        m0 = fmaxf(m0, fmaxf(s[m][u][0], s[m][u][1]));
        m1 = fmaxf(m1, fmaxf(s[m][u][2], s[m][u][3]));
      }
    }
    const float base0 = exp_base(quad_max(m0)), base1 = exp_base(quad_max(m1));
    float sum0 = 0.f, sum1 = 0.f;
#pragma unroll
    for (int m = 0; m < kSteps; ++m) {
#pragma unroll
      for (int u = 0; u < 2; ++u) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          s[m][u][e] = exp2_approx(s[m][u][e] - base0);
          s[m][u][2 + e] = exp2_approx(s[m][u][2 + e] - base1);
          sum0 += s[m][u][e];
          sum1 += s[m][u][2 + e];
        }
      }
    }
    sum0 = quad_sum(sum0);
    sum1 = quad_sum(sum1);
    const float inv0 = sum0 > 0.f ? 1.f / sum0 : 0.f, inv1 = sum1 > 0.f ? 1.f / sum1 : 0.f;
#pragma unroll
    for (int m = 0; m < kSteps; ++m) pv_step(o, s[m], inv0, inv1, vs, m * 16, lane);
  } else {
    const int ns = kSteps > 0 ? kSteps : steps;
    const LaneStats st = lane_stats<B>(rows, ks, n, 0, ns, lane);
    // The quad's four partial statistics of each row -> the row's max and exp-sum.
    const RowStats r0 = row_stats(st.m0, st.sum0), r1 = row_stats(st.m1, st.sum1);
    accumulate_pv<B>(o, rows, ks, vs, n, 0, ns, exp_base(r0.max), exp_base(r1.max), r0.inv(),
                     r1.inv(), lane);
  }
}

}  // namespace um::nn::detail::attention_mma
