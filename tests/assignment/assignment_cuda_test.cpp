// CUDA batched assignment (src/pipeline/assignment_cuda.h) == CPU solver: same statuses, same
// optimal totals, valid assignments, on ragged batches that mix every case the CPU tests cover
// (300x300, 300x50, 50x300, 256 problems of 64x64, integer ties, +inf, infeasible, NaN, empty),
// in every kernel variant (one warp or one block per problem, costs cached in shared memory or
// not), through the reusable CudaAssignmentSolver (buffers reused, grown only when needed; views
// or staged zero-copy input) and the device-resident entry point.
// Without a GPU every test SKIPS with a loud message (cudaGetDeviceCount fails or returns 0).
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "pipeline/assignment.h"
#include "pipeline/assignment_cuda.h"

namespace um::pipeline {
namespace {

#define UM_REQUIRE_CUDA_DEVICE()                                                            \
  do {                                                                                      \
    if (!cuda_assignment_available()) {                                                     \
      std::fprintf(stderr,                                                                  \
                   "\n*** SKIPPED: no CUDA device (cudaGetDeviceCount failed or returned 0)" \
                   ": the CUDA assignment was NOT tested ***\n");                            \
      GTEST_SKIP() << "no CUDA device";                                                     \
    }                                                                                       \
  } while (0)

constexpr float kInf = std::numeric_limits<float>::infinity();

struct Problem {
  std::vector<float> cost;
  int rows = 0, cols = 0;
};

std::vector<Problem> make_batch(unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uni(0.0f, 1.0f);
  std::uniform_int_distribution<int> ties(0, 3), dim(1, 40);
  std::vector<Problem> out;
  auto add = [&](int r, int c, int mode) {
    Problem p{std::vector<float>(static_cast<size_t>(r) * c), r, c};
    for (auto& x : p.cost) {
      x = mode == 1 ? static_cast<float>(ties(rng)) : uni(rng);
      if (mode == 2 && uni(rng) < 0.35f) x = kInf;
    }
    out.push_back(std::move(p));
  };
  add(300, 300, 0);
  add(300, 50, 0);
  add(50, 300, 0);
  add(300, 1, 0);
  add(0, 5, 0);
  add(4, 0, 0);
  add(1, 1, 0);
  add(120, 120, 1);
  for (int k = 0; k < 300; ++k) add(dim(rng), dim(rng), k % 3);
  Problem nan{{1, std::numeric_limits<float>::quiet_NaN(), 2, 3}, 2, 2};
  Problem neg{{1, 2, -kInf, 3}, 2, 2};
  Problem infeasible{{kInf, kInf, 1, 2}, 2, 2};
  out.push_back(nan);
  out.push_back(neg);
  out.push_back(infeasible);
  return out;
}

// `b` problems of `r` x `c` uniform [0, 1) costs (the benchmark's shapes: equal bounds let the
// costs be cached), drawn from `rng`, so that successive batches of one test differ.
std::vector<Problem> uniform_batch(int b, int r, int c, std::mt19937& rng) {
  std::uniform_real_distribution<float> uni(0.0f, 1.0f);
  std::vector<Problem> batch(b);
  for (auto& p : batch) {
    p.rows = r;
    p.cols = c;
    p.cost.resize(static_cast<size_t>(r) * c);
    for (auto& x : p.cost) x = uni(rng);
  }
  return batch;
}

std::vector<CostMatrixView<float>> views_of(const std::vector<Problem>& batch) {
  std::vector<CostMatrixView<float>> views;
  for (const auto& p : batch) views.push_back({p.cost.data(), p.rows, p.cols});
  return views;
}

// GPU results `gpu` for `batch` == the CPU solver's: statuses, valid assignments, optimal totals.
void expect_like_cpu(const std::vector<Problem>& batch,
                     const std::vector<Result<Assignment>>& gpu) {
  const std::vector<CostMatrixView<float>> views = views_of(batch);
  const auto cpu = solve_assignment_batch(views);
  ASSERT_EQ(gpu.size(), batch.size());
  int checked = 0;
  for (size_t b = 0; b < batch.size(); ++b) {
    const Problem& p = batch[b];
    ASSERT_EQ(gpu[b].ok(), cpu[b].ok()) << "problem " << b << " (" << p.rows << "x" << p.cols
                                        << "): gpu " << gpu[b].status().to_string() << ", cpu "
                                        << cpu[b].status().to_string();
    if (!cpu[b].ok()) {
      EXPECT_EQ(gpu[b].status().code(), cpu[b].status().code()) << "problem " << b;
      continue;
    }
    const Assignment& g = *gpu[b];
    ASSERT_EQ(g.row_ind.size(), static_cast<size_t>(std::min(p.rows, p.cols))) << "problem " << b;
    std::set<int> cols(g.col_ind.begin(), g.col_ind.end());
    EXPECT_EQ(cols.size(), g.col_ind.size()) << "problem " << b << ": a column is used twice";
    EXPECT_TRUE(std::is_sorted(g.row_ind.begin(), g.row_ind.end()));
    double s = 0;
    for (size_t k = 0; k < g.row_ind.size(); ++k) {
      const float v = p.cost[static_cast<size_t>(g.row_ind[k]) * p.cols + g.col_ind[k]];
      ASSERT_TRUE(std::isfinite(v)) << "problem " << b << ": forbidden pair chosen";
      s += v;
    }
    const double scale = std::max(1.0, std::abs(cpu[b]->total_cost));
    EXPECT_NEAR(s, g.total_cost, 1e-9 * scale) << "problem " << b << ": reported total";
    EXPECT_NEAR(g.total_cost, cpu[b]->total_cost, 1e-9 * scale)
        << "problem " << b << " (" << p.rows << "x" << p.cols << ") is not optimal";
    ++checked;
  }
  EXPECT_GT(checked, static_cast<int>(batch.size()) / 2);
}

// With `solver` null, the per-thread convenience solve_assignment_batch_cuda is used.
void compare_with_cpu(const std::vector<Problem>& batch, CudaAssignmentSolver* solver = nullptr,
                      cudaStream_t stream = nullptr) {
  const std::vector<CostMatrixView<float>> views = views_of(batch);
  expect_like_cpu(batch,
                  solver ? solver->solve(views, stream) : solve_assignment_batch_cuda(views));
}

TEST(AssignmentCuda, MixedRaggedBatchMatchesCpu) {
  UM_REQUIRE_CUDA_DEVICE();
  compare_with_cpu(make_batch(1));
  compare_with_cpu(make_batch(2));
}

TEST(AssignmentCuda, BenchmarkShapesMatchCpu) {
  UM_REQUIRE_CUDA_DEVICE();
  std::mt19937 rng(17);
  for (auto [b, r, c] : {std::tuple{4, 300, 1}, {4, 300, 10}, {4, 300, 50}, {256, 64, 64}}) {
    compare_with_cpu(uniform_batch(b, r, c, rng));
  }
}

// The benchmark's shapes (uniform bounds, so the costs can be cached) in every forced variant:
// e.g. a warp team on 4 x 300 x 50, whose lanes own 10 columns each (the step's first 4 as
// straight-line code, the rest in a loop), with the costs cached.
TEST(AssignmentCuda, BenchmarkShapesInEveryVariantMatchCpu) {
  UM_REQUIRE_CUDA_DEVICE();
  std::mt19937 rng(18);
  for (auto [b, r, c] : {std::tuple{4, 300, 1}, {4, 300, 10}, {4, 300, 50}, {4, 50, 300},
                         {256, 64, 64}}) {
    const std::vector<Problem> batch = uniform_batch(b, r, c, rng);
    for (auto team : {CudaAssignmentTeam::kWarp, CudaAssignmentTeam::kBlock}) {
      for (auto cache : {CudaAssignmentCache::kOn, CudaAssignmentCache::kOff}) {
        SCOPED_TRACE(std::to_string(b) + "x" + std::to_string(r) + "x" + std::to_string(c) +
                     ", team " + std::to_string(static_cast<int>(team)) + ", cache " +
                     std::to_string(static_cast<int>(cache)));
        CudaAssignmentSolver solver(CudaAssignmentOptions{team, cache});
        compare_with_cpu(batch, &solver);
      }
    }
  }
}

// Every kernel variant, forced: warp/block team x cached/uncached costs. The batch without the
// 300-wide problems lets the cache be used (with them it cannot fit and the launch falls back).
TEST(AssignmentCuda, EveryKernelVariantMatchesCpu) {
  UM_REQUIRE_CUDA_DEVICE();
  std::vector<Problem> all = make_batch(3), small;
  for (const auto& p : all) {
    if (std::max(p.rows, p.cols) <= 64) small.push_back(p);
  }
  for (auto team : {CudaAssignmentTeam::kAuto, CudaAssignmentTeam::kWarp,
                    CudaAssignmentTeam::kBlock}) {
    for (auto cache : {CudaAssignmentCache::kAuto, CudaAssignmentCache::kOn,
                       CudaAssignmentCache::kOff}) {
      SCOPED_TRACE("team " + std::to_string(static_cast<int>(team)) + ", cache " +
                   std::to_string(static_cast<int>(cache)));
      CudaAssignmentSolver solver(CudaAssignmentOptions{team, cache});
      compare_with_cpu(small, &solver);
      compare_with_cpu(all, &solver);
    }
  }
}

// The solver keeps its buffers: the same or a smaller batch allocates nothing, a larger one
// grows them; results stay right throughout, also on a non-default stream.
TEST(AssignmentCuda, SolverReusesItsBuffers) {
  UM_REQUIRE_CUDA_DEVICE();
  std::mt19937 rng(31);
  std::uniform_real_distribution<float> uni(0.0f, 1.0f);
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  CudaAssignmentSolver solver;
  EXPECT_EQ(solver.allocation_count(), 0);
  compare_with_cpu(uniform_batch(64, 64, 64, rng), &solver, stream);
  const int after_first = solver.allocation_count();
  EXPECT_EQ(after_first, 3);  // device, pinned inputs, pinned results
  const size_t dev = solver.device_capacity(), host = solver.host_capacity();
  for (int k = 0; k < 3; ++k) compare_with_cpu(uniform_batch(64, 64, 64, rng), &solver, stream);
  compare_with_cpu(uniform_batch(4, 300, 50, rng), &solver, stream);  // smaller
  // Ragged, default stream: 48 problems of at most 40 x 40 need less of everything than
  // 64 problems of 64 x 64 (fewer problems, entries and rows).
  std::uniform_int_distribution<int> dim(1, 40);
  std::vector<Problem> ragged;
  for (int k = 0; k < 48; ++k) {
    const int r = dim(rng), c = dim(rng);
    Problem p{std::vector<float>(static_cast<size_t>(r) * c), r, c};
    for (auto& x : p.cost) x = k % 2 ? static_cast<float>(dim(rng) % 4) : uni(rng);
    ragged.push_back(std::move(p));
  }
  compare_with_cpu(ragged, &solver);
  EXPECT_EQ(solver.allocation_count(), after_first) << "a call that fits allocated";
  EXPECT_EQ(solver.device_capacity(), dev);
  EXPECT_EQ(solver.host_capacity(), host);
  // 1024 x 64 x 64 (16 MiB of costs) needs more: the buffers grow, several 1 MiB chunks go out.
  compare_with_cpu(uniform_batch(1024, 64, 64, rng), &solver, stream);
  EXPECT_GT(solver.allocation_count(), after_first);
  EXPECT_GT(solver.device_capacity(), dev);
  const int grown = solver.allocation_count();
  compare_with_cpu(uniform_batch(64, 64, 64, rng), &solver, stream);
  EXPECT_EQ(solver.allocation_count(), grown);
  // An empty batch and a batch of empty problems touch nothing.
  EXPECT_TRUE(solver.solve({}, stream).empty());
  const std::vector<Problem> empties{{{}, 0, 0}, {{}, 3, 0}, {{}, 0, 2}};
  const auto r = solver.solve(views_of(empties), stream);
  ASSERT_EQ(r.size(), 3u);
  for (const auto& x : r) {
    ASSERT_TRUE(x.ok());
    EXPECT_TRUE(x->row_ind.empty());
    EXPECT_EQ(x->total_cost, 0.0);
  }
  EXPECT_EQ(solver.allocation_count(), grown);
  cudaStreamDestroy(stream);
}

// Zero-copy input: matrices written straight into the solver's pinned buffer give the same
// results as views; the staged batch is solved once; repeated staging allocates nothing.
TEST(AssignmentCuda, StagedInputMatchesCpu) {
  UM_REQUIRE_CUDA_DEVICE();
  std::vector<Problem> batch = make_batch(5);
  std::vector<std::pair<int, int>> shapes;
  for (const auto& p : batch) shapes.emplace_back(p.rows, p.cols);
  CudaAssignmentSolver solver;
  int allocations = -1;
  for (int round = 0; round < 3; ++round) {
    auto dst = solver.stage(shapes);
    ASSERT_TRUE(dst.ok()) << dst.status().to_string();
    ASSERT_EQ(dst->size(), batch.size());
    for (size_t b = 0; b < batch.size(); ++b) {
      if (batch[b].cost.empty()) {
        EXPECT_EQ((*dst)[b], nullptr);
      } else {
        std::copy(batch[b].cost.begin(), batch[b].cost.end(), (*dst)[b]);
      }
    }
    expect_like_cpu(batch, solver.solve_staged());
    EXPECT_TRUE(solver.solve_staged().empty()) << "a staged batch is solved once";
    if (round == 0) allocations = solver.allocation_count();
  }
  EXPECT_EQ(solver.allocation_count(), allocations);
  const std::vector<std::pair<int, int>> bad{{2, 2}, {-1, 3}};
  auto r = solver.stage(bad);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(solver.solve_staged().empty());
}

// Bad views are refused before anything is copied; the solver stays usable.
TEST(AssignmentCuda, SolverRejectsBadViews) {
  UM_REQUIRE_CUDA_DEVICE();
  CudaAssignmentSolver solver;
  const std::vector<float> ok{1, 2, 3, 4};
  std::vector<CostMatrixView<float>> views{{ok.data(), 2, 2}, {nullptr, 2, 2}};
  auto r = solver.solve(views);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].status().code(), StatusCode::kInvalidArgument);
  views[1] = {ok.data(), -1, 2};
  r = solver.solve(views);
  EXPECT_EQ(r[0].status().code(), StatusCode::kInvalidArgument);
  views.pop_back();
  r = solver.solve(views);
  ASSERT_TRUE(r[0].ok());
  EXPECT_EQ(r[0]->total_cost, 5.0);  // (0,0) + (1,1) = 1 + 4 = 5 = (0,1) + (1,0) = 2 + 3
}

