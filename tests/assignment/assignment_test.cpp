// Tests for the CPU linear sum assignment (src/pipeline/assignment.h) against brute force on
// small problems, plus the documented edge cases, batching and top_k_matches.
// The SciPy comparison on thousands of problems is check_vs_scipy.py (CTest: assignment_vs_scipy).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "pipeline/assignment.h"

namespace um::pipeline {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Minimum over every injective map of the smaller side into the larger; +inf when none avoids
// the forbidden entries.
double brute_force(const std::vector<float>& c, int rows, int cols) {
  const bool tr = rows > cols;
  const int nr = tr ? cols : rows, nc = tr ? rows : cols;
  auto at = [&](int i, int j) -> double { return tr ? c[j * cols + i] : c[i * cols + j]; };
  std::vector<int> perm(nc);
  std::iota(perm.begin(), perm.end(), 0);
  double best = std::numeric_limits<double>::infinity();
  do {  // permutations of nc columns; the first nr are used (repeats are harmless)
    double s = 0;
    for (int i = 0; i < nr; ++i) s += at(i, perm[i]);
    best = std::min(best, s);
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

void expect_valid(const Assignment& a, const std::vector<float>& c, int rows, int cols) {
  ASSERT_EQ(a.row_ind.size(), static_cast<size_t>(std::min(rows, cols)));
  ASSERT_EQ(a.col_ind.size(), a.row_ind.size());
  EXPECT_TRUE(std::is_sorted(a.row_ind.begin(), a.row_ind.end()));
  std::set<int> rs(a.row_ind.begin(), a.row_ind.end()), cs(a.col_ind.begin(), a.col_ind.end());
  EXPECT_EQ(rs.size(), a.row_ind.size());
  EXPECT_EQ(cs.size(), a.col_ind.size());
  double s = 0;
  for (size_t k = 0; k < a.row_ind.size(); ++k) {
    ASSERT_GE(a.row_ind[k], 0);
    ASSERT_LT(a.row_ind[k], rows);
    ASSERT_GE(a.col_ind[k], 0);
    ASSERT_LT(a.col_ind[k], cols);
    const float v = c[a.row_ind[k] * cols + a.col_ind[k]];
    EXPECT_TRUE(std::isfinite(v)) << "a forbidden pair was chosen";
    s += v;
  }
  EXPECT_DOUBLE_EQ(s, a.total_cost);
}

TEST(Assignment, KnownSmallExample) {
  // SciPy's documented example: optimum 5 with rows (0,1,2) -> cols (1,0,2).
  const std::vector<float> c = {4, 1, 3, 2, 0, 5, 3, 2, 2};
  auto a = solve_assignment(c.data(), 3, 3);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(a->total_cost, 5.0);
  EXPECT_EQ(a->row_ind, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(a->col_ind, (std::vector<int>{1, 0, 2}));
}

TEST(Assignment, ConstantMatrixGivesIdentityLikeSciPy) {
  const std::vector<float> c(16, 7.0f);
  auto a = solve_assignment(c.data(), 4, 4);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->col_ind, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(a->total_cost, 28.0);
}

TEST(Assignment, MatchesBruteForceOnRandomSmallProblems) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uni(-5.0f, 5.0f);
  std::uniform_int_distribution<int> small(0, 3), dim(1, 6);
  std::bernoulli_distribution forbid(0.45);
  int infeasible = 0, solved = 0;
  for (int trial = 0; trial < 1500; ++trial) {
    const int rows = dim(rng), cols = dim(rng);
    std::vector<float> c(rows * cols);
    const int mode = trial % 3;  // uniform, integer ties, integer ties + forbidden
    for (auto& x : c) {
      x = mode == 0 ? uni(rng) : static_cast<float>(small(rng));
      if (mode == 2 && forbid(rng)) x = kInf;
    }
    const double best = brute_force(c, rows, cols);
    auto a = solve_assignment(c.data(), rows, cols);
    if (std::isinf(best)) {
      ASSERT_FALSE(a.ok()) << "trial " << trial << ": brute force finds no feasible assignment";
      EXPECT_EQ(a.status().code(), StatusCode::kFailedPrecondition);
      EXPECT_NE(a.status().message().find("infeasible"), std::string::npos);
      ++infeasible;
      continue;
    }
    ASSERT_TRUE(a.ok()) << "trial " << trial << ": " << a.status().to_string();
    expect_valid(*a, c, rows, cols);
    EXPECT_NEAR(a->total_cost, best, 1e-9 * std::max(1.0, std::abs(best))) << "trial " << trial;
    ++solved;
  }
  EXPECT_GT(infeasible, 20);  // the mix really exercises both outcomes
  EXPECT_GT(solved, 1000);
}

TEST(Assignment, FloatAndDoubleInputsAgree) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> uni(0.0f, 1.0f);
  std::vector<float> f(37 * 23);
  for (auto& x : f) x = uni(rng);
  const std::vector<double> d(f.begin(), f.end());
  auto af = solve_assignment(f.data(), 37, 23);
  auto ad = solve_assignment(d.data(), 37, 23);
  ASSERT_TRUE(af.ok() && ad.ok());
  EXPECT_DOUBLE_EQ(af->total_cost, ad->total_cost);
  EXPECT_EQ(af->col_ind, ad->col_ind);
}

TEST(Assignment, EmptyAndOneByOne) {
  auto e = solve_assignment(static_cast<const float*>(nullptr), 0, 0);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->row_ind.empty());
  EXPECT_EQ(e->total_cost, 0.0);
  auto e2 = solve_assignment(static_cast<const float*>(nullptr), 3, 0);
  ASSERT_TRUE(e2.ok());
  EXPECT_TRUE(e2->row_ind.empty());

  const float one = -2.5f;
  auto a = solve_assignment(&one, 1, 1);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->row_ind, std::vector<int>{0});
  EXPECT_EQ(a->col_ind, std::vector<int>{0});
  EXPECT_EQ(a->total_cost, -2.5);

