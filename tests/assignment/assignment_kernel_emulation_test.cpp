// Runs the CUDA assignment kernel (src/pipeline/assignment_cuda_kernel.cuh) on the CPU, on any
// machine: every CUDA thread of a block is a std::thread, __syncthreads is a std::barrier over
// the block, __syncwarp a barrier over each warp of 32, __shfl_down_sync, __reduce_min_sync and
// __ballot_sync, __match_any_sync barrier-synchronised exchanges within a warp, shared atomicMin
// (32 and 64 bits) a compare-exchange loop, __fdividef an exact division (the kernel corrects
// its device estimate exactly, see small_div), and shared memory a buffer shared by the block's
// threads. The kernel's LOGIC (reductions, ownership of columns, feasible start and its parallel
// claiming, augmentation, transposition and the cost cache, both team modes, statuses, outputs)
// is thus checked against the CPU solver without a GPU, in all four kernel variants; timing and
// memory-model subtleties are not (the real device test is assignment_cuda_test). Problems are
// kept small: a barrier over a few hundred OS threads is slow.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <bit>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "pipeline/assignment.h"

// ---- CUDA shims (only what the kernel uses) -------------------------------------------------
namespace emu {
struct Dim {
  int x = 0;
};
thread_local Dim threadIdx, blockIdx, blockDim;
std::unique_ptr<std::barrier<>> block_barrier;
std::vector<std::unique_ptr<std::barrier<>>> warp_barriers;
std::vector<uint64_t> shuffle_slots;   // one per thread (a value's bytes)
std::vector<unsigned> reduce_slots;    // one per thread
std::vector<unsigned char> dynamic_smem;
std::atomic<int> or_accumulator[2];
thread_local int or_phase = 0;

inline void syncthreads() { block_barrier->arrive_and_wait(); }
inline void syncwarp() { warp_barriers[threadIdx.x >> 5]->arrive_and_wait(); }
inline int syncthreads_or(int p) {
  const int ph = or_phase;
  or_phase ^= 1;
  if (p) or_accumulator[ph].fetch_or(1);
  syncthreads();
  const int r = or_accumulator[ph].load();
  syncthreads();
  if (threadIdx.x == 0) or_accumulator[ph].store(0);  // the next use of this slot is 2 calls away
  return r;
}
template <typename T>
T shfl_down(T v, int off) {  // any type of up to 8 bytes, bit for bit
  static_assert(sizeof(T) <= sizeof(uint64_t));
  const int t = threadIdx.x, lane = t & 31;
  std::memcpy(&shuffle_slots[t], &v, sizeof v);
  syncwarp();
  T out = v;
  if (lane + off < 32) std::memcpy(&out, &shuffle_slots[t + off], sizeof out);
  syncwarp();
  return out;
}
inline unsigned reduce_min(unsigned v) {
  const int t = threadIdx.x, first = t & ~31;
  reduce_slots[t] = v;
  syncwarp();
  unsigned m = reduce_slots[first];
  for (int k = 1; k < 32; ++k) m = std::min(m, reduce_slots[first + k]);
  syncwarp();
  return m;
}
inline unsigned ballot(bool p) {
  const int t = threadIdx.x, first = t & ~31;
  reduce_slots[t] = p ? 1u : 0u;
  syncwarp();
  unsigned m = 0;
  for (int k = 0; k < 32; ++k) m |= reduce_slots[first + k] << k;
  syncwarp();
  return m;
}
// The lanes holding the same value as this one (mask of 32), like __match_any_sync.
inline unsigned match_any(int v) {
  const int t = threadIdx.x, first = t & ~31;
  reduce_slots[t] = static_cast<unsigned>(v);
  syncwarp();
  unsigned m = 0;
  for (int k = 0; k < 32; ++k) {
    m |= (reduce_slots[first + k] == static_cast<unsigned>(v) ? 1u : 0u) << k;
  }
  syncwarp();
  return m;
}
inline int ffs(int m) { return m == 0 ? 0 : std::countr_zero(static_cast<unsigned>(m)) + 1; }
template <typename T>
T atomic_min(T* p, T v) {  // shared atomicMin on int and unsigned long long
  std::atomic_ref<T> a(*p);
  T old = a.load();
  while (v < old && !a.compare_exchange_weak(old, v)) {
  }
  return old;
}
inline long long double_as_longlong(double x) {
  long long b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}
inline double longlong_as_double(long long b) {
  double x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}
inline unsigned float_as_uint(float x) {
  unsigned b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}
inline float uint_as_float(unsigned b) {
  float x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}
}  // namespace emu

