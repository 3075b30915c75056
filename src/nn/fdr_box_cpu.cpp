// File: src/nn/fdr_box_cpu.cpp
// Purpose: nn::distribution_box (nn/ops_dfine.h): the decoder's per-layer box from its corner
// distributions, distance2bbox(points, distribution_integral(corners, project), reg_scale), as one
// op. The CPU reference IS those two ops (bit-identical); CUDA (fdr_box_cuda.cu) runs one kernel
// instead of two. float32 only (the box chain, SPEC 3).
#include <string>
#include <vector>

#include "nn/op_util.h"
#include "nn/ops_dfine.h"

namespace um::nn {

using detail::fail;

Tensor distribution_box(const Tensor& corners, const std::vector<float>& project,
                        const Tensor& points, float reg_scale) {
  constexpr const char* kOp = "distribution_box";
  const int64_t bins = static_cast<int64_t>(project.size());
  if (!corners.defined()) fail(kOp, "corners is undefined");
  if (!points.defined()) fail(kOp, "points is undefined");
  if (corners.dtype() != DType::kF32 || points.dtype() != DType::kF32) {
    fail(kOp, std::string("corners and points must be float32 (box chain), got ") +
                  dtype_name(corners.dtype()) + " / " + dtype_name(points.dtype()));
  }
  if (bins < 1 || bins > kMaxFdrBins) {
    fail(kOp, std::to_string(bins) + " bins (1.." + std::to_string(kMaxFdrBins) + " supported)");
  }
  if (corners.dim() != 3 || corners.size(2) != 4 * bins) {
    fail(kOp, "corners " + shape_str(corners.shape()) + " is not [B, Q, 4*" +
                  std::to_string(bins) + "]");
  }
  if (points.dim() != 3 || points.size(2) != 4 || points.size(0) != corners.size(0) ||
      points.size(1) != corners.size(1)) {
    fail(kOp, "points " + shape_str(points.shape()) + " is not [B, Q, 4] for corners " +
                  shape_str(corners.shape()));
  }
  if (!(points.device() == corners.device())) {
    fail(kOp, "points and corners live on different devices");
  }
  UM_NN_CUDA_DISPATCH(corners, distribution_box_cuda(corners, project, points, reg_scale));
  return distance2bbox(points, distribution_integral(corners, project), reg_scale);
}

}  // namespace um::nn