  const float forbidden = kInf;
  auto f = solve_assignment(&forbidden, 1, 1);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kFailedPrecondition);
}

TEST(Assignment, TallProblemsAreSolvedTransposedAndReportedByRow) {
  // 3 rows, 1 column: the cheapest row wins the column.
  const std::vector<float> c = {5, 1, 3};
  auto a = solve_assignment(c.data(), 3, 1);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->row_ind, std::vector<int>{1});
  EXPECT_EQ(a->col_ind, std::vector<int>{0});
  // 4 x 2, rows must come out ascending.
  const std::vector<float> d = {9, 0, 9, 9, 9, 9, 0, 9};
  auto b = solve_assignment(d.data(), 4, 2);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->row_ind, (std::vector<int>{0, 3}));
  EXPECT_EQ(b->col_ind, (std::vector<int>{1, 0}));
  EXPECT_EQ(b->total_cost, 0.0);
}

TEST(Assignment, RejectsNanAndNegativeInfinityNamingTheEntry) {
  std::vector<float> c = {1, 2, 3, std::numeric_limits<float>::quiet_NaN()};
  auto a = solve_assignment(c.data(), 2, 2);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(a.status().message().find("row 1, column 1"), std::string::npos)
      << a.status().message();
  c[3] = 4;
  c[1] = -kInf;
  auto b = solve_assignment(c.data(), 2, 2);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(b.status().message().find("row 0, column 1"), std::string::npos);
}

