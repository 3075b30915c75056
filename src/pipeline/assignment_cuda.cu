// File: src/pipeline/assignment_cuda.cu
// Purpose: the batched GPU linear sum assignment (assignment_cuda.h): one thread block per
// problem, one launch per batch, shortest augmenting paths with double potentials in shared
// memory. Mirrors solve_wide() in assignment_cpu.cpp step for step; a change to the algorithm
// there must be made here too [TAG_LSAP_ALGORITHM].
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/assignment_cuda.h"

namespace {

constexpr int kMaxThreads = 512;
constexpr int kMaxWarps = kMaxThreads / 32;

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
  extern __shared__ __align__(16) unsigned char smem[];
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

  int parity = 0;
  for (int cur_row = 0; cur_row < nr; ++cur_row) {
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

int threads_for(int max_nc) {
  const int t = (std::max(max_nc, 1) + 31) / 32 * 32;
  return std::min(t, kMaxThreads);
}

}  // namespace

extern "C" cudaError_t assignment_solve_cuda(
    const float* costs_device, const int64_t* cost_offsets_device, const int* rows_device,
    const int* cols_device, const int* out_offsets_device, int batch, int max_rows, int max_cols,
    int* col_for_row_device, double* total_cost_device, int* status_device, cudaStream_t stream) {
  if (batch < 0 || max_rows < 0 || max_cols < 0) return cudaErrorInvalidValue;
  if (batch == 0) return cudaSuccess;
  if (!cost_offsets_device || !rows_device || !cols_device || !out_offsets_device ||
      !total_cost_device || !status_device) {
    return cudaErrorInvalidValue;
  }
  const int max_nc = std::max(max_rows, max_cols), max_nr = std::min(max_rows, max_cols);
  const size_t bytes = smem_layout(max_nc, max_nr).bytes;
  int device = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err != cudaSuccess) return err;
  int optin = 0;
  err = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  if (err != cudaSuccess) return err;
  if (bytes > static_cast<size_t>(optin)) return cudaErrorInvalidValue;
  if (bytes > 48 * 1024) {
    err = cudaFuncSetAttribute(lsap_batch_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(bytes));
    if (err != cudaSuccess) return err;
  }
  lsap_batch_kernel<<<batch, threads_for(max_nc), bytes, stream>>>(
      costs_device, cost_offsets_device, rows_device, cols_device, out_offsets_device, max_rows,
      max_cols, col_for_row_device, total_cost_device, status_device);
  return cudaGetLastError();
}