#define UM_LSAP_EMULATION 1
#define __global__
#define __launch_bounds__(...)
#define __device__
#define __host__
#define __shared__ static
#define __syncthreads() ::emu::syncthreads()
#define __syncthreads_or(p) ::emu::syncthreads_or(p)
#define __syncwarp() ::emu::syncwarp()
#define __shfl_down_sync(mask, v, off) ::emu::shfl_down((v), (off))
#define __reduce_min_sync(mask, v) ::emu::reduce_min(v)
#define __ballot_sync(mask, p) ::emu::ballot(p)
#define __ffs(m) ::emu::ffs(m)
#define __match_any_sync(mask, v) ::emu::match_any(v)
#define __fdividef(a, b) ((a) / (b))
#define atomicMin(p, v) ::emu::atomic_min((p), (v))
#define __double_as_longlong(x) ::emu::double_as_longlong(x)
#define __longlong_as_double(x) ::emu::longlong_as_double(x)
#define __float_as_uint(x) ::emu::float_as_uint(x)
#define __uint_as_float(x) ::emu::uint_as_float(x)
#define __ldg(p) (*(p))
using emu::blockDim;
using emu::blockIdx;
using emu::threadIdx;
using std::max;
using std::min;
// Wrapped in its own namespace: the real kernel's host stub in um_pipeline has the same name.
// (The standard headers the kernel includes are already included above, so their include
// guards keep them out of this namespace.)
namespace emu_kernel {
namespace um_lsap {
inline unsigned char* lsap_dynamic_smem() { return emu::dynamic_smem.data(); }
}  // namespace um_lsap
#include "pipeline/assignment_cuda_kernel.cuh"
}  // namespace emu_kernel
namespace um_lsap = emu_kernel::um_lsap;
// ----------------------------------------------------------------------------------------------

namespace um::pipeline {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

struct Problem {
  std::vector<float> cost;
  int rows = 0, cols = 0;
};

struct KernelResult {
  std::vector<int> col_for_row;  // per problem, concatenated
  std::vector<double> total;
  std::vector<int> status;
  std::vector<int> out_offsets;
  bool cached = false;  // the launch cached the costs in shared memory
};

// A kernel variant as assignment_solve_cuda_ex names it.
struct Variant {
  int team = um_lsap::kTeamAuto;
  int cache = um_lsap::kCacheAuto;
};
// Every variant: one warp or the whole block per problem, costs cached in shared memory or read
// from global memory.
const Variant kAllVariants[] = {{um_lsap::kTeamWarp, um_lsap::kCacheOn},
                                {um_lsap::kTeamWarp, um_lsap::kCacheOff},
                                {um_lsap::kTeamBlock, um_lsap::kCacheOn},
                                {um_lsap::kTeamBlock, um_lsap::kCacheOff}};
// An H100's limits (what choose_launch is given on the device).
constexpr um_lsap::DeviceLimits kH100{227 * 1024, 228 * 1024, 132};

// Launches the kernel "<<<batch, threads, smem>>>" exactly as assignment_solve_cuda_ex shapes
// it (um_lsap::choose_launch), one block after another.
KernelResult launch(const std::vector<Problem>& batch, Variant variant, int max_rows = -1,
                    int max_cols = -1) {
  std::vector<float> costs;
  std::vector<int64_t> offsets;
  std::vector<int> rows, cols;
  KernelResult r;
  int total_rows = 0, mr = 0, mc = 0;
  for (const auto& p : batch) {
    offsets.push_back(static_cast<int64_t>(costs.size()));
    costs.insert(costs.end(), p.cost.begin(), p.cost.end());
    rows.push_back(p.rows);
    cols.push_back(p.cols);
    r.out_offsets.push_back(total_rows);
    total_rows += p.rows;
    mr = std::max(mr, p.rows);
    mc = std::max(mc, p.cols);
  }
  if (max_rows >= 0) mr = max_rows;
  if (max_cols >= 0) mc = max_cols;
  r.col_for_row.assign(std::max(total_rows, 1), 12345);  // sentinel: must be overwritten
  r.total.assign(batch.size(), -1.0);
  r.status.assign(batch.size(), -1);
  const um_lsap::LaunchConfig c = um_lsap::choose_launch(static_cast<int>(batch.size()), mr, mc,
                                                         variant.team, variant.cache, kH100);
  EXPECT_GT(c.threads, 0) << "does not fit";
  if (c.threads == 0) return r;
  EXPECT_EQ(c.warp_team, variant.team == um_lsap::kTeamWarp ||
                             (variant.team == um_lsap::kTeamAuto &&
                              std::max(mr, mc) <= um_lsap::kWarpTeamMaxCols));
  r.cached = c.cache;
  const int threads = c.threads;
  emu::dynamic_smem.assign(c.smem_bytes, 0xAB);  // garbage
  emu::shuffle_slots.assign(threads, 0);
  emu::reduce_slots.assign(threads, 0u);
  emu::block_barrier = std::make_unique<std::barrier<>>(threads);
  emu::warp_barriers.clear();
  for (int w = 0; w < threads / 32; ++w) {
    emu::warp_barriers.push_back(std::make_unique<std::barrier<>>(32));
  }
  auto kernel = c.warp_team ? (c.cache ? um_lsap::lsap_batch_kernel<true, true>
                                       : um_lsap::lsap_batch_kernel<true, false>)
                            : (c.cache ? um_lsap::lsap_batch_kernel<false, true>
                                       : um_lsap::lsap_batch_kernel<false, false>);
  for (int b = 0; b < static_cast<int>(batch.size()); ++b) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, b, t] {
        emu::threadIdx.x = t;
        emu::blockIdx.x = b;
        emu::blockDim.x = threads;
        kernel(costs.data(), offsets.data(), rows.data(), cols.data(), r.out_offsets.data(), mr,
               mc, r.col_for_row.data(), r.total.data(), r.status.data());
      });
    }
    for (auto& th : pool) th.join();
  }
  return r;
}

