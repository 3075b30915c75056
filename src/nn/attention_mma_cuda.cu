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
// 1.270 ms.
// Layout: q, k, v [B, H, L, 32] views with the last dim contiguous and every row 16-byte aligned
// (the head views of D-FINE's packed projections read in place). The output is written with
// the heads merged: storage [B, Lq, H, 32], returned as its [B, H, Lq, 32] view, so that the
// caller's permute back to [B, Lq, H * 32] is free (no head-merge copy).
// Grid: x = b * H + h, y = tiles of 64 query rows. Block: 4 warps of 16 query rows; the block
// stages its q rows and ALL the head's k and v rows (zero rows up to a multiple of 16 keys) in
// shared memory with 16-byte cp.async copies, all in flight at once; each warp then runs the
// core over every key. Keys <= kMaxKeys (the staging must fit a block's shared memory).
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
constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kRows = kWarps * 16;  // query rows per block
// 512 keys: (64 + 2 * 512) rows of 80 bytes = 85 KiB of shared memory, which every sm_80+
// device grants a block (opted in); D-FINE needs 304 and 400.
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

size_t smem_bytes(int steps) {
  return sizeof(__half) * static_cast<size_t>(kRows + 2 * 16 * steps) * kLd;
}

// kSteps: the step count at compile time (1..4: one pass, scores in registers), 0 = a.steps.
template <int kSteps>
__global__ void __launch_bounds__(kThreads) attention_mma_kernel(MmaArgs a) {
  extern __shared__ __align__(16) unsigned char smem[];
  const int steps = kSteps > 0 ? kSteps : a.steps;
  __half* qs = reinterpret_cast<__half*>(smem);  // [kRows][kLd]
  __half* ks = qs + kRows * kLd;                 // [16 steps][kLd]
  __half* vs = ks + 16 * steps * kLd;            // [16 steps][kLd]
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
  const int tile = warp * 16;  // the warp's rows within the block
  if (row0 + tile >= a.lq) return;  // no row of this warp exists (no barrier follows)
  const int i0 = row0 + tile + (lane >> 2), i1 = i0 + 8;  // this lane's two query rows

  attention_mma::LaneRows rows;
  attention_mma::load_q_fragments(rows, qs + tile * kLd, lane);
  rows.ok0 = i0 < a.lq;
  rows.ok1 = i1 < a.lq;
  rows.bias0 = rows.bias1 = nullptr;
  rows.qk_scale = a.qk_scale;
  float o[kKeyDim / 8][4];
  attention_mma::attend_rows<attention_mma::BiasRead::kNone, kSteps>(o, rows, ks, vs, a.lk, steps,
                                                                     lane);

  __half* ob = a.out + bi * a.os[0] + hi * a.os[1] + (lane & 3) * 2;
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

template <int kSteps>
void launch(const MmaArgs& a, dim3 grid) {
  const size_t bytes = smem_bytes(a.steps);
  const auto kernel = attention_mma_kernel<kSteps>;
  if (!allow_dynamic_shared_memory(reinterpret_cast<const void*>(kernel), bytes)) {
    fail(kOp, std::to_string(a.lk) + " keys need " + std::to_string(bytes) +
                  " bytes of shared memory per block, more than the device grants");
  }
  kernel<<<grid, kThreads, bytes, stream()>>>(a);
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
  switch (a.steps) {
    case 1:
      launch<1>(a, grid);
      break;
    case 2:
      launch<2>(a, grid);
      break;
    case 3:
      launch<3>(a, grid);
      break;
    case 4:
      launch<4>(a, grid);
      break;
    default:
      launch<0>(a, grid);
      break;
  }
  check_launch(kOp);
}

}  // namespace um::nn::detail