// The feasible start in its extreme cases, on the device: it places every row (distinct row
// minima: no augmentation at all), or only one (every row's minimum in the same column).
TEST(AssignmentCuda, StartPlacesEverythingOrAlmostNothing) {
  UM_REQUIRE_CUDA_DEVICE();
  std::mt19937 rng(32);
  std::uniform_real_distribution<float> uni(1.0f, 2.0f), noise(0.0f, 0.01f);
  std::vector<Problem> batch;
  for (auto [r, c] : {std::pair{10, 300}, {50, 300}, {64, 64}, {300, 50}, {1, 7}}) {
    Problem p{std::vector<float>(static_cast<size_t>(r) * c), r, c};
    for (auto& x : p.cost) x = uni(rng);
    const int nr = std::min(r, c), nc = std::max(r, c);
    for (int i = 0; i < nr; ++i) {
      const int j = (i * 3) % nc;  // distinct for these sizes
      if (r <= c) {
        p.cost[static_cast<size_t>(i) * c + j] = 0.0f;
      } else {
        p.cost[static_cast<size_t>(j) * c + i] = 0.0f;
      }
    }
    batch.push_back(std::move(p));
  }
  for (auto [r, c] : {std::pair{50, 300}, {64, 64}, {300, 50}, {40, 40}}) {
    Problem p{std::vector<float>(static_cast<size_t>(r) * c), r, c};
    for (int i = 0; i < r; ++i) {
      for (int j = 0; j < c; ++j) {
        p.cost[static_cast<size_t>(i) * c + j] = static_cast<float>(r <= c ? j : i) + noise(rng);
      }
    }
    batch.push_back(std::move(p));
  }
  for (auto team : {CudaAssignmentTeam::kWarp, CudaAssignmentTeam::kBlock}) {
    for (auto cache : {CudaAssignmentCache::kOn, CudaAssignmentCache::kOff}) {
      CudaAssignmentSolver solver(CudaAssignmentOptions{team, cache});
      compare_with_cpu(batch, &solver);
    }
  }
}

