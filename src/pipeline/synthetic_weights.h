// File: src/pipeline/synthetic_weights.h
// Purpose: seeded synthetic weights for the demo when no checkpoint file is present (issue 6
// item 6, issue 9 item 3). Each function returns a state dict with exactly the keys and shapes of
// the official checkpoint (D-FINE-N with 1 class on HGNetv2-B0 with 2 levels; MobileSAM vit_t),
// filled from std::mt19937(seed): conv/linear weights uniform in +-1/sqrt(fan_in) (PyTorch's
// default scale, so activations stay finite), biases 0, norm weights 1, BatchNorm running mean 0
// and variance 1. D-FINE's anchors/valid_mask are not included: the decoder computes them.
// The detections of such a model are meaningless; callers must say so loudly (log, dashboard,
// metadata) -- see gateway/model_setup.h.
// Usage:
//   io::TensorMap d = synthetic_dfine_n_weights();            // DFine::from_tensors(d)
//   io::TensorMap s = synthetic_mobilesam_vit_t_weights();    // MobileSam::from_tensors(s)
#pragma once

#include <cstdint>

#include "io/checkpoint.h"

namespace um::pipeline {

inline constexpr uint32_t kSyntheticWeightsSeed = 20261127;

io::TensorMap synthetic_dfine_n_weights(uint32_t seed = kSyntheticWeightsSeed);
io::TensorMap synthetic_mobilesam_vit_t_weights(uint32_t seed = kSyntheticWeightsSeed);

}  // namespace um::pipeline
