// File: tests/mlp_test_stack.h
// Purpose: random layer stacks for the fused-MLP tests (nn::mlp and nn::grouped_mlp, on the CPU
// and on the GPU): one generator instead of one per test file.
// Usage:
//   const test::MlpStack s = test::random_mlp_stack({256, 256, 4}, /*seed=*/10);  // [out, in]
//   const test::MlpStack g = test::random_mlp_stack({24, 16, 8}, 50, {.groups = 4});
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "test_random.h"

namespace um::test {

// Per layer: weight [out, in] ([groups, out, in] with groups), bias [out] ([groups, out]) or
// undefined.
struct MlpStack {
  std::vector<Tensor> w, b;
};

struct MlpStackOptions {
  int64_t groups = 0;            // > 0: a leading group dimension on every parameter
  std::vector<size_t> no_bias = {};  // the layers whose bias is undefined
  // Weights uniform in +-1/sqrt(in) (activations stay O(1) through the layers, as the GPU
  // tests' relative tolerances assume) instead of [-1, 1).
  bool scaled = false;
};

// Layers dims[0] -> dims[1] -> ...: layer i's weight drawn with seed + 2 i, its bias (uniform in
// [-1, 1)) with seed + 2 i + 1.
inline MlpStack random_mlp_stack(const std::vector<int64_t>& dims, uint32_t seed,
                                 const MlpStackOptions& o = {}) {
  MlpStack s;
  auto shape = [&](Shape tail) {
    if (o.groups > 0) tail.insert(tail.begin(), o.groups);
    return tail;
  };
  for (size_t i = 0; i + 1 < dims.size(); ++i) {
    const auto layer_seed = seed + 2 * static_cast<uint32_t>(i);
    const float a = o.scaled ? 1.f / std::sqrt(static_cast<float>(dims[i])) : 1.f;
    s.w.push_back(random_uniform(shape({dims[i + 1], dims[i]}), layer_seed, -a, a));
    bool none = false;
    for (size_t l : o.no_bias) none = none || l == i;
    s.b.push_back(none ? Tensor() : random_uniform(shape({dims[i + 1]}), layer_seed + 1));
  }
  return s;
}

}  // namespace um::test