void expect_matches_cpu(const std::vector<Problem>& batch, Variant variant) {
  SCOPED_TRACE("team mode " + std::to_string(variant.team) + ", cache mode " +
               std::to_string(variant.cache));
  const KernelResult k = launch(batch, variant);
  for (size_t b = 0; b < batch.size(); ++b) {
    const Problem& p = batch[b];
    auto cpu = solve_assignment(p.cost.data(), p.rows, p.cols);
    if (!cpu.ok()) {
      const int want = cpu.status().code() == StatusCode::kFailedPrecondition
                           ? static_cast<int>(AssignmentCode::kInfeasible)
                           : static_cast<int>(AssignmentCode::kInvalidEntry);
      EXPECT_EQ(k.status[b], want) << "problem " << b << ": " << cpu.status().to_string();
      for (int r = 0; r < p.rows; ++r) EXPECT_EQ(k.col_for_row[k.out_offsets[b] + r], -1);
      continue;
    }
    ASSERT_EQ(k.status[b], 0) << "problem " << b << " (" << p.rows << "x" << p.cols << ")";
    std::vector<char> used(p.cols, 0);
    int pairs = 0;
    double sum = 0;
    for (int r = 0; r < p.rows; ++r) {
      const int c = k.col_for_row[k.out_offsets[b] + r];
      if (c == -1) continue;
      ASSERT_GE(c, 0) << "problem " << b << " row " << r;
      ASSERT_LT(c, p.cols);
      EXPECT_FALSE(used[c]) << "problem " << b << ": column " << c << " used twice";
      used[c] = 1;
      ++pairs;
      sum += p.cost[static_cast<size_t>(r) * p.cols + c];
    }
    EXPECT_EQ(pairs, std::min(p.rows, p.cols)) << "problem " << b;
    const double scale = std::max(1.0, std::abs(cpu->total_cost));
    EXPECT_NEAR(sum, k.total[b], 1e-9 * scale) << "problem " << b;
    EXPECT_NEAR(k.total[b], cpu->total_cost, 1e-9 * scale)
        << "problem " << b << " (" << p.rows << "x" << p.cols << ") not optimal";
  }
}

Problem random_problem(std::mt19937& rng, int rows, int cols, int mode) {
  std::uniform_real_distribution<float> uni(0.0f, 1.0f);
  std::uniform_int_distribution<int> ties(0, 3);
  Problem p{std::vector<float>(static_cast<size_t>(rows) * cols), rows, cols};
  for (auto& x : p.cost) {
    x = mode == 1 ? static_cast<float>(ties(rng)) : uni(rng);
    if (mode == 2 && uni(rng) < 0.4f) x = kInf;
  }
  return p;
}

