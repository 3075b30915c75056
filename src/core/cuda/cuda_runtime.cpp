#include "core/cuda/cuda_runtime.h"

#include <atomic>
#include <cstdio>

#include "core/cuda/cuda_check.h"
#include "core/cuda/device_pool.h"
#include "core/cuda/stream_context.h"
#include "core/cuda/strided_copy.h"
#include "core/tensor.h"

namespace um::cuda {
namespace {
std::atomic<uint64_t> g_host_syncs{0};

cudaMemcpyKind copy_kind(Device dst, Device src) {
  if (dst.is_cpu() && src.is_cpu()) return cudaMemcpyHostToHost;
  if (dst.is_cpu()) return cudaMemcpyDeviceToHost;
  if (src.is_cpu()) return cudaMemcpyHostToDevice;
  return cudaMemcpyDeviceToDevice;
}
}  // namespace

bool available() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error for later calls
    return false;
  }
  return n > 0;
}

std::string describe_device(int device) {
  if (!available()) return "no CUDA device available";
  cudaDeviceProp p{};
  UM_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
  int driver = 0;
  cudaDriverGetVersion(&driver);
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s (sm_%d%d, %.1f GiB, %d SMs), driver %d.%d", p.name, p.major,
                p.minor, static_cast<double>(p.totalGlobalMem) / (1 << 30), p.multiProcessorCount,
                driver / 1000, (driver % 1000) / 10);
  return buf;
}

void install_tensor_backend() {
  set_device_allocator({[](size_t bytes, int dev) {
    DevicePool* pool = &current_pool(dev);
    return DeviceBlock{pool->allocate(bytes), [pool](void* p) { pool->release(p); }};
  }});
  set_device_copier({
      [](void* dst, Device dd, const void* src, Device sd, size_t bytes) {
        cudaStream_t s = current_stream();
        UM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, copy_kind(dd, sd), s));
        // A copy that involves the host must be complete when it returns (the host buffer may
        // be pageable and reused): a counted synchronisation, never used inside a frame.
        if (dd.is_cpu() || sd.is_cpu()) synchronize(s);
      },
      [](const Tensor& dst, const Tensor& src) { copy_strided(dst, src); },
      [](void* dst, Device, size_t bytes) {
        UM_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, current_stream()));
      },
  });
}

void synchronize(cudaStream_t stream) {
  ++g_host_syncs;
  UM_CUDA_CHECK(cudaStreamSynchronize(stream));
}

void synchronize(cudaEvent_t event) {
  ++g_host_syncs;
  UM_CUDA_CHECK(cudaEventSynchronize(event));
}

uint64_t host_sync_count() { return g_host_syncs.load(); }

StreamPriorities stream_priorities() {
  StreamPriorities p;
  UM_CUDA_CHECK(cudaDeviceGetStreamPriorityRange(&p.lowest, &p.highest));
  return p;
}

Stream::Stream() { UM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
Stream::Stream(int priority) {
  UM_CUDA_CHECK(cudaStreamCreateWithPriority(&stream_, cudaStreamNonBlocking, priority));
}
Stream::~Stream() {
  if (stream_) cudaStreamDestroy(stream_);
}

Event::Event(bool timing) {
  UM_CUDA_CHECK(cudaEventCreateWithFlags(&event_, timing ? cudaEventDefault : cudaEventDisableTiming));
}
Event::~Event() {
  if (event_) cudaEventDestroy(event_);
}
void Event::record(cudaStream_t stream) {
  // Under stream capture, "external" makes the record an event node of the graph, so a replayed
  // graph times its stages (a plain record would only order the capture internally). Outside
  // capture the flag is refused, so it is used only there.
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
  UM_CUDA_CHECK(cudaStreamIsCapturing(stream, &capturing));
  if (capturing == cudaStreamCaptureStatusActive) {
    UM_CUDA_CHECK(cudaEventRecordWithFlags(event_, stream, cudaEventRecordExternal));
  } else {
    UM_CUDA_CHECK(cudaEventRecord(event_, stream));
  }
}
bool Event::ready() const { return cudaEventQuery(event_) == cudaSuccess; }
float Event::elapsed_ms(const Event& start, const Event& stop) {
  float ms = 0;
  UM_CUDA_CHECK(cudaEventElapsedTime(&ms, start.event_, stop.event_));
  return ms;
}

PinnedBuffer::PinnedBuffer(size_t bytes) : bytes_(bytes) {
  UM_CUDA_CHECK(cudaMallocHost(&data_, bytes));
}
PinnedBuffer::~PinnedBuffer() {
  if (data_) cudaFreeHost(data_);
}

}  // namespace um::cuda
