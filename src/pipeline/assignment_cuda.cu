// File: src/pipeline/assignment_cuda.cu
// Purpose: the host side of the batched GPU linear sum assignment (assignment_cuda.h): argument
// checks, shared-memory sizing and the launch (assignment_solve_cuda), and the host convenience
// with its single synchronisation. The kernel itself is in assignment_cuda_kernel.cuh.
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/assignment_cuda.h"
#include "pipeline/assignment_cuda_kernel.cuh"

namespace {

using um_lsap::kMaxThreads;
using um_lsap::lsap_batch_kernel;
using um_lsap::smem_layout;

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
