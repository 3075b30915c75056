// CPU emulation test of the CUDA key-tiled attention kernel (src/nn/attention_tiled_cuda.cuh):
// the very same kernel source, compiled as host C++ for float, run with one std::thread per CUDA
// thread (256 per block, blocks one after another), std::barrier standing in for __syncthreads,
// __syncwarp and the warp shuffles (which therefore also deadlock, and the test times out, if a
// shuffle were reached by only part of a warp). It checks the index math, the tile and row
// boundaries, the bias strides, masking and the split-key partials (merged here with the math of
// merge_splits_kernel) against a double-precision reference, on every machine: CI has no GPU, and
// the GPU tests (tests/cuda/attention_fast_cuda_test.cpp) run only on the lead's H100/H200.
// Not covered here: float16 loads/stores (stubbed), real warp scheduling, CUDA alignment faults.
#include <gtest/gtest.h>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

// ---- CUDA shims --------------------------------------------------------------------------------
#define UM_ATTENTION_EMULATION 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(x)

namespace emu {
struct Dim3 {
  unsigned x = 0, y = 0, z = 0;
};
struct Warp {
  std::barrier<> bar{32};
  float slot[32];
};
thread_local float* tl_smem;
thread_local Dim3 tl_thread, tl_block, tl_grid;
thread_local Warp* tl_warp;
thread_local std::barrier<>* tl_block_bar;
// A warp-wide exchange: every lane publishes v, then reads lane src's value.
inline float exchange(float v, int src) {
  Warp& w = *tl_warp;
  w.bar.arrive_and_wait();  // earlier exchanges fully read
  w.slot[tl_thread.x % 32] = v;
  w.bar.arrive_and_wait();
  return w.slot[src & 31];
}
}  // namespace emu

struct __half {
  unsigned short bits;
};
struct __half2 {
  __half x, y;
};
struct uint4 {
  unsigned x, y, z, w;
};
struct float4 {
  float x, y, z, w;
};
struct float2 {
  float x, y;
};
inline float2 __half22float2(__half2) { std::abort(); }  // float16 is not emulated
#define threadIdx emu::tl_thread
#define blockIdx emu::tl_block
#define gridDim emu::tl_grid
#define UM_ATTN_DYNAMIC_SMEM(name) float4* name = reinterpret_cast<float4*>(emu::tl_smem)
inline void __syncthreads() { emu::tl_block_bar->arrive_and_wait(); }
inline void __syncwarp() { emu::tl_warp->bar.arrive_and_wait(); }
inline float __shfl_sync(unsigned, float v, int src) { return emu::exchange(v, src); }
inline float __shfl_xor_sync(unsigned, float v, int o) {
  return emu::exchange(v, static_cast<int>(emu::tl_thread.x % 32) ^ o);
}
namespace um::nn::detail {
template <typename T> inline float to_f(T v) { return static_cast<float>(v); }
template <> inline float to_f<__half>(__half) { std::abort(); }
template <typename T> inline T from_f(float v) { return static_cast<T>(v); }
template <> inline __half from_f<__half>(float) { std::abort(); }
}  // namespace um::nn::detail

#include "nn/attention_tiled_cuda.cuh"

#undef threadIdx
#undef blockIdx
#undef gridDim

