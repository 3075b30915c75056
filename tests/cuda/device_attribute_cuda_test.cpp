// GPU tests of the cached device attributes (core/cuda/device_attribute.h): the cached value is
// the driver's (cudaDeviceGetAttribute), stays the same on later calls and from other threads,
// and a bad query reports its error without caching anything. Skip loudly without a GPU.
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include <string>
#include <thread>
#include <vector>

#include "core/cuda/device_attribute.h"
#include "cuda_test_support.h"

namespace um {
namespace {

int driver_attribute(cudaDeviceAttr attr, int device) {
  int value = 0;
  EXPECT_EQ(cudaDeviceGetAttribute(&value, attr, device), cudaSuccess);
  return value;
}

TEST(DeviceAttributeCuda, MatchesTheDriverAndStaysStable) {
  UM_REQUIRE_CUDA();
  int device = -1;
  ASSERT_EQ(cudaGetDevice(&device), cudaSuccess);
  EXPECT_EQ(cuda::current_device(), device);
  for (cudaDeviceAttr attr :
       {cudaDevAttrMultiProcessorCount, cudaDevAttrMaxSharedMemoryPerBlockOptin,
        cudaDevAttrMaxSharedMemoryPerMultiprocessor, cudaDevAttrComputeCapabilityMajor,
        cudaDevAttrClusterLaunch}) {
    SCOPED_TRACE("attribute " + std::to_string(static_cast<int>(attr)));
    const int expected = driver_attribute(attr, device);
    const int first = cuda::device_attribute(attr);
    EXPECT_EQ(first, expected);
    EXPECT_EQ(cuda::device_attribute(attr), first);  // served from the cache
    int by_id = -1;
    EXPECT_EQ(cuda::device_attribute(&by_id, attr, device), cudaSuccess);
    EXPECT_EQ(by_id, expected);
  }
  // Distinct attributes are cached apart (a key mix-up would return one for the other).
  EXPECT_GT(cuda::device_attribute(cudaDevAttrMultiProcessorCount), 0);
  EXPECT_GE(cuda::device_attribute(cudaDevAttrMaxSharedMemoryPerBlockOptin), 48 * 1024);
  EXPECT_NE(cuda::device_attribute(cudaDevAttrMaxSharedMemoryPerBlockOptin),
            cuda::device_attribute(cudaDevAttrMultiProcessorCount));
}

// Threads racing to fill one entry (an attribute no other test asks for) all get the driver's.
TEST(DeviceAttributeCuda, ThreadsSeeTheSameValue) {
  UM_REQUIRE_CUDA();
  const int device = cuda::current_device();
  const int expected = driver_attribute(cudaDevAttrL2CacheSize, device);
  std::vector<int> seen(8, -1);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&seen, i, device] {
      int v = -1;
      if (cudaSetDevice(device) == cudaSuccess &&
          cuda::device_attribute(&v, cudaDevAttrL2CacheSize, device) ==
              cudaSuccess) {
        seen[i] = v;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int v : seen) EXPECT_EQ(v, expected);
}

TEST(DeviceAttributeCuda, BadDeviceReportsTheErrorAndCachesNothing) {
  UM_REQUIRE_CUDA();
  int count = 0;
  ASSERT_EQ(cudaGetDeviceCount(&count), cudaSuccess);
  int value = 12345;
  const cudaError_t driver = cudaDeviceGetAttribute(&value, cudaDevAttrMultiProcessorCount, count);
  ASSERT_NE(driver, cudaSuccess) << "device " << count << " of " << count << " exists?";
  value = 12345;
  EXPECT_EQ(cuda::device_attribute(&value, cudaDevAttrMultiProcessorCount, count), driver);
  EXPECT_EQ(value, 12345);  // untouched on failure
  // Asked again, it asks the driver again and fails again.
  EXPECT_EQ(cuda::device_attribute(&value, cudaDevAttrMultiProcessorCount, count), driver);
  EXPECT_EQ(value, 12345);
  cudaGetLastError();  // an invalid-device error is not sticky; clear it for later tests
}

}  // namespace
}  // namespace um
