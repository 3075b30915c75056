// File: src/nn/pooling_cuda.cu
// Purpose: the CUDA twins of pooling_cpu.cpp: torch.nn.MaxPool2d (kernel/stride/pad/ceil_mode,
// padding acting as -inf) and F.interpolate(scale_factor=2, mode='nearest'), float32 or float16,
// NCHW inputs of any strides, contiguous outputs, queued on um::cuda::current_stream().
// Both ops only select input values, so they agree with the CPU bit for bit in either dtype.
#include <cstdint>
#include <string>
#include <type_traits>

#include "nn/cuda_op_util.cuh"
#include "nn/ops_cuda.h"
#include "nn/pool_shape.h"

namespace um::nn::detail {
namespace {

struct Nchw {
  int64_t n, c, h, w;
  int64_t sn, sc, sh, sw;  // input strides in elements
};

Nchw nchw_of(const Tensor& x) {
  return {x.size(0),       x.size(1),       x.size(2),       x.size(3),
          x.strides()[0],  x.strides()[1],  x.strides()[2],  x.strides()[3]};
}

// Row kernels (row_launch): output row r = (b, ch, oy), columns ox; the index arithmetic once
// per row, in I = int32_t whenever the row count fits (a 64-bit division is a ~70-instruction
// routine that every warp of a row block ran: ncu on an H200 had D-FINE's stem pool, 320 x 320 x
// 16 float32, at 50 us). The window is clipped to the image, which is what padding with -inf
// means for a max; the fold (m < v ? v : m) is std::max(m, v) as the CPU writes it. K > 0: the
// window size known at compile time (2 and 3: D-FINE's stem and PAN), so the window's loads are
// unrolled and in flight together instead of one memory round trip after another.
template <typename T, typename I, int K>
__global__ void max_pool_kernel(const T* __restrict__ x, T* __restrict__ y, Nchw s, int64_t ho,
                                int64_t wo, int kernel_rt, int stride, int pad) {
  const int kernel = K > 0 ? K : kernel_rt;
  const I hi = static_cast<I>(ho), ci = static_cast<I>(s.c);
  const I h = static_cast<I>(s.h), w = static_cast<I>(s.w);
  for (UM_ROWS(r64, s.n * s.c * ho)) {
    const I r = static_cast<I>(r64);
    const I oy = r % hi, p = r / hi, ch = p % ci, b = p / ci;
    const I ys = oy * stride - pad;
    const T* plane = x + b * s.sn + ch * s.sc;
    T* yr = y + r64 * wo;
    for (UM_COL_GROUPS(c0, wo)) {
      float m[kRowColsPerThread];
#pragma unroll
      for (int k = 0; k < kRowColsPerThread; ++k) {
        const int64_t ox = c0 + int64_t{k} * blockDim.x;
        const I xs = static_cast<I>(ox) * stride - pad;
        m[k] = -INFINITY;
        if (ox >= wo) continue;
#pragma unroll
        for (int dy = 0; dy < kernel; ++dy) {  // unrolled where K fixes `kernel`
#pragma unroll
          for (int dx = 0; dx < kernel; ++dx) {
            const I iy = ys + dy, ix = xs + dx;
            if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
              const float v = to_f(plane[iy * s.sh + ix * s.sw]);
              m[k] = (m[k] < v) ? v : m[k];
            }
          }
        }
      }
#pragma unroll
      for (int k = 0; k < kRowColsPerThread; ++k) {
        const int64_t ox = c0 + int64_t{k} * blockDim.x;
        if (ox < wo) yr[ox] = from_f<T>(m[k]);
      }
    }
  }
}

template <typename T, typename I>
__global__ void upsample_nearest2x_kernel(const T* __restrict__ x, T* __restrict__ y, Nchw s) {
  const int64_t wo = 2 * s.w, ho = 2 * s.h;
  const I hi = static_cast<I>(ho), ci = static_cast<I>(s.c);
  for (UM_ROWS(r64, s.n * s.c * ho)) {
    const I r = static_cast<I>(r64);
    const I oy = r % hi, p = r / hi, ch = p % ci, b = p / ci;
    const T* xr = x + b * s.sn + ch * s.sc + (oy / 2) * s.sh;
    T* yr = y + r64 * wo;
    for (UM_COL_GROUPS(c0, wo)) {
      T v[kRowColsPerThread];
#pragma unroll
      for (int k = 0; k < kRowColsPerThread; ++k) {
        const int64_t ox = c0 + int64_t{k} * blockDim.x;
        v[k] = ox < wo ? xr[(ox / 2) * s.sw] : T{};
      }
#pragma unroll
      for (int k = 0; k < kRowColsPerThread; ++k) {
        const int64_t ox = c0 + int64_t{k} * blockDim.x;
        if (ox < wo) yr[ox] = v[k];
      }
    }
  }
}

// 32-bit row arithmetic when every row index, height and width fits.
bool rows_fit_int32(const Nchw& s, int64_t out_h) {
  constexpr int64_t kMax = 0x7fffffffLL;
  return s.n * s.c * out_h <= kMax && 2 * s.h <= kMax && 2 * s.w <= kMax && out_h <= kMax;
}

}  // namespace

