// File: src/core/cuda/device_attribute.h
// Purpose: device attributes (SM count, opt-in shared memory per block, cluster launch, ...)
// read once per (device, attribute) and cached for the life of the process, so that an op can
// size its launch from them on every call without a driver call each time. One thread-safe cache
// here instead of a mutex + map in every op that needs one. (The query never synchronises, so
// the first call may come from anywhere, including inside a stream capture.)
// Per-kernel facts (cudaFuncGetAttributes, cudaFuncSetAttribute grants) are not device
// attributes: they stay with the kernel's own launch code.
// Usage:
//   const int sms = um::cuda::device_attribute(cudaDevAttrMultiProcessorCount);  // throws
//   int optin = 0;  // callers that report cudaError_t instead of throwing:
//   cudaError_t e = um::cuda::device_attribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin,
//                                              device);
#pragma once

#include <cuda_runtime_api.h>

namespace um::cuda {

// The current device's id (cudaGetDevice); throws um::CudaError when there is none.
int current_device();

// `attr` of the current device, cached; throws um::CudaError when the query fails.
int device_attribute(cudaDeviceAttr attr);

// cudaDeviceGetAttribute's contract (value written only on success, the error returned, never
// thrown), cached. A failed query is not cached: the next call asks the driver again.
cudaError_t device_attribute(int* value, cudaDeviceAttr attr, int device);

}  // namespace um::cuda