// Rows the start leaves free far apart (5 and 69 of 70, and 5, 40 and 290 of 300), wide and
// tall: the kernel finds the next free row 32 rows a ballot, so a gap of more than 32 matched
// rows must be crossed (assignment_kernel_emulation_test's FreeRowsFarApart on the device).
TEST(AssignmentCuda, FreeRowsFarApart) {
  UM_REQUIRE_CUDA_DEVICE();
  std::mt19937 rng(33);
  std::uniform_real_distribution<float> low(0.0f, 1.0f), high(2.0f, 3.0f);
  std::vector<Problem> batch;
  for (auto [nr, nc] : {std::pair{70, 80}, {300, 300}}) {
    Problem wide{std::vector<float>(static_cast<size_t>(nr) * nc), nr, nc};
    for (auto& x : wide.cost) x = high(rng);
    // Row r's cheapest column is r, except the rows meant to stay free, whose cheapest column a
    // lower row claims first.
    const int last_free = nr == 70 ? 69 : 290;
    auto cheapest = [&](int r) {
      if (r == 5) return 4;
      if (r == 40 && nr == 300) return 7;
      return r == last_free ? 10 : r;
    };
    for (int r = 0; r < nr; ++r) wide.cost[static_cast<size_t>(r) * nc + cheapest(r)] = low(rng);
    Problem tall{std::vector<float>(wide.cost.size()), nc, nr};
    for (int r = 0; r < nr; ++r) {
      for (int c = 0; c < nc; ++c) {
        tall.cost[static_cast<size_t>(c) * nr + r] = wide.cost[static_cast<size_t>(r) * nc + c];
      }
    }
    batch.push_back(std::move(wide));
    batch.push_back(std::move(tall));
  }
  for (auto team : {CudaAssignmentTeam::kAuto, CudaAssignmentTeam::kWarp,
                    CudaAssignmentTeam::kBlock}) {
    for (auto cache : {CudaAssignmentCache::kOn, CudaAssignmentCache::kOff}) {
      CudaAssignmentSolver solver(CudaAssignmentOptions{team, cache});
      compare_with_cpu(batch, &solver);
    }
  }
}

