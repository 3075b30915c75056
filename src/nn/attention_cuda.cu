// File: src/nn/attention_cuda.cu
// Purpose: fused scaled dot-product attention on CUDA tensors: softmax(scale * q k^T + bias) v in
// one kernel with an online (flash-attention style) softmax, float32 scores, statistics and
// accumulators for float32 and float16 data. Any strides for q, k, v (permuted head views read
// in place); bias broadcast to [B, H, Lq, Lk] through zero strides (TinyViT's [H, 49, 49]).
// Grid: x = batch * head, y = tiles of kRows query rows. Block: one warp per query row. For
// every tile of 32 keys the block stages K and V in shared memory (float32, rows padded to D+1
// so that lane j reading key j's row is bank-conflict free); lane j scores key j, the warp
// reduces max/sum by shuffles, then each lane updates the output dims lane, lane+32, ... .
// Split-KV: when (batch * head * query tiles) blocks would leave the GPU mostly idle and the keys
// are many (SAM's 7 tokens attending to 4096 image positions), blockIdx.z splits the keys; each
// split writes its unnormalised accumulator and (max, sum) to float32 workspace Tensors, and a
// second kernel merges them (out = sum_s acc_s e^(m_s - M) / sum_s l_s e^(m_s - M)).
// Covers D <= 128; larger D is refused with a clear error.
// Dispatch (attention_cuda_auto_path): float16 attentions of head dim 32 without bias, with
// >= 1024 score rows and at most 512 keys take the fused tensor-core kernel of
// attention_mma_cuda.cu (D-FINE's 300 / 400); other float16 attentions with Lk >= 32, D >= 16,
// >= 1024 score rows and at most 64 MiB of float32 scores the tensor-core GEMM path of
// attention_gemm_cuda.cu; the rest with head dims <= 64 and a contiguous last dim the faster
// key-tiled kernel of attention_tiled_cuda.cu; this kernel is the fallback for head dims
// 65..128 and for views whose last dim is strided. Tests and the bench can force
// any path through attention_cuda_with_path (attention_cuda.h).
#include <algorithm>
#include <cmath>
#include <string>

#include "nn/attention_cuda.h"
#include "nn/cuda_op_util.cuh"
#include "nn/ops_cuda.h"

