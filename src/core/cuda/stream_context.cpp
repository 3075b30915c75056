#include "core/cuda/stream_context.h"

namespace um::cuda {
namespace {
thread_local cudaStream_t t_stream = cudaStreamPerThread;
}

cudaStream_t current_stream() { return t_stream; }

StreamScope::StreamScope(cudaStream_t stream) : previous_(t_stream) { t_stream = stream; }
StreamScope::~StreamScope() { t_stream = previous_; }

}  // namespace um::cuda