void expect_all_variants_match_cpu(const std::vector<Problem>& batch) {
  for (const Variant& v : kAllVariants) expect_matches_cpu(batch, v);
}

TEST(AssignmentKernelEmulation, SmallMixedBatchMatchesCpu) {
  std::mt19937 rng(21);
  std::uniform_int_distribution<int> dim(1, 12);
  std::vector<Problem> batch;
  for (int k = 0; k < 60; ++k) batch.push_back(random_problem(rng, dim(rng), dim(rng), k % 3));
  batch.push_back({{}, 0, 3});
  batch.push_back({{}, 2, 0});
  batch.push_back({{7.0f}, 1, 1});
  batch.push_back({{kInf}, 1, 1});
  batch.push_back({{1, std::numeric_limits<float>::quiet_NaN(), 2, 3}, 2, 2});
  batch.push_back({{1, 2, -kInf, 3}, 2, 2});
  batch.push_back({{kInf, kInf, 1, 2}, 2, 2});        // square: a row all forbidden
  batch.push_back({{kInf, 1, kInf, 2}, 2, 2});        // square: a column all forbidden
  batch.push_back({{kInf, kInf, kInf, 1, 2, 3}, 2, 3});  // wide: a row all forbidden
  batch.push_back({{1, kInf, 2, kInf, 3, kInf}, 3, 2});  // tall: a column all forbidden
  batch.push_back({{3, 3, 3, 3, 3, 3, 3, 3, 3}, 3, 3});  // constant
  batch.push_back({{-0.0f, 0.0f, 0.0f, -0.0f}, 2, 2});   // signed zeros tie
  // Wide / tall (the start's per-row arg-min on float keys): signed zeros tying across lanes,
  // negative minima repeated in a row, both rows claiming one column.
  batch.push_back({{0.0f, -0.0f, 2, -0.0f, 0.0f, 1}, 2, 3});
  batch.push_back({{0.0f, -0.0f, 2, -0.0f, 0.0f, 1}, 3, 2});
  batch.push_back({{-1.5f, -2.0f, -2.0f, 4, -3.0f, 0.5f, -3.0f, -0.0f}, 2, 4});
  batch.push_back({{-1.5f, -2.0f, -2.0f, 4, -3.0f, 0.5f, -3.0f, -0.0f}, 4, 2});
  expect_all_variants_match_cpu(batch);
}

TEST(AssignmentKernelEmulation, MultiWarpProblemsMatchCpu) {
  // > 32 columns: several columns per lane (warp team) or several warps (block team: the
  // cross-warp arg-min and its parity double buffer).
  std::mt19937 rng(22);
  std::vector<Problem> batch;
  batch.push_back(random_problem(rng, 40, 40, 0));
  batch.push_back(random_problem(rng, 70, 9, 0));   // tall: solved transposed
  batch.push_back(random_problem(rng, 9, 70, 1));   // wide, ties
  batch.push_back(random_problem(rng, 48, 48, 2));  // forbidden entries
  expect_all_variants_match_cpu(batch);
}

TEST(AssignmentKernelEmulation, MoreColumnsThanThreads) {
  // 600 columns > 512 threads: a block-team thread owns two columns, a warp-team lane 19.
  std::mt19937 rng(23);
  std::vector<Problem> batch{random_problem(rng, 6, 600, 0), random_problem(rng, 600, 3, 1)};
  // Every row cheapest in the LAST column, dearer towards the first: the start places one row
  // and the searches run over columns far beyond the first 128 (a warp lane's 5th and later
  // columns, a block thread's second), wide and tall.
  std::uniform_real_distribution<float> noise(0.0f, 0.01f);
  Problem wide{std::vector<float>(8 * 600), 8, 600}, tall{std::vector<float>(600 * 8), 600, 8};
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 600; ++j) {
      const float x = static_cast<float>(599 - j) + noise(rng);
      wide.cost[static_cast<size_t>(i) * 600 + j] = x;
      tall.cost[static_cast<size_t>(j) * 8 + i] = x;
    }
  }
  expect_all_variants_match_cpu(batch);  // (600 x 600 bounds: no variant can cache the costs)
  expect_all_variants_match_cpu({wide});  // 8 x 600 and 600 x 8 bounds: cached where asked
  expect_all_variants_match_cpu({tall});
}

