// GPU tests of the multi-block radix-select top-k (src/nn/topk_radix.cuh via nn::topk) and of the
// previous bitonic kernel kept behind nn::detail::topk_cuda_bitonic: both must equal the CPU
// nn::topk exactly (same values bit for bit, same indices, same order, ties to the lower index)
// on row lengths around the block and level boundaries (4096 keys per block; 8400 = D-FINE's
// anchors, 33600, 100000 and 2000000 take 2, 3 and 4+ launches), k up to 512, 1..4 rows, heavy
// ties, NaN / +-inf / -0 / +0, float16 data and non-contiguous rows; then no host sync when warm,
// and a warm call captured into a CUDA graph whose replay alone gives the result.
#include <gtest/gtest.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/cuda/cuda_runtime.h"
#include "core/cuda/device_pool.h"
#include "core/cuda/stream_context.h"
#include "core/status.h"
#include "cuda_test_support.h"
#include "nn/ops.h"
#include "nn/topk_cuda.h"

namespace um {
namespace {

using test::random_cpu;
using test::to_gpu;

enum class Fill { kRandom, kTies, kSpecials };

// Rows of `shape`: uniform in [-4, 4), quantised to 8 levels (kTies), or tied data sprinkled
// with NaN, +-inf, +-0, subnormals and the extreme finite values (kSpecials).
Tensor make_rows(const Shape& shape, uint32_t seed, Fill fill) {
  Tensor t = random_cpu(shape, seed, -4.f, 4.f);
  if (fill == Fill::kRandom) return t;
  const float specials[] = {NAN,
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            0.f,
                            -0.f,
                            std::numeric_limits<float>::denorm_min(),
                            -std::numeric_limits<float>::denorm_min(),
                            std::numeric_limits<float>::max(),
                            std::numeric_limits<float>::lowest(),
                            1.f};
  std::mt19937 rng(seed + 7);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    p[i] = std::floor(p[i]) + 0.5f;  // 8 levels: -3.5 .. 3.5
    if (fill == Fill::kSpecials && rng() % 4 == 0) p[i] = specials[rng() % 10];
  }
  return t;
}

// Values equal bit for bit (so -0 != +0), any NaN equal to any NaN; indices equal.
void expect_same(const std::pair<Tensor, Tensor>& gpu, const std::pair<Tensor, Tensor>& ref,
                 const std::string& what) {
  ASSERT_EQ(gpu.first.dtype(), DType::kF32) << what;
  ASSERT_EQ(gpu.second.dtype(), DType::kI64) << what;
  const Tensor gv = gpu.first.to(Device::cpu()), gi = gpu.second.to(Device::cpu());
  ASSERT_EQ(shape_str(gv.shape()), shape_str(ref.first.shape())) << what;
  ASSERT_EQ(shape_str(gi.shape()), shape_str(ref.second.shape())) << what;
  const Tensor rv = ref.first.contiguous(), ri = ref.second.contiguous();
  int64_t mismatches = 0, first = -1;
  for (int64_t i = 0; i < rv.numel(); ++i) {
    const float a = gv.data<float>()[i], b = rv.data<float>()[i];
    const bool same_value =
        (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof(float)) == 0;
    if (!same_value || gi.data<int64_t>()[i] != ri.data<int64_t>()[i]) {
      if (first < 0) first = i;
      ++mismatches;
    }
  }
  EXPECT_EQ(mismatches, 0) << what << ": first mismatch at " << first << ": got ("
                           << gv.data<float>()[first] << ", " << gi.data<int64_t>()[first]
                           << "), want (" << rv.data<float>()[first] << ", "
                           << ri.data<int64_t>()[first] << ")";
}

std::string describe(const Shape& shape, int64_t k, Fill fill, const char* dtype) {
  static const char* kFill[] = {"random", "ties", "specials"};
  return std::string(dtype) + shape_str(shape) + " k=" + std::to_string(k) + " " +
         kFill[static_cast<int>(fill)];
}

TEST(TopkFastCuda, MatchesCpuAcrossSizes) {
  UM_REQUIRE_CUDA();
  uint32_t seed = 1000;
  int rows = 0;
  for (int64_t n : {1, 7, 300, 301, 4096, 4097, 8400, 33600, 100000}) {
    std::vector<int64_t> ks = {1, 10, 300, 512};
    if (n <= 512) ks.push_back(n);
    for (int64_t k : ks) {
      if (k > n) continue;
      for (Fill fill : {Fill::kRandom, Fill::kTies, Fill::kSpecials}) {
        rows = rows % 4 + 1;  // 1..4 rows, varied across the cases
        const Shape shape{rows, n};
        const Tensor x = make_rows(shape, seed++, fill);
        expect_same(nn::topk(to_gpu(x), k), nn::topk(x, k), describe(shape, k, fill, "f32"));
      }
    }
  }
}

TEST(TopkFastCuda, ManyLevelsAndManyRows) {
  UM_REQUIRE_CUDA();
  // 2,000,000 keys: 489 chunks, then 250368, 31744 and 4096 candidates (4 launches + final).
  const Tensor big = make_rows({1, 2000000}, 2000, Fill::kTies);
  expect_same(nn::topk(to_gpu(big), 512), nn::topk(big, 512), "f32[1, 2000000] k=512 ties");
  const Tensor big_random = make_rows({1, 2000000}, 2001, Fill::kRandom);
  expect_same(nn::topk(to_gpu(big_random), 300), nn::topk(big_random, 300),
              "f32[1, 2000000] k=300 random");
  // Many short rows (one block each) and a 3-d input (rows over the leading dims).
  const Tensor many = make_rows({700, 50}, 2002, Fill::kSpecials);
  expect_same(nn::topk(to_gpu(many), 50), nn::topk(many, 50), "f32[700, 50] k=50");
  const Tensor three = make_rows({2, 3, 9000}, 2003, Fill::kTies);
  expect_same(nn::topk(to_gpu(three), 300), nn::topk(three, 300), "f32[2, 3, 9000] k=300");
  // A constant row: every radix pass runs, down to the last index digit.
  const Tensor flat = Tensor::full({2, 33600}, 0.125f);
  expect_same(nn::topk(to_gpu(flat), 512), nn::topk(flat, 512), "constant [2, 33600] k=512");
}

TEST(TopkFastCuda, Float16Rows) {
  UM_REQUIRE_CUDA();
  uint32_t seed = 3000;
  for (int64_t n : {7, 301, 4097, 8400, 100000}) {
    for (Fill fill : {Fill::kRandom, Fill::kTies, Fill::kSpecials}) {
      const int64_t k = std::min<int64_t>(n, 300);
      const Tensor xh = to_gpu(make_rows({2, n}, seed++, fill), DType::kF16);
      // The reference sees the float16 values the GPU sees.
      const Tensor ref_in = xh.to(DType::kF32).to(Device::cpu());
      expect_same(nn::topk(xh, k), nn::topk(ref_in, k), describe({2, n}, k, fill, "f16"));
    }
  }
}

TEST(TopkFastCuda, NonContiguousRows) {
  UM_REQUIRE_CUDA();
  // Rows along a transposed dim and a sliced window (row stride != n).
  const Tensor wide = make_rows({8400, 3}, 4000, Fill::kTies);
  expect_same(nn::topk(to_gpu(wide).transpose(0, 1), 300), nn::topk(wide.transpose(0, 1), 300),
              "transposed [3, 8400] k=300");
  const Tensor padded = make_rows({3, 10000}, 4001, Fill::kSpecials);
  expect_same(nn::topk(to_gpu(padded).slice(1, 17, 9017), 512),
              nn::topk(padded.slice(1, 17, 9017), 512), "sliced [3, 9000] k=512");
}

TEST(TopkFastCuda, BitonicPathStillMatches) {
  UM_REQUIRE_CUDA();
  // The previous kernel, kept for the benchmark: same results on the D-FINE shapes.
  const Tensor q = make_rows({1, 8400}, 5000, Fill::kTies);
  expect_same(nn::detail::topk_cuda_bitonic(to_gpu(q), 300), nn::topk(q, 300), "bitonic 8400");
  const Tensor d = make_rows({2, 24000}, 5001, Fill::kSpecials);
  expect_same(nn::detail::topk_cuda_bitonic(to_gpu(d), 300), nn::topk(d, 300), "bitonic 24000");
}

TEST(TopkFastCuda, RejectsBadInput) {
  UM_REQUIRE_CUDA();
  const Tensor x = to_gpu(random_cpu({2, 1000}, 6000));
  EXPECT_THROW(nn::topk(x, 513), Error);   // beyond the CUDA maximum
  EXPECT_THROW(nn::topk(x, 1001), Error);  // beyond n
  EXPECT_THROW(nn::topk(x, -1), Error);
  const auto [v, i] = nn::topk(x, 0);
  EXPECT_EQ(shape_str(v.shape()), shape_str(Shape{2, 0}));
  EXPECT_EQ(shape_str(i.shape()), shape_str(Shape{2, 0}));
}

TEST(TopkFastCuda, WarmCallNeitherSyncsNorAllocatesAndCapturesIntoAGraph) {
  UM_REQUIRE_CUDA();
  // 100000 keys: three launches and two scratch buffers from the pool.
  const Tensor x = make_rows({2, 100000}, 7000, Fill::kTies);
  const auto ref = nn::topk(x, 300);
  const Tensor xg = to_gpu(x);
  cuda::synchronize(cuda::current_stream());  // the upload ran on this thread's default stream
  cuda::Stream stream;
  cuda::DevicePool pool;
  cuda::PoolScope pool_scope(&pool);
  cuda::StreamScope stream_scope(stream.get());
  { const auto warm = nn::topk(xg, 300); }
  cuda::synchronize(stream.get());
  const uint64_t syncs = cuda::host_sync_count(), mallocs = pool.driver_allocations();
  { const auto again = nn::topk(xg, 300); }
  EXPECT_EQ(cuda::host_sync_count(), syncs) << "a warm topk synchronised the host";
  EXPECT_EQ(pool.driver_allocations(), mallocs) << "a warm topk allocated from the driver";
  cuda::synchronize(stream.get());
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamBeginCapture(stream.get(), cudaStreamCaptureModeThreadLocal), cudaSuccess);
  std::pair<Tensor, Tensor> y;
  std::string error;
  try {
    y = nn::topk(xg, 300);
  } catch (const std::exception& e) {
    error = e.what();
  }
  const cudaError_t end = cudaStreamEndCapture(stream.get(), &graph);
  ASSERT_TRUE(error.empty()) << "topk failed under capture: " << error;
  ASSERT_EQ(end, cudaSuccess) << cudaGetErrorString(end);
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  // Nothing ran during capture; clear the outputs so only the replay can produce the result.
  ASSERT_EQ(cudaMemsetAsync(y.first.raw_data(), 0, y.first.nbytes(), stream.get()), cudaSuccess);
  ASSERT_EQ(cudaMemsetAsync(y.second.raw_data(), 0, y.second.nbytes(), stream.get()),
            cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, stream.get()), cudaSuccess);
  cuda::synchronize(stream.get());
  expect_same(y, ref, "graph replay [2, 100000] k=300");
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
}

}  // namespace
}  // namespace um
