// File: src/pipeline/quality.cpp
// Purpose: the quality scores defined in quality.h.
#include "pipeline/quality.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <vector>

namespace um::pipeline {
namespace {

// |Sobel| / 8 at (x, y) with replicated borders.
inline float sobel_magnitude(const uint8_t* img, int w, int h, int x, int y) {
  const int xm = std::max(x - 1, 0), xp = std::min(x + 1, w - 1);
  const int ym = std::max(y - 1, 0), yp = std::min(y + 1, h - 1);
  auto at = [&](int xx, int yy) { return static_cast<int>(img[static_cast<size_t>(yy) * w + xx]); };
  const int gx = (at(xp, ym) + 2 * at(xp, y) + at(xp, yp)) - (at(xm, ym) + 2 * at(xm, y) + at(xm, yp));
  const int gy = (at(xm, yp) + 2 * at(x, yp) + at(xp, yp)) - (at(xm, ym) + 2 * at(x, ym) + at(xp, ym));
  return std::sqrt(static_cast<float>(gx * gx + gy * gy)) * 0.125f;
}

}  // namespace

float mask_sharpness(const uint8_t* frame, const uint8_t* w_edge, int width, int height) {
  // Median of g over the frame from a histogram of 1/4-gray-level bins (g <= 255 * sqrt(2)).
  constexpr int kBinsPerLevel = 4;
  constexpr int kBins = 362 * kBinsPerLevel;
  std::vector<uint32_t> hist(kBins, 0);
  double edge_sum = 0;
  size_t edge_n = 0;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const float g = sobel_magnitude(frame, width, height, x, y);
      hist[std::min(kBins - 1, static_cast<int>(g * kBinsPerLevel))]++;
      if (w_edge[static_cast<size_t>(y) * width + x]) {
        edge_sum += g;
        ++edge_n;
      }
    }
  }
  if (edge_n == 0) return 0.0f;
  const double edge_mean = edge_sum / static_cast<double>(edge_n);
  if (edge_mean <= 0) return 0.0f;
  const uint64_t half = (static_cast<uint64_t>(width) * height + 1) / 2;
  uint64_t acc = 0;
  int bin = 0;
  for (; bin < kBins; ++bin) {
    acc += hist[bin];
    if (acc >= half) break;
  }
  const double median = static_cast<double>(bin) / kBinsPerLevel;  // rounded down to 1/4 level
  return static_cast<float>(std::clamp(1.0 - median / edge_mean, 0.0, 1.0));
}

float mask_contrast(const uint8_t* frame, const uint8_t* mask, const uint8_t* w_in,
                    const uint8_t* w_out, int width, int height) {
  const size_t n = static_cast<size_t>(width) * height;
  uint64_t in_sum = 0, in_n = 0, mask_sum = 0, mask_n = 0, out_sum = 0, out_n = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t v = frame[i];
    if (w_in[i]) in_sum += v, ++in_n;
    if (mask[i]) mask_sum += v, ++mask_n;
    if (w_out[i]) out_sum += v, ++out_n;
  }
  if (in_n == 0) in_sum = mask_sum, in_n = mask_n;  // a thin mask that erosion removed
  if (in_n == 0 || out_n == 0) return 0.0f;
  const double mean_in = static_cast<double>(in_sum) / in_n;
  const double mean_out = static_cast<double>(out_sum) / out_n;
  if (mean_in + mean_out <= 0) return 0.0f;
  return static_cast<float>(std::clamp((mean_in - mean_out) / (mean_in + mean_out), 0.0, 1.0));
}

float mask_continuity(const uint8_t* mask, int width, int height) {
  // Flood fill with an explicit stack over 8-neighbours; `seen` marks visited mask pixels.
  const size_t n = static_cast<size_t>(width) * height;
  std::vector<uint8_t> seen(n, 0);
  std::vector<int32_t> stack;
  size_t total = 0, largest = 0;
  for (size_t start = 0; start < n; ++start) {
    if (!mask[start] || seen[start]) continue;
    size_t size = 0;
    seen[start] = 1;
    stack.push_back(static_cast<int32_t>(start));
    while (!stack.empty()) {
      const int32_t p = stack.back();
      stack.pop_back();
      ++size;
      const int px = p % width, py = p / width;
      for (int dy = -1; dy <= 1; ++dy) {
        const int yy = py + dy;
        if (yy < 0 || yy >= height) continue;
        for (int dx = -1; dx <= 1; ++dx) {
          const int xx = px + dx;
          if (xx < 0 || xx >= width) continue;
          const size_t q = static_cast<size_t>(yy) * width + xx;
          if (mask[q] && !seen[q]) {
            seen[q] = 1;
            stack.push_back(static_cast<int32_t>(q));
          }
        }
      }
    }
    total += size;
    largest = std::max(largest, size);
  }
  return total == 0 ? 0.0f : static_cast<float>(static_cast<double>(largest) / total);
}

float shifted_mask_iou(const uint8_t* mask, const uint8_t* prev, int width, int height,
                       int shift_x, int shift_y) {
  // prev moved by (shift_x, shift_y): pixel (x, y) of the moved mask is prev(x - sx, y - sy);
  // what leaves the frame is dropped.
  uint64_t a = 0, b = 0, inter = 0;
  for (int y = 0; y < height; ++y) {
    const int py = y - shift_y;
    const bool row_in = py >= 0 && py < height;
    for (int x = 0; x < width; ++x) {
      const int px = x - shift_x;
      const bool m = mask[static_cast<size_t>(y) * width + x] != 0;
      const bool p = row_in && px >= 0 && px < width && prev[static_cast<size_t>(py) * width + px];
      a += m;
      b += p;
      inter += m && p;
    }
  }
  const uint64_t uni = a + b - inter;
  return uni == 0 ? -1.0f : static_cast<float>(static_cast<double>(inter) / uni);
}

QualityScores compute_quality(const QualityInputs& in) {
  QualityScores q;
  q.sharpness = mask_sharpness(in.frame, in.w_edge, in.width, in.height);
  q.contrast = mask_contrast(in.frame, in.mask, in.w_in, in.w_out, in.width, in.height);
  q.continuity = mask_continuity(in.mask, in.width, in.height);
  float sum = q.sharpness + q.contrast;
  int terms = 2;
  if (in.prev_mask) {
    q.mask_stability =
        shifted_mask_iou(in.mask, in.prev_mask, in.width, in.height, in.shift_x, in.shift_y);
  }
  if (in.tracker) {
    q.stability_valid = in.tracker->valid;
    q.stability = in.tracker->valid ? in.tracker->stability : 0.0f;
  } else if (q.mask_stability >= 0) {
    q.stability_valid = true;
    q.stability = q.mask_stability;
  }
  if (q.stability_valid) {
    sum += q.stability;
    ++terms;
  }
  q.combined = sum / static_cast<float>(terms);
  return q;
}

}  // namespace um::pipeline
