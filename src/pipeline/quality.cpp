// File: src/pipeline/quality.cpp
// Purpose: the quality scores defined in quality.h (the per-pixel part of sharpness and
// contrast is in quality_stats.cpp).
#include "pipeline/quality.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

namespace um::pipeline {

float mask_sharpness(const uint8_t* frame, const uint8_t* w_edge, int width, int height) {
  QualityPixelStats s{};
  accumulate_gradient_stats(frame, w_edge, width, height, s);
  return sharpness_from_stats(s);
}

float mask_contrast(const uint8_t* frame, const uint8_t* mask, const uint8_t* w_in,
                    const uint8_t* w_out, int width, int height) {
  QualityPixelStats s{};
  accumulate_intensity_stats(frame, mask, w_in, w_out, width, height, s);
  return contrast_from_stats(s);
}

float mask_continuity(const uint8_t* mask, int width, int height) {
  // Flood fill with an explicit stack over 8-neighbours; `seen` marks visited mask pixels. The
  // buffers are per-thread and reused (no allocation per frame once warm), and the scan for
  // the next unvisited mask pixel skips empty 8-byte words (a mask is mostly background).
  const size_t n = static_cast<size_t>(width) * height;
  thread_local std::vector<uint8_t> seen;
  thread_local std::vector<int32_t> stack;
  seen.assign(n, 0);
  stack.clear();
  size_t total = 0, largest = 0;
  for (size_t start = 0; start < n; ++start) {
    if (start + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, mask + start, sizeof(word));
      if (word == 0) {
        start += 7;  // + 1 by the loop
        continue;
      }
    }
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
  // what leaves the frame is dropped. Row by row: the moved row covers x in [x0, x1) only, and
  // the inner loops are branch-free byte counts the compiler vectorises (per-row 32-bit sums).
  uint64_t a = 0, b = 0, inter = 0;
  const int x0 = std::clamp(shift_x, 0, width), x1 = std::clamp(width + shift_x, 0, width);
  for (int y = 0; y < height; ++y) {
    const uint8_t* m = mask + static_cast<size_t>(y) * width;
    uint32_t ra = 0;
    for (int x = 0; x < width; ++x) ra += m[x] != 0;
    a += ra;
    const int py = y - shift_y;
    if (py < 0 || py >= height || x0 >= x1) continue;
    const uint8_t* p = prev + static_cast<size_t>(py) * width;
    uint32_t rb = 0, ri = 0;
    for (int x = x0; x < x1; ++x) {
      const uint32_t pv = p[x - shift_x] != 0;
      rb += pv;
      ri += pv & static_cast<uint32_t>(m[x] != 0);
    }
    b += rb;
    inter += ri;
  }
  const uint64_t uni = a + b - inter;
  return uni == 0 ? -1.0f : static_cast<float>(static_cast<double>(inter) / uni);
}

QualityScores compute_quality(const QualityInputs& in) {
  QualityScores q;
  if (in.precomputed) {
    q.sharpness = sharpness_from_stats(*in.precomputed);
    q.contrast = contrast_from_stats(*in.precomputed);
  } else {
    QualityPixelStats s{};
    compute_quality_stats(in.frame, in.mask, in.w_in, in.w_edge, in.w_out, in.width, in.height,
                          s);
    q.sharpness = sharpness_from_stats(s);
    q.contrast = contrast_from_stats(s);
  }
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
