// File: src/nn/attention_tiled_cuda.cu
// Purpose: the fast CUDA attention kernel for head dims <= 64 with a contiguous last dim (every
// attention of the models: TinyViT windows 49 x 49 and 196 x 196 with a [H, N, N] bias, SAM's
// 4096 x 7, 7 x 4096 and 7 x 7, D-FINE's 300 x 300 and 400 x 400; head dims 16 and 32):
// softmax(scale * q k^T + bias) v with an online softmax over tiles of 64 keys, float32 scores,
// statistics and accumulators for float32 and float16 data. Called by
// scaled_dot_product_attention_cuda (attention_cuda.cu), which checks the operands.
//
// Layout (all indices in elements):
//   q [B, H, Lq, D] at q + b*qs0 + h*qs1 + row*qs2 + c     (last dim contiguous)
//   k, v [B, H, Lk, D] likewise with their own strides     (head views of a packed qkv are fine)
//   bias broadcast to [B, H, Lq, Lk] through strides bs0..bs3 (0 on broadcast dims), any strides
//   out [B, H, Lq, D] contiguous: out + ((b*H + h)*Lq + row)*D + c
// Grid: x = b*H + h; y = block of kWarps*R query rows; z = key split (1 unless the blocks are few).
// Block: kWarps warps; warp w owns the rows row0 + r*kWarps + w for r < R (R rows per warp, their
// softmax state in registers). Shared memory (dynamic, float32, 16-byte aligned pieces):
//   sk [64][D|1]   key tile; the odd row stride makes lane j reading row j conflict-free
//   sv [64][D]     value tile; lane c reading column c of one row is conflict-free
//   sq [kWarps][D][R]  the warp's query rows, the R rows of one dim adjacent (one float4 load
//                      gives 4 rows' q[c]: each K value read from shared memory once per warp)
//   sp [kWarps][64][R] the warp's probabilities p[r][j], likewise (each V value read once)
// Per tile: lane j scores keys j and j+32 for all R rows (dot over D), the warp reduces max and
// sum per row by xor-shuffles (online softmax), writes p to sp, then lane c accumulates output
// dims c and c+32 of all R rows over the tile's keys. The staging loads 16-byte vectors (8 halves
// / 4 floats) when every row start of k and v is 16-byte aligned, else single elements; both are
// coalesced along D. Rows past Lq get q = 0 (finite, never written out).
// Split keys: as in the generic kernel, each split writes its unnormalised accumulator and
// (max, sum) to float32 workspaces [rows, splits, D] / [rows, splits, 2] and
// attention_merge_splits_launch combines them.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "nn/attention_cuda.h"
#include "nn/cuda_op_util.cuh"

namespace um::nn::detail {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kTileKeys = 64;  // two keys per lane
constexpr int kMaxD = 64;      // two output dims per lane
constexpr int64_t kMaxSmemBytes = 48 * 1024;  // no opt-in needed below this

struct TiledArgs {
  const void* q;
  const void* k;
  const void* v;
  const void* bias;  // nullptr: no bias
  void* out;
  int64_t qs[3], ks[3], vs[3];  // batch, head, row strides (the last dim is contiguous)
  int64_t bs[4];                // bias strides broadcast to [B, H, Lq, Lk]
  int heads;
  int64_t lq, lk;
  int d;
  float scale;
  bool vec;                // 16-byte staging loads (host checked the alignment)
  int64_t keys_per_split;  // a multiple of kTileKeys
  float* part_acc;         // split workspaces, nullptr when not split
  float* part_ml;
};

// 16 bytes of T -> floats.
template <typename T> struct Vec16;
template <> struct Vec16<float> {
  static constexpr int kN = 4;
  static __device__ __forceinline__ void load(const float* p, float* o) {
    const float4 x = *reinterpret_cast<const float4*>(p);
    o[0] = x.x;
    o[1] = x.y;
    o[2] = x.z;
    o[3] = x.w;
  }
};
template <> struct Vec16<__half> {
  static constexpr int kN = 8;
  static __device__ __forceinline__ void load(const __half* p, float* o) {
    const uint4 x = *reinterpret_cast<const uint4*>(p);
    const __half2* h = reinterpret_cast<const __half2*>(&x);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float2 f = __half22float2(h[i]);
      o[2 * i] = f.x;
      o[2 * i + 1] = f.y;
    }
  }
};

