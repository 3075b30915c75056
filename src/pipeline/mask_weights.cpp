// File: src/pipeline/mask_weights.cpp
// Purpose: separable square erosion/dilation and the W_in/W_edge/W_out maps (mask_weights.h).
#include "pipeline/mask_weights.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "core/status.h"

namespace um::pipeline {
namespace {

// Sliding min (kMin) or max over a window of radius `r` along one line of `n` samples spaced
// `stride` apart; samples outside [0, n) are skipped (clamping the index is equivalent for
// min/max, which is what the border semantics ask for).
template <bool kMin>
void line_pass(const uint8_t* in, uint8_t* out, int n, ptrdiff_t stride, int r) {
  for (int i = 0; i < n; ++i) {
    const int lo = std::max(0, i - r), hi = std::min(n - 1, i + r);
    uint8_t v = in[lo * stride];
    for (int j = lo + 1; j <= hi; ++j) {
      const uint8_t s = in[j * stride];
      v = kMin ? std::min(v, s) : std::max(v, s);
    }
    out[i * stride] = v;
  }
}

// Row pass then column pass. The column pass walks whole rows at a time (row-major friendly):
// for each output row it combines the 2r+1 input rows element-wise, which vectorises.
template <bool kMin>
void morph_square(const uint8_t* in, int w, int h, int k, uint8_t* out) {
  const int r = k / 2;
  const size_t n = static_cast<size_t>(w) * h;
  std::vector<uint8_t> bin(n), tmp(n);
  for (size_t i = 0; i < n; ++i) bin[i] = in[i] != 0;
  for (int y = 0; y < h; ++y) {
    line_pass<kMin>(&bin[static_cast<size_t>(y) * w], &tmp[static_cast<size_t>(y) * w], w, 1, r);
  }
  for (int y = 0; y < h; ++y) {
    const int lo = std::max(0, y - r), hi = std::min(h - 1, y + r);
    uint8_t* o = out + static_cast<size_t>(y) * w;
    std::copy_n(&tmp[static_cast<size_t>(lo) * w], w, o);
    for (int yy = lo + 1; yy <= hi; ++yy) {
      const uint8_t* s = &tmp[static_cast<size_t>(yy) * w];
      for (int x = 0; x < w; ++x) o[x] = kMin ? std::min(o[x], s[x]) : std::max(o[x], s[x]);
    }
  }
}

}  // namespace

void erode_square(const uint8_t* in, int width, int height, int k, uint8_t* out) {
  morph_square<true>(in, width, height, k, out);
}

void dilate_square(const uint8_t* in, int width, int height, int k, uint8_t* out) {
  morph_square<false>(in, width, height, k, out);
}

void compute_mask_weights(const uint8_t* mask, int width, int height, uint8_t* w_in,
                          uint8_t* w_edge, uint8_t* w_out) {
  const size_t n = static_cast<size_t>(width) * height;
  // w_edge temporarily holds dilate3 and w_out dilate5; then they become the differences.
  erode_square(mask, width, height, 3, w_in);
  dilate_square(mask, width, height, 3, w_edge);
  dilate_square(mask, width, height, 5, w_out);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t m = mask[i] != 0;
    w_edge[i] = static_cast<uint8_t>(w_edge[i] - w_in[i]);  // erosion <= m <= dilation
    w_out[i] = static_cast<uint8_t>(w_out[i] - m);
  }
}

MaskWeights compute_mask_weights(const std::vector<uint8_t>& mask, int width, int height) {
  if (width < 1 || height < 1 ||
      mask.size() != static_cast<size_t>(width) * static_cast<size_t>(height)) {
    throw Error(invalid_argument("mask weights: mask of " + std::to_string(mask.size()) +
                                 " bytes does not match " + std::to_string(width) + "x" +
                                 std::to_string(height)));
  }
  const size_t n = static_cast<size_t>(width) * height;
  MaskWeights w;
  w.w_in.resize(n);
  w.w_edge.resize(n);
  w.w_out.resize(n);
  compute_mask_weights(mask.data(), width, height, w.w_in.data(), w.w_edge.data(),
                       w.w_out.data());
  return w;
}

}  // namespace um::pipeline
