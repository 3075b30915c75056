// File: bench/bench_cuda_topk.cpp
// Purpose: GPU time of nn::topk on CUDA (the multi-block radix select, src/nn/topk_radix.cuh)
// against the previous single-block bitonic kernel (nn::detail::topk_cuda_bitonic) on the
// shapes D-FINE runs: query selection over the encoder's anchors ([1, 8400] at 640x640, k=300,
// float32 scores; also float16 and a batch of 4), the post-processor's top-300 over queries x
// classes ([1, 300 * C]: C = 1 and 2 for the project's checkpoints, 80 as in COCO), and a long
// row ([1, 100000], k = 512).
// Timing: CUDA events around kInner back-to-back calls on a private stream (manual time per
// call), after a warm-up call that fills the pool; report the median of the repetitions. Built
// in every configuration; without the CUDA backend or a GPU each benchmark reports
// SkipWithError.
// Run: build/bench/bench_cuda_topk --benchmark_repetitions=7 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include "core/tensor.h"
#include "nn/ops.h"

#ifdef UM_WITH_CUDA
#include "core/cuda/cuda_runtime.h"
#include "core/cuda/stream_context.h"
#include "nn/topk_cuda.h"
#endif

namespace {

using um::DType;
using um::Shape;
using um::Tensor;

enum class Path { kRadix, kBitonic };

constexpr int kInner = 20;

#ifdef UM_WITH_CUDA
// A device tensor of `dtype` with scores spread like logits (many near-equal values, some ties).
Tensor device_scores(const Shape& shape, DType dtype) {
  Tensor t = Tensor::empty(shape);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    p[i] = static_cast<float>((i * 7919) % 10007) / 1000.f - 8.f;
  }
  return t.to(um::Device::cuda()).to(dtype);
}
#endif

void BM_CudaTopk(benchmark::State& state, Shape shape, int64_t k, DType dtype, Path path) {
#ifndef UM_WITH_CUDA
  (void)shape;
  (void)k;
  (void)dtype;
  (void)path;
  state.SkipWithError("built without the CUDA backend");
  for (auto _ : state) {
  }
#else
  if (!um::cuda::available()) {
    state.SkipWithError("no usable CUDA device");
    for (auto _ : state) {
    }
    return;
  }
  um::cuda::install_tensor_backend();
  const Tensor x = device_scores(shape, dtype);
  // The upload ran on this thread's default stream; the top-k calls run on `stream`.
  um::cuda::synchronize(um::cuda::current_stream());
  um::cuda::Stream stream;
  um::cuda::StreamScope scope(stream.get());
  auto run = [&] {
    return path == Path::kRadix ? um::nn::topk(x, k) : um::nn::detail::topk_cuda_bitonic(x, k);
  };
  { const auto warm = run(); }
  um::cuda::synchronize(stream.get());
  um::cuda::Event start, stop;
  for (auto _ : state) {
    start.record(stream.get());
    for (int i = 0; i < kInner; ++i) benchmark::DoNotOptimize(run());
    stop.record(stream.get());
    um::cuda::synchronize(stop.get());
    state.SetIterationTime(um::cuda::Event::elapsed_ms(start, stop) / 1e3 / kInner);
  }
#endif
}

void configure(benchmark::internal::Benchmark* b) {
  b->UseManualTime()->Unit(benchmark::kMicrosecond)->Repetitions(7)->ReportAggregatesOnly(true);
}

#define UM_TOPK_BENCH(name, shape, k, dtype)                                                \
  BENCHMARK_CAPTURE(BM_CudaTopk, name##_radix, Shape shape, k, dtype, Path::kRadix)       \
      ->Apply(configure);                                                                 \
  BENCHMARK_CAPTURE(BM_CudaTopk, name##_bitonic, Shape shape, k, dtype, Path::kBitonic)   \
      ->Apply(configure)

UM_TOPK_BENCH(dfine_query_select_1x8400_k300_f32, ({1, 8400}), 300, DType::kF32);
UM_TOPK_BENCH(dfine_query_select_1x8400_k300_f16, ({1, 8400}), 300, DType::kF16);
UM_TOPK_BENCH(dfine_query_select_4x8400_k300_f32, ({4, 8400}), 300, DType::kF32);
UM_TOPK_BENCH(dfine_post_1x300_c1_k300_f32, ({1, 300}), 300, DType::kF32);
UM_TOPK_BENCH(dfine_post_1x600_c2_k300_f32, ({1, 600}), 300, DType::kF32);
UM_TOPK_BENCH(dfine_post_1x24000_c80_k300_f32, ({1, 24000}), 300, DType::kF32);
UM_TOPK_BENCH(long_row_1x100000_k512_f32, ({1, 100000}), 512, DType::kF32);

}  // namespace

BENCHMARK_MAIN();
