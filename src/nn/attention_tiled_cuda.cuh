// File: src/nn/attention_tiled_cuda.cuh
// Purpose: the device code of the key-tiled attention kernel (layout and algorithm: see
// src/nn/attention_tiled_cuda.cu, which launches it). In a header so that
// tests/nn/attention_tiled_emulation_test.cpp can compile the very same source as host C++
// (UM_ATTENTION_EMULATION: threads stand in for CUDA threads, barriers for __syncthreads /
// __syncwarp / shuffles) and check its index math on every CI machine, GPU or not.
#pragma once

#include <cstdint>

#ifndef UM_ATTENTION_EMULATION
#include <cuda_fp16.h>

#include "nn/cuda_op_util.cuh"
#define UM_ATTN_DYNAMIC_SMEM(name) extern __shared__ float4 name[]
#define UM_ATTN_UNROLL _Pragma("unroll")
#define UM_ATTN_PRAGMA(x) _Pragma(#x)
#define UM_ATTN_UNROLL_N(n) UM_ATTN_PRAGMA(unroll n)
#else
#define UM_ATTN_UNROLL
#define UM_ATTN_UNROLL_N(n)
#endif

namespace um::nn::detail::attention_tiled {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kTileKeys = 64;  // two keys per lane
constexpr int kMaxD = 64;      // two output dims per lane

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

// Floats of dynamic shared memory the kernel needs: sk [64][D|1], sv [64][D], sq [kWarps][D][R],
// sp [kWarps][64][R] (see the kernel).
__host__ __device__ constexpr int64_t smem_floats(int64_t d, int rows_per_warp) {
  return kTileKeys * (d | 1) + kTileKeys * d + kWarps * d * rows_per_warp +
         kWarps * kTileKeys * rows_per_warp;
}

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
UM_ATTN_UNROLL
    for (int i = 0; i < 4; ++i) {
      const float2 f = __half22float2(h[i]);
      o[2 * i] = f.x;
      o[2 * i + 1] = f.y;
    }
  }
};

#ifdef UM_ATTENTION_EMULATION
// The CUDA build takes warp_max / warp_sum from cuda_op_util.cuh; the host emulation cannot
// include it (CUDA headers), so it gets the same reductions over its emulated shuffles.
inline float warp_max(float x) {
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}
inline float warp_sum(float x) {
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}
#endif

// R consecutive floats of shared memory -> registers; float4 loads when R % 4 == 0 (the
// caller's addresses are then 16-byte aligned: see the carve-up in the kernel).
template <int R>
__device__ __forceinline__ void load_rows(const float* p, float* o) {
  if constexpr (R % 4 == 0) {
UM_ATTN_UNROLL
    for (int i = 0; i < R; i += 4) {
      const float4 x = *reinterpret_cast<const float4*>(p + i);
      o[i] = x.x;
      o[i + 1] = x.y;
      o[i + 2] = x.z;
      o[i + 3] = x.w;
    }
  } else {
UM_ATTN_UNROLL
    for (int i = 0; i < R; ++i) o[i] = p[i];
  }
}

// kD > 0: the head dim is kD (compile-time, loops unrolled); kD == 0: a.d (<= kMaxD).
template <typename T, int R, int kD>
__global__ void __launch_bounds__(kThreads) attention_tiled_kernel(TiledArgs a) {
  UM_ATTN_DYNAMIC_SMEM(smem_f4);  // float4: the dynamic block is 16-byte aligned
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
UM_ATTN_UNROLL
  for (int r = 0; r < R; ++r) {
    const int64_t row = row0 + r * kWarps + warp;
    for (int c = lane; c < d; c += 32) {
      sqw[c * R + r] = row < a.lq ? to_f(qb[row * a.qs[2] + c]) : 0.f;
    }
  }
  float m[R], l[R], acc0[R], acc1[R];  // acc0: dim lane, acc1: dim lane + 32
UM_ATTN_UNROLL
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
UM_ATTN_UNROLL
          for (int e = 0; e < kN; ++e) kf[e] = vf[e] = 0.f;
        }
UM_ATTN_UNROLL
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
UM_ATTN_UNROLL
    for (int r = 0; r < R; ++r) dot0[r] = dot1[r] = 0.f;
UM_ATTN_UNROLL_N(8)
    for (int c = 0; c < d; ++c) {
      const float kc0 = k0[c], kc1 = k1[c];
      float qv[R];
      load_rows<R>(sqw + c * R, qv);
UM_ATTN_UNROLL
      for (int r = 0; r < R; ++r) {
        dot0[r] += qv[r] * kc0;
        dot1[r] += qv[r] * kc1;
      }
    }
UM_ATTN_UNROLL
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
UM_ATTN_UNROLL
      for (int r = 0; r < R; ++r) {
        acc0[r] += pv[r] * v0;
        acc1[r] += pv[r] * v1;
      }
    }
    // The next tile's __syncthreads orders these spw reads before its writes.
  }

UM_ATTN_UNROLL
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

}  // namespace um::nn::detail::attention_tiled
