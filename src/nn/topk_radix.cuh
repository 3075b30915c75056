// File: src/nn/topk_radix.cuh
// Purpose: the device code of the multi-block radix-select top-k behind nn::topk on CUDA
// (launched by src/nn/topk_cuda.cu). In a header so that tests/nn/topk_radix_emulation_test.cpp
// can compile the very same source as host C++ (UM_TOPK_EMULATION: std::threads stand in for
// CUDA threads, barriers for __syncthreads and the shuffle) and check it on every CI machine, GPU or not.
//
// Order: every (value, index) of a row becomes one 64-bit key (make_key) whose unsigned order
// is exactly the CPU op's order: high word = the float's order-preserving bits (NaN above +inf,
// -0 equal to +0), low word = ~index (lower index = larger key). Keys are unique, so "the k
// largest keys" is one well-defined set and its sorted order is the CPU result, bit for bit.
//
// Algorithm (for_each_level plans and launches it): a row of n keys is split into `blocks`
// chunks of at most kCap keys (balanced: every chunk holds more than kCap / 2 > k keys), one
// block each. A block keeps its chunk's keys in registers (kCap / kThreads per thread) and finds
// its k-th largest key by radix select: 8-bit digits from the top (at most 8 passes, usually 3
// or 4), a 256-bin shared histogram of the keys still matching the chosen prefix, then (one
// warp, a shuffle scan) the bin where the count of larger keys reaches k; two barriers a pass.
// It stops as soon as every key of the chosen bin is needed, so "selected" is simply
// (key & mask) >= prefix: exactly k keys. A non-final level
// writes its k keys (unordered) to a scratch array; the next level treats the rows of
// blocks * k candidate keys the same way (the true top k is among the candidates: each block
// kept every key that could be in it). The final level (one block per row, at most kCap keys)
// ranks its k keys by counting (rank = number of larger keys, unique keys -> a permutation) and
// writes values (read back from x, so -0 stays -0 and NaN payloads are kept) and indices.
// Launches per call: 1 for n <= kCap; n = 8400, k = 300: 2 (3 chunks, then 900 candidates);
// n = 100000: 3.
#pragma once

#include <cstdint>
#include <vector>

#ifndef UM_TOPK_EMULATION
#include "nn/cuda_op_util.cuh"
#define UM_TOPK_UNROLL _Pragma("unroll")
#else
#define UM_TOPK_UNROLL
#endif

namespace um::nn::detail::topk_radix {

constexpr int kThreads = 512;
constexpr int kCap = 4096;       // keys per block (8 per thread, held in registers)
constexpr int kMaxK = kThreads;  // the final block ranks one selected key per thread and pass

// The key of value v at position `index` (see the header comment). Bit tests, not isnan or
// v == 0, so that fast-math flags cannot change the order.
__device__ __forceinline__ uint64_t make_key(float v, uint32_t index) {
  uint32_t bits = __float_as_uint(v);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) {
    bits = 0xffffffffu;  // NaN: the largest, all NaNs equal
  } else if (magnitude == 0u) {
    bits = 0x80000000u;  // -0 equals +0
  } else {
    bits = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  }
  // Every real key is > 0 (-inf maps to 0x007fffff in the high word), so 0 can pad.
  return (static_cast<uint64_t>(bits) << 32) | static_cast<uint64_t>(~index);
}

__device__ __forceinline__ uint32_t key_index(uint64_t key) {
  return ~static_cast<uint32_t>(key & 0xffffffffull);
}

struct SelectArgs {
  const void* x;            // the input rows [rows, n0] (T), contiguous
  const uint64_t* keys_in;  // this level's input keys [rows, in_count]; nullptr: made from x
  int64_t n0;               // length of an input row of x
  int64_t in_count;         // keys per row at this level
  int64_t k;
  int64_t blocks;      // blocks per row at this level; 1 = the final level
  uint64_t* keys_out;  // [rows, blocks, k] candidates (non-final levels)
  float* values;       // [rows, k] (final level)
  int64_t* indices;    // [rows, k] (final level)
};

