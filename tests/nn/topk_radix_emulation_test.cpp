// CPU emulation test of the CUDA radix-select top-k (src/nn/topk_radix.cuh): the very same kernel
// and launch-plan source, compiled as host C++, run with one std::thread per CUDA thread (blocks
// one after another), std::barriers standing in for __syncthreads and the warp shuffle, real
// atomics for the shared-memory atomicAdd. Compared, exactly (values, indices, order), with the CPU nn::topk on
// rows built to hit the algorithm's corners: chunk and level boundaries, heavy ties (all radix
// passes down to the index bits), NaN / +-inf / -0 / +0, float16 inputs. Most cases run a small
// block shape (64 threads, 512 keys per block, k <= 64) so that many levels are cheap to
// emulate; a few run the shipped shape (512 threads, 4096 keys, k <= 512, D-FINE's [1, 8400]).
// The GPU tests (tests/cuda/topk_fast_cuda_test.cpp) run only on the lead's H100/H200.
// Not covered here: real warp scheduling, CUDA memory-model or alignment faults.
#include <gtest/gtest.h>

#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "core/tensor.h"
#include "nn/ops.h"

// ---- CUDA shims --------------------------------------------------------------------------------
#define UM_TOPK_EMULATION 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(x)
#define __shared__ static  // one block at a time: function statics are the block's shared memory

namespace topk_emu {
struct Dim3 {
  unsigned x = 0, y = 0, z = 0;
};
struct Warp {
  std::barrier<> bar{32};
  unsigned slot[32];
};
thread_local Dim3 tl_thread, tl_block;
thread_local std::barrier<>* tl_block_bar;
thread_local Warp* tl_warp;
}  // namespace topk_emu

struct __half {
  uint16_t bits;
};
inline unsigned __float_as_uint(float f) {
  unsigned u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}
inline unsigned atomicAdd(unsigned* p, unsigned v) {
  return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}
#define threadIdx topk_emu::tl_thread
#define blockIdx topk_emu::tl_block
inline void __syncthreads() { topk_emu::tl_block_bar->arrive_and_wait(); }
// Every lane publishes v, then reads lane - delta's (its own below lane delta), as on the GPU;
// a shuffle reached by only part of a warp deadlocks here (the test then times out).
inline unsigned __shfl_up_sync(unsigned, unsigned v, unsigned delta) {
  topk_emu::Warp& w = *topk_emu::tl_warp;
  const unsigned lane = threadIdx.x % 32;
  w.bar.arrive_and_wait();  // earlier exchanges fully read
  w.slot[lane] = v;
  w.bar.arrive_and_wait();
  return lane >= delta ? w.slot[lane - delta] : v;
}

// IEEE half -> float (exact), written out so that float16 rows are emulated too.
inline float half_bits_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  float f;
  if (exp == 0) {
    f = std::ldexp(static_cast<float>(man), -24);  // zero or subnormal
  } else if (exp == 31) {
    f = man ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    f = std::ldexp(static_cast<float>(man | 0x400u), static_cast<int>(exp) - 25);
  }
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  bits |= sign;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

namespace um::nn::detail {
template <typename T> inline float to_f(T v) { return static_cast<float>(v); }
template <> inline float to_f<__half>(__half v) { return half_bits_to_float(v.bits); }
}  // namespace um::nn::detail

#include "nn/topk_radix.cuh"

#undef threadIdx
#undef blockIdx

namespace um {
namespace {

namespace tr = nn::detail::topk_radix;

// Runs one level's grid: one std::thread per CUDA thread, the same threads running the blocks
// in order with a barrier between blocks (the kernel's shared statics are then the block's).
template <typename T, int kThreadsT, int kCapT>
void launch(const tr::SelectArgs& a, int64_t grid) {
  std::barrier<> bar(kThreadsT);
  std::vector<topk_emu::Warp> warps(kThreadsT / 32);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreadsT; ++t) {
    threads.emplace_back([&, t] {
      topk_emu::tl_thread = {static_cast<unsigned>(t), 0, 0};
      topk_emu::tl_block_bar = &bar;
      topk_emu::tl_warp = &warps[static_cast<size_t>(t / 32)];
      for (int64_t b = 0; b < grid; ++b) {
        topk_emu::tl_block = {static_cast<unsigned>(b), 0, 0};
        tr::topk_select_kernel<T, kThreadsT, kCapT>(a);
        bar.arrive_and_wait();  // the block is done before the next one reuses the statics
      }
    });
  }
  for (std::thread& th : threads) th.join();
}

// float16 bits of a float (round to nearest even), for float16 rows.
uint16_t float_to_half_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof(x));
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  if (std::isnan(f)) return static_cast<uint16_t>(sign | 0x7e00u);
  const float a = std::fabs(f);
  if (a >= 65520.f) return static_cast<uint16_t>(sign | 0x7c00u);
  if (a < std::ldexp(1.f, -14)) {  // subnormal: multiples of 2^-24
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(a * 16777216.f)));
  }
  int e;
  const float m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  uint32_t man = static_cast<uint32_t>(std::nearbyint(std::ldexp(m, 11)));  // 11 bits
  if (man == 2048u) {
    man = 1024u;
    ++e;
  }
  if (e + 14 >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  return static_cast<uint16_t>(sign | ((e + 14) << 10) | (man & 0x3ffu));
}