__device__ __forceinline__ float warp_max(float x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}
__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

// R consecutive floats of shared memory -> registers; float4 loads when R % 4 == 0 (the
// caller's addresses are then 16-byte aligned: see the carve-up in the kernel).
template <int R>
__device__ __forceinline__ void load_rows(const float* p, float* o) {
  if constexpr (R % 4 == 0) {
#pragma unroll
    for (int i = 0; i < R; i += 4) {
      const float4 x = *reinterpret_cast<const float4*>(p + i);
      o[i] = x.x;
      o[i + 1] = x.y;
      o[i + 2] = x.z;
      o[i + 3] = x.w;
    }
  } else {
#pragma unroll
    for (int i = 0; i < R; ++i) o[i] = p[i];
  }
}

// kD > 0: the head dim is kD (compile-time, loops unrolled); kD == 0: a.d (<= kMaxD).
template <typename T, int R, int kD>
__global__ void __launch_bounds__(kThreads) attention_tiled_kernel(TiledArgs a) {
  extern __shared__ float4 smem_f4[];  // float4: the dynamic block is 16-byte aligned
  float* smem = reinterpret_cast<float*>(smem_f4);
  const int d = kD > 0 ? kD : a.d;
  const int sk_stride = d | 1;
  float* sk = smem;                        // [kTileKeys][sk_stride]
  float* sv = sk + kTileKeys * sk_stride;  // [kTileKeys][d]
  // 64 * (odd + d) floats in: 16-byte aligned, as are the per-warp slices below (R % 4 == 0 is
  // what the float4 loads of load_rows need; other R load scalars).
  float* sq = sv + kTileKeys * d;          // [kWarps][d][R]: q of the warp's R rows, per dim
  float* sp = sq + kWarps * d * R;         // [kWarps][kTileKeys][R]: p of the warp's rows
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* sqw = sq + warp * d * R;
  float* spw = sp + warp * kTileKeys * R;
  const int64_t bh = blockIdx.x;
  const int64_t bi = bh / a.heads, hi = bh % a.heads;
  const int64_t row0 = int64_t{blockIdx.y} * (kWarps * R);
  const T* qb = static_cast<const T*>(a.q) + bi * a.qs[0] + hi * a.qs[1];
  const T* kb = static_cast<const T*>(a.k) + bi * a.ks[0] + hi * a.ks[1];
  const T* vb = static_cast<const T*>(a.v) + bi * a.vs[0] + hi * a.vs[1];
  const T* bias_bh =
      a.bias ? static_cast<const T*>(a.bias) + bi * a.bs[0] + hi * a.bs[1] : nullptr;

  // Each warp stages its own query rows (zeros for rows past Lq, whose results are never
  // written); the first tile's barrier makes them visible to the whole warp.
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t row = row0 + r * kWarps + warp;
    for (int c = lane; c < d; c += 32) {
      sqw[c * R + r] = row < a.lq ? to_f(qb[row * a.qs[2] + c]) : 0.f;
    }
  }
  float m[R], l[R], acc0[R], acc1[R];  // acc0: dim lane, acc1: dim lane + 32