namespace um::pipeline {
namespace {

Status cuda_status(cudaError_t e, const char* what) {
  return internal_error(std::string("CUDA assignment: ") + what + ": " + cudaGetErrorString(e));
}

// Device scratch released on every path (stream-ordered, so no extra synchronisation).
struct DeviceBlock {
  void* ptr = nullptr;
  cudaStream_t stream = nullptr;
  ~DeviceBlock() {
    if (ptr) cudaFreeAsync(ptr, stream);
  }
};

}  // namespace

bool cuda_assignment_available() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

std::vector<Result<Assignment>> solve_assignment_batch_cuda(
    std::span<const CostMatrixView<float>> problems, cudaStream_t stream) {
  const int batch = static_cast<int>(problems.size());
  // (Built by construction, not assignment: nvcc warns on assigning to a [[nodiscard]] class.)
  auto fail_all = [&](const Status& s) {
    return std::vector<Result<Assignment>>(problems.size(), Result<Assignment>(s));
  };
  if (batch == 0) return {};

  // Pack: costs back to back, with their offsets, sizes and output offsets.
  std::vector<int64_t> cost_offsets(batch);
  std::vector<int> rows(batch), cols(batch), out_offsets(batch);
  int64_t total_elems = 0;
  int total_rows = 0, max_rows = 0, max_cols = 0;
  for (int b = 0; b < batch; ++b) {
    const auto& p = problems[b];
    if (p.rows < 0 || p.cols < 0 || (p.data == nullptr && int64_t{p.rows} * p.cols > 0)) {
      return fail_all(invalid_argument("problem " + std::to_string(b) +
                                       ": negative size or null data"));
    }
    cost_offsets[b] = total_elems;
    rows[b] = p.rows;
    cols[b] = p.cols;
    out_offsets[b] = total_rows;
    total_elems += int64_t{p.rows} * p.cols;
    total_rows += p.rows;
    max_rows = std::max(max_rows, p.rows);
    max_cols = std::max(max_cols, p.cols);
  }
  std::vector<float> costs(static_cast<size_t>(total_elems));
  for (int b = 0; b < batch; ++b) {
    const auto& p = problems[b];
    if (int64_t{p.rows} * p.cols > 0) {
      std::copy(p.data, p.data + int64_t{p.rows} * p.cols, costs.begin() + cost_offsets[b]);
    }
  }

  // One device block: [costs | cost_offsets | rows | cols | out_offsets | col_for_row | total |
  // status], each part 256-byte aligned.
  auto align = [](size_t x) { return (x + 255) / 256 * 256; };
  const size_t sz_costs = align(sizeof(float) * std::max<int64_t>(total_elems, 1));
  const size_t sz_off = align(sizeof(int64_t) * batch);
  const size_t sz_int = align(sizeof(int) * batch);
  const size_t sz_out = align(sizeof(int) * std::max(total_rows, 1));
  const size_t sz_tot = align(sizeof(double) * batch);
  const size_t total_bytes = sz_costs + sz_off + 3 * sz_int + sz_out + sz_tot + sz_int;
  DeviceBlock block;
  block.stream = stream;
  if (cudaError_t e = cudaMallocAsync(&block.ptr, total_bytes, stream); e != cudaSuccess) {
    return fail_all(cuda_status(e, "device allocation"));
  }
  auto* base = static_cast<unsigned char*>(block.ptr);
  size_t o = 0;
  auto take = [&](size_t sz) { unsigned char* p = base + o; o += sz; return p; };
  auto* d_costs = reinterpret_cast<float*>(take(sz_costs));
  auto* d_offsets = reinterpret_cast<int64_t*>(take(sz_off));
  auto* d_rows = reinterpret_cast<int*>(take(sz_int));
  auto* d_cols = reinterpret_cast<int*>(take(sz_int));
  auto* d_out_offsets = reinterpret_cast<int*>(take(sz_int));
  auto* d_col_for_row = reinterpret_cast<int*>(take(sz_out));
  auto* d_total = reinterpret_cast<double*>(take(sz_tot));
  auto* d_status = reinterpret_cast<int*>(take(sz_int));

  cudaError_t e = cudaSuccess;
  auto h2d = [&](void* dst, const void* src, size_t n) {
    if (e == cudaSuccess && n > 0) e = cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, stream);
  };
  h2d(d_costs, costs.data(), sizeof(float) * costs.size());
  h2d(d_offsets, cost_offsets.data(), sizeof(int64_t) * batch);
  h2d(d_rows, rows.data(), sizeof(int) * batch);
  h2d(d_cols, cols.data(), sizeof(int) * batch);
  h2d(d_out_offsets, out_offsets.data(), sizeof(int) * batch);
  if (e != cudaSuccess) return fail_all(cuda_status(e, "copy to device"));

  e = assignment_solve_cuda(d_costs, d_offsets, d_rows, d_cols, d_out_offsets, batch, max_rows,
                            max_cols, d_col_for_row, d_total, d_status, stream);
  if (e == cudaErrorInvalidValue) {
    return fail_all(invalid_argument("CUDA assignment: problems of up to " +
                                     std::to_string(max_rows) + "x" + std::to_string(max_cols) +
                                     " do not fit in one thread block's shared memory"));
  }
  if (e != cudaSuccess) return fail_all(cuda_status(e, "kernel launch"));

  std::vector<int> col_for_row(std::max(total_rows, 1));
  std::vector<double> totals(batch);
  std::vector<int> codes(batch);
  auto d2h = [&](void* dst, const void* src, size_t n) {
    if (e == cudaSuccess && n > 0) e = cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, stream);
  };
  d2h(col_for_row.data(), d_col_for_row, sizeof(int) * total_rows);
  d2h(totals.data(), d_total, sizeof(double) * batch);
  d2h(codes.data(), d_status, sizeof(int) * batch);
  if (e == cudaSuccess) e = cudaStreamSynchronize(stream);  // the one host synchronisation
  if (e != cudaSuccess) return fail_all(cuda_status(e, "copy to host"));

  std::vector<Result<Assignment>> results;
  results.reserve(problems.size());
  for (int b = 0; b < batch; ++b) {
    const auto code = static_cast<AssignmentCode>(codes[b]);
    if (code != AssignmentCode::kOk) {
      results.push_back(assignment_status(code, "problem " + std::to_string(b)));
      continue;
    }
    Assignment a;
    a.total_cost = totals[b];
    for (int r = 0; r < rows[b]; ++r) {
      const int c = col_for_row[out_offsets[b] + r];
      if (c < 0) continue;
      a.row_ind.push_back(r);
      a.col_ind.push_back(c);
    }
    results.push_back(std::move(a));
  }
  return results;
}

}  // namespace um::pipeline
