// File: src/nn/attention_mma_cuda.cu
// Purpose: the fused tensor-core attention for float16 head views of head dim 32 without bias
// (D-FINE's self-attentions: the encoder's AIFI over 400 tokens and the decoder's over its 300
// queries, 8 heads): softmax(scale * q k^T) v in ONE kernel, with the warp-level FlashAttention
// core of attention_mma_warp.cuh (S, the float32 statistics and P in registers; P rounded to
// float16 before P v, as PyTorch's float16 attention and the GEMM path do). Called by
// scaled_dot_product_attention_cuda (attention_cuda.cu), which checks the operands.
// Why: the GEMM path (attention_gemm_cuda.cu) ran these as a cuBLASLt q k^T into float32 scores,
// a softmax kernel, a cuBLASLt P v and, in the caller, the head-merge copy: four kernels and
// three passes over the scores per call, ~22 us under ncu for each of D-FINE-S's four calls
// (H200, session 12). Measured (H200, bench_cuda_attention, float16, same binary): 8 heads x 300
// 19.1 -> 9.8 us, 8 x 400 19.6 -> 11.7 us; D-FINE-S alone (bench --sequential-models) 1.308 ->
// 1.270 ms. With the keys split over 4 warps per row group (below): 9.8 -> 8.3 and 11.7 -> 9.6
// us, D-FINE-S 1.272 -> 1.265 ms.
// Layout: q, k, v [B, H, L, 32] views with the last dim contiguous and every row 16-byte aligned
// (the head views of D-FINE's packed projections read in place). The output is written with
// the heads merged: storage [B, Lq, H, 32], returned as its [B, H, Lq, 32] view, so that the
// caller's permute back to [B, Lq, H * 32] is free (no head-merge copy).
// Grid: x = b * H + h, y = tiles of 64 query rows. Block: 4 groups of 16 query rows; the block
// stages its q rows and ALL the head's k and v rows (zero rows up to a multiple of 16 keys) in
// shared memory with 16-byte cp.async copies, all in flight at once. Up to 64 keys one warp per
// group runs the core over every key (one pass); beyond, 2 or 4 warps per group each take a
// share of the keys (see the kernel). Keys <= kMaxKeys (the staging must fit a block's shared
// memory).
#include <cuda_fp16.h>

#include <cstdint>
#include <string>

#include "core/cuda/device_attribute.h"
#include "nn/attention_cuda.h"
#include "nn/attention_mma_warp.cuh"
#include "nn/cuda_op_util.cuh"
#include "nn/mma_sm80.cuh"
#include "nn/shared_memory_grant.cuh"

