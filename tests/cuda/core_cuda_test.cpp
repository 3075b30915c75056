// GPU tests of the core plumbing: strided copies and dtype conversion on the device, the
// caching pool's reuse (no driver allocation once warm) and the counted host syncs.
#include <gtest/gtest.h>

#include "core/cuda/device_pool.h"
#include "core/cuda/stream_context.h"
#include "cuda_test_support.h"

namespace um {
namespace {

using test::max_abs_diff_gpu;
using test::random_cpu;
using test::to_cpu_f32;
using test::to_gpu;

TEST(CoreCuda, PermutedContiguousMatchesCpu) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({2, 3, 5, 7}, 1);
  const Tensor ref = x.permute({0, 2, 3, 1}).contiguous();
  const Tensor g = to_gpu(x).permute({0, 2, 3, 1}).contiguous();
  EXPECT_TRUE(g.device().is_cuda());
  EXPECT_EQ(max_abs_diff_gpu(g, ref), 0.f);
  // A slice of a transposed view, too.
  const Tensor ref2 = x.transpose(2, 3).slice(2, 1, 6).contiguous();
  EXPECT_EQ(max_abs_diff_gpu(to_gpu(x).transpose(2, 3).slice(2, 1, 6).contiguous(), ref2), 0.f);
}

TEST(CoreCuda, HalfRoundTripMatchesCpuConversion) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({1000}, 2, -65000.f, 65000.f);
  const Tensor cpu_half = x.to(DType::kF16).to(DType::kF32);
  EXPECT_EQ(max_abs_diff_gpu(to_gpu(x, DType::kF16), cpu_half), 0.f);
}

TEST(CoreCuda, ZerosAndIntegerConversion) {
  UM_REQUIRE_CUDA();
  const Tensor z = Tensor::zeros({3, 4}, DType::kF32, Device::cuda());
  EXPECT_EQ(max_abs_diff_gpu(z, Tensor::zeros({3, 4})), 0.f);
  Tensor idx = Tensor::empty({4}, DType::kI64);
  for (int i = 0; i < 4; ++i) idx.data<int64_t>()[i] = 3 * i - 2;
  const Tensor back = idx.to(Device::cuda()).to(DType::kF32).to(Device::cpu());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(back.data<float>()[i], 3.f * i - 2.f);
}

TEST(CoreCuda, PoolReusesBlocksWithoutDriverAllocations) {
  UM_REQUIRE_CUDA();
  cuda::DevicePool pool;
  cuda::PoolScope scope(&pool);
  { Tensor a = Tensor::empty({1 << 20}, DType::kF32, Device::cuda()); }
  const uint64_t warm = pool.driver_allocations();
  EXPECT_EQ(warm, 1u);
  for (int i = 0; i < 10; ++i) {
    Tensor a = Tensor::empty({1 << 20}, DType::kF32, Device::cuda());
  }
  EXPECT_EQ(pool.driver_allocations(), warm);
  EXPECT_EQ(pool.in_use_bytes(), 0u);
  EXPECT_GE(pool.reserved_bytes(), size_t{4} << 20);
}

TEST(CoreCuda, DeviceToDeviceCopyDoesNotSynchronise) {
  UM_REQUIRE_CUDA();
  const Tensor a = to_gpu(random_cpu({64, 64}, 3));
  const uint64_t before = cuda::host_sync_count();
  Tensor b = a.transpose(0, 1).contiguous();
  Tensor c = b.to(DType::kF16);
  EXPECT_EQ(cuda::host_sync_count(), before);
  EXPECT_EQ(to_cpu_f32(c).shape(), (Shape{64, 64}));
}

}  // namespace
}  // namespace um
