// File: src/pipeline/assignment_topk.cpp
// Purpose: top_k_matches: k rounds of exact assignment, each over what earlier rounds left
// (assignment.h documents the two exclusion rules). Every round is an exact solve of its own
// matrix; the loop ends at the first infeasible round instead of forcing a match through a
// large finite penalty as D-FINE's reference code does (a 1e6 entry can still be "matched",
// which silently produces meaningless pairs once a row or column runs out of real options).
#include <limits>
#include <string>
#include <vector>

#include "pipeline/assignment.h"

namespace um::pipeline {

Result<std::vector<Assignment>> top_k_matches(const float* cost, int rows, int cols, int k,
                                              TopKExclusion exclusion) {
  if (k < 0) return invalid_argument("top_k_matches: k must be >= 0, got " + std::to_string(k));
  if (rows < 0 || cols < 0) {
    return invalid_argument("top_k_matches: negative cost matrix size " + std::to_string(rows) +
                            "x" + std::to_string(cols));
  }
  std::vector<Assignment> rounds;
  if (k == 0 || rows == 0 || cols == 0) {
    return rounds;
  }
  if (cost == nullptr) return invalid_argument("top_k_matches: cost matrix data is null");

  constexpr float kForbidden = std::numeric_limits<float>::infinity();
  const size_t n = static_cast<size_t>(rows) * static_cast<size_t>(cols);
  std::vector<float> work(cost, cost + n);
  rounds.reserve(static_cast<size_t>(k));
  for (int round = 0; round < k; ++round) {
    Result<Assignment> a = solve_assignment(work.data(), rows, cols);
    if (!a.ok()) {
      // Infeasible: nothing optimal is left to add. Bad entries are the caller's error (they can
      // only show up in round 0, since later rounds only add +inf).
      if (a.status().code() == StatusCode::kFailedPrecondition) break;
      return a.status().with_context("top_k_matches round " + std::to_string(round));
    }
    for (size_t p = 0; p < a->row_ind.size(); ++p) {
      const size_t r = static_cast<size_t>(a->row_ind[p]);
      if (exclusion == TopKExclusion::kPairs) {
        work[r * cols + static_cast<size_t>(a->col_ind[p])] = kForbidden;
      } else {
        std::fill(work.begin() + static_cast<std::ptrdiff_t>(r * cols),
                  work.begin() + static_cast<std::ptrdiff_t>((r + 1) * cols), kForbidden);
      }
    }
    // The total is reported against the caller's matrix (identical: chosen pairs were finite).
    rounds.push_back(std::move(a).value());
  }
  return rounds;
}

}  // namespace um::pipeline
