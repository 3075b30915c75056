// File: src/pipeline/assignment_cuda.cu
// Purpose: the host side of the batched GPU linear sum assignment (assignment_cuda.h): argument
// checks, the launch shape (um_lsap::choose_launch) and the launch (assignment_solve_cuda[_ex]),
// and CudaAssignmentSolver, the reusable host-data solver with its cached device and pinned
// buffers and its single synchronisation. The kernel itself is in assignment_cuda_kernel.cuh.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "core/cuda/device_attribute.h"
#include "pipeline/assignment_cuda.h"
#include "pipeline/assignment_cuda_kernel.cuh"

namespace {

using um_lsap::DeviceLimits;
using um_lsap::LaunchConfig;

using KernelFn = void (*)(const float*, const int64_t*, const int*, const int*, const int*, int,
                          int, int*, double*, int*);

// The four kernel variants, indexed by warp_team * 2 + cache.
constexpr KernelFn kKernels[4] = {
    um_lsap::lsap_batch_kernel<false, false>, um_lsap::lsap_batch_kernel<false, true>,
    um_lsap::lsap_batch_kernel<true, false>, um_lsap::lsap_batch_kernel<true, true>};

// The dynamic shared memory limit already granted to each variant on a device, so that
// cudaFuncSetAttribute runs once per variant and device, not on every launch. (The device's own
// limits come from the shared attribute cache, see device_limits.)
struct DeviceState {
  size_t smem_granted[4] = {0, 0, 0, 0};
};
std::mutex g_device_mutex;
std::vector<DeviceState> g_devices;

cudaError_t prepare_device(int device, const LaunchConfig& c, int variant) {
  std::lock_guard<std::mutex> lock(g_device_mutex);
  if (device >= static_cast<int>(g_devices.size())) g_devices.resize(device + 1);
  DeviceState& s = g_devices[device];
  if (c.smem_bytes > 48 * 1024 && c.smem_bytes > s.smem_granted[variant]) {
    const cudaError_t e =
        cudaFuncSetAttribute(kKernels[variant], cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(c.smem_bytes));
    if (e != cudaSuccess) return e;
    s.smem_granted[variant] = c.smem_bytes;
  }
  return cudaSuccess;
}

// The device limits choose_launch sizes the launch from (cached device attributes).
cudaError_t device_limits(int device, DeviceLimits* out) {
  cudaError_t e = um::cuda::device_attribute(&out->smem_optin,
                                             cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  if (e == cudaSuccess) {
    e = um::cuda::device_attribute(&out->smem_per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor,
                                   device);
  }
  if (e == cudaSuccess) {
    e = um::cuda::device_attribute(&out->sm_count, cudaDevAttrMultiProcessorCount, device);
  }
  return e;
}

}  // namespace

extern "C" cudaError_t assignment_solve_cuda_ex(
    const float* costs_device, const int64_t* cost_offsets_device, const int* rows_device,
    const int* cols_device, const int* out_offsets_device, int batch, int max_rows, int max_cols,
    int* col_for_row_device, double* total_cost_device, int* status_device, cudaStream_t stream,
    int team_mode, int cache_mode) {
  if (batch < 0 || max_rows < 0 || max_cols < 0 || team_mode < 0 || team_mode > 2 ||
      cache_mode < 0 || cache_mode > 2) {
    return cudaErrorInvalidValue;
  }
  if (batch == 0) return cudaSuccess;
  if (!cost_offsets_device || !rows_device || !cols_device || !out_offsets_device ||
      !total_cost_device || !status_device) {
    return cudaErrorInvalidValue;
  }
  int device = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err != cudaSuccess) return err;
  DeviceLimits limits;
  err = device_limits(device, &limits);
  if (err != cudaSuccess) return err;
  const LaunchConfig c =
      um_lsap::choose_launch(batch, max_rows, max_cols, team_mode, cache_mode, limits);
  if (c.threads == 0) return cudaErrorInvalidValue;  // does not fit one block's shared memory
  const int variant = (c.warp_team ? 2 : 0) + (c.cache ? 1 : 0);
  err = prepare_device(device, c, variant);
  if (err != cudaSuccess) return err;
  kKernels[variant]<<<batch, c.threads, c.smem_bytes, stream>>>(
      costs_device, cost_offsets_device, rows_device, cols_device, out_offsets_device, max_rows,
      max_cols, col_for_row_device, total_cost_device, status_device);
  return cudaGetLastError();
}

