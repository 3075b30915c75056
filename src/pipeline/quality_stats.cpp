// File: src/pipeline/quality_stats.cpp
// Purpose: the CPU computation of QualityPixelStats and the scores derived from it
// (quality_stats.h). The per-pixel arithmetic is shared with the GPU (quality_stats_pixel.h).
#include "pipeline/quality_stats.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "pipeline/quality_stats_pixel.h"

namespace um::pipeline {

void accumulate_gradient_stats(const uint8_t* frame, const uint8_t* w_edge, int width,
                               int height, QualityPixelStats& out) {
  uint64_t edge_sum = 0, edge_n = 0;
  for (int y = 0; y < height; ++y) {
    // Replicated borders: clamped neighbour rows and columns.
    const uint8_t* up = frame + static_cast<size_t>(std::max(y - 1, 0)) * width;
    const uint8_t* mid = frame + static_cast<size_t>(y) * width;
    const uint8_t* down = frame + static_cast<size_t>(std::min(y + 1, height - 1)) * width;
    const uint8_t* edge = w_edge + static_cast<size_t>(y) * width;
    for (int x = 0; x < width; ++x) {
      const int xm = std::max(x - 1, 0), xp = std::min(x + 1, width - 1);
      const float g = qs::gradient_from_sq(qs::sobel_sq(up, mid, down, xm, x, xp));
      out.grad_hist[qs::gradient_bin(g)]++;
      if (edge[x]) {
        edge_sum += qs::gradient_q16(g);
        ++edge_n;
      }
    }
  }
  out.edge_sum_q16 += edge_sum;
  out.edge_n += edge_n;
}

void accumulate_intensity_stats(const uint8_t* frame, const uint8_t* mask, const uint8_t* w_in,
                                const uint8_t* w_out, int width, int height,
                                QualityPixelStats& out) {
  const size_t n = static_cast<size_t>(width) * height;
  uint64_t in_sum = 0, in_n = 0, mask_sum = 0, mask_n = 0, out_sum = 0, out_n = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t v = frame[i];
    if (w_in[i]) in_sum += v, ++in_n;
    if (mask[i]) mask_sum += v, ++mask_n;
    if (w_out[i]) out_sum += v, ++out_n;
  }
  out.in_sum += in_sum;
  out.in_n += in_n;
  out.mask_sum += mask_sum;
  out.mask_n += mask_n;
  out.out_sum += out_sum;
  out.out_n += out_n;
}

void compute_quality_stats(const uint8_t* frame, const uint8_t* mask, const uint8_t* w_in,
                           const uint8_t* w_edge, const uint8_t* w_out, int width, int height,
                           QualityPixelStats& out) {
  std::memset(&out, 0, sizeof(out));
  accumulate_gradient_stats(frame, w_edge, width, height, out);
  accumulate_intensity_stats(frame, mask, w_in, w_out, width, height, out);
}

float sharpness_from_stats(const QualityPixelStats& s) {
  if (s.edge_n == 0 || s.edge_sum_q16 == 0) return 0.0f;
  const double edge_mean = static_cast<double>(s.edge_sum_q16) /
                           static_cast<double>(1u << kEdgeSumFracBits) /
                           static_cast<double>(s.edge_n);
  // Median of g over the frame (rounded down to its 1/4-level bin): the first bin where the
  // running count reaches half of the pixels.
  uint64_t total = 0;
  for (int b = 0; b < kGradientBins; ++b) total += s.grad_hist[b];
  const uint64_t half = (total + 1) / 2;
  uint64_t acc = 0;
  int bin = 0;
  for (; bin < kGradientBins; ++bin) {
    acc += s.grad_hist[bin];
    if (acc >= half) break;
  }
  const double median = static_cast<double>(bin) / kGradientBinsPerLevel;
  return static_cast<float>(std::clamp(1.0 - median / edge_mean, 0.0, 1.0));
}

float contrast_from_stats(const QualityPixelStats& s) {
  uint64_t in_sum = s.in_sum, in_n = s.in_n;
  if (in_n == 0) in_sum = s.mask_sum, in_n = s.mask_n;  // a thin mask that erosion removed
  if (in_n == 0 || s.out_n == 0) return 0.0f;
  const double mean_in = static_cast<double>(in_sum) / static_cast<double>(in_n);
  const double mean_out = static_cast<double>(s.out_sum) / static_cast<double>(s.out_n);
  if (mean_in + mean_out <= 0) return 0.0f;
  return static_cast<float>(std::clamp((mean_in - mean_out) / (mean_in + mean_out), 0.0, 1.0));
}

}  // namespace um::pipeline