// Wide problems whose feasible start places EVERY row: row i's minimum is column 3i (distinct),
// so no augmentation runs; square ones whose column minima are distinct rows (the transposed
// statement), and a tall one.
TEST(AssignmentKernelEmulation, StartPlacesEverything) {
  std::mt19937 rng(25);
  std::uniform_real_distribution<float> uni(1.0f, 2.0f);
  std::vector<Problem> batch;
  for (auto [r, c] : {std::pair{10, 40}, {1, 30}, {12, 12}, {40, 10}}) {
    Problem p{std::vector<float>(static_cast<size_t>(r) * c), r, c};
    for (auto& x : p.cost) x = uni(rng);
    const int nr = std::min(r, c), nc = std::max(r, c);
    for (int i = 0; i < nr; ++i) {
      const int j = (i * 3) % nc;  // distinct for the sizes above
      // wide(i, j) = 0: wide rows are the original rows unless the problem is tall.
      if (r <= c) {
        p.cost[static_cast<size_t>(i) * c + j] = 0.0f;
      } else {
        p.cost[static_cast<size_t>(j) * c + i] = 0.0f;
      }
    }
    batch.push_back(std::move(p));
  }
  expect_all_variants_match_cpu(batch);
}

// Every row's minimum is the SAME column (cost = column index + tiny noise): the start places
// one row and every other row needs an augmentation with long alternating paths.
TEST(AssignmentKernelEmulation, StartPlacesAlmostNothing) {
  std::mt19937 rng(26);
  std::uniform_real_distribution<float> noise(0.0f, 0.01f);
  std::vector<Problem> batch;
  for (auto [r, c] : {std::pair{16, 40}, {20, 20}, {40, 16}}) {
    Problem p{std::vector<float>(static_cast<size_t>(r) * c), r, c};
    for (int i = 0; i < r; ++i) {
      for (int j = 0; j < c; ++j) {
        const int wide_j = r <= c ? j : i;  // the wide column index
        p.cost[static_cast<size_t>(i) * c + j] = static_cast<float>(wide_j) + noise(rng);
      }
    }
    batch.push_back(std::move(p));
  }
  expect_all_variants_match_cpu(batch);
}

// Forbidden structure: rows (wide) / columns (square) all +inf are infeasible before any
// search; a square row all +inf is found by the search; a problem whose only feasible matching
// is forced through +inf walls is solved; every other problem of the batch is unaffected.
// Wide rows the start leaves free far apart (5 and 69 of 70): after row 5, the next 32 rows
// hold no free one, so the search for the next free row must go on to the following 32 (the
// ballot scan of next_free_row); also transposed (80 x 70).
TEST(AssignmentKernelEmulation, FreeRowsFarApart) {
  std::mt19937 rng(27);
  std::uniform_real_distribution<float> low(0.0f, 1.0f), high(2.0f, 3.0f);
  const int nr = 70, nc = 80;
  Problem wide{std::vector<float>(static_cast<size_t>(nr) * nc), nr, nc};
  for (auto& x : wide.cost) x = high(rng);
  for (int r = 0; r < nr; ++r) {
    // Row r's cheapest column is r, except rows 5 and 69, whose cheapest columns (4 and 10) a
    // lower row claims first.
    const int m = r == 5 ? 4 : r == 69 ? 10 : r;
    wide.cost[static_cast<size_t>(r) * nc + m] = low(rng);
  }
  Problem tall{std::vector<float>(wide.cost.size()), nc, nr};
  for (int r = 0; r < nr; ++r) {
    for (int c = 0; c < nc; ++c) {
      tall.cost[static_cast<size_t>(c) * nr + r] = wide.cost[static_cast<size_t>(r) * nc + c];
    }
  }
  expect_all_variants_match_cpu({wide, tall});
}

