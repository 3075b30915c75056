// File: src/pipeline/assignment_cuda_kernel.cuh
// Purpose: the device code of the batched assignment (assignment_cuda.cu includes it; so does
// tests/assignment/assignment_kernel_emulation_test.cpp, which runs this very kernel on the CPU
// with one std::thread per CUDA thread, so its logic is tested on machines without a GPU).
// Only plain CUDA C++ is used here: __syncthreads, __syncthreads_or, __shfl_down_sync, __ldg,
// one static __shared__ int and the dynamic shared block from lsap_dynamic_smem().
// Mirrors solve_wide() in assignment_cpu.cpp step for step [TAG_LSAP_ALGORITHM].
#pragma once

#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace um_lsap {

constexpr int kMaxThreads = 512;
constexpr int kMaxWarps = kMaxThreads / 32;

#ifndef UM_LSAP_EMULATION
// The block's dynamic shared memory (sized at launch by smem_layout().bytes).
__device__ inline unsigned char* lsap_dynamic_smem() {
  extern __shared__ __align__(16) unsigned char lsap_smem[];
  return lsap_smem;
}
#endif

// Shared memory layout for bounds (max_nc columns, max_nr rows); doubles first for alignment.
struct SmemLayout {
  size_t v, spc, u, red_val, path, row4col, col4row, red_free, red_idx, sc, sr, bytes;
};

__host__ __device__ inline SmemLayout smem_layout(int max_nc, int max_nr) {
  SmemLayout l{};
  size_t o = 0;
  l.v = o;        o += sizeof(double) * max_nc;
  l.spc = o;      o += sizeof(double) * max_nc;
  l.u = o;        o += sizeof(double) * max_nr;
  l.red_val = o;  o += sizeof(double) * 2 * kMaxWarps;
  l.path = o;     o += sizeof(int) * max_nc;
  l.row4col = o;  o += sizeof(int) * max_nc;
  l.col4row = o;  o += sizeof(int) * max_nr;
  l.red_free = o; o += sizeof(int) * 2 * kMaxWarps;
  l.red_idx = o;  o += sizeof(int) * 2 * kMaxWarps;
  l.sc = o;       o += max_nc;
  l.sr = o;       o += max_nr;
  l.bytes = (o + 15) / 16 * 16;
  return l;
}

// Candidate order of the arg-min: smaller path length, then an unassigned column (it ends the
// search), then the smaller column index (deterministic).
__device__ inline bool better(double av, int af, int ai, double bv, int bf, int bi) {
  if (av != bv) return av < bv;
  if (af != bf) return af > bf;
  return ai < bi;
}

// Status codes match um::pipeline::AssignmentCode.
constexpr int kOk = 0, kInfeasible = 1, kInvalidEntry = 2, kBadShape = 3;

