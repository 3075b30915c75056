// File: src/pipeline/mask_weights_cuda.cu
// Purpose: the weight-map kernel of mask_weights_cuda.h (see there for the design).
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "core/cuda/cuda_check.h"
#include "core/cuda/stream_context.h"
#include "core/status.h"
#include "pipeline/mask_weights_cuda.h"

namespace um::pipeline {
namespace {

constexpr int kTileW = 32;
constexpr int kTileH = 8;
constexpr int kHalo = 2;  // the 5x5 dilation's radius
constexpr int kSharedW = kTileW + 2 * kHalo;
constexpr int kSharedH = kTileH + 2 * kHalo;

__global__ void mask_weights_kernel(const uint8_t* __restrict__ mask, int width, int height,
                                    uint8_t* __restrict__ w_in, uint8_t* __restrict__ w_edge,
                                    uint8_t* __restrict__ w_out) {
  __shared__ uint8_t tile[kSharedH][kSharedW];
  // Tile origin in frame coordinates (halo included; may be negative).
  const int ox = static_cast<int>(blockIdx.x) * kTileW - kHalo;
  const int oy = static_cast<int>(blockIdx.y) * kTileH - kHalo;
  const int tid = static_cast<int>(threadIdx.y) * kTileW + static_cast<int>(threadIdx.x);
  for (int i = tid; i < kSharedH * kSharedW; i += kTileW * kTileH) {
    const int ty = i / kSharedW, tx = i % kSharedW;
    const int gx = min(max(ox + tx, 0), width - 1);
    const int gy = min(max(oy + ty, 0), height - 1);
    tile[ty][tx] = mask[static_cast<size_t>(gy) * width + gx] != 0 ? 1 : 0;
  }
  __syncthreads();

  const int x = static_cast<int>(blockIdx.x) * kTileW + static_cast<int>(threadIdx.x);
  const int y = static_cast<int>(blockIdx.y) * kTileH + static_cast<int>(threadIdx.y);
  if (x >= width || y >= height) return;
  const int cx = static_cast<int>(threadIdx.x) + kHalo, cy = static_cast<int>(threadIdx.y) + kHalo;
  uint8_t e3 = 1, d3 = 0, d5 = 0;
#pragma unroll
  for (int dy = -2; dy <= 2; ++dy) {
#pragma unroll
    for (int dx = -2; dx <= 2; ++dx) {
      const uint8_t v = tile[cy + dy][cx + dx];
      d5 |= v;
      if (dy >= -1 && dy <= 1 && dx >= -1 && dx <= 1) {
        e3 &= v;
        d3 |= v;
      }
    }
  }
  const size_t i = static_cast<size_t>(y) * width + x;
  w_in[i] = e3;
  w_edge[i] = static_cast<uint8_t>(d3 - e3);           // erode3 <= dilate3
  w_out[i] = static_cast<uint8_t>(d5 - tile[cy][cx]);  // m <= dilate5
}

void check_map(const Tensor& t, const char* name) {
  if (!t.defined() || !t.device().is_cuda() || t.dtype() != DType::kU8 || t.dim() != 2 ||
      !t.is_contiguous() || t.size(0) < 1 || t.size(1) < 1) {
    throw Error(invalid_argument(std::string("mask weights (cuda): ") + name +
                                 " must be a contiguous CUDA uint8 [H, W] tensor, got " +
                                 (t.defined() ? t.str() : std::string("an undefined tensor"))));
  }
}

}  // namespace

void compute_mask_weights_cuda(const Tensor& mask_u8, Tensor& w_in, Tensor& w_edge,
                               Tensor& w_out) {
  check_map(mask_u8, "mask");
  check_map(w_in, "w_in");
  check_map(w_edge, "w_edge");
  check_map(w_out, "w_out");
  const Tensor* outs[] = {&w_in, &w_edge, &w_out};
  for (const Tensor* o : outs) {
    if (o->shape() != mask_u8.shape()) {
      throw Error(invalid_argument("mask weights (cuda): output " + o->str() +
                                   " does not match the mask " + mask_u8.str()));
    }
    if (o->raw_data() == mask_u8.raw_data()) {
      throw Error(invalid_argument("mask weights (cuda): an output aliases the mask"));
    }
  }
  if (w_in.raw_data() == w_edge.raw_data() || w_in.raw_data() == w_out.raw_data() ||
      w_edge.raw_data() == w_out.raw_data()) {
    throw Error(invalid_argument("mask weights (cuda): the three outputs must be distinct"));
  }
  const int64_t h64 = mask_u8.size(0), w64 = mask_u8.size(1);
  if (h64 > (1 << 16) || w64 > (1 << 16)) {  // keeps the grid within its limits
    throw Error(invalid_argument("mask weights (cuda): mask " + mask_u8.str() + " too large"));
  }
  const int height = static_cast<int>(h64), width = static_cast<int>(w64);
  const dim3 block(kTileW, kTileH);
  const dim3 grid((width + kTileW - 1) / kTileW, (height + kTileH - 1) / kTileH);
  mask_weights_kernel<<<grid, block, 0, cuda::current_stream()>>>(
      static_cast<const uint8_t*>(mask_u8.raw_data()), width, height,
      static_cast<uint8_t*>(w_in.raw_data()), static_cast<uint8_t*>(w_edge.raw_data()),
      static_cast<uint8_t*>(w_out.raw_data()));
  UM_CUDA_CHECK_LAST("mask_weights_kernel");
}

}  // namespace um::pipeline