// kernel/stride/pad were validated by the public max_pool2d before it dispatched here.
Tensor max_pool2d_cuda(const Tensor& x, int kernel, int stride, int pad, bool ceil_mode) {
  static constexpr const char* kOp = "max_pool2d";
  require_cuda_float(kOp, x, "x");
  require_dim(kOp, x, "x", 4);
  const Nchw s = nchw_of(x);
  const int64_t ho = pool_out(s.h, kernel, stride, pad, ceil_mode);
  const int64_t wo = pool_out(s.w, kernel, stride, pad, ceil_mode);
  if (ho < 1 || wo < 1) fail(kOp, "input " + shape_str(x.shape()) + " is too small");
  Tensor y = Tensor::empty({s.n, s.c, ho, wo}, x.dtype(), x.device());
  const int64_t total = y.numel();
  if (total == 0) return y;
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    const RowLaunch l = row_launch(s.n * s.c * ho, wo);
    const auto* px = static_cast<const T*>(x.raw_data());
    auto* py = static_cast<T*>(y.raw_data());
    const auto run = [&](auto index_tag, auto k_tag) {
      max_pool_kernel<T, decltype(index_tag), decltype(k_tag)::value>
          <<<l.grid, l.block, 0, stream()>>>(px, py, s, ho, wo, kernel, stride, pad);
    };
    const auto with_index = [&](auto k_tag) {
      if (rows_fit_int32(s, ho)) {
        run(int32_t{}, k_tag);
      } else {
        run(int64_t{}, k_tag);
      }
    };
    if (kernel == 2) {
      with_index(std::integral_constant<int, 2>{});
    } else if (kernel == 3) {
      with_index(std::integral_constant<int, 3>{});
    } else {
      with_index(std::integral_constant<int, 0>{});
    }
  });
  check_launch(kOp);
  return y;
}

Tensor upsample_nearest2x_cuda(const Tensor& x) {
  static constexpr const char* kOp = "upsample_nearest2x";
  require_cuda_float(kOp, x, "x");
  require_dim(kOp, x, "x", 4);
  const Nchw s = nchw_of(x);
  Tensor y = Tensor::empty({s.n, s.c, 2 * s.h, 2 * s.w}, x.dtype(), x.device());
  const int64_t total = y.numel();
  if (total == 0) return y;
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    const RowLaunch l = row_launch(s.n * s.c * 2 * s.h, 2 * s.w);
    if (rows_fit_int32(s, 2 * s.h)) {
      upsample_nearest2x_kernel<T, int32_t><<<l.grid, l.block, 0, stream()>>>(
          static_cast<const T*>(x.raw_data()), static_cast<T*>(y.raw_data()), s);
    } else {
      upsample_nearest2x_kernel<T, int64_t><<<l.grid, l.block, 0, stream()>>>(
          static_cast<const T*>(x.raw_data()), static_cast<T*>(y.raw_data()), s);
    }
  });
  check_launch(kOp);
  return y;
}

}  // namespace um::nn::detail
