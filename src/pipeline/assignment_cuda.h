// File: src/pipeline/assignment_cuda.h
// Purpose: the batched exact linear sum assignment on the GPU (only built with CUDA: include it
// under #ifdef UM_WITH_CUDA). Same problem, same algorithm and same result contract as the CPU
// solver in assignment.h (shortest augmenting path, +inf forbidden, NaN/-inf invalid).
//
// Design: ONE LAUNCH for the whole batch, one thread block per problem. A block keeps its
// problem's potentials, path and matching in shared memory (about 29 bytes per column and 21 per
// row) and, when it fits, the cost matrix itself (4 bytes per entry; 64 x 64 = 16 KiB,
// 300 x 50 = 60 KiB). The feasible start (the CPU solver's row/column reduction) is computed and
// matched in parallel; the rows it leaves free are augmented one at a time, each Dijkstra step
// being one parallel pass over the unvisited columns and an arg-min: within ONE WARP for narrow
// problems (<= 128 columns: no block barrier at all), over the block for wider ones (one barrier
// a step). Potentials and path lengths are double, as on the CPU, so both backends reach the same
// optimal total (assignments may differ where several optima tie). Nothing in the launch waits
// for the host. See assignment_cuda_kernel.cuh for the details and why they are exact.
//
// Limits: the problem size is bounded by shared memory (without the cost cache, H100's 227 KiB
// holds about 5500 x 5500, or 8000 columns when the other side is small), far above the
// 300 x 300 this is built for. A launch with a larger max_rows/max_cols returns
// cudaErrorInvalidValue without running.
//
// Usage:
//   Host data, repeated calls (the fast way: device and pinned buffers are kept and only grow):
//     CudaAssignmentSolver solver;                       // one per thread
//     std::vector<Result<Assignment>> r = solver.solve(views, stream);
//   Host data, one-off: solve_assignment_batch_cuda(views, stream) (a per-thread solver).
//   Device-resident data (no host sync):
//     assignment_solve_cuda(d_costs, d_offsets, d_rows, d_cols, d_out_offsets, batch, max_rows,
//                           max_cols, d_col_for_row, d_total, d_status, stream);
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
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
// not fit in shared memory); never synchronises, never allocates.
extern "C" cudaError_t assignment_solve_cuda(
    const float* costs_device, const int64_t* cost_offsets_device, const int* rows_device,
    const int* cols_device, const int* out_offsets_device, int batch, int max_rows, int max_cols,
    int* col_for_row_device, double* total_cost_device, int* status_device, cudaStream_t stream);

// The same with the kernel variant chosen by hand (tests and benchmarks; results are identical
// in every variant up to ties between optima): team_mode 0 auto, 1 one warp per problem,
// 2 the whole block; cache_mode 0 auto, 1 cost matrix in shared memory where it fits, 2 never.
extern "C" cudaError_t assignment_solve_cuda_ex(
    const float* costs_device, const int64_t* cost_offsets_device, const int* rows_device,
    const int* cols_device, const int* out_offsets_device, int batch, int max_rows, int max_cols,
    int* col_for_row_device, double* total_cost_device, int* status_device, cudaStream_t stream,
    int team_mode, int cache_mode);

namespace um::pipeline {

// True when the CUDA runtime reports at least one device.
bool cuda_assignment_available();

// Kernel variant (see assignment_solve_cuda_ex); kAuto is what production code should use.
enum class CudaAssignmentTeam : int { kAuto = 0, kWarp = 1, kBlock = 2 };
enum class CudaAssignmentCache : int { kAuto = 0, kOn = 1, kOff = 2 };
struct CudaAssignmentOptions {
  CudaAssignmentTeam team = CudaAssignmentTeam::kAuto;
  CudaAssignmentCache cache = CudaAssignmentCache::kAuto;
};

// A reusable batched solver for host data. It keeps one device buffer and two pinned host
// buffers (inputs, results), grown only when a batch needs more, so a call of a size already
// seen makes NO allocation: it packs the problems into pinned memory (copying each chunk of
// about 1 MiB to the device while packing the next), launches once, copies the results back
// with one copy and synchronises once. Not thread-safe: one solver per thread (or a lock).
// Use it on the device that was current when it first allocated; switching devices releases
// and reallocates.
//
// Zero-copy input: a caller that produces the cost matrices itself can write them straight into
// the pinned buffer instead of packing views:
//   std::vector<std::pair<int, int>> shapes = {{300, 10}, {300, 10}};   // (rows, cols)
//   Result<std::vector<float*>> dst = solver.stage(shapes);            // row-major, rows*cols
//   ... fill (*dst)[b] ...;  std::vector<Result<Assignment>> r = solver.solve_staged(stream);
class CudaAssignmentSolver {
 public:
  CudaAssignmentSolver() = default;
  explicit CudaAssignmentSolver(CudaAssignmentOptions options) : options_(options) {}
  ~CudaAssignmentSolver();
  CudaAssignmentSolver(const CudaAssignmentSolver&) = delete;
  CudaAssignmentSolver& operator=(const CudaAssignmentSolver&) = delete;

  // One Result per problem, like solve_assignment_batch; a CUDA failure (no device, launch
  // error) gives every problem that error. stream 0 = the legacy default stream.
  std::vector<Result<Assignment>> solve(std::span<const CostMatrixView<float>> problems,
                                        cudaStream_t stream = nullptr);

  // Lays out problems of the given (rows, cols) in the pinned input buffer and returns where to
  // write each matrix (nullptr for an empty one). The pointers stay valid until the next
  // stage() or solve() on this solver. kInvalidArgument for a negative size.
  Result<std::vector<float*>> stage(std::span<const std::pair<int, int>> shapes);
  // Solves the batch of the last stage() (once; an empty vector when nothing is staged).
  std::vector<Result<Assignment>> solve_staged(cudaStream_t stream = nullptr);

  // Observability for tests: bytes held, and how many times buffers were (re)allocated.
  size_t device_capacity() const { return device_cap_; }
  size_t host_capacity() const { return host_in_cap_ + host_out_cap_; }
  int allocation_count() const { return allocations_; }

 private:
  // Where the parts of the current batch lie in the buffers (inputs: host_in_ and the start of
  // device_, same layout; outputs: host_out_ and device_ + out_base, same layout).
  struct Plan {
    int batch = 0, max_rows = 0, max_cols = 0;
    size_t off_offsets = 0, off_rows = 0, off_cols = 0, off_out_offsets = 0, off_costs = 0;
    size_t in_bytes = 0, out_base = 0, off_total = 0, off_status = 0, off_cfr = 0,
           out_bytes = 0;
  };
  template <typename ShapeAt>
  Status plan_batch(int batch, ShapeAt shape_at);
  std::vector<Result<Assignment>> launch_and_collect(size_t already_sent, cudaStream_t stream);
  Status reserve(size_t in_bytes, size_t out_bytes);
  void release();

  CudaAssignmentOptions options_;
  Plan plan_;
  bool staged_ = false;
  int device_id_ = -1;
  unsigned char* device_ = nullptr;
  size_t device_cap_ = 0;
  unsigned char* host_in_ = nullptr;
  size_t host_in_cap_ = 0;
  unsigned char* host_out_ = nullptr;
  size_t host_out_cap_ = 0;
  int allocations_ = 0;
};

// solve() of a per-thread CudaAssignmentSolver (so repeated calls allocate nothing either).
std::vector<Result<Assignment>> solve_assignment_batch_cuda(
    std::span<const CostMatrixView<float>> problems, cudaStream_t stream = nullptr);

}  // namespace um::pipeline