extern "C" cudaError_t assignment_solve_cuda(
    const float* costs_device, const int64_t* cost_offsets_device, const int* rows_device,
    const int* cols_device, const int* out_offsets_device, int batch, int max_rows, int max_cols,
    int* col_for_row_device, double* total_cost_device, int* status_device, cudaStream_t stream) {
  return assignment_solve_cuda_ex(costs_device, cost_offsets_device, rows_device, cols_device,
                                  out_offsets_device, batch, max_rows, max_cols,
                                  col_for_row_device, total_cost_device, status_device, stream,
                                  um_lsap::kTeamAuto, um_lsap::kCacheAuto);
}

namespace um::pipeline {
namespace {

Status cuda_status(cudaError_t e, const char* what) {
  return internal_error(std::string("CUDA assignment: ") + what + ": " + cudaGetErrorString(e));
}

constexpr size_t align256(size_t x) { return (x + 255) / 256 * 256; }

// Packing is flushed to the device in pieces of about this size, so the copy of one piece
// overlaps the packing of the next.
constexpr size_t kCopyChunkBytes = size_t{1} << 20;

}  // namespace

bool cuda_assignment_available() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

CudaAssignmentSolver::~CudaAssignmentSolver() { release(); }

void CudaAssignmentSolver::release() {
  // Errors are ignored: this also runs at thread exit, possibly while the runtime shuts down.
  if (device_) cudaFree(device_);
  if (host_in_) cudaFreeHost(host_in_);
  if (host_out_) cudaFreeHost(host_out_);
  device_ = host_in_ = host_out_ = nullptr;
  device_cap_ = host_in_cap_ = host_out_cap_ = 0;
}

Status CudaAssignmentSolver::reserve(size_t in_bytes, size_t out_bytes) {
  int device = 0;
  if (cudaError_t e = cudaGetDevice(&device); e != cudaSuccess) {
    return cuda_status(e, "no current device");
  }
  if (device != device_id_) {
    release();
    device_id_ = device;
  }
  // Grown by at least half each time, so a slowly growing batch reallocates rarely. (cudaFree
  // and cudaMalloc synchronise: acceptable on growth, never on a call of a size already seen.)
  auto grown = [](size_t need, size_t cap) { return std::max(need, cap + cap / 2); };
  const size_t dev_need = align256(in_bytes) + out_bytes;
  if (dev_need > device_cap_) {
    const size_t cap = grown(dev_need, device_cap_);
    if (device_) cudaFree(device_);
    device_ = nullptr;
    device_cap_ = 0;
    if (cudaError_t e = cudaMalloc(reinterpret_cast<void**>(&device_), cap); e != cudaSuccess) {
      device_ = nullptr;
      return cuda_status(e, "device allocation");
    }
    device_cap_ = cap;
    ++allocations_;
  }
  if (in_bytes > host_in_cap_) {
    const size_t cap = grown(in_bytes, host_in_cap_);
    if (host_in_) cudaFreeHost(host_in_);
    host_in_ = nullptr;
    host_in_cap_ = 0;
    if (cudaError_t e = cudaHostAlloc(reinterpret_cast<void**>(&host_in_), cap,
                                      cudaHostAllocDefault);
        e != cudaSuccess) {
      host_in_ = nullptr;
      return cuda_status(e, "pinned host allocation");
    }
    host_in_cap_ = cap;
    ++allocations_;
  }
  if (out_bytes > host_out_cap_) {
    const size_t cap = grown(out_bytes, host_out_cap_);
    if (host_out_) cudaFreeHost(host_out_);
    host_out_ = nullptr;
    host_out_cap_ = 0;
    if (cudaError_t e = cudaHostAlloc(reinterpret_cast<void**>(&host_out_), cap,
                                      cudaHostAllocDefault);
        e != cudaSuccess) {
      host_out_ = nullptr;
      return cuda_status(e, "pinned host allocation");
    }
    host_out_cap_ = cap;
    ++allocations_;
  }
  return Status::Ok();
}

// Checks the shapes, lays the batch out, grows the buffers if needed and writes the metadata
// (offsets, sizes) into the pinned input buffer. shape_at(b) -> std::pair<int, int> (rows, cols).
// (solve() checks the views' data pointers before.)
template <typename ShapeAt>
Status CudaAssignmentSolver::plan_batch(int batch, ShapeAt shape_at) {
  staged_ = false;
  Plan p;
  p.batch = batch;
  int64_t total_elems = 0;
  int64_t total_rows = 0;
  for (int b = 0; b < batch; ++b) {
    const auto [rows, cols] = shape_at(b);
    if (rows < 0 || cols < 0) {
      return invalid_argument("problem " + std::to_string(b) + ": negative size " +
                              std::to_string(rows) + "x" + std::to_string(cols));
    }
    total_elems += int64_t{rows} * cols;
    total_rows += rows;
    p.max_rows = std::max(p.max_rows, rows);
    p.max_cols = std::max(p.max_cols, cols);
  }
  if (total_rows > INT32_MAX) return invalid_argument("CUDA assignment: too many rows in total");
  // Inputs: [cost_offsets int64 | rows | cols | out_offsets | costs float], parts 256-aligned.
  // Outputs: [total double | status int | col_for_row int].
  p.off_offsets = 0;
  p.off_rows = p.off_offsets + align256(sizeof(int64_t) * batch);
  p.off_cols = p.off_rows + align256(sizeof(int) * batch);
  p.off_out_offsets = p.off_cols + align256(sizeof(int) * batch);
  p.off_costs = p.off_out_offsets + align256(sizeof(int) * batch);
  p.in_bytes = p.off_costs + sizeof(float) * static_cast<size_t>(total_elems);
  p.out_base = align256(p.in_bytes);
  p.off_total = 0;
  p.off_status = align256(sizeof(double) * batch);
  p.off_cfr = p.off_status + align256(sizeof(int) * batch);
  p.out_bytes = p.off_cfr + sizeof(int) * static_cast<size_t>(total_rows);
  if (Status s = reserve(p.in_bytes, p.out_bytes); !s.ok()) return s;
  plan_ = p;

  auto* offsets = reinterpret_cast<int64_t*>(host_in_ + p.off_offsets);
  auto* rows_out = reinterpret_cast<int*>(host_in_ + p.off_rows);
  auto* cols_out = reinterpret_cast<int*>(host_in_ + p.off_cols);
  auto* out_offsets = reinterpret_cast<int*>(host_in_ + p.off_out_offsets);
  int64_t elems = 0;
  int rows_so_far = 0;
  for (int b = 0; b < batch; ++b) {
    const auto [rows, cols] = shape_at(b);
    offsets[b] = elems;
    rows_out[b] = rows;
    cols_out[b] = cols;
    out_offsets[b] = rows_so_far;
    elems += int64_t{rows} * cols;
    rows_so_far += rows;
  }
  return Status::Ok();
}

std::vector<Result<Assignment>> CudaAssignmentSolver::solve(
    std::span<const CostMatrixView<float>> problems, cudaStream_t stream) {
  const int batch = static_cast<int>(problems.size());
  // (Built by construction, not assignment: nvcc warns on assigning to a [[nodiscard]] class.)
  auto fail_all = [&](const Status& s) {
    return std::vector<Result<Assignment>>(problems.size(), Result<Assignment>(s));
  };
  if (batch == 0) return {};
  for (int b = 0; b < batch; ++b) {
    const auto& p = problems[b];
    if (p.rows < 0 || p.cols < 0 || (p.data == nullptr && int64_t{p.rows} * p.cols > 0)) {
      return fail_all(invalid_argument("problem " + std::to_string(b) +
                                       ": negative size or null data"));
    }
  }
  Status planned = plan_batch(batch, [&](int b) {
    return std::pair<int, int>{problems[b].rows, problems[b].cols};
  });
  if (!planned.ok()) return fail_all(planned);

  // Pack the costs, sending every ~1 MiB as soon as it is packed (the copy of one piece
  // overlaps the packing of the next).
  const auto* offsets = reinterpret_cast<const int64_t*>(host_in_ + plan_.off_offsets);
  auto* costs = reinterpret_cast<float*>(host_in_ + plan_.off_costs);
  cudaError_t e = cudaSuccess;
  size_t sent = 0;
  for (int b = 0; b < batch && e == cudaSuccess; ++b) {
    const auto& p = problems[b];
    const int64_t n = int64_t{p.rows} * p.cols;
    if (n > 0) std::memcpy(costs + offsets[b], p.data, sizeof(float) * n);
    const size_t packed = plan_.off_costs + sizeof(float) * static_cast<size_t>(offsets[b] + n);
    if (packed - sent >= kCopyChunkBytes) {
      e = cudaMemcpyAsync(device_ + sent, host_in_ + sent, packed - sent, cudaMemcpyHostToDevice,
                          stream);
      sent = packed;
    }
  }
  if (e != cudaSuccess) {
    cudaStreamSynchronize(stream);  // error path only: nothing may still read host_in_
    return fail_all(cuda_status(e, "copy to device"));
  }
  return launch_and_collect(sent, stream);
}

Result<std::vector<float*>> CudaAssignmentSolver::stage(
    std::span<const std::pair<int, int>> shapes) {
  const int batch = static_cast<int>(shapes.size());
  if (Status s = plan_batch(batch, [&](int b) { return shapes[b]; }); !s.ok()) return s;
  std::vector<float*> where(batch, nullptr);
  const auto* offsets = reinterpret_cast<const int64_t*>(host_in_ + plan_.off_offsets);
  auto* costs = reinterpret_cast<float*>(host_in_ + plan_.off_costs);
  for (int b = 0; b < batch; ++b) {
    if (int64_t{shapes[b].first} * shapes[b].second > 0) where[b] = costs + offsets[b];
  }
  staged_ = batch > 0;
  return where;
}

std::vector<Result<Assignment>> CudaAssignmentSolver::solve_staged(cudaStream_t stream) {
  if (!staged_) return {};
  staged_ = false;
  return launch_and_collect(0, stream);
}

// Sends what is not on the device yet, launches, copies the results back, synchronises once
// and turns them into Results. On any failure after a copy was queued the stream is waited for
// before returning: the next call reuses host_in_.
std::vector<Result<Assignment>> CudaAssignmentSolver::launch_and_collect(size_t already_sent,
                                                                         cudaStream_t stream) {
  const Plan& p = plan_;
  auto fail_all = [&](const Status& s) {
    cudaStreamSynchronize(stream);
    return std::vector<Result<Assignment>>(p.batch, Result<Assignment>(s));
  };
  cudaError_t e = cudaSuccess;
  if (p.in_bytes > already_sent) {
    e = cudaMemcpyAsync(device_ + already_sent, host_in_ + already_sent,
                        p.in_bytes - already_sent, cudaMemcpyHostToDevice, stream);
    if (e != cudaSuccess) return fail_all(cuda_status(e, "copy to device"));
  }
  unsigned char* d_out = device_ + p.out_base;
  e = assignment_solve_cuda_ex(
      reinterpret_cast<const float*>(device_ + p.off_costs),
      reinterpret_cast<const int64_t*>(device_ + p.off_offsets),
      reinterpret_cast<const int*>(device_ + p.off_rows),
      reinterpret_cast<const int*>(device_ + p.off_cols),
      reinterpret_cast<const int*>(device_ + p.off_out_offsets), p.batch, p.max_rows, p.max_cols,
      reinterpret_cast<int*>(d_out + p.off_cfr), reinterpret_cast<double*>(d_out + p.off_total),
      reinterpret_cast<int*>(d_out + p.off_status), stream, static_cast<int>(options_.team),
      static_cast<int>(options_.cache));
  if (e == cudaErrorInvalidValue) {
    return fail_all(invalid_argument(
        "CUDA assignment: problems of up to " + std::to_string(p.max_rows) + "x" +
        std::to_string(p.max_cols) + " do not fit in one thread block's shared memory"));
  }
  if (e != cudaSuccess) return fail_all(cuda_status(e, "kernel launch"));

  e = cudaMemcpyAsync(host_out_, d_out, p.out_bytes, cudaMemcpyDeviceToHost, stream);
  const cudaError_t sync = cudaStreamSynchronize(stream);  // the one host synchronisation
  if (e == cudaSuccess) e = sync;
  if (e != cudaSuccess) return fail_all(cuda_status(e, "copy to host"));

  const auto* rows = reinterpret_cast<const int*>(host_in_ + p.off_rows);
  const auto* cols = reinterpret_cast<const int*>(host_in_ + p.off_cols);
  const auto* out_offsets = reinterpret_cast<const int*>(host_in_ + p.off_out_offsets);
  const auto* totals = reinterpret_cast<const double*>(host_out_ + p.off_total);
  const auto* codes = reinterpret_cast<const int*>(host_out_ + p.off_status);
  const auto* col_for_row = reinterpret_cast<const int*>(host_out_ + p.off_cfr);
  std::vector<Result<Assignment>> results;
  results.reserve(p.batch);
  for (int b = 0; b < p.batch; ++b) {
    const auto code = static_cast<AssignmentCode>(codes[b]);
    if (code != AssignmentCode::kOk) {
      results.push_back(assignment_status(code, "problem " + std::to_string(b)));
      continue;
    }
    Assignment a;
    a.total_cost = totals[b];
    const int pairs = std::min(rows[b], cols[b]);
    a.row_ind.reserve(pairs);
    a.col_ind.reserve(pairs);
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

std::vector<Result<Assignment>> solve_assignment_batch_cuda(
    std::span<const CostMatrixView<float>> problems, cudaStream_t stream) {
  thread_local CudaAssignmentSolver solver;
  return solver.solve(problems, stream);
}

}  // namespace um::pipeline