#pragma unroll
  for (int r = 0; r < R; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.f;
    acc0[r] = 0.f;
    acc1[r] = 0.f;
  }

  const int64_t split = blockIdx.z;
  const int64_t t_begin = split * a.keys_per_split;
  const int64_t t_end = t_begin + a.keys_per_split < a.lk ? t_begin + a.keys_per_split : a.lk;
  for (int64_t t0 = t_begin; t0 < t_end; t0 += kTileKeys) {
    const int valid = static_cast<int>(t_end - t0 < kTileKeys ? t_end - t0 : kTileKeys);
    __syncthreads();  // the previous tile is consumed (and sq written before the first tile)
    // Stage keys t0 .. t0+63 (zeros past `valid`, so that no lane reads stale memory).
    if (a.vec) {
      constexpr int kN = Vec16<T>::kN;
      const int dv = d / kN;  // host: d % kN == 0
      for (int idx = threadIdx.x; idx < kTileKeys * dv; idx += kThreads) {
        const int j = idx / dv, c = (idx - j * dv) * kN;
        float kf[kN], vf[kN];
        if (j < valid) {
          Vec16<T>::load(kb + (t0 + j) * a.ks[2] + c, kf);
          Vec16<T>::load(vb + (t0 + j) * a.vs[2] + c, vf);
        } else {
#pragma unroll
          for (int e = 0; e < kN; ++e) kf[e] = vf[e] = 0.f;
        }
#pragma unroll
        for (int e = 0; e < kN; ++e) {
          sk[j * sk_stride + c + e] = kf[e];
          sv[j * d + c + e] = vf[e];
        }
      }
    } else {
      for (int idx = threadIdx.x; idx < kTileKeys * d; idx += kThreads) {
        const int j = idx / d, c = idx - j * d;
        float kf = 0.f, vf = 0.f;
        if (j < valid) {
          kf = to_f(kb[(t0 + j) * a.ks[2] + c]);
          vf = to_f(vb[(t0 + j) * a.vs[2] + c]);
        }
        sk[j * sk_stride + c] = kf;
        sv[j * d + c] = vf;
      }
    }
    __syncthreads();
    const bool ok0 = lane < valid, ok1 = lane + 32 < valid;
    const float* k0 = sk + lane * sk_stride;
    const float* k1 = sk + (lane + 32) * sk_stride;
    // Scores of keys t0 + lane and t0 + lane + 32 for all R rows: each K value read once.
    float dot0[R], dot1[R];
#pragma unroll
    for (int r = 0; r < R; ++r) dot0[r] = dot1[r] = 0.f;
#pragma unroll 8
    for (int c = 0; c < d; ++c) {
      const float kc0 = k0[c], kc1 = k1[c];
      float qv[R];
      load_rows<R>(sqw + c * R, qv);
#pragma unroll
      for (int r = 0; r < R; ++r) {
        dot0[r] += qv[r] * kc0;
        dot1[r] += qv[r] * kc1;
      }
    }
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const int64_t row = row0 + r * kWarps + warp;
      const T* brow = bias_bh && row < a.lq ? bias_bh + row * a.bs[2] : nullptr;
      float s0 = -INFINITY, s1 = -INFINITY;
      if (ok0) {
        s0 = dot0[r] * a.scale;
        if (brow) s0 += to_f(brow[(t0 + lane) * a.bs[3]]);
      }
      if (ok1) {
        s1 = dot1[r] * a.scale;
        if (brow) s1 += to_f(brow[(t0 + lane + 32) * a.bs[3]]);
      }
      const float m_new = fmaxf(m[r], warp_max(fmaxf(s0, s1)));
      // While every score so far is -inf, use 0 as the reference so that exp() gives 0, not NaN.
      const float ref = m_new == -INFINITY ? 0.f : m_new;
      const float p0 = ok0 ? expf(s0 - ref) : 0.f;
      const float p1 = ok1 ? expf(s1 - ref) : 0.f;
      const float rescale = expf(m[r] - ref);  // 0 on the first tile (m = -inf)
      l[r] = l[r] * rescale + warp_sum(p0 + p1);
      acc0[r] *= rescale;
      acc1[r] *= rescale;
      m[r] = m_new;
      spw[lane * R + r] = p0;
      spw[(lane + 32) * R + r] = p1;
    }
    __syncwarp();  // every lane's p is in spw
    // out[r][c] += p[r][j] * v[j][c] for the warp's rows, lane owning dims lane and lane + 32:
    // each V value read once for all R rows.
    for (int j = 0; j < valid; ++j) {
      const float v0 = lane < d ? sv[j * d + lane] : 0.f;
      const float v1 = lane + 32 < d ? sv[j * d + lane + 32] : 0.f;
      float pv[R];
      load_rows<R>(spw + j * R, pv);
#pragma unroll
      for (int r = 0; r < R; ++r) {
        acc0[r] += pv[r] * v0;
        acc1[r] += pv[r] * v1;
      }
    }
    // The next tile's __syncthreads orders these spw reads before its writes.
  }

