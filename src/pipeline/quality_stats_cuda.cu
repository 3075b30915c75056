// File: src/pipeline/quality_stats_cuda.cu
// Purpose: the kernel of quality_stats_cuda.h (see there for the design).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/cuda/cuda_check.h"
#include "core/cuda/stream_context.h"
#include "core/status.h"
#include "pipeline/quality_stats_cuda.h"
#include "pipeline/quality_stats_pixel.h"

namespace um::pipeline {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxBlocks = 512;
constexpr int kPixelsPerThread = 4;  // at least, before the grid is capped

// sums_out: the eight consecutive uint64 of QualityPixelStats, edge_sum_q16 .. out_n.
__global__ void __launch_bounds__(kThreads)
    quality_stats_kernel(const uint8_t* __restrict__ frame, const uint8_t* __restrict__ mask,
                         const uint8_t* __restrict__ w_in, const uint8_t* __restrict__ w_edge,
                         const uint8_t* __restrict__ w_out, int width, int height,
                         uint32_t* __restrict__ hist_out,
                         unsigned long long* __restrict__ sums_out) {
  __shared__ uint32_t hist[kGradientBins];
  __shared__ unsigned long long partial[kQualityStatsSums][kWarps];
  for (int i = static_cast<int>(threadIdx.x); i < kGradientBins; i += kThreads) hist[i] = 0;
  __syncthreads();

  unsigned long long acc[kQualityStatsSums];
#pragma unroll
  for (int k = 0; k < kQualityStatsSums; ++k) acc[k] = 0;
  const size_t n = static_cast<size_t>(width) * static_cast<size_t>(height);
  const size_t stride = static_cast<size_t>(gridDim.x) * kThreads;
  for (size_t p = static_cast<size_t>(blockIdx.x) * kThreads + threadIdx.x; p < n; p += stride) {
    const int y = static_cast<int>(p / static_cast<size_t>(width));
    const int x = static_cast<int>(p - static_cast<size_t>(y) * width);
    // Replicated borders: clamped neighbour rows and columns (as on the CPU).
    const uint8_t* up = frame + static_cast<size_t>(max(y - 1, 0)) * width;
    const uint8_t* mid = frame + static_cast<size_t>(y) * width;
    const uint8_t* down = frame + static_cast<size_t>(min(y + 1, height - 1)) * width;
    const int xm = max(x - 1, 0), xp = min(x + 1, width - 1);
    const float g = qs::gradient_from_sq(qs::sobel_sq(up, mid, down, xm, x, xp));
    atomicAdd(&hist[qs::gradient_bin(g)], 1u);
    const unsigned long long v = frame[p];
    if (w_edge[p]) {
      acc[0] += static_cast<unsigned long long>(qs::gradient_q16(g));
      acc[1] += 1;
    }
    if (w_in[p]) {
      acc[2] += v;
      acc[3] += 1;
    }
    if (mask[p]) {
      acc[4] += v;
      acc[5] += 1;
    }
    if (w_out[p]) {
      acc[6] += v;
      acc[7] += 1;
    }
  }

  // Block reduction of the sums: warp shuffles, one partial per warp, then thread k adds the
  // block's total of sum k to the device struct.
  const int lane = static_cast<int>(threadIdx.x) & 31, warp = static_cast<int>(threadIdx.x) >> 5;
#pragma unroll
  for (int k = 0; k < kQualityStatsSums; ++k) {
    unsigned long long s = acc[k];
    for (int off = 16; off > 0; off >>= 1) s += __shfl_down_sync(0xffffffffu, s, off);
    if (lane == 0) partial[k][warp] = s;
  }
  __syncthreads();  // also orders every shared-histogram atomic before the flush below
  if (threadIdx.x < kQualityStatsSums) {
    unsigned long long s = 0;
    for (int w = 0; w < kWarps; ++w) s += partial[threadIdx.x][w];
    if (s != 0) atomicAdd(&sums_out[threadIdx.x], s);
  }
  for (int i = static_cast<int>(threadIdx.x); i < kGradientBins; i += kThreads) {
    const uint32_t c = hist[i];
    if (c != 0) atomicAdd(&hist_out[i], c);
  }
}

void check_image(const Tensor& t, const char* name) {
  if (!t.defined() || !t.device().is_cuda() || t.dtype() != DType::kU8 || t.dim() != 2 ||
      !t.is_contiguous() || t.size(0) < 1 || t.size(1) < 1) {
    throw Error(invalid_argument(std::string("quality stats (cuda): ") + name +
                                 " must be a contiguous CUDA uint8 [H, W] tensor, got " +
                                 (t.defined() ? t.str() : std::string("an undefined tensor"))));
  }
}

}  // namespace

