// File: src/core/cuda/cuda_check.h
// Purpose: one checked-call macro for the CUDA runtime, cuBLAS(Lt) and cuDNN (STYLE 1.3), which
// THROWS um::CudaError instead of aborting: a long-running gateway must report the failure, then
// serve on or stop cleanly. The message names the statement, file, line and device.
// Usage:
//   UM_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, stream));
//   UM_CUDA_CHECK_LAST("my_kernel");   // after a launch
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "core/status.h"

namespace um {

class CudaError : public Error {
 public:
  explicit CudaError(const std::string& message) : Error(StatusCode::kInternal, message) {}
};

// Builds the message and throws; kept out of line so the macro stays small at every call site.
[[noreturn]] void throw_cuda_error(const char* library, const char* error_name, const char* statement,
                                   const char* file, int line);

inline const char* cuda_status_name(cudaError_t e) { return cudaGetErrorString(e); }

}  // namespace um

// Generic form: `ok` is the library's success value, `name_fn` turns a status into text.
#define UM_CUDA_CHECK_GEN(expr, ok, name_fn, library)                                     \
  do {                                                                                    \
    auto um_cuda_status_ = (expr);                                                        \
    if (um_cuda_status_ != (ok)) {                                                        \
      ::um::throw_cuda_error(library, name_fn(um_cuda_status_), #expr, __FILE__, __LINE__); \
    }                                                                                     \
  } while (0)

#define UM_CUDA_CHECK(expr) UM_CUDA_CHECK_GEN(expr, cudaSuccess, ::um::cuda_status_name, "CUDA")
#define UM_CUDA_CHECK_LAST(what) UM_CUDA_CHECK_GEN(cudaGetLastError(), cudaSuccess, ::um::cuda_status_name, what)