#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t row = row0 + r * kWarps + warp;
    if (row >= a.lq) continue;
    if (a.part_acc) {  // split keys: the merge kernel normalises
      const int64_t slot = (bh * a.lq + row) * gridDim.z + split;
      if (lane < d) a.part_acc[slot * d + lane] = acc0[r];
      if (lane + 32 < d) a.part_acc[slot * d + lane + 32] = acc1[r];
      if (lane == 0) {
        a.part_ml[slot * 2] = m[r];
        a.part_ml[slot * 2 + 1] = l[r];
      }
      continue;
    }
    // An all -inf row leaves l = 0: 0 * (1/0) = NaN, as torch and the CPU reference give.
    const float inv = 1.f / l[r];
    T* orow = static_cast<T*>(a.out) + (bh * a.lq + row) * d;
    if (lane < d) orow[lane] = from_f<T>(acc0[r] * inv);
    if (lane + 32 < d) orow[lane + 32] = from_f<T>(acc1[r] * inv);
  }
}

int64_t smem_bytes(int64_t d, int rows_per_warp) {
  return (kTileKeys * (d | 1) + kTileKeys * d + kWarps * rows_per_warp * d +
          kWarps * kTileKeys * rows_per_warp) *
         static_cast<int64_t>(sizeof(float));
}

bool last_dim_contiguous(const Tensor& t) { return t.size(3) == 1 || t.strides()[3] == 1; }

// Every row start of t (a k or v view) is 16-byte aligned and D a whole number of 16-byte
// vectors: then the staging may load 16 bytes at a time.
bool rows_16b_aligned(const Tensor& t) {
  const int64_t elem = static_cast<int64_t>(dtype_size(t.dtype()));
  const int64_t n = 16 / elem;
  if (t.size(3) % n != 0) return false;
  if (reinterpret_cast<uintptr_t>(t.raw_data()) % 16 != 0) return false;
  for (int i = 0; i < 3; ++i) {
    if (t.size(i) > 1 && t.strides()[i] % n != 0) return false;
  }
  return true;
}

template <typename T, int R>
void launch_r(const TiledArgs& a, dim3 grid, int64_t smem) {
  const size_t bytes = static_cast<size_t>(smem);
  if (a.d == 32) {
    attention_tiled_kernel<T, R, 32><<<grid, kThreads, bytes, stream()>>>(a);
  } else if (a.d == 16) {
    attention_tiled_kernel<T, R, 16><<<grid, kThreads, bytes, stream()>>>(a);
  } else {
    attention_tiled_kernel<T, R, 0><<<grid, kThreads, bytes, stream()>>>(a);
  }
}

}  // namespace

bool attention_tiled_supported(const Tensor& q, const Tensor& k, const Tensor& v) {
  const int64_t d = q.size(3);
  return d >= 1 && d <= kMaxD && last_dim_contiguous(q) && last_dim_contiguous(k) &&
         last_dim_contiguous(v);
}

