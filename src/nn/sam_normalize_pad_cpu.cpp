// File: src/nn/sam_normalize_pad_cpu.cpp
// Purpose: sam_normalize_pad (nn/ops_sam.h): the argument checks shared by both devices, the
// CUDA dispatch and the CPU reference, which computes exactly what
// mobilesam::normalize_and_pad does for the same pixels.
#include <string>

#include "nn/op_util.h"
#include "nn/ops_sam.h"

namespace um::nn {

Tensor sam_normalize_pad(const Tensor& in, int64_t size, DType dtype) {
  constexpr const char* kOp = "sam_normalize_pad";
  if (!in.defined()) detail::fail(kOp, "input is undefined");
  if (in.dtype() != DType::kU8 || in.dim() != 3 || (in.size(2) != 1 && in.size(2) != 3)) {
    detail::fail(kOp, "input must be uint8 [h, w, 1 or 3], got " + in.str());
  }
  if (size <= 0 || in.size(0) <= 0 || in.size(1) <= 0 || in.size(0) > size || in.size(1) > size) {
    detail::fail(kOp, "image " + shape_str(in.shape()) + " does not fit a padded size of " +
                          std::to_string(size));
  }
  if (dtype != DType::kF32 && dtype != DType::kF16) {
    detail::fail(kOp, std::string("output dtype must be float32 or float16, got ") +
                          dtype_name(dtype));
  }
  UM_NN_CUDA_DISPATCH(in, sam_normalize_pad_cuda(in, size, dtype));
  if (!in.device().is_cpu()) detail::fail(kOp, "input is on " + in.device().str());
  if (dtype != DType::kF32) detail::fail(kOp, "the CPU implementation outputs float32 only");
  const Tensor src = in.contiguous();
  const int64_t h = src.size(0), w = src.size(1), ch = src.size(2);
  Tensor out = Tensor::zeros({1, 3, size, size});
  const uint8_t* s = src.data<uint8_t>();
  float* d = out.data<float>();
  for (int64_t c = 0; c < 3; ++c) {
    const int64_t sc = ch == 1 ? 0 : c;
    for (int64_t y = 0; y < h; ++y) {
      float* orow = d + (c * size + y) * size;
      for (int64_t x = 0; x < w; ++x) {
        const float v = static_cast<float>(s[(y * w + x) * ch + sc]);
        orow[x] = (v - kSamPixelMean[c]) / kSamPixelStd[c];
      }
    }
  }
  return out;
}

}  // namespace um::nn