namespace um::nn::detail {
namespace {

constexpr int kRows = 8;       // query rows (warps) per block
constexpr int kKeys = 32;      // keys per shared-memory tile (one per lane)
constexpr int kMaxD = 128;
constexpr int kDChunks = kMaxD / 32;

struct Strides4 {
  int64_t s[4];
};

template <typename T>
__global__ void __launch_bounds__(kRows * 32)
    attention_kernel(const T* q, Strides4 qs, const T* k, Strides4 ks, const T* v, Strides4 vs,
                     const T* bias, Strides4 bs, T* out, int heads, int64_t lq, int64_t lk,
                     int d, float scale, int64_t keys_per_split, float* part_acc,
                     float* part_ml) {
  __shared__ float sk[kKeys][kMaxD + 1];
  __shared__ float sv[kKeys][kMaxD + 1];
  __shared__ float sq[kRows][kMaxD];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t bh = blockIdx.x;
  const int64_t bi = bh / heads, hi = bh % heads;
  const int64_t row = int64_t{blockIdx.y} * kRows + warp;
  const bool active = row < lq;
  const T* qb = q + bi * qs.s[0] + hi * qs.s[1];
  const T* kb = k + bi * ks.s[0] + hi * ks.s[1];
  const T* vb = v + bi * vs.s[0] + hi * vs.s[1];
  const T* brow = bias && active ? bias + bi * bs.s[0] + hi * bs.s[1] + row * bs.s[2] : nullptr;
  if (active) {
    for (int c = lane; c < d; c += 32) sq[warp][c] = to_f(qb[row * qs.s[2] + c * qs.s[3]]);
  }
  float m = -INFINITY, l = 0.f;
  float acc[kDChunks];
#pragma unroll
  for (int t = 0; t < kDChunks; ++t) acc[t] = 0.f;

  const int64_t split = blockIdx.z;
  const int64_t t_begin = split * keys_per_split;
  const int64_t t_end = t_begin + keys_per_split < lk ? t_begin + keys_per_split : lk;
  for (int64_t t0 = t_begin; t0 < t_end; t0 += kKeys) {
    const int valid = static_cast<int>(t_end - t0 < kKeys ? t_end - t0 : kKeys);
    __syncthreads();  // previous tile fully consumed (and sq written before the first tile)
    for (int idx = threadIdx.x; idx < kKeys * d; idx += kRows * 32) {
      const int j = idx / d, c = idx % d;
      float kv = 0.f, vv = 0.f;
      if (j < valid) {
        const int64_t key = t0 + j;
        kv = to_f(kb[key * ks.s[2] + c * ks.s[3]]);
        vv = to_f(vb[key * vs.s[2] + c * vs.s[3]]);
      }
      sk[j][c] = kv;
      sv[j][c] = vv;
    }
    __syncthreads();
    if (!active) continue;
    float s = -INFINITY;
    if (lane < valid) {
      float dot = 0.f;
      for (int c = 0; c < d; ++c) dot += sq[warp][c] * sk[lane][c];
      s = dot * scale;
      if (brow) s += to_f(brow[(t0 + lane) * bs.s[3]]);
    }
    const float tile_max = warp_max(s);
    const float m_new = fmaxf(m, tile_max);
    // While every score so far is -inf, use 0 as the reference so that exp() gives 0, not NaN.
    const float ref = m_new == -INFINITY ? 0.f : m_new;
    const float p = lane < valid ? expf(s - ref) : 0.f;
    const float rescale = expf(m - ref);  // 0 on the first tile (m = -inf)
    l = l * rescale + warp_sum(p);
#pragma unroll
    for (int t = 0; t < kDChunks; ++t) acc[t] *= rescale;
    for (int j = 0; j < valid; ++j) {
      const float pj = __shfl_sync(0xffffffffu, p, j);
#pragma unroll
      for (int t = 0; t < kDChunks; ++t) {
        const int c = lane + 32 * t;
        if (c < d) acc[t] += pj * sv[j][c];
      }
    }
    m = m_new;
  }
  if (!active) return;
  if (part_acc) {  // split-KV: the merge kernel normalises
    const int64_t slot = (bh * lq + row) * gridDim.z + split;
#pragma unroll
    for (int t = 0; t < kDChunks; ++t) {
      const int c = lane + 32 * t;
      if (c < d) part_acc[slot * d + c] = acc[t];
    }
    if (lane == 0) {
      part_ml[slot * 2] = m;
      part_ml[slot * 2 + 1] = l;
    }
    return;
  }
  // An all -inf row leaves l = 0: 0/0 = NaN, as torch and the CPU reference give.
  const float inv = 1.f / l;
  T* orow = out + (bh * lq + row) * d;
#pragma unroll
  for (int t = 0; t < kDChunks; ++t) {
    const int c = lane + 32 * t;
    if (c < d) orow[c] = from_f<T>(acc[t] * inv);
  }
}

// One warp per (batch * head, query row): merges the splits' partial results. The splits (at most
// kMaxSplits) are spread over the lanes for the statistics: every lane loads its splits' (max,
// sum) at once, two shuffle reductions give M and L, and each split's weight e^(m_s - M) goes to
// the warp's shared slots; then lanes take output dims and sum the splits' accumulators with 8
// loads in flight. (The first version had each lane walk all splits three times with one
// dependent load per step: 16 us for SAM's 56 rows x 32 splits under ncu on an H200, a memory
// latency per split.)
constexpr int kMaxSplits = 64;

template <typename T>
__global__ void __launch_bounds__(kRows * 32)
    merge_splits_kernel(const float* part_acc, const float* part_ml, T* out, int64_t rows,
                        int splits, int d) {
  __shared__ float weight[kRows][kMaxSplits];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t r = int64_t{blockIdx.x} * kRows + warp;
  if (r >= rows) return;  // whole warps leave; no block-wide barrier follows
  const float* ml = part_ml + r * splits * 2;
  float m[kMaxSplits / 32], l[kMaxSplits / 32];
  float mx = -INFINITY;
#pragma unroll
  for (int i = 0; i < kMaxSplits / 32; ++i) {
    const int s = lane + 32 * i;
    m[i] = s < splits ? ml[2 * s] : -INFINITY;
    l[i] = s < splits ? ml[2 * s + 1] : 0.f;
    mx = fmaxf(mx, m[i]);
  }
  mx = warp_max(mx);
  const float ref = mx == -INFINITY ? 0.f : mx;
  float sum = 0.f;
#pragma unroll
  for (int i = 0; i < kMaxSplits / 32; ++i) {
    const int s = lane + 32 * i;
    const float w = s < splits ? expf(m[i] - ref) : 0.f;
    if (s < splits) weight[warp][s] = w;
    sum += l[i] * w;
  }
  sum = warp_sum(sum);
  __syncwarp();
  const float inv = 1.f / sum;  // 0/0 = NaN for an all -inf row, as on the CPU
  const float* acc = part_acc + r * splits * d;
  for (int c = lane; c < d; c += 32) {
    float v = 0.f;
#pragma unroll 8
    for (int s = 0; s < splits; ++s) v += acc[s * d + c] * weight[warp][s];
    out[r * d + c] = from_f<T>(v * inv);
  }
}

Strides4 strides_of(const Tensor& t) {
  Strides4 s{};
  for (int i = 0; i < 4; ++i) s.s[i] = t.strides()[i];
  return s;
}

// The original kernel: any strides, D <= 128, split keys when the blocks are few.
void launch_generic(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias,
                    const Strides4& bst, float scale, Tensor& out) {
  static constexpr const char* kOp = "scaled_dot_product_attention";
  const int64_t b = q.size(0), h = q.size(1), lq = q.size(2), lk = k.size(2), d = q.size(3);
  const int64_t tiles = (lq + kRows - 1) / kRows;
  if (b * h > 0x7fffffffLL || tiles > 65535) {
    fail(kOp, "q " + shape_str(q.shape()) + " exceeds the CUDA launch grid");
  }
  // Split the keys only when the blocks would not fill the GPU (~2 waves of 132 SMs) and each
  // split still gets at least kMinKeysPerSplit keys.
  constexpr int64_t kTargetBlocks = 264, kMinKeysPerSplit = 256;
  const int64_t blocks = b * h * tiles;
  int64_t splits = 1;
  if (blocks < kTargetBlocks && lk >= 2 * kMinKeysPerSplit) {
    splits = std::min<int64_t>(kTargetBlocks / blocks, lk / kMinKeysPerSplit);
    splits = std::max<int64_t>(1, std::min<int64_t>(splits, 64));
  }
  // Whole key tiles per split; recount so that no split is empty.
  const int64_t key_tiles = (lk + kKeys - 1) / kKeys;
  const int64_t keys_per_split = ((key_tiles + splits - 1) / splits) * kKeys;
  splits = (lk + keys_per_split - 1) / keys_per_split;
  Tensor part_acc, part_ml;
  if (splits > 1) {
    part_acc = Tensor::empty({b * h * lq * splits * d}, DType::kF32, q.device());
    part_ml = Tensor::empty({b * h * lq * splits * 2}, DType::kF32, q.device());
  }
  float* pacc = splits > 1 ? part_acc.data<float>() : nullptr;
  float* pml = splits > 1 ? part_ml.data<float>() : nullptr;
  const dim3 grid(static_cast<unsigned>(b * h), static_cast<unsigned>(tiles),
                  static_cast<unsigned>(splits));
  UM_DISPATCH_FLOAT(q.dtype(), T, {
    attention_kernel<T><<<grid, kRows * 32, 0, stream()>>>(
        static_cast<const T*>(q.raw_data()), strides_of(q), static_cast<const T*>(k.raw_data()),
        strides_of(k), static_cast<const T*>(v.raw_data()), strides_of(v),
        bias.defined() ? static_cast<const T*>(bias.raw_data()) : nullptr, bst,
        static_cast<T*>(out.raw_data()), static_cast<int>(h), lq, lk, static_cast<int>(d), scale,
        keys_per_split, pacc, pml);
    check_launch(kOp);
  });
  if (splits > 1) {
    attention_merge_splits_launch(pacc, pml, out, b * h * lq, static_cast<int>(splits),
                                  static_cast<int>(d));
  }
}

Tensor attention_impl(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias,
                      float scale, const AttentionPath* forced) {
  static constexpr const char* kOp = "scaled_dot_product_attention";
  require_cuda_float(kOp, q, "q");
  require_like(kOp, k, "k", q);
  require_like(kOp, v, "v", q);
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4 || k.shape() != v.shape() ||
      q.size(0) != k.size(0) || q.size(1) != k.size(1) || q.size(3) != k.size(3)) {
    fail(kOp, "q " + shape_str(q.shape()) + ", k " + shape_str(k.shape()) + ", v " +
                  shape_str(v.shape()) + " are not [B, H, Lq, D], [B, H, Lk, D], [B, H, Lk, D]");
  }
  const int64_t b = q.size(0), h = q.size(1), lq = q.size(2), lk = k.size(2), d = q.size(3);
  Strides4 bst{};
  if (bias.defined()) {
    require_like(kOp, bias, "bias", q);
    const Shape want = {b, h, lq, lk};
    if (bias.dim() > 4) fail(kOp, "bias " + shape_str(bias.shape()) + " has too many dims");
    for (int64_t i = 0; i < 4; ++i) {
      const int64_t bi = i - (4 - bias.dim());
      const int64_t sz = bi >= 0 ? bias.size(bi) : 1;
      if (sz != 1 && sz != want[i]) {
        fail(kOp, "bias " + shape_str(bias.shape()) + " does not broadcast to " + shape_str(want));
      }
      bst.s[i] = (bi >= 0 && sz != 1) ? bias.strides()[bi] : 0;
    }
  }
  const AttentionPath path = forced ? *forced : attention_cuda_auto_path(q, k, v, bias);
  if (path != AttentionPath::kGemm && d > kMaxD) {
    fail(kOp, "head dim " + std::to_string(d) + " exceeds the CUDA kernel's maximum " +
                  std::to_string(kMaxD));
  }
  if (path == AttentionPath::kMma && (bias.defined() || !attention_mma_supported(q, k, v))) {
    fail(kOp, "the tensor-core kernel needs float16, head dim 32, at most 512 keys, 16-byte "
              "aligned rows and no bias; got q " + shape_str(q.shape()) + " strides " +
                  shape_str(q.strides()) + (bias.defined() ? " with a bias" : ""));
  }
  if (path == AttentionPath::kTiled && !attention_tiled_supported(q, k, v)) {
    fail(kOp, "the tiled kernel needs head dim <= 64 and a contiguous last dim; got q " +
                  shape_str(q.shape()) + " strides " + shape_str(q.strides()));
  }
  Tensor out = path == AttentionPath::kMma ? attention_mma_output(q)
                                           : Tensor::empty({b, h, lq, d}, q.dtype(), q.device());
  if (out.numel() == 0) return out;
  if (lk == 0) return Tensor::zeros({b, h, lq, d}, q.dtype(), q.device());  // empty softmax: sum 0
  if (path == AttentionPath::kMma) {
    attention_mma_launch(q, k, v, scale, out);
  } else if (path == AttentionPath::kGemm) {
    attention_gemm_launch(q, k, v, bias, bst.s, scale, out);
  } else if (path == AttentionPath::kTiled) {
    attention_tiled_launch(q, k, v, bias, bst.s, scale, out);
  } else {
    launch_generic(q, k, v, bias, bst, scale, out);
  }
  return out;
}

}  // namespace

