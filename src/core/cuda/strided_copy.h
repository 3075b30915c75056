// File: src/core/cuda/strided_copy.h
// Purpose: the GPU side of Tensor::copy_from for device tensors: any view (permuted, sliced,
// transposed) of any dtype into another of the same shape, converting the element type. This is
// what makes contiguous() of a permuted activation (TinyViT window partition, NCHW <-> NLC) and
// to(kF16)/to(kF32) of a device tensor one kernel on the current stream.
#pragma once

#include "core/tensor.h"

namespace um::cuda {

void copy_strided(const Tensor& dst, const Tensor& src);

}  // namespace um::cuda