__global__ void lsap_batch_kernel(const float* __restrict__ costs,
                                  const int64_t* __restrict__ cost_offsets,
                                  const int* __restrict__ rows_arr, const int* __restrict__ cols_arr,
                                  const int* __restrict__ out_offsets, int max_rows, int max_cols,
                                  int* __restrict__ col_for_row, double* __restrict__ total_out,
                                  int* __restrict__ status_out) {
  unsigned char* smem = lsap_dynamic_smem();
  const int b = blockIdx.x;
  const int tid = threadIdx.x;
  const int nthreads = blockDim.x;
  const int lane = tid & 31, warp = tid >> 5, nwarps = (nthreads + 31) >> 5;
  const int rows = rows_arr[b], cols = cols_arr[b];
  const int max_nc = max(max_rows, max_cols), max_nr = min(max_rows, max_cols);
  const SmemLayout L = smem_layout(max_nc, max_nr);
  double* v = reinterpret_cast<double*>(smem + L.v);
  double* spc = reinterpret_cast<double*>(smem + L.spc);
  double* u = reinterpret_cast<double*>(smem + L.u);
  double* red_val = reinterpret_cast<double*>(smem + L.red_val);
  int* path = reinterpret_cast<int*>(smem + L.path);
  int* row4col = reinterpret_cast<int*>(smem + L.row4col);
  int* col4row = reinterpret_cast<int*>(smem + L.col4row);
  int* red_free = reinterpret_cast<int*>(smem + L.red_free);
  int* red_idx = reinterpret_cast<int*>(smem + L.red_idx);
  unsigned char* sc = smem + L.sc;
  unsigned char* sr = smem + L.sr;

  if (rows < 0 || cols < 0 || rows > max_rows || cols > max_cols) {
    if (rows > 0) {  // the caller sized col_for_row by the true rows
      for (int r = tid; r < rows; r += nthreads) col_for_row[out_offsets[b] + r] = -1;
    }
    if (tid == 0) {
      status_out[b] = kBadShape;
      total_out[b] = 0.0;
    }
    return;
  }
  int* out = col_for_row + out_offsets[b];
  for (int r = tid; r < rows; r += nthreads) out[r] = -1;
  if (rows == 0 || cols == 0) {
    if (tid == 0) {
      status_out[b] = kOk;
      total_out[b] = 0.0;
    }
    return;
  }
  const float* C = costs + cost_offsets[b];

  // NaN and -inf are rejected up front, like the CPU solver.
  int bad = 0;
  const int64_t n = static_cast<int64_t>(rows) * cols;
  for (int64_t k = tid; k < n; k += nthreads) bad |= !(__ldg(C + k) > -INFINITY);
  if (__syncthreads_or(bad)) {
    if (tid == 0) {
      status_out[b] = kInvalidEntry;
      total_out[b] = 0.0;
    }
    return;
  }

  // Solve the "wide" problem nr x nc (nr <= nc), reading the original matrix transposed when
  // rows > cols: wide(i, j) = C[j][i].
  const bool tr = rows > cols;
  const int nr = tr ? cols : rows, nc = tr ? rows : cols;
  auto wide_cost = [&](int i, int j) -> float {
    return tr ? __ldg(C + static_cast<int64_t>(j) * cols + i)
              : __ldg(C + static_cast<int64_t>(i) * cols + j);
  };
  for (int j = tid; j < nc; j += nthreads) {
    v[j] = 0.0;
    row4col[j] = -1;
  }
  for (int i = tid; i < nr; i += nthreads) {
    u[i] = 0.0;
    col4row[i] = -1;
  }
  __syncthreads();

  // The CPU solver's feasible start (see solve_wide): column reduction for square problems, row
  // reduction for wide ones, minima found in parallel (path[] holds each one's arg-min for now),
  // then thread 0 matches greedily wherever the partner is still free.
  __shared__ int s_infeasible;
  if (nr == nc) {
    for (int j = tid; j < nc; j += nthreads) {  // coalesced: threads read one row together
      double best = INFINITY;
      int imin = -1;
      for (int r = 0; r < nr; ++r) {
        const double c = wide_cost(r, j);
        if (c < best) {
          best = c;
          imin = r;
        }
      }
      v[j] = best;
      path[j] = imin;
    }
  } else {
    for (int r = warp; r < nr; r += nwarps) {  // one warp per row
      double best = INFINITY;
      int jmin = INT_MAX;
      for (int j = lane; j < nc; j += 32) {
        const double c = wide_cost(r, j);
        if (c < best) {
          best = c;
          jmin = j;
        }
      }
      for (int off = 16; off > 0; off >>= 1) {
        const double ov = __shfl_down_sync(0xffffffffu, best, off);
        const int oj = __shfl_down_sync(0xffffffffu, jmin, off);
        if (ov < best || (ov == best && oj < jmin)) {
          best = ov;
          jmin = oj;
        }
      }
      if (lane == 0) {
        u[r] = best;
        path[r] = best == INFINITY ? -1 : jmin;  // path has nc >= nr entries
      }
    }
  }
  __syncthreads();
  if (tid == 0) {
    int infeasible = 0;
    if (nr == nc) {
      for (int j = 0; j < nc; ++j) {
        const int r = path[j];
        if (r < 0) {
          infeasible = 1;  // a column with only forbidden entries
          break;
        }
        if (col4row[r] == -1) {
          col4row[r] = j;
          row4col[j] = r;
        }
      }
    } else {
      for (int r = 0; r < nr; ++r) {
        const int j = path[r];
        if (j < 0) {
          infeasible = 1;  // a row with only forbidden entries
          break;
        }
        if (row4col[j] == -1) {
          row4col[j] = r;
          col4row[r] = j;
        }
      }
    }
    s_infeasible = infeasible;
  }
  __syncthreads();
  if (s_infeasible) {
    if (tid == 0) {
      status_out[b] = kInfeasible;
      total_out[b] = 0.0;
    }
    return;
  }

  int parity = 0;
  for (int cur_row = 0; cur_row < nr; ++cur_row) {
    if (col4row[cur_row] != -1) continue;  // placed by the start (uniform across the block)
    // Column j is owned by thread j % nthreads for the whole search: only the owner touches
    // spc[j], path[j] and sc[j] until the next __syncthreads, so no atomics are needed.
    for (int j = tid; j < nc; j += nthreads) {
      spc[j] = INFINITY;
      sc[j] = 0;
    }
    for (int i = tid; i < nr; i += nthreads) sr[i] = 0;
    __syncthreads();

    double min_val = 0.0;
    int i = cur_row;
    int sink = -1;
    while (true) {
      if (tid == 0) sr[i] = 1;
      const double base = min_val - u[i];
      double best_v = INFINITY;
      int best_f = 0, best_j = INT_MAX;
      for (int j = tid; j < nc; j += nthreads) {
        if (sc[j]) continue;
        const double r = base + static_cast<double>(wide_cost(i, j)) - v[j];
        double s = spc[j];
        if (r < s) {
          s = r;
          spc[j] = r;
          path[j] = i;
        }
        const int f = row4col[j] == -1;
        if (better(s, f, j, best_v, best_f, best_j)) {
          best_v = s;
          best_f = f;
          best_j = j;
        }
      }
      for (int off = 16; off > 0; off >>= 1) {
        const double ov = __shfl_down_sync(0xffffffffu, best_v, off);
        const int of = __shfl_down_sync(0xffffffffu, best_f, off);
        const int oj = __shfl_down_sync(0xffffffffu, best_j, off);
        if (better(ov, of, oj, best_v, best_f, best_j)) {
          best_v = ov;
          best_f = of;
          best_j = oj;
        }
      }
      // Double-buffered by parity: a warp that races ahead to the next step writes the other
      // half, so one barrier per step suffices.
      double* rv = red_val + parity * kMaxWarps;
      int* rf = red_free + parity * kMaxWarps;
      int* rj = red_idx + parity * kMaxWarps;
      if (lane == 0) {
        rv[warp] = best_v;
        rf[warp] = best_f;
        rj[warp] = best_j;
      }
      __syncthreads();
      best_v = rv[0];
      best_f = rf[0];
      best_j = rj[0];
      for (int w = 1; w < nwarps; ++w) {
        if (better(rv[w], rf[w], rj[w], best_v, best_f, best_j)) {
          best_v = rv[w];
          best_f = rf[w];
          best_j = rj[w];
        }
      }
      parity ^= 1;
      min_val = best_v;
      if (min_val == INFINITY) break;  // uniform across the block: infeasible
      const int j = best_j;
      if (j % nthreads == tid) sc[j] = 1;
      if (row4col[j] == -1) {
        sink = j;
        break;
      }
      i = row4col[j];
    }
    if (sink < 0) {
      if (tid == 0) {
        status_out[b] = kInfeasible;
        total_out[b] = 0.0;
      }
      return;  // out[] already holds -1 everywhere
    }
    __syncthreads();  // spc, path, sc, sr of the search visible to every thread

    // Dual update (same as the CPU solver), then flip the alternating path.
    for (int r = tid; r < nr; r += nthreads) {
      if (sr[r] && r != cur_row) u[r] += min_val - spc[col4row[r]];
    }
    for (int c = tid; c < nc; c += nthreads) {
      if (sc[c]) v[c] -= min_val - spc[c];
    }
    __syncthreads();
    if (tid == 0) {
      u[cur_row] += min_val;
      int j = sink;
      while (true) {
        const int r = path[j];
        row4col[j] = r;
        const int prev = col4row[r];
        col4row[r] = j;
        j = prev;
        if (r == cur_row) break;
      }
    }
    __syncthreads();
  }

  // Outputs in the caller's orientation, and the total in double.
  double sum = 0.0;
  for (int r = tid; r < nr; r += nthreads) {
    const int c = col4row[r];
    sum += static_cast<double>(wide_cost(r, c));
    if (tr) {
      out[c] = r;  // wide row r = original column r, wide column c = original row c
    } else {
      out[r] = c;
    }
  }
  for (int off = 16; off > 0; off >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, off);
  double* rv = red_val + parity * kMaxWarps;
  if (lane == 0) rv[warp] = sum;
  __syncthreads();
  if (tid == 0) {
    double total = 0.0;
    for (int w = 0; w < nwarps; ++w) total += rv[w];
    total_out[b] = total;
    status_out[b] = kOk;
  }
}


}  // namespace um_lsap
