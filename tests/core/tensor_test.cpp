#include "core/tensor.h"

#include <gtest/gtest.h>

#include "core/status.h"

namespace um {
namespace {

Tensor arange(int64_t n, const Shape& shape) {
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < n; ++i) t.data<float>()[i] = static_cast<float>(i);
  return t;
}

TEST(TensorTest, EmptyHasContiguousStridesAndAlignedData) {
  Tensor t = Tensor::empty({2, 3, 4});
  EXPECT_EQ(t.strides(), (Shape{12, 4, 1}));
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % 64, 0u);
  EXPECT_TRUE(t.is_contiguous());
}

TEST(TensorTest, PermuteThenContiguousReordersElements) {
  Tensor t = arange(6, {2, 3});
  Tensor p = t.permute({1, 0});
  EXPECT_FALSE(p.is_contiguous());
  Tensor c = p.contiguous();
  const float* d = c.data<float>();
  EXPECT_EQ(c.shape(), (Shape{3, 2}));
  EXPECT_FLOAT_EQ(d[0], 0);
  EXPECT_FLOAT_EQ(d[1], 3);
  EXPECT_FLOAT_EQ(d[2], 1);
  EXPECT_FLOAT_EQ(d[5], 5);
}

TEST(TensorTest, SliceAndSelectShareStorage) {
  Tensor t = arange(12, {3, 4});
  Tensor s = t.slice(1, 1, 3);
  EXPECT_EQ(s.shape(), (Shape{3, 2}));
  Tensor c = s.contiguous();
  EXPECT_FLOAT_EQ(c.data<float>()[0], 1);
  EXPECT_FLOAT_EQ(c.data<float>()[3], 6);
  Tensor row = t.select(0, 2);
  EXPECT_EQ(row.shape(), (Shape{4}));
  EXPECT_FLOAT_EQ(row.data<float>()[0], 8);
  row.data<float>()[0] = 42;
  EXPECT_FLOAT_EQ(t.data<float>()[8], 42);
}

TEST(TensorTest, ViewInfersOneDimensionAndRejectsBadShapes) {
  Tensor t = arange(24, {2, 3, 4});
  EXPECT_EQ(t.view({6, -1}).shape(), (Shape{6, 4}));
  EXPECT_THROW(t.view({5, -1, 7}), Error);
  EXPECT_THROW(t.permute({2, 1, 0}).view({24}), Error);
  EXPECT_EQ(t.permute({2, 1, 0}).reshape({24}).numel(), 24);
}

TEST(TensorTest, DtypeConversionRoundTripsHalfAndBfloat) {
  Tensor t = Tensor::from_vector({0.0f, 1.0f, -2.5f, 65504.0f, 1e-7f}, {5});
  Tensor h = t.to(DType::kF16);
  EXPECT_EQ(h.dtype(), DType::kF16);
  Tensor back = h.to(DType::kF32);
  EXPECT_FLOAT_EQ(back.data<float>()[2], -2.5f);
  EXPECT_FLOAT_EQ(back.data<float>()[3], 65504.0f);
  EXPECT_NEAR(back.data<float>()[4], 1e-7f, 6e-8f);  // subnormal in half
  Tensor b = t.to(DType::kBF16).to(DType::kF32);
  EXPECT_FLOAT_EQ(b.data<float>()[1], 1.0f);
  EXPECT_FLOAT_EQ(b.data<float>()[2], -2.5f);
}

TEST(TensorTest, WrongDtypeAccessThrows) {
  Tensor t = Tensor::empty({2}, DType::kU8);
  EXPECT_THROW(t.data<float>(), Error);
  EXPECT_NO_THROW(t.data<uint8_t>());
}

TEST(TensorTest, DeviceAllocationWithoutBackendIsAClearError) {
  try {
    Tensor::empty({4}, DType::kF32, Device::cuda());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.status().code(), StatusCode::kFailedPrecondition);
  }
}

TEST(TensorTest, CopyFromStridedSourceIntoStridedDestination) {
  Tensor src = arange(6, {2, 3});
  Tensor dst = Tensor::zeros({3, 2});
  dst.permute({1, 0}).copy_from(src);
  const float* d = dst.data<float>();
  EXPECT_FLOAT_EQ(d[0], 0);
  EXPECT_FLOAT_EQ(d[1], 3);
  EXPECT_FLOAT_EQ(d[2], 1);
}

}  // namespace
}  // namespace um

namespace um {
namespace {
// An empty slice of a wider tensor (concat with an empty piece does this) used to recurse
// forever in copy_from: its strides were not "contiguous" for a zero-sized dimension.
TEST(TensorTest, EmptySliceIsContiguousAndCopiesNothing) {
  Tensor wide = Tensor::zeros({2, 6});
  Tensor piece = wide.slice(1, 3, 3);
  EXPECT_EQ(piece.numel(), 0);
  EXPECT_TRUE(piece.is_contiguous());
  piece.copy_from(Tensor::empty({2, 0}));
  EXPECT_EQ(wide.data<float>()[0], 0.f);
}
}  // namespace
}  // namespace um
