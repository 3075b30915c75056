// File: src/pipeline/assignment_cpu.cpp
// Purpose: the CPU linear sum assignment solver (shortest augmenting path, Crouse 2016) and its
// batched driver. See assignment.h for the contract; top_k_matches lives in assignment_topk.cpp.
// Hand-written because no Debian-packaged C++ library offers an exact rectangular LSAP with
// forbidden entries; the algorithm follows the paper (and SciPy's choices where they matter:
// column scan order, preferring unassigned columns on ties, transposing when rows > cols).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <thread>

#include "pipeline/assignment.h"

namespace um::pipeline {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Scratch reused across problems on one thread (a batch of 256 small problems would otherwise
// spend a noticeable share of its time in the allocator).
struct Workspace {
  std::vector<double> u, v, spc;  // row potentials, column potentials, shortest path costs
  std::vector<int> path, col4row, row4col, remaining;
  std::vector<char> sr, sc;  // row / column visited in the current Dijkstra search
  std::vector<double> transposed_d;
  std::vector<float> transposed_f;

  template <typename T>
  std::vector<T>& transposed();
};
template <>
std::vector<double>& Workspace::transposed<double>() { return transposed_d; }
template <>
std::vector<float>& Workspace::transposed<float>() { return transposed_f; }

Workspace& thread_workspace() {
  thread_local Workspace ws;
  return ws;
}

// One Dijkstra search from `cur_row` over reduced costs; returns the sink column (an unassigned
// column reached by a shortest alternating path) or -1 when every reachable column is +inf away
// (infeasible). `min_val` receives the path length to the sink.
template <typename T>
int shortest_augmenting_path(const T* cost, int nc, int cur_row, Workspace& w, double& min_val) {
  int num_remaining = nc;
  // Reverse order, as SciPy does, so a constant matrix yields the identity assignment.
  for (int it = 0; it < nc; ++it) w.remaining[it] = nc - it - 1;
  std::fill(w.sr.begin(), w.sr.end(), 0);
  std::fill(w.sc.begin(), w.sc.end(), 0);
  std::fill(w.spc.begin(), w.spc.end(), kInf);

  double* spc = w.spc.data();
  const double* v = w.v.data();
  int* path = w.path.data();
  const int* row4col = w.row4col.data();
  int* remaining = w.remaining.data();

  min_val = 0.0;
  int sink = -1;
  int i = cur_row;
  while (sink == -1) {
    w.sr[i] = 1;
    const T* crow = cost + static_cast<size_t>(i) * nc;
    const double base = min_val - w.u[i];
    int index = -1;
    double lowest = kInf;
    for (int it = 0; it < num_remaining; ++it) {
      const int j = remaining[it];
      const double r = base + static_cast<double>(crow[j]) - v[j];
      if (r < spc[j]) {
        path[j] = i;
        spc[j] = r;
      }
      // Ties go to an unassigned column: it ends the search sooner.
      if (spc[j] < lowest || (spc[j] == lowest && row4col[j] == -1)) {
        lowest = spc[j];
        index = it;
      }
    }
    min_val = lowest;
    if (min_val == kInf) return -1;  // also covers index == -1 (nothing left to scan)
    const int j = remaining[index];
    if (row4col[j] == -1) {
      sink = j;
    } else {
      i = row4col[j];
    }
    w.sc[j] = 1;
    remaining[index] = remaining[--num_remaining];
  }
  return sink;
}

// Solves an nr x nc row-major problem with nr <= nc; fills w.col4row. Entries were validated.
template <typename T>
AssignmentCode solve_wide(const T* cost, int nr, int nc, Workspace& w) {
  w.u.assign(nr, 0.0);
  w.v.assign(nc, 0.0);
  w.spc.resize(nc);
  w.path.assign(nc, -1);
  w.col4row.assign(nr, -1);
  w.row4col.assign(nc, -1);
  w.remaining.resize(nc);
  w.sr.resize(nr);
  w.sc.resize(nc);

  // A cheap start that keeps the duals feasible (reduced costs c - u - v >= 0, 0 on matched
  // pairs, and for nr < nc the dual optimality rule v_j <= 0 with v_j = 0 on unmatched columns),
  // so the augmentation below only has to place the rows it leaves free:
  //  - square: LAPJV's column reduction, v_j = min_i c_ij, column j matched to its minimising
  //    row while that row is free;
  //  - wide (nr < nc): row reduction, u_i = min_j c_ij (v stays 0), row i matched to its
  //    minimising column while that column is free. (Column reduction would make v_j > 0 on
  //    columns that stay unmatched, which breaks optimality there.)
  // Ties prefer a free partner, so a constant matrix still gives the identity, as in SciPy.
  // About 60% of the rows of a random square matrix, and most rows of a 10 x 300 one, are
  // placed here without any search.
  if (nr == nc) {
    for (int j = 0; j < nc; ++j) {
      double best = kInf;
      int imin = -1;
      for (int i = 0; i < nr; ++i) {
        const double c = static_cast<double>(cost[static_cast<size_t>(i) * nc + j]);
        if (c < best || (c == best && imin >= 0 && w.col4row[imin] != -1 && w.col4row[i] == -1)) {
          best = c;
          imin = i;
        }
      }
      if (imin < 0) return AssignmentCode::kInfeasible;  // a column with only forbidden entries
      w.v[j] = best;
      if (w.col4row[imin] == -1) {
        w.col4row[imin] = j;
        w.row4col[j] = imin;
      }
    }
  } else {
    for (int i = 0; i < nr; ++i) {
      const T* crow = cost + static_cast<size_t>(i) * nc;
      double best = kInf;
      int jmin = -1;
      for (int j = 0; j < nc; ++j) {
        const double c = static_cast<double>(crow[j]);
        if (c < best || (c == best && jmin >= 0 && w.row4col[jmin] != -1 && w.row4col[j] == -1)) {
          best = c;
          jmin = j;
        }
      }
      if (jmin < 0) return AssignmentCode::kInfeasible;  // a row with only forbidden entries
      w.u[i] = best;
      if (w.row4col[jmin] == -1) {
        w.row4col[jmin] = i;
        w.col4row[i] = jmin;
      }
    }
  }

  for (int cur_row = 0; cur_row < nr; ++cur_row) {
    if (w.col4row[cur_row] != -1) continue;  // matched by the column reduction
    double min_val = 0.0;
    const int sink = shortest_augmenting_path(cost, nc, cur_row, w, min_val);
    if (sink < 0) return AssignmentCode::kInfeasible;

    // Dual update keeps reduced costs non-negative on the visited part of the graph.
    w.u[cur_row] += min_val;
    for (int i = 0; i < nr; ++i) {
      if (w.sr[i] && i != cur_row) w.u[i] += min_val - w.spc[w.col4row[i]];
    }
    for (int j = 0; j < nc; ++j) {
      if (w.sc[j]) w.v[j] -= min_val - w.spc[j];
    }
    // Flip the alternating path ending at the sink.
    int j = sink;
    while (true) {
      const int i = w.path[j];
      w.row4col[j] = i;
      std::swap(w.col4row[i], j);
      if (i == cur_row) break;
    }
  }
  return AssignmentCode::kOk;
}

// Index of the first NaN or -inf entry, or -1.
template <typename T>
long long first_invalid(const T* cost, long long n) {
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  for (long long k = 0; k < n; ++k) {
    if (!(cost[k] > kNegInf)) return k;  // false for NaN and -inf
  }
  return -1;
}

template <typename T>
Result<Assignment> solve_one(const T* cost, int rows, int cols, Workspace& w) {
  if (rows < 0 || cols < 0) {
    return invalid_argument("cost matrix has a negative size " + std::to_string(rows) + "x" +
                            std::to_string(cols));
  }
  Assignment out;
  if (rows == 0 || cols == 0) return out;
  if (cost == nullptr) return invalid_argument("cost matrix data is null");
  const long long n = static_cast<long long>(rows) * cols;
  if (const long long bad = first_invalid(cost, n); bad >= 0) {
    return invalid_argument("cost matrix contains an invalid entry (NaN or -inf) at row " +
                            std::to_string(bad / cols) + ", column " +
                            std::to_string(bad % cols));
  }

  const bool transpose = rows > cols;
  const T* wide = cost;
  int nr = rows, nc = cols;
  if (transpose) {
    std::vector<T>& t = w.template transposed<T>();
    t.resize(static_cast<size_t>(n));
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < cols; ++c) t[static_cast<size_t>(c) * rows + r] = cost[r * static_cast<size_t>(cols) + c];
    }
    wide = t.data();
    nr = cols;
    nc = rows;
  }
  if (solve_wide(wide, nr, nc, w) != AssignmentCode::kOk) {
    return failed_precondition(
        "cost matrix is infeasible: no assignment of all " + std::to_string(nr) +
        (transpose ? " columns" : " rows") + " avoids the forbidden (+inf) entries");
  }

