// File: src/core/dtype.h
// Purpose: element types of tensors and the float16/bfloat16 <-> float32 conversions that
// checkpoints need (user checkpoints often store parameters as float16).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace um {

enum class DType : uint8_t { kF32, kF16, kBF16, kI64, kI32, kU8, kBool };

size_t dtype_size(DType t);
const char* dtype_name(DType t);

// IEEE binary16 bits -> float, exact (handles subnormals, inf, NaN).
float half_to_float(uint16_t h);
// float -> binary16 bits, round to nearest even.
uint16_t float_to_half(float f);
inline float bfloat16_to_float(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint16_t float_to_bfloat16(float f);

// Maps C++ element types to DType for Tensor::data<T>() checks.
template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::kF32; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::kI64; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::kI32; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::kU8; };
template <> struct DTypeOf<bool> { static constexpr DType value = DType::kBool; };

}  // namespace um