namespace um::nn::detail {
namespace {

using attention_mma::kChunks;
using attention_mma::kKeyDim;
using attention_mma::kLd;

constexpr const char* kOp = "scaled_dot_product_attention";
constexpr int kGroups = 4;           // 16-row warp groups per block
constexpr int kRows = kGroups * 16;  // query rows per block
// 512 keys: (64 + 2 * 512) rows of 80 bytes = 85 KiB of shared memory (+ 25 KiB of split
// exchange), which every sm_80+ device grants a block (opted in); D-FINE needs 304 and 400.
constexpr int64_t kMaxKeys = 512;

struct MmaArgs {
  const __half* q;
  const __half* k;
  const __half* v;
  __half* out;
  int64_t qs[3], ks[3], vs[3], os[3];  // batch, head, row strides (the last dim is contiguous)
  int heads, lq, lk, steps;            // steps: 16-key steps (keys padded with zero rows)
  float qk_scale;                      // scale * log2 e
};

// Shared memory: q, k and v rows (halfs), then with kSplit > 1 each part's row statistics
// [group][part][16 rows][max, sum] and the partial outputs of parts 1.. [group][part - 1][16]
// [kPartialLd] (floats; rows padded by 8 so the 8 rows of a fragment store hit distinct banks).
constexpr int kPartialLd = kKeyDim + 8;
size_t smem_bytes(int steps, int split) {
  const size_t rows = sizeof(__half) * static_cast<size_t>(kRows + 2 * 16 * steps) * kLd;
  if (split == 1) return rows;
  return rows + sizeof(float) * static_cast<size_t>(kGroups) * 16 *
                    (2 * split + (split - 1) * kPartialLd);
}

// kSteps: the step count at compile time (1..4: one pass, scores in registers), 0 = a.steps
// (two passes). kSplit: warps per 16-row group, each taking a contiguous share of the key steps
// (the two-pass path only): the per-row chain of steps, which bounds these small grids (D-FINE:
// 8 heads x 5 blocks), gets kSplit times shorter. The parts exchange their row statistics (the
// row's max and exp-sum over all keys: every part then forms the same P = exp(s - max) / sum)
// and part 0 adds the others' partial P v in part order (deterministic).
template <int kSteps, int kSplit>
__global__ void __launch_bounds__(kGroups * kSplit * 32) attention_mma_kernel(MmaArgs a) {
  static_assert(kSplit == 1 || kSteps == 0, "the key split runs the two-pass path");
  constexpr int kThreads = kGroups * kSplit * 32;
  using attention_mma::BiasRead;
  extern __shared__ __align__(16) unsigned char smem[];
  const int steps = kSteps > 0 ? kSteps : a.steps;
  __half* qs = reinterpret_cast<__half*>(smem);  // [kRows][kLd]
  __half* ks = qs + kRows * kLd;                 // [16 steps][kLd]
  __half* vs = ks + 16 * steps * kLd;            // [16 steps][kLd]
  float* stats = reinterpret_cast<float*>(vs + 16 * steps * kLd);  // kSplit > 1 only
  float* partial = stats + kGroups * kSplit * 16 * 2;
  const int bi = static_cast<int>(blockIdx.x) / a.heads, hi = static_cast<int>(blockIdx.x) % a.heads;
  const int row0 = static_cast<int>(blockIdx.y) * kRows;
  const __half* qb = a.q + bi * a.qs[0] + hi * a.qs[1];
  const __half* kb = a.k + bi * a.ks[0] + hi * a.ks[1];
  const __half* vb = a.v + bi * a.vs[0] + hi * a.vs[1];

  const uint4 zero = make_uint4(0u, 0u, 0u, 0u);
  for (int e = threadIdx.x; e < 16 * steps * kChunks; e += kThreads) {  // k and v, zero past lk
    const int t = e / kChunks, c = e % kChunks;
    __half* kd = ks + t * kLd + c * 8;
    __half* vd = vs + t * kLd + c * 8;
    if (t < a.lk) {
      cp_async16(kd, kb + t * a.ks[2] + c * 8);
      cp_async16(vd, vb + t * a.vs[2] + c * 8);
    } else {
      *reinterpret_cast<uint4*>(kd) = zero;
      *reinterpret_cast<uint4*>(vd) = zero;
    }
  }
  for (int e = threadIdx.x; e < kRows * kChunks; e += kThreads) {  // the block's q rows
    const int r = e / kChunks, c = e % kChunks, t = row0 + r;
    __half* qd = qs + r * kLd + c * 8;
    if (t < a.lq) {
      cp_async16(qd, qb + t * a.qs[2] + c * 8);
    } else {
      *reinterpret_cast<uint4*>(qd) = zero;
    }
  }
  cp_async_wait_all();
  __syncthreads();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int group = warp / kSplit, part = warp % kSplit;
  const int tile = group * 16;                 // the group's rows within the block
  const bool active = row0 + tile < a.lq;      // some row of the group exists
  const int gq = lane >> 2, tq = lane & 3;
  const int i0 = row0 + tile + gq, i1 = i0 + 8;  // this lane's two query rows

  attention_mma::LaneRows rows;
  attention_mma::load_q_fragments(rows, qs + tile * kLd, lane);
  rows.ok0 = i0 < a.lq;
  rows.ok1 = i1 < a.lq;
  rows.bias0 = rows.bias1 = nullptr;
  rows.qk_scale = a.qk_scale;
  float o[kKeyDim / 8][4];
  if constexpr (kSplit == 1) {
    if (!active) return;  // no barrier follows
    attention_mma::attend_rows<BiasRead::kNone, kSteps>(o, rows, ks, vs, a.lk, steps, lane);
  } else {
    // This part's steps [s0, s1) (empty for the last parts when the steps are few).
    const int share = (steps + kSplit - 1) / kSplit;
    const int s0 = min(steps, part * share), s1 = min(steps, s0 + share);
    float* my_stats = stats + ((group * kSplit + part) * 16) * 2;
    if (active) {
      const attention_mma::LaneStats st =
          attention_mma::lane_stats<BiasRead::kNone>(rows, ks, a.lk, s0, s1, lane);
      const attention_mma::RowStats r0 = attention_mma::row_stats(st.m0, st.sum0);
      const attention_mma::RowStats r1 = attention_mma::row_stats(st.m1, st.sum1);
      if (tq == 0) {
        my_stats[gq * 2] = r0.max;
        my_stats[gq * 2 + 1] = r0.sum;
        my_stats[(gq + 8) * 2] = r1.max;
        my_stats[(gq + 8) * 2 + 1] = r1.sum;
      }
    }
    __syncthreads();
    if (active) {
      // Every part combines the parts' statistics in the same order: the same max and sum.
      const float* group_stats = stats + group * kSplit * 16 * 2;
      float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
      for (int p = 0; p < kSplit; ++p) {
        mx0 = fmaxf(mx0, group_stats[(p * 16 + gq) * 2]);
        mx1 = fmaxf(mx1, group_stats[(p * 16 + gq + 8) * 2]);
      }
      const float base0 = attention_mma::exp_base(mx0), base1 = attention_mma::exp_base(mx1);
      float sum0 = 0.f, sum1 = 0.f;
#pragma unroll
      for (int p = 0; p < kSplit; ++p) {
        const float* r0 = group_stats + (p * 16 + gq) * 2;
        const float* r1 = group_stats + (p * 16 + gq + 8) * 2;
        // A part without any score (max -inf, sum 0) adds nothing (its 0 must not meet the
        // 2^(0 - base) of a very negative base, which may be inf).
        if (r0[0] != -INFINITY) sum0 += r0[1] * attention_mma::exp2_approx(r0[0] - base0);
        if (r1[0] != -INFINITY) sum1 += r1[1] * attention_mma::exp2_approx(r1[0] - base1);
      }
      const float inv0 = sum0 > 0.f ? 1.f / sum0 : 0.f, inv1 = sum1 > 0.f ? 1.f / sum1 : 0.f;
#pragma unroll
      for (int dn = 0; dn < kKeyDim / 8; ++dn) o[dn][0] = o[dn][1] = o[dn][2] = o[dn][3] = 0.f;
      attention_mma::accumulate_pv<BiasRead::kNone>(o, rows, ks, vs, a.lk, s0, s1, base0, base1,
                                                    inv0, inv1, lane);
      if (part != 0) {  // o [dn][e] -> partial [row][8 dn + 2 tq + (e & 1)]
        float* mine = partial + ((group * (kSplit - 1) + part - 1) * 16) * kPartialLd;
#pragma unroll
        for (int dn = 0; dn < kKeyDim / 8; ++dn) {
          *reinterpret_cast<float2*>(mine + gq * kPartialLd + dn * 8 + tq * 2) =
              make_float2(o[dn][0], o[dn][1]);
          *reinterpret_cast<float2*>(mine + (gq + 8) * kPartialLd + dn * 8 + tq * 2) =
              make_float2(o[dn][2], o[dn][3]);
        }
      }
    }
    __syncthreads();
    if (!active || part != 0) return;
#pragma unroll
    for (int p = 1; p < kSplit; ++p) {
      const float* theirs = partial + ((group * (kSplit - 1) + p - 1) * 16) * kPartialLd;
#pragma unroll
      for (int dn = 0; dn < kKeyDim / 8; ++dn) {
        const float2 x0 = *reinterpret_cast<const float2*>(theirs + gq * kPartialLd + dn * 8 + tq * 2);
        const float2 x1 =
            *reinterpret_cast<const float2*>(theirs + (gq + 8) * kPartialLd + dn * 8 + tq * 2);
        o[dn][0] += x0.x;
        o[dn][1] += x0.y;
        o[dn][2] += x1.x;
        o[dn][3] += x1.y;
      }
    }
  }

  __half* ob = a.out + bi * a.os[0] + hi * a.os[1] + tq * 2;
#pragma unroll
  for (int dn = 0; dn < kKeyDim / 8; ++dn) {
    if (rows.ok0) {
      *reinterpret_cast<__half2*>(ob + i0 * a.os[2] + dn * 8) =
          __floats2half2_rn(o[dn][0], o[dn][1]);
    }
    if (rows.ok1) {
      *reinterpret_cast<__half2*>(ob + i1 * a.os[2] + dn * 8) =
          __floats2half2_rn(o[dn][2], o[dn][3]);
    }
  }
}

template <int kSteps, int kSplit>
void launch(const MmaArgs& a, dim3 grid) {
  const size_t bytes = smem_bytes(a.steps, kSplit);
  const auto kernel = attention_mma_kernel<kSteps, kSplit>;
  if (!allow_dynamic_shared_memory(reinterpret_cast<const void*>(kernel), bytes)) {
    fail(kOp, std::to_string(a.lk) + " keys need " + std::to_string(bytes) +
                  " bytes of shared memory per block, more than the device grants");
  }
  kernel<<<grid, kGroups * kSplit * 32, bytes, stream()>>>(a);
}

// Every row of a [B, H, L, 32] view starts 16-byte aligned (cp.async copies).
bool rows_aligned16(const Tensor& t) {
  const auto& s = t.strides();
  return aligned16(t.raw_data()) && s[0] % 8 == 0 && s[1] % 8 == 0 && s[2] % 8 == 0;
}

}  // namespace

bool attention_mma_supported(const Tensor& q, const Tensor& k, const Tensor& v) {
  if (q.dtype() != DType::kF16 || q.size(3) != kKeyDim || k.size(2) > kMaxKeys) return false;
  for (const Tensor* t : {&q, &k, &v}) {
    if (t->strides()[3] != 1 || !rows_aligned16(*t)) return false;
  }
  // Element offsets in int (rows) times int64 strides: the counts must fit the launch geometry.
  if (q.size(0) * q.size(1) > INT32_MAX || q.size(2) > INT32_MAX / 2) return false;
  if ((q.size(2) + kRows - 1) / kRows > 65535) return false;
  return um::cuda::device_attribute(cudaDevAttrComputeCapabilityMajor) >= 8;
}

bool attention_mma_preferred(const Tensor& q, const Tensor& k, const Tensor& v) {
  constexpr int64_t kMinRows = 1024;  // as attention_gemm_preferred
  return q.size(0) * q.size(1) * q.size(2) >= kMinRows && attention_mma_supported(q, k, v);
}

Tensor attention_mma_output(const Tensor& q) {
  const int64_t b = q.size(0), h = q.size(1), lq = q.size(2), d = q.size(3);
  return Tensor::empty({b, lq, h, d}, q.dtype(), q.device()).permute({0, 2, 1, 3});
}

void attention_mma_launch(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                          Tensor& out) {
  MmaArgs a{};
  a.q = static_cast<const __half*>(q.raw_data());
  a.k = static_cast<const __half*>(k.raw_data());
  a.v = static_cast<const __half*>(v.raw_data());
  a.out = static_cast<__half*>(out.raw_data());
  for (int i = 0; i < 3; ++i) {
    a.qs[i] = q.strides()[i];
    a.ks[i] = k.strides()[i];
    a.vs[i] = v.strides()[i];
    a.os[i] = out.strides()[i];
  }
  if (out.strides()[3] != 1 || a.os[2] % 2 != 0 || a.os[1] % 2 != 0 || a.os[0] % 2 != 0) {
    fail(kOp, "the tensor-core kernel writes half pairs: out strides " +
                  shape_str(out.strides()) + " are not even with a contiguous last dim");
  }
  a.heads = static_cast<int>(q.size(1));
  a.lq = static_cast<int>(q.size(2));
  a.lk = static_cast<int>(k.size(2));
  a.steps = (a.lk + 15) / 16;
  a.qk_scale = scale * attention_mma::kLog2e;
  const dim3 grid(static_cast<unsigned>(q.size(0) * q.size(1)),
                  static_cast<unsigned>((a.lq + kRows - 1) / kRows));
  // Up to 4 steps: one pass. More: two passes, the keys split over 2 warps per row group up to
  // 8 steps, over 4 beyond (D-FINE's 19 and 25 steps: 5 and 7 per warp).
  switch (a.steps) {
    case 1:
      launch<1, 1>(a, grid);
      break;
    case 2:
      launch<2, 1>(a, grid);
      break;
    case 3:
      launch<3, 1>(a, grid);
      break;
    case 4:
      launch<4, 1>(a, grid);
      break;
    default:
      if (a.steps <= 8) {
        launch<0, 2>(a, grid);
      } else {
        launch<0, 4>(a, grid);
      }
      break;
  }
  check_launch(kOp);
}

}  // namespace um::nn::detail
