// File: src/pipeline/quality_stats.h
// Purpose: the per-pixel part of the sharpness and contrast scores (quality.h), split out so
// that it can be computed either on the CPU or inside the GPU frame graph, with the SAME
// result: QualityPixelStats is a plain struct of integer counts and sums, and both backends
// fill it bit-identically (integers only; the gradient's float steps use correctly rounded
// operations on both sides, see quality_stats_pixel.h). The scores are then derived from the
// struct on the host (sharpness_from_stats, contrast_from_stats), whoever made it.
//
// Contents, for the gray frame I and the maps of mask_weights.h (every map: nonzero = 1):
//   grad_hist[b]  number of frame pixels whose g = |Sobel(I)| / 8 (replicated borders) falls
//                 in bin b = min(kBins - 1, floor(4 g)), i.e. 1/4-gray-level bins
//   edge_sum_q16  sum over W_edge of round_half_even(g * 2^16): the edge gradient in FIXED
//                 POINT, so that the sum does not depend on the order of the additions (GPU
//                 atomics) and the two backends agree exactly
//   edge_n        |W_edge|
//   in_sum/in_n, mask_sum/mask_n, out_sum/out_n: sum of I and pixel count over W_in, the mask
//                 and W_out
// The struct is trivially copyable (a device buffer is read back into it with one memcpy) and
// compares with ==.
//
// Usage (CPU):
//   QualityPixelStats s{};
//   compute_quality_stats(frame, mask, w_in, w_edge, w_out, width, height, s);
//   float sharp = sharpness_from_stats(s), contrast = contrast_from_stats(s);
// GPU: quality_stats_cuda.h writes the same struct into a device buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace um::pipeline {

// 1/4-gray-level bins of g; g <= 255 * 4 * sqrt(2) / 8 < 181, so 362 levels are ample.
inline constexpr int kGradientBinsPerLevel = 4;
inline constexpr int kGradientBins = 362 * kGradientBinsPerLevel;
// edge_sum_q16 holds g * 2^kEdgeSumFracBits per pixel (rounded to nearest, ties to even).
inline constexpr int kEdgeSumFracBits = 16;

struct QualityPixelStats {
  static constexpr int kBins = kGradientBins;
  uint32_t grad_hist[kBins];
  // The eight sums, consecutive 64-bit words in this order (the GPU kernel adds to them as an
  // array; static_asserts below pin the layout).
  uint64_t edge_sum_q16;
  uint64_t edge_n;
  uint64_t in_sum;
  uint64_t in_n;
  uint64_t mask_sum;
  uint64_t mask_n;
  uint64_t out_sum;
  uint64_t out_n;

  bool operator==(const QualityPixelStats&) const = default;
};

static_assert(std::is_trivially_copyable_v<QualityPixelStats>);
static_assert(std::is_standard_layout_v<QualityPixelStats>);
static_assert(offsetof(QualityPixelStats, edge_sum_q16) % 8 == 0);
static_assert(offsetof(QualityPixelStats, out_n) - offsetof(QualityPixelStats, edge_sum_q16) ==
              7 * sizeof(uint64_t));
static_assert(sizeof(QualityPixelStats) ==
              offsetof(QualityPixelStats, edge_sum_q16) + 8 * sizeof(uint64_t));
inline constexpr int kQualityStatsSums = 8;  // edge_sum_q16 .. out_n

// CPU: overwrites `out` with the stats of the frame and maps (all width*height bytes).
// width, height >= 1; no allocation.
void compute_quality_stats(const uint8_t* frame, const uint8_t* mask, const uint8_t* w_in,
                           const uint8_t* w_edge, const uint8_t* w_out, int width, int height,
                           QualityPixelStats& out);
// The two halves on their own (they touch only their fields; `out` must be zeroed first):
// the gradient histogram + the W_edge sums, and the intensity sums.
void accumulate_gradient_stats(const uint8_t* frame, const uint8_t* w_edge, int width,
                               int height, QualityPixelStats& out);
void accumulate_intensity_stats(const uint8_t* frame, const uint8_t* mask, const uint8_t* w_in,
                                const uint8_t* w_out, int width, int height,
                                QualityPixelStats& out);

// The scores of quality.h from the stats.
float sharpness_from_stats(const QualityPixelStats& s);
float contrast_from_stats(const QualityPixelStats& s);

}  // namespace um::pipeline
