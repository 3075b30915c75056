// File: src/nn/threshold_u8_cpu.cpp
// Purpose: threshold_u8 (nn/ops_sam.h): checks, CUDA dispatch and the CPU reference (the
// `logits > 0` of SamPredictor, as uint8).
#include "nn/op_util.h"
#include "nn/ops_sam.h"

namespace um::nn {

Tensor threshold_u8(const Tensor& x, float threshold) {
  if (!x.defined()) detail::fail("threshold_u8", "input is undefined");
  UM_NN_CUDA_DISPATCH(x, threshold_u8_cuda(x, threshold));
  detail::require_cpu_f32("threshold_u8", x, "x");
  const Tensor src = x.contiguous();
  Tensor out = Tensor::empty(src.shape(), DType::kU8);
  const float* s = src.data<float>();
  uint8_t* d = out.data<uint8_t>();
  for (int64_t i = 0; i < src.numel(); ++i) d[i] = s[i] > threshold ? 1 : 0;
  return out;
}

}  // namespace um::nn
