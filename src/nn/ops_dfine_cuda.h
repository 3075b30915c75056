// File: src/nn/ops_dfine_cuda.h
// Purpose: the CUDA implementations behind nn/ops_dfine.h (internal to um_nn), defined in
// <op>_cuda.cu; the public ops call them through UM_NN_CUDA_DISPATCH after their argument checks
// (same contract as nn/ops_cuda.h: current stream, no host sync, outputs from the current pool).
#pragma once

#ifdef UM_WITH_CUDA

#include <vector>

#include "core/tensor.h"
#include "nn/ops_dfine.h"

namespace um::nn::detail {

void act_affine_inplace_cuda(const Tensor& x, ActKind act, bool affine, float scale, float bias);
Tensor clamp_cuda(const Tensor& x, float lo, float hi);
Tensor amax_last_cuda(const Tensor& x);
Tensor pad2d_cuda(const Tensor& x, int64_t left, int64_t right, int64_t top, int64_t bottom,
                  float value);
Tensor u8_to_float_cuda(const Tensor& x, float divisor);
Tensor ms_deformable_sample_cuda(const Tensor& memory, const Tensor& ref, const Tensor& offsets,
                                 const Tensor& attn_logits, const MsDeformParams& params);
Tensor distribution_integral_cuda(const Tensor& corners, const std::vector<float>& project);
Tensor distance2bbox_cuda(const Tensor& points, const Tensor& distance, float reg_scale);
Tensor distribution_topk_stats_cuda(const Tensor& corners, int64_t bins, int k);
Tensor detection_top1_cuda(const Tensor& logits, const Tensor& boxes, const BoxMapping& mapping);

}  // namespace um::nn::detail

#endif  // UM_WITH_CUDA
