// File: src/pipeline/quality_stats_pixel.h
// Purpose: the per-pixel arithmetic of QualityPixelStats (quality_stats.h), written ONCE for
// the CPU (quality_stats.cpp) and the GPU (quality_stats_cuda.cu) so that both give the same
// bits. The float steps are each correctly rounded on both sides: the int -> float conversion
// is exact (gx^2 + gy^2 <= 2 * 1020^2 < 2^24), sqrt is IEEE round-to-nearest (std::sqrt on
// x86-64 SSE; __fsqrt_rn on the GPU, whatever the nvcc math flags), and the products by 1/8,
// 4 and 2^16 are exact (powers of two) and written as intrinsics on the GPU so that nvcc cannot
// contract them into an FMA with something else.
// Usage: include from .cpp or .cu; everything is inline / __host__ __device__.
#pragma once

#include <cmath>
#include <cstdint>

#include "pipeline/quality_stats.h"

#if defined(__CUDACC__)
#define UM_QS_HD __host__ __device__ __forceinline__
#else
#define UM_QS_HD inline
#endif

namespace um::pipeline::qs {

// g = sqrt(gx^2 + gy^2) / 8 from the squared Sobel magnitude (an exact integer).
UM_QS_HD float gradient_from_sq(int32_t sq) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(__fsqrt_rn(__int2float_rn(sq)), 0.125f);
#else
  return std::sqrt(static_cast<float>(sq)) * 0.125f;
#endif
}

// The histogram bin of g: floor(4 g), capped at the last bin (g >= 0).
UM_QS_HD int gradient_bin(float g) {
#if defined(__CUDA_ARCH__)
  const int b = __float2int_rz(__fmul_rn(g, static_cast<float>(kGradientBinsPerLevel)));
#else
  const int b = static_cast<int>(g * static_cast<float>(kGradientBinsPerLevel));
#endif
  return b < kGradientBins - 1 ? b : kGradientBins - 1;
}

// round_half_even(g * 2^16) (g >= 0; the product is exact, < 2^25).
UM_QS_HD uint64_t gradient_q16(float g) {
  constexpr float kScale = static_cast<float>(1u << kEdgeSumFracBits);
#if defined(__CUDA_ARCH__)
  return static_cast<uint64_t>(__float2ull_rn(__fmul_rn(g, kScale)));
#else
  return static_cast<uint64_t>(std::nearbyint(g * kScale));
#endif
}

// gx^2 + gy^2 of the 3x3 Sobel at a pixel from its clamped neighbourhood: rows `up`, `mid`,
// `down` (already clamped), columns xm <= x <= xp (already clamped).
UM_QS_HD int32_t sobel_sq(const uint8_t* up, const uint8_t* mid, const uint8_t* down, int xm,
                          int x, int xp) {
  const int32_t gx = (up[xp] + 2 * mid[xp] + down[xp]) - (up[xm] + 2 * mid[xm] + down[xm]);
  const int32_t gy = (down[xm] + 2 * down[x] + down[xp]) - (up[xm] + 2 * up[x] + up[xp]);
  return gx * gx + gy * gy;
}

}  // namespace um::pipeline::qs

#undef UM_QS_HD
