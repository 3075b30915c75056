#include "core/dtype.h"

#include <gtest/gtest.h>

#include <cmath>

namespace um {
namespace {

TEST(DTypeTest, HalfRoundTripIsExactForEveryFiniteHalf) {
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    const uint16_t bits = static_cast<uint16_t>(h);
    const float f = half_to_float(bits);
    if (std::isnan(f)) continue;
    EXPECT_EQ(float_to_half(f), bits) << "half bits " << h;
  }
}

TEST(DTypeTest, HalfRoundsToNearestEven) {
  // 1 + 2^-11 lies exactly between 1 and the next half (1 + 2^-10): ties to even -> 1.
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(float_to_half(1e6f), 0x7c00);  // overflow -> inf
}

TEST(DTypeTest, Bfloat16KeepsTheHighHalf) {
  EXPECT_EQ(float_to_bfloat16(1.0f), 0x3f80);
  EXPECT_FLOAT_EQ(bfloat16_to_float(0x4049), 3.140625f);
}

}  // namespace
}  // namespace um