// Grid: rows * blocks blocks of kThreadsT threads (block id = row * blocks + chunk).
// Requires: every chunk <= kCapT keys, k <= kThreadsT, keys unique (ensured by the plan).
template <typename T, int kThreadsT, int kCapT>
__global__ void __launch_bounds__(kThreadsT) topk_select_kernel(SelectArgs a) {
  constexpr int kPer = kCapT / kThreadsT;
  static_assert(kCapT % kThreadsT == 0 && kThreadsT >= 32, "block shape");
  __shared__ uint64_t s_sel[kThreadsT];  // final level: the selected keys, unordered
  __shared__ unsigned s_hist[2][256];    // double-buffered: pass p clears pass p + 1's
  __shared__ unsigned s_pick[3];         // chosen digit, keys above its bin, keys in its bin
  __shared__ unsigned s_count;           // selected keys so far (compaction)

  const int tid = static_cast<int>(threadIdx.x);
  const int64_t row = static_cast<int64_t>(blockIdx.x) / a.blocks;
  const int64_t chunk = static_cast<int64_t>(blockIdx.x) % a.blocks;
  const int64_t begin = chunk * a.in_count / a.blocks;
  const int cnt = static_cast<int>((chunk + 1) * a.in_count / a.blocks - begin);
  const T* xr = static_cast<const T*>(a.x) + row * a.n0;
  const uint64_t* kr = a.keys_in ? a.keys_in + row * a.in_count + begin : nullptr;

  // Thread tid holds keys tid, tid + kThreadsT, ... of the chunk (coalesced loads).
  uint64_t key[kPer];
  UM_TOPK_UNROLL
  for (int j = 0; j < kPer; ++j) {
    const int i = tid + j * kThreadsT;
    key[j] = 0;
    if (i < cnt) {
      key[j] = kr ? kr[i] : make_key(to_f(xr[begin + i]), static_cast<uint32_t>(begin + i));
    }
  }
  for (int b = tid; b < 512; b += kThreadsT) s_hist[b >> 8][b & 255] = 0;
  if (tid == 0) s_count = 0;
  __syncthreads();

  // Radix select: afterwards exactly k keys satisfy (key & mask) >= prefix (all keys when the
  // chunk holds no more than k).
  const unsigned k = static_cast<unsigned>(a.k);
  uint64_t prefix = 0, mask = 0;
  if (cnt > static_cast<int>(k)) {
    unsigned need = k;  // keys still to take among those matching prefix under mask
    for (int pass = 0; pass < 8; ++pass) {
      const int shift = 56 - 8 * pass;
      unsigned* hist = s_hist[pass & 1];
      for (int b = tid; b < 256; b += kThreadsT) s_hist[(pass + 1) & 1][b] = 0;
      // Runs of equal digits go in with one atomic (a chunk of near-equal scores would
      // otherwise hit one bin from every lane).
      unsigned cur = 0, run = 0;
      UM_TOPK_UNROLL
      for (int j = 0; j < kPer; ++j) {
        if (tid + j * kThreadsT < cnt && (key[j] & mask) == prefix) {
          const unsigned d = static_cast<unsigned>(key[j] >> shift) & 0xffu;
          if (run != 0 && d != cur) {
            atomicAdd(&hist[cur], run);
            run = 0;
          }
          cur = d;
          ++run;
        }
      }
      if (run != 0) atomicAdd(&hist[cur], run);
      __syncthreads();
      // Warp 0 finds the bin holding the need-th largest matching key: lane l sums bins
      // [248 - 8 l, 256 - 8 l), a shuffle scan gives the keys above its bins, and exactly one
      // lane's range crosses `need` (1 <= need <= the number of matching keys).
      if (tid < 32) {
        unsigned sum = 0;
        UM_TOPK_UNROLL
        for (int b = 0; b < 8; ++b) sum += hist[255 - 8 * tid - b];
        unsigned incl = sum;
        UM_TOPK_UNROLL
        for (unsigned o = 1; o < 32; o <<= 1) {
          const unsigned up = __shfl_up_sync(0xffffffffu, incl, o);
          if (static_cast<unsigned>(tid) >= o) incl += up;
        }
        unsigned above = incl - sum;
        if (above < need && need <= incl) {
          for (int b = 0; b < 8; ++b) {
            const unsigned d = 255u - 8u * static_cast<unsigned>(tid) - static_cast<unsigned>(b);
            const unsigned h = hist[d];
            if (above + h >= need) {
              s_pick[0] = d;
              s_pick[1] = above;
              s_pick[2] = h;
              break;
            }
            above += h;
          }
        }
      }
      __syncthreads();
      prefix |= static_cast<uint64_t>(s_pick[0]) << shift;
      mask |= 0xffull << shift;
      need -= s_pick[1];
      // With unique keys this holds at the last pass at the latest (one key per full key).
      if (s_pick[2] == need) break;
    }
  }

  // Compaction: each thread reserves room for its selected keys with one atomic.
  unsigned mine = 0;
  UM_TOPK_UNROLL
  for (int j = 0; j < kPer; ++j) {
    mine += (tid + j * kThreadsT < cnt && (key[j] & mask) >= prefix) ? 1u : 0u;
  }
  unsigned pos = mine != 0 ? atomicAdd(&s_count, mine) : 0u;
  const bool final_level = a.blocks == 1;
  uint64_t* out = final_level ? s_sel : a.keys_out + (row * a.blocks + chunk) * a.k;
  UM_TOPK_UNROLL
  for (int j = 0; j < kPer; ++j) {
    if (tid + j * kThreadsT < cnt && (key[j] & mask) >= prefix) {
      if (pos < k) out[pos] = key[j];
      ++pos;
    }
  }
  __syncthreads();
  const unsigned total = s_count < k ? s_count : k;  // == k, except a chunk shorter than k
  if (!final_level) {
    // Padding (key 0 is below every real key); the plan never makes a chunk shorter than k.
    for (unsigned i = total + static_cast<unsigned>(tid); i < k; i += kThreadsT) out[i] = 0;
    return;
  }
  float* vo = a.values + row * a.k;
  int64_t* io = a.indices + row * a.k;
  for (unsigned i = static_cast<unsigned>(tid); i < total; i += kThreadsT) {
    const uint64_t me = s_sel[i];
    unsigned rank = 0;
    for (unsigned j = 0; j < total; ++j) rank += s_sel[j] > me ? 1u : 0u;
    const uint32_t idx = key_index(me);
    io[rank] = static_cast<int64_t>(idx);
    vo[rank] = to_f(xr[idx]);
  }
  // Unreachable (k <= n): outputs past the selected keys get index -1 rather than garbage.
  for (unsigned i = total + static_cast<unsigned>(tid); i < k; i += kThreadsT) {
    io[i] = -1;
    vo[i] = 0.f;
  }
}

