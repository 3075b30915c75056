// File: src/nn/sam_mask_to_frame_cuda.cu
// Purpose: CUDA implementation of sam_mask_to_frame (see ops_sam_mask.h): one thread per frame
// pixel computes the two bilinear resizes straight from the low-res logits, the 1024 x 1024
// intermediate never stored: the frame pixel's 2 x 2 taps into the cropped intermediate, and each
// of those 4 intermediate values from ITS 2 x 2 taps into the low-res map (16 reads, cached).
// Every step is resample_cuda.cu's arithmetic (the same bilinear_tap / bilinear_blend, from
// bilinear_tap_cuda.cuh), so the float32 results equal the CPU sequence bit for bit.
#include <cstdint>
#include <string>

#include "nn/bilinear_tap_cuda.cuh"
#include "nn/cuda_op_util.cuh"
#include "nn/ops_sam_mask.h"

namespace um::nn::detail {
namespace {

constexpr int kThreads = 256;

struct LowRes {
  const float* p;
  int64_t c, h, w;
  int64_t sn, sc, sh, sw;  // strides in elements
};

struct Geometry {
  int64_t model_h, model_w, crop_h, crop_w, out_h, out_w;
  float scale1_h, scale1_w;  // low-res -> model size (h / model_h), as resize_bilinear's host
  float scale2_h, scale2_w;  // crop -> frame (crop_h / out_h)
};

__global__ void sam_mask_to_frame_kernel(LowRes x, Geometry g, float* __restrict__ logits,
                                         uint8_t* __restrict__ mask, int64_t total) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ox = i % g.out_w;
    const int64_t oy = (i / g.out_w) % g.out_h;
    const int64_t ch = (i / (g.out_w * g.out_h)) % x.c;
    const int64_t b = i / (g.out_w * g.out_h * x.c);
    const float* plane = x.p + b * x.sn + ch * x.sc;
    // The frame pixel's taps into the crop (the crop starts at the intermediate's origin, so
    // crop index = intermediate index).
    const BilinearTap ty = bilinear_tap(oy, g.crop_h, g.scale2_h, false);
    const BilinearTap tx = bilinear_tap(ox, g.crop_w, g.scale2_w, false);
    // The intermediate's value at (my, mx): the first resize.
    auto mid = [&](int64_t my, int64_t mx) {
      const BilinearTap ay = bilinear_tap(my, x.h, g.scale1_h, false);
      const BilinearTap ax = bilinear_tap(mx, x.w, g.scale1_w, false);
      const float* r0 = plane + ay.i0 * x.sh;
      const float* r1 = plane + ay.i1 * x.sh;
      return bilinear_blend(ay, ax, r0[ax.i0 * x.sw], r0[ax.i1 * x.sw], r1[ax.i0 * x.sw],
                            r1[ax.i1 * x.sw]);
    };
    const float v = bilinear_blend(ty, tx, mid(ty.i0, tx.i0), mid(ty.i0, tx.i1), mid(ty.i1, tx.i0),
                                   mid(ty.i1, tx.i1));
    if (logits) logits[i] = v;
    mask[i] = v > 0.f ? 1 : 0;  // NaN -> 0, as threshold_u8
  }
}

}  // namespace

SamFrameMasks sam_mask_to_frame_cuda(const Tensor& low_res, const SamMaskGeometry& g,
                                     bool want_logits) {
  static constexpr const char* kOp = "sam_mask_to_frame";
  require_cuda_float(kOp, low_res, "low_res");  // float32 checked by sam_mask_to_frame
  const LowRes x{static_cast<const float*>(low_res.raw_data()),
                 low_res.size(1),
                 low_res.size(2),
                 low_res.size(3),
                 low_res.strides()[0],
                 low_res.strides()[1],
                 low_res.strides()[2],
                 low_res.strides()[3]};
  // The scales exactly as resize_bilinear's host computes them (float division of float sizes).
  auto scale = [](int64_t in, int64_t out) {
    return static_cast<float>(in) / static_cast<float>(out);
  };
  const Geometry geo{g.model_h,
                     g.model_w,
                     g.crop_h,
                     g.crop_w,
                     g.out_h,
                     g.out_w,
                     scale(x.h, g.model_h),
                     scale(x.w, g.model_w),
                     scale(g.crop_h, g.out_h),
                     scale(g.crop_w, g.out_w)};
  const Shape out_shape{low_res.size(0), x.c, g.out_h, g.out_w};
  SamFrameMasks out;
  out.mask_u8 = Tensor::empty(out_shape, DType::kU8, low_res.device());
  if (want_logits) out.logits = Tensor::empty(out_shape, DType::kF32, low_res.device());
  const int64_t total = out.mask_u8.numel();
  if (total == 0) return out;
  sam_mask_to_frame_kernel<<<blocks_for(total, kThreads), kThreads, 0, stream()>>>(
      x, geo, want_logits ? static_cast<float*>(out.logits.raw_data()) : nullptr,
      static_cast<uint8_t*>(out.mask_u8.raw_data()), total);
  check_launch(kOp);
  return out;
}

}  // namespace um::nn::detail
