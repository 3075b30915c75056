// File: bench/bench_cuda_memops.cpp
// Purpose: GPU time of the memory-bound ops of a frame, original generic kernels ("legacy",
// um::cuda::MemopsMode::kLegacy) against the fast paths ("fast"), in one run, float16:
//   - TinyViT window partition: [1, 64, 64, 128] copied into a zero-padded [1, 70, 70, 128]
//     buffer (strided copy), then view [1, 10, 7, 10, 7, 128] + permute + contiguous;
//   - NCHW -> NHWC of [1, 256, 64, 64] (permute + contiguous: the tiled transpose);
//   - gelu of [1, 128, 256, 256] (the vectorised unary kernel);
//   - the conv bias add on [1, 64, 160, 160] (src/nn/conv2d_cuda.cu's add_channel_bias);
//   - layer_norm of [4096, 256] with weight and bias;
//   - layer_norm_2d of [1, 256, 64, 64] (SAM's neck) and a [4096, 256] + [256] row-vector add.
// Timing: CUDA events around kInner back-to-back calls on a private stream (manual time per call),
// after a warm-up call; the median of 7 repetitions is reported, with bytes/s from the bytes
// each call reads and writes. Built in every configuration; without the CUDA backend or a GPU
// each benchmark reports SkipWithError.
// Run: build/bench/bench_cuda_memops --benchmark_repetitions=7 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <functional>

#include "core/tensor.h"
#include "cuda_bench_util.h"
#include "nn/ops.h"

#ifdef UM_WITH_CUDA
#include "core/cuda/strided_copy.h"

// The conv bias kernel (declared in nn/cudnn_context.h, which needs the cuDNN headers).
namespace um::nn::detail {
void add_channel_bias(const Tensor& y, const Tensor& bias, const char* op);
}  // namespace um::nn::detail
#endif

namespace {

using um::DType;
using um::Shape;
using um::Tensor;

constexpr int kInner = 20;

enum class Case { kWindowPartition, kNchwToNhwc, kGelu, kConvBias, kLayerNorm, kLayerNorm2d,
                  kRowAdd };

#ifdef UM_WITH_CUDA
// A device float16 tensor filled with a cheap deterministic pattern (values in [-1, 1]).
Tensor device_pattern(const Shape& shape) { return um::bench::device_pattern(shape, DType::kF16); }

// The call to time and the bytes it reads plus writes.
struct Work {
  std::function<void()> run;
  int64_t bytes = 0;
};

Work make_work(Case c) {
  constexpr int64_t kHalf = 2;
  switch (c) {
    case Case::kWindowPartition: {
      const Tensor x = device_pattern({1, 64, 64, 128});
      Tensor padded = Tensor::zeros({1, 70, 70, 128}, DType::kF16, um::Device::cuda());
      return {[x, padded]() mutable {
                padded.slice(1, 0, 64).slice(2, 0, 64).copy_from(x);
                Tensor w = padded.view({1, 10, 7, 10, 7, 128}).permute({0, 1, 3, 2, 4, 5});
                benchmark::DoNotOptimize(w.contiguous());
              },
              (2 * 64 * 64 * 128 + 2 * 70 * 70 * 128) * kHalf};
    }
    case Case::kNchwToNhwc: {
      const Tensor x = device_pattern({1, 256, 64, 64});
      return {[x] { benchmark::DoNotOptimize(x.permute({0, 2, 3, 1}).contiguous()); },
              2 * x.numel() * kHalf};
    }
    case Case::kGelu: {
      const Tensor x = device_pattern({1, 128, 256, 256});
      return {[x] { benchmark::DoNotOptimize(um::nn::gelu(x)); }, 2 * x.numel() * kHalf};
    }
    case Case::kConvBias: {
      const Tensor y = device_pattern({1, 64, 160, 160});
      // In place, as after the conv. A zero bias keeps y unchanged over the many timed calls
      // (the kernel's time does not depend on the values).
      const Tensor b = Tensor::zeros({64}, DType::kF16, um::Device::cuda());
      return {[y, b] { um::nn::detail::add_channel_bias(y, b, "bench"); },
              2 * y.numel() * kHalf};
    }
    case Case::kLayerNorm: {
      const Tensor x = device_pattern({4096, 256});
      const Tensor w = device_pattern({256}), b = device_pattern({256});
      return {[x, w, b] { benchmark::DoNotOptimize(um::nn::layer_norm(x, w, b, 1e-5f)); },
              2 * x.numel() * kHalf};
    }
    case Case::kLayerNorm2d: {
      const Tensor x = device_pattern({1, 256, 64, 64});
      const Tensor w = device_pattern({256}), b = device_pattern({256});
      return {[x, w, b] { benchmark::DoNotOptimize(um::nn::layer_norm_2d(x, w, b, 1e-6f)); },
              2 * x.numel() * kHalf};
    }
    case Case::kRowAdd: {
      const Tensor x = device_pattern({4096, 256});
      const Tensor b = device_pattern({256});
      return {[x, b] { benchmark::DoNotOptimize(um::nn::add(x, b)); }, 2 * x.numel() * kHalf};
    }
  }
  return {};
}
#endif

void BM_CudaMemops(benchmark::State& state, Case c, bool legacy) {
#ifndef UM_WITH_CUDA
  (void)c;
  (void)legacy;
  um::bench::skip(state, "built without the CUDA backend");
#else
  if (!um::bench::require_gpu(state)) return;
  um::cuda::set_memops_mode(legacy ? um::cuda::MemopsMode::kLegacy : um::cuda::MemopsMode::kFast);
  Work work = make_work(c);
  // The uploads and conversions ran on this thread's default stream; the ops run on the
  // timer's stream.
  um::cuda::synchronize(um::cuda::current_stream());
  {
    um::bench::GpuTimer timer;
    work.run();  // warm-up: pool blocks for the outputs
    timer.measure(state, work.run, kInner);
    um::cuda::synchronize(timer.stream());
  }
  state.SetBytesProcessed(state.iterations() * kInner * work.bytes);
  um::cuda::set_memops_mode(um::cuda::MemopsMode::kFast);
#endif
}

void configure(benchmark::internal::Benchmark* b) {
  b->UseManualTime()->Unit(benchmark::kMicrosecond)->Repetitions(7)->ReportAggregatesOnly(true);
}

#define UM_MEMOPS_BENCH(name, c)                                                   \
  BENCHMARK_CAPTURE(BM_CudaMemops, name##_legacy, c, true)->Apply(configure); \
  BENCHMARK_CAPTURE(BM_CudaMemops, name##_fast, c, false)->Apply(configure)

UM_MEMOPS_BENCH(window_partition_64x64x128_pad70_w7_f16, Case::kWindowPartition);
UM_MEMOPS_BENCH(nchw_to_nhwc_256x64x64_f16, Case::kNchwToNhwc);
UM_MEMOPS_BENCH(gelu_128x256x256_f16, Case::kGelu);
UM_MEMOPS_BENCH(conv_bias_64x160x160_f16, Case::kConvBias);
UM_MEMOPS_BENCH(layer_norm_4096x256_f16, Case::kLayerNorm);
UM_MEMOPS_BENCH(layer_norm_2d_256x64x64_f16, Case::kLayerNorm2d);
UM_MEMOPS_BENCH(add_row_4096x256_f16, Case::kRowAdd);

}  // namespace

BENCHMARK_MAIN();
