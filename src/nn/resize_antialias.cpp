// File: src/nn/resize_antialias.cpp
// Purpose: Pillow-exact antialiased bilinear resize of 8-bit images (see resize_antialias.h).
// Hand-written because no Debian library reproduces Pillow's fixed-point rounding (OpenCV's
// INTER_LINEAR does not antialias and INTER_AREA uses another filter); the algorithm follows
// Pillow's documented separable resampling (libImaging/Resample.c semantics): per output sample,
// a window [xmin, xmin + count) of input samples with normalised triangle weights.
// CUDA images are handed to resize_antialias_cuda.cu, which uses the taps computed here.
#include "nn/resize_antialias.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/status.h"

namespace um::nn {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS for 8-bit images

// Fixed-point taps of one axis: output i reads inputs [first[i], first[i] + count[i]).
struct AxisTaps {
  int64_t ksize = 0;
  std::vector<int64_t> first, count;
  std::vector<int32_t> weights;  // [out, ksize], fixed point with kPrecisionBits
};

double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

AxisTaps compute_taps(int64_t in_size, int64_t out_size) {
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  const double filter_scale = std::max(scale, 1.0);  // widen the footprint only when shrinking
  const double support = 1.0 * filter_scale;         // bilinear support is 1
  AxisTaps t;
  t.ksize = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.weights.assign(static_cast<size_t>(out_size * t.ksize), 0);
  std::vector<double> k(static_cast<size_t>(t.ksize));
  const double inv_filter_scale = 1.0 / filter_scale;  // Pillow multiplies by the reciprocal
  for (int64_t o = 0; o < out_size; ++o) {
    const double center = (static_cast<double>(o) + 0.5) * scale;
    // Pillow rounds the window ends with (int)(v + 0.5), i.e. truncation toward zero.
    int64_t lo = static_cast<int64_t>(center - support + 0.5);
    int64_t hi = static_cast<int64_t>(center + support + 0.5);
    lo = std::max<int64_t>(lo, 0);
    hi = std::min<int64_t>(hi, in_size);
    const int64_t cnt = std::min<int64_t>(hi - lo, t.ksize);
    double sum = 0.0;
    for (int64_t j = 0; j < cnt; ++j) {
      k[j] = triangle((static_cast<double>(j + lo) - center + 0.5) * inv_filter_scale);
      sum += k[j];
    }
    for (int64_t j = 0; j < cnt; ++j) {
      const double v = sum != 0.0 ? k[j] / sum : k[j];
      const double fixed = v * static_cast<double>(1 << kPrecisionBits);
      t.weights[o * t.ksize + j] = static_cast<int32_t>(v < 0 ? fixed - 0.5 : fixed + 0.5);
    }
    t.first[o] = lo;
    t.count[o] = std::max<int64_t>(cnt, 0);
  }
  return t;
}

inline uint8_t clip8(int64_t acc) {
  const int64_t v = acc >> kPrecisionBits;
  return static_cast<uint8_t>(std::clamp<int64_t>(v, 0, 255));
}

}  // namespace

namespace detail {

std::vector<int32_t> antialias_taps_packed(int64_t in_size, int64_t out_size, int64_t* ksize) {
  const AxisTaps t = compute_taps(in_size, out_size);
  const int64_t row = 2 + t.ksize;
  std::vector<int32_t> packed(static_cast<size_t>(out_size * row), 0);
  for (int64_t o = 0; o < out_size; ++o) {
    int32_t* r = packed.data() + o * row;
    r[0] = static_cast<int32_t>(t.first[o]);
    r[1] = static_cast<int32_t>(t.count[o]);
    for (int64_t j = 0; j < t.ksize; ++j) r[2 + j] = t.weights[o * t.ksize + j];
  }
  *ksize = t.ksize;
  return packed;
}

}  // namespace detail

Tensor resize_bilinear_antialias_u8(const Tensor& image, int64_t out_h, int64_t out_w) {
  if (!image.defined() || image.dtype() != DType::kU8 || image.dim() != 3) {
    throw Error(StatusCode::kInvalidArgument,
                "resize_bilinear_antialias_u8: image must be a uint8 [H, W, C] tensor, got " +
                    (image.defined() ? image.str() : std::string("undefined")));
  }
  const int64_t in_h = image.size(0), in_w = image.size(1), ch = image.size(2);
  if (in_h <= 0 || in_w <= 0 || ch <= 0 || out_h <= 0 || out_w <= 0) {
    throw Error(StatusCode::kInvalidArgument,
                "resize_bilinear_antialias_u8: sizes must be positive, got " +
                    shape_str(image.shape()) + " -> " + std::to_string(out_h) + "x" +
                    std::to_string(out_w));
  }
  if (image.device().is_cuda()) {
#ifdef UM_WITH_CUDA
    return detail::resize_bilinear_antialias_u8_cuda(image, out_h, out_w);
#else
    throw Error(StatusCode::kFailedPrecondition,
                "resize_bilinear_antialias_u8: image is on " + image.device().str() +
                    " but this build has no CUDA backend");
#endif
  }
  const Tensor src = image.contiguous();
  const uint8_t* in = src.data<uint8_t>();
  const int64_t round_half = int64_t{1} << (kPrecisionBits - 1);

  // Pass 1 (horizontal): in_h x out_w, skipped when the width does not change (as Pillow does).
  std::vector<uint8_t> mid;
  const uint8_t* rows = in;
  if (out_w != in_w) {
    const AxisTaps tx = compute_taps(in_w, out_w);
    mid.resize(static_cast<size_t>(in_h * out_w * ch));
    for (int64_t y = 0; y < in_h; ++y) {
      const uint8_t* row = in + y * in_w * ch;
      uint8_t* dst = mid.data() + y * out_w * ch;
      for (int64_t x = 0; x < out_w; ++x) {
        const int32_t* k = tx.weights.data() + x * tx.ksize;
        const uint8_t* s = row + tx.first[x] * ch;
        for (int64_t c = 0; c < ch; ++c) {
          int64_t acc = round_half;
          for (int64_t j = 0; j < tx.count[x]; ++j) acc += int64_t{s[j * ch + c]} * k[j];
          dst[x * ch + c] = clip8(acc);
        }
      }
    }
    rows = mid.data();
  }
  // Pass 2 (vertical): out_h x out_w.
  Tensor out = Tensor::empty({out_h, out_w, ch}, DType::kU8);
  uint8_t* op = out.data<uint8_t>();
  const int64_t stride = out_w * ch;
  if (out_h == in_h) {
    std::copy(rows, rows + in_h * stride, op);
    return out;
  }
  const AxisTaps ty = compute_taps(in_h, out_h);
  std::vector<int64_t> acc(static_cast<size_t>(stride));
  for (int64_t y = 0; y < out_h; ++y) {
    std::fill(acc.begin(), acc.end(), round_half);
    const int32_t* k = ty.weights.data() + y * ty.ksize;
    for (int64_t j = 0; j < ty.count[y]; ++j) {
      const uint8_t* s = rows + (ty.first[y] + j) * stride;
      const int64_t wj = k[j];
      for (int64_t i = 0; i < stride; ++i) acc[i] += int64_t{s[i]} * wj;
    }
    uint8_t* dst = op + y * stride;
    for (int64_t i = 0; i < stride; ++i) dst[i] = clip8(acc[i]);
  }
  return out;
}

}  // namespace um::nn