// Forbidden rows/columns on the device: infeasible where SciPy says so, in every variant, and
// the feasible problems of the same batch are unaffected.
TEST(AssignmentCuda, ForbiddenRowsAndColumns) {
  UM_REQUIRE_CUDA_DEVICE();
  std::mt19937 rng(33);
  std::uniform_real_distribution<float> uni(0.0f, 1.0f);
  auto random = [&](int r, int c) {
    Problem p{std::vector<float>(static_cast<size_t>(r) * c), r, c};
    for (auto& x : p.cost) x = uni(rng);
    return p;
  };
  std::vector<Problem> batch;
  Problem wide_row = random(5, 90);  // a wide row all forbidden: infeasible at the start
  for (int j = 0; j < 90; ++j) wide_row.cost[2 * 90 + j] = kInf;
  batch.push_back(wide_row);
  Problem square_row = random(64, 64);  // found by a search
  for (int j = 0; j < 64; ++j) square_row.cost[40 * 64 + j] = kInf;
  batch.push_back(square_row);
  Problem square_col = random(64, 64);  // found by the column reduction
  for (int i = 0; i < 64; ++i) square_col.cost[i * 64 + 7] = kInf;
  batch.push_back(square_col);
  Problem tall_col = random(300, 20);
  for (int i = 0; i < 300; ++i) tall_col.cost[i * 20 + 19] = kInf;
  batch.push_back(tall_col);
  Problem forced{std::vector<float>(64 * 64, kInf), 64, 64};  // only the anti-diagonal allowed
  for (int i = 0; i < 64; ++i) forced.cost[i * 64 + (63 - i)] = static_cast<float>(i % 5);
  batch.push_back(forced);
  for (int k = 0; k < 3; ++k) batch.push_back(random(64, 64));
  batch.push_back(random(300, 50));
  batch.push_back(random(10, 300));
  for (auto team : {CudaAssignmentTeam::kWarp, CudaAssignmentTeam::kBlock}) {
    for (auto cache : {CudaAssignmentCache::kOn, CudaAssignmentCache::kOff}) {
      CudaAssignmentSolver solver(CudaAssignmentOptions{team, cache});
      compare_with_cpu(batch, &solver);
    }
  }
}

