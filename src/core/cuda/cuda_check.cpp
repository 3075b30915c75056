#include "core/cuda/cuda_check.h"

namespace um {

void throw_cuda_error(const char* library, const char* error_name, const char* statement,
                      const char* file, int line) {
  int device = -1;
  cudaGetDevice(&device);  // best effort: the error may be sticky
  throw CudaError(std::string(library) + " error: " + error_name + " in '" + statement + "' at " +
                  file + ":" + std::to_string(line) + " (device " + std::to_string(device) + ")");
}

}  // namespace um