void attention_merge_splits_launch(const float* part_acc, const float* part_ml, Tensor& out,
                                   int64_t rows, int splits, int d) {
  const int64_t blocks = (rows + kRows - 1) / kRows;
  if (blocks > 0x7fffffffLL) fail("scaled_dot_product_attention", "too many rows to merge");
  if (splits < 1 || splits > kMaxSplits) {  // the launchers cap their splits at 64
    fail("scaled_dot_product_attention",
         std::to_string(splits) + " key splits to merge; at most " + std::to_string(kMaxSplits));
  }
  UM_DISPATCH_FLOAT(out.dtype(), T, {
    merge_splits_kernel<T><<<static_cast<unsigned>(blocks), kRows * 32, 0, stream()>>>(
        part_acc, part_ml, static_cast<T*>(out.raw_data()), rows, splits, d);
    check_launch("scaled_dot_product_attention");
  });
}

AttentionPath attention_cuda_auto_path(const Tensor& q, const Tensor& k, const Tensor& v,
                                       const Tensor& bias) {
  // Float16 head dim 32 without bias and enough rows: the fused tensor-core kernel. Other
  // float16 attentions with enough keys and head dims for tensor-core tiles: the GEMM path. Else
  // the tiled kernel whenever it can take the operands (head dims <= 64, head views with a
  // contiguous last dim); the generic one for the rest.
  if (!bias.defined() && attention_mma_preferred(q, k, v)) return AttentionPath::kMma;
  if (attention_gemm_preferred(q, k, v)) return AttentionPath::kGemm;
  return attention_tiled_supported(q, k, v) ? AttentionPath::kTiled : AttentionPath::kGeneric;
}

Tensor attention_cuda_with_path(const Tensor& q, const Tensor& k, const Tensor& v,
                                const Tensor& bias, float scale, AttentionPath path) {
  return attention_impl(q, k, v, bias, scale, &path);
}

Tensor scaled_dot_product_attention_cuda(const Tensor& q, const Tensor& k, const Tensor& v,
                                         const Tensor& bias, float scale) {
  return attention_impl(q, k, v, bias, scale, nullptr);
}

}  // namespace um::nn::detail