void attention_tiled_launch(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias,
                            const int64_t bias_strides[4], float scale, Tensor& out) {
  static constexpr const char* kOp = "scaled_dot_product_attention";
  const int64_t b = q.size(0), h = q.size(1), lq = q.size(2), lk = k.size(2), d = q.size(3);
  if (b * h > 0x7fffffffLL) fail(kOp, "q " + shape_str(q.shape()) + " exceeds the launch grid");
  // Rows per warp: as many as keep >= kTargetBlocks blocks (about two waves on 132 SMs), so that
  // K/V tiles are staged once for up to 64 query rows (TinyViT: one block per window and head)
  // without leaving SMs idle (D-FINE's 8 heads x 400 rows take one row per warp).
  constexpr int64_t kTargetBlocks = 264;
  auto tiles_for = [&](int r) { return (lq + kWarps * r - 1) / (kWarps * r); };
  int rpw = 8;
  while (rpw > 1 && (b * h * tiles_for(rpw) < kTargetBlocks || smem_bytes(d, rpw) > kMaxSmemBytes)) {
    rpw /= 2;
  }
  const int64_t tiles = tiles_for(rpw);
  if (tiles > 65535) fail(kOp, "q " + shape_str(q.shape()) + " exceeds the launch grid");
  // Split the keys when even one row per warp leaves the GPU idle and the keys are many (SAM's
  // 7 tokens x 4096 image positions): whole 64-key tiles, at least kMinKeysPerSplit per split.
  constexpr int64_t kMinKeysPerSplit = 128;
  const int64_t blocks = b * h * tiles;
  int64_t splits = 1;
  if (blocks < kTargetBlocks && lk >= 2 * kMinKeysPerSplit) {
    splits = std::min<int64_t>(kTargetBlocks / blocks, lk / kMinKeysPerSplit);
    splits = std::max<int64_t>(1, std::min<int64_t>(splits, 64));
  }
  const int64_t key_tiles = (lk + kTileKeys - 1) / kTileKeys;
  const int64_t keys_per_split = ((key_tiles + splits - 1) / splits) * kTileKeys;
  splits = (lk + keys_per_split - 1) / keys_per_split;  // no empty split

  TiledArgs a{};
  a.q = q.raw_data();
  a.k = k.raw_data();
  a.v = v.raw_data();
  a.bias = bias.defined() ? bias.raw_data() : nullptr;
  a.out = out.raw_data();
  for (int i = 0; i < 3; ++i) {
    a.qs[i] = q.strides()[i];
    a.ks[i] = k.strides()[i];
    a.vs[i] = v.strides()[i];
  }
  for (int i = 0; i < 4; ++i) a.bs[i] = bias_strides[i];
  a.heads = static_cast<int>(h);
  a.lq = lq;
  a.lk = lk;
  a.d = static_cast<int>(d);
  a.scale = scale;
  a.vec = rows_16b_aligned(k) && rows_16b_aligned(v);
  a.keys_per_split = keys_per_split;
  Tensor part_acc, part_ml;
  if (splits > 1) {
    part_acc = Tensor::empty({b * h * lq * splits * d}, DType::kF32, q.device());
    part_ml = Tensor::empty({b * h * lq * splits * 2}, DType::kF32, q.device());
    a.part_acc = part_acc.data<float>();
    a.part_ml = part_ml.data<float>();
  }
  const dim3 grid(static_cast<unsigned>(b * h), static_cast<unsigned>(tiles),
                  static_cast<unsigned>(splits));
  const int64_t smem = smem_bytes(d, rpw);
  UM_DISPATCH_FLOAT(q.dtype(), T, {
    switch (rpw) {
      case 8: launch_r<T, 8>(a, grid, smem); break;
      case 4: launch_r<T, 4>(a, grid, smem); break;
      case 2: launch_r<T, 2>(a, grid, smem); break;
      default: launch_r<T, 1>(a, grid, smem); break;
    }
    check_launch(kOp);
  });
  if (splits > 1) {
    attention_merge_splits_launch(a.part_acc, a.part_ml, out, b * h * lq,
                                  static_cast<int>(splits), static_cast<int>(d));
  }
}

}  // namespace um::nn::detail
