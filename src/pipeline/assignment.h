// File: src/pipeline/assignment.h
// Purpose: exact rectangular linear sum assignment (the problem SciPy's linear_sum_assignment
// solves), single and batched, on the CPU; plus top_k_matches (k rounds of exact assignment).
// The CUDA batched solver shares these result types: see assignment_cuda.h.
//
// Problem: given a rows x cols cost matrix C (row-major, row stride = cols), choose
// k = min(rows, cols) pairs (r, c), each row and each column used at most once, minimising the
// sum of C[r][c]. Entries equal to +inf are FORBIDDEN pairs. NaN and -inf are invalid input.
//
// Algorithm: shortest augmenting paths with dual potentials (Jonker-Volgenant style, as in
// Crouse, "On implementing 2D rectangular assignment algorithms", IEEE TAES 2016, which is what
// SciPy implements). When rows > cols the problem is solved transposed. Unlike SciPy, the duals
// start from a feasible reduction (column reduction for square problems as in LAPJV, row
// reduction for wide ones) that already places most rows, so only the rest are augmented, one
// at a time. O(min^2 * max) worst case. Potentials and path lengths are kept in double even for
// float input, so float and double inputs reach the same optimum as SciPy's float64 solver up to
// the input rounding. Where several assignments are optimal, the one returned may differ from
// SciPy's; the total does not.
//
// Results (same contract as SciPy): row_ind ascending, col_ind[k] the column paired with
// row_ind[k]; total_cost = sum of C[row_ind[k]][col_ind[k]] accumulated in double.
//   - rows == 0 or cols == 0: an empty assignment, total 0 (SciPy returns empty arrays too).
//   - NaN or -inf anywhere: Status kInvalidArgument naming the first bad entry
//     (SciPy: ValueError "matrix contains invalid numeric entries").
//   - no assignment of all min(rows, cols) rows/columns avoids the +inf entries: Status
//     kFailedPrecondition "cost matrix is infeasible" (SciPy: ValueError "cost matrix is
//     infeasible"). A partial matching is NOT returned; to allow "unmatched", add dummy columns
//     (see tracker.cpp for the usual construction).
//   - rows or cols negative, or a null pointer with a non-empty shape: kInvalidArgument.
// In batched mode every problem gets its own Result, so one bad problem never hides the others.
//
// Usage:
//   Result<Assignment> a = solve_assignment(cost.data(), rows, cols);
//   if (!a.ok()) ...; for (size_t k = 0; k < a->row_ind.size(); ++k) use(a->row_ind[k], ...);
//   std::vector<Result<Assignment>> all = solve_assignment_batch(views);   // ragged sizes OK
//   Result<std::vector<Assignment>> rounds = top_k_matches(cost.data(), rows, cols, 3);
#pragma once

#include <span>
#include <vector>

#include "core/status.h"

namespace um::pipeline {

struct Assignment {
  std::vector<int> row_ind;  // ascending
  std::vector<int> col_ind;  // col_ind[k] pairs with row_ind[k]
  double total_cost = 0.0;   // sum of the chosen entries, in double
};

// Per-problem outcome codes, shared with the CUDA kernel's status buffer (plain ints there).
enum class AssignmentCode : int {
  kOk = 0,
  kInfeasible = 1,    // -> kFailedPrecondition
  kInvalidEntry = 2,  // NaN or -inf -> kInvalidArgument
  kBadShape = 3,      // negative size, null data, or larger than a backend supports
};
const char* assignment_code_name(AssignmentCode code);  // "ok", "infeasible", ...

// A read-only view of one row-major matrix. `data` may be null only when rows * cols == 0.
template <typename T>
struct CostMatrixView {
  const T* data = nullptr;
  int rows = 0;
  int cols = 0;
};

Result<Assignment> solve_assignment(const float* cost, int rows, int cols);
Result<Assignment> solve_assignment(const double* cost, int rows, int cols);

// Solves every problem; result[b] belongs to problems[b]. With num_threads == 0 the solver uses
// up to std::thread::hardware_concurrency() threads, but only when the batch has enough work to
// pay for starting them (small batches run on the calling thread); 1 forces single-threaded.
std::vector<Result<Assignment>> solve_assignment_batch(
    std::span<const CostMatrixView<float>> problems, int num_threads = 0);
std::vector<Result<Assignment>> solve_assignment_batch(
    std::span<const CostMatrixView<double>> problems, int num_threads = 0);

// What a top-k round excludes from the following rounds.
enum class TopKExclusion {
  // The pairs (r, c) chosen in earlier rounds become +inf: a row may pair with a different
  // column in a later round. This is "k rounds, each an exact assignment over the pairs not
  // yet used".
  kPairs,
  // Every row chosen in an earlier round is excluded entirely (its whole row becomes +inf), so
  // each row is matched at most once over all rounds: the one-to-many matching D-FINE's
  // HungarianMatcher.get_top_k_matches is meant to produce (the official code writes 1e6
  // instead of +inf and never stops; here an exhausted round ends the search).
  kRows,
};

// k rounds of exact assignment. Round 0 is solve_assignment(cost). Each later round solves the
// matrix with the earlier rounds' choices excluded (see TopKExclusion). The search stops early,
// WITHOUT error, at the first round that has no feasible full assignment (or nothing left to
// assign), so the result holds between 0 and k rounds, each optimal for its own matrix. Errors:
// kInvalidArgument for k < 0, a bad shape or NaN/-inf entries. Rounds are not interchangeable:
// result[0] is always the globally optimal assignment.
Result<std::vector<Assignment>> top_k_matches(const float* cost, int rows, int cols, int k,
                                              TopKExclusion exclusion = TopKExclusion::kPairs);

// Converts a per-problem code to a Status with the given context ("problem 3").
Status assignment_status(AssignmentCode code, const std::string& context);

}  // namespace um::pipeline