// ---- host side: the launch plan ----------------------------------------------------------------

struct Level {
  int64_t in_count;  // keys per row
  int64_t blocks;    // chunks per row (1 = final)
};

// Levels for rows of n keys: split while a row exceeds cap keys (balanced chunks of at most cap,
// each > cap / 2 keys), each level leaving blocks * k keys. Terminates when cap >= 2k.
inline std::vector<Level> plan_levels(int64_t n, int64_t k, int64_t cap) {
  std::vector<Level> levels;
  int64_t in = n;
  while (in > cap) {
    const int64_t blocks = (in + cap - 1) / cap;
    levels.push_back({in, blocks});
    in = blocks * k;
  }
  levels.push_back({in, 1});
  return levels;
}

// Runs every level in order: alloc(count) returns storage for `count` keys that stays valid
// until the last launch; launch(args, grid_blocks) runs topk_select_kernel on rows * blocks.
template <typename Alloc, typename Launch>
void for_each_level(const void* x, int64_t rows, int64_t n, int64_t k, int64_t cap,
                    float* values, int64_t* indices, Alloc&& alloc, Launch&& launch) {
  SelectArgs a{};
  a.x = x;
  a.keys_in = nullptr;
  a.n0 = n;
  a.k = k;
  a.values = values;
  a.indices = indices;
  for (const Level& level : plan_levels(n, k, cap)) {
    a.in_count = level.in_count;
    a.blocks = level.blocks;
    a.keys_out = level.blocks > 1 ? alloc(rows * level.blocks * k) : nullptr;
    launch(a, rows * level.blocks);
    a.keys_in = a.keys_out;
  }
}

}  // namespace um::nn::detail::topk_radix