  out.row_ind.resize(nr);
  out.col_ind.resize(nr);
  if (!transpose) {
    for (int i = 0; i < nr; ++i) {
      out.row_ind[i] = i;
      out.col_ind[i] = w.col4row[i];
    }
  } else {
    // Transposed rows are original columns: emit pairs ordered by original row.
    std::vector<int> order(nr);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](int a, int b) { return w.col4row[a] < w.col4row[b]; });
    for (int k = 0; k < nr; ++k) {
      out.row_ind[k] = w.col4row[order[k]];
      out.col_ind[k] = order[k];
    }
  }
  double total = 0.0;
  for (int k = 0; k < nr; ++k) {
    total += static_cast<double>(cost[static_cast<size_t>(out.row_ind[k]) * cols + out.col_ind[k]]);
  }
  out.total_cost = total;
  return out;
}

template <typename T>
std::vector<Result<Assignment>> solve_batch(std::span<const CostMatrixView<T>> problems,
                                            int num_threads) {
  const size_t count = problems.size();
  std::vector<Result<Assignment>> results(count, Result<Assignment>(Assignment{}));
  // Threads only pay off above roughly 30k matrix entries in total: starting one costs tens of
  // microseconds, more than a whole 4 x 300 x 10 batch (bench_assignment, 2-core dev box).
  long long elements = 0;
  for (const auto& p : problems) elements += std::max(0LL, static_cast<long long>(p.rows) * p.cols);
  int threads = num_threads > 0 ? num_threads
                                : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (num_threads == 0 && elements < 30000) threads = 1;
  threads = static_cast<int>(std::min<size_t>(static_cast<size_t>(threads), count));

  std::atomic<size_t> next{0};
  auto worker = [&]() {
    Workspace& w = thread_workspace();
    for (size_t b = next.fetch_add(1); b < count; b = next.fetch_add(1)) {
      results[b] = solve_one(problems[b].data, problems[b].rows, problems[b].cols, w);
      if (!results[b].ok()) {
        results[b] = results[b].status().with_context("problem " + std::to_string(b));
      }
    }
  };
  if (threads <= 1) {
    worker();
    return results;
  }
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  return results;
}

}  // namespace

