// Runs the CUDA assignment kernel (src/pipeline/assignment_cuda_kernel.cuh) on the CPU, on any
// machine: every CUDA thread of a block is a std::thread, __syncthreads is a std::barrier over
// the block, __shfl_down_sync a barrier-synchronised exchange within each warp of 32, and shared
// memory a buffer shared by the block's threads. The kernel's LOGIC (reductions, ownership of
// columns, feasible start, augmentation, transposition, statuses, outputs) is thus checked
// against the CPU solver without a GPU; timing and memory-model subtleties are not (the real
// device test is assignment_cuda_test). Problems are kept small: a barrier over a few hundred
// OS threads is slow.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
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
std::vector<double> shuffle_slots;  // one per thread
std::vector<unsigned char> dynamic_smem;
std::atomic<int> or_accumulator[2];
thread_local int or_phase = 0;

inline void syncthreads() { block_barrier->arrive_and_wait(); }
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
T shfl_down(T v, int off) {
  const int t = threadIdx.x, lane = t & 31, warp = t >> 5;
  shuffle_slots[t] = static_cast<double>(v);
  warp_barriers[warp]->arrive_and_wait();
  const T out = lane + off < 32 ? static_cast<T>(shuffle_slots[t + off]) : v;
  warp_barriers[warp]->arrive_and_wait();
  return out;
}
}  // namespace emu

#define UM_LSAP_EMULATION 1
#define __global__
#define __device__
#define __host__
#define __shared__ static
#define __syncthreads() ::emu::syncthreads()
#define __syncthreads_or(p) ::emu::syncthreads_or(p)
#define __shfl_down_sync(mask, v, off) ::emu::shfl_down((v), (off))
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
};

// Launches the kernel "<<<batch, threads, smem>>>" exactly as assignment_solve_cuda sizes it,
// one block after another.
KernelResult launch(const std::vector<Problem>& batch, int max_rows = -1, int max_cols = -1) {
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
  const int max_nc = std::max(mr, mc), max_nr = std::min(mr, mc);
  const int threads = std::min((std::max(max_nc, 1) + 31) / 32 * 32, um_lsap::kMaxThreads);
  emu::dynamic_smem.assign(um_lsap::smem_layout(max_nc, max_nr).bytes, 0xAB);  // garbage
  emu::shuffle_slots.assign(threads, 0.0);
  emu::block_barrier = std::make_unique<std::barrier<>>(threads);
  emu::warp_barriers.clear();
  for (int w = 0; w < threads / 32; ++w) {
    emu::warp_barriers.push_back(std::make_unique<std::barrier<>>(32));
  }
  for (int b = 0; b < static_cast<int>(batch.size()); ++b) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, b, t] {
        emu::threadIdx.x = t;
        emu::blockIdx.x = b;
        emu::blockDim.x = threads;
        um_lsap::lsap_batch_kernel(costs.data(), offsets.data(), rows.data(), cols.data(),
                                   r.out_offsets.data(), mr, mc, r.col_for_row.data(),
                                   r.total.data(), r.status.data());
      });
    }
    for (auto& th : pool) th.join();
  }
  return r;
}

void expect_matches_cpu(const std::vector<Problem>& batch) {
  const KernelResult k = launch(batch);
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
  batch.push_back({{3, 3, 3, 3, 3, 3, 3, 3, 3}, 3, 3});  // constant
  expect_matches_cpu(batch);
}

TEST(AssignmentKernelEmulation, MultiWarpProblemsMatchCpu) {
  // > 32 columns: several warps, the cross-warp reduction and the parity double buffer.
  std::mt19937 rng(22);
  std::vector<Problem> batch;
  batch.push_back(random_problem(rng, 40, 40, 0));
  batch.push_back(random_problem(rng, 70, 9, 0));   // tall: solved transposed
  batch.push_back(random_problem(rng, 9, 70, 1));   // wide, ties
  batch.push_back(random_problem(rng, 48, 48, 2));  // forbidden entries
  expect_matches_cpu(batch);
}

TEST(AssignmentKernelEmulation, MoreColumnsThanThreads) {
  // 600 columns > 512 threads: a thread owns two columns.
  std::mt19937 rng(23);
  std::vector<Problem> batch{random_problem(rng, 6, 600, 0), random_problem(rng, 600, 3, 1)};
  expect_matches_cpu(batch);
}

TEST(AssignmentKernelEmulation, ProblemsBeyondTheDeclaredBoundsAreFlagged) {
  std::mt19937 rng(24);
  std::vector<Problem> batch{random_problem(rng, 3, 3, 0), random_problem(rng, 5, 2, 0)};
  const KernelResult k = launch(batch, /*max_rows=*/3, /*max_cols=*/3);
  EXPECT_EQ(k.status[0], 0);
  EXPECT_EQ(k.status[1], static_cast<int>(AssignmentCode::kBadShape));
  for (int r = 0; r < 5; ++r) EXPECT_EQ(k.col_for_row[3 + r], -1);
}

}  // namespace
}  // namespace um::pipeline