Tensor make_quality_stats_buffer_cuda() {
  return Tensor::empty({static_cast<int64_t>(sizeof(QualityPixelStats))}, DType::kU8,
                       Device::cuda());
}

void compute_quality_stats_cuda(const Tensor& frame_u8, const Tensor& mask_u8,
                                const Tensor& w_in, const Tensor& w_edge, const Tensor& w_out,
                                Tensor& stats) {
  check_image(frame_u8, "frame");
  check_image(mask_u8, "mask");
  check_image(w_in, "w_in");
  check_image(w_edge, "w_edge");
  check_image(w_out, "w_out");
  for (const Tensor* t : {&mask_u8, &w_in, &w_edge, &w_out}) {
    if (t->shape() != frame_u8.shape()) {
      throw Error(invalid_argument("quality stats (cuda): " + t->str() +
                                   " does not match the frame " + frame_u8.str()));
    }
  }
  if (!stats.defined() || !stats.device().is_cuda() || stats.dtype() != DType::kU8 ||
      !stats.is_contiguous() ||
      stats.numel() != static_cast<int64_t>(sizeof(QualityPixelStats)) ||
      reinterpret_cast<uintptr_t>(stats.raw_data()) % alignof(uint64_t) != 0) {
    throw Error(invalid_argument(
        "quality stats (cuda): the output must be a contiguous, 8-byte aligned CUDA uint8 "
        "buffer of " + std::to_string(sizeof(QualityPixelStats)) + " bytes "
        "(make_quality_stats_buffer_cuda), got " +
        (stats.defined() ? stats.str() : std::string("an undefined tensor"))));
  }
  const int64_t h64 = frame_u8.size(0), w64 = frame_u8.size(1);
  if (h64 > (1 << 16) || w64 > (1 << 16)) {  // sums and int indices stay far from overflow
    throw Error(invalid_argument("quality stats (cuda): frame " + frame_u8.str() + " too large"));
  }
  const int height = static_cast<int>(h64), width = static_cast<int>(w64);
  const size_t n = static_cast<size_t>(width) * height;
  const int blocks = static_cast<int>(std::clamp<size_t>(
      (n + kThreads * kPixelsPerThread - 1) / (kThreads * kPixelsPerThread), 1, kMaxBlocks));

  cudaStream_t stream = cuda::current_stream();
  auto* base = static_cast<unsigned char*>(stats.raw_data());
  UM_CUDA_CHECK(cudaMemsetAsync(base, 0, sizeof(QualityPixelStats), stream));
  quality_stats_kernel<<<blocks, kThreads, 0, stream>>>(
      static_cast<const uint8_t*>(frame_u8.raw_data()),
      static_cast<const uint8_t*>(mask_u8.raw_data()),
      static_cast<const uint8_t*>(w_in.raw_data()), static_cast<const uint8_t*>(w_edge.raw_data()),
      static_cast<const uint8_t*>(w_out.raw_data()), width, height,
      reinterpret_cast<uint32_t*>(base + offsetof(QualityPixelStats, grad_hist)),
      reinterpret_cast<unsigned long long*>(base + offsetof(QualityPixelStats, edge_sum_q16)));
  UM_CUDA_CHECK_LAST("quality_stats_kernel");
}

}  // namespace um::pipeline