namespace um {
namespace {

using nn::detail::attention_tiled::attention_tiled_kernel;
using nn::detail::attention_tiled::kThreads;
using nn::detail::attention_tiled::kTileKeys;
using nn::detail::attention_tiled::kWarps;
using nn::detail::attention_tiled::smem_floats;
using nn::detail::attention_tiled::TiledArgs;

// One std::thread per CUDA thread of a block; the same threads run the blocks one after another
// (a barrier between blocks, shared memory NaN-filled before each, so that a read of shared
// memory the kernel never wrote poisons the result).
template <int R, int kD>
void launch(const TiledArgs& a, emu::Dim3 grid) {
  std::vector<float4> smem((smem_floats(a.d, R) + 3) / 4, float4{NAN, NAN, NAN, NAN});
  std::barrier<> block_bar(kThreads);
  std::vector<emu::Warp> warps(kWarps);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      emu::tl_smem = reinterpret_cast<float*>(smem.data());
      emu::tl_thread = {static_cast<unsigned>(t), 0, 0};
      emu::tl_grid = grid;
      emu::tl_warp = &warps[t / 32];
      emu::tl_block_bar = &block_bar;
      for (unsigned z = 0; z < grid.z; ++z) {
        for (unsigned y = 0; y < grid.y; ++y) {
          for (unsigned x = 0; x < grid.x; ++x) {
            emu::tl_block = {x, y, z};
            attention_tiled_kernel<float, R, kD>(a);
            block_bar.arrive_and_wait();  // the block is done
            if (t == 0) std::fill(smem.begin(), smem.end(), float4{NAN, NAN, NAN, NAN});
            block_bar.arrive_and_wait();  // the next block starts on fresh shared memory
          }
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
}

struct EmuCase {
  int64_t b, h, lq, lk, d;
  bool bias, vec;
  int64_t splits;     // requested key splits (whole 64-key tiles each)
  bool mask;          // keys < 70 and row 3 entirely -inf
};

// Runs the kernel on q [B, H, Lq, D] contiguous, k and v interleaved in one buffer
// [B, H, Lk, 2D + 4] (row strides != D), bias [B, H, Lq, Lk]; returns max |out - ref| and
// counts NaN mismatches (a fully masked row must be NaN, nothing else).
template <int R, int kD>
void expect_kernel_matches(const EmuCase& c, uint32_t seed) {
  SCOPED_TRACE("R" + std::to_string(R) + " kD" + std::to_string(kD) + " B" + std::to_string(c.b) +
               " H" + std::to_string(c.h) + " Lq" + std::to_string(c.lq) + " Lk" +
               std::to_string(c.lk) + " D" + std::to_string(c.d) + " splits" +
               std::to_string(c.splits) + (c.vec ? " vec" : "") + (c.mask ? " mask" : ""));
  const int64_t bh = c.b * c.h, d = c.d, lq = c.lq, lk = c.lk;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  std::vector<float> q(bh * lq * d), bias;
  for (float& x : q) x = u(rng);
  const int64_t kv_row = 2 * d + 4;
  std::vector<float> kv(bh * lk * kv_row, NAN);
  for (int64_t r = 0; r < bh * lk; ++r) {
    for (int64_t i = 0; i < 2 * d; ++i) kv[r * kv_row + i] = u(rng);
  }
  if (c.bias) {
    bias.resize(bh * lq * lk);
    for (float& x : bias) x = u(rng);
    if (c.mask) {
      for (int64_t r = 0; r < bh * lq; ++r) {
        for (int64_t j = 0; j < lk; ++j) {
          if (j < 70 || r % lq == 3) bias[r * lk + j] = -INFINITY;
        }
      }
    }
  }
  const float scale = 0.3f;
  // Reference in double.
  std::vector<float> ref(bh * lq * d);
  std::vector<double> s(lk);
  for (int64_t g = 0; g < bh; ++g) {
    for (int64_t i = 0; i < lq; ++i) {
      double mx = -INFINITY;
      for (int64_t j = 0; j < lk; ++j) {
        double dot = 0;
        for (int64_t e = 0; e < d; ++e) {
          dot += double{q[(g * lq + i) * d + e]} * kv[(g * lk + j) * kv_row + e];
        }
        s[j] = dot * scale + (c.bias ? bias[(g * lq + i) * lk + j] : 0.0);
        mx = std::max(mx, s[j]);
      }
      if (mx == -INFINITY) mx = 0;  // all masked: 0/0 = NaN, like torch
      double sum = 0;
      for (int64_t j = 0; j < lk; ++j) sum += (s[j] = std::exp(s[j] - mx));
      for (int64_t e = 0; e < d; ++e) {
        double acc = 0;
        for (int64_t j = 0; j < lk; ++j) acc += s[j] * kv[(g * lk + j) * kv_row + d + e];
        ref[(g * lq + i) * d + e] = static_cast<float>(acc / sum);
      }
    }
  }
  TiledArgs a{};
  std::vector<float> out(bh * lq * d, NAN);
  a.q = q.data();
  a.k = kv.data();
  a.v = kv.data() + d;
  a.bias = c.bias ? bias.data() : nullptr;
  a.out = out.data();
  a.qs[0] = c.h * lq * d;
  a.qs[1] = lq * d;
  a.qs[2] = d;
  a.ks[0] = c.h * lk * kv_row;
  a.ks[1] = lk * kv_row;
  a.ks[2] = kv_row;
  for (int i = 0; i < 3; ++i) a.vs[i] = a.ks[i];
  if (c.bias) {
    a.bs[0] = c.h * lq * lk;
    a.bs[1] = lq * lk;
    a.bs[2] = lk;
    a.bs[3] = 1;
  }
  a.heads = static_cast<int>(c.h);
  a.lq = lq;
  a.lk = lk;
  a.d = static_cast<int>(d);
  a.scale = scale;
  a.vec = c.vec;
  const int64_t key_tiles = (lk + kTileKeys - 1) / kTileKeys;
  a.keys_per_split = ((key_tiles + c.splits - 1) / c.splits) * kTileKeys;
  const int64_t splits = (lk + a.keys_per_split - 1) / a.keys_per_split;
  std::vector<float> pacc, pml;
  if (splits > 1) {
    pacc.assign(bh * lq * splits * d, NAN);
    pml.assign(bh * lq * splits * 2, NAN);
    a.part_acc = pacc.data();
    a.part_ml = pml.data();
  }
  const int64_t rows_per_block = kWarps * R;
  launch<R, kD>(a, {static_cast<unsigned>(bh),
                    static_cast<unsigned>((lq + rows_per_block - 1) / rows_per_block),
                    static_cast<unsigned>(splits)});
  if (splits > 1) {  // merge_splits_kernel's math
    for (int64_t r = 0; r < bh * lq; ++r) {
      const float* ml = pml.data() + r * splits * 2;
      float mx = -INFINITY;
      for (int64_t sp = 0; sp < splits; ++sp) mx = std::max(mx, ml[2 * sp]);
      const float rf = mx == -INFINITY ? 0.f : mx;
      float l = 0.f;
      for (int64_t sp = 0; sp < splits; ++sp) l += ml[2 * sp + 1] * std::exp(ml[2 * sp] - rf);
      for (int64_t e = 0; e < d; ++e) {
        float v = 0.f;
        for (int64_t sp = 0; sp < splits; ++sp) {
          v += pacc[(r * splits + sp) * d + e] * std::exp(ml[2 * sp] - rf);
        }
        out[r * d + e] = v * (1.f / l);
      }
    }
  }
  float err = 0.f;
  int nan_mismatch = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (std::isnan(ref[i]) || std::isnan(out[i])) {
      nan_mismatch += std::isnan(ref[i]) != std::isnan(out[i]);
      continue;
    }
    err = std::max(err, std::fabs(ref[i] - out[i]));
  }
  EXPECT_EQ(nan_mismatch, 0);
  EXPECT_LE(err, 1e-5f);
}

TEST(AttentionTiledEmulation, KeyCountsAroundTheTileEdges) {
  uint32_t seed = 1;
  for (int64_t lk : {1, 32, 33, 49, 63, 64, 65, 130}) {
    expect_kernel_matches<8, 32>({1, 2, 49, lk, 32, true, true, 1, false}, seed++);
    expect_kernel_matches<1, 32>({1, 1, 9, lk, 32, false, false, 1, false}, seed++);
  }
}

TEST(AttentionTiledEmulation, RowsPerWarpAndHeadDims) {
  expect_kernel_matches<2, 16>({1, 2, 20, 100, 16, true, true, 1, false}, 20);
  expect_kernel_matches<4, 0>({1, 1, 40, 70, 20, true, false, 1, false}, 21);
  expect_kernel_matches<4, 32>({1, 2, 70, 49, 32, true, false, 1, false}, 22);
  expect_kernel_matches<1, 0>({1, 1, 9, 70, 64, true, true, 1, false}, 23);
  expect_kernel_matches<2, 0>({1, 1, 30, 70, 64, true, true, 1, false}, 24);
  expect_kernel_matches<8, 0>({1, 1, 65, 50, 48, false, true, 1, false}, 25);
  expect_kernel_matches<8, 16>({1, 1, 130, 7, 16, false, true, 1, false}, 26);
  expect_kernel_matches<1, 0>({1, 1, 5, 40, 1, false, false, 1, false}, 27);
}

TEST(AttentionTiledEmulation, MaskedKeysRowsAndSplits) {
  expect_kernel_matches<1, 32>({1, 1, 9, 150, 32, true, true, 1, true}, 30);
  expect_kernel_matches<8, 32>({2, 1, 49, 150, 32, true, true, 1, true}, 31);
  expect_kernel_matches<1, 16>({1, 2, 7, 1000, 16, false, true, 4, false}, 32);
  expect_kernel_matches<1, 32>({1, 1, 7, 1000, 32, true, true, 5, true}, 33);
  expect_kernel_matches<4, 0>({1, 1, 33, 200, 33, true, false, 3, true}, 34);
}

}  // namespace
}  // namespace um