TEST(AssignmentKernelEmulation, ForbiddenRowsAndColumns) {
  std::mt19937 rng(27);
  std::vector<Problem> batch;
  Problem wide_row = random_problem(rng, 5, 9, 0);
  for (int j = 0; j < 9; ++j) wide_row.cost[2 * 9 + j] = kInf;
  batch.push_back(wide_row);
  Problem square_row = random_problem(rng, 6, 6, 0);
  for (int j = 0; j < 6; ++j) square_row.cost[4 * 6 + j] = kInf;
  batch.push_back(square_row);
  Problem square_col = random_problem(rng, 6, 6, 0);
  for (int i = 0; i < 6; ++i) square_col.cost[i * 6 + 1] = kInf;
  batch.push_back(square_col);
  Problem tall_col = random_problem(rng, 9, 4, 0);
  for (int i = 0; i < 9; ++i) tall_col.cost[i * 4 + 3] = kInf;
  batch.push_back(tall_col);
  // Feasible only as the anti-diagonal: every other entry is +inf.
  Problem forced{std::vector<float>(36, kInf), 6, 6};
  for (int i = 0; i < 6; ++i) forced.cost[i * 6 + (5 - i)] = static_cast<float>(i);
  batch.push_back(forced);
  // Two rows compete for the same single allowed column: infeasible only after a search.
  Problem clash = random_problem(rng, 4, 7, 0);
  for (int j = 0; j < 7; ++j) {
    clash.cost[0 * 7 + j] = j == 5 ? 1.0f : kInf;
    clash.cost[3 * 7 + j] = j == 5 ? 2.0f : kInf;
  }
  batch.push_back(clash);
  batch.push_back(random_problem(rng, 7, 7, 2));
  batch.push_back(random_problem(rng, 30, 11, 2));
  expect_all_variants_match_cpu(batch);
}

// The cached load folds the feasible start's minima down each original column (square: column
// minima; tall, solved transposed: the wide rows' minima) into colmin[] by shared atomicMin; with
// at most 32 columns the start is then decided by one warp-wide __match_any_sync, and when every
// column gets its cheapest row the kernel writes that optimum directly. Each case below takes a
// different branch of that: all placed, some placed (search follows), a column with only +inf
// (infeasible), NaN / -inf (invalid), ties (integer costs, signed zeros, the same minimum twice in
// a column: the lowest row claims), 1 x 1, the widest 32-column case, > 32 columns (claim[]
// atomics), and columns longer than one load batch (32 rows a thread: the second batch is read
// inside the loop, after the first was consumed).
TEST(AssignmentKernelEmulation, FoldedStartMatchesCpu) {
  std::mt19937 rng(28);
  std::uniform_real_distribution<float> uni(1.0f, 2.0f);
  std::vector<Problem> batch;
  // Every column's cheapest row distinct (row 3c): placed entirely by the start, tall and square.
  for (auto [r, c] : {std::pair{40, 10}, {300, 1}, {12, 12}, {32, 32}, {100, 32}}) {
    Problem p{std::vector<float>(static_cast<size_t>(r) * c), r, c};
    for (auto& x : p.cost) x = uni(rng);
    for (int j = 0; j < c; ++j) p.cost[static_cast<size_t>((3 * j) % r) * c + j] = 0.5f;
    batch.push_back(std::move(p));
  }
  // Collisions (random, integer ties), so the start places some columns and the search the rest.
  for (auto [r, c] : {std::pair{30, 7}, {33, 32}, {9, 9}, {20, 20}, {64, 31}}) {
    batch.push_back(random_problem(rng, r, c, 0));
    batch.push_back(random_problem(rng, r, c, 1));
    batch.push_back(random_problem(rng, r, c, 2));
  }
  // The same minimum twice in every column (rows j and j + 1, j + 1 also the next column's):
  // the lowest row claims, and ties decide which column keeps it.
  Problem twice{std::vector<float>(10 * 6, 3.0f), 10, 6};
  for (int j = 0; j < 6; ++j) {
    twice.cost[static_cast<size_t>(j) * 6 + j] = -1.0f;
    twice.cost[static_cast<size_t>(j + 1) * 6 + j] = -1.0f;
  }
  batch.push_back(twice);
  // Signed zeros as the minimum of every column, -0.0f first or second.
  batch.push_back({{0.0f, -0.0f, -0.0f, 0.0f, 1.0f, 1.0f}, 3, 2});
  batch.push_back({{7.0f}, 1, 1});
  batch.push_back({{-kInf}, 1, 1});
  batch.push_back({{1, 2, std::numeric_limits<float>::quiet_NaN(), 4, 5, 6}, 3, 2});
  batch.push_back({{1, 2, 3, -kInf, 5, 6}, 3, 2});
  Problem inf_col = random_problem(rng, 12, 5, 0);  // tall: a column (wide row) all +inf
  for (int i = 0; i < 12; ++i) inf_col.cost[static_cast<size_t>(i) * 5 + 2] = kInf;
  batch.push_back(inf_col);
  Problem inf_sq = random_problem(rng, 7, 7, 0);  // square: a column all +inf
  for (int i = 0; i < 7; ++i) inf_sq.cost[static_cast<size_t>(i) * 7 + 6] = kInf;
  batch.push_back(inf_sq);
  // Feasible only through a forced chain: every column's only finite entries are rows c, c + 1.
  Problem chain{std::vector<float>(9 * 8, kInf), 9, 8};
  for (int j = 0; j < 8; ++j) {
    chain.cost[static_cast<size_t>(j) * 8 + j] = 1.0f;
    chain.cost[static_cast<size_t>(j + 1) * 8 + j] = 0.5f;
  }
  batch.push_back(chain);
  // In the same launch, problems the fold does not apply to (wide: the scan) and empty ones.
  batch.push_back(random_problem(rng, 6, 40, 0));
  batch.push_back(random_problem(rng, 1, 9, 1));
  batch.push_back({{}, 0, 4});
  batch.push_back({{}, 5, 0});
  expect_all_variants_match_cpu(batch);
  // > 32 columns (claim[] atomics after the fold), tall and square, with forbidden entries.
  expect_all_variants_match_cpu({random_problem(rng, 90, 40, 0), random_problem(rng, 45, 45, 2),
                                 random_problem(rng, 50, 33, 1)});
  // Longer columns than one batch of a thread: 200 x 40 in a 256-thread warp-team block is 6
  // rows of threads, 34 entries a thread; 128 x 128 (a warp team, 256 threads) is 64.
  expect_all_variants_match_cpu({random_problem(rng, 200, 40, 0)});
  expect_all_variants_match_cpu({random_problem(rng, 128, 128, 0)});
}