const char* assignment_code_name(AssignmentCode code) {
  switch (code) {
    case AssignmentCode::kOk: return "ok";
    case AssignmentCode::kInfeasible: return "infeasible";
    case AssignmentCode::kInvalidEntry: return "invalid_entry";
    case AssignmentCode::kBadShape: return "bad_shape";
  }
  return "unknown";
}

Status assignment_status(AssignmentCode code, const std::string& context) {
  switch (code) {
    case AssignmentCode::kOk:
      return Status::Ok();
    case AssignmentCode::kInfeasible:
      return failed_precondition(context + ": cost matrix is infeasible (no full assignment "
                                           "avoids the forbidden +inf entries)");
    case AssignmentCode::kInvalidEntry:
      return invalid_argument(context + ": cost matrix contains an invalid entry (NaN or -inf)");
    case AssignmentCode::kBadShape:
      return invalid_argument(context + ": bad cost matrix shape or data");
  }
  return internal_error(context + ": unknown assignment code");
}

Result<Assignment> solve_assignment(const float* cost, int rows, int cols) {
  return solve_one(cost, rows, cols, thread_workspace());
}
Result<Assignment> solve_assignment(const double* cost, int rows, int cols) {
  return solve_one(cost, rows, cols, thread_workspace());
}

std::vector<Result<Assignment>> solve_assignment_batch(
    std::span<const CostMatrixView<float>> problems, int num_threads) {
  return solve_batch(problems, num_threads);
}
std::vector<Result<Assignment>> solve_assignment_batch(
    std::span<const CostMatrixView<double>> problems, int num_threads) {
  return solve_batch(problems, num_threads);
}

}  // namespace um::pipeline
