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

template <bool kMin>
inline uint8_t pick(uint8_t a, uint8_t b) {
  return kMin ? std::min(a, b) : std::max(a, b);
}

// Horizontal min/max over [x - r, x + r] of one row of 0/1 bytes. Samples outside the row are
// skipped (same as clamping the index, for min/max), which is the border rule of the header.
// The interior loop has no bounds checks, so the compiler vectorises it.
template <bool kMin>
void row_pass(const uint8_t* in, uint8_t* out, int w, int r) {
  const int lo_end = std::min(r, w), hi_start = std::max(lo_end, w - r);
  auto edge = [&](int x) {
    const int a = std::max(0, x - r), b = std::min(w - 1, x + r);
    uint8_t v = in[a];
    for (int j = a + 1; j <= b; ++j) v = pick<kMin>(v, in[j]);
    out[x] = v;
  };
  for (int x = 0; x < lo_end; ++x) edge(x);
  if (r == 1) {
    for (int x = lo_end; x < hi_start; ++x) {
      out[x] = pick<kMin>(pick<kMin>(in[x - 1], in[x]), in[x + 1]);
    }
  } else {
    for (int x = lo_end; x < hi_start; ++x) {
      uint8_t v = in[x - r];
      for (int j = -r + 1; j <= r; ++j) v = pick<kMin>(v, in[x + j]);
      out[x] = v;
    }
  }
  for (int x = hi_start; x < w; ++x) edge(x);
}

// The full square: row pass into `tmp`, then for each output row the element-wise min/max of
// the 2r+1 (clamped) rows of `tmp`, a whole row at a time (row-major friendly, vectorises).
template <bool kMin>
void square_pass(const uint8_t* bin, uint8_t* tmp, int w, int h, int r, uint8_t* out) {
  for (int y = 0; y < h; ++y) {
    row_pass<kMin>(bin + static_cast<size_t>(y) * w, tmp + static_cast<size_t>(y) * w, w, r);
  }
  for (int y = 0; y < h; ++y) {
    const int lo = std::max(0, y - r), hi = std::min(h - 1, y + r);
    uint8_t* o = out + static_cast<size_t>(y) * w;
    std::copy_n(tmp + static_cast<size_t>(lo) * w, w, o);
    for (int yy = lo + 1; yy <= hi; ++yy) {
      const uint8_t* s = tmp + static_cast<size_t>(yy) * w;
      for (int x = 0; x < w; ++x) o[x] = pick<kMin>(o[x], s[x]);
    }
  }
}

// Per-thread scratch (binarised mask + one row-pass buffer), reused across frames so the
// per-frame path does not allocate once the largest frame size has been seen.
struct Scratch {
  std::vector<uint8_t> bin, tmp;
  void fit(size_t n) {
    if (bin.size() < n) bin.resize(n);
    if (tmp.size() < n) tmp.resize(n);
  }
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

template <bool kMin>
void morph_square(const uint8_t* in, int w, int h, int k, uint8_t* out) {
  const size_t n = static_cast<size_t>(w) * h;
  Scratch& s = scratch();
  s.fit(n);
  for (size_t i = 0; i < n; ++i) s.bin[i] = in[i] != 0;
  square_pass<kMin>(s.bin.data(), s.tmp.data(), w, h, k / 2, out);
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
  Scratch& s = scratch();
  s.fit(n);
  uint8_t* bin = s.bin.data();
  for (size_t i = 0; i < n; ++i) bin[i] = mask[i] != 0;
  // w_edge temporarily holds dilate3 and w_out dilate5; then they become the differences.
  square_pass<true>(bin, s.tmp.data(), width, height, 1, w_in);
  square_pass<false>(bin, s.tmp.data(), width, height, 1, w_edge);
  square_pass<false>(bin, s.tmp.data(), width, height, 2, w_out);
  for (size_t i = 0; i < n; ++i) {
    w_edge[i] = static_cast<uint8_t>(w_edge[i] - w_in[i]);  // erosion <= m <= dilation
    w_out[i] = static_cast<uint8_t>(w_out[i] - bin[i]);
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