TEST(Assignment, RejectsBadShapes) {
  const float x = 1;
  EXPECT_EQ(solve_assignment(&x, -1, 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(solve_assignment(static_cast<const float*>(nullptr), 2, 2).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(AssignmentBatch, RaggedBatchKeepsPerProblemStatusAndMatchesSingleSolves) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uni(0.0f, 10.0f);
  std::vector<std::vector<float>> store;
  std::vector<CostMatrixView<float>> views;
  const int shapes[][2] = {{5, 5}, {7, 3}, {3, 7}, {0, 4}, {1, 1}, {2, 2}, {60, 60}, {300, 20}};
  for (auto [r, c] : shapes) {
    store.emplace_back(r * c);
    for (auto& x : store.back()) x = uni(rng);
  }
  store[5] = {kInf, kInf, 1, 2};  // infeasible: row 0 is all forbidden
  for (size_t b = 0; b < store.size(); ++b) {
    views.push_back({store[b].data(), shapes[b][0], shapes[b][1]});
  }
  for (int threads : {1, 2, 0}) {
    auto results = solve_assignment_batch(views, threads);
    ASSERT_EQ(results.size(), views.size());
    for (size_t b = 0; b < views.size(); ++b) {
      auto single = solve_assignment(views[b].data, views[b].rows, views[b].cols);
      ASSERT_EQ(results[b].ok(), single.ok()) << "problem " << b;
      if (!single.ok()) {
        EXPECT_EQ(results[b].status().code(), StatusCode::kFailedPrecondition);
        EXPECT_NE(results[b].status().message().find("problem 5"), std::string::npos);
        continue;
      }
      EXPECT_EQ(results[b]->total_cost, single->total_cost);
      EXPECT_EQ(results[b]->col_ind, single->col_ind);
    }
  }
}

// Each round of top_k must be optimal for the matrix with earlier rounds' choices removed.
TEST(TopKMatches, PairsRoundsAreOptimalDisjointAndStopWhenInfeasible) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> uni(0.0f, 1.0f);
  const int rows = 4, cols = 3;
  std::vector<float> c(rows * cols);
  for (auto& x : c) x = uni(rng);
  auto r = top_k_matches(c.data(), rows, cols, 10, TopKExclusion::kPairs);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  // 12 pairs, 3 per round: at most 4 rounds; greedy optimal rounds may block earlier, and the
  // search must stop exactly when what is left admits no full assignment (checked below).
  ASSERT_GE(r->size(), 1u);
  ASSERT_LE(r->size(), 4u);
  std::vector<float> masked = c;
  std::set<std::pair<int, int>> used;
  for (const Assignment& a : *r) {
    expect_valid(a, masked, rows, cols);
    EXPECT_NEAR(a.total_cost, brute_force(masked, rows, cols), 1e-9);
    for (size_t k = 0; k < a.row_ind.size(); ++k) {
      EXPECT_TRUE(used.insert({a.row_ind[k], a.col_ind[k]}).second) << "pair reused";
      masked[a.row_ind[k] * cols + a.col_ind[k]] = kInf;
    }
  }
  EXPECT_TRUE(std::isinf(brute_force(masked, rows, cols)));
}

TEST(TopKMatches, RowsExclusionMatchesEachRowOnce) {
  // 6 queries x 2 targets, k = 5: rounds of 2 fresh queries each; only 3 rounds fit.
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> uni(0.0f, 1.0f);
  std::vector<float> c(6 * 2);
  for (auto& x : c) x = uni(rng);
  auto r = top_k_matches(c.data(), 6, 2, 5, TopKExclusion::kRows);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 3u);
  std::set<int> rows_seen;
  std::vector<float> masked = c;
  for (const Assignment& a : *r) {
    EXPECT_NEAR(a.total_cost, brute_force(masked, 6, 2), 1e-9);
    for (int row : a.row_ind) {
      EXPECT_TRUE(rows_seen.insert(row).second) << "row " << row << " matched twice";
      for (int col = 0; col < 2; ++col) masked[row * 2 + col] = kInf;
    }
  }
  EXPECT_EQ(rows_seen.size(), 6u);
}

TEST(TopKMatches, EdgeCasesAndErrors) {
  const std::vector<float> c = {1, 2, 3, 4};
  auto zero = top_k_matches(c.data(), 2, 2, 0);
  ASSERT_TRUE(zero.ok());
  EXPECT_TRUE(zero->empty());
  auto first = top_k_matches(c.data(), 2, 2, 1);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ(first->at(0).total_cost, 5.0);
  EXPECT_EQ(top_k_matches(c.data(), 2, 2, -1).status().code(), StatusCode::kInvalidArgument);
  const std::vector<float> nan = {1, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_EQ(top_k_matches(nan.data(), 1, 2, 2).status().code(), StatusCode::kInvalidArgument);
  const std::vector<float> none = {kInf, kInf};
  auto empty = top_k_matches(none.data(), 1, 2, 3);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace um::pipeline