TEST(AssignmentKernelEmulation, LaunchShapeChoice) {
  // 256 x 64 x 64: one warp per problem, costs cached (16 KiB each, one wave).
  um_lsap::LaunchConfig c = um_lsap::choose_launch(256, 64, 64, um_lsap::kTeamAuto,
                                                   um_lsap::kCacheAuto, kH100);
  EXPECT_TRUE(c.warp_team);
  EXPECT_TRUE(c.cache);
  EXPECT_EQ(c.threads, 256);  // 4096 entries, 16 per thread
  // 300 x 50: solved as 50 x 300 by a block of 320 threads, 60 KiB cached.
  c = um_lsap::choose_launch(4, 300, 50, um_lsap::kTeamAuto, um_lsap::kCacheAuto, kH100);
  EXPECT_FALSE(c.warp_team);
  EXPECT_TRUE(c.cache);
  EXPECT_EQ(c.threads, 320);
  EXPECT_LE(c.smem_bytes, static_cast<size_t>(kH100.smem_optin));
  // 300 x 300 (360 KiB of costs) cannot be cached, even when asked.
  c = um_lsap::choose_launch(1, 300, 300, um_lsap::kTeamAuto, um_lsap::kCacheOn, kH100);
  EXPECT_FALSE(c.cache);
  EXPECT_GT(c.threads, 0);
  // Caching that would need a second wave of blocks is left off automatically.
  c = um_lsap::choose_launch(100000, 100, 100, um_lsap::kTeamAuto, um_lsap::kCacheAuto, kH100);
  EXPECT_FALSE(c.cache);
  // Nothing fits: threads == 0.
  c = um_lsap::choose_launch(1, 100000, 100000, um_lsap::kTeamAuto, um_lsap::kCacheOff, kH100);
  EXPECT_EQ(c.threads, 0);
}

TEST(AssignmentKernelEmulation, ProblemsBeyondTheDeclaredBoundsAreFlagged) {
  std::mt19937 rng(24);
  std::vector<Problem> batch{random_problem(rng, 3, 3, 0), random_problem(rng, 5, 2, 0)};
  for (const Variant& v : kAllVariants) {
    const KernelResult k = launch(batch, v, /*max_rows=*/3, /*max_cols=*/3);
    EXPECT_EQ(k.status[0], 0);
    EXPECT_EQ(k.status[1], static_cast<int>(AssignmentCode::kBadShape));
    for (int r = 0; r < 5; ++r) EXPECT_EQ(k.col_for_row[3 + r], -1);
  }
}

}  // namespace
}  // namespace um::pipeline