// Runs the emulated kernels on rows [rows, n] and compares with nn::topk on the CPU.
template <typename T, int kThreadsT, int kCapT>
void expect_matches_cpu(const std::vector<float>& data, int64_t rows, int64_t n, int64_t k,
                        const std::string& what) {
  SCOPED_TRACE(what + " rows=" + std::to_string(rows) + " n=" + std::to_string(n) +
               " k=" + std::to_string(k) + " threads=" + std::to_string(kThreadsT));
  std::vector<T> x(data.size());
  std::vector<float> ref_in(data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    if constexpr (std::is_same_v<T, __half>) {
      x[i].bits = float_to_half_bits(data[i]);
      ref_in[i] = half_bits_to_float(x[i].bits);
    } else {
      x[i] = data[i];
      ref_in[i] = data[i];
    }
  }
  std::vector<float> values(static_cast<size_t>(rows * k), -123.f);
  std::vector<int64_t> indices(static_cast<size_t>(rows * k), -123);
  std::vector<std::vector<uint64_t>> scratch;
  int launches = 0;
  tr::for_each_level(
      x.data(), rows, n, k, kCapT, values.data(), indices.data(),
      [&](int64_t count) {
        // Filled with a pattern that is not a key of this row, so that an unwritten slot shows.
        scratch.emplace_back(static_cast<size_t>(count), 0x5a5a5a5a5a5a5a5aull);
        return scratch.back().data();
      },
      [&](const tr::SelectArgs& a, int64_t grid) {
        ++launches;
        launch<T, kThreadsT, kCapT>(a, grid);
      });
  EXPECT_EQ(launches, static_cast<int>(tr::plan_levels(n, k, kCapT).size()));
  Tensor xin = Tensor::from_vector(ref_in, {rows, n});
  const auto [rv, ri] = nn::topk(xin, k);
  int64_t mismatches = 0, first = -1;
  for (int64_t i = 0; i < rows * k; ++i) {
    const float a = values[static_cast<size_t>(i)], b = rv.data<float>()[i];
    const bool same = std::memcmp(&a, &b, sizeof(a)) == 0;  // bit-exact: -0 stays -0
    if (!same || indices[static_cast<size_t>(i)] != ri.data<int64_t>()[i]) {
      if (first < 0) first = i;
      ++mismatches;
    }
  }
  EXPECT_EQ(mismatches, 0) << "first at " << first << ": got (" << values[first] << ", "
                           << indices[first] << ") want (" << rv.data<float>()[first] << ", "
                           << ri.data<int64_t>()[first] << ")";
}

std::vector<float> random_rows(int64_t count, uint32_t seed, bool ties) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-4.f, 4.f);
  std::vector<float> v(static_cast<size_t>(count));
  for (float& x : v) x = ties ? std::round(u(rng)) * 0.5f : u(rng);  // ties: ~9 levels
  return v;
}

// NaN, +-inf, -0 / +0, subnormals and the extreme finite values, sprinkled over tied data.
std::vector<float> special_rows(int64_t count, uint32_t seed) {
  const float specials[] = {NAN,
                            -NAN,
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            0.f,
                            -0.f,
                            std::numeric_limits<float>::denorm_min(),
                            -std::numeric_limits<float>::denorm_min(),
                            std::numeric_limits<float>::max(),
                            std::numeric_limits<float>::lowest(),
                            1.f,
                            -1.f};
  std::mt19937 rng(seed);
  std::vector<float> v = random_rows(count, seed + 1, true);
  for (float& x : v) {
    if (rng() % 3 == 0) x = specials[rng() % (sizeof(specials) / sizeof(specials[0]))];
  }
  return v;
}

constexpr int kSmallThreads = 64;
constexpr int kSmallCap = 512;