TEST(AssignmentCuda, EntryPointRejectsWhatDoesNotFit) {
  UM_REQUIRE_CUDA_DEVICE();
  int dummy = 0;
  // 100000 columns cannot fit one block's shared memory: refused before launching.
  EXPECT_EQ(assignment_solve_cuda(nullptr, reinterpret_cast<const int64_t*>(&dummy), &dummy,
                                  &dummy, &dummy, 1, 100000, 100000, &dummy,
                                  reinterpret_cast<double*>(&dummy), &dummy, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(assignment_solve_cuda(nullptr, nullptr, nullptr, nullptr, nullptr, -1, 1, 1, nullptr,
                                  nullptr, nullptr, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(assignment_solve_cuda(nullptr, nullptr, nullptr, nullptr, nullptr, 0, 1, 1, nullptr,
                                  nullptr, nullptr, nullptr),
            cudaSuccess);  // an empty batch launches nothing
  EXPECT_EQ(assignment_solve_cuda_ex(nullptr, nullptr, nullptr, nullptr, nullptr, 0, 1, 1,
                                     nullptr, nullptr, nullptr, nullptr, 3, 0),
            cudaErrorInvalidValue);  // no such team mode
  EXPECT_EQ(assignment_solve_cuda_ex(nullptr, nullptr, nullptr, nullptr, nullptr, 0, 1, 1,
                                     nullptr, nullptr, nullptr, nullptr, 0, -1),
            cudaErrorInvalidValue);  // no such cache mode
}

TEST(AssignmentCuda, DeviceEntryFlagsProblemsLargerThanTheDeclaredBounds) {
  UM_REQUIRE_CUDA_DEVICE();
  // Problem 1 (3x3) exceeds the declared max 2x2: status kBadShape, problem 0 still solved.
  const std::vector<float> costs = {1, 2, 3, 0, /* problem 1: */ 1, 1, 1, 1, 1, 1, 1, 1, 1};
  const std::vector<int64_t> offsets = {0, 4};
  const std::vector<int> rows = {2, 3}, cols = {2, 3}, out_offsets = {0, 2};
  float* d_costs = nullptr;
  int64_t* d_offsets = nullptr;
  int *d_rows = nullptr, *d_cols = nullptr, *d_out_offsets = nullptr, *d_cfr = nullptr,
      *d_status = nullptr;
  double* d_total = nullptr;
  ASSERT_EQ(cudaMalloc(&d_costs, costs.size() * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d_offsets, 2 * sizeof(int64_t)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d_rows, 2 * sizeof(int)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d_cols, 2 * sizeof(int)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d_out_offsets, 2 * sizeof(int)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d_cfr, 5 * sizeof(int)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d_status, 2 * sizeof(int)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d_total, 2 * sizeof(double)), cudaSuccess);
  cudaMemcpy(d_costs, costs.data(), costs.size() * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(d_offsets, offsets.data(), 2 * sizeof(int64_t), cudaMemcpyHostToDevice);
  cudaMemcpy(d_rows, rows.data(), 2 * sizeof(int), cudaMemcpyHostToDevice);
  cudaMemcpy(d_cols, cols.data(), 2 * sizeof(int), cudaMemcpyHostToDevice);
  cudaMemcpy(d_out_offsets, out_offsets.data(), 2 * sizeof(int), cudaMemcpyHostToDevice);
  ASSERT_EQ(assignment_solve_cuda(d_costs, d_offsets, d_rows, d_cols, d_out_offsets, 2, 2, 2,
                                  d_cfr, d_total, d_status, nullptr),
            cudaSuccess);
  std::vector<int> status(2), cfr(2);
  std::vector<double> total(2);
  ASSERT_EQ(cudaMemcpy(status.data(), d_status, 2 * sizeof(int), cudaMemcpyDeviceToHost),
            cudaSuccess);
  cudaMemcpy(cfr.data(), d_cfr, 2 * sizeof(int), cudaMemcpyDeviceToHost);
  cudaMemcpy(total.data(), d_total, 2 * sizeof(double), cudaMemcpyDeviceToHost);
  EXPECT_EQ(status[0], static_cast<int>(AssignmentCode::kOk));
  EXPECT_EQ(status[1], static_cast<int>(AssignmentCode::kBadShape));
  EXPECT_EQ(cfr, (std::vector<int>{0, 1}));  // [[1,2],[3,0]]: (0,0)+(1,1) = 1 beats 2+3
  EXPECT_EQ(total[0], 1.0);
  for (void* p : {static_cast<void*>(d_costs), static_cast<void*>(d_offsets),
                  static_cast<void*>(d_rows), static_cast<void*>(d_cols),
                  static_cast<void*>(d_out_offsets), static_cast<void*>(d_cfr),
                  static_cast<void*>(d_status), static_cast<void*>(d_total)}) {
    cudaFree(p);
  }
}

}  // namespace
}  // namespace um::pipeline
