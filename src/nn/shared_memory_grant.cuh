// File: src/nn/shared_memory_grant.cuh
// Purpose: granting a kernel more than the 48 KiB of dynamic shared memory per block that every
// device gives without asking (cudaFuncSetAttribute), once per kernel, device and size instead of
// on every launch; shared by the ops whose blocks stage big tiles (window_attention, mlp).
// Internal to um_nn (included by .cu files only). (The assignment solver keeps its own grant: its
// entry points report cudaError_t instead of throwing.)
// Usage:
//   if (!allow_dynamic_shared_memory(reinterpret_cast<const void*>(kernel), bytes)) {
//     fail(kOp, "... needs " + std::to_string(bytes) + " bytes of shared memory ...");
//   }
//   kernel<<<grid, threads, bytes, stream()>>>(...);
#pragma once

#include <cstddef>

namespace um::nn::detail {

// True when `kernel` may launch with `bytes` of dynamic shared memory per block on the current
// device (granted here if needed; the grant is remembered per kernel and device, so it is made on
// the first, un-captured call of a configuration). False, granting nothing, when the device's
// per-block opt-in limit (cudaDevAttrMaxSharedMemoryPerBlockOptin) is smaller: the caller says why
// in its own terms. Driver errors throw um::CudaError.
bool allow_dynamic_shared_memory(const void* kernel, size_t bytes);

}  // namespace um::nn::detail