TEST(TopkRadixEmulation, PlanSplitsBalancedAndShrinks) {
  for (int64_t n : {1LL, 4096LL, 4097LL, 8400LL, 33600LL, 100000LL, 5000000LL}) {
    for (int64_t k : {1LL, 300LL, 512LL}) {
      if (k > n) continue;
      const auto levels = tr::plan_levels(n, k, tr::kCap);
      EXPECT_EQ(levels.front().in_count, n);
      EXPECT_EQ(levels.back().blocks, 1);
      EXPECT_LE(levels.back().in_count, tr::kCap);
      for (size_t l = 0; l + 1 < levels.size(); ++l) {
        const int64_t in = levels[l].in_count, b = levels[l].blocks;
        EXPECT_EQ(levels[l + 1].in_count, b * k);
        EXPECT_LT(b * k, in);
        // Smallest and largest chunk of the balanced split.
        EXPECT_LE((in + b - 1) / b, tr::kCap);
        EXPECT_GT(in / b, k);
      }
    }
  }
  EXPECT_EQ(tr::plan_levels(4096, 300, tr::kCap).size(), 1u);
  EXPECT_EQ(tr::plan_levels(8400, 300, tr::kCap).size(), 2u);
  EXPECT_EQ(tr::plan_levels(100000, 300, tr::kCap).size(), 3u);
}

TEST(TopkRadixEmulation, KeysOrderLikeTheCpuComparison) {
  const float ordered[] = {NAN, std::numeric_limits<float>::infinity(), 3.f, 1e-30f,
                           std::numeric_limits<float>::denorm_min(), 0.f,
                           -std::numeric_limits<float>::denorm_min(), -1.f,
                           std::numeric_limits<float>::lowest(),
                           -std::numeric_limits<float>::infinity()};
  for (size_t i = 0; i + 1 < sizeof(ordered) / sizeof(ordered[0]); ++i) {
    EXPECT_GT(tr::make_key(ordered[i], 7), tr::make_key(ordered[i + 1], 7)) << i;
    EXPECT_GT(tr::make_key(ordered[i + 1], 7), 0u);
  }
  EXPECT_EQ(tr::make_key(0.f, 3), tr::make_key(-0.f, 3));
  EXPECT_EQ(tr::make_key(NAN, 3), tr::make_key(-NAN, 3));
  EXPECT_GT(tr::make_key(1.f, 3), tr::make_key(1.f, 4));  // lower index first
  EXPECT_EQ(tr::key_index(tr::make_key(2.f, 0xfffffffeu)), 0xfffffffeu);
}

TEST(TopkRadixEmulation, SizesAroundChunkAndLevelEdges) {
  uint32_t seed = 1;
  for (int64_t n : {1LL, 7LL, 64LL, 65LL, 300LL, 511LL, 512LL, 513LL, 1025LL, 4097LL, 20000LL}) {
    for (int64_t k : {int64_t{1}, int64_t{10}, int64_t{64}, n}) {
      if (k > n || k > kSmallThreads) continue;
      const int64_t rows = n < 2000 ? 3 : 1;
      expect_matches_cpu<float, kSmallThreads, kSmallCap>(random_rows(rows * n, seed++, false),
                                                          rows, n, k, "random");
    }
  }
}

TEST(TopkRadixEmulation, HeavyTiesAndSpecialValues) {
  uint32_t seed = 100;
  for (int64_t n : {7LL, 300LL, 513LL, 3000LL, 20000LL}) {
    for (int64_t k : {1LL, 10LL, 64LL}) {
      if (k > n) continue;
      const int64_t rows = n < 2000 ? 4 : 1;
      expect_matches_cpu<float, kSmallThreads, kSmallCap>(random_rows(rows * n, seed++, true),
                                                          rows, n, k, "ties");
      expect_matches_cpu<float, kSmallThreads, kSmallCap>(special_rows(rows * n, seed++), rows,
                                                          n, k, "specials");
    }
  }
  // A row of one value: every radix pass runs, down to the last index digit.
  expect_matches_cpu<float, kSmallThreads, kSmallCap>(std::vector<float>(3000, 0.25f), 1, 3000,
                                                      64, "constant");
  expect_matches_cpu<float, kSmallThreads, kSmallCap>(std::vector<float>(700, NAN), 1, 700, 33,
                                                      "all NaN");
}

TEST(TopkRadixEmulation, Float16Rows) {
  expect_matches_cpu<__half, kSmallThreads, kSmallCap>(random_rows(2 * 3000, 200, false), 2,
                                                       3000, 64, "f16 random");
  expect_matches_cpu<__half, kSmallThreads, kSmallCap>(special_rows(2 * 1000, 201), 2, 1000, 50,
                                                       "f16 specials");
}

TEST(TopkRadixEmulation, ShippedBlockShape) {
  // D-FINE query selection ([1, 8400], k = 300: two levels), the largest k on one block, ties.
  expect_matches_cpu<float, tr::kThreads, tr::kCap>(random_rows(8400, 300, false), 1, 8400, 300,
                                                    "dfine");
  expect_matches_cpu<float, tr::kThreads, tr::kCap>(random_rows(4096, 301, true), 1, 4096, 512,
                                                    "k=512 ties");
  expect_matches_cpu<float, tr::kThreads, tr::kCap>(special_rows(2 * 301, 302), 2, 301, 301,
                                                    "k=n");
}

}  // namespace
}  // namespace um
