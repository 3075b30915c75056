// File: src/pipeline/assignment_cuda.h
// Purpose: the batched exact linear sum assignment on the GPU (only built with CUDA: include it
// under #ifdef UM_WITH_CUDA). Same problem, same algorithm and same result contract as the CPU
// solver in assignment.h (shortest augmenting path, +inf forbidden, NaN/-inf invalid).
//
// Design: ONE LAUNCH for the whole batch, one thread block per problem. A block keeps its
// problem's potentials, path and matching in shared memory (about 25 bytes per column and 13 per
// row); the cost matrix is read from global memory (cached). The duals start from the same
// reduction as on the CPU (minima found in parallel). Each step of a Dijkstra search is
// one parallel pass over the unvisited columns plus a block arg-min (one __syncthreads per
// step). Potentials and path lengths are double, as on the CPU, so both backends reach the same
// optimal total (assignments may differ where several optima tie). Nothing in the launch waits
// for the host: results land in device buffers and the caller synchronises once, when it
// needs them.
//
// Limits: max(rows, cols) of a problem is bounded by shared memory: 7000 columns fit in H100's
// 227 KiB, far above the 300 x 300 this is built for. A launch with a larger max_rows/max_cols
// returns cudaErrorInvalidValue without running.
//
// Usage (device-resident, no host sync):
//   assignment_solve_cuda(d_costs, d_offsets, d_rows, d_cols, d_out_offsets, batch, max_rows,
//                         max_cols, d_col_for_row, d_total, d_status, stream);
//   ... later: cudaMemcpyAsync results, one cudaStreamSynchronize ...
// Host convenience (copies in, one launch, copies out, ONE synchronisation):
//   std::vector<Result<Assignment>> r = solve_assignment_batch_cuda(views, stream);
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <span>
#include <vector>

#include "pipeline/assignment.h"

// Solves `batch` problems in one kernel launch on `stream`. All pointers are DEVICE pointers.
//   costs_device        all cost matrices, each row-major (row stride = its cols), float32
//   cost_offsets_device [batch] element offset of problem b's matrix within costs_device
//   rows_device, cols_device [batch] problem sizes (0 allowed: empty problem, total 0)
//   out_offsets_device  [batch] where problem b's rows start in col_for_row_device (typically
//                       the exclusive prefix sum of rows)
//   max_rows, max_cols  host-side upper bounds of rows / cols over the batch (they size shared
//                       memory; a problem exceeding them gets status kBadShape)
//   col_for_row_device  [sum of rows] output: the column assigned to each row, -1 for a row left
//                       unassigned (rows > cols) or when the problem failed
//   total_cost_device   [batch] output: sum of the chosen entries in double (0 when failed)
//   status_device       [batch] output: an AssignmentCode as int (0 ok, 1 infeasible,
//                       2 invalid entry, 3 bad shape)
// Returns the launch error, if any (cudaErrorInvalidValue for bad arguments or sizes that do
// not fit in shared memory); never synchronises.
extern "C" cudaError_t assignment_solve_cuda(
    const float* costs_device, const int64_t* cost_offsets_device, const int* rows_device,
    const int* cols_device, const int* out_offsets_device, int batch, int max_rows, int max_cols,
    int* col_for_row_device, double* total_cost_device, int* status_device, cudaStream_t stream);

namespace um::pipeline {

// True when the CUDA runtime reports at least one device.
bool cuda_assignment_available();

// Copies the problems to the device, runs assignment_solve_cuda once on `stream` (0 = legacy
// default stream) and copies the results back, with exactly one host synchronisation. Returns
// one Result per problem like solve_assignment_batch; a CUDA failure (no device, launch error)
// gives every problem that error.
std::vector<Result<Assignment>> solve_assignment_batch_cuda(
    std::span<const CostMatrixView<float>> problems, cudaStream_t stream = nullptr);

}  // namespace um::pipeline
